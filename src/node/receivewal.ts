// pg_receivewal's job: stream WAL into a folder of segment files, `.partial` while being written and
// renamed when whole, with the timelines' history files; resume from what the folder holds.
// see pg_receivewal.c (FindStreamingStart, StreamLog, stop_streaming) and receivelog.c (open_walfile,
// close_walfile, ProcessXLogDataMsg).
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { WalError, WalSourceError } from '../errors.js';
import { formatLsn, segmentOf, segmentStart, type Lsn } from '../lsn.js';
import { historyFileName, parseWalFileName, segmentNumberOf, walFileName } from '../walfile.js';
import { ServerError } from '../protocol/index.js';
import { ReplicationConnection } from './replication.js';
import { WalStream } from './walreceiver.js';

export interface ReceiveWalOptions {
  connectionString: string;
  directory: string;
  slot?: string;
  /** Stop once this LSN is received (exit status 0). */
  endpos?: Lsn;
  /** Do not retry after a lost connection. */
  noLoop?: boolean;
  /** Milliseconds between status updates (default 10 s). */
  statusIntervalMs?: number;
  /** fsync after each write and report the flush position at once. */
  synchronous?: boolean;
  /** gzip level 1–9 for finished segments; undefined: uncompressed. */
  gzipLevel?: number;
  env?: Record<string, string | undefined>;
  /** Progress lines (pg_receivewal's --verbose). */
  log?: (line: string) => void;
  signal?: AbortSignal;
  /** Pause between attempts after a lost connection (pg_receivewal: 5 s). */
  reconnectDelayMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

/** Where to start: the folder's newest segment, as FindStreamingStart chooses it. */
export interface StreamingStart {
  lsn: Lsn;
  timeline: number;
}

const SEGMENT = /^[0-9A-F]{24}(\.partial|\.gz|\.gz\.partial)?$/;

/** see FindStreamingStart (pg_receivewal.c): after the newest whole segment, or at the start of the newest partial one. */
export function findStreamingStart(directory: string, segSize: number): StreamingStart | undefined {
  let best: { segno: number; tli: number; partial: boolean } | undefined;
  for (const name of fs.readdirSync(directory)) {
    if (!SEGMENT.test(name)) continue;
    const p = parseWalFileName(name);
    const segno = segmentNumberOf(p, segSize, name);
    const partial = p.kind === 'partial';
    if (p.compression === undefined && !partial) {
      // A whole uncompressed segment of the wrong size is not one we wrote: skip it as pg_receivewal does.
      if (fs.statSync(path.join(directory, name)).size !== segSize) continue;
    }
    if (
      best === undefined ||
      segno > best.segno ||
      (segno === best.segno && p.tli > best.tli) ||
      (segno === best.segno && p.tli === best.tli && best.partial && !partial)
    ) {
      best = { segno, tli: p.tli, partial };
    }
  }
  if (best === undefined) return undefined;
  return { lsn: segmentStart(best.partial ? best.segno : best.segno + 1, segSize), timeline: best.tli };
}

/** The segment file being written: always `.partial`, padded to the segment size, renamed when whole. */
class SegmentWriter {
  private fd: number | undefined;
  private name = '';
  private written = 0;
  /** Everything before this LSN is on disk (fsynced). */
  flushed: Lsn = 0;
  private pos: Lsn = 0;

  constructor(
    private readonly dir: string,
    readonly segSize: number,
    private readonly gzipLevel: number | undefined,
    private readonly log: (l: string) => void,
    start: Lsn,
  ) {
    this.pos = start;
    this.flushed = start;
  }

  /** After a timeline switch: the next timeline's data begins at `lsn` (a segment start). */
  restartAt(lsn: Lsn): void {
    this.pos = lsn;
  }

  get position(): Lsn {
    return this.pos;
  }

  /** see ProcessXLogDataMsg: the data must continue the open file, or begin a segment. */
  write(tli: number, dataStart: Lsn, data: Uint8Array, sync: boolean): void {
    let at = dataStart;
    let off = 0;
    while (off < data.length) {
      const segOff = at % this.segSize;
      if (this.fd === undefined) {
        if (segOff !== 0) {
          throw new WalSourceError('stream-gap', `received write-ahead log record for offset ${segOff} with no file open`, { lsn: at });
        }
        this.open(tli, segmentOf(at, this.segSize));
      } else if (segOff !== this.written) {
        throw new WalSourceError('stream-gap', `got WAL data offset ${segOff.toString(16).padStart(8, '0')}, expected ${this.written.toString(16).padStart(8, '0')}`, { lsn: at });
      }
      const n = Math.min(data.length - off, this.segSize - segOff);
      let done = 0;
      while (done < n) done += fs.writeSync(this.fd!, data, off + done, n - done, segOff + done);
      off += n;
      at += n;
      this.written += n;
      this.pos = at;
      if (this.written === this.segSize) this.close(at);
    }
    if (sync && this.fd !== undefined) {
      fs.fsyncSync(this.fd);
      this.flushed = this.pos;
    }
  }

  /** see open_walfile: an existing `.partial` must be empty or whole; a new one is padded with zeros. */
  private open(tli: number, segno: number): void {
    this.name = walFileName(tli, segno, this.segSize);
    const file = path.join(this.dir, `${this.name}.partial`);
    const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT, 0o600);
    const size = fs.fstatSync(fd).size;
    if (size !== this.segSize) {
      if (size !== 0) {
        fs.closeSync(fd);
        throw new WalSourceError('bad-partial', `write-ahead log file "${this.name}.partial" has ${size} bytes, should be 0 or ${this.segSize}`, { file });
      }
      const zeros = new Uint8Array(Math.min(this.segSize, 1 << 20));
      for (let o = 0; o < this.segSize; o += zeros.length) fs.writeSync(fd, zeros, 0, zeros.length, o);
    }
    this.fd = fd;
    this.written = 0;
  }

  /** see close_walfile: fsync, and rename when whole; an unfinished segment stays `.partial`. */
  close(pos: Lsn): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    const partial = path.join(this.dir, `${this.name}.partial`);
    if (this.written === this.segSize) {
      if (this.gzipLevel !== undefined) {
        const gz = zlib.gzipSync(fs.readFileSync(partial), { level: this.gzipLevel });
        const tmp = path.join(this.dir, `${this.name}.gz.tmp`);
        writeDurably(tmp, gz);
        fs.renameSync(tmp, path.join(this.dir, `${this.name}.gz`));
        fs.unlinkSync(partial);
      } else {
        fs.renameSync(partial, path.join(this.dir, this.name));
      }
      this.log(`finished segment at ${formatLsn(pos)}`);
    } else {
      this.log(`not renaming "${this.name}.partial", segment is not complete`);
    }
    this.flushed = pos;
  }
}

function writeDurably(file: string, bytes: Uint8Array | string): void {
  const fd = fs.openSync(file, 'w', 0o600);
  try {
    fs.writeFileSync(fd, bytes);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** see writeTimeLineHistoryFile (receivelog.c): the server's name must be ours; written to .tmp, then renamed. */
function writeHistoryFile(dir: string, tli: number, history: { filename: string; content: string }): void {
  const expected = historyFileName(tli);
  if (history.filename !== expected) {
    throw new WalSourceError('bad-history', `server reported unexpected history file name for timeline ${tli}: ${history.filename}`);
  }
  const file = path.join(dir, expected);
  writeDurably(`${file}.tmp`, history.content);
  fs.renameSync(`${file}.tmp`, file);
}

/** Why a streaming attempt ended. */
type Ended = 'stopped' | 'lost';

/** What survives a lost connection within one run: the open segment and where its bytes end. */
interface RunState {
  connected: boolean;
  writer: SegmentWriter | undefined;
  timeline: number;
  /** Data arrived in the last attempt: the backoff starts again from its first step. */
  progressed: boolean;
  /** IDENTIFY_SYSTEM's systemid of the first connection: a reconnection must reach the same system. */
  systemId: string | undefined;
}

/**
 * Streams until `endpos`, the signal, or (with `noLoop`) the first lost connection. Resolves when stopped
 * on purpose; rejects with a typed error otherwise. After a lost connection it reconnects with backoff
 * (doubling from 0.2 s up to `reconnectDelayMs`) and resumes at the first byte not yet written, into the
 * same open `.partial`; a new run starts again at the beginning of the newest `.partial`, as pg_receivewal does.
 */
export async function receiveWal(o: ReceiveWalOptions): Promise<void> {
  const log = o.log ?? (() => {});
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  if (!fs.existsSync(o.directory) || !fs.statSync(o.directory).isDirectory()) {
    throw new WalError('invalid-argument', `could not access directory "${o.directory}": No such file or directory`, { file: o.directory });
  }
  const maxDelay = o.reconnectDelayMs ?? 5000;
  let delay = Math.min(200, maxDelay);
  const state: RunState = { connected: false, writer: undefined, timeline: 0, progressed: false, systemId: undefined };
  try {
    for (;;) {
      if (o.signal?.aborted) return;
      let why: string;
      state.progressed = false;
      try {
        if ((await streamLog(o, log, state)) === 'stopped') return;
        if (o.noLoop) throw new WalSourceError('stream-ended', 'replication stream was terminated before stop point');
        why = 'the server ended the stream';
      } catch (e) {
        // A server or protocol error, or a dropped connection: retry unless told not to (pg_receivewal's loop).
        // As pg_receivewal, a first connection that fails ends it: the arguments are wrong, not the network.
        if (o.noLoop || !state.connected || !(e instanceof WalError) || isPermanent(e)) throw e;
        why = e.message;
      }
      if (state.progressed) delay = Math.min(200, maxDelay);
      log(`disconnected; waiting ${delay / 1000} seconds to try again: ${why}`);
      await sleep(delay);
      delay = Math.min(delay * 2, maxDelay);
    }
  } finally {
    // The unfinished segment stays .partial, synced.
    state.writer?.close(state.writer.position);
  }
}

/** Errors a retry cannot cure: bad arguments, authentication, a folder in the wrong state. */
function isPermanent(e: WalError): boolean {
  return e.code === 'invalid-argument' || e.code === 'authentication-failed' || e.code === 'bad-partial' || e.code === 'bad-history' || e.code === 'stream-gap' || e.code === 'system-mismatch';
}

async function streamLog(o: ReceiveWalOptions, log: (l: string) => void, state: RunState): Promise<Ended> {
  const conn = await ReplicationConnection.connect({ connectionString: o.connectionString, env: o.env, applicationName: 'pgwal receive' });
  state.connected = true;
  const onAbort = (): void => stream?.stop();
  let stream: WalStream | undefined;
  try {
    let startLsn: Lsn;
    const system = await conn.identifySystem();
    if (state.systemId !== undefined && system.systemId !== state.systemId) {
      // A host list can lead elsewhere: WAL of another system must not continue these files.
      throw new WalSourceError('system-mismatch', `system identifier ${system.systemId} of the server does not match ${state.systemId}, the system streamed so far`);
    }
    state.systemId = system.systemId;
    if (state.writer !== undefined) {
      // A reconnection: on from the first byte not yet written, into the segment still open.
      startLsn = state.writer.position;
      log(`resuming log streaming at ${formatLsn(startLsn)} (timeline ${state.timeline})`);
    } else {
      const segSize = await conn.walSegmentSize();
      let start = findStreamingStart(o.directory, segSize);
      if (start === undefined && o.slot !== undefined) {
        const s = await conn.readReplicationSlot(o.slot);
        if (s.slotType === null) throw new ServerError({ S: 'ERROR', C: '42704', M: `replication slot "${o.slot}" does not exist` });
        if (s.slotType !== 'physical') throw new WalError('invalid-argument', `cannot use the slot "${o.slot}": it is a ${s.slotType} slot, expected a physical one`);
        if (s.restartLsn !== null && s.restartTimeline !== null) start = { lsn: s.restartLsn, timeline: s.restartTimeline };
      }
      start ??= { lsn: system.xlogpos, timeline: system.timeline };
      startLsn = start.lsn - (start.lsn % segSize);
      if (o.endpos !== undefined && startLsn >= o.endpos) {
        log(`stopped log streaming at ${formatLsn(startLsn)} (timeline ${start.timeline})`);
        return 'stopped';
      }
      if (start.timeline !== 1 && !fs.existsSync(path.join(o.directory, historyFileName(start.timeline)))) {
        writeHistoryFile(o.directory, start.timeline, await conn.timelineHistory(start.timeline));
      }
      log(`starting log streaming at ${formatLsn(startLsn)} (timeline ${start.timeline})`);
      state.writer = new SegmentWriter(o.directory, segSize, o.gzipLevel, log, startLsn);
      state.timeline = start.timeline;
    }
    const writer = state.writer;
    stream = new WalStream(conn, {
      slot: o.slot,
      startLsn,
      timeline: state.timeline,
      statusIntervalMs: o.statusIntervalMs ?? 10_000,
      walSegmentSize: writer.segSize,
    });
    stream.report({ write: writer.position, flush: writer.flushed });
    o.signal?.addEventListener('abort', onAbort);
    if (o.signal?.aborted) stream.stop();
    let stoppedOnPurpose = false;
    for await (const ev of stream) {
      switch (ev.type) {
        case 'data':
          writer.write(ev.timeline, ev.dataStart, ev.data, o.synchronous === true);
          state.progressed = true;
          stream.report({ write: writer.position, flush: writer.flushed }, o.synchronous === true);
          if (o.endpos !== undefined && writer.position >= o.endpos) {
            stoppedOnPurpose = true;
            stream.stop();
          }
          break;
        case 'timeline-switch':
          // see HandleEndOfCopyStream: the old timeline's last segment stays .partial.
          writer.close(stream.received);
          writer.restartAt(ev.restartLsn);
          state.timeline = ev.nextTimeline;
          if (!fs.existsSync(path.join(o.directory, ev.history.filename))) writeHistoryFile(o.directory, ev.nextTimeline, ev.history);
          log(`switched to timeline ${ev.nextTimeline} at ${formatLsn(ev.switchLsn)}`);
          break;
        case 'end':
          if (stoppedOnPurpose || o.signal?.aborted) {
            log(`stopped log streaming at ${formatLsn(ev.lsn)} (timeline ${ev.timeline})`);
            return 'stopped';
          }
          // The server ended the stream (a shutdown): pg_receivewal reconnects.
          return 'lost';
      }
    }
    return 'lost';
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
    conn.close();
  }
}
