// Gin resource manager (id 13): rm_identify and rm_desc of ginxlog.h records. The text is the same in 15–18.
import type { DecodedRecord } from '../record.js';
import type { RmgrDescriptor } from './types.js';
import { viewOf } from './utils.js';

export const RM_GIN_ID = 13;

export const XLOG_GIN_CREATE_PTREE = 0x10;
export const XLOG_GIN_INSERT = 0x20;
export const XLOG_GIN_SPLIT = 0x30;
export const XLOG_GIN_VACUUM_PAGE = 0x40;
export const XLOG_GIN_DELETE_PAGE = 0x50;
export const XLOG_GIN_UPDATE_META_PAGE = 0x60;
export const XLOG_GIN_INSERT_LISTPAGE = 0x70;
export const XLOG_GIN_DELETE_LISTPAGE = 0x80;
export const XLOG_GIN_VACUUM_DATA_LEAF_PAGE = 0x90;

const GIN_INSERT_ISDATA = 0x01;
const GIN_INSERT_ISLEAF = 0x02;
const GIN_SPLIT_ROOT = 0x04;

// ginxlogSegmentAction types
const GIN_SEGMENT_DELETE = 1;
const GIN_SEGMENT_INSERT = 2;
const GIN_SEGMENT_REPLACE = 3;
const GIN_SEGMENT_ADDITEMS = 4;

/** sizeof(GinMetaPageData): 52 bytes of fields padded to int64 alignment; ndeleted follows it. */
const SIZEOF_GIN_META_PAGE_DATA = 56;

const NAMES: Record<number, string> = {
  [XLOG_GIN_CREATE_PTREE]: 'CREATE_PTREE',
  [XLOG_GIN_INSERT]: 'INSERT',
  [XLOG_GIN_SPLIT]: 'SPLIT',
  [XLOG_GIN_VACUUM_PAGE]: 'VACUUM_PAGE',
  [XLOG_GIN_VACUUM_DATA_LEAF_PAGE]: 'VACUUM_DATA_LEAF_PAGE',
  [XLOG_GIN_DELETE_PAGE]: 'DELETE_PAGE',
  [XLOG_GIN_UPDATE_META_PAGE]: 'UPDATE_META_PAGE',
  [XLOG_GIN_INSERT_LISTPAGE]: 'INSERT_LISTPAGE',
  [XLOG_GIN_DELETE_LISTPAGE]: 'DELETE_LISTPAGE',
};

const shortAlign = (n: number): number => (n + 1) & ~1;
const tf = (b: number): string => (b ? 'T' : 'F');
/** BlockIdData: two u16 halves, high first. */
const blockId = (v: DataView, at: number): number => v.getUint16(at, true) * 0x10000 + v.getUint16(at + 2, true);

// see desc_recompress_leaf (gindesc.c): ginxlogRecompressDataLeaf is nactions (u16), then per action a segment
// number and type byte, followed by a posting list (INSERT/REPLACE) or an item count and items (ADDITEMS).
function descRecompressLeaf(data: Uint8Array): string {
  const v = viewOf(data);
  const nactions = v.getUint16(0, true);
  let out = ` ${nactions} segments:`;
  let pos = 2;
  for (let i = 0; i < nactions; i++) {
    const segno = v.getUint8(pos++);
    const action = v.getUint8(pos++);
    let nitems = 0;
    if (action === GIN_SEGMENT_INSERT || action === GIN_SEGMENT_REPLACE) {
      // GinPostingList: first ItemPointer (6), nbytes u16 @6, bytes @8
      const size = 8 + shortAlign(v.getUint16(pos + 6, true));
      pos += shortAlign(size);
    }
    if (action === GIN_SEGMENT_ADDITEMS) {
      nitems = v.getUint16(pos, true);
      pos += 2 + nitems * 6;
    }
    switch (action) {
      case GIN_SEGMENT_ADDITEMS:
        out += ` ${segno} (add ${nitems} items)`;
        break;
      case GIN_SEGMENT_DELETE:
        out += ` ${segno} (delete)`;
        break;
      case GIN_SEGMENT_INSERT:
        out += ` ${segno} (insert)`;
        break;
      case GIN_SEGMENT_REPLACE:
        out += ` ${segno} (replace)`;
        break;
      default:
        // Nothing after an unknown action can be located.
        return `${out} ${segno} unknown action ${action} ???`;
    }
  }
  return out;
}

function fpiNote(rec: DecodedRecord): string {
  return rec.blockImageApply(0) ? ' (full page image)' : ' (full page image, for WAL verification)';
}

// see gin_desc (gindesc.c)
function describeGin(rec: DecodedRecord): string {
  const v = viewOf(rec.mainData());
  switch (rec.rmgrInfo) {
    case XLOG_GIN_INSERT: {
      // ginxlogInsert: flags u16 @0; on a non-leaf page the left and right child BlockIdData follow
      const flags = v.getUint16(0, true);
      let out = `isdata: ${tf(flags & GIN_INSERT_ISDATA)} isleaf: ${tf(flags & GIN_INSERT_ISLEAF)}`;
      if (!(flags & GIN_INSERT_ISLEAF)) out += ` children: ${blockId(v, 2)}/${blockId(v, 6)}`;
      if (rec.block(0)?.hasImage) return out + fpiNote(rec);
      const payload = rec.blockData(0);
      if (payload === undefined) return out;
      const p = viewOf(payload);
      if (!(flags & GIN_INSERT_ISDATA)) {
        // ginxlogInsertEntry: offset u16 @0, isDelete @2
        out += ` isdelete: ${tf(p.getUint8(2))}`;
      } else if (flags & GIN_INSERT_ISLEAF) {
        out += descRecompressLeaf(payload);
      } else {
        // ginxlogInsertDataInternal: offset @0, PostingItem { child BlockIdData @2, key ItemPointer @6 }
        out += ` pitem: ${blockId(p, 2)}-${blockId(p, 6)}/${p.getUint16(10, true)}`;
      }
      return out;
    }
    case XLOG_GIN_SPLIT: {
      // ginxlogSplit: locator @0, rrlink @12, left/right child @16/@20, flags u16 @24
      const flags = v.getUint16(24, true);
      return (
        `isrootsplit: ${tf(flags & GIN_SPLIT_ROOT)}` +
        ` isdata: ${tf(flags & GIN_INSERT_ISDATA)} isleaf: ${tf(flags & GIN_INSERT_ISLEAF)}`
      );
    }
    case XLOG_GIN_VACUUM_DATA_LEAF_PAGE: {
      if (rec.block(0)?.hasImage) return fpiNote(rec);
      const payload = rec.blockData(0);
      return payload === undefined ? '' : descRecompressLeaf(payload);
    }
    case XLOG_GIN_DELETE_LISTPAGE:
      return `ndeleted: ${v.getInt32(SIZEOF_GIN_META_PAGE_DATA, true)}`;
    // Records gin_desc prints nothing for.
    case XLOG_GIN_CREATE_PTREE:
    case XLOG_GIN_VACUUM_PAGE:
    case XLOG_GIN_DELETE_PAGE:
    case XLOG_GIN_UPDATE_META_PAGE:
    case XLOG_GIN_INSERT_LISTPAGE:
    default:
      return '';
  }
}

export const ginRmgr: RmgrDescriptor = {
  id: RM_GIN_ID,
  name: 'Gin',
  identify: (info) => NAMES[info & 0xf0],
  describe: (rec) => describeGin(rec),
};
