// Full-page images: decompress (pglz, lz4, zstd) and put the hole back, as RestoreBlockImage does.
import { WalFormatError } from '../errors.js';
import { formatLsn } from '../lsn.js';
import { lz4DecompressBlock, pglzDecompress, zstdDecompressInto } from './compression.js';
import {
  BKPIMAGE_COMPRESS_LZ4,
  BKPIMAGE_COMPRESS_PGLZ,
  BKPIMAGE_COMPRESS_ZSTD,
  BKPIMAGE_COMPRESSED,
  type DecodedRecord,
} from './record.js';

export const BLCKSZ = 8192;

/** The compression method of an image as pg_waldump names it, or undefined when it is stored plain. */
export function imageCompression(bimgInfo: number): 'pglz' | 'lz4' | 'zstd' | 'unknown' | undefined {
  if (!(bimgInfo & BKPIMAGE_COMPRESSED)) return undefined;
  if (bimgInfo & BKPIMAGE_COMPRESS_PGLZ) return 'pglz';
  if (bimgInfo & BKPIMAGE_COMPRESS_LZ4) return 'lz4';
  if (bimgInfo & BKPIMAGE_COMPRESS_ZSTD) return 'zstd';
  return 'unknown';
}

/**
 * The 8 kB page a block reference's image stands for. Throws a WalFormatError naming the record and block
 * when the image does not decompress to exactly the size its header promises.
 */
// see RestoreBlockImage (xlogreader.c)
export function restoreBlockImage(rec: DecodedRecord, blockId: number, into: Uint8Array = new Uint8Array(BLCKSZ)): Uint8Array {
  const b = rec.block(blockId);
  const at = formatLsn(rec.lsn);
  const fail = (message: string): never => {
    throw new WalFormatError('invalid-image', message, { lsn: rec.lsn });
  };
  if (b === undefined) return fail(`could not restore image at ${at} with invalid block ${blockId} specified`);
  if (!b.hasImage) return fail(`could not restore image at ${at} with invalid state, block ${blockId}`);
  if (b.holeOffset + b.holeLength > BLCKSZ) {
    return fail(`could not restore image at ${at}: hole offset ${b.holeOffset} length ${b.holeLength} exceed the page, block ${blockId}`);
  }
  const image = rec.bytes.subarray(b.imageOffset, b.imageOffset + b.imageLength);
  const rawLength = BLCKSZ - b.holeLength;
  let raw: Uint8Array;
  const method = imageCompression(b.bimgInfo);
  if (method === undefined) {
    if (image.length !== rawLength) return fail(`could not restore image at ${at}: image length ${image.length}, expected ${rawLength}, block ${blockId}`);
    raw = image;
  } else {
    raw = new Uint8Array(rawLength);
    let n: number;
    if (method === 'pglz') n = pglzDecompress(image, raw, true);
    else if (method === 'lz4') n = lz4DecompressBlock(image, raw);
    else if (method === 'zstd') n = zstdDecompressInto(image, raw);
    else return fail(`could not restore image at ${at} compressed with unknown method, block ${blockId}`);
    // The server accepts a short lz4/zstd result; a page is always exactly this long, so anything else is corrupt.
    if (n !== rawLength) return fail(`could not decompress image at ${at}, block ${blockId}`);
  }
  if (b.holeLength === 0) {
    into.set(raw);
  } else {
    into.set(raw.subarray(0, b.holeOffset), 0);
    into.fill(0, b.holeOffset, b.holeOffset + b.holeLength);
    into.set(raw.subarray(b.holeOffset), b.holeOffset + b.holeLength);
  }
  return into;
}
