// Decompressors for full-page images and TOAST values: pglz (pg_lzcompress.c), LZ4 block format, zstd frames.
// Each writes into an output of the exact expected size and reports failure rather than growing it, so a
// hostile input cannot make them allocate more than the caller's bound.
import { Decompress as ZstdStream } from 'fzstd';

/**
 * pglz_decompress: fills `dest` from `source`. Returns the bytes produced, or -1 on corrupt input. With
 * `checkComplete`, the output must be exactly full and the input exactly consumed (as for FPIs).
 */
// see pglz_decompress (pg_lzcompress.c)
export function pglzDecompress(source: Uint8Array, dest: Uint8Array, checkComplete: boolean): number {
  let sp = 0;
  let dp = 0;
  const srcend = source.length;
  const destend = dest.length;
  while (sp < srcend && dp < destend) {
    let ctrl = source[sp++]!;
    for (let i = 0; i < 8 && sp < srcend && dp < destend; i++) {
      if (ctrl & 1) {
        if (sp + 2 > srcend) return -1;
        let len = (source[sp]! & 0x0f) + 3;
        const off = ((source[sp]! & 0xf0) << 4) | source[sp + 1]!;
        sp += 2;
        if (len === 18) {
          if (sp >= srcend) return -1;
          len += source[sp++]!;
        }
        if (off === 0 || off > dp) return -1;
        len = Math.min(len, destend - dp);
        // Overlapping copies repeat the last `off` bytes, so copy byte by byte.
        for (let k = 0; k < len; k++) dest[dp + k] = dest[dp - off + k]!;
        dp += len;
      } else {
        dest[dp++] = source[sp++]!;
      }
      ctrl >>= 1;
    }
  }
  if (checkComplete && (dp !== destend || sp !== srcend)) return -1;
  return dp;
}

/**
 * LZ4 block format (no frame), as LZ4_decompress_safe: returns the bytes produced, or -1 when the input is
 * malformed or would write past `dest`.
 */
export function lz4DecompressBlock(source: Uint8Array, dest: Uint8Array): number {
  return lz4Block(source, 0, source.length, dest, 0);
}

/**
 * Decodes one LZ4 block from source[sp, srcend) into dest at `dp`; matches may reach back before `dp` (linked
 * blocks of a frame). Returns the new output position, or -1.
 */
function lz4Block(source: Uint8Array, sp: number, srcend: number, dest: Uint8Array, dp: number): number {
  const destend = dest.length;
  if (srcend <= sp) return -1;
  for (;;) {
    if (sp >= srcend) return -1;
    const token = source[sp++]!;
    let litLen = token >>> 4;
    if (litLen === 15) {
      let b: number;
      do {
        if (sp >= srcend) return -1;
        b = source[sp++]!;
        litLen += b;
      } while (b === 255);
    }
    if (sp + litLen > srcend || dp + litLen > destend) return -1;
    dest.set(source.subarray(sp, sp + litLen), dp);
    sp += litLen;
    dp += litLen;
    // The last sequence has literals only.
    if (sp === srcend) return dp;
    if (sp + 2 > srcend) return -1;
    const offset = source[sp]! | (source[sp + 1]! << 8);
    sp += 2;
    if (offset === 0 || offset > dp) return -1;
    let matchLen = (token & 0x0f) + 4;
    if ((token & 0x0f) === 15) {
      let b: number;
      do {
        if (sp >= srcend) return -1;
        b = source[sp++]!;
        matchLen += b;
      } while (b === 255);
    }
    if (dp + matchLen > destend) return -1;
    for (let k = 0; k < matchLen; k++) dest[dp + k] = dest[dp - offset + k]!;
    dp += matchLen;
  }
}

const LZ4_FRAME_MAGIC = 0x184d2204;

/**
 * An LZ4 frame (lz4 --frame, pg_receivewal --compress=lz4, archivers) into at most `maxSize` bytes. Returns the
 * content, or undefined when the input is not a well-formed frame or would exceed `maxSize`. Checksums are
 * not verified: the WAL inside carries its own CRCs and page headers.
 */
export function lz4DecompressFrame(source: Uint8Array, maxSize: number): Uint8Array | undefined {
  const u32 = (o: number): number => (source[o]! | (source[o + 1]! << 8) | (source[o + 2]! << 16)) + source[o + 3]! * 0x1000000;
  if (source.length < 7 || u32(0) !== LZ4_FRAME_MAGIC) return undefined;
  const flg = source[4]!;
  if (flg >> 6 !== 1) return undefined;
  const blockChecksum = (flg & 0x10) !== 0;
  const contentSize = (flg & 0x08) !== 0;
  const contentChecksum = (flg & 0x04) !== 0;
  const dictId = (flg & 0x01) !== 0;
  let sp = 6 + (contentSize ? 8 : 0) + (dictId ? 4 : 0) + 1; // FLG, BD, [size], [dict], HC
  const out = new Uint8Array(maxSize);
  let dp = 0;
  for (;;) {
    if (sp + 4 > source.length) return undefined;
    const word = u32(sp);
    sp += 4;
    if (word === 0) break;
    const size = word & 0x7fffffff;
    if (sp + size > source.length) return undefined;
    if (word & 0x80000000) {
      if (dp + size > maxSize) return undefined;
      out.set(source.subarray(sp, sp + size), dp);
      dp += size;
    } else {
      const next = lz4Block(source, sp, sp + size, out, dp);
      if (next < 0) return undefined;
      dp = next;
    }
    sp += size + (blockChecksum ? 4 : 0);
  }
  if (contentChecksum) sp += 4;
  return out.subarray(0, dp);
}

/** One zstd frame into `dest`; returns the bytes produced, or -1 when it is corrupt or larger than `dest`. */
export function zstdDecompressInto(source: Uint8Array, dest: Uint8Array): number {
  // fzstd's one-shot decompress(source, dest) drops what does not fit in `dest` without a word, and says
  // nothing of how much it wrote: the streaming decoder hands over each block, so the count is exact and
  // decoding stops at the first block that would not fit (a bomb costs no more than `dest`).
  let n = 0;
  const d = new ZstdStream((chunk: Uint8Array) => {
    if (n + chunk.length > dest.length) throw new RangeError('zstd output larger than its buffer');
    dest.set(chunk, n);
    n += chunk.length;
  });
  try {
    d.push(source, true);
  } catch {
    return -1;
  }
  return n;
}
