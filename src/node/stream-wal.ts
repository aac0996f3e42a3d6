// Decoding straight from a physical replication stream: XLogData assembled into pages for the reader, as
// walreceiver writes them and the startup process reads them up to the flushed position. The flush position
// reported to the server is the pgwal slot's restart_lsn, so the server keeps just the WAL the slot needs;
// with a physical slot, hot standby feedback carries the slot's catalog_xmin so the server keeps its rows.
import { InvalidArgumentError, WalSourceError } from '../errors.js';
import { ProtocolError } from '../protocol/index.js';
import { formatLsn, type Lsn } from '../lsn.js';
import { historyWithoutFile, parseTimelineHistory, type TimelineHistory } from '../timeline/history.js';
import type { DecodedRecord } from '../xlogreader/record.js';
import { SIZE_OF_SHORT_PHD, XLOG_BLCKSZ, XLogReader, type EndOfWal, type XLogReaderOptions } from '../xlogreader/reader.js';
import { readRecords, type PageSource, type SourceBytes, type SourceMiss } from '../xlogreader/source.js';
import { ReplicationConnection } from './replication.js';
import { ReconnectingWalStream, type HotStandbyFeedbackValues, type WalStreamEvent } from './walreceiver.js';

export interface StreamWalOptions {
  /** A libpq connection string (`key=value …` or `postgresql://…`). */
  connectionString: string;
  env?: Record<string, string | undefined>;
  /** START_REPLICATION SLOT: a physical slot that then holds the WAL and (with catalogXmin) the catalog rows. */
  physicalSlot?: string;
  /** Milliseconds between standby status updates (default 10 s). */
  statusIntervalMs?: number;
  /**
   * Milliseconds without a message from the server before the connection is ended and made again, as
   * walreceiver's wal_receiver_timeout (default 60 s; 0: no limit). Half of it asks the server for a reply.
   */
  walReceiverTimeoutMs?: number;
  onReconnect?: (info: { attempt: number; delayMs: number; error: unknown; resumeAt: Lsn; timeline: number }) => void;
}

/** What the stream is read for: from `start`, up to `end` (else up to the server's flush position at open). */
export interface StreamRecordsOptions {
  start: Lsn;
  end?: Lsn;
  startTimeline?: number;
  expect?: XLogReaderOptions['expect'];
  signal?: AbortSignal;
  /** The position reported as flushed: the pgwal slot's restart_lsn (asked at every status update). */
  flushLsn: () => Lsn;
  /** The pgwal slot's catalog_xmin, sent in hot standby feedback (only with a physical slot). */
  catalogXmin?: () => number;
  /** Without `end`: keep reading as WAL arrives (until `signal` aborts), not only up to the flush position at open. */
  follow?: boolean;
  /** Each timeline switch followed (the server's timeline ended, or a failover led to a server whose history left it). */
  onTimelineSwitch?: (info: { timeline: number; nextTimeline: number; switchLsn: Lsn; history: TimelineHistory }) => void;
}

/**
 * The server's WAL over a replication connection. `open` identifies the server (system identifier, timeline,
 * flush position, segment size, the timeline's history); `records` streams and reads.
 */
export class StreamWal {
  private constructor(
    private readonly options: StreamWalOptions,
    readonly systemIdentifier: string,
    readonly timeline: number,
    /** The server's flush position when pgwal connected: without an end, reading stops there. */
    readonly serverFlush: Lsn,
    readonly segmentSize: number,
    readonly history: TimelineHistory,
    /** The epoch of the server's next transaction id, for hot standby feedback (undefined without a physical slot). */
    private readonly nextXid: { epoch: number; xid: number } | undefined,
    /** The physical slot's restart_lsn when pgwal connected (null: none yet, or no slot). */
    readonly physicalSlotRestartLsn: Lsn | null,
  ) {}

  static async open(options: StreamWalOptions): Promise<StreamWal> {
    const conn = await connect(options);
    let nextXid: { epoch: number; xid: number } | undefined;
    let slotRestart: Lsn | null = null;
    try {
      const id = await conn.identifySystem();
      // A standby shows its own wal_level, not that of the primary whose WAL it passes on: only a primary's is checked.
      if (conn.parameters.get('in_hot_standby') !== 'on') {
        const level = await conn.show('wal_level');
        if (level !== 'logical') {
          throw new WalSourceError('wal-level', `logical decoding requires wal_level >= logical, but the server's wal_level is ${level}`);
        }
      }
      const segmentSize = await conn.walSegmentSize();
      let h = historyWithoutFile(1);
      if (id.timeline !== 1) {
        const f = await conn.timelineHistory(id.timeline);
        h = parseTimelineHistory(f.content, id.timeline, f.filename);
      }
      if (options.physicalSlot !== undefined) {
        const s = await conn.readReplicationSlot(options.physicalSlot);
        if (s.slotType === null) throw new InvalidArgumentError(`physical replication slot "${options.physicalSlot}" does not exist on the server`);
        if (s.slotType !== 'physical') throw new InvalidArgumentError(`replication slot "${options.physicalSlot}" is ${s.slotType}, not physical`);
        slotRestart = s.restartLsn;
        nextXid = await readNextXid(options);
      }
      return new StreamWal(options, id.systemId, id.timeline, id.xlogpos, segmentSize, h, nextXid, slotRestart);
    } finally {
      conn.close();
    }
  }

  /**
   * Records from `start` (the first at or after it) until `end` or the server's flush position at open. The
   * stream stays open when reading ends (unless it failed): `close()` reports the flush position (the slot's
   * restart_lsn, after the caller has advanced it) and ends it.
   */
  records(options: StreamRecordsOptions): AsyncIterable<DecodedRecord> & { readonly end: EndOfWal | undefined; close(): Promise<void> } {
    // A slot on an older timeline streams it from the restart_lsn: the server ends that timeline at its switch
    // point and streaming goes on on the next, as walreceiver follows it.
    const startTimeline = options.startTimeline ?? this.timeline;
    if (this.history.every((e) => e.tli !== startTimeline)) {
      throw new InvalidArgumentError(`the slot is on timeline ${startTimeline}, which is not on the server's history (timeline ${this.timeline})`);
    }
    const held = this.physicalSlotRestartLsn;
    if (held !== null && held > options.start) {
      // The server keeps WAL (and rows) from the physical slot's restart_lsn on: what lies before may be gone.
      throw new InvalidArgumentError(
        `physical replication slot "${this.options.physicalSlot}" has restart_lsn ${formatLsn(held)}, past the pgwal slot's restart_lsn ${formatLsn(options.start)}: the server may have removed WAL the slot needs`,
        { lsn: options.start },
      );
    }
    const segStart = options.start - (options.start % this.segmentSize);
    const feedback = this.feedback(options);
    const stream = new ReconnectingWalStream({
      connect: () => connect(this.options),
      slot: this.options.physicalSlot,
      // Whole segments from the start of the restart_lsn's: the reader checks the segment's long page header.
      startLsn: segStart,
      timeline: startTimeline,
      statusIntervalMs: this.options.statusIntervalMs,
      reportFlush: true,
      // A host list may lead to a promoted standby that has less of the old timeline than was read.
      followForks: true,
      ...(feedback !== undefined ? { hotStandbyFeedback: feedback } : {}),
      ...(this.options.onReconnect !== undefined ? { onReconnect: this.options.onReconnect } : {}),
    });
    stream.report({ write: segStart, flush: options.flushLsn() });
    const follow = options.follow === true && options.end === undefined;
    const source = new StreamSource(stream, segStart, startTimeline, options.end ?? this.serverFlush, options.end === undefined && !follow, options.flushLsn, options.signal);
    if (options.onTimelineSwitch !== undefined) source.onTimelineSwitch = options.onTimelineSwitch;
    const reader = new XLogReader({ segmentSize: this.segmentSize, startLsn: options.start, findFirst: true, endLsn: options.end, timeline: startTimeline, expect: options.expect });
    let end: EndOfWal | undefined;
    return {
      get end() {
        return end;
      },
      async *[Symbol.asyncIterator]() {
        let read = false;
        try {
          end = yield* readStreamRecords(reader, source, options.signal);
          read = true;
        } finally {
          // Failed or left early: nothing more to report.
          if (!read) await source.close();
        }
      },
      close: () => source.close(),
    };
  }

  private feedback(options: StreamRecordsOptions): (() => HotStandbyFeedbackValues | undefined) | undefined {
    const next = this.nextXid;
    if (next === undefined || options.catalogXmin === undefined) return undefined;
    const catalogXmin = options.catalogXmin;
    return () => {
      const x = catalogXmin();
      // An xid above the next one is from the previous epoch (TransactionIdInRecentPast in walsender.c).
      const epoch = x <= next.xid ? next.epoch : next.epoch - 1;
      return { xmin: 0, xminEpoch: 0, catalogXmin: x, catalogXminEpoch: epoch };
    };
  }
}

/**
 * The server's history left the timeline being read at `switchPoint`, before records pgwal already returned
 * (up to `readUpTo`): the old primary had WAL the server it now streams from never got. What was decoded past
 * the switch point cannot be taken back in this run; the slot's failover handling applies on the next.
 */
export class TimelineForkError extends WalSourceError {
  constructor(
    readonly timeline: number,
    readonly switchPoint: Lsn,
    readonly nextTimeline: number,
    readonly readUpTo: Lsn,
  ) {
    super(
      'timeline-fork',
      `the server's history left timeline ${timeline} at ${formatLsn(switchPoint)} (timeline ${nextTimeline} follows), but pgwal had read that timeline's WAL up to ${formatLsn(readUpTo)}: decode again from the slot, which handles the transactions past the switch point as after any failover`,
      { lsn: switchPoint },
    );
  }
}

/** Drives a reader over a StreamSource, reading on after each timeline switch the source followed. */
export async function* readStreamRecords(reader: XLogReader, source: StreamSource, signal?: AbortSignal): AsyncGenerator<DecodedRecord, EndOfWal> {
  for (;;) {
    const end = yield* readRecords(reader, source, signal);
    // The source stopped the reader at a switch point it followed: read on from there on the next timeline.
    if (end.reason === 'timeline-end' && source.takeSwitch(end.lsn)) {
      reader.retry();
      continue;
    }
    return end;
  }
}

function connect(options: StreamWalOptions, replication: 'true' | 'database' = 'true'): Promise<ReplicationConnection> {
  return ReplicationConnection.connect({
    connectionString: options.connectionString,
    env: options.env,
    replication,
    applicationName: 'pgwal decode',
    receiveTimeoutMs: options.walReceiverTimeoutMs ?? 60_000,
  });
}

/** The server's next full transaction id, through a replication=database connection (its SQL). */
async function readNextXid(options: StreamWalOptions): Promise<{ epoch: number; xid: number }> {
  const conn = await connect(options, 'database');
  try {
    const r = await conn.query('SELECT pg_snapshot_xmax(pg_current_snapshot())::text');
    const full = BigInt(r.rows[0]?.[0] ?? 'x');
    return { epoch: Number(full >> 32n), xid: Number(full & 0xffffffffn) };
  } catch (e) {
    if (e instanceof SyntaxError) throw new ProtocolError('protocol-violation', 'the server did not tell its next transaction id (pg_current_snapshot)');
    throw e;
  } finally {
    conn.close();
  }
}

/**
 * A page source over the stream: bytes are pulled from the stream until the page asked for holds what the
 * reader needs. Bytes of pages the reader has left are dropped. Past `stopAt` (the server's flush position
 * at open, when no end was given) the source says the WAL ends, as a folder's last segment does.
 */
export class StreamSource implements PageSource {
  private bufStart: Lsn;
  private buf = new Uint8Array(0);
  private readonly events: AsyncIterator<WalStreamEvent>;
  private closed = false;
  /** The record the reader is reading (its last recPtr): bytes of its page are kept, it may read it again. */
  private recPtr: Lsn = 0;
  /** A switch point at which the reader was stopped, to be read on from (takeSwitch). */
  private switchedAt: Lsn | undefined;
  /** The timeline whose WAL is streamed now. */
  tli: number;
  onTimelineSwitch: StreamRecordsOptions['onTimelineSwitch'];

  constructor(
    private readonly stream: ReconnectingWalStream,
    start: Lsn,
    tli: number,
    private readonly stopAt: Lsn,
    private readonly stopAtIsEnd: boolean,
    private readonly flushLsn: () => Lsn,
    private readonly signal?: AbortSignal,
  ) {
    this.bufStart = start;
    this.tli = tli;
    this.events = stream[Symbol.asyncIterator]();
  }

  /** Whether the reader's `timeline-end` at `lsn` is a switch this source followed (then the reader retries). */
  takeSwitch(lsn: Lsn): boolean {
    if (this.switchedAt !== lsn) return false;
    this.switchedAt = undefined;
    return true;
  }

  /** The next stream event, or the abort of `signal` (thrown as its reason). */
  private nextEvent(): Promise<IteratorResult<WalStreamEvent>> {
    const signal = this.signal;
    if (signal === undefined) return this.events.next();
    signal.throwIfAborted();
    return new Promise((resolve, reject) => {
      const onAbort = (): void => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      this.events.next().then(
        (r) => {
          signal.removeEventListener('abort', onAbort);
          resolve(r);
        },
        (e: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(e);
        },
      );
    });
  }

  /**
   * The server's timeline ended at `switchLsn` (or a failover led to a server whose history left it there): bytes
   * past it are not on the new history. The reader is stopped there (a miss naming the switch point) and reads
   * on from it; records it already returned past the switch point cannot be taken back: an error.
   */
  private switchTimeline(ev: Extract<WalStreamEvent, { type: 'timeline-switch' }>): SourceMiss {
    const at = ev.switchLsn;
    if (this.recPtr > at) throw new TimelineForkError(ev.timeline, at, ev.nextTimeline, this.recPtr);
    if (at < this.bufStart) throw new WalSourceError('timeline-fork', `the server's timeline ${ev.timeline} ended at ${formatLsn(at)}, before the stream's ${formatLsn(this.bufStart)}`, { lsn: at });
    if (at < this.received) this.buf = this.buf.subarray(0, at - this.bufStart);
    this.tli = ev.nextTimeline;
    this.switchedAt = at;
    const history = parseTimelineHistory(ev.history.content, ev.nextTimeline, ev.history.filename);
    this.onTimelineSwitch?.({ timeline: ev.timeline, nextTimeline: ev.nextTimeline, switchLsn: at, history });
    return { missing: `the server's timeline ${ev.timeline} ended at ${formatLsn(at)}; timeline ${ev.nextTimeline} follows`, switchPoint: at };
  }

  get received(): Lsn {
    return this.bufStart + this.buf.length;
  }

  async read(pagePtr: Lsn, minLength: number, recPtr: Lsn): Promise<SourceBytes | SourceMiss> {
    if (pagePtr < this.bufStart) throw new InvalidArgumentError(`the reader asked for ${formatLsn(pagePtr)}, before the stream's ${formatLsn(this.bufStart)}`);
    this.recPtr = recPtr;
    // Drop what lies before the page asked for and before the record being read (read again after a timeline
    // switch): the reader only goes forward.
    const keepFrom = Math.min(pagePtr, recPtr - (recPtr % XLOG_BLCKSZ));
    if (keepFrom > this.bufStart) {
      const drop = Math.min(keepFrom - this.bufStart, this.buf.length);
      this.buf = this.buf.subarray(drop);
      this.bufStart += drop;
    }
    // At least minLength, and more than a short page header (a read of no more is a failed read to the reader,
    // as ReadPageInternal's); never more than that, or a record ending at the flush position would wait for more.
    const want = pagePtr + Math.min(XLOG_BLCKSZ, Math.max(minLength, SIZE_OF_SHORT_PHD + 1));
    while (this.received < want) {
      if (this.stopAtIsEnd && this.received >= this.stopAt) {
        return { missing: `the server's WAL was flushed up to ${formatLsn(this.stopAt)} when pgwal connected` };
      }
      this.stream.report({ write: this.received, flush: this.flushLsn() });
      const r = await this.nextEvent();
      if (r.done === true) return { missing: `the server's stream ended at ${formatLsn(this.received)}` };
      const ev = r.value;
      if (ev.type === 'timeline-switch') return this.switchTimeline(ev);
      if (ev.type === 'end') return { missing: `the server ended the stream at ${formatLsn(ev.lsn)}` };
      if (ev.dataStart !== this.received) throw new ProtocolError('protocol-violation', `the stream sent WAL at ${formatLsn(ev.dataStart)}, expected ${formatLsn(this.received)}`);
      // A new array each time: bytes handed to the reader are never changed under it.
      const next = new Uint8Array(this.buf.length + ev.data.length);
      next.set(this.buf);
      next.set(ev.data, this.buf.length);
      this.buf = next;
    }
    if (this.stopAtIsEnd && this.stopAt < this.received) {
      // Without an end, what the server had flushed at open is the WAL there is (as files would show it).
      const len = Math.max(0, this.stopAt - pagePtr);
      if (len < Math.min(XLOG_BLCKSZ, minLength)) return { missing: `the server's WAL was flushed up to ${formatLsn(this.stopAt)} when pgwal connected` };
      return { start: pagePtr, bytes: this.buf.subarray(pagePtr - this.bufStart, pagePtr - this.bufStart + len), tli: this.tli };
    }
    return { start: pagePtr, bytes: this.buf.subarray(pagePtr - this.bufStart), tli: this.tli };
  }

  /** Reports the slot's restart_lsn at once (so the server's physical slot shows it), then ends the stream. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      this.stream.report({ write: this.received, flush: this.flushLsn() }, true);
    } catch {
      /* a broken connection: nothing to report to */
    }
    this.stream.stop();
    try {
      // Drain to the end event (after an abort, the read still pending comes first): the connection is closed by the stream.
      for (;;) {
        const r = await this.events.next();
        if (r.done === true) break;
      }
    } catch {
      /* ending a broken stream */
    }
  }
}
