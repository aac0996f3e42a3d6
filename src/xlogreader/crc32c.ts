// CRC-32C over WAL records: the body first, then the header up to xl_crc (ValidXLogRecord, pg_crc32c.h).

/** CRC-32C of `bytes[start..end)`, continuing from `seed` (a finished CRC, as COMP_CRC32C calls chain); signed. */
export type Crc32cRange = (bytes: Uint8Array, start: number, end: number, seed: number) => number;

export interface Crc32c {
  range: Crc32cRange;
  /**
   * The CRC a record of `totalLength` (≥ 24) bytes at `offset` of `bytes` should carry (its body, then its header
   * up to xl_crc: ValidXLogRecord), unsigned. One call per record: WAL records are mostly short, and two calls
   * with their set-up cost more than the bytes.
   */
  record: (bytes: Uint8Array, offset: number, totalLength: number) => number;
  /** The 16 slice-by-16 tables of 256 entries, table t at t * 256 (crc32c-wasm.ts copies them). */
  tables: Int32Array;
}

/**
 * Builds the CRC-32C functions: slice-by-16 (Castagnoli, reflected) reading the input four bytes at a time where
 * it is 4-byte aligned (record bodies are), which in V8 beats per-byte reads by ~1.5× and needs no subarray per
 * call; slice-by-4 for the last words. Self-contained on purpose: the read-ahead worker runs this function's
 * source text too.
 */
export function makeCrc32c(): Crc32c {
  const T = new Int32Array(16 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    T[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    let v = T[n]!;
    for (let t = 1; t < 16; t++) {
      v = (v >>> 8) ^ T[v & 255]!;
      T[t * 256 + n] = v;
    }
  }
  const littleEndian = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
  // An Int32Array over the last buffer seen: WAL is read in large buffers, so this is made once per buffer.
  let wordsOf: ArrayBufferLike | undefined;
  let words: Int32Array<ArrayBufferLike> = new Int32Array(0);
  const wordsFor = (b: Uint8Array): Int32Array<ArrayBufferLike> => {
    if (b.buffer !== wordsOf) {
      wordsOf = b.buffer;
      words = new Int32Array(b.buffer, 0, b.buffer.byteLength >>> 2);
    }
    return words;
  };
  // The 16 bytes from word k, XORed into c.
  const step16 = (w: Int32Array<ArrayBufferLike>, k: number, c: number): number => {
    const a = w[k]! ^ c;
    const x = w[k + 1]!;
    const y = w[k + 2]!;
    const z = w[k + 3]!;
    return (
      T[3840 + (a & 255)]! ^ T[3584 + ((a >>> 8) & 255)]! ^ T[3328 + ((a >>> 16) & 255)]! ^ T[3072 + (a >>> 24)]! ^
      T[2816 + (x & 255)]! ^ T[2560 + ((x >>> 8) & 255)]! ^ T[2304 + ((x >>> 16) & 255)]! ^ T[2048 + (x >>> 24)]! ^
      T[1792 + (y & 255)]! ^ T[1536 + ((y >>> 8) & 255)]! ^ T[1280 + ((y >>> 16) & 255)]! ^ T[1024 + (y >>> 24)]! ^
      T[768 + (z & 255)]! ^ T[512 + ((z >>> 8) & 255)]! ^ T[256 + ((z >>> 16) & 255)]! ^ T[z >>> 24]!
    );
  };
  const step4 = (w: Int32Array<ArrayBufferLike>, k: number, c: number): number => {
    const a = w[k]! ^ c;
    return T[768 + (a & 255)]! ^ T[512 + ((a >>> 8) & 255)]! ^ T[256 + ((a >>> 16) & 255)]! ^ T[a >>> 24]!;
  };
  const range = (b: Uint8Array, i: number, end: number, seed: number): number => {
    let c = ~seed;
    if (littleEndian && end - i >= 8) {
      for (let head = (4 - ((b.byteOffset + i) & 3)) & 3; head > 0; head--) c = (c >>> 8) ^ T[(c ^ b[i++]!) & 255]!;
      const w = wordsFor(b);
      let k = (b.byteOffset + i) >>> 2;
      for (const last = end - 15; i < last; i += 16, k += 4) c = step16(w, k, c);
      for (const last = end - 3; i < last; i += 4, k++) c = step4(w, k, c);
    }
    while (i < end) c = (c >>> 8) ^ T[(c ^ b[i++]!) & 255]!;
    return ~c;
  };
  const record = (b: Uint8Array, offset: number, totalLength: number): number => {
    const at = b.byteOffset + offset;
    if (!littleEndian || (at & 3) !== 0) return range(b, offset, offset + 20, range(b, offset + 24, offset + totalLength, 0)) >>> 0;
    const w = wordsFor(b);
    let c = -1;
    let k = (at + 24) >>> 2;
    let n = totalLength - 24;
    for (; n >= 16; n -= 16, k += 4) c = step16(w, k, c);
    for (; n >= 4; n -= 4, k++) c = step4(w, k, c);
    for (let i = offset + totalLength - n; n > 0; n--, i++) c = (c >>> 8) ^ T[(c ^ b[i]!) & 255]!;
    // The header's first 20 bytes continue the same running CRC.
    k = at >>> 2;
    c = step4(w, k + 4, step16(w, k, c));
    return ~c >>> 0;
  };
  return { range, record, tables: T };
}

const crc = makeCrc32c();

/** The CRC a record at `offset` of `bytes` should carry, as an unsigned 32-bit number. */
export const recordCrc = crc.record;

export function crc32c(bytes: Uint8Array, seed = 0): number {
  return crc.range(bytes, 0, bytes.length, seed) >>> 0;
}
