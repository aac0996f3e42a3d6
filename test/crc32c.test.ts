// CRC-32C (src/xlogreader/crc32c.ts): the check value of the Castagnoli polynomial, and every alignment and
// length against a bit-at-a-time reference (the fast path reads aligned 4-byte words).
import { describe, expect, it } from 'vitest';
import { crc32c, makeCrc32c, recordCrc } from '../src/xlogreader/crc32c.js';
import { makeWasmCrc32c, WASM_CRC_TABLE_BYTES } from '../src/xlogreader/crc32c-wasm.js';

function reference(bytes: Uint8Array, seed = 0): number {
  let c = ~seed;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
  }
  return ~c >>> 0;
}

describe('crc32c', () => {
  it('gives the standard check value for "123456789"', () => {
    expect(crc32c(new TextEncoder().encode('123456789'))).toBe(0xe3069283);
  });

  it('equals the bitwise reference at every offset, length and seed, in plain and shared buffers', () => {
    const crc = makeCrc32c().range;
    for (const buffer of [new ArrayBuffer(700), new SharedArrayBuffer(700)]) {
      const all = new Uint8Array(buffer);
      for (let i = 0; i < all.length; i++) all[i] = (i * 131 + 7) & 255;
      for (const base of [0, 1, 2, 3, 5]) {
        const b = all.subarray(base);
        for (let start = 0; start < 9; start++) {
          for (const len of [0, 1, 15, 31, 32, 33, 47, 64, 100, 255, 600]) {
            const seed = (start * 0x9e3779b9) >>> 0;
            expect(crc(b, start, start + len, seed) >>> 0).toBe(reference(b.subarray(start, start + len), seed));
          }
        }
      }
    }
  });

  it('checks a record as ValidXLogRecord does: the body after xl_crc, then the header up to it', () => {
    const rec = Uint8Array.from({ length: 90 }, (_, i) => (i * 37) & 255);
    expect(recordCrc(rec, 0, 90)).toBe(reference(rec.subarray(0, 20), reference(rec.subarray(24, 90))));
  });

  it('checks records of every length at every alignment (the word path and the byte fallback) as the reference', () => {
    const all = Uint8Array.from({ length: 400 }, (_, i) => (i * 2654435761) >>> 24);
    for (const base of [0, 1, 2, 3, 4, 8]) {
      const b = all.subarray(base);
      for (let offset = 0; offset < 9; offset++) {
        for (let len = 24; len < 130; len++) {
          const want = reference(b.subarray(offset, offset + 20), reference(b.subarray(offset + 24, offset + len)));
          expect(recordCrc(b, offset, len)).toBe(want);
        }
      }
    }
  });

  it('the WebAssembly module equals the reference at every alignment and length, chaining seeds as COMP_CRC32C does', () => {
    const w = makeWasmCrc32c(4096, makeCrc32c().tables);
    expect(w).toBeDefined();
    const mem = new Uint8Array(w!.memory.buffer);
    const data = mem.subarray(WASM_CRC_TABLE_BYTES, WASM_CRC_TABLE_BYTES + 1000);
    for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 24;
    for (let start = 0; start < 9; start++) {
      for (const len of [0, 1, 3, 4, 15, 16, 17, 31, 32, 33, 100, 255, 600]) {
        const seed = (start * 0x9e3779b9) >>> 0;
        const at = WASM_CRC_TABLE_BYTES + start;
        expect(w!.crc(at, at + len, seed) >>> 0).toBe(reference(data.subarray(start, start + len), seed));
      }
    }
    for (let len = 24; len < 120; len++) {
      const at = WASM_CRC_TABLE_BYTES + 8;
      expect(w!.record(at, len) >>> 0).toBe(reference(data.subarray(8, 28), reference(data.subarray(32, 8 + len))));
    }
    data.set(new TextEncoder().encode('123456789'));
    expect(w!.crc(WASM_CRC_TABLE_BYTES, WASM_CRC_TABLE_BYTES + 9, 0) >>> 0).toBe(0xe3069283);
  });
});
