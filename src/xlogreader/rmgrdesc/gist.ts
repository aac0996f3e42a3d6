// Gist resource manager (id 14): rm_identify, rm_desc and the payload parses of gistxlog.h records.
import type { DecodedRecord, RelFileLocator } from '../record.js';
import type { Major } from '../profile.js';
import type { RmgrDescriptor } from './types.js';
import { parseBtreeReusePage, type ConflictHorizon } from './nbtree.js';
import { readRelFileLocator, viewOf } from './utils.js';

export const RM_GIST_ID = 14;

export const XLOG_GIST_PAGE_UPDATE = 0x00;
export const XLOG_GIST_DELETE = 0x10;
export const XLOG_GIST_PAGE_REUSE = 0x20;
export const XLOG_GIST_PAGE_SPLIT = 0x30;
export const XLOG_GIST_PAGE_DELETE = 0x60;
export const XLOG_GIST_ASSIGN_LSN = 0x70;

const NAMES: Record<number, string> = {
  [XLOG_GIST_PAGE_UPDATE]: 'PAGE_UPDATE',
  [XLOG_GIST_DELETE]: 'DELETE',
  [XLOG_GIST_PAGE_REUSE]: 'PAGE_REUSE',
  [XLOG_GIST_PAGE_SPLIT]: 'PAGE_SPLIT',
  [XLOG_GIST_PAGE_DELETE]: 'PAGE_DELETE',
  [XLOG_GIST_ASSIGN_LSN]: 'ASSIGN_LSN',
};

/** gistxlogDelete: horizon @0, ntodelete u16 @4, 16+: isCatalogRel @6. */
export interface GistDelete {
  snapshotConflictHorizon: number;
  ntodelete: number;
  isCatalogRel: boolean;
}

export function parseGistDelete(rec: DecodedRecord, major: Major): GistDelete {
  const v = viewOf(rec.mainData());
  return {
    snapshotConflictHorizon: v.getUint32(0, true),
    ntodelete: v.getUint16(4, true),
    isCatalogRel: major >= 16 ? v.getUint8(6) !== 0 : false,
  };
}

/** gistxlogPageReuse has the layout of xl_btree_reuse_page. */
export const parseGistPageReuse = parseBtreeReusePage;

/** The conflict horizon of a DELETE or PAGE_REUSE record; undefined for any other Gist record. */
export function gistConflictHorizon(rec: DecodedRecord, major: Major): ConflictHorizon | undefined {
  switch (rec.rmgrInfo) {
    case XLOG_GIST_DELETE: {
      const d = parseGistDelete(rec, major);
      return { horizon: d.snapshotConflictHorizon, isCatalogRel: d.isCatalogRel };
    }
    case XLOG_GIST_PAGE_REUSE: {
      const r = parseGistPageReuse(rec, major);
      return { horizon: r.horizonXid, epoch: r.horizonEpoch, isCatalogRel: r.isCatalogRel };
    }
    default:
      return undefined;
  }
}

// 16 stores isCatalogRel but prints it only from 17 on.
const catalogNote = (isCatalogRel: boolean, major: Major): string =>
  major >= 17 ? `, isCatalogRel ${isCatalogRel ? 'T' : 'F'}` : '';

// see gist_desc (gistdesc.c); 16 renamed latestRemovedXid to snapshotConflictHorizon, 17 prints isCatalogRel.
function describeGist(rec: DecodedRecord, major: Major): string {
  const v = viewOf(rec.mainData());
  switch (rec.rmgrInfo) {
    case XLOG_GIST_PAGE_REUSE: {
      const r = parseGistPageReuse(rec, major);
      const head = `rel ${r.locator.spcOid}/${r.locator.dbOid}/${r.locator.relNumber}; blk ${r.block}; `;
      if (major < 16) return `${head}latestRemovedXid ${r.horizonEpoch}:${r.horizonXid}`;
      return `${head}snapshotConflictHorizon ${r.horizonEpoch}:${r.horizonXid}${catalogNote(r.isCatalogRel, major)}`;
    }
    case XLOG_GIST_DELETE: {
      const d = parseGistDelete(rec, major);
      if (major < 16) return `delete: latestRemovedXid ${d.snapshotConflictHorizon}, nitems: ${d.ntodelete}`;
      return `delete: snapshotConflictHorizon ${d.snapshotConflictHorizon}, nitems: ${d.ntodelete}${catalogNote(d.isCatalogRel, major)}`;
    }
    case XLOG_GIST_PAGE_SPLIT:
      // gistxlogPageSplit: origrlink @0, orignsn (8-aligned) @8, origleaf @16, npage u16 @18
      return `page_split: splits to ${v.getUint16(18, true)} pages`;
    case XLOG_GIST_PAGE_DELETE:
      // gistxlogPageDelete: deleteXid FullTransactionId @0, downlinkOffset @8
      return `deleteXid ${v.getUint32(4, true)}:${v.getUint32(0, true)}; downlink ${v.getUint16(8, true)}`;
    // Records gist_desc prints nothing for.
    case XLOG_GIST_PAGE_UPDATE:
    case XLOG_GIST_ASSIGN_LSN:
    default:
      return '';
  }
}

export const gistRmgr: RmgrDescriptor = {
  id: RM_GIST_ID,
  name: 'Gist',
  identify: (info) => NAMES[info & 0xf0],
  describe: (rec, ctx) => describeGist(rec, ctx.profile.major),
};
