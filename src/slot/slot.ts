// The slot as a library object: its state, the server's rules for moving it, and a persistence callback
// that runs before any move is reported done (a file, a table, anything durable).
//
//   confirm(lsn) ──▶ confirmed_flush := lsn (only forward)
//                  ├▶ restart_lsn := candidate (only forward, never past confirmed_flush)
//                  └▶ catalog_xmin := oldest running xid at the last running_xacts ≤ restart_lsn (only forward)
//                  ──▶ persist(state)
//   checkRecord(rec) ──▶ catalog rows removed under catalog_xmin? ──▶ invalidate(rows_removed) ──▶ persist ──▶ throw
import { WalError } from '../errors.js';
import { formatLsn, parseLsn, type Lsn } from '../lsn.js';
import type { DecodedRecord, RelFileLocator } from '../xlogreader/record.js';
import type { Major } from '../xlogreader/profile.js';
import { parseRunningXacts, XLOG_RUNNING_XACTS } from '../xlogreader/rmgrdesc/standby.js';
import { SlotInvalidatedError } from './errors.js';
import { catalogFileTest, describeRemoval, invalidates, rowRemovalOf, transactionIdPrecedesOrEquals, type RowRemoval } from './guard.js';
import { restartPointsOf, type InvalidationReason, type KeptRestart, type SlotState } from './state.js';

/**
 * Writes the state durably; the slot treats a move as done only once this has returned. It may return the state
 * as it keeps it from then on (e.g. the catalog pages moved to a file).
 */
export type PersistSlot = (state: SlotState) => SlotState | void;

/**
 * Which earlier restart points a slot keeps (KeptRestart): enough to cover every switch point within `window`
 * bytes of WAL before confirmed_flush, at most `max` of them (thinning the middle ones keeps the coverage: an
 * older point covers what a dropped one did, from further back). A window of 0 keeps none.
 */
export interface KeepRestarts {
  window: number;
  max: number;
}

export const DEFAULT_KEEP_RESTARTS: KeepRestarts = { window: 64 * 1024 * 1024, max: 16 };

const RM_STANDBY_ID = 8;

export interface ConfirmOptions {
  /** Where decoding could restart having consumed up to `lsn` (the oldest open transaction's first change). */
  restartLsn?: Lsn;
  /** The timeline `lsn` was reached on. */
  timeline?: number;
  /** The historic catalog's pages as of a restart LSN: stored with the state whenever restart_lsn moves. */
  catalogPagesAt?: (restartLsn: Lsn) => SlotState['catalogPages'];
  /**
   * How far the WAL is known durable on the failover candidate: a promotion there switches at or after it, so
   * the kept restart points need cover only switch points from here on (instead of the window).
   */
  durable?: Lsn;
}

export class Slot {
  private s: SlotState;
  private readonly isCatalogFile: (l: RelFileLocator) => boolean;
  /** Which earlier restart points confirm keeps, for decoding orphaned transactions after a failover. */
  keepRestarts: KeepRestarts = DEFAULT_KEEP_RESTARTS;
  /** running_xacts seen since restart_lsn: (LSN, oldestRunningXid), in WAL order. */
  private readonly running: { lsn: Lsn; oldestRunningXid: number }[] = [];

  constructor(
    state: SlotState,
    private readonly persist: PersistSlot,
    /** Called by release(): lets the slot's owner go (a lock file, a lease). */
    private readonly onRelease: () => void = () => undefined,
  ) {
    this.s = state;
    this.isCatalogFile = catalogFileTest(state.catalogFilenodes);
  }

  /** A copy of the current state. */
  get state(): SlotState {
    return { ...this.s };
  }
  get name(): string {
    return this.s.name;
  }
  get restartLsn(): Lsn {
    return parseLsn(this.s.restartLsn);
  }
  get confirmedFlush(): Lsn {
    return parseLsn(this.s.confirmedFlush);
  }
  get catalogXmin(): number {
    return this.s.catalogXmin;
  }
  get timeline(): number {
    return this.s.timeline;
  }
  get invalidated(): boolean {
    return this.s.invalidation !== null;
  }

  /** Gives the slot up (ReplicationSlotRelease): another process may use it from now on. */
  release(): void {
    this.onRelease();
  }

  /** Throws the error the server gives for an invalidated slot; call before decoding. */
  // see CreateDecodingContext (logical.c): "can no longer get changes from replication slot"
  assertUsable(): void {
    const inv = this.s.invalidation;
    if (inv === null) return;
    throw new SlotInvalidatedError(
      this.s.name,
      inv.reason,
      `can no longer get changes from replication slot "${this.s.name}": it was invalidated (${inv.reason}) at ${inv.lsn}: ${inv.detail}`,
      { lsn: parseLsn(inv.lsn), catalogXmin: this.s.catalogXmin },
    );
  }

  /**
   * Feeds every record in WAL order, before the decoder sees it. Notes running_xacts (catalog_xmin
   * candidates) and refuses a record that removes catalog rows the slot may need: the slot is invalidated
   * persistently and a SlotInvalidatedError names catalog_xmin, the horizon and the record.
   */
  checkRecord(rec: DecodedRecord, major: Major): void {
    if (rec.rmid === RM_STANDBY_ID && (rec.info & 0xf0) === XLOG_RUNNING_XACTS) {
      this.running.push({ lsn: rec.lsn, oldestRunningXid: parseRunningXacts(rec).oldestRunningXid });
      return;
    }
    const removal = rowRemovalOf(rec, major, this.isCatalogFile, true);
    if (removal !== undefined && invalidates(removal, this.s.catalogXmin, this.s.databaseOid)) this.invalidateForRemoval(removal);
  }

  private invalidateForRemoval(r: RowRemoval): never {
    const detail = `catalog_xmin ${this.s.catalogXmin} precedes or equals the snapshot conflict horizon ${r.horizon} of ${describeRemoval(r)}`;
    this.invalidate('rows_removed', r.lsn, detail);
    throw new SlotInvalidatedError(this.s.name, 'rows_removed', `replication slot "${this.s.name}" invalidated (rows_removed): ${detail}; catalog rows it needs may be gone`, {
      lsn: r.lsn,
      catalogXmin: this.s.catalogXmin,
      horizon: r.horizon,
      record: describeRemoval(r),
    });
  }

  /** Marks the slot unusable, persistently. Invalidation is final (as the server's). */
  invalidate(reason: InvalidationReason, lsn: Lsn, detail: string): void {
    if (this.s.invalidation !== null) return;
    this.write({ ...this.s, invalidation: { reason, lsn: formatLsn(lsn), detail } });
  }

  /**
   * The consumer has everything committed before `lsn`: confirmed_flush moves there if that is forward
   * (else nothing happens and false is returned, as LogicalConfirmReceivedLocation ignores a stale
   * confirmation); restart_lsn and catalog_xmin follow, never backwards; the state is persisted.
   */
  // see LogicalConfirmReceivedLocation (logical.c)
  confirm(lsn: Lsn, options: ConfirmOptions = {}): boolean {
    this.assertUsable();
    if (lsn <= this.confirmedFlush) return false;
    const next: SlotState = { ...this.s, confirmedFlush: formatLsn(lsn) };
    if (options.timeline !== undefined) next.timeline = options.timeline;
    const restart = options.restartLsn;
    if (restart !== undefined && restart > this.restartLsn) {
      next.restartLsn = formatLsn(Math.min(restart, lsn));
      const xmin = this.catalogXminAt(parseLsn(next.restartLsn));
      if (xmin !== undefined && !transactionIdPrecedesOrEquals(xmin, this.s.catalogXmin)) next.catalogXmin = xmin;
      // A restart from the new restart_lsn needs the catalog as of there, not as of the slot's creation.
      if (options.catalogPagesAt !== undefined) {
        next.catalogPages = options.catalogPagesAt(parseLsn(next.restartLsn));
        delete next.catalogPagesFile;
      }
      const kept = this.keptWith(next, options.durable);
      if (kept === undefined) delete next.keptRestarts;
      else next.keptRestarts = kept;
    }
    this.write(next);
    return true;
  }

  /**
   * The kept restart points once the slot moves to `next`: the point it was at (when none is kept yet), then
   * `next`'s, the first confirm at its new restart_lsn (the one that covers the most switch points). Older
   * ones go once a newer one covers every switch point in the window (or from the candidate's durable LSN on).
   */
  private keptWith(next: SlotState, durable: Lsn | undefined): KeptRestart[] | undefined {
    const { window, max } = this.keepRestarts;
    if (window <= 0 && durable === undefined) return undefined;
    const list = [...(this.s.keptRestarts ?? [])];
    const pointOf = (s: SlotState): KeptRestart => restartPointsOf({ ...s, keptRestarts: [] })[0]!;
    if (list.length === 0) list.push(pointOf(this.s));
    list.push(pointOf(next));
    const horizon = durable ?? parseLsn(next.confirmedFlush) - window;
    let from = 0;
    for (let i = 0; i < list.length; i++) if (parseLsn(list[i]!.confirmedFlush) <= horizon) from = i;
    const out = list.slice(from);
    while (out.length > Math.max(2, max)) out.splice(1, 1);
    return out;
  }

  /**
   * pg_replication_slot_advance: like confirm, but moving backwards is an error (the server's wording) and
   * moving to the same place is a no-op.
   */
  // see pg_replication_slot_advance (slotfuncs.c)
  advance(lsn: Lsn, options: ConfirmOptions = {}): void {
    if (lsn < this.confirmedFlush) {
      throw new WalError('slot-advance-backwards', `cannot advance replication slot to ${formatLsn(lsn)}, minimum is ${formatLsn(this.confirmedFlush)}`, { lsn });
    }
    this.confirm(lsn, options);
  }

  /**
   * Moves the slot back to `lsn` on `timeline` (after a failover, to the switch point): confirmed_flush and
   * restart_lsn no later than it. Only on explicit request; the one move that goes backwards. With a kept restart
   * point whose confirmed_flush is at or before `lsn`, the slot restarts there, with its catalog and catalog_xmin:
   * every transaction committed after `lsn` on the new timeline is then decoded whole (without one, restart_lsn
   * becomes `lsn` when it lay past it, and a transaction open across `lsn` loses its changes before it).
   */
  rewind(lsn: Lsn, timeline: number): void {
    this.assertUsable();
    const kept = (this.s.keptRestarts ?? []).filter((k) => parseLsn(k.confirmedFlush) <= lsn);
    const point = kept[kept.length - 1];
    const next: SlotState = { ...this.s, confirmedFlush: formatLsn(Math.min(lsn, this.confirmedFlush)), restartLsn: formatLsn(Math.min(lsn, this.restartLsn)), timeline };
    if (point !== undefined && parseLsn(point.restartLsn) < this.restartLsn) {
      next.restartLsn = point.restartLsn;
      next.catalogXmin = point.catalogXmin;
      delete next.catalogPages;
      delete next.catalogPagesFile;
      if (point.catalogPages !== undefined) next.catalogPages = point.catalogPages;
      if (point.catalogPagesFile !== undefined) next.catalogPagesFile = point.catalogPagesFile;
    }
    // Points past the switch point lie on the abandoned timeline.
    if (this.s.keptRestarts !== undefined) next.keptRestarts = kept;
    this.running.length = 0;
    this.write(next);
  }

  /** Records the timeline the slot now follows without moving it (its positions lie on the new history). */
  setTimeline(timeline: number): void {
    if (timeline !== this.s.timeline) this.write({ ...this.s, timeline });
  }

  /** The oldest running xid of the last running_xacts at or before `lsn`; older entries are dropped. */
  private catalogXminAt(lsn: Lsn): number | undefined {
    let found: number | undefined;
    let keep = 0;
    for (let i = 0; i < this.running.length && this.running[i]!.lsn <= lsn; i++) {
      found = this.running[i]!.oldestRunningXid;
      keep = i;
    }
    if (found !== undefined) this.running.splice(0, keep);
    return found;
  }

  private write(next: SlotState): void {
    this.s = this.persist(next) ?? next;
  }
}
