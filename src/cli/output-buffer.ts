// Output lines built as bytes in one reused buffer: a binary row (pgoutput's message) is printed as psql prints a
// bytea (`\x` and lowercase hex) straight from the plugin's bytes, with no Buffer, string or join per row.
import { ByteRows } from '../reorderbuffer/row-bytes.js';

/** The ASCII hex digit of each nibble. */
const DIGITS = new Uint8Array([0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66]);
/** Each byte's two hex digits as one little-endian 16-bit unit ('ab' → 0x6261), for writes through a Uint16Array. */
const PAIRS = new Uint16Array(256);
for (let b = 0; b < 256; b++) PAIRS[b] = DIGITS[b >> 4]! | (DIGITS[b & 15]! << 8);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
/** Each two bytes' four hex digits as one little-endian 32-bit unit (index: first byte << 8 | second), made at first use. */
let QUADS: Uint32Array | undefined;
function makeQuads(): Uint32Array {
  const q = new Uint32Array(65536);
  for (let x = 0; x < 65536; x++) q[x] = PAIRS[x >> 8]! | (PAIRS[x & 0xff]! << 16);
  return (QUADS = q);
}

/**
 * Output held until written (`bytes[0, length)`); text plugins write rows into it as ByteRows. Its buffers are
 * unpooled (their own ArrayBuffer from offset 0: the 16- and 32-bit views are aligned).
 */
export class OutputBuffer extends ByteRows {
  declare buf: Buffer;
  declare private words: Uint16Array;
  declare private quads: Uint32Array;
  /** Lines printed in hex (until the 32-bit table is made). */
  private hexLines = 0;

  constructor() {
    super(1 << 18);
  }

  protected override alloc(n: number): Buffer {
    // A whole number of 32-bit units: the last digits are stored through the 32-bit view too.
    const b = Buffer.allocUnsafeSlow((n + 3) & ~3);
    this.words = new Uint16Array(b.buffer, b.byteOffset, b.length >> 1);
    this.quads = new Uint32Array(b.buffer, b.byteOffset, b.length >> 2);
    return b;
  }

  get bytes(): Buffer {
    return this.buf;
  }

  /**
   * Hands the held output over whole (`buf[0, length)`, to be transferred, not copied) and goes on in `next` (a
   * buffer handed over before and given back, at least as large as the start size) or a new one.
   */
  handOff(next: Uint8Array | undefined): { buf: Buffer; length: number } {
    const out = { buf: this.buf, length: this.length };
    if (next !== undefined && next.byteOffset === 0 && next.length === next.buffer.byteLength && next.length >= 1 << 18) {
      this.buf = Buffer.from(next.buffer, 0, next.length);
      this.words = new Uint16Array(next.buffer, 0, next.length >> 1);
      this.quads = new Uint32Array(next.buffer, 0, next.length >> 2);
    } else this.buf = this.alloc(Math.max(1 << 18, out.buf.length));
    this.length = 0;
    return out;
  }

  /** One line: `prefix`, then `\x` and `bytes[0, n)` in lowercase hex, then a newline. */
  hexLine(prefix: string | undefined, bytes: Uint8Array, n: number): void {
    if (prefix !== undefined) this.text(prefix);
    const buf = this.ensure(2 * n + 3);
    let at = this.length;
    buf[at++] = 0x5c; // '\'
    buf[at++] = 0x78; // 'x'
    // The 32-bit table (256 KiB, ~2 ms to make) once there are lines enough to pay for it.
    const quads = QUADS ?? (++this.hexLines > 4096 ? makeQuads() : undefined);
    if (LITTLE_ENDIAN && n > 1 && quads === undefined) {
      // Two digits a 16-bit store. From an odd offset each store takes a byte's low digit and the next one's high.
      const w = this.words;
      if ((at & 1) === 0) {
        let k = at >> 1;
        for (let i = 0; i < n; i++) w[k++] = PAIRS[bytes[i]!]!;
        at = k << 1;
      } else {
        buf[at++] = DIGITS[bytes[0]! >> 4]!;
        let k = at >> 1;
        for (let i = 1; i < n; i++) w[k++] = PAIRS[((bytes[i - 1]! << 4) | (bytes[i]! >> 4)) & 0xff]!;
        at = k << 1;
        buf[at++] = DIGITS[bytes[n - 1]! & 15]!;
      }
    } else if (LITTLE_ENDIAN && n > 1 && quads !== undefined) {
      // Four digits (two bytes) a 32-bit store, at a 4-aligned place; a 16-bit store (one byte) before and after
      // to align. From an odd offset the stores take the digits shifted by one nibble (a byte's low digit and the
      // next one's high), the first and last digit written alone.
      const w = this.words;
      const q = this.quads;
      let i: number;
      if ((at & 1) === 0) {
        i = 0;
        if ((at & 2) !== 0) {
          w[at >> 1] = PAIRS[bytes[0]!]!;
          at += 2;
          i = 1;
        }
        let k = at >> 2;
        for (; i + 1 < n; i += 2) q[k++] = quads[(bytes[i]! << 8) | bytes[i + 1]!]!;
        at = k << 2;
        if (i < n) {
          w[at >> 1] = PAIRS[bytes[i]!]!;
          at += 2;
        }
      } else {
        buf[at++] = DIGITS[bytes[0]! >> 4]!;
        i = 1;
        if ((at & 2) !== 0) {
          w[at >> 1] = PAIRS[((bytes[0]! << 4) | (bytes[1]! >> 4)) & 0xff]!;
          at += 2;
          i = 2;
        }
        let k = at >> 2;
        for (; i + 1 < n; i += 2) q[k++] = quads[((bytes[i - 1]! << 12) | (bytes[i]! << 4) | (bytes[i + 1]! >> 4)) & 0xffff]!;
        at = k << 2;
        if (i < n) {
          w[at >> 1] = PAIRS[((bytes[i - 1]! << 4) | (bytes[i]! >> 4)) & 0xff]!;
          at += 2;
        }
        buf[at++] = DIGITS[bytes[n - 1]! & 15]!;
      }
    } else {
      for (let i = 0; i < n; i++) {
        const d = bytes[i]!;
        buf[at++] = DIGITS[d >> 4]!;
        buf[at++] = DIGITS[d & 15]!;
      }
    }
    buf[at++] = 0x0a;
    this.length = at;
  }

  /** The held output as a string, emptying the buffer. */
  take(): string {
    const s = this.buf.toString('utf8', 0, this.length);
    this.length = 0;
    return s;
  }
}
