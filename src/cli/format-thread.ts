// `pgwal decode`'s second thread for output: test_decoding's and wal2json's rows formatted there (pgoutput's
// messages printed, and written for stored changes) while this thread reads, decodes and reorders. Callbacks go
// there in batches (ShippingPlugin, BytesRowShipper); rows come back in order and are written here, so that
// stdout, EPIPE and the exit code stay this thread's. This thread never waits on an event: it polls the rows' port
// and waits on a shared progress counter, so its synchronous decode loop keeps running.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { WalError, WalFormatError } from '../errors.js';
import type { ShipMessage } from '../reorderbuffer/ship.js';
import type { FlushMessage, FormatReply, FormatWorkerData, SpareMessage } from './format-worker.js';

/** Batches (of 1 MiB) in flight before this thread waits for the other: bounds the memory between the two. */
const IN_FLIGHT = 4;
const STALL_MS = 120_000;
/**
 * The thread's young generation: its garbage is short-lived rows, and V8's default (tens of MB) added ~30 MB of
 * RSS to a decode of the pgbench corpus for nothing measurable in speed.
 */
const YOUNG_MB = 8;

/** The worker's module beside this one (the built CLI's); undefined when not built (run from the sources). */
function workerFile(): URL | undefined {
  const url = new URL('./format-worker.js', import.meta.url);
  try {
    return fs.existsSync(fileURLToPath(url)) ? url : undefined;
  } catch {
    return undefined;
  }
}

export const formatThreadAvailable = (): boolean => workerFile() !== undefined;

export class FormatThread {
  private readonly worker: Worker;
  private readonly port: MessagePort;
  private readonly progress: Int32Array;
  private posted = 0;
  private failure: Error | undefined;

  /** Where batches the thread is done with go (the shipper reuses them). */
  onSpare: ((buf: Uint8Array) => void) | undefined = undefined;

  constructor(
    data: Omit<FormatWorkerData, 'progress' | 'port'>,
    /** Writes rows (`buf[0, length)`), as the CLI writes to stdout. */
    private readonly write: (buf: Uint8Array, length: number) => void,
  ) {
    const file = workerFile();
    if (file === undefined) throw new WalError('internal', 'the format thread module is missing');
    const progress = new SharedArrayBuffer(8);
    this.progress = new Int32Array(progress);
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    this.worker = new Worker(file, { workerData: { ...data, progress, port: port2 } satisfies FormatWorkerData, transferList: [port2], stdout: true, stderr: true, resourceLimits: { maxYoungGenerationSizeMb: YOUNG_MB } });
    // Its exit is not waited for: the process ends with this thread.
    this.worker.unref();
  }

  /** Whether the thread has loaded its modules (messages sent before wait for it). */
  get ready(): boolean {
    return Atomics.load(this.progress, 1) === 1;
  }

  /** Sends one message; writes the rows that came back; waits while too much is in flight. */
  readonly post = (m: ShipMessage | FlushMessage | SpareMessage, transfer?: ArrayBuffer[]): void => {
    this.worker.postMessage(m, transfer);
    this.posted++;
    this.take();
    if (this.posted - Atomics.load(this.progress, 0) > IN_FLIGHT) this.waitFor(this.posted - IN_FLIGHT);
  };

  /**
   * Every row of what was sent written (`partial: 'drop'`: less those of the record being decoded, after a failure
   * here); a failure there thrown here.
   */
  drain(partial?: 'drop'): void {
    this.post(partial === undefined ? { t: 'flush' } : { t: 'flush', partial });
    this.waitFor(this.posted);
    this.take();
  }

  /** Ends the thread (at once: what it had not formatted is dropped). */
  close(): void {
    void this.worker.terminate();
    this.port.close();
  }

  private waitFor(n: number): void {
    let last = Atomics.load(this.progress, 0);
    let since = Date.now();
    for (;;) {
      const done = Atomics.load(this.progress, 0);
      if (done >= n) return;
      // Rows are written while waiting: the other thread is never held up by a full port.
      Atomics.wait(this.progress, 0, done, 20);
      this.take();
      // A batch takes milliseconds: a thread that stopped answering is an error, never a hang.
      if (done !== last) {
        last = done;
        since = Date.now();
      } else if (Date.now() - since > STALL_MS) throw new WalError('internal', `the format thread stopped answering (${this.posted - done} messages unanswered for ${STALL_MS / 1000} s)`);
    }
  }

  /** Writes the rows that came back; throws the other thread's failure once its rows before it are written. */
  private take(): void {
    for (let r = receiveMessageOnPort(this.port); r !== undefined; r = receiveMessageOnPort(this.port)) {
      const m = r.message as FormatReply;
      if (m.t === 'rows') {
        this.write(m.buf, m.length);
        // Written: the buffer goes back to be filled again (not counted as a message the thread answers).
        this.worker.postMessage({ t: 'spare', buf: m.buf } satisfies SpareMessage, [m.buf.buffer as ArrayBuffer]);
        this.posted++;
      } else if (m.t === 'spare') this.onSpare?.(m.buf);
      else {
        const e = m.error;
        this.failure = e.wal ? new WalFormatError(e.code, e.message, { ...(e.lsn !== undefined ? { lsn: e.lsn } : {}), ...(e.file !== undefined ? { file: e.file } : {}) }) : Object.assign(new Error(e.message), { stack: e.stack });
      }
    }
    if (this.failure !== undefined) throw this.failure;
  }
}
