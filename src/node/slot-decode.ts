// What a decode run asks of its slot, kept apart from the decoder: refuse an invalidated slot or one that
// consumed transactions the followed timeline never had, check every record against catalog_xmin, hold
// commits back until a durability source covers them, and confirm as output is written.
import type { SlotState } from '../slot/state.js';
import { formatLsn, type Lsn } from '../lsn.js';
import type { DecodedRecord } from '../xlogreader/record.js';
import type { Major } from '../xlogreader/profile.js';
import { assertOnHistory, timelineOfLsn, type TimelineHistory } from '../timeline/history.js';
import { XLOG_XACT_COMMIT, XLOG_XACT_COMMIT_PREPARED, parseCommit } from '../xlogreader/rmgrdesc/xact.js';
import { OrphanedTransactionsError, type OrphanedTransaction } from '../slot/errors.js';
import type { KeepRestarts, Slot } from '../slot/slot.js';
import { openWal } from './wal.js';
import type { EndOfWal } from '../xlogreader/reader.js';
import { WalEndedEarlyError } from '../errors.js';

/** Something that says how far WAL is durable where it matters (a standby, an archive, a user's check). */
export interface DurabilitySource {
  /** The LSN up to which commits may be emitted (exclusive of anything past it). */
  covered(): Promise<Lsn>;
  describe(): string;
}

export interface SlotDecodeOptions {
  /** Confirm after every N commits written (0: only at the end, when `advance` is set). */
  confirmEvery: number;
  /** Confirm what was printed when the run ends (pg_logical_slot_get_changes). */
  advance: boolean;
  /** After a failover: move a slot that consumed orphaned transactions back to the switch point. */
  rewind: boolean;
  /** After a failover: go on from the switch point, keeping the orphaned transactions as consumed. */
  acceptOrphans: boolean;
  holdBack?: DurabilitySource;
  /** Which earlier restart points the slot keeps for decoding orphaned transactions (default: the slot's). */
  keepRestarts?: KeepRestarts;
  /**
   * The failover candidate, asked (without holding output back) how far it has the WAL: the slot keeps restart
   * points only back to the newest one whose confirmed_flush it has. With hold-back, the hold-back source is it.
   */
  failoverCandidate?: DurabilitySource;
}

const RM_XACT_ID = 1;
/** How often a durability source is asked while output waits for it. */
const ASK_EVERY_MS = 200;
/** Held-back output beyond which decoding waits for the source instead of reading on. */
const HOLD_LIMIT = 64 * 1024 * 1024;

/** Records of one timeline's own WAL from an LSN (the old timeline's files past the switch point). */
export type TimelineReader = (tli: number, start: Lsn) => Promise<AsyncIterable<DecodedRecord>>;

/** Folders: timeline `tli`'s own segment files. */
export const folderTimelineReader =
  (dirs: string[]): TimelineReader =>
  async (tli, start) =>
    openWal({ path: dirs, timeline: tli }).records({ start });

/**
 * The transactions committed on the old timeline in [from, to] of database `dbOid`: what a slot that confirmed
 * `to` consumed past the switch point `from`.
 */
export async function orphanedTransactions(records: AsyncIterable<DecodedRecord>, to: Lsn, major: Major, dbOid: number): Promise<OrphanedTransaction[]> {
  const out: OrphanedTransaction[] = [];
  for await (const rec of records) {
    if (rec.lsn >= to) break;
    if (rec.rmid !== RM_XACT_ID) continue;
    const op = rec.info & 0x70;
    if (op !== XLOG_XACT_COMMIT && op !== XLOG_XACT_COMMIT_PREPARED) continue;
    const c = parseCommit(rec, major);
    if (c.dbId !== 0 && c.dbId !== dbOid) continue;
    if (rec.endLsn > to) continue;
    out.push({ xid: op === XLOG_XACT_COMMIT_PREPARED ? c.twophaseXid : rec.xid, commitLsn: rec.lsn, commitEndLsn: rec.endLsn, subxacts: c.subxacts });
  }
  return out;
}

/** Where a decode (or an advance) had to get to: the slot's positions when it began, and a requested end. */
export interface DecodeTargets {
  restartLsn: Lsn;
  confirmedFlush: Lsn;
  /** --end / --to: the run must read up to it. */
  end?: Lsn;
  /** How the requested end is named in messages (default "--end"). */
  endName?: string;
}

/**
 * How reading ended, judged as the server judges a decoding that reads up to its flush position. A requested
 * end reached: undefined. A normal end of the available WAL past the slot's confirmed_flush: the line saying
 * where and why, for stderr. Anything else throws WalEndedEarlyError: the restart_lsn not reached, WAL ending
 * before confirmed_flush or a requested end, damage with WAL after it (`damage` says what follows), or a stop
 * this code does not know (a timeline's end, say), which is never success. `lastRecord`: the last record read.
 */
export async function judgeEndOfWal(
  end: EndOfWal | undefined,
  targets: DecodeTargets,
  lastRecord: Lsn | undefined,
  damage: (end: EndOfWal) => string | undefined | Promise<string | undefined>,
): Promise<string | undefined> {
  if (end === undefined) throw new WalEndedEarlyError('reading stopped before the end of the WAL without saying why');
  if (end.reason === 'end-lsn') return undefined;
  const at = formatLsn(end.lsn);
  const context = { lsn: end.lsn };
  // Not a switch with assertNever: a reason added later must fail here at run time, not pass as a normal end.
  if (end.reason !== 'invalid-record' && end.reason !== 'no-more-wal') throw new WalEndedEarlyError(`reading stopped at ${at}: ${end.message || end.reason}`, context);
  // WAL ending right at restart_lsn (a slot that consumed everything) is an end like any other.
  if (lastRecord === undefined && end.lsn < targets.restartLsn) throw new WalEndedEarlyError(`could not read WAL at the slot's restart_lsn ${formatLsn(targets.restartLsn)}: ${end.message}`, context);
  if (end.lsn < targets.confirmedFlush) {
    throw new WalEndedEarlyError(`WAL ends at ${at}, before the slot's confirmed_flush ${formatLsn(targets.confirmedFlush)}: ${end.message}`, context);
  }
  if (targets.end !== undefined) throw new WalEndedEarlyError(`WAL ends at ${at}, before ${targets.endName ?? '--end'} ${formatLsn(targets.end)}: ${end.message}`, context);
  const d = await damage(end);
  if (d !== undefined) {
    // pg_waldump's words for an invalid record, naming the last good one.
    const what = end.reason === 'invalid-record' && lastRecord !== undefined ? `error in WAL record at ${formatLsn(lastRecord)}: ${end.message}` : end.message;
    throw new WalEndedEarlyError(`${what}; ${d}`, context);
  }
  return `end of WAL at ${at}: ${end.message}`;
}

export class SlotDecodeHooks {
  private commitsSinceConfirm = 0;
  /** Output held back until the durability source covers it: one batch per record that produced rows. */
  private readonly held: { upto: Lsn; text: string; commitEnd: Lsn; restart: Lsn; timeline: number }[] = [];
  private covered = 0;

  constructor(
    readonly slot: Slot,
    private readonly major: Major,
    private readonly options: SlotDecodeOptions,
    private readonly out: (text: string) => void,
  ) {
    if (options.keepRestarts !== undefined) slot.keepRestarts = options.keepRestarts;
  }

  /**
   * Before reading: the slot must be usable, and its position must lie on the followed history. A slot that
   * confirmed past the point where the history left its timeline has consumed orphaned transactions: they are
   * listed (from the old timeline's files when present) and decoding refuses, unless told to rewind or accept.
   */
  async begin(history: TimelineHistory | undefined, oldTimeline: TimelineReader, warn: (text: string) => void = () => undefined): Promise<void> {
    this.slot.assertUsable();
    if (history === undefined) return;
    const entry = history.find((e) => e.tli === this.slot.timeline);
    // A timeline that is not an ancestor: nothing to say about what it consumed (assertOnHistory's error).
    if (entry === undefined) assertOnHistory(this.slot.timeline, this.slot.confirmedFlush, history);
    if (entry === undefined || entry.end === undefined || this.slot.confirmedFlush <= entry.end) return;
    let orphans: OrphanedTransaction[] | undefined;
    try {
      orphans = await orphanedTransactions(await oldTimeline(this.slot.timeline, entry.end), this.slot.confirmedFlush, this.major, this.slot.state.databaseOid);
    } catch {
      orphans = undefined;
    }
    const err = new OrphanedTransactionsError(this.slot.name, this.slot.timeline, entry.end, this.slot.confirmedFlush, orphans);
    if (!this.options.rewind && !this.options.acceptOrphans) throw err;
    // Either way the new timeline's transactions after the switch point are all still to come: the slot moves
    // to the switch point on the new timeline. Rewind is for a consumer that undoes the orphans, accept for
    // one that keeps them; pgwal says which happened.
    this.orphans = orphans;
    warn(`pgwal decode: ${this.options.rewind ? 'rewound' : 'accepted'}: ${err.message.replace(/; rewind the slot.*$/, '')}\n`);
    this.slot.rewind(entry.end, timelineOfLsn(entry.end, history));
  }

  /** After begin(): the orphaned transactions the slot had consumed, when there were any. */
  orphans: OrphanedTransaction[] | undefined;

  /** The timeline to hand the reader for the slot's restart_lsn. */
  startTimeline(history: TimelineHistory | undefined): number | undefined {
    // restart_lsn may lie on an older timeline than confirmed_flush: the one the history says owns it.
    return history === undefined ? this.slot.timeline : timelineOfLsn(this.slot.restartLsn, history);
  }

  /** Every record, before the decoder: refuses (and invalidates the slot) when catalog rows it needs go. */
  checkRecord(rec: DecodedRecord): void {
    this.slot.checkRecord(rec, this.major);
  }

  /**
   * The rows one record produced: printed (or held back), and confirmed every `confirmEvery` commits once
   * written. `commitEnd` is the decoder's last commit end after the record, `restart` where decoding could
   * restart having consumed it.
   */
  /** The historic catalog's pages as of a restart LSN, when decoding follows DDL: kept with each confirm. */
  catalogPagesAt: ((restartLsn: Lsn) => SlotState['catalogPages']) | undefined;

  /** Whether a commit may be confirmed while decoding runs (--confirm-every): then output must be flushed per record. */
  get confirmsAsItGoes(): boolean {
    return this.options.confirmEvery > 0;
  }

  /** Whether output waits for a durability source: then a record's rows come through `emitted`, else they may go straight out. */
  get holdsBack(): boolean {
    return this.options.holdBack !== undefined;
  }

  /** Whether a failover candidate is asked as decoding goes: then records go through `emitted` (it awaits the answers). */
  get asksCandidate(): boolean {
    return this.options.failoverCandidate !== undefined;
  }

  /** What the failover candidate (or the hold-back source) was last known to have. */
  private durable: Lsn | undefined;
  private candidateAskedAt = -Infinity;

  private async askCandidate(now: boolean): Promise<void> {
    const c = this.options.failoverCandidate;
    if (c === undefined || (!now && Date.now() - this.candidateAskedAt < ASK_EVERY_MS)) return;
    this.candidateAskedAt = Date.now();
    this.durable = Math.max(this.durable ?? 0, await c.covered());
  }

  /** The durable LSN a confirm may prune kept restart points by: the candidate's, else the hold-back source's. */
  private get durableForConfirm(): Lsn | undefined {
    if (this.options.failoverCandidate !== undefined) return this.durable;
    return this.options.holdBack !== undefined ? this.covered : undefined;
  }

  /** `emitted` without hold-back, for a synchronous loop. */
  emittedNow(rec: DecodedRecord, text: string, commitEnd: Lsn, restartAt: () => Lsn): void {
    if (text === '' && commitEnd <= this.lastQueued) return;
    this.lastQueued = Math.max(this.lastQueued, commitEnd);
    if (text !== '') this.out(text);
    this.written(commitEnd, restartAt(), rec.timeline);
  }

  async emitted(rec: DecodedRecord, text: string, commitEnd: Lsn, restartAt: () => Lsn): Promise<void> {
    if (text === '' && commitEnd <= this.lastQueued) return;
    this.lastQueued = Math.max(this.lastQueued, commitEnd);
    const restart = restartAt();
    await this.askCandidate(false);
    if (this.options.holdBack === undefined) {
      this.out(text);
      this.written(commitEnd, restart, rec.timeline);
      return;
    }
    this.held.push({ upto: rec.endLsn, text, commitEnd, restart, timeline: rec.timeline });
    this.heldBytes += text.length;
    await this.release(false);
    // Backpressure: past HOLD_LIMIT of held output, wait for the source rather than grow without bound.
    while (this.heldBytes > HOLD_LIMIT) {
      await new Promise((r) => setTimeout(r, ASK_EVERY_MS));
      await this.release(true);
    }
  }

  private lastQueued = 0;
  private heldBytes = 0;
  private askedAt = -Infinity;

  /** Prints the held batches the durability source covers; asks it again at most every ASK_EVERY_MS (or when `now`). */
  private async release(now: boolean): Promise<void> {
    while (this.held.length > 0) {
      const b = this.held[0]!;
      if (b.upto > this.covered) {
        if (!now && Date.now() - this.askedAt < ASK_EVERY_MS) return;
        this.askedAt = Date.now();
        this.covered = Math.max(this.covered, await this.options.holdBack!.covered());
        if (b.upto > this.covered) return;
      }
      this.held.shift();
      this.heldBytes -= b.text.length;
      this.out(b.text);
      this.written(b.commitEnd, b.restart, b.timeline);
    }
  }

  /** Updated in place: one object for the run, not one per commit. */
  private readonly lastWritten = { commitEnd: 0, restart: 0, timeline: 0 };

  private written(commitEnd: Lsn, restart: Lsn, timeline: number): void {
    const w = this.lastWritten;
    if (commitEnd <= w.commitEnd) return;
    w.commitEnd = commitEnd;
    w.restart = restart;
    w.timeline = timeline;
    if (this.options.confirmEvery > 0 && ++this.commitsSinceConfirm >= this.options.confirmEvery) {
      this.commitsSinceConfirm = 0;
      this.slot.confirm(commitEnd, { restartLsn: Math.min(restart, commitEnd), timeline, catalogPagesAt: this.catalogPagesAt, durable: this.durableForConfirm });
    }
  }

  /** The end of the run: what is still held stays unconfirmed; with --advance, confirm what was written. */
  async end(): Promise<{ held: number }> {
    if (this.options.holdBack !== undefined) await this.release(true);
    await this.askCandidate(true);
    const w = this.lastWritten;
    if ((this.options.advance || this.options.confirmEvery > 0) && w.commitEnd > this.slot.confirmedFlush) {
      this.slot.confirm(w.commitEnd, { restartLsn: Math.min(w.restart, w.commitEnd), timeline: w.timeline, catalogPagesAt: this.catalogPagesAt, durable: this.durableForConfirm });
    }
    return { held: this.held.length };
  }

  describeHeld(): string {
    const first = this.held[0];
    return first === undefined ? '' : `${this.held.length} batch(es) from ${formatLsn(first.upto)} held back: ${this.options.holdBack!.describe()} covers only ${formatLsn(this.covered)}`;
  }
}
