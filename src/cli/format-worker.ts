// The thread `pgwal decode` formats rows on (format-thread.ts starts it): replays the shipped plugin callbacks (or
// prints pgoutput's shipped messages in hex) and sends the rows back as bytes, in order. Every failure is reported
// as a message (the decoding thread waits on the progress counter, never on an event), including one while this
// module's imports load.
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import type { ShipMessage } from '../reorderbuffer/ship.js';

export interface FormatWorkerData {
  /**
   * pgoutput (options `{ binary }`): its messages come as bytes, or as stored changes and Begin/Commit fields whose
   * messages are written here (BytesRowShipper), printed as hex lines.
   */
  plugin: { name: 'test_decoding' | 'json' | 'pgoutput'; options: unknown };
  major: number;
  withLsn: boolean;
  timezone: string | undefined;
  /** [0]: messages handled (progress), which the decoding thread waits on; [1]: 1 once ready (modules loaded). */
  progress: SharedArrayBuffer;
  /** Where rows and errors go. */
  port: MessagePort;
}

/** What this thread sends back. */
export type FormatReply = { t: 'rows'; buf: Uint8Array; length: number } | { t: 'spare'; buf: Uint8Array } | { t: 'error'; error: { wal: boolean; name: string; code: string; message: string; lsn?: number; file?: string; stack?: string } };

/** Asks for every row formatted so far; `drop`: less those of the record being decoded (it failed). */
export interface FlushMessage {
  t: 'flush';
  partial?: 'drop';
}

/** A rows buffer the decoding thread has written, given back for reuse. */
export interface SpareMessage {
  t: 'spare';
  buf: Uint8Array;
}

/** Rows are sent back in pieces of about this many bytes (OutputBuffer's start size). */
const ROWS_AT = 256 * 1024;

async function run(): Promise<void> {
  const data = workerData as FormatWorkerData;
  const progress = new Int32Array(data.progress);
  const port = data.port;
  const step = (): void => {
    Atomics.add(progress, 0, 1);
    Atomics.notify(progress, 0);
  };
  let failed = false;
  const fail = (e: unknown): void => {
    failed = true;
    const x = e as { name?: string; code?: unknown; message?: string; lsn?: number; file?: string; stack?: string };
    const wal = e instanceof Error && typeof x.code === 'string' && 'lsn' in e;
    port.postMessage({
      t: 'error',
      error: { wal, name: x.name ?? 'Error', code: typeof x.code === 'string' ? x.code : '', message: x.message ?? String(e), ...(x.lsn !== undefined ? { lsn: x.lsn } : {}), ...(x.file !== undefined ? { file: x.file } : {}), ...(x.stack !== undefined ? { stack: x.stack } : {}) },
    } satisfies FormatReply);
  };
  // Messages that come while the modules load wait in the port's queue; none is handled before the replayer is.
  let handle: (m: ShipMessage | FlushMessage | SpareMessage) => void = () => {};
  try {
    const [{ CallbackReplayer }, { OutputBuffer }, { formatLsn }] = await Promise.all([import('../reorderbuffer/ship.js'), import('./output-buffer.js'), import('../lsn.js')]);
    const out = new OutputBuffer();
    let rowAt = 0;
    /** Where the rows of records processed whole end (what is kept when a later one fails). */
    let whole = 0;
    const prefix = (lsn: number, xid: number): string => `${formatLsn(lsn)}\t${xid}\t`;
    const recordEnd = (): void => {
      whole = out.length;
    };
    // pgoutput's plugin runs on the decoding thread: its messages are printed here (those of stored changes written
    // first). The others' callbacks are replayed.
    const replayer: { receive(m: ShipMessage): void } =
      data.plugin.name === 'pgoutput'
        ? new (await import('../reorderbuffer/pgoutput-ship.js')).BytesRowReplayer(
            { row: (lsn, xid, d, n) => out.hexLine(data.withLsn ? prefix(lsn, xid) : undefined, d, n), recordEnd },
            data.major,
            data.timezone,
            (data.plugin.options as { binary?: boolean } | undefined)?.binary === true,
          )
        : new CallbackReplayer(
            data.plugin.name === 'json'
              ? new (await import('../reorderbuffer/wal2json.js')).Wal2JsonPlugin(data.plugin.options as never)
              : new (await import('../reorderbuffer/testdecoding.js')).TestDecodingPlugin(data.plugin.options as never),
            data.major,
            {
              row: (lsn, xid, d) => {
                if (typeof d === 'string') out.text(data.withLsn ? `${prefix(lsn, xid)}${d}\n` : `${d}\n`);
                else out.hexLine(data.withLsn ? prefix(lsn, xid) : undefined, d, d.length);
              },
              textRows: {
                start: (lsn, xid) => {
                  rowAt = out.length;
                  if (data.withLsn) out.text(prefix(lsn, xid));
                  return out;
                },
                end: () => {
                  out.ensure(1)[out.length++] = 0x0a;
                },
                cancel: () => {
                  out.length = rowAt;
                },
              },
              recordEnd,
            },
            data.timezone,
          );
    // Rows buffers the decoding thread gave back (each is written there, then returned): the output buffer itself
    // goes (transferred, not copied) and writing goes on in one of them, no new buffer per send.
    const spare: Uint8Array[] = [];
    const send = (): void => {
      whole -= out.length;
      if (out.length === 0) return;
      const { buf, length } = out.handOff(spare.pop());
      port.postMessage({ t: 'rows', buf, length } satisfies FormatReply, [buf.buffer as ArrayBuffer]);
    };
    handle = (m) => {
      if (m.t === 'spare') {
        if (spare.length < 4) spare.push(m.buf);
        return;
      }
      if (m.t === 'flush') {
        // After a failure on the decoding thread: the rows of the record it was decoding are dropped.
        if (m.partial === 'drop') out.length = Math.max(0, Math.min(out.length, whole));
        send();
      } else {
        replayer.receive(m);
        // The batch back to the decoding thread, to be filled again.
        if (m.t === 'batch') port.postMessage({ t: 'spare', buf: m.buf } satisfies FormatReply, [m.buf.buffer as ArrayBuffer]);
        if (out.length >= ROWS_AT) send();
      }
    };
    // On a failure, the rows before it go out first (as rows before a failing record do on one thread).
    const guarded = handle;
    handle = (m) => {
      try {
        guarded(m);
      } catch (e) {
        try {
          out.length = Math.max(0, Math.min(out.length, whole));
          send();
        } finally {
          fail(e);
        }
      }
    };
  } catch (e) {
    fail(e);
  }
  Atomics.store(progress, 1, 1);
  parentPort!.on('message', (m: ShipMessage | FlushMessage | SpareMessage) => {
    if (!failed) handle(m);
    step();
  });
}

void run();
