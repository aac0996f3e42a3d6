// SPGist resource manager (id 16): rm_identify, rm_desc and the payload parses of spgxlog.h records.
import type { DecodedRecord } from '../record.js';
import type { Major } from '../profile.js';
import type { RmgrDescriptor } from './types.js';
import type { ConflictHorizon } from './nbtree.js';
import { viewOf } from './utils.js';

export const RM_SPGIST_ID = 16;

export const XLOG_SPGIST_ADD_LEAF = 0x10;
export const XLOG_SPGIST_MOVE_LEAFS = 0x20;
export const XLOG_SPGIST_ADD_NODE = 0x30;
export const XLOG_SPGIST_SPLIT_TUPLE = 0x40;
export const XLOG_SPGIST_PICKSPLIT = 0x50;
export const XLOG_SPGIST_VACUUM_LEAF = 0x60;
export const XLOG_SPGIST_VACUUM_ROOT = 0x70;
export const XLOG_SPGIST_VACUUM_REDIRECT = 0x80;

const NAMES: Record<number, string> = {
  [XLOG_SPGIST_ADD_LEAF]: 'ADD_LEAF',
  [XLOG_SPGIST_MOVE_LEAFS]: 'MOVE_LEAFS',
  [XLOG_SPGIST_ADD_NODE]: 'ADD_NODE',
  [XLOG_SPGIST_SPLIT_TUPLE]: 'SPLIT_TUPLE',
  [XLOG_SPGIST_PICKSPLIT]: 'PICKSPLIT',
  [XLOG_SPGIST_VACUUM_LEAF]: 'VACUUM_LEAF',
  [XLOG_SPGIST_VACUUM_ROOT]: 'VACUUM_ROOT',
  [XLOG_SPGIST_VACUUM_REDIRECT]: 'VACUUM_REDIRECT',
};

/** spgxlogVacuumRedirect: nToPlaceholder @0, firstPlaceholder @2, horizon @4, 16+: isCatalogRel @8. */
export interface SpgVacuumRedirect {
  nToPlaceholder: number;
  firstPlaceholder: number;
  /** newestRedirectXid in 15. */
  snapshotConflictHorizon: number;
  isCatalogRel: boolean;
}

export function parseSpgVacuumRedirect(rec: DecodedRecord, major: Major): SpgVacuumRedirect {
  const v = viewOf(rec.mainData());
  return {
    nToPlaceholder: v.getUint16(0, true),
    firstPlaceholder: v.getUint16(2, true),
    snapshotConflictHorizon: v.getUint32(4, true),
    isCatalogRel: major >= 16 ? v.getUint8(8) !== 0 : false,
  };
}

/** The conflict horizon of a VACUUM_REDIRECT record; undefined for any other SPGist record. */
export function spgistConflictHorizon(rec: DecodedRecord, major: Major): ConflictHorizon | undefined {
  if (rec.rmgrInfo !== XLOG_SPGIST_VACUUM_REDIRECT) return undefined;
  const r = parseSpgVacuumRedirect(rec, major);
  return { horizon: r.snapshotConflictHorizon, isCatalogRel: r.isCatalogRel };
}

/** ` (label)` when the flag byte is set, as spg_desc appends them. */
const flag = (v: DataView, at: number, label: string): string => (v.getUint8(at) ? ` (${label})` : '');

// see spg_desc (spgdesc.c)
function describeSpgist(rec: DecodedRecord, major: Major): string {
  const v = viewOf(rec.mainData());
  const u16 = (at: number): number => v.getUint16(at, true);
  switch (rec.rmgrInfo) {
    case XLOG_SPGIST_ADD_LEAF:
      // spgxlogAddLeaf: newPage @0, storesNulls @1, offnumLeaf @2, offnumHeadLeaf @4, offnumParent @6, nodeI @8
      return (
        `off: ${u16(2)}, headoff: ${u16(4)}, parentoff: ${u16(6)}, nodeI: ${u16(8)}` +
        flag(v, 0, 'newpage') +
        flag(v, 1, 'nulls')
      );
    case XLOG_SPGIST_MOVE_LEAFS:
      // spgxlogMoveLeafs: nMoves @0, newPage @2, replaceDead @3, storesNulls @4, offnumParent @6, nodeI @8
      return (
        `nmoves: ${u16(0)}, parentoff: ${u16(6)}, nodeI: ${u16(8)}` +
        flag(v, 2, 'newpage') +
        flag(v, 3, 'replacedead') +
        flag(v, 4, 'nulls')
      );
    case XLOG_SPGIST_ADD_NODE:
      // spgxlogAddNode: offnum @0, offnumNew @2, newPage @4, parentBlk int8 @5, offnumParent @6, nodeI @8
      return (
        `off: ${u16(0)}, newoff: ${u16(2)}, parentBlk: ${v.getInt8(5)}, parentoff: ${u16(6)}, nodeI: ${u16(8)}` +
        flag(v, 4, 'newpage')
      );
    case XLOG_SPGIST_SPLIT_TUPLE:
      // spgxlogSplitTuple: offnumPrefix @0, offnumPostfix @2, newPage @4, postfixBlkSame @5
      return `prefixoff: ${u16(0)}, postfixoff: ${u16(2)}` + flag(v, 4, 'newpage') + flag(v, 5, 'same');
    case XLOG_SPGIST_PICKSPLIT:
      // spgxlogPickSplit: isRootSplit @0, nDelete @2, nInsert @4, initSrc @6, initDest @7, offnumInner @8,
      // initInner @10, storesNulls @11, innerIsParent @12, offnumParent @14, nodeI @16
      return (
        `ndelete: ${u16(2)}, ninsert: ${u16(4)}, inneroff: ${u16(8)}, parentoff: ${u16(14)}, nodeI: ${u16(16)}` +
        flag(v, 12, 'innerIsParent') +
        flag(v, 11, 'nulls') +
        flag(v, 0, 'isRootSplit')
      );
    case XLOG_SPGIST_VACUUM_LEAF:
      return `ndead: ${u16(0)}, nplaceholder: ${u16(2)}, nmove: ${u16(4)}, nchain: ${u16(6)}`;
    case XLOG_SPGIST_VACUUM_ROOT:
      return `ndelete: ${u16(0)}`;
    case XLOG_SPGIST_VACUUM_REDIRECT: {
      const r = parseSpgVacuumRedirect(rec, major);
      const head = `ntoplaceholder: ${r.nToPlaceholder}, firstplaceholder: ${r.firstPlaceholder}, `;
      if (major < 16) return `${head}newestredirectxid: ${r.snapshotConflictHorizon}`;
      // 16 stores isCatalogRel but prints it only from 17 on.
      const catalog = major >= 17 ? `, isCatalogRel: ${r.isCatalogRel ? 'T' : 'F'}` : '';
      return `${head}snapshotConflictHorizon: ${r.snapshotConflictHorizon}${catalog}`;
    }
    default:
      return '';
  }
}

export const spgistRmgr: RmgrDescriptor = {
  id: RM_SPGIST_ID,
  name: 'SPGist',
  identify: (info) => NAMES[info & 0xf0],
  describe: (rec, ctx) => describeSpgist(rec, ctx.profile.major),
};
