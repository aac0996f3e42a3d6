// Splits a byte stream into protocol frames, fed arbitrary chunks: a frame whole in one chunk is a view of
// it (no copy); a frame spread over chunks is gathered into one buffer of its announced length, which is
// checked against a limit before anything is allocated.
//
//   header (5 bytes: type + int32 length, or 4 for a start-up packet) ──▶ body (length − 4 bytes) ──▶ frame
//
// A frame that breaks the framing (length < 4, or above the limit) is a ProtocolError, and the framer
// stays broken: the connection can only be closed.
import { ProtocolError } from './errors.js';

/** One frame: `type` is the message type byte, or 0 for an untyped start-up packet. */
export interface Frame {
  type: number;
  body: Uint8Array;
}

const EMPTY = new Uint8Array(0);

/** 1 GB − 1: PostgreSQL's MaxAllocSize, the most a server will ever send in one message. */
export const MAX_ALLOC_SIZE = 0x3fff_ffff;
/** MAX_STARTUP_PACKET_LENGTH (pqcomm.h). */
export const MAX_STARTUP_PACKET_LENGTH = 10000;

export class Framer {
  private chunks: Uint8Array[] = [];
  private pos = 0; // into chunks[0]
  private readonly header = new Uint8Array(5);
  private headerFill = 0;
  private body: Uint8Array | undefined;
  private bodyType = 0;
  private bodyFill = 0;
  private failure: ProtocolError | undefined;
  /** The next frame has no type byte (a start-up packet: StartupMessage, SSLRequest, CancelRequest). */
  untyped = false;

  constructor(
    /** The longest body accepted, in bytes. */
    readonly maxMessageLength: number,
    /** Who sends the frames, for error messages ("server", "client"). */
    private readonly peer: string,
  ) {}

  push(chunk: Uint8Array): void {
    if (chunk.length > 0) this.chunks.push(chunk);
  }

  /** Bytes received and not yet returned in a frame. */
  get buffered(): number {
    let n = this.headerFill + this.bodyFill;
    for (let i = 0; i < this.chunks.length; i++) n += this.chunks[i]!.length - (i === 0 ? this.pos : 0);
    return n;
  }

  /** One raw byte (the answer to SSLRequest), or undefined while none has arrived. */
  nextByte(): number | undefined {
    this.check();
    const c = this.chunks[0];
    if (c === undefined) return undefined;
    const b = c[this.pos++]!;
    this.advance();
    return b;
  }

  /** The first byte waiting, without consuming it. */
  peekByte(): number | undefined {
    const c = this.chunks[0];
    return c === undefined ? undefined : c[this.pos];
  }

  private advance(): void {
    if (this.pos >= this.chunks[0]!.length) {
      this.chunks.shift();
      this.pos = 0;
    }
  }

  private check(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  private fail(e: ProtocolError): never {
    this.failure = e;
    this.chunks = [];
    this.body = undefined;
    throw e;
  }

  /** The frame's body length from its header, validated. */
  private bodyLength(type: number, len: number): number {
    if (this.untyped) {
      const max = Math.min(this.maxMessageLength + 4, MAX_STARTUP_PACKET_LENGTH);
      if (len < 8 || len > max) this.fail(new ProtocolError('protocol-violation', `invalid length of startup packet: ${len}`));
      return len - 4;
    }
    if (len < 4) {
      this.fail(new ProtocolError('protocol-violation', `invalid message length ${len} in message type "${printable(type)}" from the ${this.peer}`));
    }
    if (len - 4 > this.maxMessageLength) {
      this.fail(
        new ProtocolError('message-too-long', `message type "${printable(type)}" from the ${this.peer} is ${len - 4} bytes long, more than the limit of ${this.maxMessageLength}`),
      );
    }
    return len - 4;
  }

  /** The next whole frame, or undefined until more bytes arrive. */
  next(): Frame | undefined {
    this.check();
    const hsize = this.untyped ? 4 : 5;
    if (this.body === undefined) {
      // Fast path: the whole frame lies in the first chunk.
      const c = this.chunks[0];
      if (this.headerFill === 0 && c !== undefined && c.length - this.pos >= hsize) {
        const type = this.untyped ? 0 : c[this.pos]!;
        const p = this.pos + hsize - 4;
        const len = ((c[p]! << 24) | (c[p + 1]! << 16) | (c[p + 2]! << 8) | c[p + 3]!) | 0;
        const n = this.bodyLength(type, len);
        if (c.length - this.pos - hsize >= n) {
          const body = c.subarray(this.pos + hsize, this.pos + hsize + n);
          this.pos += hsize + n;
          this.advance();
          this.untyped = false;
          return { type, body };
        }
      }
      while (this.headerFill < hsize) {
        const d = this.chunks[0];
        if (d === undefined) return undefined;
        this.header[this.headerFill++] = d[this.pos++]!;
        this.advance();
      }
      const h = this.header;
      const p = hsize - 4;
      const len = ((h[p]! << 24) | (h[p + 1]! << 16) | (h[p + 2]! << 8) | h[p + 3]!) | 0;
      this.bodyType = this.untyped ? 0 : h[0]!;
      const n = this.bodyLength(this.bodyType, len);
      this.headerFill = 0;
      this.body = n === 0 ? EMPTY : new Uint8Array(n);
      this.bodyFill = 0;
    }
    const body = this.body;
    while (this.bodyFill < body.length) {
      const d = this.chunks[0];
      if (d === undefined) return undefined;
      const take = Math.min(d.length - this.pos, body.length - this.bodyFill);
      body.set(d.subarray(this.pos, this.pos + take), this.bodyFill);
      this.bodyFill += take;
      this.pos += take;
      this.advance();
    }
    this.body = undefined;
    this.bodyFill = 0;
    this.untyped = false;
    return { type: this.bodyType, body };
  }
}

export function printable(type: number): string {
  return type >= 0x20 && type < 0x7f ? String.fromCharCode(type) : `\\x${type.toString(16).padStart(2, '0')}`;
}
