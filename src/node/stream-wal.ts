// Decoding straight from a physical replication stream: XLogData assembled into pages for the reader, as
// walreceiver writes them and the startup process reads them up to the flushed position. The flush position
// reported to the server is the pgwal slot's restart_lsn, so the server keeps just the WAL the slot needs;
// with a physical slot, hot standby feedback carries the slot's catalog_xmin so the server keeps its rows.
import { InvalidArgumentError, WalSourceError } from '../errors.js';
import { ProtocolError } from '../protocol/index.js';
import { formatLsn, type Lsn } from '../lsn.js';
import { historyWithoutFile, parseTimelineHistory, type TimelineHistory } from '../timeline/history.js';
import type { DecodedRecord } from '../xlogreader/record.js';
import { XLOG_BLCKSZ, XLogReader, type EndOfWal, type XLogReaderOptions } from '../xlogreader/reader.js';
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
    const startTimeline = options.startTimeline ?? this.timeline;
    if (startTimeline !== this.timeline) {
      throw new InvalidArgumentError(`the slot is on timeline ${startTimeline} and the server on timeline ${this.timeline}: decoding over a timeline switch from a stream is not supported yet (decode from files)`);
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
      timeline: this.timeline,
      statusIntervalMs: this.options.statusIntervalMs,
      reportFlush: true,
      ...(feedback !== undefined ? { hotStandbyFeedback: feedback } : {}),
      ...(this.options.onReconnect !== undefined ? { onReconnect: this.options.onReconnect } : {}),
    });
    stream.report({ write: segStart, flush: options.flushLsn() });
    const source = new StreamSource(stream, segStart, this.timeline, options.end ?? this.serverFlush, options.end === undefined, options.flushLsn);
    const reader = new XLogReader({ segmentSize: this.segmentSize, startLsn: options.start, findFirst: true, endLsn: options.end, timeline: this.timeline, expect: options.expect });
    let end: EndOfWal | undefined;
    return {
      get end() {
        return end;
      },
      async *[Symbol.asyncIterator]() {
        let read = false;
        try {
          end = yield* readRecords(reader, source, options.signal);
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

  constructor(
    private readonly stream: ReconnectingWalStream,
    start: Lsn,
    private readonly tli: number,
    private readonly stopAt: Lsn,
    private readonly stopAtIsEnd: boolean,
    private readonly flushLsn: () => Lsn,
  ) {
    this.bufStart = start;
    this.events = stream[Symbol.asyncIterator]();
  }

  get received(): Lsn {
    return this.bufStart + this.buf.length;
  }

  async read(pagePtr: Lsn, minLength: number): Promise<SourceBytes | SourceMiss> {
    if (pagePtr < this.bufStart) throw new InvalidArgumentError(`the reader asked for ${formatLsn(pagePtr)}, before the stream's ${formatLsn(this.bufStart)}`);
    // Drop what lies before the page asked for: the reader only goes forward.
    if (pagePtr > this.bufStart) {
      const drop = Math.min(pagePtr - this.bufStart, this.buf.length);
      this.buf = this.buf.subarray(drop);
      this.bufStart += drop;
    }
    // More than minLength where it exists: a read of just a short page header is a failed read to the reader.
    const want = pagePtr + Math.min(XLOG_BLCKSZ, minLength);
    while (this.received < want) {
      if (this.stopAtIsEnd && this.received >= this.stopAt) {
        return { missing: `the server's WAL was flushed up to ${formatLsn(this.stopAt)} when pgwal connected` };
      }
      this.stream.report({ write: this.received, flush: this.flushLsn() });
      const r = await this.events.next();
      if (r.done === true) return { missing: `the server's stream ended at ${formatLsn(this.received)}` };
      const ev = r.value;
      if (ev.type === 'timeline-switch') {
        throw new WalSourceError('timeline-switch', `the server's timeline ${ev.timeline} ended at ${formatLsn(ev.switchLsn)}: following a timeline switch while decoding from a stream is not supported yet`, { lsn: ev.switchLsn });
      }
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
      // Drain to the end event: the connection is closed by the stream.
      for (;;) {
        const r = await this.events.next();
        if (r.done === true) break;
      }
    } catch {
      /* ending a broken stream */
    }
  }
}
