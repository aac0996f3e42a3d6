// WAL records → reorder-buffer calls: which records are decoded, for which xid, as which change (decode.c).
// Transactions of another database, filtered by origin or ending before the start point are skipped here.
import { u16 } from '../xlogreader/bytes.js';
import type { DecodedRecord, RelFileLocator } from '../xlogreader/record.js';
import {
  parseHeapDelete,
  parseHeapInsert,
  parseHeapTruncate,
  parseHeapUpdate,
  parseMultiInsert,
  SIZE_OF_HEAP_HEADER,
  XLH_DELETE_CONTAINS_OLD_KEY,
  XLH_DELETE_CONTAINS_OLD_TUPLE,
  XLH_DELETE_IS_SUPER,
  XLH_INSERT_CONTAINS_NEW_TUPLE,
  XLH_INSERT_IS_SPECULATIVE,
  XLH_INSERT_LAST_IN_MULTI,
  XLH_INSERT_ON_TOAST_RELATION,
  XLH_UPDATE_CONTAINS_NEW_TUPLE,
  XLH_UPDATE_CONTAINS_OLD_KEY,
  XLH_UPDATE_CONTAINS_OLD_TUPLE,
  XLH_UPDATE_PREFIX_FROM_OLD,
  XLH_UPDATE_SUFFIX_FROM_OLD,
} from '../xlogreader/rmgrdesc/heap-parse.js';
import { BlockZero, readBlockZero } from '../xlogreader/decode-record.js';
import { parseAbort, parseCommit, parsePrepare, parseXactAssignment } from '../xlogreader/rmgrdesc/xact.js';
import { parseRunningXacts } from '../xlogreader/rmgrdesc/standby.js';
import { parseLogicalMessage } from '../xlogreader/rmgrdesc/logicalmsg.js';
import { parseParameterChange, walLevelName, XLOG_PARAMETER_CHANGE } from '../xlogreader/rmgrdesc/xlog.js';
import type { Major } from '../xlogreader/profile.js';
import { formatLsn, type Lsn } from '../lsn.js';
import { WalFormatError } from '../errors.js';
import type { SnapshotBuilder } from './snapbuild.js';
import type { CatalogView } from './catalog.js';
import type { OutputPlugin } from './plugin.js';
import { SIZEOF_REORDER_BUFFER_CHANGE, type ReorderBuffer } from './reorderbuffer.js';
import { readOldRow, type OldRowSource } from './oldrows.js';
import {
  CF_CLEAR_TOAST,
  CF_OLD_ROW,
  CF_OLD_TOAST,
  CF_OLD_WANTED,
  CF_TOAST_INSERT,
  CHANGE_DELETE,
  CHANGE_INSERT,
  CHANGE_SPEC_ABORT,
  CHANGE_SPEC_CONFIRM,
  CHANGE_SPEC_INSERT,
  CHANGE_UPDATE,
  encodeMarker,
  encodeRowChange,
  encodeTruncate,
} from './change.js';

/** What decoding a record reads from the decoding context (logical.ts's LogicalDecodingContext). */
export interface DecodingContext {
  readonly major: Major;
  readonly catalog: CatalogView;
  readonly snapbuild: SnapshotBuilder | undefined;
  readonly plugin: OutputPlugin;
  readonly reorder: ReorderBuffer;
  /** old-rows=full: the kept heap pages UPDATE and DELETE read whole old rows from. */
  readonly oldRows?: OldRowSource | undefined;
}

const RM_XLOG_ID = 0;
const RM_XACT_ID = 1;
const RM_STANDBY_ID = 8;
const RM_HEAP2_ID = 9;
const RM_HEAP_ID = 10;
const RM_LOGICALMSG_ID = 21;
const XACT_XINFO_HAS_ORIGIN = 1 << 5;

const RMGR_NAMES: Record<number, string> = { 0: 'XLOG', 1: 'Transaction', 8: 'Standby', 9: 'Heap2', 10: 'Heap', 21: 'LogicalMessage' };
const rmgrName = (id: number): string => RMGR_NAMES[id] ?? `rmgr ${id}`;

/** Block 0, read by heapDecode (reused: numbers only, read before the next record). */
const blockZero = new BlockZero();

/** Feeds one record, in WAL order, to the catalog, the snapshot builder and the reorder buffer. */
// see LogicalDecodingProcessRecord (decode.c)
export function processRecord(ctx: DecodingContext, rec: DecodedRecord): void {
  const rb = ctx.reorder;
  rb.recordLsn = rec.lsn;
  ctx.catalog.process(rec);
  ctx.snapbuild?.process(rec);
  // Before decoding: a record's own image holds the old row it changes (which redo leaves in place).
  ctx.oldRows?.apply(rec);
  if (rec.xid !== 0) rb.processXid(rec.xid, rec.toplevelXid, rec.lsn, rec.origin);
  try {
    dispatch(ctx, rec);
  } catch (e) {
    // A payload shorter than its own counts and offsets say: the record is not what its header claims.
    if (e instanceof RangeError) throw new WalFormatError('invalid-record', `invalid ${rmgrName(rec.rmid)} record at ${formatLsn(rec.lsn)}: ${e.message}`, { lsn: rec.lsn });
    throw e;
  }
}

/** wal_level's enum (xlog.h): minimal 0, replica 1, logical 2. */
const WAL_LEVEL_LOGICAL = 2;

// The rm_decode table: other rmgrs (xlog_decode too) only have their xid processed, done above.
function dispatch(ctx: DecodingContext, rec: DecodedRecord): void {
  switch (rec.rmid) {
    case RM_XLOG_ID:
      // see xlog_decode's XLOG_PARAMETER_CHANGE: WAL written below wal_level logical lacks what decoding needs.
      if ((rec.info & 0xf0) === XLOG_PARAMETER_CHANGE) {
        const level = parseParameterChange(rec).walLevel;
        if (level < WAL_LEVEL_LOGICAL) {
          throw new WalFormatError('wal-level', `logical decoding requires wal_level >= logical, but the server's wal_level was set to ${walLevelName(level)} at ${formatLsn(rec.lsn)}`, { lsn: rec.lsn });
        }
      }
      return;
    case RM_HEAP_ID:
      return heapDecode(ctx, rec);
    case RM_HEAP2_ID:
      if ((rec.info & 0x70) === 0x50) multiInsertDecode(ctx, rec);
      // see SnapBuildProcessNewCid: each XLOG_HEAP2_NEW_CID queues a new command id (counted, as the server counts it)
      else if ((rec.info & 0x70) === 0x70 && rec.xid !== 0) ctx.reorder.queueInternal(rec.xid, rec.lsn, SIZEOF_REORDER_BUFFER_CHANGE);
      return;
    case RM_XACT_ID:
      return xactDecode(ctx, rec);
    case RM_STANDBY_ID:
      // see standby_decode: the builder saw running_xacts already (in processRecord)
      if ((rec.info & 0xf0) === 0x10) {
        const oldest = parseRunningXacts(rec).oldestRunningXid;
        ctx.reorder.purgeCommittedCatalog(oldest);
        ctx.reorder.abortOld(oldest);
      }
      return;
    case RM_LOGICALMSG_ID:
      return logicalMsgDecode(ctx, rec);
    default:
      return;
  }
}

// see heap_decode, DecodeInsert / DecodeUpdate / DecodeDelete / DecodeTruncate / DecodeSpecConfirm (decode.c)
function heapDecode(ctx: DecodingContext, rec: DecodedRecord): void {
  const rb = ctx.reorder;
  const op = rec.info & 0x70;
  if (op === 0x30) {
    const t = parseHeapTruncate(rec);
    if (t.dbId !== ctx.catalog.databaseOid || filtered(ctx, rec.origin)) return;
    const relids: number[] = [];
    for (let i = 0; i < t.nrelids; i++) relids.push(rec.view.getUint32(t.relidsOffset + 4 * i, true));
    rb.queue(rec.xid, rec.lsn, encodeTruncate(rec.lsn, t.flags, relids));
    return;
  }
  if (op === 0x70) {
    // XLOG_HEAP_INPLACE: a catalog row changed in place. With an xid (VACUUM that truncated, CREATE INDEX
    // CONCURRENTLY) the transaction gets its base snapshot here, so the server emits it even with no change.
    if (rec.xid !== 0) rb.baseSnapshot(rec.xid, rec.lsn);
    return;
  }
  if (op !== 0x00 && op !== 0x10 && op !== 0x20 && op !== 0x40 && op !== 0x50) return;
  const z = blockZero;
  if (!readBlockZero(rec, z) || z.dbOid !== ctx.catalog.databaseOid || filtered(ctx, rec.origin)) return;
  if (op === 0x50) {
    rb.queue(rec.xid, rec.lsn, encodeMarker(CHANGE_SPEC_CONFIRM, rec.lsn));
    return;
  }
  // Fields and tuples read by offset (no parsed objects); a record too short for them gets the parsers' error.
  const src = rec.source;
  const main = rec.sourceOffset + rec.mainDataOffset;
  const mainLength = rec.mainDataLength;
  if (op === 0x00) {
    if (mainLength < 3 || (z.dataLength !== 0 && z.dataLength < SIZE_OF_HEAP_HEADER)) return shortHeapRecord(rec, op);
    const flags = src[main + 2]!;
    const hasTuple = flags & XLH_INSERT_CONTAINS_NEW_TUPLE && z.dataLength !== 0;
    const kind = flags & XLH_INSERT_IS_SPECULATIVE ? CHANGE_SPEC_INSERT : CHANGE_INSERT;
    const cflags = CF_CLEAR_TOAST | (flags & XLH_INSERT_ON_TOAST_RELATION ? CF_TOAST_INSERT : 0);
    rb.queueRowChange(rec.xid, rec.lsn, kind, cflags, z.spcOid, z.relNumber, src, hasTuple ? z.dataOffset : -1, z.dataLength, -1, 0);
  } else if (op === 0x10) {
    if (mainLength < 8) return shortHeapRecord(rec, op);
    const flags = src[main + 7]!;
    if (flags & XLH_DELETE_IS_SUPER) {
      rb.queue(rec.xid, rec.lsn, encodeMarker(CHANGE_SPEC_ABORT, rec.lsn));
      return;
    }
    const hasOld = (flags & (XLH_DELETE_CONTAINS_OLD_TUPLE | XLH_DELETE_CONTAINS_OLD_KEY)) !== 0;
    if (hasOld && mainLength < 8 + SIZE_OF_HEAP_HEADER) return shortHeapRecord(rec, op);
    // Under replica identity full the record holds the whole old row already (its TOAST values inlined).
    const whole = (flags & XLH_DELETE_CONTAINS_OLD_TUPLE) !== 0;
    const old = ctx.oldRows && !whole ? readOldRow(ctx.oldRows, ctx.catalog, rec, z.spcOid, z.relNumber, z.blockNumber, u16(src, main + 4)) : undefined;
    if (old !== undefined) rb.queue(rec.xid, rec.lsn, encodeWholeOld(CHANGE_DELETE, rec, z, -1, 0, old.tuple, old.toast, rb.arenaOf(rec.xid)));
    else rb.queueRowChange(rec.xid, rec.lsn, CHANGE_DELETE, CF_CLEAR_TOAST | oldFlags(ctx, whole), z.spcOid, z.relNumber, src, -1, 0, hasOld ? main + 8 : -1, mainLength - 8);
  } else {
    if (mainLength < 14) return shortHeapRecord(rec, op);
    const flags = src[main + 7]!;
    const hasOld = (flags & (XLH_UPDATE_CONTAINS_OLD_TUPLE | XLH_UPDATE_CONTAINS_OLD_KEY)) !== 0;
    if (hasOld && mainLength < 14 + SIZE_OF_HEAP_HEADER) return shortHeapRecord(rec, op);
    let newAt = -1;
    let newLength = 0;
    if (z.dataLength !== 0) {
      // Prefix/suffix lengths come first when logged (never for a relation logged for logical decoding).
      newAt = z.dataOffset + (flags & XLH_UPDATE_PREFIX_FROM_OLD ? 2 : 0) + (flags & XLH_UPDATE_SUFFIX_FROM_OLD ? 2 : 0);
      newLength = z.dataOffset + z.dataLength - newAt;
      if (newLength < SIZE_OF_HEAP_HEADER) return shortHeapRecord(rec, op);
      if (!(flags & XLH_UPDATE_CONTAINS_NEW_TUPLE)) newAt = -1;
    }
    const whole = (flags & XLH_UPDATE_CONTAINS_OLD_TUPLE) !== 0;
    // The old tuple is on block 1 when it moved to another page, else on block 0 (block references built only here).
    const old = ctx.oldRows && !whole ? readOldRow(ctx.oldRows, ctx.catalog, rec, z.spcOid, z.relNumber, rec.hasBlockRef(1) ? rec.block(1)!.blockNumber : z.blockNumber, u16(src, main + 4)) : undefined;
    if (old !== undefined) rb.queue(rec.xid, rec.lsn, encodeWholeOld(CHANGE_UPDATE, rec, z, newAt, newLength, old.tuple, old.toast, rb.arenaOf(rec.xid)));
    else rb.queueRowChange(rec.xid, rec.lsn, CHANGE_UPDATE, CF_CLEAR_TOAST | oldFlags(ctx, whole), z.spcOid, z.relNumber, src, newAt, newLength, hasOld ? main + 14 : -1, mainLength - 14);
  }
}

/** old-rows=full and the old tuple the record logged: whole (replica identity full), or unknown unless a page has it. */
const oldFlags = (ctx: DecodingContext, whole: boolean): number => (ctx.oldRows === undefined ? 0 : whole ? CF_OLD_WANTED | CF_OLD_ROW : CF_OLD_WANTED);

/** An UPDATE / DELETE with the whole old row from a kept page: its tuple from t_infomask2 on is a WAL tuple's shape. */
function encodeWholeOld(kind: number, rec: DecodedRecord, z: BlockZero, newAt: number, newLength: number, tuple: Uint8Array, toast: Uint8Array | undefined, arena: ReturnType<ReorderBuffer['arenaOf']>): Uint8Array {
  const flags = CF_CLEAR_TOAST | CF_OLD_WANTED | CF_OLD_ROW | (toast !== undefined ? CF_OLD_TOAST : 0);
  return encodeRowChange(kind, flags, rec.lsn, z.spcOid, z.relNumber, rec.source, newAt, newLength, 18, tuple.length - 18, arena, tuple, toast);
}

/** A heap record too short for the fields heapDecode reads: the parser's typed error, which names what is missing. */
function shortHeapRecord(rec: DecodedRecord, op: number): never {
  if (op === 0x00) parseHeapInsert(rec);
  else if (op === 0x10) parseHeapDelete(rec);
  else parseHeapUpdate(rec);
  throw new WalFormatError('short-record', `invalid Heap record at ${formatLsn(rec.lsn)}: too short for its fields`, { lsn: rec.lsn });
}

// see heap2_decode and DecodeMultiInsert (decode.c): one change per tuple; TOAST chunks are kept until the batch's last tuple
function multiInsertDecode(ctx: DecodingContext, rec: DecodedRecord): void {
  const rb = ctx.reorder;
  const at = locatorOf(ctx, rec);
  if (at === undefined || filtered(ctx, rec.origin)) return;
  const m = parseMultiInsert(rec);
  if (!(m.flags & XLH_INSERT_CONTAINS_NEW_TUPLE) || m.tuplesLength === 0) return;
  let off = 0;
  const base = m.tuplesOffset;
  for (let i = 0; i < m.ntuples; i++) {
    off = (off + 1) & ~1; // each xl_multi_insert_tuple is SHORTALIGNed within the block data
    const p = base + off;
    const datalen = u16(rec.bytes, p);
    if (p + 7 + datalen > base + m.tuplesLength) {
      throw new WalFormatError('short-record', `invalid Heap2 MULTI_INSERT record at ${formatLsn(rec.lsn)}: tuple ${i + 1} of ${m.ntuples} runs past the block data`, { lsn: rec.lsn });
    }
    const clear = i + 1 === m.ntuples && (m.flags & XLH_INSERT_LAST_IN_MULTI) !== 0 ? CF_CLEAR_TOAST : 0;
    // xl_multi_insert_tuple: datalen, then the same five header bytes as xl_heap_header, then the data.
    rb.queueRowChange(rec.xid, rec.lsn, CHANGE_INSERT, clear, at.spcOid, at.relNumber, rec.bytes, p + 2, 5 + datalen, -1, 0);
    off += 7 + datalen;
  }
}

/** The relation storage block 0 names, when in this database (else undefined): its RelFileLocator. */
function locatorOf(ctx: DecodingContext, rec: DecodedRecord): RelFileLocator | undefined {
  const b = rec.block(0);
  return b === undefined || b.locator.dbOid !== ctx.catalog.databaseOid ? undefined : b.locator;
}

// see FilterByOrigin (decode.c)
function filtered(ctx: DecodingContext, origin: number): boolean {
  return ctx.plugin.filterByOrigin?.(origin) === true;
}

// see logicalmsg_decode (decode.c): a non-transactional message goes out at once, if past the start point
function logicalMsgDecode(ctx: DecodingContext, rec: DecodedRecord): void {
  const m = parseLogicalMessage(rec);
  if (m.dbId !== ctx.catalog.databaseOid || filtered(ctx, rec.origin)) return;
  const content = rec.bytes.subarray(m.messageOffset, m.messageOffset + m.messageSize);
  if (m.transactional || ctx.reorder.emits(rec.lsn)) ctx.reorder.queueMessage(rec.xid, rec.endLsn, m.transactional, m.prefix, content);
}

// see xact_decode (decode.c)
function xactDecode(ctx: DecodingContext, rec: DecodedRecord): void {
  const op = rec.info & 0x70;
  const major = ctx.major;
  if (op === 0x00 || op === 0x30) {
    const c = parseCommit(rec, major);
    const xid = op === 0x30 ? c.twophaseXid : rec.xid;
    const time = c.xinfo & XACT_XINFO_HAS_ORIGIN ? c.originTimestamp : c.xactTime;
    // see DecodeCommit and SnapBuildCommitTxn: the commit's invalidations are queued, then a catalog change's
    // new snapshot handed to the transactions in progress, before the transaction is replayed or skipped.
    if (c.nmsgs > 0) ctx.reorder.catalogChanged(xid);
    ctx.reorder.committedCatalog(xid, c.subxacts, rec.lsn, major >= 18 ? 104 : 120);
    decodeCommit(ctx, xid, c.subxacts, c.dbId, rec, time, op === 0x30 ? c.twophaseGid : undefined, c.xinfo & XACT_XINFO_HAS_ORIGIN ? c.originLsn : 0);
  } else if (op === 0x20 || op === 0x40) {
    const a = parseAbort(rec, major);
    const xid = op === 0x40 ? a.twophaseXid : rec.xid;
    const time = a.xinfo & XACT_XINFO_HAS_ORIGIN ? a.originTimestamp : a.xactTime;
    // see DecodeAbort
    if (op === 0x40 && ctx.reorder.twoPhase && !skipsXact(ctx, a.dbId, rec)) ctx.reorder.rollbackPrepared(xid, a.subxacts, rec.lsn, rec.endLsn, time, rec.origin, a.twophaseGid);
    else ctx.reorder.abort(xid, a.subxacts, rec.lsn, rec.endLsn, time, rec.origin);
  } else if (op === 0x10) {
    decodePrepare(ctx, rec);
  } else if (op === 0x60 && rec.xid !== 0) {
    // XLOG_XACT_INVALIDATIONS: one command's messages, queued as a change
    ctx.reorder.queueInvalidations(rec.xid, rec.lsn, rec.view.getInt32(rec.mainDataOffset, true));
  } else if (op === 0x50) {
    const a = parseXactAssignment(rec);
    ctx.reorder.assignChildren(a.xtop, a.subxacts, rec.lsn);
  }
}

/** DecodeTXNNeedSkip: before the start point, another database, or filtered by origin. */
function skipsXact(ctx: DecodingContext, dbId: number, rec: DecodedRecord): boolean {
  return !ctx.reorder.emits(rec.lsn) || (dbId !== 0 && dbId !== ctx.catalog.databaseOid) || filtered(ctx, rec.origin);
}

// see DecodeCommit (decode.c): a skipped transaction is forgotten, another committed (or finished, if prepared)
function decodeCommit(ctx: DecodingContext, xid: number, subxacts: number[], dbId: number, rec: DecodedRecord, time: bigint, gid: string | undefined, originLsn: Lsn): void {
  const rb = ctx.reorder;
  rb.commitChildren(xid, subxacts);
  if (skipsXact(ctx, dbId, rec)) {
    rb.forget(xid, subxacts);
    return;
  }
  rb.commit(xid, subxacts, rec.lsn, rec.endLsn, time, rec.origin, gid, originLsn);
}

// see DecodePrepare and FilterPrepare (decode.c)
function decodePrepare(ctx: DecodingContext, rec: DecodedRecord): void {
  const rb = ctx.reorder;
  const p = parsePrepare(rec, ctx.major);
  const xid = p.twophaseXid;
  const time = p.originTimestamp !== 0n ? p.originTimestamp : p.xactTime;
  if (!rb.rememberPrepareInfo(xid, p.subxacts, p.twophaseGid, rec.lsn, rec.endLsn, time, rec.origin, p.originLsn)) return;
  if (!rb.twoPhase || ctx.plugin.filterPrepare?.(p.twophaseGid) === true) return;
  if (ctx.snapbuild !== undefined && ctx.snapbuild.consistentAt === undefined) return;
  if (skipsXact(ctx, p.dbId, rec)) return;
  rb.prepare(xid, p.subxacts);
}
