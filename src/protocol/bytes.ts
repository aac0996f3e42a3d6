// Big-endian readers and writers of protocol fields: one cursor over a DataView, one growable buffer.
import { ProtocolError } from './errors.js';
import { lsnFromParts, lsnHi, lsnLo, MAX_LSN, type Lsn } from '../lsn.js';

const utf8Decoder = new TextDecoder('utf-8');
const utf8Encoder = new TextEncoder();
const TWO_32 = 0x1_0000_0000;

export function utf8(bytes: Uint8Array): string {
  return utf8Decoder.decode(bytes);
}

export function encodeUtf8(text: string): Uint8Array {
  return utf8Encoder.encode(text);
}

/** A cursor over one message body; every read past its end is a ProtocolError naming the message. */
export class Reader {
  readonly bytes: Uint8Array;
  private readonly view: DataView;
  off = 0;

  constructor(
    bytes: Uint8Array,
    private readonly what: string,
  ) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get remaining(): number {
    return this.bytes.length - this.off;
  }

  private need(n: number, field: string): void {
    if (this.off + n > this.bytes.length) {
      throw new ProtocolError(
        'protocol-violation',
        `invalid ${this.what} message: ${field} needs ${n} bytes at offset ${this.off}, the message has ${this.bytes.length}`,
      );
    }
  }

  u8(field: string): number {
    this.need(1, field);
    return this.bytes[this.off++]!;
  }

  i16(field: string): number {
    this.need(2, field);
    const v = this.view.getInt16(this.off);
    this.off += 2;
    return v;
  }

  i32(field: string): number {
    this.need(4, field);
    const v = this.view.getInt32(this.off);
    this.off += 4;
    return v;
  }

  u32(field: string): number {
    this.need(4, field);
    const v = this.view.getUint32(this.off);
    this.off += 4;
    return v;
  }

  /** An unsigned 64-bit LSN; beyond 2^53 is refused rather than rounded. */
  lsn(field: string): Lsn {
    const hi = this.u32(field);
    const lo = this.u32(field);
    const v = lsnFromParts(hi, lo);
    if (v < 0) {
      throw new ProtocolError('protocol-violation', `invalid ${this.what} message: ${field} ${hi.toString(16).toUpperCase()}/${lo.toString(16).toUpperCase()} is beyond the largest LSN pgwal represents exactly`);
    }
    return v;
  }

  /** A signed 64-bit integer (a TimestampTz in microseconds); beyond ±2^53 is refused. */
  i64(field: string): number {
    const hi = this.i32(field);
    const lo = this.u32(field);
    const v = hi * TWO_32 + lo;
    if (!Number.isSafeInteger(v)) {
      throw new ProtocolError('protocol-violation', `invalid ${this.what} message: ${field} is outside the exact integer range`);
    }
    return v;
  }

  /** A NUL-terminated string. */
  cstring(field: string): string {
    const end = this.bytes.indexOf(0, this.off);
    if (end < 0) {
      throw new ProtocolError('protocol-violation', `invalid ${this.what} message: ${field} has no terminating zero byte`);
    }
    const s = utf8(this.bytes.subarray(this.off, end));
    this.off = end + 1;
    return s;
  }

  /** `n` bytes as a view (no copy). */
  bytesView(n: number, field: string): Uint8Array {
    if (n < 0) throw new ProtocolError('protocol-violation', `invalid ${this.what} message: ${field} has negative length ${n}`);
    this.need(n, field);
    const v = this.bytes.subarray(this.off, this.off + n);
    this.off += n;
    return v;
  }

  rest(): Uint8Array {
    const v = this.bytes.subarray(this.off);
    this.off = this.bytes.length;
    return v;
  }

  /** The message must end here: trailing bytes mean the sender and we disagree on its layout. */
  end(): void {
    if (this.off !== this.bytes.length) {
      throw new ProtocolError(
        'protocol-violation',
        `invalid ${this.what} message: ${this.bytes.length - this.off} unexpected bytes after its last field`,
      );
    }
  }
}

/** Builds one message: the type byte (or none), a length placeholder, fields; `finish` fills the length. */
export class Writer {
  private buf: Uint8Array;
  private view: DataView;
  private off = 0;
  private readonly lenAt: number;

  /** `type` is the message's type byte, or undefined for the untyped start-up packets. */
  constructor(type: number | undefined, sizeHint = 64) {
    this.buf = new Uint8Array(sizeHint + 5);
    this.view = new DataView(this.buf.buffer);
    if (type !== undefined) this.buf[this.off++] = type;
    this.lenAt = this.off;
    this.off += 4;
  }

  private ensure(n: number): void {
    if (this.off + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.off + n));
    next.set(this.buf.subarray(0, this.off));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u8(v: number): this {
    this.ensure(1);
    this.buf[this.off++] = v;
    return this;
  }

  i16(v: number): this {
    this.ensure(2);
    this.view.setInt16(this.off, v);
    this.off += 2;
    return this;
  }

  i32(v: number): this {
    this.ensure(4);
    this.view.setInt32(this.off, v);
    this.off += 4;
    return this;
  }

  u32(v: number): this {
    this.ensure(4);
    this.view.setUint32(this.off, v);
    this.off += 4;
    return this;
  }

  lsn(v: Lsn): this {
    if (!Number.isSafeInteger(v) || v < 0 || v > MAX_LSN) throw new RangeError(`LSN ${v} is not a valid LSN`);
    return this.u32(lsnHi(v)).u32(lsnLo(v));
  }

  i64(v: number): this {
    if (!Number.isSafeInteger(v)) throw new RangeError(`${v} is not an exact 64-bit integer`);
    const hi = Math.floor(v / TWO_32);
    return this.i32(hi).u32(v - hi * TWO_32);
  }

  cstring(s: string): this {
    const b = encodeUtf8(s);
    if (b.includes(0)) throw new RangeError(`a protocol string cannot contain a zero byte: ${JSON.stringify(s)}`);
    return this.bytes(b).u8(0);
  }

  bytes(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.off);
    this.off += b.length;
    return this;
  }

  finish(): Uint8Array {
    this.view.setInt32(this.lenAt, this.off - this.lenAt);
    return this.buf.subarray(0, this.off);
  }
}
