// Hash resource manager (id 12): rm_identify, rm_desc and the payload parses of hash_xlog.h records.
import type { DecodedRecord } from '../record.js';
import type { Major } from '../profile.js';
import type { RmgrDescriptor } from './types.js';
import type { ConflictHorizon } from './nbtree.js';
import { viewOf } from './utils.js';

export const RM_HASH_ID = 12;

export const XLOG_HASH_INIT_META_PAGE = 0x00;
export const XLOG_HASH_INIT_BITMAP_PAGE = 0x10;
export const XLOG_HASH_INSERT = 0x20;
export const XLOG_HASH_ADD_OVFL_PAGE = 0x30;
export const XLOG_HASH_SPLIT_ALLOCATE_PAGE = 0x40;
export const XLOG_HASH_SPLIT_PAGE = 0x50;
export const XLOG_HASH_SPLIT_COMPLETE = 0x60;
export const XLOG_HASH_MOVE_PAGE_CONTENTS = 0x70;
export const XLOG_HASH_SQUEEZE_PAGE = 0x80;
export const XLOG_HASH_DELETE = 0x90;
export const XLOG_HASH_SPLIT_CLEANUP = 0xa0;
export const XLOG_HASH_UPDATE_META_PAGE = 0xb0;
export const XLOG_HASH_VACUUM_ONE_PAGE = 0xc0;

const XLH_SPLIT_META_UPDATE_MASKS = 0x01;
const XLH_SPLIT_META_UPDATE_SPLITPOINT = 0x02;

const NAMES: Record<number, string> = {
  [XLOG_HASH_INIT_META_PAGE]: 'INIT_META_PAGE',
  [XLOG_HASH_INIT_BITMAP_PAGE]: 'INIT_BITMAP_PAGE',
  [XLOG_HASH_INSERT]: 'INSERT',
  [XLOG_HASH_ADD_OVFL_PAGE]: 'ADD_OVFL_PAGE',
  [XLOG_HASH_SPLIT_ALLOCATE_PAGE]: 'SPLIT_ALLOCATE_PAGE',
  [XLOG_HASH_SPLIT_PAGE]: 'SPLIT_PAGE',
  [XLOG_HASH_SPLIT_COMPLETE]: 'SPLIT_COMPLETE',
  [XLOG_HASH_MOVE_PAGE_CONTENTS]: 'MOVE_PAGE_CONTENTS',
  [XLOG_HASH_SQUEEZE_PAGE]: 'SQUEEZE_PAGE',
  [XLOG_HASH_DELETE]: 'DELETE',
  [XLOG_HASH_SPLIT_CLEANUP]: 'SPLIT_CLEANUP',
  [XLOG_HASH_UPDATE_META_PAGE]: 'UPDATE_META_PAGE',
  [XLOG_HASH_VACUUM_ONE_PAGE]: 'VACUUM_ONE_PAGE',
};

/**
 * printf's `%g` (precision 6) as glibc prints a double: the shorter of fixed and exponent notation, trailing
 * zeros removed, a two-digit exponent at least.
 */
export function formatG(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  // The exponent is the one after rounding to 6 significant digits, which toExponential does exactly.
  const [mantissa, e] = x.toExponential(5).split('e') as [string, string];
  const exp = Number(e);
  if (exp < -4 || exp >= 6) {
    const m = mantissa.includes('.') ? mantissa.replace(/\.?0+$/, '') : mantissa;
    const digits = String(Math.abs(exp)).padStart(2, '0');
    return `${m}e${exp < 0 ? '-' : '+'}${digits}`;
  }
  const fixed = x.toFixed(5 - exp);
  return fixed.includes('.') ? fixed.replace(/\.?0+$/, '') : fixed;
}

/** xl_hash_vacuum_one_page: 15 has `latestRemovedXid` and an int ntuples; 16+ a u16 ntuples and isCatalogRel. */
export interface HashVacuumOnePage {
  snapshotConflictHorizon: number;
  ntuples: number;
  isCatalogRel: boolean;
}

export function parseHashVacuumOnePage(rec: DecodedRecord, major: Major): HashVacuumOnePage {
  const v = viewOf(rec.mainData());
  return {
    snapshotConflictHorizon: v.getUint32(0, true),
    ntuples: major >= 16 ? v.getUint16(4, true) : v.getInt32(4, true),
    isCatalogRel: major >= 16 ? v.getUint8(6) !== 0 : false,
  };
}

/** The conflict horizon of a VACUUM_ONE_PAGE record; undefined for any other Hash record. */
export function hashConflictHorizon(rec: DecodedRecord, major: Major): ConflictHorizon | undefined {
  if (rec.rmgrInfo !== XLOG_HASH_VACUUM_ONE_PAGE) return undefined;
  const r = parseHashVacuumOnePage(rec, major);
  return { horizon: r.snapshotConflictHorizon, isCatalogRel: r.isCatalogRel };
}

const tf = (b: number | boolean): string => (b ? 'T' : 'F');

// see hash_desc (hashdesc.c)
function describeHash(rec: DecodedRecord, major: Major): string {
  const v = viewOf(rec.mainData());
  switch (rec.rmgrInfo) {
    case XLOG_HASH_INIT_META_PAGE:
      // xl_hash_init_meta_page: num_tuples double @0, procid @8, ffactor u16 @12
      return `num_tuples ${formatG(v.getFloat64(0, true))}, fillfactor ${v.getUint16(12, true)}`;
    case XLOG_HASH_INIT_BITMAP_PAGE:
      return `bmsize ${v.getUint16(0, true)}`;
    case XLOG_HASH_INSERT:
      return `off ${v.getUint16(0, true)}`;
    case XLOG_HASH_ADD_OVFL_PAGE:
      return `bmsize ${v.getUint16(0, true)}, bmpage_found ${tf(v.getUint8(2))}`;
    case XLOG_HASH_SPLIT_ALLOCATE_PAGE: {
      // xl_hash_split_allocate_page: new_bucket @0, old/new bucket flags @4/@6, flags u8 @8
      const flags = v.getUint8(8);
      return (
        `new_bucket ${v.getUint32(0, true)}, meta_page_masks_updated ${tf(flags & XLH_SPLIT_META_UPDATE_MASKS)}, ` +
        `issplitpoint_changed ${tf(flags & XLH_SPLIT_META_UPDATE_SPLITPOINT)}`
      );
    }
    case XLOG_HASH_SPLIT_COMPLETE:
      return `old_bucket_flag ${v.getUint16(0, true)}, new_bucket_flag ${v.getUint16(2, true)}`;
    case XLOG_HASH_MOVE_PAGE_CONTENTS:
      return `ntups ${v.getUint16(0, true)}, is_primary ${tf(v.getUint8(2))}`;
    case XLOG_HASH_SQUEEZE_PAGE:
      return (
        `prevblkno ${v.getUint32(0, true)}, nextblkno ${v.getUint32(4, true)}, ntups ${v.getUint16(8, true)}, ` +
        `is_primary ${tf(v.getUint8(10))}`
      );
    case XLOG_HASH_DELETE:
      return `clear_dead_marking ${tf(v.getUint8(0))}, is_primary ${tf(v.getUint8(1))}`;
    case XLOG_HASH_UPDATE_META_PAGE:
      return `ntuples ${formatG(v.getFloat64(0, true))}`;
    case XLOG_HASH_VACUUM_ONE_PAGE: {
      const r = parseHashVacuumOnePage(rec, major);
      if (major < 16) return `ntuples ${r.ntuples}, latestRemovedXid ${r.snapshotConflictHorizon}`;
      // 16 stores isCatalogRel but prints it only from 17 on.
      const catalog = major >= 17 ? `, isCatalogRel ${tf(r.isCatalogRel)}` : '';
      return `ntuples ${r.ntuples}, snapshotConflictHorizon ${r.snapshotConflictHorizon}${catalog}`;
    }
    // Records hash_desc prints nothing for.
    case XLOG_HASH_SPLIT_PAGE:
    case XLOG_HASH_SPLIT_CLEANUP:
    default:
      return '';
  }
}

export const hashRmgr: RmgrDescriptor = {
  id: RM_HASH_ID,
  name: 'Hash',
  identify: (info) => NAMES[info & 0xf0],
  describe: (rec, ctx) => describeHash(rec, ctx.profile.major),
};
