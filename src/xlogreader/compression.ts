// Decompressors for full-page images and TOAST values: pglz (pg_lzcompress.c), LZ4 block format, zstd frames.
// Each writes into an output of the exact expected size and reports failure rather than growing it, so a
// hostile input cannot make them allocate more than the caller's bound.
import { decompress as zstdDecompress } from 'fzstd';

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
  let sp = 0;
  let dp = 0;
  const srcend = source.length;
  const destend = dest.length;
  if (srcend === 0) return -1;
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

/** One zstd frame into `dest`; returns the bytes produced, or -1 when it is corrupt or larger than `dest`. */
export function zstdDecompressInto(source: Uint8Array, dest: Uint8Array): number {
  // fzstd checks the declared content size against the buffer it is given, and never grows it.
  try {
    const out = zstdDecompress(source, dest);
    if (out.buffer !== dest.buffer) {
      if (out.length > dest.length) return -1;
      dest.set(out);
    }
    return out.length;
  } catch {
    return -1;
  }
}
