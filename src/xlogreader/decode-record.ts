// DecodeXLogRecord: block references, origin, top-level xid and main data of an assembled, CRC-checked record.
import { formatLsn } from '../lsn.js';
import { u16, u32 } from './bytes.js';
import {
  BKPBLOCK_FORK_MASK,
  BKPBLOCK_HAS_DATA,
  BKPBLOCK_HAS_IMAGE,
  BKPBLOCK_SAME_REL,
  BlockRef,
  BKPIMAGE_COMPRESSED,
  BKPIMAGE_HAS_HOLE,
  DecodedRecord,
  SIZE_OF_XLOG_RECORD,
  setBlockDecoder,
  type RelFileLocator,
} from './record.js';

const XLR_MAX_BLOCK_ID = 32;
const XLR_BLOCK_ID_DATA_SHORT = 255;
const XLR_BLOCK_ID_DATA_LONG = 254;
const XLR_BLOCK_ID_ORIGIN = 253;
const XLR_BLOCK_ID_TOPLEVEL_XID = 252;
const BLCKSZ = 8192;

// Most records touch the relation the previous one touched: share its (immutable) locator object.
let lastLocator: RelFileLocator = { spcOid: 0, dbOid: 0, relNumber: 0 };
function internLocator(spcOid: number, dbOid: number, relNumber: number): RelFileLocator {
  const l = lastLocator;
  if (l.relNumber === relNumber && l.dbOid === dbOid && l.spcOid === spcOid) return l;
  return (lastLocator = { spcOid, dbOid, relNumber });
}

const SHORT = 1;
/** The message for a failed check: `at` is the LSN PostgreSQL names (formatted only on error). */
function failure(code: number, at: number, a = 0, b = 0, c = 0): string {
  const lsn = formatLsn(at);
  switch (code) {
    case 2:
      return `out-of-order block_id ${a} at ${lsn}`;
    case 3:
      return `BKPBLOCK_HAS_DATA set, but no data included at ${lsn}`;
    case 4:
      return `BKPBLOCK_HAS_DATA not set, but data length is ${a} at ${lsn}`;
    case 5:
      return `BKPIMAGE_HAS_HOLE set, but hole offset ${a} length ${b} block image length ${c} at ${lsn}`;
    case 6:
      return `BKPIMAGE_HAS_HOLE not set, but hole offset ${a} length ${b} at ${lsn}`;
    case 7:
      return `BKPIMAGE_COMPRESSED set, but block image length ${a} at ${lsn}`;
    case 8:
      // PostgreSQL prints data_len here, not the image length.
      return `neither BKPIMAGE_HAS_HOLE nor BKPIMAGE_COMPRESSED set, but block image length is ${a} at ${lsn}`;
    case 9:
      return `BKPBLOCK_SAME_REL set but no previous rel at ${lsn}`;
    case 10:
      return `invalid block_id ${a} at ${lsn}`;
    default:
      return `record with invalid length at ${lsn}`;
  }
}

/**
 * Checks the header section of the record that is `total` bytes of `bytes` from `base` and fills `rec`'s
 * origin, top-level xid, main data, maxBlockId and fpiLength; block references are built on first use
 * (decodeBlockRefs), so this allocates nothing. Returns undefined on success, or the server's message for a
 * malformed header section. `readRecLsn` is what PostgreSQL names in these messages: the previous record's LSN
 * (DecodeXLogRecord runs before ReadRecPtr moves on).
 */
// see DecodeXLogRecord (xlogreader.c)
export function decodeRecordBody(rec: DecodedRecord, readRecLsn: number, bytes: Uint8Array = rec.bytes, base = 0): string | undefined {
  const total = rec.totalLength;
  let ptr = base + SIZE_OF_XLOG_RECORD;
  let remaining = total - SIZE_OF_XLOG_RECORD;
  let datatotal = 0;
  let haveRel = false;
  let maxBlockId = -1;
  let fpi = 0;

  while (remaining > datatotal) {
    if (remaining < 1) return failure(SHORT, readRecLsn);
    const id = bytes[ptr]!;
    ptr += 1;
    remaining -= 1;
    if (id === XLR_BLOCK_ID_DATA_SHORT) {
      if (remaining < 1) return failure(SHORT, readRecLsn);
      rec.mainDataLength = bytes[ptr]!;
      ptr += 1;
      remaining -= 1;
      datatotal += rec.mainDataLength;
      break; // the main data header always comes last
    } else if (id === XLR_BLOCK_ID_DATA_LONG) {
      if (remaining < 4) return failure(SHORT, readRecLsn);
      rec.mainDataLength = u32(bytes, ptr);
      ptr += 4;
      remaining -= 4;
      datatotal += rec.mainDataLength;
      break;
    } else if (id === XLR_BLOCK_ID_ORIGIN) {
      if (remaining < 2) return failure(SHORT, readRecLsn);
      rec.origin = u16(bytes, ptr);
      ptr += 2;
      remaining -= 2;
    } else if (id === XLR_BLOCK_ID_TOPLEVEL_XID) {
      if (remaining < 4) return failure(SHORT, readRecLsn);
      rec.toplevelXid = u32(bytes, ptr);
      ptr += 4;
      remaining -= 4;
    } else if (id <= XLR_MAX_BLOCK_ID) {
      if (id <= maxBlockId) return failure(2, readRecLsn, id);
      maxBlockId = id;
      if (remaining < 3) return failure(SHORT, readRecLsn);
      const flags = bytes[ptr]!;
      const dataLength = u16(bytes, ptr + 1);
      ptr += 3;
      remaining -= 3;
      const hasData = (flags & BKPBLOCK_HAS_DATA) !== 0;
      if (hasData && dataLength === 0) return failure(3, readRecLsn);
      if (!hasData && dataLength !== 0) return failure(4, readRecLsn, dataLength);
      datatotal += dataLength;
      if (flags & BKPBLOCK_HAS_IMAGE) {
        if (remaining < 5) return failure(SHORT, readRecLsn);
        const imageLength = u16(bytes, ptr);
        const holeOffset = u16(bytes, ptr + 2);
        const bimgInfo = bytes[ptr + 4]!;
        let holeLength = 0;
        ptr += 5;
        remaining -= 5;
        const compressed = (bimgInfo & BKPIMAGE_COMPRESSED) !== 0;
        if (compressed) {
          if (bimgInfo & BKPIMAGE_HAS_HOLE) {
            if (remaining < 2) return failure(SHORT, readRecLsn);
            holeLength = u16(bytes, ptr);
            ptr += 2;
            remaining -= 2;
          }
        } else {
          holeLength = BLCKSZ - imageLength;
        }
        datatotal += imageLength;
        fpi += imageLength;
        const hasHole = (bimgInfo & BKPIMAGE_HAS_HOLE) !== 0;
        if (hasHole && (holeOffset === 0 || holeLength === 0 || imageLength === BLCKSZ)) {
          return failure(5, readRecLsn, holeOffset, holeLength, imageLength);
        }
        if (!hasHole && (holeOffset !== 0 || holeLength !== 0)) return failure(6, readRecLsn, holeOffset, holeLength);
        if (compressed && imageLength === BLCKSZ) return failure(7, readRecLsn, imageLength);
        if (!hasHole && !compressed && imageLength !== BLCKSZ) return failure(8, readRecLsn, dataLength);
      }
      if (!(flags & BKPBLOCK_SAME_REL)) {
        if (remaining < 12) return failure(SHORT, readRecLsn);
        ptr += 12;
        remaining -= 12;
        haveRel = true;
      } else if (!haveRel) {
        return failure(9, readRecLsn);
      }
      if (remaining < 4) return failure(SHORT, readRecLsn);
      ptr += 4;
      remaining -= 4;
    } else {
      return failure(10, readRecLsn, id);
    }
  }
  if (remaining !== datatotal) return failure(SHORT, readRecLsn);
  // Payloads follow the headers in block-id order (images, then data); main data last.
  rec.mainDataOffset = ptr - base + datatotal - rec.mainDataLength;
  rec.maxBlockId = maxBlockId;
  rec.fpiLength = fpi;
  return undefined;
}

/**
 * decodeRecordBody for a record whose headers a read-ahead worker already found DecodeXLogRecord accepts (a
 * VouchedRun's): the same fields, none of the checks. Ends whatever the bytes (each step moves on).
 */
export function decodeVouchedBody(rec: DecodedRecord, bytes: Uint8Array, base: number): void {
  const end = base + rec.totalLength;
  let ptr = base + SIZE_OF_XLOG_RECORD;
  let datatotal = 0;
  let maxBlockId = -1;
  let fpi = 0;
  while (end - ptr > datatotal) {
    const id = bytes[ptr]!;
    if (id === XLR_BLOCK_ID_DATA_SHORT) {
      rec.mainDataLength = bytes[ptr + 1]!;
      ptr += 2;
      datatotal += rec.mainDataLength;
      break;
    } else if (id === XLR_BLOCK_ID_DATA_LONG) {
      rec.mainDataLength = u32(bytes, ptr + 1);
      ptr += 5;
      datatotal += rec.mainDataLength;
      break;
    } else if (id === XLR_BLOCK_ID_ORIGIN) {
      rec.origin = u16(bytes, ptr + 1);
      ptr += 3;
    } else if (id === XLR_BLOCK_ID_TOPLEVEL_XID) {
      rec.toplevelXid = u32(bytes, ptr + 1);
      ptr += 5;
    } else {
      maxBlockId = id;
      const flags = bytes[ptr + 1]!;
      datatotal += bytes[ptr + 2]! | (bytes[ptr + 3]! << 8);
      ptr += 4;
      if (flags & BKPBLOCK_HAS_IMAGE) {
        const imageLength = bytes[ptr]! | (bytes[ptr + 1]! << 8);
        const bimgInfo = bytes[ptr + 4]!;
        datatotal += imageLength;
        fpi += imageLength;
        ptr += bimgInfo & BKPIMAGE_COMPRESSED && bimgInfo & BKPIMAGE_HAS_HOLE ? 7 : 5;
      }
      ptr += flags & BKPBLOCK_SAME_REL ? 4 : 16;
    }
  }
  rec.mainDataOffset = ptr - base + datatotal - rec.mainDataLength;
  rec.maxBlockId = maxBlockId;
  rec.fpiLength = fpi;
}

/** The block references of a record decodeRecordBody accepted: the same walk, now keeping what it finds. */
// see DecodeXLogRecord (xlogreader.c)
export function decodeBlockRefs(rec: DecodedRecord): (BlockRef | undefined)[] {
  const bytes = rec.bytes;
  // Sized once: a growing array would reserve room for 17 references.
  const blocks: (BlockRef | undefined)[] = new Array<BlockRef | undefined>(rec.maxBlockId + 1);
  let ptr = SIZE_OF_XLOG_RECORD;
  let locator: RelFileLocator | undefined;
  for (;;) {
    const id = bytes[ptr++]!;
    if (id === XLR_BLOCK_ID_DATA_SHORT || id === XLR_BLOCK_ID_DATA_LONG || ptr > rec.totalLength) break;
    if (id === XLR_BLOCK_ID_ORIGIN) {
      ptr += 2;
      continue;
    }
    if (id === XLR_BLOCK_ID_TOPLEVEL_XID) {
      ptr += 4;
      continue;
    }
    const flags = bytes[ptr]!;
    const dataLength = u16(bytes, ptr + 1);
    ptr += 3;
    const hasData = (flags & BKPBLOCK_HAS_DATA) !== 0;
    const hasImage = (flags & BKPBLOCK_HAS_IMAGE) !== 0;
    let imageLength = 0;
    let holeOffset = 0;
    let holeLength = 0;
    let bimgInfo = 0;
    if (hasImage) {
      imageLength = u16(bytes, ptr);
      holeOffset = u16(bytes, ptr + 2);
      bimgInfo = bytes[ptr + 4]!;
      ptr += 5;
      if (bimgInfo & BKPIMAGE_COMPRESSED) {
        if (bimgInfo & BKPIMAGE_HAS_HOLE) {
          holeLength = u16(bytes, ptr);
          ptr += 2;
        }
      } else {
        holeLength = BLCKSZ - imageLength;
      }
    }
    if (!(flags & BKPBLOCK_SAME_REL)) {
      locator = internLocator(u32(bytes, ptr), u32(bytes, ptr + 4), u32(bytes, ptr + 8));
      ptr += 12;
    }
    const blockNumber = u32(bytes, ptr);
    ptr += 4;
    blocks[id] = new BlockRef(id, flags, locator!, blockNumber, bimgInfo, imageLength, holeOffset, holeLength, dataLength);
    if (id === rec.maxBlockId) break;
  }
  // Payloads follow the headers in block-id order: image, then data.
  ptr = rec.mainDataOffset;
  for (let id = rec.maxBlockId; id >= 0; id--) {
    const b = blocks[id];
    if (b === undefined) continue;
    if (b.hasData) {
      ptr -= b.dataLength;
      b.dataOffset = ptr;
    }
    if (b.hasImage) {
      ptr -= b.imageLength;
      b.imageOffset = ptr;
    }
  }
  return blocks;
}

setBlockDecoder(decodeBlockRefs);

/** Block 0 of a record, as readBlockZero finds it: numbers only. */
export class BlockZero {
  spcOid = 0;
  dbOid = 0;
  relNumber = 0;
  blockNumber = 0;
  /** fork_flags as stored. */
  flags = 0;
  /** Where its data lies in `rec.source` (not `rec.bytes`); length 0 when it has none. */
  dataOffset = 0;
  dataLength = 0;
}

/**
 * Block 0 of a record, into `out`; false when the record has none. When block 0 is the only reference (a heap
 * record's usual case) it is read straight from its header, without building the record's references: the
 * logical decoder's path, where those objects were a tenth of what it allocated.
 */
export function readBlockZero(rec: DecodedRecord, out: BlockZero): boolean {
  const b = rec.source;
  const base = rec.sourceOffset;
  if (rec.maxBlockId === 0 && b[base + SIZE_OF_XLOG_RECORD] === 0) {
    // decodeRecordBody accepted these headers: block 0 comes first and names its relation (no SAME_REL).
    let p = base + SIZE_OF_XLOG_RECORD + 1;
    const flags = b[p]!;
    const dataLength = flags & BKPBLOCK_HAS_DATA ? b[p + 1]! | (b[p + 2]! << 8) : 0;
    p += 3;
    if (flags & BKPBLOCK_HAS_IMAGE) {
      const bimgInfo = b[p + 4]!;
      p += bimgInfo & BKPIMAGE_COMPRESSED && bimgInfo & BKPIMAGE_HAS_HOLE ? 7 : 5;
    }
    out.spcOid = u32(b, p);
    out.dbOid = u32(b, p + 4);
    out.relNumber = u32(b, p + 8);
    out.blockNumber = u32(b, p + 12);
    out.flags = flags;
    // Its data lies just before the main data (an image, if any, before that).
    out.dataOffset = base + rec.mainDataOffset - dataLength;
    out.dataLength = dataLength;
    return true;
  }
  const blk = rec.block(0);
  if (blk === undefined) return false;
  out.spcOid = blk.locator.spcOid;
  out.dbOid = blk.locator.dbOid;
  out.relNumber = blk.locator.relNumber;
  out.blockNumber = blk.blockNumber;
  out.flags = blk.flags;
  out.dataOffset = base + blk.dataOffset;
  out.dataLength = blk.hasData ? blk.dataLength : 0;
  return true;
}

/** The relfilenode number of block 0 as readBlockZero finds it (-1: no block 0): one number, for a filter. */
export function blockZeroRelNumber(rec: DecodedRecord): number {
  const b = rec.source;
  const base = rec.sourceOffset;
  if (rec.maxBlockId === 0 && b[base + SIZE_OF_XLOG_RECORD] === 0) {
    const p = base + SIZE_OF_XLOG_RECORD + 1;
    const q = b[p]! & BKPBLOCK_HAS_IMAGE ? p + 3 + (b[p + 7]! & BKPIMAGE_COMPRESSED && b[p + 7]! & BKPIMAGE_HAS_HOLE ? 7 : 5) : p + 3;
    return u32(b, q + 8);
  }
  const blk = rec.block(0);
  return blk === undefined ? -1 : blk.locator.relNumber;
}
