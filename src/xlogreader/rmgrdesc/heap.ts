// rm_identify and rm_desc of Heap (rmid 10) and Heap2 (rmid 9), as pg_walinspect / pg_waldump print them, 15–18.
//
// 15 prints the terse pre-16 style (`off 3 flags 0x08`); 16 switched to `key: value` pairs and array_desc
// lists; 17 merged PRUNE/VACUUM/FREEZE_PAGE into three PRUNE_* records; 18 adds INPLACE invalidations.
import { describeInvalidations } from './standby.js';
import type { Major, VersionProfile } from '../profile.js';
import type { DecodedRecord } from '../record.js';
import type { DescribeContext, RmgrDescriptor } from './types.js';
import { arrayDesc } from './utils.js';
import {
  multiInsertOffnum,
  parseHeapConfirm,
  parseHeapDelete,
  parseHeapFreezePage,
  parseHeapInplace,
  parseHeapInsert,
  parseHeapLock,
  parseHeapPruneFreeze,
  parseHeapPruneV15,
  parseHeapTruncate,
  parseHeapUpdate,
  parseHeapVacuumV15,
  parseHeapVisible,
  parseMultiInsert,
  parseNewCid,
  readFreezePlan,
  truncateRelid,
  XLHL_KEYS_UPDATED,
  XLHL_XMAX_EXCL_LOCK,
  XLHL_XMAX_IS_MULTI,
  XLHL_XMAX_KEYSHR_LOCK,
  XLHL_XMAX_LOCK_ONLY,
  XLH_TRUNCATE_CASCADE,
  XLH_TRUNCATE_RESTART_SEQS,
  XLOG_HEAP2_LOCK_UPDATED,
  XLOG_HEAP2_MULTI_INSERT,
  XLOG_HEAP2_NEW_CID,
  XLOG_HEAP2_REWRITE,
  XLOG_HEAP2_VISIBLE,
  XLOG_HEAP_CONFIRM,
  XLOG_HEAP_DELETE,
  XLOG_HEAP_HOT_UPDATE,
  XLOG_HEAP_INIT_PAGE,
  XLOG_HEAP_INPLACE,
  XLOG_HEAP_INSERT,
  XLOG_HEAP_LOCK,
  XLOG_HEAP_OPMASK,
  XLOG_HEAP_TRUNCATE,
  XLOG_HEAP_UPDATE,
} from './heap-parse.js';

export * from './heap-parse.js';

const XLR_INFO_MASK = 0x0f;

/** %02X */
const hex2 = (n: number): string => n.toString(16).toUpperCase().padStart(2, '0');

const INFOBIT_NAMES: readonly [number, string][] = [
  [XLHL_XMAX_IS_MULTI, 'IS_MULTI'],
  [XLHL_XMAX_LOCK_ONLY, 'LOCK_ONLY'],
  [XLHL_XMAX_EXCL_LOCK, 'EXCL_LOCK'],
  [XLHL_XMAX_KEYSHR_LOCK, 'KEYSHR_LOCK'],
  [XLHL_KEYS_UPDATED, 'KEYS_UPDATED'],
];

// see out_infobits (heapdesc.c, 15): every name followed by a space, so the text may end in one
function outInfobits(bits: number): string {
  let s = '';
  for (const [bit, name] of INFOBIT_NAMES) if ((bits & bit) !== 0) s += `${name} `;
  return s;
}

// see infobits_desc (heapdesc.c, 16+)
function infobitsDesc(bits: number, key: string): string {
  const names: string[] = [];
  for (const [bit, name] of INFOBIT_NAMES) if ((bits & bit) !== 0) names.push(name);
  return `${key}: [${names.join(', ')}]`;
}

/** `count` u16 values at `at`, joined as array_desc does. */
function u16List(rec: DecodedRecord, at: number, count: number): string {
  const items: number[] = [];
  for (let i = 0; i < count; i++) items.push(rec.view.getUint16(at + 2 * i, true));
  return arrayDesc(items);
}

/** `count` (from, to) u16 pairs, printed `from->to` (redirect_elem_desc). */
function redirectList(rec: DecodedRecord, at: number, count: number): string {
  const items: string[] = [];
  for (let i = 0; i < count; i++) {
    items.push(`${rec.view.getUint16(at + 4 * i, true)}->${rec.view.getUint16(at + 4 * i + 2, true)}`);
  }
  return arrayDesc(items);
}

/**
 * Freeze plans with their offsets (plan_elem_desc, 16+): the offset arrays follow all plans, concatenated
 * in plan order, so one cursor walks them while the plans are printed.
 */
function planList(rec: DecodedRecord, plansAt: number, nplans: number, offsetsAt: number): string {
  const items: string[] = [];
  let cursor = offsetsAt;
  for (let i = 0; i < nplans; i++) {
    const p = readFreezePlan(rec, plansAt + 12 * i);
    items.push(
      `{ xmax: ${p.xmax}, infomask: ${p.infomask}, infomask2: ${p.infomask2}, ntuples: ${p.ntuples}, offsets:${u16List(rec, cursor, p.ntuples)} }`,
    );
    cursor += 2 * p.ntuples;
  }
  return arrayDesc(items);
}

// ---------------------------------------------------------------------------------------------------
// Heap

// see heap_identify (heapdesc.c)
function heapIdentify(info: number): string | undefined {
  switch (info & ~XLR_INFO_MASK) {
    case XLOG_HEAP_INSERT:
      return 'INSERT';
    case XLOG_HEAP_INSERT | XLOG_HEAP_INIT_PAGE:
      return 'INSERT+INIT';
    case XLOG_HEAP_DELETE:
      return 'DELETE';
    case XLOG_HEAP_UPDATE:
      return 'UPDATE';
    case XLOG_HEAP_UPDATE | XLOG_HEAP_INIT_PAGE:
      return 'UPDATE+INIT';
    case XLOG_HEAP_HOT_UPDATE:
      return 'HOT_UPDATE';
    case XLOG_HEAP_HOT_UPDATE | XLOG_HEAP_INIT_PAGE:
      return 'HOT_UPDATE+INIT';
    case XLOG_HEAP_TRUNCATE:
      return 'TRUNCATE';
    case XLOG_HEAP_CONFIRM:
      return 'HEAP_CONFIRM';
    case XLOG_HEAP_LOCK:
      return 'LOCK';
    case XLOG_HEAP_INPLACE:
      return 'INPLACE';
    default:
      // rm_identify's NULL: the INIT bit with any other opcode is not a record the server writes.
      return undefined;
  }
}

// see heap_desc (heapdesc.c, 15)
function heapDescribe15(rec: DecodedRecord, op: number): string {
  switch (op) {
    case XLOG_HEAP_INSERT: {
      const x = parseHeapInsert(rec);
      return `off ${x.offnum} flags 0x${hex2(x.flags)}`;
    }
    case XLOG_HEAP_DELETE: {
      const x = parseHeapDelete(rec);
      return `off ${x.offnum} flags 0x${hex2(x.flags)} ${outInfobits(x.infobitsSet)}`;
    }
    case XLOG_HEAP_UPDATE:
    case XLOG_HEAP_HOT_UPDATE: {
      const x = parseHeapUpdate(rec);
      return (
        `off ${x.oldOffnum} xmax ${x.oldXmax} flags 0x${hex2(x.flags)} ${outInfobits(x.oldInfobitsSet)}` +
        `; new off ${x.newOffnum} xmax ${x.newXmax}`
      );
    }
    case XLOG_HEAP_TRUNCATE: {
      const x = parseHeapTruncate(rec);
      let s = '';
      if ((x.flags & XLH_TRUNCATE_CASCADE) !== 0) s += 'cascade ';
      if ((x.flags & XLH_TRUNCATE_RESTART_SEQS) !== 0) s += 'restart_seqs ';
      s += `nrelids ${x.nrelids} relids`;
      for (let i = 0; i < x.nrelids; i++) s += ` ${truncateRelid(rec, x, i)}`;
      return s;
    }
    case XLOG_HEAP_CONFIRM:
      return `off ${parseHeapConfirm(rec).offnum}`;
    case XLOG_HEAP_LOCK: {
      const x = parseHeapLock(rec);
      return `off ${x.offnum}: xid ${x.xmax}: flags 0x${hex2(x.flags)} ${outInfobits(x.infobitsSet)}`;
    }
    case XLOG_HEAP_INPLACE:
      return `off ${parseHeapInplace(rec, 15).offnum}`;
    default:
      return '';
  }
}

// see heap_desc (heapdesc.c, 16+)
function heapDescribe16(rec: DecodedRecord, op: number, major: Major): string {
  switch (op) {
    case XLOG_HEAP_INSERT: {
      const x = parseHeapInsert(rec);
      return `off: ${x.offnum}, flags: 0x${hex2(x.flags)}`;
    }
    case XLOG_HEAP_DELETE: {
      const x = parseHeapDelete(rec);
      return `xmax: ${x.xmax}, off: ${x.offnum}, ${infobitsDesc(x.infobitsSet, 'infobits')}, flags: 0x${hex2(x.flags)}`;
    }
    case XLOG_HEAP_UPDATE:
    case XLOG_HEAP_HOT_UPDATE: {
      const x = parseHeapUpdate(rec);
      return (
        `old_xmax: ${x.oldXmax}, old_off: ${x.oldOffnum}, ${infobitsDesc(x.oldInfobitsSet, 'old_infobits')}` +
        `, flags: 0x${hex2(x.flags)}, new_xmax: ${x.newXmax}, new_off: ${x.newOffnum}`
      );
    }
    case XLOG_HEAP_TRUNCATE: {
      const x = parseHeapTruncate(rec);
      const flags: string[] = [];
      if ((x.flags & XLH_TRUNCATE_CASCADE) !== 0) flags.push('CASCADE');
      if ((x.flags & XLH_TRUNCATE_RESTART_SEQS) !== 0) flags.push('RESTART_SEQS');
      const relids: number[] = [];
      for (let i = 0; i < x.nrelids; i++) relids.push(truncateRelid(rec, x, i));
      return `flags: [${flags.join(', ')}], nrelids: ${x.nrelids}, relids:${arrayDesc(relids)}`;
    }
    case XLOG_HEAP_CONFIRM:
      return `off: ${parseHeapConfirm(rec).offnum}`;
    case XLOG_HEAP_LOCK: {
      const x = parseHeapLock(rec);
      return `xmax: ${x.xmax}, off: ${x.offnum}, ${infobitsDesc(x.infobitsSet, 'infobits')}, flags: 0x${hex2(x.flags)}`;
    }
    case XLOG_HEAP_INPLACE: {
      const x = parseHeapInplace(rec, major);
      return `off: ${x.offnum}` + describeInvalidations(rec.view, x.msgsOffset, x.nmsgs, x.dbId, x.tsId, x.relcacheInitFileInval, 18);
    }
    default:
      return '';
  }
}

export const heapRmgr: RmgrDescriptor = {
  id: 10,
  name: 'Heap',
  identify: (info: number, _profile: VersionProfile) => heapIdentify(info),
  describe(rec: DecodedRecord, ctx: DescribeContext): string {
    const op = rec.info & XLOG_HEAP_OPMASK;
    const major = ctx.profile.major;
    return major === 15 ? heapDescribe15(rec, op) : heapDescribe16(rec, op, major);
  },
};

// ---------------------------------------------------------------------------------------------------
// Heap2

// Opcodes 0x10–0x30 by era: pruning, vacuuming and freezing until 16, one merged record with three reasons after.
const HEAP2_NAMES_15: readonly (string | undefined)[] = ['REWRITE', 'PRUNE', 'VACUUM', 'FREEZE_PAGE', 'VISIBLE', 'MULTI_INSERT', 'LOCK_UPDATED', 'NEW_CID'];
const HEAP2_NAMES_17: readonly (string | undefined)[] = [
  'REWRITE',
  'PRUNE_ON_ACCESS',
  'PRUNE_VACUUM_SCAN',
  'PRUNE_VACUUM_CLEANUP',
  'VISIBLE',
  'MULTI_INSERT',
  'LOCK_UPDATED',
  'NEW_CID',
];

// see heap2_identify (heapdesc.c)
function heap2Identify(info: number, major: Major): string | undefined {
  const i = info & ~XLR_INFO_MASK;
  if (i === (XLOG_HEAP2_MULTI_INSERT | XLOG_HEAP_INIT_PAGE)) return 'MULTI_INSERT+INIT';
  if ((i & XLOG_HEAP_INIT_PAGE) !== 0) return undefined;
  return (major >= 17 ? HEAP2_NAMES_17 : HEAP2_NAMES_15)[i >> 4];
}

// see heap2_desc (heapdesc.c, 15)
function heap2Describe15(rec: DecodedRecord, op: number): string {
  switch (op) {
    case 0x10: {
      const x = parseHeapPruneV15(rec, 15);
      return `latestRemovedXid ${x.snapshotConflictHorizon} nredirected ${x.nredirected} ndead ${x.ndead}`;
    }
    case 0x20:
      return `nunused ${parseHeapVacuumV15(rec).nunused}`;
    case 0x30: {
      const x = parseHeapFreezePage(rec, 15);
      return `cutoff xid ${x.snapshotConflictHorizon} ntuples ${x.count}`;
    }
    case XLOG_HEAP2_VISIBLE: {
      const x = parseHeapVisible(rec);
      return `cutoff xid ${x.snapshotConflictHorizon} flags 0x${hex2(x.flags)}`;
    }
    case XLOG_HEAP2_MULTI_INSERT: {
      const x = parseMultiInsert(rec);
      return `${x.ntuples} tuples flags 0x${hex2(x.flags)}`;
    }
    case XLOG_HEAP2_LOCK_UPDATED: {
      const x = parseHeapLock(rec);
      return `off ${x.offnum}: xmax ${x.xmax}: flags 0x${hex2(x.flags)} ${outInfobits(x.infobitsSet)}`;
    }
    case XLOG_HEAP2_NEW_CID: {
      const x = parseNewCid(rec);
      const l = x.targetLocator;
      return `rel ${l.spcOid}/${l.dbOid}/${l.relNumber}; tid ${x.blockNumber}/${x.offnum}; cmin: ${x.cmin}, cmax: ${x.cmax}, combo: ${x.combocid}`;
    }
    case XLOG_HEAP2_REWRITE: // described by nobody
    default:
      return '';
  }
}

// see heap2_desc (heapdesc.c, 16): PRUNE, VACUUM and FREEZE_PAGE with their offset arrays
function heap2DescribePrune16(rec: DecodedRecord, op: number): string {
  switch (op) {
    case 0x10: {
      const x = parseHeapPruneV15(rec, 16);
      let s = `snapshotConflictHorizon: ${x.snapshotConflictHorizon}, nredirected: ${x.nredirected}, ndead: ${x.ndead}`;
      if (x.hasBlockData) {
        s += `, nunused: ${x.nunused}`;
        s += `, redirected:${redirectList(rec, x.redirectedOffset, x.nredirected)}`;
        s += `, dead:${u16List(rec, x.deadOffset, x.ndead)}`;
        s += `, unused:${u16List(rec, x.unusedOffset, x.nunused)}`;
      }
      return s;
    }
    case 0x20: {
      const x = parseHeapVacuumV15(rec);
      return `nunused: ${x.nunused}` + (x.hasBlockData ? `, unused:${u16List(rec, x.unusedOffset, x.nunused)}` : '');
    }
    default: {
      const x = parseHeapFreezePage(rec, 16);
      let s = `snapshotConflictHorizon: ${x.snapshotConflictHorizon}, nplans: ${x.count}`;
      if (x.hasBlockData) s += `, plans:${planList(rec, x.entriesOffset, x.count, x.planOffsetsOffset)}`;
      return s;
    }
  }
}

// see heap2_desc (heapdesc.c, 17+): one text for the three PRUNE_* records
function heap2DescribePrune17(rec: DecodedRecord): string {
  const x = parseHeapPruneFreeze(rec);
  // Without a conflict horizon the server's text starts with ", isCatalogRel": kept as is.
  let s = x.snapshotConflictHorizon === undefined ? '' : `snapshotConflictHorizon: ${x.snapshotConflictHorizon}`;
  s += `, isCatalogRel: ${x.isCatalogRel ? 'T' : 'F'}`;
  if (!x.hasBlockData) return s;
  s += `, nplans: ${x.nplans}, nredirected: ${x.nredirected}, ndead: ${x.ndead}, nunused: ${x.nunused}`;
  if (x.nplans > 0) s += `, plans:${planList(rec, x.plansOffset, x.nplans, x.frozenOffset)}`;
  if (x.nredirected > 0) s += `, redirected:${redirectList(rec, x.redirectedOffset, x.nredirected)}`;
  if (x.ndead > 0) s += `, dead:${u16List(rec, x.deadOffset, x.ndead)}`;
  if (x.nunused > 0) s += `, unused:${u16List(rec, x.unusedOffset, x.nunused)}`;
  return s;
}

// see heap2_desc (heapdesc.c, 16+)
function heap2Describe16(rec: DecodedRecord, op: number, major: Major): string {
  switch (op) {
    case 0x10:
    case 0x20:
    case 0x30:
      return major >= 17 ? heap2DescribePrune17(rec) : heap2DescribePrune16(rec, op);
    case XLOG_HEAP2_VISIBLE: {
      const x = parseHeapVisible(rec);
      return `snapshotConflictHorizon: ${x.snapshotConflictHorizon}, flags: 0x${hex2(x.flags)}`;
    }
    case XLOG_HEAP2_MULTI_INSERT: {
      const x = parseMultiInsert(rec);
      let s = `ntuples: ${x.ntuples}, flags: 0x${hex2(x.flags)}`;
      if (rec.block(0)?.hasData === true && !x.isInit) {
        const offs: number[] = [];
        for (let i = 0; i < x.ntuples; i++) offs.push(multiInsertOffnum(rec, x, i));
        s += `, offsets:${arrayDesc(offs)}`;
      }
      return s;
    }
    case XLOG_HEAP2_LOCK_UPDATED: {
      const x = parseHeapLock(rec);
      return `xmax: ${x.xmax}, off: ${x.offnum}, ${infobitsDesc(x.infobitsSet, 'infobits')}, flags: 0x${hex2(x.flags)}`;
    }
    case XLOG_HEAP2_NEW_CID: {
      const x = parseNewCid(rec);
      const l = x.targetLocator;
      return `rel: ${l.spcOid}/${l.dbOid}/${l.relNumber}, tid: ${x.blockNumber}/${x.offnum}, cmin: ${x.cmin}, cmax: ${x.cmax}, combo: ${x.combocid}`;
    }
    case XLOG_HEAP2_REWRITE: // described by nobody
    default:
      return '';
  }
}

export const heap2Rmgr: RmgrDescriptor = {
  id: 9,
  name: 'Heap2',
  identify: (info: number, profile: VersionProfile) => heap2Identify(info, profile.major),
  describe(rec: DecodedRecord, ctx: DescribeContext): string {
    const op = rec.info & XLOG_HEAP_OPMASK;
    const major = ctx.profile.major;
    return major === 15 ? heap2Describe15(rec, op) : heap2Describe16(rec, op, major);
  },
};
