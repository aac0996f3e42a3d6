// Btree resource manager (id 11): rm_identify, rm_desc and the payload parses of nbtxlog.h records.
import type { DecodedRecord, RelFileLocator } from '../record.js';
import type { Major } from '../profile.js';
import type { RmgrDescriptor } from './types.js';
import { arrayDesc, readRelFileLocator, viewOf } from './utils.js';

export const RM_BTREE_ID = 11;

export const XLOG_BTREE_INSERT_LEAF = 0x00;
export const XLOG_BTREE_INSERT_UPPER = 0x10;
export const XLOG_BTREE_INSERT_META = 0x20;
export const XLOG_BTREE_SPLIT_L = 0x30;
export const XLOG_BTREE_SPLIT_R = 0x40;
export const XLOG_BTREE_INSERT_POST = 0x50;
export const XLOG_BTREE_DEDUP = 0x60;
export const XLOG_BTREE_DELETE = 0x70;
export const XLOG_BTREE_UNLINK_PAGE = 0x80;
export const XLOG_BTREE_UNLINK_PAGE_META = 0x90;
export const XLOG_BTREE_NEWROOT = 0xa0;
export const XLOG_BTREE_MARK_PAGE_HALFDEAD = 0xb0;
export const XLOG_BTREE_VACUUM = 0xc0;
export const XLOG_BTREE_REUSE_PAGE = 0xd0;
export const XLOG_BTREE_META_CLEANUP = 0xe0;

const NAMES: Record<number, string> = {
  [XLOG_BTREE_INSERT_LEAF]: 'INSERT_LEAF',
  [XLOG_BTREE_INSERT_UPPER]: 'INSERT_UPPER',
  [XLOG_BTREE_INSERT_META]: 'INSERT_META',
  [XLOG_BTREE_SPLIT_L]: 'SPLIT_L',
  [XLOG_BTREE_SPLIT_R]: 'SPLIT_R',
  [XLOG_BTREE_INSERT_POST]: 'INSERT_POST',
  [XLOG_BTREE_DEDUP]: 'DEDUP',
  [XLOG_BTREE_VACUUM]: 'VACUUM',
  [XLOG_BTREE_DELETE]: 'DELETE',
  [XLOG_BTREE_MARK_PAGE_HALFDEAD]: 'MARK_PAGE_HALFDEAD',
  [XLOG_BTREE_UNLINK_PAGE]: 'UNLINK_PAGE',
  [XLOG_BTREE_UNLINK_PAGE_META]: 'UNLINK_PAGE_META',
  [XLOG_BTREE_NEWROOT]: 'NEWROOT',
  [XLOG_BTREE_REUSE_PAGE]: 'REUSE_PAGE',
  [XLOG_BTREE_META_CLEANUP]: 'META_CLEANUP',
};

/** A snapshot-conflict horizon (latestRemovedXid before 16) and, 16+, whether the relation is a catalog. */
export interface ConflictHorizon {
  /** The 32-bit xid (for FullTransactionId horizons, its low half). */
  horizon: number;
  /** The epoch of a FullTransactionId horizon (REUSE_PAGE records); absent for 32-bit horizons. */
  epoch?: number;
  /** Always false before 16, which did not record it. */
  isCatalogRel: boolean;
}

/** xl_btree_delete: the 16+ layout adds isCatalogRel after the two counts. */
export interface BtreeDelete {
  snapshotConflictHorizon: number;
  ndeleted: number;
  nupdated: number;
  isCatalogRel: boolean;
}

export function parseBtreeDelete(rec: DecodedRecord, major: Major): BtreeDelete {
  const v = viewOf(rec.mainData());
  return {
    snapshotConflictHorizon: v.getUint32(0, true),
    ndeleted: v.getUint16(4, true),
    nupdated: v.getUint16(6, true),
    isCatalogRel: major >= 16 ? v.getUint8(8) !== 0 : false,
  };
}

/** xl_btree_reuse_page: locator @0, block @12, FullTransactionId @16 (8-aligned), 16+: isCatalogRel @24. */
export interface BtreeReusePage {
  locator: RelFileLocator;
  block: number;
  horizonEpoch: number;
  horizonXid: number;
  isCatalogRel: boolean;
}

export function parseBtreeReusePage(rec: DecodedRecord, major: Major): BtreeReusePage {
  const v = viewOf(rec.mainData());
  return {
    locator: readRelFileLocator(v, 0),
    block: v.getUint32(12, true),
    horizonXid: v.getUint32(16, true),
    horizonEpoch: v.getUint32(20, true),
    isCatalogRel: major >= 16 ? v.getUint8(24) !== 0 : false,
  };
}

/** The conflict horizon of a DELETE or REUSE_PAGE record; undefined for any other Btree record. */
export function btreeConflictHorizon(rec: DecodedRecord, major: Major): ConflictHorizon | undefined {
  switch (rec.rmgrInfo) {
    case XLOG_BTREE_DELETE: {
      const d = parseBtreeDelete(rec, major);
      return { horizon: d.snapshotConflictHorizon, isCatalogRel: d.isCatalogRel };
    }
    case XLOG_BTREE_REUSE_PAGE: {
      const r = parseBtreeReusePage(rec, major);
      return { horizon: r.horizonXid, epoch: r.horizonEpoch, isCatalogRel: r.isCatalogRel };
    }
    default:
      return undefined;
  }
}

// see delvacuum_desc (nbtdesc.c, 16+): block 0 holds the deleted offsets, the updated offsets, then one
// xl_btree_update (ndeletedtids, then that many u16 posting-list positions) per updated offset.
function delvacuumDesc(data: Uint8Array, ndeleted: number, nupdated: number): string {
  const v = viewOf(data);
  const deleted: number[] = [];
  for (let i = 0; i < ndeleted; i++) deleted.push(v.getUint16(i * 2, true));
  let out = `, deleted:${arrayDesc(deleted)}, updated: [`;
  const updatedAt = ndeleted * 2;
  let pos = updatedAt + nupdated * 2;
  for (let i = 0; i < nupdated; i++) {
    const off = v.getUint16(updatedAt + i * 2, true);
    const n = v.getUint16(pos, true);
    pos += 2;
    const ptids: number[] = [];
    for (let p = 0; p < n; p++, pos += 2) ptids.push(v.getUint16(pos, true));
    out += `{ off: ${off}, nptids: ${n}, ptids: [${ptids.join(', ')}] }`;
    if (i < nupdated - 1) out += ', ';
  }
  return out + ']';
}

const fullXid = (v: DataView, at: number): string => `${v.getUint32(at + 4, true)}:${v.getUint32(at, true)}`;
const tf = (b: boolean): string => (b ? 'T' : 'F');

// see btree_desc (nbtdesc.c). 16 switched to `name: value` pairs separated by commas, renamed
// latestRemovedXid to snapshotConflictHorizon and added the offset arrays of VACUUM/DELETE (15 uses
// `name value` with semicolons); 17 also prints isCatalogRel.
function describeBtree(rec: DecodedRecord, major: Major): string {
  const v = viewOf(rec.mainData());
  const modern = major >= 16;
  const info = rec.rmgrInfo;
  switch (info) {
    case XLOG_BTREE_INSERT_LEAF:
    case XLOG_BTREE_INSERT_UPPER:
    case XLOG_BTREE_INSERT_META:
    case XLOG_BTREE_INSERT_POST:
      return `off${modern ? ':' : ''} ${v.getUint16(0, true)}`;
    case XLOG_BTREE_SPLIT_L:
    case XLOG_BTREE_SPLIT_R: {
      const level = v.getUint32(0, true);
      const firstright = v.getUint16(4, true);
      const newitem = v.getUint16(6, true);
      const posting = v.getUint16(8, true);
      return modern
        ? `level: ${level}, firstrightoff: ${firstright}, newitemoff: ${newitem}, postingoff: ${posting}`
        : `level ${level}, firstrightoff ${firstright}, newitemoff ${newitem}, postingoff ${posting}`;
    }
    case XLOG_BTREE_DEDUP:
      return `nintervals${modern ? ':' : ''} ${v.getUint16(0, true)}`;
    case XLOG_BTREE_VACUUM: {
      const ndeleted = v.getUint16(0, true);
      const nupdated = v.getUint16(2, true);
      if (!modern) return `ndeleted ${ndeleted}; nupdated ${nupdated}`;
      const data = rec.blockData(0);
      const arrays = data === undefined ? '' : delvacuumDesc(data, ndeleted, nupdated);
      return `ndeleted: ${ndeleted}, nupdated: ${nupdated}${arrays}`;
    }
    case XLOG_BTREE_DELETE: {
      const d = parseBtreeDelete(rec, major);
      if (!modern) return `latestRemovedXid ${d.snapshotConflictHorizon}; ndeleted ${d.ndeleted}; nupdated ${d.nupdated}`;
      const data = rec.blockData(0);
      const arrays = data === undefined ? '' : delvacuumDesc(data, d.ndeleted, d.nupdated);
      // 16 stores isCatalogRel but prints it only from 17 on.
      const catalog = major >= 17 ? `, isCatalogRel: ${tf(d.isCatalogRel)}` : '';
      return `snapshotConflictHorizon: ${d.snapshotConflictHorizon}, ndeleted: ${d.ndeleted}, nupdated: ${d.nupdated}${catalog}${arrays}`;
    }
    case XLOG_BTREE_MARK_PAGE_HALFDEAD: {
      // xl_btree_mark_page_halfdead: poffset u16 @0, leafblk @4, leftblk @8, rightblk @12, topparent @16
      const leaf = v.getUint32(4, true);
      const left = v.getUint32(8, true);
      const right = v.getUint32(12, true);
      const top = v.getUint32(16, true);
      return modern
        ? `topparent: ${top}, leaf: ${leaf}, left: ${left}, right: ${right}`
        : `topparent ${top}; leaf ${leaf}; left ${left}; right ${right}`;
    }
    case XLOG_BTREE_UNLINK_PAGE_META:
    case XLOG_BTREE_UNLINK_PAGE: {
      // xl_btree_unlink_page: leftsib @0, rightsib @4, level @8, safexid (8-aligned) @16, leafleftsib @24,
      // leafrightsib @28, leaftopparent @32
      const left = v.getUint32(0, true);
      const right = v.getUint32(4, true);
      const level = v.getUint32(8, true);
      const safexid = fullXid(v, 16);
      const leafleft = v.getUint32(24, true);
      const leafright = v.getUint32(28, true);
      const leaftop = v.getUint32(32, true);
      return modern
        ? `left: ${left}, right: ${right}, level: ${level}, safexid: ${safexid}, ` +
            `leafleft: ${leafleft}, leafright: ${leafright}, leaftopparent: ${leaftop}`
        : `left ${left}; right ${right}; level ${level}; safexid ${safexid}; ` +
            `leafleft ${leafleft}; leafright ${leafright}; leaftopparent ${leaftop}`;
    }
    case XLOG_BTREE_NEWROOT:
      return modern ? `level: ${v.getUint32(4, true)}` : `lev ${v.getUint32(4, true)}`;
    case XLOG_BTREE_REUSE_PAGE: {
      const r = parseBtreeReusePage(rec, major);
      const rel = `${r.locator.spcOid}/${r.locator.dbOid}/${r.locator.relNumber}`;
      if (!modern) return `rel ${rel}; latestRemovedXid ${r.horizonEpoch}:${r.horizonXid}`;
      const catalog = major >= 17 ? `, isCatalogRel: ${tf(r.isCatalogRel)}` : '';
      return `rel: ${rel}, snapshotConflictHorizon: ${r.horizonEpoch}:${r.horizonXid}${catalog}`;
    }
    case XLOG_BTREE_META_CLEANUP: {
      // xl_btree_metadata in block 0: last_cleanup_num_delpages @20
      const data = rec.blockData(0);
      if (data === undefined) return '';
      const n = viewOf(data).getUint32(20, true);
      return `last_cleanup_num_delpages${modern ? ':' : ''} ${n}`;
    }
    default:
      return '';
  }
}

export const btreeRmgr: RmgrDescriptor = {
  id: RM_BTREE_ID,
  name: 'Btree',
  identify: (info) => NAMES[info & 0xf0],
  describe: (rec, ctx) => describeBtree(rec, ctx.profile.major),
};
