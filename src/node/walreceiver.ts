// Streaming WAL as walreceiver.c does: START_REPLICATION, XLogData out as events (one at a time: a slow
// consumer stops the socket being read), keepalive replies, periodic standby status updates and hot
// standby feedback, and at the end of a timeline TIMELINE_HISTORY and a new START_REPLICATION on the next.
//
//   START_REPLICATION tli ─▶ XLogData… ─▶ server CopyDone ─▶ (next_tli, startpos) ─▶ TIMELINE_HISTORY next_tli
//          ▲                                                                               │
//          └────────────────── at startpos (or its segment start) ◀────────────────────────┘
import { formatLsn, type Lsn } from '../lsn.js';
import { ConnectionError, ProtocolError, ServerError } from '../protocol/index.js';
import { parseTimelineHistory, timelineOfLsn } from '../timeline/history.js';
import type { EndOfTimeline, ReplicationConnection } from './replication.js';

export interface HotStandbyFeedbackValues {
  xmin: number;
  xminEpoch: number;
  catalogXmin: number;
  catalogXminEpoch: number;
}

export interface WalStreamOptions {
  slot?: string;
  startLsn: Lsn;
  timeline: number;
  /** Milliseconds between standby status updates (wal_receiver_status_interval); 0: only when asked. Default 10 s. */
  statusIntervalMs?: number;
  /**
   * After a timeline switch, start the next timeline at the beginning of the segment holding the switch
   * point, as walreceiver and pg_receivewal do (they write whole segments). Without it, at the switch point.
   */
  walSegmentSize?: number;
  /** Report the flush position (pg_receivewal does only with a slot: it makes one a synchronous standby candidate). */
  reportFlush?: boolean;
  /** Sent as hot standby feedback with each status update when it returns values. */
  hotStandbyFeedback?: () => HotStandbyFeedbackValues | undefined;
}

export type WalStreamEvent =
  | { type: 'data'; timeline: number; dataStart: Lsn; walEnd: Lsn; data: Uint8Array }
  /** The server ended `timeline`; streaming goes on from `restartLsn` on `nextTimeline`. */
  | { type: 'timeline-switch'; timeline: number; nextTimeline: number; switchLsn: Lsn; restartLsn: Lsn; history: { filename: string; content: string } }
  /** The server ended the stream without a next timeline (a shutdown), or `stop()` was called. */
  | { type: 'end'; timeline: number; lsn: Lsn };

export class WalStream implements AsyncIterable<WalStreamEvent> {
  /** Positions reported in standby status updates; the consumer moves them. */
  write: Lsn;
  flush: Lsn;
  apply: Lsn = 0;
  timeline: number;
  /** The first byte not yet received. */
  received: Lsn;
  private stopping = false;
  private timer: NodeJS.Timeout | undefined;
  private lastStatus = 0;

  constructor(
    private readonly conn: ReplicationConnection,
    private readonly options: WalStreamOptions,
  ) {
    this.write = options.startLsn;
    this.flush = options.startLsn;
    this.received = options.startLsn;
    this.timeline = options.timeline;
  }

  /** Sets the positions reported; `now` sends a status update at once (synchronous mode). */
  report(p: { write?: Lsn; flush?: Lsn; apply?: Lsn }, now = false): void {
    if (p.write !== undefined) this.write = p.write;
    if (p.flush !== undefined) this.flush = p.flush;
    if (p.apply !== undefined) this.apply = p.apply;
    if (now) this.sendStatus(false);
  }

  /** Ends the stream after the event being handled: sends CopyDone; iteration ends with an `end` event. */
  stop(): void {
    this.stopping = true;
    try {
      this.conn.requestEndCopy();
    } catch {
      /* a broken connection ends the stream anyway */
    }
  }

  private sendStatus(replyRequested: boolean): void {
    const reportFlush = this.options.reportFlush ?? this.options.slot !== undefined;
    this.conn.sendStatus(this.write, reportFlush ? this.flush : 0, this.apply, replyRequested);
    const f = this.options.hotStandbyFeedback?.();
    if (f !== undefined) this.conn.sendHotStandbyFeedback(f);
    this.lastStatus = Date.now();
  }

  /** see ReadEndOfStreamingResult and its checks (receivelog.c); then the next timeline's history. */
  private async nextTimeline(next: EndOfTimeline): Promise<Extract<WalStreamEvent, { type: 'timeline-switch' }>> {
    if (next.nextTimeline <= this.timeline) {
      throw new ProtocolError('protocol-violation', `server reported unexpected next timeline ${next.nextTimeline}, following timeline ${this.timeline}`);
    }
    if (next.nextTimelineStart > this.received) {
      throw new ProtocolError(
        'protocol-violation',
        `server stopped streaming timeline ${this.timeline} at ${formatLsn(this.received)}, but reported next timeline ${next.nextTimeline} to begin at ${formatLsn(next.nextTimelineStart)}`,
      );
    }
    const history = await this.conn.timelineHistory(next.nextTimeline);
    const seg = this.options.walSegmentSize;
    const restart = seg === undefined ? next.nextTimelineStart : next.nextTimelineStart - (next.nextTimelineStart % seg);
    const ev = { type: 'timeline-switch' as const, timeline: this.timeline, nextTimeline: next.nextTimeline, switchLsn: next.nextTimelineStart, restartLsn: restart, history };
    this.timeline = next.nextTimeline;
    return ev;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<WalStreamEvent> {
    let start = this.options.startLsn;
    const interval = this.options.statusIntervalMs ?? 10_000;
    try {
      for (;;) {
        if (this.stopping) {
          yield { type: 'end', timeline: this.timeline, lsn: this.received };
          return;
        }
        const atEnd = await this.conn.startPhysical({ slot: this.options.slot, lsn: start, timeline: this.timeline });
        this.received = start;
        if (atEnd !== undefined) {
          // The start point is where the timeline ended: straight to the next one.
          const sw = await this.nextTimeline(atEnd);
          yield sw;
          start = sw.restartLsn;
          continue;
        }
        // stop() while START_REPLICATION was on its way found no COPY to end: end it now.
        if (this.stopping) this.conn.requestEndCopy();
        // see WalReceiverMain: at half of wal_receiver_timeout without a byte from the server, a status update
        // asks it for a reply (once), so a quiet but live server answers and a stalled one runs into the timeout.
        const timeout = this.conn.receiveTimeoutMs;
        let pinged = false;
        if (interval > 0 || timeout > 0) {
          this.timer = setInterval(() => {
            try {
              const silent = this.conn.silentMs;
              if (timeout > 0 && silent < timeout / 2) pinged = false;
              if (timeout > 0 && silent >= timeout / 2 && !pinged) {
                pinged = true;
                this.sendStatus(true);
              } else if (interval > 0 && Date.now() - this.lastStatus >= interval) this.sendStatus(false);
            } catch {
              /* the stream's own read reports a broken connection */
            }
          }, Math.max(10, Math.min(interval > 0 ? interval : 1000, timeout > 0 ? timeout / 4 : 1000, 1000)));
          this.timer.unref();
        }
        let serverEnded = false;
        for (;;) {
          const m = await this.conn.nextStreamMessage();
          if (m.type === 'CopyDone') {
            serverEnded = true;
            break;
          }
          if (this.stopping) continue;
          if (m.type === 'PrimaryKeepalive') {
            if (m.replyRequested) this.sendStatus(false);
            continue;
          }
          if (m.dataStart !== this.received) {
            throw new ProtocolError(
              'protocol-violation',
              `got WAL data at ${formatLsn(m.dataStart)} on timeline ${this.timeline}, expected ${formatLsn(this.received)}`,
              { lsn: m.dataStart },
            );
          }
          this.received = m.dataStart + m.data.length;
          yield { type: 'data', timeline: this.timeline, dataStart: m.dataStart, walEnd: m.walEnd, data: m.data };
        }
        clearInterval(this.timer);
        const next = await this.conn.endCopy(serverEnded);
        if (next === undefined || this.stopping) {
          yield { type: 'end', timeline: this.timeline, lsn: this.received };
          return;
        }
        const sw = await this.nextTimeline(next);
        yield sw;
        start = sw.restartLsn;
      }
    } finally {
      clearInterval(this.timer);
    }
  }
}


export interface ReconnectingWalStreamOptions extends WalStreamOptions {
  /** Opens a new connection (each attempt). */
  connect: () => Promise<ReplicationConnection>;
  /** First pause after a lost connection, doubled per failed attempt up to `maxDelayMs` (default 100 ms … 10 s). */
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** Give up after this many failed attempts in a row (default: never). */
  maxAttempts?: number;
  onReconnect?: (info: { attempt: number; delayMs: number; error: unknown; resumeAt: Lsn; timeline: number }) => void;
  sleep?: (ms: number) => Promise<void>;
  /**
   * On each connection, before START_REPLICATION: when the server is on a newer timeline whose history left
   * ours before the first byte not yet delivered (a failover to a standby that had less WAL), deliver a
   * `timeline-switch` at that switch point (below what was delivered) and go on from it on the next timeline.
   * The consumer must drop what it received past the switch point. Without it, START_REPLICATION fails there.
   */
  followForks?: boolean;
}

/**
 * Errors after which a new connection may go on: the connection broke (or timed out), or the server ended the
 * session (class 57, operator intervention: a terminated walsender, a shutdown; class 08, connection
 * exception), or had no walsender free (53300).
 */
export function isRetryableStreamError(e: unknown): boolean {
  if (e instanceof ConnectionError) return true;
  // 53300 too_many_connections: max_wal_senders reached, e.g. while a terminated walsender still exits.
  return e instanceof ServerError && (e.sqlState.startsWith('57') || e.sqlState.startsWith('08') || e.sqlState === '53300');
}

/**
 * A WalStream that survives lost connections: it reconnects with exponential backoff and starts again at
 * the first byte it has not yet delivered, on the timeline it was on, so no byte is delivered twice or
 * skipped. The end of a timeline is followed as by WalStream.
 */
export class ReconnectingWalStream implements AsyncIterable<WalStreamEvent> {
  private current: WalStream | undefined;
  private stopping = false;
  private positions: { write?: Lsn; flush?: Lsn; apply?: Lsn } = {};
  /** The first byte not yet delivered, and its timeline. */
  resumeAt: Lsn;
  timeline: number;

  constructor(private readonly options: ReconnectingWalStreamOptions) {
    this.resumeAt = options.startLsn;
    this.timeline = options.timeline;
  }

  report(p: { write?: Lsn; flush?: Lsn; apply?: Lsn }, now = false): void {
    this.positions = { ...this.positions, ...p };
    this.current?.report(p, now);
  }

  stop(): void {
    this.stopping = true;
    this.current?.stop();
    this.wake?.();
  }

  /** Ends the backoff pause in progress (stop() while the server is down ends the stream at once). */
  private wake: (() => void) | undefined;

  async *[Symbol.asyncIterator](): AsyncIterator<WalStreamEvent> {
    const o = this.options;
    const initial = o.initialDelayMs ?? 100;
    const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
    let delay = initial;
    let failures = 0;
    while (!this.stopping) {
      let conn: ReplicationConnection | undefined;
      try {
        conn = await o.connect();
        if (o.followForks === true) {
          const fork = await forkBefore(conn, this.timeline, this.resumeAt);
          if (fork !== undefined) {
            this.timeline = fork.nextTimeline;
            this.resumeAt = fork.restartLsn;
            yield fork;
          }
        }
        // Bytes before resumeAt were delivered: a new START_REPLICATION begins exactly after them.
        const stream = new WalStream(conn, { ...o, startLsn: this.resumeAt, timeline: this.timeline, walSegmentSize: undefined });
        this.current = stream;
        stream.report(this.positions);
        if (this.stopping) stream.stop();
        for await (const ev of stream) {
          if (ev.type === 'data') {
            this.resumeAt = ev.dataStart + ev.data.length;
            failures = 0;
            delay = initial;
          } else if (ev.type === 'timeline-switch') {
            this.timeline = ev.nextTimeline;
            this.resumeAt = ev.restartLsn;
          } else if (!this.stopping) {
            // The server ended the stream without a next timeline (a shutdown): connect again.
            throw new ConnectionError(`the server ended streaming at ${formatLsn(ev.lsn)} on timeline ${ev.timeline}`);
          }
          yield ev;
        }
        return;
      } catch (e) {
        if (this.stopping || !isRetryableStreamError(e)) throw e;
        failures++;
        if (o.maxAttempts !== undefined && failures > o.maxAttempts) throw e;
        o.onReconnect?.({ attempt: failures, delayMs: delay, error: e, resumeAt: this.resumeAt, timeline: this.timeline });
        if (!this.stopping) {
          await Promise.race([sleep(delay), new Promise<void>((r) => (this.wake = r))]);
          this.wake = undefined;
        }
        delay = Math.min(delay * 2, o.maxDelayMs ?? 10_000);
      } finally {
        this.current = undefined;
        conn?.close();
      }
    }
  }
}

/**
 * When the server's history left `timeline` before `resumeAt` (IDENTIFY_SYSTEM, then TIMELINE_HISTORY of its
 * timeline): the switch to the next timeline at that point, else undefined. A timeline that is not on the
 * server's history at all is an error naming both.
 */
export async function forkBefore(conn: ReplicationConnection, timeline: number, resumeAt: Lsn): Promise<Extract<WalStreamEvent, { type: 'timeline-switch' }> | undefined> {
  const id = await conn.identifySystem();
  if (id.timeline <= timeline) return undefined;
  const file = await conn.timelineHistory(id.timeline);
  const history = parseTimelineHistory(file.content, id.timeline, file.filename);
  const entry = history.find((e) => e.tli === timeline);
  if (entry === undefined) {
    throw new ProtocolError('protocol-violation', `the server's timeline ${id.timeline} does not descend from timeline ${timeline} (${file.filename})`);
  }
  if (entry.end === undefined || resumeAt <= entry.end) return undefined;
  const next = timelineOfLsn(entry.end, history);
  const nextFile = next === id.timeline ? file : await conn.timelineHistory(next);
  return { type: 'timeline-switch', timeline, nextTimeline: next, switchLsn: entry.end, restartLsn: entry.end, history: nextFile };
}
