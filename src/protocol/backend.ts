// Backend messages (server → client) of protocol 3.0: their types, one serializer, one parser.
// see protocol-message-formats.sgml; the server side writes them in pqformat.c callers (auth.c,
// postgres.c, walsender.c), libpq reads them in fe-protocol3.c.
import { assertNever } from './assert.js';
import { Reader, Writer } from './bytes.js';
import { ProtocolError } from './errors.js';
import { printable } from './framer.js';

/** Error and notice fields by their one-letter code: S severity, V (non-localized), C SQLSTATE, M message, D, H, P, W, F, L, R … */
export type NoticeFields = Record<string, string>;

export interface FieldDescription {
  name: string;
  tableOid: number;
  columnAttr: number;
  typeOid: number;
  typeSize: number;
  typeModifier: number;
  format: number;
}

export type CopyResponseType = 'CopyInResponse' | 'CopyOutResponse' | 'CopyBothResponse';

export type BackendMessage =
  | { type: 'AuthenticationOk' }
  | { type: 'AuthenticationCleartextPassword' }
  | { type: 'AuthenticationMD5Password'; salt: Uint8Array }
  | { type: 'AuthenticationSASL'; mechanisms: string[] }
  | { type: 'AuthenticationSASLContinue'; data: Uint8Array }
  | { type: 'AuthenticationSASLFinal'; data: Uint8Array }
  /** Kerberos (2), GSS (7, 8), SSPI (9): carried, not spoken. */
  | { type: 'AuthenticationOther'; method: number; data: Uint8Array }
  | { type: 'ParameterStatus'; name: string; value: string }
  | { type: 'BackendKeyData'; processId: number; secretKey: Uint8Array }
  | { type: 'ReadyForQuery'; status: 'I' | 'T' | 'E' }
  | { type: 'RowDescription'; fields: FieldDescription[] }
  | { type: 'DataRow'; values: (Uint8Array | null)[] }
  | { type: 'CommandComplete'; tag: string }
  | { type: 'EmptyQueryResponse' }
  | { type: 'ErrorResponse'; fields: NoticeFields }
  | { type: 'NoticeResponse'; fields: NoticeFields }
  | { type: CopyResponseType; format: number; columnFormats: number[] }
  | { type: 'CopyData'; data: Uint8Array }
  | { type: 'CopyDone' }
  | { type: 'NegotiateProtocolVersion'; newestMinor: number; unrecognized: string[] }
  | { type: 'NotificationResponse'; processId: number; channel: string; payload: string }
  /** The one unframed byte a server answers SSLRequest / GSSENCRequest with: 'S'/'G' yes, 'N' no. */
  | { type: 'SSLResponse'; accepted: boolean };

export type BackendMessageType = BackendMessage['type'];

const AUTH_OK = 0;
const AUTH_CLEARTEXT = 3;
const AUTH_MD5 = 5;
const AUTH_SASL = 10;
const AUTH_SASL_CONTINUE = 11;
const AUTH_SASL_FINAL = 12;

const COPY_TYPES: Record<number, CopyResponseType> = { 0x47: 'CopyInResponse', 0x48: 'CopyOutResponse', 0x57: 'CopyBothResponse' };
const COPY_CODES: Record<CopyResponseType, number> = { CopyInResponse: 0x47, CopyOutResponse: 0x48, CopyBothResponse: 0x57 };

const c = (s: string): number => s.charCodeAt(0);

function writeNoticeFields(w: Writer, fields: NoticeFields): void {
  for (const [code, value] of Object.entries(fields)) {
    if (code.length !== 1 || code === '\0') throw new RangeError(`an error field code is one byte, not ${JSON.stringify(code)}`);
    w.u8(c(code)).cstring(value);
  }
  w.u8(0);
}

/** The bytes of one backend message, framed (type byte and length). */
export function serializeBackendMessage(m: BackendMessage): Uint8Array {
  switch (m.type) {
    case 'AuthenticationOk':
      return new Writer(c('R')).i32(AUTH_OK).finish();
    case 'AuthenticationCleartextPassword':
      return new Writer(c('R')).i32(AUTH_CLEARTEXT).finish();
    case 'AuthenticationMD5Password':
      if (m.salt.length !== 4) throw new RangeError('an MD5 salt is 4 bytes');
      return new Writer(c('R')).i32(AUTH_MD5).bytes(m.salt).finish();
    case 'AuthenticationSASL': {
      const w = new Writer(c('R')).i32(AUTH_SASL);
      for (const mech of m.mechanisms) w.cstring(mech);
      return w.u8(0).finish();
    }
    case 'AuthenticationSASLContinue':
      return new Writer(c('R'), m.data.length + 4).i32(AUTH_SASL_CONTINUE).bytes(m.data).finish();
    case 'AuthenticationSASLFinal':
      return new Writer(c('R'), m.data.length + 4).i32(AUTH_SASL_FINAL).bytes(m.data).finish();
    case 'AuthenticationOther':
      return new Writer(c('R'), m.data.length + 4).i32(m.method).bytes(m.data).finish();
    case 'ParameterStatus':
      return new Writer(c('S')).cstring(m.name).cstring(m.value).finish();
    case 'BackendKeyData':
      return new Writer(c('K')).i32(m.processId).bytes(m.secretKey).finish();
    case 'ReadyForQuery':
      return new Writer(c('Z')).u8(c(m.status)).finish();
    case 'RowDescription': {
      const w = new Writer(c('T')).i16(m.fields.length);
      for (const f of m.fields) {
        w.cstring(f.name).u32(f.tableOid).i16(f.columnAttr).u32(f.typeOid).i16(f.typeSize).i32(f.typeModifier).i16(f.format);
      }
      return w.finish();
    }
    case 'DataRow': {
      let size = 2;
      for (const v of m.values) size += 4 + (v?.length ?? 0);
      const w = new Writer(c('D'), size).i16(m.values.length);
      for (const v of m.values) {
        if (v === null) w.i32(-1);
        else w.i32(v.length).bytes(v);
      }
      return w.finish();
    }
    case 'CommandComplete':
      return new Writer(c('C')).cstring(m.tag).finish();
    case 'EmptyQueryResponse':
      return new Writer(c('I')).finish();
    case 'ErrorResponse':
    case 'NoticeResponse': {
      const w = new Writer(c(m.type === 'ErrorResponse' ? 'E' : 'N'));
      writeNoticeFields(w, m.fields);
      return w.finish();
    }
    case 'CopyInResponse':
    case 'CopyOutResponse':
    case 'CopyBothResponse': {
      const w = new Writer(COPY_CODES[m.type]).u8(m.format).i16(m.columnFormats.length);
      for (const f of m.columnFormats) w.i16(f);
      return w.finish();
    }
    case 'CopyData':
      return new Writer(c('d'), m.data.length).bytes(m.data).finish();
    case 'CopyDone':
      return new Writer(c('c')).finish();
    case 'NegotiateProtocolVersion': {
      const w = new Writer(c('v')).i32(m.newestMinor).i32(m.unrecognized.length);
      for (const o of m.unrecognized) w.cstring(o);
      return w.finish();
    }
    case 'NotificationResponse':
      return new Writer(c('A')).i32(m.processId).cstring(m.channel).cstring(m.payload).finish();
    case 'SSLResponse':
      return Uint8Array.of(m.accepted ? c('S') : c('N'));
    default:
      return assertNever(m);
  }
}

function readNoticeFields(r: Reader): NoticeFields {
  const fields: NoticeFields = {};
  for (;;) {
    const code = r.u8('field code');
    if (code === 0) break;
    fields[String.fromCharCode(code)] = r.cstring(`field "${String.fromCharCode(code)}"`);
  }
  return fields;
}

/** One backend message from its type byte and body (as the Framer cut them). */
export function parseBackendMessage(type: number, body: Uint8Array): BackendMessage {
  switch (type) {
    case 0x52 /* R */: {
      const r = new Reader(body, 'authentication request');
      const code = r.i32('authentication code');
      let m: BackendMessage;
      switch (code) {
        case AUTH_OK:
          m = { type: 'AuthenticationOk' };
          break;
        case AUTH_CLEARTEXT:
          m = { type: 'AuthenticationCleartextPassword' };
          break;
        case AUTH_MD5:
          m = { type: 'AuthenticationMD5Password', salt: r.bytesView(4, 'salt') };
          break;
        case AUTH_SASL: {
          const mechanisms: string[] = [];
          for (;;) {
            const mech = r.cstring('SASL mechanism');
            if (mech === '') break;
            mechanisms.push(mech);
          }
          m = { type: 'AuthenticationSASL', mechanisms };
          break;
        }
        case AUTH_SASL_CONTINUE:
          m = { type: 'AuthenticationSASLContinue', data: r.rest() };
          break;
        case AUTH_SASL_FINAL:
          m = { type: 'AuthenticationSASLFinal', data: r.rest() };
          break;
        default:
          m = { type: 'AuthenticationOther', method: code, data: r.rest() };
      }
      r.end();
      return m;
    }
    case 0x53 /* S */: {
      const r = new Reader(body, 'ParameterStatus');
      const m: BackendMessage = { type: 'ParameterStatus', name: r.cstring('name'), value: r.cstring('value') };
      r.end();
      return m;
    }
    case 0x4b /* K */: {
      const r = new Reader(body, 'BackendKeyData');
      const processId = r.i32('process id');
      const secretKey = r.rest();
      if (secretKey.length < 4 || secretKey.length > 256) {
        throw new ProtocolError('protocol-violation', `invalid BackendKeyData message: a cancel key of ${secretKey.length} bytes`);
      }
      return { type: 'BackendKeyData', processId, secretKey };
    }
    case 0x5a /* Z */: {
      const r = new Reader(body, 'ReadyForQuery');
      const s = String.fromCharCode(r.u8('transaction status'));
      r.end();
      if (s !== 'I' && s !== 'T' && s !== 'E') {
        throw new ProtocolError('protocol-violation', `invalid ReadyForQuery message: unknown transaction status "${s}"`);
      }
      return { type: 'ReadyForQuery', status: s };
    }
    case 0x54 /* T */: {
      const r = new Reader(body, 'RowDescription');
      const n = r.i16('field count');
      if (n < 0) throw new ProtocolError('protocol-violation', `invalid RowDescription message: ${n} fields`);
      const fields: FieldDescription[] = [];
      for (let i = 0; i < n; i++) {
        fields.push({
          name: r.cstring('field name'),
          tableOid: r.u32('table oid'),
          columnAttr: r.i16('column number'),
          typeOid: r.u32('type oid'),
          typeSize: r.i16('type size'),
          typeModifier: r.i32('type modifier'),
          format: r.i16('format code'),
        });
      }
      r.end();
      return { type: 'RowDescription', fields };
    }
    case 0x44 /* D */: {
      const r = new Reader(body, 'DataRow');
      const n = r.i16('column count');
      if (n < 0) throw new ProtocolError('protocol-violation', `invalid DataRow message: ${n} columns`);
      const values: (Uint8Array | null)[] = [];
      for (let i = 0; i < n; i++) {
        const len = r.i32('value length');
        values.push(len === -1 ? null : r.bytesView(len, `value ${i + 1}`));
      }
      r.end();
      return { type: 'DataRow', values };
    }
    case 0x43 /* C */: {
      const r = new Reader(body, 'CommandComplete');
      const m: BackendMessage = { type: 'CommandComplete', tag: r.cstring('command tag') };
      r.end();
      return m;
    }
    case 0x49 /* I */:
      new Reader(body, 'EmptyQueryResponse').end();
      return { type: 'EmptyQueryResponse' };
    case 0x45 /* E */:
    case 0x4e /* N */: {
      const name = type === 0x45 ? 'ErrorResponse' : 'NoticeResponse';
      const r = new Reader(body, name);
      const fields = readNoticeFields(r);
      r.end();
      return { type: name, fields };
    }
    case 0x47 /* G */:
    case 0x48 /* H */:
    case 0x57 /* W */: {
      const name = COPY_TYPES[type]!;
      const r = new Reader(body, name);
      const format = r.u8('overall format');
      const n = r.i16('column count');
      if (n < 0) throw new ProtocolError('protocol-violation', `invalid ${name} message: ${n} columns`);
      const columnFormats: number[] = [];
      for (let i = 0; i < n; i++) columnFormats.push(r.i16('column format'));
      r.end();
      return { type: name, format, columnFormats };
    }
    case 0x64 /* d */:
      return { type: 'CopyData', data: body };
    case 0x63 /* c */:
      new Reader(body, 'CopyDone').end();
      return { type: 'CopyDone' };
    case 0x76 /* v */: {
      const r = new Reader(body, 'NegotiateProtocolVersion');
      const newestMinor = r.i32('newest minor version');
      const n = r.i32('option count');
      if (n < 0 || n > body.length) throw new ProtocolError('protocol-violation', `invalid NegotiateProtocolVersion message: ${n} options`);
      const unrecognized: string[] = [];
      for (let i = 0; i < n; i++) unrecognized.push(r.cstring('option name'));
      r.end();
      return { type: 'NegotiateProtocolVersion', newestMinor, unrecognized };
    }
    case 0x41 /* A */: {
      const r = new Reader(body, 'NotificationResponse');
      const m: BackendMessage = { type: 'NotificationResponse', processId: r.i32('process id'), channel: r.cstring('channel'), payload: r.cstring('payload') };
      r.end();
      return m;
    }
    default:
      throw new ProtocolError('protocol-violation', `unexpected message type "${printable(type)}" from the server`);
  }
}
