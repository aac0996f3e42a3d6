// Payloads of Heap (rmid 10) and Heap2 (rmid 9) records, per major: typed views over the record bytes.
//
// Every parser reads once through the record's DataView and returns a plain object of numbers; tuple bytes
// and offset arrays stay in `rec.bytes` and are handed out as absolute offsets, so nothing is copied.
// Layouts: heapam_xlog.h of each major (pg-wal-format.md §5.1–5.3).
import { WalFormatError } from '../../errors.js';
import { formatLsn, type Lsn } from '../../lsn.js';
import type { Major } from '../profile.js';
import type { DecodedRecord, RelFileLocator } from '../record.js';
import { readRelFileLocator } from './utils.js';
import { u16, u32 } from '../bytes.js';

// Heap opcodes (xl_info & XLOG_HEAP_OPMASK)
export const XLOG_HEAP_INSERT = 0x00;
export const XLOG_HEAP_DELETE = 0x10;
export const XLOG_HEAP_UPDATE = 0x20;
export const XLOG_HEAP_TRUNCATE = 0x30;
export const XLOG_HEAP_HOT_UPDATE = 0x40;
export const XLOG_HEAP_CONFIRM = 0x50;
export const XLOG_HEAP_LOCK = 0x60;
export const XLOG_HEAP_INPLACE = 0x70;
export const XLOG_HEAP_OPMASK = 0x70;
/** The page is (re)initialised: INSERT/UPDATE/HOT_UPDATE, and Heap2 MULTI_INSERT. */
export const XLOG_HEAP_INIT_PAGE = 0x80;

// Heap2 opcodes. 0x10–0x30 changed meaning in 17 (one merged prune/freeze layout).
export const XLOG_HEAP2_REWRITE = 0x00;
export const XLOG_HEAP2_PRUNE = 0x10; // 15–16
export const XLOG_HEAP2_VACUUM = 0x20; // 15–16
export const XLOG_HEAP2_FREEZE_PAGE = 0x30; // 15–16
export const XLOG_HEAP2_PRUNE_ON_ACCESS = 0x10; // 17+
export const XLOG_HEAP2_PRUNE_VACUUM_SCAN = 0x20; // 17+
export const XLOG_HEAP2_PRUNE_VACUUM_CLEANUP = 0x30; // 17+
export const XLOG_HEAP2_VISIBLE = 0x40;
export const XLOG_HEAP2_MULTI_INSERT = 0x50;
export const XLOG_HEAP2_LOCK_UPDATED = 0x60;
export const XLOG_HEAP2_NEW_CID = 0x70;

// XLH_INSERT_* (INSERT and MULTI_INSERT)
export const XLH_INSERT_ALL_VISIBLE_CLEARED = 0x01;
export const XLH_INSERT_LAST_IN_MULTI = 0x02;
export const XLH_INSERT_IS_SPECULATIVE = 0x04;
export const XLH_INSERT_CONTAINS_NEW_TUPLE = 0x08;
export const XLH_INSERT_ON_TOAST_RELATION = 0x10;
export const XLH_INSERT_ALL_FROZEN_SET = 0x20;

// XLH_DELETE_*
export const XLH_DELETE_ALL_VISIBLE_CLEARED = 0x01;
export const XLH_DELETE_CONTAINS_OLD_TUPLE = 0x02;
export const XLH_DELETE_CONTAINS_OLD_KEY = 0x04;
export const XLH_DELETE_IS_SUPER = 0x08;
export const XLH_DELETE_IS_PARTITION_MOVE = 0x10;

// XLH_UPDATE_*
export const XLH_UPDATE_OLD_ALL_VISIBLE_CLEARED = 0x01;
export const XLH_UPDATE_NEW_ALL_VISIBLE_CLEARED = 0x02;
export const XLH_UPDATE_CONTAINS_OLD_TUPLE = 0x04;
export const XLH_UPDATE_CONTAINS_OLD_KEY = 0x08;
export const XLH_UPDATE_CONTAINS_NEW_TUPLE = 0x10;
export const XLH_UPDATE_PREFIX_FROM_OLD = 0x20;
export const XLH_UPDATE_SUFFIX_FROM_OLD = 0x40;

// XLH_TRUNCATE_*
export const XLH_TRUNCATE_CASCADE = 0x01;
export const XLH_TRUNCATE_RESTART_SEQS = 0x02;

// XLHL_* (infobits_set of DELETE, UPDATE, LOCK, LOCK_UPDATED)
export const XLHL_XMAX_IS_MULTI = 0x01;
export const XLHL_XMAX_LOCK_ONLY = 0x02;
export const XLHL_XMAX_EXCL_LOCK = 0x04;
export const XLHL_XMAX_KEYSHR_LOCK = 0x08;
export const XLHL_KEYS_UPDATED = 0x10;

export const XLH_LOCK_ALL_FROZEN_CLEARED = 0x01;

// XLHP_* (xl_heap_prune.flags, 17+)
export const XLHP_IS_CATALOG_REL = 0x02;
export const XLHP_CLEANUP_LOCK = 0x04;
export const XLHP_HAS_CONFLICT_HORIZON = 0x08;
export const XLHP_HAS_FREEZE_PLANS = 0x10;
export const XLHP_HAS_REDIRECTIONS = 0x20;
export const XLHP_HAS_DEAD_ITEMS = 0x40;
export const XLHP_HAS_NOW_UNUSED_ITEMS = 0x80;

// VISIBILITYMAP_* (xl_heap_visible.flags)
export const VISIBILITYMAP_ALL_VISIBLE = 0x01;
export const VISIBILITYMAP_ALL_FROZEN = 0x02;
/** 16+: the heap relation is a catalog (XLH_VISIBLE… shares the flags byte). */
export const VISIBILITYMAP_XLOG_CATALOG_REL = 0x04;

/** SizeofHeapTupleHeader: WAL omits the fixed tuple header; logged bytes start at this tuple offset. */
export const SIZEOF_HEAP_TUPLE_HEADER = 23;
export const SIZE_OF_HEAP_HEADER = 5;
const SIZE_OF_MULTI_INSERT_TUPLE = 7;
const SIZE_OF_FREEZE_PLAN = 12;
const SIZE_OF_SHARED_INVAL_MESSAGE = 16;

/**
 * A tuple as WAL carries it: xl_heap_header (or xl_multi_insert_tuple) fields, and the bytes that follow
 * the 23-byte fixed header (null bitmap, padding, columns) at `dataOffset` in `rec.bytes`.
 */
export interface WalTuple {
  infomask2: number;
  infomask: number;
  hoff: number;
  /** Absolute offset in `rec.bytes` of the byte at tuple offset 23. */
  dataOffset: number;
  dataLength: number;
}

/** A run of u16 OffsetNumbers in `rec.bytes` (absolute offset, element count). */
export interface OffsetRun {
  offset: number;
  count: number;
}

function need(rec: DecodedRecord, what: string, have: number, want: number): void {
  if (have < want) {
    throw new WalFormatError(
      'short-record',
      `invalid ${what} record at ${formatLsn(rec.lsn)}: ${have} bytes of payload, expected at least ${want}`,
      { lsn: rec.lsn },
    );
  }
}

function mainStart(rec: DecodedRecord, what: string, want: number): number {
  need(rec, what, rec.mainDataLength, want);
  return rec.mainDataOffset;
}

/** xl_heap_header + tuple bytes spanning [at, end). */
function readWalTuple(b: Uint8Array, at: number, end: number): WalTuple {
  return {
    infomask2: u16(b, at),
    infomask: u16(b, at + 2),
    hoff: b[at + 4]!,
    dataOffset: at + SIZE_OF_HEAP_HEADER,
    dataLength: end - at - SIZE_OF_HEAP_HEADER,
  };
}

/** Block 0's data extent, or undefined when the block carries none (e.g. an FPI without kept data). */
function blockDataExtent(rec: DecodedRecord, id: number): { start: number; length: number } | undefined {
  const b = rec.block(id);
  if (b === undefined || !b.hasData) return undefined;
  return { start: b.dataOffset, length: b.dataLength };
}

// ---------------------------------------------------------------------------------------------------
// Heap

export interface HeapInsert {
  offnum: number;
  flags: number;
  /** The new tuple (block 0 data); absent when the block carries only a full-page image. */
  tuple: WalTuple | undefined;
}

// see heap_xlog_insert (heapam_xlog.c) and DecodeInsert (decode.c)
export function parseHeapInsert(rec: DecodedRecord): HeapInsert {
  const at = mainStart(rec, 'Heap INSERT', 3);
  const b = rec.bytes;
  const blk = rec.block(0);
  let tuple: WalTuple | undefined;
  if (blk !== undefined && blk.hasData) {
    need(rec, 'Heap INSERT tuple', blk.dataLength, SIZE_OF_HEAP_HEADER);
    tuple = readWalTuple(b, blk.dataOffset, blk.dataOffset + blk.dataLength);
  }
  return { offnum: u16(b, at), flags: b[at + 2]!, tuple };
}

export interface HeapDelete {
  xmax: number;
  offnum: number;
  infobitsSet: number;
  flags: number;
  /** Old tuple or old key (XLH_DELETE_CONTAINS_OLD_*), from the main data after the fixed part. */
  oldTuple: WalTuple | undefined;
}

// see heap_xlog_delete (heapam_xlog.c) and DecodeDelete (decode.c)
export function parseHeapDelete(rec: DecodedRecord): HeapDelete {
  const at = mainStart(rec, 'Heap DELETE', 8);
  const b = rec.bytes;
  const flags = b[at + 7]!;
  let oldTuple: WalTuple | undefined;
  if ((flags & (XLH_DELETE_CONTAINS_OLD_TUPLE | XLH_DELETE_CONTAINS_OLD_KEY)) !== 0) {
    need(rec, 'Heap DELETE', rec.mainDataLength, 8 + SIZE_OF_HEAP_HEADER);
    oldTuple = readWalTuple(b, at + 8, at + rec.mainDataLength);
  }
  return { xmax: u32(b, at), offnum: u16(b, at + 4), infobitsSet: b[at + 6]!, flags, oldTuple };
}

export interface HeapUpdate {
  oldXmax: number;
  oldOffnum: number;
  oldInfobitsSet: number;
  flags: number;
  newXmax: number;
  newOffnum: number;
  /** Old tuple or old key (XLH_UPDATE_CONTAINS_OLD_*), from the main data after the fixed part. */
  oldTuple: WalTuple | undefined;
  /** Bytes of user data shared with the old tuple and not logged (XLH_UPDATE_PREFIX/SUFFIX_FROM_OLD), else 0. */
  prefixLength: number;
  suffixLength: number;
  /** The new tuple (block 0 data), possibly prefix/suffix-compressed; absent with an FPI and no kept data. */
  newTuple: WalTuple | undefined;
}

// see heap_xlog_update (heapam_xlog.c) and DecodeUpdate (decode.c); UPDATE and HOT_UPDATE share it
export function parseHeapUpdate(rec: DecodedRecord): HeapUpdate {
  const at = mainStart(rec, 'Heap UPDATE', 14);
  const b = rec.bytes;
  const flags = b[at + 7]!;
  let oldTuple: WalTuple | undefined;
  if ((flags & (XLH_UPDATE_CONTAINS_OLD_TUPLE | XLH_UPDATE_CONTAINS_OLD_KEY)) !== 0) {
    need(rec, 'Heap UPDATE', rec.mainDataLength, 14 + SIZE_OF_HEAP_HEADER);
    oldTuple = readWalTuple(b, at + 14, at + rec.mainDataLength);
  }
  let prefixLength = 0;
  let suffixLength = 0;
  let newTuple: WalTuple | undefined;
  const blk = rec.block(0);
  if (blk !== undefined && blk.hasData) {
    let p = blk.dataOffset;
    const end = blk.dataOffset + blk.dataLength;
    if ((flags & XLH_UPDATE_PREFIX_FROM_OLD) !== 0) {
      prefixLength = u16(b, p);
      p += 2;
    }
    if ((flags & XLH_UPDATE_SUFFIX_FROM_OLD) !== 0) {
      suffixLength = u16(b, p);
      p += 2;
    }
    need(rec, 'Heap UPDATE tuple', end - p, SIZE_OF_HEAP_HEADER);
    newTuple = readWalTuple(b, p, end);
  }
  return {
    oldXmax: u32(b, at),
    oldOffnum: u16(b, at + 4),
    oldInfobitsSet: b[at + 6]!,
    flags,
    newXmax: u32(b, at + 8),
    newOffnum: u16(b, at + 12),
    oldTuple,
    prefixLength,
    suffixLength,
    newTuple,
  };
}

export interface HeapTruncate {
  dbId: number;
  flags: number;
  nrelids: number;
  /** Absolute offset of `relids[]` (u32 OIDs) in `rec.bytes`. */
  relidsOffset: number;
}

// see heap_xlog_truncate … there is none: decode.c (DecodeTruncate) is the only reader
export function parseHeapTruncate(rec: DecodedRecord): HeapTruncate {
  const at = mainStart(rec, 'Heap TRUNCATE', 12);
  const v = rec.view;
  const nrelids = v.getUint32(at + 4, true);
  need(rec, 'Heap TRUNCATE', rec.mainDataLength, 12 + 4 * nrelids);
  return { dbId: v.getUint32(at, true), nrelids, flags: v.getUint8(at + 8), relidsOffset: at + 12 };
}

/** The i-th relation OID of a TRUNCATE. */
export function truncateRelid(rec: DecodedRecord, t: HeapTruncate, i: number): number {
  return rec.view.getUint32(t.relidsOffset + 4 * i, true);
}

export interface HeapConfirm {
  offnum: number;
}

export function parseHeapConfirm(rec: DecodedRecord): HeapConfirm {
  const at = mainStart(rec, 'Heap CONFIRM', 2);
  return { offnum: rec.view.getUint16(at, true) };
}

/** xl_heap_lock and xl_heap_lock_updated: the same 8 bytes (xmax was called locking_xid in 15). */
export interface HeapLock {
  xmax: number;
  offnum: number;
  infobitsSet: number;
  flags: number;
}

export function parseHeapLock(rec: DecodedRecord): HeapLock {
  const at = mainStart(rec, 'Heap LOCK', 8);
  const v = rec.view;
  return { xmax: v.getUint32(at, true), offnum: v.getUint16(at + 4, true), infobitsSet: v.getUint8(at + 6), flags: v.getUint8(at + 7) };
}

export interface HeapInplace {
  offnum: number;
  /** 18+: invalidations sent with the in-place update (otherwise 0 / false / 0). */
  dbId: number;
  tsId: number;
  relcacheInitFileInval: boolean;
  nmsgs: number;
  /** Absolute offset of the 16-byte SharedInvalidationMessages, -1 before 18. */
  msgsOffset: number;
  /** The new tuple's user data (from its t_hoff, same length as before) in block 0, when logged. */
  dataOffset: number;
  dataLength: number;
}

// see heap_xlog_inplace (heapam_xlog.c); 18 added the invalidation messages (xl_heap_inplace)
export function parseHeapInplace(rec: DecodedRecord, major: Major): HeapInplace {
  const v = rec.view;
  const data = blockDataExtent(rec, 0);
  const dataOffset = data?.start ?? -1;
  const dataLength = data?.length ?? 0;
  if (major < 18) {
    const at = mainStart(rec, 'Heap INPLACE', 2);
    return { offnum: v.getUint16(at, true), dbId: 0, tsId: 0, relcacheInitFileInval: false, nmsgs: 0, msgsOffset: -1, dataOffset, dataLength };
  }
  const at = mainStart(rec, 'Heap INPLACE', 20);
  const nmsgs = v.getInt32(at + 16, true);
  need(rec, 'Heap INPLACE', rec.mainDataLength, 20 + SIZE_OF_SHARED_INVAL_MESSAGE * Math.max(nmsgs, 0));
  return {
    offnum: v.getUint16(at, true),
    dbId: v.getUint32(at + 4, true),
    tsId: v.getUint32(at + 8, true),
    relcacheInitFileInval: v.getUint8(at + 12) !== 0,
    nmsgs,
    msgsOffset: at + 20,
    dataOffset,
    dataLength,
  };
}

// ---------------------------------------------------------------------------------------------------
// Heap2

/** PRUNE, 15–16: what one on-access or vacuum prune did to a page. */
export interface HeapPruneV15 {
  /** latestRemovedXid (15) / snapshotConflictHorizon (16). */
  snapshotConflictHorizon: number;
  nredirected: number;
  ndead: number;
  /** 16+; false in 15. */
  isCatalogRel: boolean;
  /** Whether block 0 carries the offset arrays (not with an FPI). */
  hasBlockData: boolean;
  /** `nredirected` (from, to) pairs. */
  redirectedOffset: number;
  deadOffset: number;
  /** The now-unused items fill the rest of block 0's data. */
  nunused: number;
  unusedOffset: number;
}

// see heap_xlog_prune (heapam_xlog.c, 15–16)
export function parseHeapPruneV15(rec: DecodedRecord, major: Major): HeapPruneV15 {
  const at = mainStart(rec, 'Heap2 PRUNE', major >= 16 ? 9 : 8);
  const v = rec.view;
  const nredirected = v.getUint16(at + 4, true);
  const ndead = v.getUint16(at + 6, true);
  const data = blockDataExtent(rec, 0);
  let redirectedOffset = -1;
  let deadOffset = -1;
  let unusedOffset = -1;
  let nunused = 0;
  if (data !== undefined) {
    need(rec, 'Heap2 PRUNE', data.length, 4 * nredirected + 2 * ndead);
    redirectedOffset = data.start;
    deadOffset = redirectedOffset + 4 * nredirected;
    unusedOffset = deadOffset + 2 * ndead;
    // Like the server, the count of unused items is whatever remains (an odd byte is ignored).
    nunused = Math.floor((data.start + data.length - unusedOffset) / 2);
  }
  return {
    snapshotConflictHorizon: v.getUint32(at, true),
    nredirected,
    ndead,
    isCatalogRel: major >= 16 && v.getUint8(at + 8) !== 0,
    hasBlockData: data !== undefined,
    redirectedOffset,
    deadOffset,
    nunused,
    unusedOffset,
  };
}

/** VACUUM, 15–16: dead items set unused by vacuum's second pass. */
export interface HeapVacuumV15 {
  nunused: number;
  hasBlockData: boolean;
  unusedOffset: number;
}

// see heap_xlog_vacuum (heapam_xlog.c, 15–16)
export function parseHeapVacuumV15(rec: DecodedRecord): HeapVacuumV15 {
  const at = mainStart(rec, 'Heap2 VACUUM', 2);
  const nunused = rec.view.getUint16(at, true);
  const data = blockDataExtent(rec, 0);
  if (data !== undefined) need(rec, 'Heap2 VACUUM', data.length, 2 * nunused);
  return { nunused, hasBlockData: data !== undefined, unusedOffset: data?.start ?? -1 };
}

/** One freeze plan (16's xl_heap_freeze_plan, 17's xlhp_freeze_plan: the same 12 bytes). */
export interface FreezePlan {
  xmax: number;
  infomask2: number;
  infomask: number;
  frzflags: number;
  ntuples: number;
}

/** Reads the 12-byte freeze plan at an absolute offset. */
export function readFreezePlan(rec: DecodedRecord, at: number): FreezePlan {
  const v = rec.view;
  return {
    xmax: v.getUint32(at, true),
    infomask2: v.getUint16(at + 4, true),
    infomask: v.getUint16(at + 6, true),
    frzflags: v.getUint8(at + 8),
    ntuples: v.getUint16(at + 10, true),
  };
}

/** FREEZE_PAGE, 15: one xl_heap_freeze_tuple (12 bytes) per tuple. 16: freeze plans and their offsets. */
export interface HeapFreezePage {
  /** cutoff_xid (15) / snapshotConflictHorizon (16). */
  snapshotConflictHorizon: number;
  /** 15: ntuples (xl_heap_freeze_tuple entries); 16: nplans. */
  count: number;
  /** 16+; false in 15. */
  isCatalogRel: boolean;
  hasBlockData: boolean;
  /** 15: the xl_heap_freeze_tuple array; 16: the plans, 12 bytes each. */
  entriesOffset: number;
  /** 16: where the plans' offset arrays start (concatenated in plan order); -1 in 15. */
  planOffsetsOffset: number;
}

// see heap_xlog_freeze_page (heapam_xlog.c, 15–16)
export function parseHeapFreezePage(rec: DecodedRecord, major: Major): HeapFreezePage {
  const at = mainStart(rec, 'Heap2 FREEZE_PAGE', major >= 16 ? 7 : 6);
  const v = rec.view;
  const count = v.getUint16(at + 4, true);
  const data = blockDataExtent(rec, 0);
  const entriesOffset = data?.start ?? -1;
  if (data !== undefined) need(rec, 'Heap2 FREEZE_PAGE', data.length, 12 * count);
  return {
    snapshotConflictHorizon: v.getUint32(at, true),
    count,
    isCatalogRel: major >= 16 && v.getUint8(at + 6) !== 0,
    hasBlockData: data !== undefined,
    entriesOffset,
    planOffsetsOffset: data !== undefined && major >= 16 ? entriesOffset + SIZE_OF_FREEZE_PLAN * count : -1,
  };
}

/** PRUNE_ON_ACCESS / PRUNE_VACUUM_SCAN / PRUNE_VACUUM_CLEANUP, 17+: one layout, sub-records chosen by flags. */
export interface HeapPruneFreeze {
  /** Never set by the writer in 17/18: whatever byte the stack held. Kept only for completeness. */
  reason: number;
  flags: number;
  /** Present only with XLHP_HAS_CONFLICT_HORIZON. */
  snapshotConflictHorizon: number | undefined;
  isCatalogRel: boolean;
  /** Whether block 0 carries the sub-records (not with an FPI). The counts below are 0 without. */
  hasBlockData: boolean;
  nplans: number;
  /** 12-byte freeze plans. */
  plansOffset: number;
  nredirected: number;
  /** (from, to) pairs. */
  redirectedOffset: number;
  ndead: number;
  deadOffset: number;
  nunused: number;
  unusedOffset: number;
  /** The frozen tuples' offsets, Σ plan.ntuples of them, in plan order. */
  frozenOffset: number;
}

// see heap_xlog_deserialize_prune_and_freeze (heapdesc.c, 17+)
export function parseHeapPruneFreeze(rec: DecodedRecord): HeapPruneFreeze {
  const at = mainStart(rec, 'Heap2 PRUNE', 2);
  const v = rec.view;
  const flags = v.getUint8(at + 1);
  let snapshotConflictHorizon: number | undefined;
  if ((flags & XLHP_HAS_CONFLICT_HORIZON) !== 0) {
    need(rec, 'Heap2 PRUNE', rec.mainDataLength, 6);
    snapshotConflictHorizon = v.getUint32(at + 2, true);
  }
  const out: HeapPruneFreeze = {
    reason: v.getUint8(at),
    flags,
    snapshotConflictHorizon,
    isCatalogRel: (flags & XLHP_IS_CATALOG_REL) !== 0,
    hasBlockData: false,
    nplans: 0,
    plansOffset: -1,
    nredirected: 0,
    redirectedOffset: -1,
    ndead: 0,
    deadOffset: -1,
    nunused: 0,
    unusedOffset: -1,
    frozenOffset: -1,
  };
  const data = blockDataExtent(rec, 0);
  if (data === undefined) return out;
  out.hasBlockData = true;
  let p = data.start;
  // The server reads these from a MAXALIGNed copy; offsets are relative to the block data's start.
  if ((flags & XLHP_HAS_FREEZE_PLANS) !== 0) {
    out.nplans = v.getUint16(p, true);
    out.plansOffset = p + 4; // plans[] is TransactionId-aligned after the u16 count
    p = out.plansOffset + SIZE_OF_FREEZE_PLAN * out.nplans;
  }
  if ((flags & XLHP_HAS_REDIRECTIONS) !== 0) {
    out.nredirected = v.getUint16(p, true);
    out.redirectedOffset = p + 2;
    p = out.redirectedOffset + 4 * out.nredirected;
  }
  if ((flags & XLHP_HAS_DEAD_ITEMS) !== 0) {
    out.ndead = v.getUint16(p, true);
    out.deadOffset = p + 2;
    p = out.deadOffset + 2 * out.ndead;
  }
  if ((flags & XLHP_HAS_NOW_UNUSED_ITEMS) !== 0) {
    out.nunused = v.getUint16(p, true);
    out.unusedOffset = p + 2;
    p = out.unusedOffset + 2 * out.nunused;
  }
  out.frozenOffset = p;
  need(rec, 'Heap2 PRUNE', data.length, p - data.start);
  return out;
}

export interface HeapVisible {
  /** cutoff_xid (15) / snapshotConflictHorizon (16+). */
  snapshotConflictHorizon: number;
  /** VISIBILITYMAP_ALL_VISIBLE / ALL_FROZEN, and 16+ VISIBILITYMAP_XLOG_CATALOG_REL. */
  flags: number;
}

export function parseHeapVisible(rec: DecodedRecord): HeapVisible {
  const at = mainStart(rec, 'Heap2 VISIBLE', 5);
  return { snapshotConflictHorizon: rec.view.getUint32(at, true), flags: rec.view.getUint8(at + 4) };
}

export interface HeapMultiInsert {
  flags: number;
  ntuples: number;
  /** XLOG_HEAP_INIT_PAGE: the page was empty, tuples go to offsets 1..ntuples and no offsets are logged. */
  isInit: boolean;
  /** Absolute offset of `offsets[ntuples]` in the main data, -1 with isInit. */
  offsetsOffset: number;
  /** Block 0 data: the tuples (xl_multi_insert_tuple + bytes each), absent with an FPI and no kept data. */
  tuplesOffset: number;
  tuplesLength: number;
}

// see heap_xlog_multi_insert (heapam_xlog.c) and DecodeMultiInsert (decode.c)
export function parseMultiInsert(rec: DecodedRecord): HeapMultiInsert {
  const at = mainStart(rec, 'Heap2 MULTI_INSERT', 4);
  const v = rec.view;
  const ntuples = v.getUint16(at + 2, true);
  const isInit = (rec.info & XLOG_HEAP_INIT_PAGE) !== 0;
  if (!isInit) need(rec, 'Heap2 MULTI_INSERT', rec.mainDataLength, 4 + 2 * ntuples);
  const data = blockDataExtent(rec, 0);
  return {
    flags: v.getUint8(at),
    ntuples,
    isInit,
    offsetsOffset: isInit ? -1 : at + 4,
    tuplesOffset: data?.start ?? -1,
    tuplesLength: data?.length ?? 0,
  };
}

/** The page offset of the i-th tuple of a MULTI_INSERT. */
export function multiInsertOffnum(rec: DecodedRecord, m: HeapMultiInsert, i: number): number {
  return m.isInit ? i + 1 : rec.view.getUint16(m.offsetsOffset + 2 * i, true);
}

/**
 * The tuples of a MULTI_INSERT's block 0 data, in order. Each starts at an even offset from the block data's
 * start (SHORTALIGN in the writer), with a 7-byte xl_multi_insert_tuple before its bytes.
 */
export function multiInsertTuples(rec: DecodedRecord, m: HeapMultiInsert): WalTuple[] {
  const out: WalTuple[] = [];
  if (m.tuplesOffset < 0) return out;
  const v = rec.view;
  const end = m.tuplesOffset + m.tuplesLength;
  let rel = 0;
  for (let i = 0; i < m.ntuples; i++) {
    rel = (rel + 1) & ~1;
    const at = m.tuplesOffset + rel;
    need(rec, 'Heap2 MULTI_INSERT tuple', end - at, SIZE_OF_MULTI_INSERT_TUPLE);
    const datalen = v.getUint16(at, true);
    need(rec, 'Heap2 MULTI_INSERT tuple', end - at - SIZE_OF_MULTI_INSERT_TUPLE, datalen);
    out.push({
      infomask2: v.getUint16(at + 2, true),
      infomask: v.getUint16(at + 4, true),
      hoff: v.getUint8(at + 6),
      dataOffset: at + SIZE_OF_MULTI_INSERT_TUPLE,
      dataLength: datalen,
    });
    rel += SIZE_OF_MULTI_INSERT_TUPLE + datalen;
  }
  return out;
}

export interface HeapNewCid {
  topXid: number;
  /** 0xFFFFFFFF = InvalidCommandId. */
  cmin: number;
  cmax: number;
  combocid: number;
  targetLocator: RelFileLocator;
  blockNumber: number;
  offnum: number;
}

// see heap_xlog_logical_new_cid … there is none: SnapBuildProcessNewCid (snapbuild.c) reads it
export function parseNewCid(rec: DecodedRecord): HeapNewCid {
  const at = mainStart(rec, 'Heap2 NEW_CID', 34);
  const v = rec.view;
  return {
    topXid: v.getUint32(at, true),
    cmin: v.getUint32(at + 4, true),
    cmax: v.getUint32(at + 8, true),
    combocid: v.getUint32(at + 12, true),
    targetLocator: readRelFileLocator(v, at + 16),
    // ItemPointerData: BlockIdData as two u16 halves (high first), then the offset.
    blockNumber: v.getUint16(at + 28, true) * 0x10000 + v.getUint16(at + 30, true),
    offnum: v.getUint16(at + 32, true),
  };
}

export interface HeapRewriteMapping {
  mappedXid: number;
  mappedDb: number;
  mappedRel: number;
  /** Write position in the mapping file (int64; exact below 2^53). */
  offset: number;
  numMappings: number;
  startLsn: Lsn;
  /** Absolute offset of the LogicalRewriteMappingData entries. */
  entriesOffset: number;
}

// see heap_xlog_logical_rewrite (rewriteheap.c)
export function parseRewriteMapping(rec: DecodedRecord): HeapRewriteMapping {
  const at = mainStart(rec, 'Heap2 REWRITE', 40);
  const v = rec.view;
  return {
    mappedXid: v.getUint32(at, true),
    mappedDb: v.getUint32(at + 4, true),
    mappedRel: v.getUint32(at + 8, true),
    offset: v.getUint32(at + 20, true) * 0x1_0000_0000 + v.getUint32(at + 16, true),
    numMappings: v.getUint32(at + 24, true),
    startLsn: v.getUint32(at + 36, true) * 0x1_0000_0000 + v.getUint32(at + 32, true),
    entriesOffset: at + 40,
  };
}
