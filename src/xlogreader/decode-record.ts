// DecodeXLogRecord: block references, origin, top-level xid and main data of an assembled, CRC-checked record.
import { formatLsn } from '../lsn.js';
import { u16, u32 } from './bytes.js';
import {
  BKPBLOCK_FORK_MASK,
  BKPBLOCK_HAS_DATA,
  BKPBLOCK_HAS_IMAGE,
  BKPBLOCK_SAME_REL,
  BKPIMAGE_APPLY,
  BKPIMAGE_COMPRESSED,
  BKPIMAGE_HAS_HOLE,
  DecodedRecord,
  SIZE_OF_XLOG_RECORD,
  type BlockRef,
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

/**
 * Fills `rec` from its bytes (header fields already set). Returns undefined on success, or the server's
 * message for a malformed header section. `readRecPtr` is what PostgreSQL names in these messages: the
 * previous record's LSN (DecodeXLogRecord runs before ReadRecPtr moves on).
 */
// see DecodeXLogRecord (xlogreader.c)
export function decodeRecordBody(rec: DecodedRecord, readRecLsn: number): string | undefined {
  const bytes = rec.bytes;
  const total = rec.totalLength;
  let ptr = SIZE_OF_XLOG_RECORD;
  let remaining = total - SIZE_OF_XLOG_RECORD;
  let datatotal = 0;
  let lastLocator: RelFileLocator | undefined;
  let blocks: (BlockRef | undefined)[] | undefined;
  let maxBlockId = -1;
  // Formatted only on error: this runs for every record.
  const at = (): string => formatLsn(readRecLsn);
  const short = (): string => `record with invalid length at ${at()}`;

  while (remaining > datatotal) {
    if (remaining < 1) return short();
    const id = bytes[ptr]!;
    ptr += 1;
    remaining -= 1;
    if (id === XLR_BLOCK_ID_DATA_SHORT) {
      if (remaining < 1) return short();
      rec.mainDataLength = bytes[ptr]!;
      ptr += 1;
      remaining -= 1;
      datatotal += rec.mainDataLength;
      break; // the main data header always comes last
    } else if (id === XLR_BLOCK_ID_DATA_LONG) {
      if (remaining < 4) return short();
      rec.mainDataLength = u32(bytes, ptr);
      ptr += 4;
      remaining -= 4;
      datatotal += rec.mainDataLength;
      break;
    } else if (id === XLR_BLOCK_ID_ORIGIN) {
      if (remaining < 2) return short();
      rec.origin = u16(bytes, ptr);
      ptr += 2;
      remaining -= 2;
    } else if (id === XLR_BLOCK_ID_TOPLEVEL_XID) {
      if (remaining < 4) return short();
      rec.toplevelXid = u32(bytes, ptr);
      ptr += 4;
      remaining -= 4;
    } else if (id <= XLR_MAX_BLOCK_ID) {
      if (id <= maxBlockId) return `out-of-order block_id ${id} at ${at()}`;
      maxBlockId = id;
      if (remaining < 3) return short();
      const flags = bytes[ptr]!;
      const dataLength = u16(bytes, ptr + 1);
      ptr += 3;
      remaining -= 3;
      const hasData = (flags & BKPBLOCK_HAS_DATA) !== 0;
      const hasImage = (flags & BKPBLOCK_HAS_IMAGE) !== 0;
      if (hasData && dataLength === 0) return `BKPBLOCK_HAS_DATA set, but no data included at ${at()}`;
      if (!hasData && dataLength !== 0) return `BKPBLOCK_HAS_DATA not set, but data length is ${dataLength} at ${at()}`;
      datatotal += dataLength;
      let imageLength = 0;
      let holeOffset = 0;
      let holeLength = 0;
      let bimgInfo = 0;
      if (hasImage) {
        if (remaining < 5) return short();
        imageLength = u16(bytes, ptr);
        holeOffset = u16(bytes, ptr + 2);
        bimgInfo = bytes[ptr + 4]!;
        ptr += 5;
        remaining -= 5;
        const compressed = (bimgInfo & BKPIMAGE_COMPRESSED) !== 0;
        if (compressed) {
          if (bimgInfo & BKPIMAGE_HAS_HOLE) {
            if (remaining < 2) return short();
            holeLength = u16(bytes, ptr);
            ptr += 2;
            remaining -= 2;
          }
        } else {
          holeLength = BLCKSZ - imageLength;
        }
        datatotal += imageLength;
        const hasHole = (bimgInfo & BKPIMAGE_HAS_HOLE) !== 0;
        if (hasHole && (holeOffset === 0 || holeLength === 0 || imageLength === BLCKSZ)) {
          return `BKPIMAGE_HAS_HOLE set, but hole offset ${holeOffset} length ${holeLength} block image length ${imageLength} at ${at()}`;
        }
        if (!hasHole && (holeOffset !== 0 || holeLength !== 0)) {
          return `BKPIMAGE_HAS_HOLE not set, but hole offset ${holeOffset} length ${holeLength} at ${at()}`;
        }
        if (compressed && imageLength === BLCKSZ) {
          return `BKPIMAGE_COMPRESSED set, but block image length ${imageLength} at ${at()}`;
        }
        if (!hasHole && !compressed && imageLength !== BLCKSZ) {
          // PostgreSQL prints data_len here, not the image length.
          return `neither BKPIMAGE_HAS_HOLE nor BKPIMAGE_COMPRESSED set, but block image length is ${dataLength} at ${at()}`;
        }
      }
      let locator: RelFileLocator;
      if (!(flags & BKPBLOCK_SAME_REL)) {
        if (remaining < 12) return short();
        locator = internLocator(u32(bytes, ptr), u32(bytes, ptr + 4), u32(bytes, ptr + 8));
        ptr += 12;
        remaining -= 12;
        lastLocator = locator;
      } else {
        if (lastLocator === undefined) return `BKPBLOCK_SAME_REL set but no previous rel at ${at()}`;
        locator = lastLocator;
      }
      if (remaining < 4) return short();
      const blockNumber = u32(bytes, ptr);
      ptr += 4;
      remaining -= 4;
      blocks ??= [];
      blocks[id] = {
        id,
        flags,
        forkNumber: flags & BKPBLOCK_FORK_MASK,
        locator,
        blockNumber,
        hasImage,
        applyImage: hasImage && (bimgInfo & BKPIMAGE_APPLY) !== 0,
        hasData,
        bimgInfo,
        imageLength,
        holeOffset,
        holeLength,
        imageOffset: 0,
        dataLength,
        dataOffset: 0,
      };
    } else {
      return `invalid block_id ${id} at ${at()}`;
    }
  }
  if (remaining !== datatotal) return short();

  // Payloads follow the headers in block-id order: image, then data; main data last.
  for (let id = 0; id <= maxBlockId; id++) {
    const b = blocks![id];
    if (b === undefined) continue;
    if (b.hasImage) {
      b.imageOffset = ptr;
      ptr += b.imageLength;
    }
    if (b.hasData) {
      b.dataOffset = ptr;
      ptr += b.dataLength;
    }
  }
  rec.mainDataOffset = ptr;
  if (blocks !== undefined) rec.blocks = blocks;
  rec.maxBlockId = maxBlockId;
  return undefined;
}
