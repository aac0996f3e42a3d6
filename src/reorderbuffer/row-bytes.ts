// Text rows written as UTF-8 bytes into one reused buffer (a plugin's rows without a JS string each).

const encoder = new TextEncoder();

/** Output bytes held in `buf[0, length)`; the buffer grows and is reused, never kept by a reader. */
export class ByteRows {
  buf: Uint8Array;
  length = 0;

  constructor(size = 1 << 16) {
    this.buf = this.alloc(size);
  }

  /** A new buffer of `n` bytes (a subclass may take one its writer prefers). */
  protected alloc(n: number): Uint8Array {
    return new Uint8Array(n);
  }

  /** Room for `n` more bytes: the buffer to write into (a larger one when it had to grow). */
  ensure(n: number): Uint8Array {
    if (this.length + n <= this.buf.length) return this.buf;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = this.alloc(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    return next;
  }

  private viewed: Uint8Array | undefined = undefined;
  private dataView: DataView | undefined = undefined;

  /** A DataView of the buffer as it is now (valid until it grows or is replaced). */
  view(): DataView {
    if (this.viewed !== this.buf) {
      this.viewed = this.buf;
      this.dataView = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    }
    return this.dataView!;
  }

  /** Bytes as they are. */
  append(b: Uint8Array): void {
    const buf = this.ensure(b.length);
    buf.set(b, this.length);
    this.length += b.length;
  }

  /** A string as UTF-8 (short ASCII ones without the encoder). */
  text(s: string): void {
    const n = s.length;
    const buf = this.ensure(3 * n);
    let at = this.length;
    if (n <= 64) {
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        buf[at++] = c;
      }
      if (i === n) {
        this.length = at;
        return;
      }
      at = this.length;
    }
    this.length = at + encoder.encodeInto(s, buf.subarray(at)).written;
  }

  /** An integer (a safe one) in decimal. */
  int(v: number): void {
    const buf = this.ensure(24);
    let at = this.length;
    if (v < 0) {
      buf[at++] = 0x2d; // '-'
      v = -v;
    }
    let digits = 1;
    for (let p = 10; p <= v; p *= 10) digits++;
    at += digits;
    this.length = at;
    do {
      const q = Math.floor(v / 10);
      buf[--at] = 0x30 + (v - q * 10);
      v = q;
    } while (v > 0);
  }
}

/**
 * Where a text plugin writes rows as bytes instead of through `write`: `start` gives the buffer to append one row
 * to (from its `length` on, without the newline), `end` emits it, `cancel` drops it (its printing failed).
 */
export interface TextRowBytes {
  start(): ByteRows;
  end(): void;
  cancel(): void;
}

/** A decoder's receiver of text rows as bytes: as TextRowBytes, the row's LSN and xid given at its start. */
export interface TextByteSink {
  start(lsn: number, xid: number): ByteRows;
  end(): void;
  cancel(): void;
}
