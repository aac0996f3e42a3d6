// Streaming WAL as walreceiver.c does: START_REPLICATION, XLogData out as events (one at a time: a slow
// consumer stops the socket being read), keepalive replies, periodic standby status updates and hot
// standby feedback, and at the end of a timeline TIMELINE_HISTORY and a new START_REPLICATION on the next.
//
//   START_REPLICATION tli ─▶ XLogData… ─▶ server CopyDone ─▶ (next_tli, startpos) ─▶ TIMELINE_HISTORY next_tli
//          ▲                                                                               │
//          └────────────────── at startpos (or its segment start) ◀────────────────────────┘
import { formatLsn, type Lsn } from '../lsn.js';
import { ProtocolError } from '../protocol/index.js';
import type { ReplicationConnection } from './replication.js';

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

  async *[Symbol.asyncIterator](): AsyncIterator<WalStreamEvent> {
    let start = this.options.startLsn;
    const interval = this.options.statusIntervalMs ?? 10_000;
    try {
      for (;;) {
        if (this.stopping) {
          yield { type: 'end', timeline: this.timeline, lsn: this.received };
          return;
        }
        await this.conn.startPhysical({ slot: this.options.slot, lsn: start, timeline: this.timeline });
        this.received = start;
        if (interval > 0) {
          this.timer = setInterval(() => {
            if (Date.now() - this.lastStatus >= interval) {
              try {
                this.sendStatus(false);
              } catch {
                /* the stream's own read reports a broken connection */
              }
            }
          }, Math.max(10, Math.min(interval, 1000)));
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
        // see ReadEndOfStreamingResult and its checks (receivelog.c)
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
        yield { type: 'timeline-switch', timeline: this.timeline, nextTimeline: next.nextTimeline, switchLsn: next.nextTimelineStart, restartLsn: restart, history };
        this.timeline = next.nextTimeline;
        start = restart;
      }
    } finally {
      clearInterval(this.timer);
    }
  }
}

