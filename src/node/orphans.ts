// The changes of orphaned transactions: after a failover, what a slot consumed on the old timeline past the
// switch point, decoded again from the old timeline's WAL in the slot's output format. Each transaction is
// printed whole or not at all; one whose first record lies before the start point is reported, with why.
//
//   list    commits in [switch point, confirmed_flush) of the slot's database on the old timeline
//   start   the slot's restart point (a kept one whose confirmed_flush is at or before the switch point when
//           there is one: then every orphan is whole from it)
//   locate  otherwise, each orphan's first record: scanned for before the start point, back to a running_xacts
//           record whose nextXid proves the orphan began after it
//   decode  from the start point to confirmed_flush; only the rows of orphans located at or after it are printed
import { WalError } from '../errors.js';
import { formatLsn, parseLsn, segmentStart, type Lsn } from '../lsn.js';
import { parseRunningXacts, XLOG_RUNNING_XACTS } from '../xlogreader/rmgrdesc/standby.js';
import { assertOnHistory, type TimelineHistory } from '../timeline/history.js';
import { LogicalDecoder, type DecoderOptions, type OutputRow } from '../reorderbuffer/logical.js';
import type { OutputPlugin } from '../reorderbuffer/plugin.js';
import type { SpillStore } from '../reorderbuffer/spill.js';
import { HistoricCatalog } from '../catalog/historic.js';
import { PgOutputPlugin } from '../reorderbuffer/pgoutput.js';
import { StaticCatalog } from '../reorderbuffer/catalog.js';
import { catalogSnapshotFromJson } from '../catalog/snapshot-json.js';
import type { OrphanedTransaction } from '../slot/errors.js';
import { catalogFileTest, describeRemoval, invalidates, rowRemovalOf } from '../slot/guard.js';
import { restartPointsOf, type SlotState } from '../slot/state.js';
import { orphanedTransactions, type TimelineReader } from './slot-decode.js';
import { readCatalogPages } from './slot.js';

/**
 * Why an orphan's changes are not printed: `began-before-start` (its first record lies before the start point:
 * decoding from there would miss changes), `first-record-unknown` (no WAL on hand shows where it began).
 */
export type OrphanUnavailableCode = 'began-before-start' | 'first-record-unknown';

export interface OrphanChanges extends OrphanedTransaction {
  /** The first record of it or of a subtransaction (the LSN of its BEGIN row), when located. */
  firstLsn: Lsn | undefined;
  /** Set when its changes cannot all be decoded from the start point: then none of them is printed. */
  unavailable?: { code: OrphanUnavailableCode; reason: string };
}

export interface OrphanReport {
  slotName: string;
  /** The old timeline, the switch point where the followed history left it, and the slot's confirmed_flush. */
  timeline: number;
  switchPoint: Lsn;
  confirmedFlush: Lsn;
  /** Where decoding started: a restart point of the slot, and which. */
  start: { lsn: Lsn; confirmedFlush: Lsn; what: string };
  /** In commit order. */
  transactions: OrphanChanges[];
}

export interface DecodeOrphansOptions {
  /** The slot's state (its restart points, catalog and confirmed_flush on the old timeline). */
  state: SlotState;
  /** The followed history: the slot's timeline must be an ancestor that it left at some switch point. */
  history: TimelineHistory;
  /** Records of the old timeline's own WAL. */
  oldTimeline: TimelineReader;
  plugin: OutputPlugin;
  /** The rows of the orphans whose changes are whole, in commit order. */
  sink: (row: OutputRow) => void;
  segmentSize: number;
  spill?: SpillStore;
  memoryLimit?: number;
  includeRewrites?: boolean;
  toastCache?: number;
  /** How far before the start point first records are looked for (default 1 GiB of WAL). */
  searchLimit?: number;
}

const RM_STANDBY_ID = 8;

const xidFollowsOrEquals = (a: number, b: number): boolean => ((a - b) | 0) >= 0;

/**
 * Decodes the orphaned transactions of a slot whose confirmed_flush lies past the point where `history` left
 * its timeline. Throws the slot's history error when its timeline is not on `history`, a typed WalError when the
 * old timeline's WAL cannot be read, and `orphans-catalog-unsafe` when a record in the range removed catalog rows
 * the start point's catalog_xmin needs.
 */
export async function decodeOrphans(o: DecodeOrphansOptions): Promise<OrphanReport> {
  const s = o.state;
  const confirmed = parseLsn(s.confirmedFlush);
  const entry = o.history.find((e) => e.tli === s.timeline);
  if (entry === undefined) assertOnHistory(s.timeline, confirmed, o.history);
  const switchPoint = entry?.end;
  if (switchPoint === undefined || confirmed <= switchPoint) {
    throw new WalError('no-orphans', `slot "${s.name}" has no orphaned transactions: its confirmed_flush ${s.confirmedFlush} on timeline ${s.timeline} is not past a switch point of the followed history`);
  }
  const orphans: OrphanChanges[] = (await orphanedTransactions(await o.oldTimeline(s.timeline, switchPoint), confirmed, s.major, s.databaseOid)).map((t) => ({ ...t, firstLsn: undefined }));

  // The start point: a restart point whose confirmed_flush is at or before the switch point covers every orphan
  // (a restarted decoder emits every transaction committed after confirmed_flush whole — the slot's own rule).
  // Failing that, the oldest one there is: orphans committed after its confirmed_flush are still whole.
  const points = restartPointsOf(s);
  const covering = points.filter((p) => parseLsn(p.confirmedFlush) <= switchPoint);
  const chosen = covering.length > 0 ? covering[covering.length - 1]! : points[0]!;
  const start = parseLsn(chosen.restartLsn);
  const startConfirmed = parseLsn(chosen.confirmedFlush);
  const isCurrent = chosen.restartLsn === s.restartLsn && chosen.confirmedFlush === s.confirmedFlush;
  const what = isCurrent ? `restart_lsn ${chosen.restartLsn}` : `the restart point ${chosen.restartLsn} kept from confirmed_flush ${chosen.confirmedFlush}`;

  const toLocate = orphans.filter((t) => t.commitLsn < startConfirmed);
  if (toLocate.length > 0) await locateFirstRecords(toLocate, start, o, what);
  const whole = new Set<number>();
  for (const t of orphans) if (t.unavailable === undefined) whole.add(t.xid);

  if (whole.size > 0) {
    const pages = chosen.catalogPagesFile !== undefined || chosen.catalogPages !== undefined ? readCatalogPages({ ...s, catalogPages: chosen.catalogPages, catalogPagesFile: chosen.catalogPagesFile }) : undefined;
    const base = pages !== undefined ? new HistoricCatalog(catalogSnapshotFromJson(pages), { defaults: s.catalog }) : s.catalog;
    // pgoutput follows publications, invalidations and origins through the records, as for the slot's own decoding.
    const catalog = o.plugin instanceof PgOutputPlugin ? o.plugin.catalogView('process' in base ? base : new StaticCatalog(base), s.catalog) : base;
    const firstSeen = new Map<number, Lsn>();
    const decoderOptions: DecoderOptions = {
      catalog,
      major: s.major,
      plugin: o.plugin,
      // Transactions committed before the switch point are not orphans.
      startAt: switchPoint,
      sink: (row) => {
        if (whole.has(row.xid)) o.sink(row);
      },
      timezone: s.timezone,
      ...(o.spill !== undefined ? { spill: o.spill } : {}),
      ...(o.memoryLimit !== undefined ? { memoryLimit: o.memoryLimit } : {}),
      ...(o.includeRewrites !== undefined ? { includeRewrites: o.includeRewrites } : {}),
      ...(o.toastCache !== undefined ? { toastCache: o.toastCache } : {}),
    };
    const decoder = new LogicalDecoder(decoderOptions);
    const isCatalogFile = catalogFileTest(s.catalogFilenodes);
    try {
      for await (const rec of await o.oldTimeline(s.timeline, start)) {
        if (rec.lsn >= confirmed) break;
        // The start point's catalog_xmin must hold over the range, as it does for the slot's own decoding.
        const removal = rowRemovalOf(rec, s.major, isCatalogFile);
        if (removal !== undefined && invalidates(removal, chosen.catalogXmin, s.databaseOid)) {
          throw new WalError(
            'orphans-catalog-unsafe',
            `the orphaned transactions of slot "${s.name}" cannot be decoded from ${what}: catalog_xmin ${chosen.catalogXmin} precedes or equals the snapshot conflict horizon ${removal.horizon} of ${describeRemoval(removal)}`,
            { lsn: rec.lsn },
          );
        }
        for (const x of [rec.xid, rec.toplevelXid]) if (x !== 0 && !firstSeen.has(x)) firstSeen.set(x, rec.lsn);
        decoder.process(rec);
      }
    } finally {
      decoder.close();
    }
    // Orphans that were whole by the restart point's rule: their first record, as read.
    for (const t of orphans) {
      if (t.firstLsn !== undefined || t.unavailable !== undefined) continue;
      t.firstLsn = minDefined([t.xid, ...(t.subxacts ?? [])].map((x) => firstSeen.get(x)));
    }
  }
  return { slotName: s.name, timeline: s.timeline, switchPoint, confirmedFlush: confirmed, start: { lsn: start, confirmedFlush: startConfirmed, what }, transactions: orphans };
}


function minDefined(values: (Lsn | undefined)[]): Lsn | undefined {
  let m: Lsn | undefined;
  for (const v of values) if (v !== undefined && (m === undefined || v < m)) m = v;
  return m;
}

/**
 * Finds where each orphan began relative to `start`, reading the old timeline backwards in growing windows of
 * whole segments. An orphan with a record before `start` began there (unavailable). One with no record in
 * [R, start) for a running_xacts record R whose nextXid precedes or equals its xid began after `start`: the
 * server writes running_xacts holding XidGenLock (LogStandbySnapshot), so no xid at or past nextXid is
 * assigned — and no record of it written — before that record. Orphans neither proves are unknown.
 */
async function locateFirstRecords(orphans: OrphanChanges[], start: Lsn, o: DecodeOrphansOptions, what: string): Promise<void> {
  const members = new Map<number, OrphanChanges>();
  for (const t of orphans) for (const x of [t.xid, ...(t.subxacts ?? [])]) members.set(x, t);
  const limit = o.searchLimit ?? 1024 * 1024 * 1024;
  const seg = o.segmentSize;
  let to = start;
  let from = segmentStart(Math.floor(start / seg), seg);
  const open = new Set(orphans);
  // Orphans known to have begun before the start point whose first record is not proven yet.
  const pinning = new Set<OrphanChanges>();
  // The smallest nextXid of a running_xacts record read so far (all of them lie before `start`).
  let nextXidBound: number | undefined;
  let searched = start;
  for (let step = 1; open.size + pinning.size > 0; step *= 2) {
    // One window [from, to), merged only once read to its end: a window cut short proves nothing.
    const first = new Map<OrphanChanges, Lsn>();
    let bound: number | undefined;
    // An empty window (the start point at a segment's start) is read whole.
    let whole = from >= to;
    let missing = false;
    // The oldest segments of a window may be gone (removed, never archived): start at the first one on hand.
    for (; !whole && from < to; from += seg) {
      let read = false;
      try {
        for await (const rec of await o.oldTimeline(o.state.timeline, from)) {
          read = true;
          if (rec.lsn >= to) {
            whole = true;
            break;
          }
          for (const x of [rec.xid, rec.toplevelXid]) {
            const t = x === 0 ? undefined : members.get(x);
            if (t !== undefined && !first.has(t)) first.set(t, rec.lsn);
          }
          if (rec.rmid === RM_STANDBY_ID && (rec.info & 0xf0) === XLOG_RUNNING_XACTS) {
            const n = parseRunningXacts(rec).nextXid;
            if (bound === undefined || xidFollowsOrEquals(bound, n)) bound = n;
          }
        }
      } catch (e) {
        if (!(e instanceof WalError)) throw e;
      }
      if (whole) break;
      // Cut short after reading some of it: the window proves nothing.
      if (read) break;
      missing = true;
      first.clear();
      bound = undefined;
    }
    if (!whole) break;
    for (const [t, lsn] of first) if (t.firstLsn === undefined || lsn < t.firstLsn) t.firstLsn = lsn;
    if (bound !== undefined && (nextXidBound === undefined || xidFollowsOrEquals(nextXidBound, bound))) nextXidBound = bound;
    searched = from;
    for (const t of [...open]) {
      if (t.firstLsn !== undefined) {
        // Began before the start point; where exactly is known once a running_xacts record proves it.
        open.delete(t);
        pinning.add(t);
      } else if (nextXidBound !== undefined && xidFollowsOrEquals(t.xid, nextXidBound)) {
        open.delete(t);
      }
    }
    for (const t of [...pinning]) {
      if (nextXidBound !== undefined && xidFollowsOrEquals(t.xid, nextXidBound)) {
        t.unavailable = { code: 'began-before-start', reason: `began at ${formatLsn(t.firstLsn!)}, before the start point (${what})` };
        pinning.delete(t);
      }
    }
    if (missing || from === 0 || start - from >= limit) break;
    to = from;
    from = Math.max(0, from - step * seg);
  }
  for (const t of pinning) {
    t.unavailable = {
      code: 'began-before-start',
      reason: `has a record at ${formatLsn(t.firstLsn!)}, before the start point (${what}); it began there or earlier (the WAL was searched back to ${formatLsn(searched)})`,
    };
    t.firstLsn = undefined;
  }
  for (const t of open) {
    t.unavailable = { code: 'first-record-unknown', reason: `where it began is unknown: no running_xacts record in the old timeline's WAL from ${formatLsn(searched)} to the start point (${what}) shows it began after it` };
  }
}

