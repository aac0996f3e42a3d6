// Frontend messages (client → server) of protocol 3.0: their types, one serializer, one parser.
// see protocol-message-formats.sgml; the server reads them in postmaster's ProcessStartupPacket
// (backend_startup.c on 18), auth.c (password and SASL exchanges), postgres.c and walsender.c.
import { assertNever } from './assert.js';
import { Reader, Writer } from './bytes.js';
import { ProtocolError } from './errors.js';
import { printable } from './framer.js';

/** PG_PROTOCOL(3, 0). */
export const PROTOCOL_3_0 = 196608;
/** NEGOTIATE_SSL_CODE, NEGOTIATE_GSS_CODE, CANCEL_REQUEST_CODE (pqcomm.h). */
export const SSL_REQUEST_CODE = 80877103;
export const GSSENC_REQUEST_CODE = 80877104;
export const CANCEL_REQUEST_CODE = 80877102;

export type FrontendMessage =
  /** Parameters in the order sent: user, database, replication, application_name, options, … */
  | { type: 'StartupMessage'; protocolVersion: number; parameters: Record<string, string> }
  | { type: 'SSLRequest' }
  | { type: 'GSSENCRequest' }
  | { type: 'CancelRequest'; processId: number; secretKey: Uint8Array }
  /** 'p' in answer to AuthenticationCleartextPassword or MD5Password (the md5 hash text). */
  | { type: 'PasswordMessage'; password: string }
  /** 'p' opening a SASL exchange; `data` null when the client sends none (length −1). */
  | { type: 'SASLInitialResponse'; mechanism: string; data: Uint8Array | null }
  /** 'p' continuing a SASL exchange. */
  | { type: 'SASLResponse'; data: Uint8Array }
  | { type: 'Query'; sql: string }
  | { type: 'CopyData'; data: Uint8Array }
  | { type: 'CopyDone' }
  | { type: 'CopyFail'; message: string }
  | { type: 'Sync' }
  | { type: 'Flush' }
  | { type: 'Terminate' };

export type FrontendMessageType = FrontendMessage['type'];

/** What a 'p' message answers: the server knows, from the request it sent. */
export type AuthResponseKind = 'password' | 'sasl-initial' | 'sasl';

const c = (s: string): number => s.charCodeAt(0);

/** The bytes of one frontend message, framed (start-up packets without a type byte). */
export function serializeFrontendMessage(m: FrontendMessage): Uint8Array {
  switch (m.type) {
    case 'StartupMessage': {
      const w = new Writer(undefined).i32(m.protocolVersion);
      for (const [k, v] of Object.entries(m.parameters)) w.cstring(k).cstring(v);
      return w.u8(0).finish();
    }
    case 'SSLRequest':
      return new Writer(undefined).i32(SSL_REQUEST_CODE).finish();
    case 'GSSENCRequest':
      return new Writer(undefined).i32(GSSENC_REQUEST_CODE).finish();
    case 'CancelRequest':
      return new Writer(undefined).i32(CANCEL_REQUEST_CODE).i32(m.processId).bytes(m.secretKey).finish();
    case 'PasswordMessage':
      return new Writer(c('p')).cstring(m.password).finish();
    case 'SASLInitialResponse': {
      const w = new Writer(c('p')).cstring(m.mechanism);
      if (m.data === null) w.i32(-1);
      else w.i32(m.data.length).bytes(m.data);
      return w.finish();
    }
    case 'SASLResponse':
      return new Writer(c('p'), m.data.length).bytes(m.data).finish();
    case 'Query':
      return new Writer(c('Q'), m.sql.length + 1).cstring(m.sql).finish();
    case 'CopyData':
      return new Writer(c('d'), m.data.length).bytes(m.data).finish();
    case 'CopyDone':
      return new Writer(c('c')).finish();
    case 'CopyFail':
      return new Writer(c('f')).cstring(m.message).finish();
    case 'Sync':
      return new Writer(c('S')).finish();
    case 'Flush':
      return new Writer(c('H')).finish();
    case 'Terminate':
      return new Writer(c('X')).finish();
    default:
      return assertNever(m);
  }
}

/** A start-up packet (no type byte) from its body: protocol version or request code first. */
export function parseStartupPacket(body: Uint8Array): FrontendMessage {
  const r = new Reader(body, 'startup packet');
  const code = r.i32('protocol version');
  switch (code) {
    case SSL_REQUEST_CODE:
      r.end();
      return { type: 'SSLRequest' };
    case GSSENC_REQUEST_CODE:
      r.end();
      return { type: 'GSSENCRequest' };
    case CANCEL_REQUEST_CODE: {
      const processId = r.i32('process id');
      const secretKey = r.rest();
      if (secretKey.length < 4 || secretKey.length > 256) {
        throw new ProtocolError('protocol-violation', `invalid length of cancel request packet: a key of ${secretKey.length} bytes`);
      }
      return { type: 'CancelRequest', processId, secretKey };
    }
  }
  if (code >>> 16 !== 3) {
    throw new ProtocolError('protocol-violation', `unsupported frontend protocol ${code >>> 16}.${code & 0xffff}: server supports 3.0 to 3.0`);
  }
  const parameters: Record<string, string> = {};
  for (;;) {
    const name = r.cstring('parameter name');
    if (name === '') break;
    parameters[name] = r.cstring(`value of "${name}"`);
  }
  if (r.remaining !== 0) throw new ProtocolError('protocol-violation', 'invalid startup packet layout: expected terminator as last byte');
  return { type: 'StartupMessage', protocolVersion: code, parameters };
}

/**
 * One typed frontend message from its type byte and body. A 'p' message reads as what `auth` says the
 * server asked for; without it, 'p' is out of place.
 */
export function parseFrontendMessage(type: number, body: Uint8Array, auth?: AuthResponseKind): FrontendMessage {
  switch (type) {
    case 0x70 /* p */: {
      if (auth === undefined) throw new ProtocolError('unexpected-message', 'unexpected password message: no authentication was requested');
      if (auth === 'password') {
        const r = new Reader(body, 'password');
        const password = r.cstring('password');
        r.end();
        return { type: 'PasswordMessage', password };
      }
      if (auth === 'sasl') return { type: 'SASLResponse', data: body };
      const r = new Reader(body, 'SASLInitialResponse');
      const mechanism = r.cstring('mechanism');
      const len = r.i32('data length');
      const data = len === -1 ? null : r.bytesView(len, 'data');
      r.end();
      return { type: 'SASLInitialResponse', mechanism, data };
    }
    case 0x51 /* Q */: {
      const r = new Reader(body, 'Query');
      const sql = r.cstring('query string');
      r.end();
      return { type: 'Query', sql };
    }
    case 0x64 /* d */:
      return { type: 'CopyData', data: body };
    case 0x63 /* c */:
      new Reader(body, 'CopyDone').end();
      return { type: 'CopyDone' };
    case 0x66 /* f */: {
      const r = new Reader(body, 'CopyFail');
      const message = r.cstring('message');
      r.end();
      return { type: 'CopyFail', message };
    }
    case 0x53 /* S */:
      new Reader(body, 'Sync').end();
      return { type: 'Sync' };
    case 0x48 /* H */:
      new Reader(body, 'Flush').end();
      return { type: 'Flush' };
    case 0x58 /* X */:
      new Reader(body, 'Terminate').end();
      return { type: 'Terminate' };
    default:
      throw new ProtocolError('protocol-violation', `invalid frontend message type ${type} ("${printable(type)}")`);
  }
}

