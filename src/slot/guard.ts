// Is the slot's catalog_xmin still safe? Records that remove (or freeze) rows carry a snapshot-conflict
// horizon; when such a record touches a catalog relation and catalog_xmin precedes or equals the horizon,
// catalog rows the slot may still need are gone: the server invalidates a logical slot on a standby with
// `rows_removed` at that record (16+), and pgwal does the same on every major (15's records do not say
// whether the relation is a catalog: pgwal knows the catalog relations' files from the slot's creation).
import type { DecodedRecord, RelFileLocator } from '../xlogreader/record.js';
import { BlockZero, readBlockZero } from '../xlogreader/decode-record.js';
import type { Major } from '../xlogreader/profile.js';
import { parseHeapFreezePage, parseHeapPruneFreeze, parseHeapPruneV15, parseHeapVisible, VISIBILITYMAP_XLOG_CATALOG_REL } from '../xlogreader/rmgrdesc/heap-parse.js';
import { btreeConflictHorizon, btreeRmgr, type ConflictHorizon } from '../xlogreader/rmgrdesc/nbtree.js';
import { hashConflictHorizon, hashRmgr } from '../xlogreader/rmgrdesc/hash.js';
import { gistConflictHorizon, gistRmgr } from '../xlogreader/rmgrdesc/gist.js';
import { spgistConflictHorizon, spgistRmgr } from '../xlogreader/rmgrdesc/spgist.js';
import { heap2Rmgr } from '../xlogreader/rmgrdesc/heap.js';
import type { RmgrDescriptor } from '../xlogreader/rmgrdesc/types.js';
import { u32 } from '../xlogreader/bytes.js';
import { profileForMajor } from '../xlogreader/profile.js';
import { formatLsn, type Lsn } from '../lsn.js';

const RM_HEAP2_ID = 9;
const RM_BTREE_ID = 11;
const RM_HASH_ID = 12;
const RM_GIST_ID = 14;
const RM_SPGIST_ID = 16;

/** The rmgrs whose records remove rows, to name a removal's record (not the whole rmgr table: decode loads less). */
const REMOVAL_RMGRS: Record<number, RmgrDescriptor> = { [RM_HEAP2_ID]: heap2Rmgr, [RM_BTREE_ID]: btreeRmgr, [RM_HASH_ID]: hashRmgr, [RM_GIST_ID]: gistRmgr, [RM_SPGIST_ID]: spgistRmgr };

/** FirstNormalObjectId: relations made at initdb have file numbers below it until rewritten. */
const FIRST_NORMAL_OBJECT_ID = 16384;

/** A record that removes rows under a snapshot-conflict horizon. */
export interface RowRemoval {
  lsn: Lsn;
  /** `Heap2/PRUNE_ON_ACCESS`, as pg_waldump names it. */
  record: string;
  locator: RelFileLocator;
  /** The 32-bit horizon the server resolves conflicts with (never 0: a record with none is not a removal). */
  horizon: number;
  /** Whether the relation is a catalog (from the record on 16+, from the catalog's file list on 15). */
  isCatalogRel: boolean;
}

/** TransactionIdPrecedesOrEquals (transam.c): modulo-2^32 for normal xids, plain order for the special ones. */
// see TransactionIdPrecedesOrEquals (transam.c)
export function transactionIdPrecedesOrEquals(a: number, b: number): boolean {
  if (a < 3 || b < 3) return a <= b;
  return ((a - b) | 0) <= 0;
}

/** TransactionIdRetreat (transam.h): the xid before, skipping the special ones. */
function transactionIdRetreat(x: number): number {
  do {
    x = (x - 1) >>> 0;
  } while (x < 3);
  return x;
}

/**
 * The catalog-relation test for 15, whose records do not carry isCatalogRel: the catalog files known from the
 * slot's creation, else (no list) any file number below FirstNormalObjectId.
 */
export function catalogFileTest(filenodes: readonly (readonly [number, number])[]): (locator: RelFileLocator) => boolean {
  if (filenodes.length === 0) return (l) => l.relNumber < FIRST_NORMAL_OBJECT_ID;
  // By file number, then tablespace: no key string per record checked.
  const byRel = new Map<number, number[]>();
  for (const [spc, rel] of filenodes) byRel.set(rel, [...(byRel.get(rel) ?? []), spc]);
  return (l) => byRel.get(l.relNumber)?.includes(l.spcOid) === true;
}

/**
 * The row removal a record carries, if any: the horizon passed to ResolveRecoveryConflictWithSnapshot by the
 * record's redo routine, and whether that call would reach InvalidateObsoleteReplicationSlots.
 */
// see heap_xlog_prune_freeze, heap_xlog_visible (heapam_xlog.c), btree_xlog_delete, btree_xlog_reuse_page
// (nbtxlog.c), hash_xlog_vacuum_one_page, gistRedoDeleteRecord, spgRedoVacuumRedirect and, for 15,
// heap_xlog_prune / heap_xlog_freeze_page (heapam.c)
export function rowRemovalOf(rec: DecodedRecord, major: Major, isCatalogFile: (l: RelFileLocator) => boolean, catalogOnly = false): RowRemoval | undefined {
  let h: ConflictHorizon | undefined;
  let block = 0;
  switch (rec.rmid) {
    case RM_HEAP2_ID: {
      const op = rec.info & 0x70;
      if (major >= 17 && (op === 0x10 || op === 0x20 || op === 0x30)) {
        const p = parseHeapPruneFreeze(rec);
        if (p.snapshotConflictHorizon !== undefined) h = { horizon: p.snapshotConflictHorizon, isCatalogRel: p.isCatalogRel };
      } else if (major < 17 && op === 0x10) {
        // The most frequent removal (a page pruned on access): the horizon is the main data's first field, read
        // from the record's bytes; the full parse (and the block references it builds) only for a record too short.
        if (rec.mainDataLength < (major >= 16 ? 9 : 8)) parseHeapPruneV15(rec, major);
        const at = rec.sourceOffset + rec.mainDataOffset;
        const horizon = u32(rec.source, at);
        if (horizon === 0) return undefined;
        const isCatalogRel = major >= 16 && rec.source[at + 8] !== 0;
        // A slot's check (catalogOnly) drops a user table's removal: decided before any object is made.
        if (catalogOnly && (major >= 16 ? !isCatalogRel : readBlockZero(rec, zero) && !isCatalogFile(zero))) return undefined;
        h = { horizon, isCatalogRel };
      } else if (major < 17 && op === 0x30) {
        const p = parseHeapFreezePage(rec, major);
        // 15 logs the freeze cutoff and conflicts with the xid before it; 16 logs the horizon itself.
        h = { horizon: major === 15 && p.snapshotConflictHorizon !== 0 ? transactionIdRetreat(p.snapshotConflictHorizon) : p.snapshotConflictHorizon, isCatalogRel: p.isCatalogRel };
      } else if (op === 0x40) {
        const v = parseHeapVisible(rec);
        h = { horizon: v.snapshotConflictHorizon, isCatalogRel: major >= 16 && (v.flags & VISIBILITYMAP_XLOG_CATALOG_REL) !== 0 };
        block = 1; // block 0 is the visibility map page
      }
      break;
    }
    case RM_BTREE_ID:
      h = btreeConflictHorizon(rec, major);
      break;
    case RM_HASH_ID:
      h = hashConflictHorizon(rec, major);
      break;
    case RM_GIST_ID:
      h = gistConflictHorizon(rec, major);
      break;
    case RM_SPGIST_ID:
      h = spgistConflictHorizon(rec, major);
      break;
    default:
      return undefined;
  }
  if (h === undefined || h.horizon === 0) return undefined;
  // REUSE_PAGE records name the relation in their main data, not by a block reference.
  const locator = (block === 0 ? zeroLocator(rec) : undefined) ?? rec.block(block)?.locator ?? rec.block(0)?.locator ?? reuseLocator(rec);
  if (locator === undefined) return undefined;
  return new Removal(rec.lsn, rec.rmid, rec.info, major, locator, h.horizon, major >= 16 ? h.isCatalogRel : isCatalogFile(locator));
}

/** A RowRemoval whose record name is made when asked (most removals are checked and dropped). */
class Removal implements RowRemoval {
  constructor(
    readonly lsn: Lsn,
    private readonly rmid: number,
    private readonly info: number,
    private readonly major: Major,
    readonly locator: RelFileLocator,
    readonly horizon: number,
    readonly isCatalogRel: boolean,
  ) {}

  get record(): string {
    const rmgr = REMOVAL_RMGRS[this.rmid]!;
    return `${rmgr.name}/${rmgr.identify(this.info, profileForMajor(this.major)!) ?? `UNKNOWN (${this.info})`}`;
  }
}

const zero = new BlockZero();

/** Block 0's relation read from the header (no block references built: most records are checked and dropped). */
function zeroLocator(rec: DecodedRecord): RelFileLocator | undefined {
  return readBlockZero(rec, zero) ? { spcOid: zero.spcOid, dbOid: zero.dbOid, relNumber: zero.relNumber } : undefined;
}

function reuseLocator(rec: DecodedRecord): RelFileLocator | undefined {
  if (rec.mainDataLength < 12) return undefined;
  const v = rec.view;
  const at = rec.mainDataOffset;
  return { spcOid: v.getUint32(at, true), dbOid: v.getUint32(at + 4, true), relNumber: v.getUint32(at + 8, true) } as RelFileLocator;
}

/**
 * Whether a removal invalidates a logical slot of database `dbOid` with this catalog_xmin: a catalog relation,
 * of that database or shared (dbOid 0), and catalog_xmin precedes or equals the horizon.
 */
// see InvalidatePossiblyObsoleteSlot (slot.c, 16–17), DetermineSlotInvalidationCause (slot.c, 18)
export function invalidates(removal: RowRemoval, catalogXmin: number, dbOid: number): boolean {
  if (!removal.isCatalogRel) return false;
  if (removal.locator.dbOid !== 0 && removal.locator.dbOid !== dbOid) return false;
  return catalogXmin !== 0 && transactionIdPrecedesOrEquals(catalogXmin, removal.horizon);
}

export function describeRemoval(r: RowRemoval): string {
  const l = r.locator;
  return `${r.record} at ${formatLsn(r.lsn)} on relation ${l.spcOid}/${l.dbOid}/${l.relNumber}`;
}
