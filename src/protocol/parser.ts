// Incremental parsers for both directions: push the bytes a socket delivers, take whole messages out.
// The client reads a BackendParser; a server (the walsender of pgwal serve) reads a FrontendParser.
import { parseBackendMessage, type BackendMessage } from './backend.js';
import { ProtocolError } from './errors.js';
import { Framer, MAX_ALLOC_SIZE } from './framer.js';
import { parseFrontendMessage, parseStartupPacket, type AuthResponseKind, type FrontendMessage } from './frontend.js';

export interface ParserOptions {
  /**
   * The longest message body accepted, in bytes; a longer one is a `message-too-long` ProtocolError
   * before any of it is buffered. Default 16 MB: an XLogData message is at most 128 kB of WAL
   * (MAX_SEND_SIZE), and a history file or result row of a replication command is far smaller.
   */
  maxMessageLength?: number;
}

export const DEFAULT_MAX_MESSAGE_LENGTH = 16 * 1024 * 1024;

function maxOf(o: ParserOptions): number {
  const m = o.maxMessageLength ?? DEFAULT_MAX_MESSAGE_LENGTH;
  if (!Number.isInteger(m) || m < 0 || m > MAX_ALLOC_SIZE) throw new RangeError(`maxMessageLength ${m} is not in 0 .. ${MAX_ALLOC_SIZE}`);
  return m;
}

/** What a client reads: backend messages, and the one byte answering an SSLRequest when asked for. */
export class BackendParser {
  private readonly framer: Framer;
  private sslResponsePending = false;

  constructor(options: ParserOptions = {}) {
    this.framer = new Framer(maxOf(options), 'server');
  }

  push(chunk: Uint8Array): void {
    this.framer.push(chunk);
  }

  /** Bytes received and not yet returned as messages. */
  get buffered(): number {
    return this.framer.buffered;
  }

  /** The next message is the one-byte answer to SSLRequest (or an ErrorResponse from a server refusing it). */
  expectSSLResponse(): void {
    this.sslResponsePending = true;
  }

  private failure: unknown;

  /** The next whole message, or undefined until more bytes arrive. After an error, that error again. */
  next(): BackendMessage | undefined {
    if (this.failure !== undefined) throw this.failure;
    try {
      return this.read();
    } catch (e) {
      this.failure = e;
      throw e;
    }
  }

  private read(): BackendMessage | undefined {
    if (this.sslResponsePending) {
      const b = this.framer.peekByte();
      if (b === undefined) return undefined;
      this.sslResponsePending = false;
      // An 'E' is an old server's ErrorResponse, framed as usual.
      if (b !== 0x45) {
        this.framer.nextByte();
        if (b === 0x53 /* S */ || b === 0x4e /* N */) {
          // Bytes after 'S' would arrive unencrypted, where only the TLS handshake may follow (CVE-2021-23222).
          if (b === 0x53 && this.framer.buffered > 0) {
            throw new ProtocolError('protocol-violation', 'received unencrypted data after SSL response');
          }
          return { type: 'SSLResponse', accepted: b === 0x53 };
        }
        throw new ProtocolError('protocol-violation', `received invalid response to SSL negotiation: ${String.fromCharCode(b)}`);
      }
    }
    const f = this.framer.next();
    return f === undefined ? undefined : parseBackendMessage(f.type, f.body);
  }

  *drain(): Generator<BackendMessage> {
    for (let m = this.next(); m !== undefined; m = this.next()) yield m;
  }
}

/**
 * What a server reads: first start-up packets (SSLRequest, StartupMessage, CancelRequest: untyped), then
 * typed messages. A 'p' message is read as what the server last asked for (`expectAuthResponse`).
 */
export class FrontendParser {
  private readonly framer: Framer;
  private auth: AuthResponseKind | undefined;

  constructor(options: ParserOptions = {}) {
    this.framer = new Framer(maxOf(options), 'client');
    this.framer.untyped = true;
  }

  push(chunk: Uint8Array): void {
    this.framer.push(chunk);
  }

  get buffered(): number {
    return this.framer.buffered;
  }

  /** The next 'p' message answers this authentication request. */
  expectAuthResponse(kind: AuthResponseKind | undefined): void {
    this.auth = kind;
  }

  private failure: unknown;

  /** The next whole message, or undefined until more bytes arrive. After an error, that error again. */
  next(): FrontendMessage | undefined {
    if (this.failure !== undefined) throw this.failure;
    try {
      return this.read();
    } catch (e) {
      this.failure = e;
      throw e;
    }
  }

  private read(): FrontendMessage | undefined {
    const startup = this.framer.untyped;
    const f = this.framer.next();
    if (f === undefined) return undefined;
    if (startup) {
      const m = parseStartupPacket(f.body);
      // After SSLRequest or GSSENCRequest (answered 'N') the client sends another start-up packet.
      if (m.type === 'SSLRequest' || m.type === 'GSSENCRequest') this.framer.untyped = true;
      return m;
    }
    return parseFrontendMessage(f.type, f.body, this.auth);
  }

  *drain(): Generator<FrontendMessage> {
    for (let m = this.next(); m !== undefined; m = this.next()) yield m;
  }
}
