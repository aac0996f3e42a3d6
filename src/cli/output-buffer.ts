// Output lines built as bytes in one reused buffer: a binary row (pgoutput's message) is printed as psql prints a
// bytea (`\x` and lowercase hex) straight from the plugin's bytes, with no Buffer, string or join per row.
import { ByteRows } from '../reorderbuffer/row-bytes.js';

/** The ASCII hex digit of each nibble. */
const DIGITS = new Uint8Array([0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66]);
/** Each byte's two hex digits as one little-endian 16-bit unit ('ab' → 0x6261), for writes through a Uint16Array. */
const PAIRS = new Uint16Array(256);
for (let b = 0; b < 256; b++) PAIRS[b] = DIGITS[b >> 4]! | (DIGITS[b & 15]! << 8);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Output held until written (`bytes[0, length)`); text plugins write rows into it as ByteRows. Its buffers are
 * unpooled (their own ArrayBuffer from offset 0: the 16-bit view is aligned).
 */
export class OutputBuffer extends ByteRows {
  declare buf: Buffer;
  declare private words: Uint16Array;

  constructor() {
    super(1 << 18);
  }

  protected override alloc(n: number): Buffer {
    const b = Buffer.allocUnsafeSlow(n);
    this.words = new Uint16Array(b.buffer, b.byteOffset, b.length >> 1);
    return b;
  }

  get bytes(): Buffer {
    return this.buf;
  }

  /** One line: `prefix`, then `\x` and `bytes[0, n)` in lowercase hex, then a newline. */
  hexLine(prefix: string | undefined, bytes: Uint8Array, n: number): void {
    if (prefix !== undefined) this.text(prefix);
    const buf = this.ensure(2 * n + 3);
    let at = this.length;
    buf[at++] = 0x5c; // '\'
    buf[at++] = 0x78; // 'x'
    if (LITTLE_ENDIAN && n > 1) {
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

  /**
   * Hands over the buffer holding `bytes[0, length)` and writes on in `next` from now on (empty): the output moves
   * to a reader without a copy. `next` must be a whole ArrayBuffer of its own (offset 0), as one given back is.
   */
  swap(next: Uint8Array): Buffer {
    const held = this.buf;
    const b = Buffer.from(next.buffer, next.byteOffset, next.byteLength);
    this.words = new Uint16Array(b.buffer, b.byteOffset, b.length >> 1);
    this.buf = b;
    this.length = 0;
    return held;
  }

  /** The held output as a string, emptying the buffer. */
  take(): string {
    const s = this.buf.toString('utf8', 0, this.length);
    this.length = 0;
    return s;
  }
}
