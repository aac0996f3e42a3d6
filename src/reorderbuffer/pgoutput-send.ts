// Values in their binary send format (the types' *send functions), for pgoutput's `binary = true`: built from the
// datum as stored. A type without a writer here is a typed error naming it, never a guessed byte.
import { WalFormatError } from '../errors.js';
import { u16, u32 } from '../xlogreader/bytes.js';
import { outputValue, readDatum, type TypeInfo, type TypeLookup } from './values.js';

const utf8 = new TextEncoder();

/** Reverses `n` bytes of a little-endian fixed-length datum into network order. */
function bigEndian(b: Uint8Array, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = b[n - 1 - i]!;
  return out;
}

/** Fixed-length fields, each reversed: int64 time then int32s (interval, timetz). */
function fields(b: Uint8Array, widths: readonly number[]): Uint8Array {
  const out = new Uint8Array(widths.reduce((a, w) => a + w, 0));
  let o = 0;
  for (const w of widths) {
    for (let i = 0; i < w; i++) out[o + i] = b[o + w - 1 - i]!;
    o += w;
  }
  return out;
}

// see numeric_send (numeric.c): ndigits, weight, sign, dscale, then the base-10000 digits, each int16
function numericSend(b: Uint8Array): Uint8Array {
  const h = u16(b, 0);
  let sign: number;
  let dscale: number;
  let weight: number;
  let first: number;
  if ((h & 0xc000) === 0xc000) {
    // NaN, ±Infinity: the extended flag bits, no digits; dscale and weight read as from a short header (the
    // NUMERIC_DSCALE and NUMERIC_WEIGHT macros test only 0x8000), so ±Infinity sends dscale 32.
    sign = h & 0xf000;
    dscale = (h >> 7) & 0x3f;
    weight = h & 0x40 ? (h & 0x3f) - 64 : h & 0x3f;
    first = 2;
  } else if (h & 0x8000) {
    sign = h & 0x2000 ? 0x4000 : 0;
    dscale = (h >> 7) & 0x3f;
    weight = h & 0x40 ? (h & 0x3f) - 64 : h & 0x3f;
    first = 2;
  } else {
    sign = h & 0xc000;
    dscale = h & 0x3fff;
    weight = (u16(b, 2) << 16) >> 16;
    first = 4;
  }
  const ndigits = (b.length - first) >> 1;
  const out = new Uint8Array(8 + 2 * ndigits);
  const v = new DataView(out.buffer);
  v.setInt16(0, ndigits);
  v.setInt16(2, weight);
  v.setUint16(4, sign);
  v.setInt16(6, dscale);
  for (let k = 0; k < ndigits; k++) v.setUint16(8 + 2 * k, u16(b, first + 2 * k));
  return out;
}

const alignOf = (a: string): number => (a === 'd' ? 8 : a === 'i' ? 4 : a === 's' ? 2 : 1);

// see array_send (arrayfuncs.c): ndim, has-nulls, element type, (dim, lower bound) per dimension, then each
// element as -1 (null) or its length and send bytes. `b` is the payload after the varlena header.
function arraySend(b: Uint8Array, types: TypeLookup, column: string): Uint8Array {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const ndim = v.getInt32(0, true);
  const dataoffset = v.getInt32(4, true);
  const elemType = v.getUint32(8, true);
  if (ndim < 0 || ndim > 6 || b.length < 12 + 8 * ndim) throw new WalFormatError('invalid-datum', `array with ${ndim} dimensions in ${b.length} bytes`);
  const elem = types(elemType);
  if (elem === undefined) throw new WalFormatError('unknown-type', `array element type ${elemType} is not in the catalog`);
  const parts: Uint8Array[] = [];
  const head = new DataView(new ArrayBuffer(12 + 8 * ndim));
  head.setInt32(0, ndim);
  head.setInt32(4, dataoffset !== 0 ? 1 : 0);
  head.setUint32(8, elemType);
  let nitems = ndim === 0 ? 0 : 1;
  for (let d = 0; d < ndim; d++) {
    const dim = v.getInt32(12 + 4 * d, true);
    if (dim < 0) throw new WalFormatError('invalid-datum', `array dimension ${dim}`);
    nitems *= dim;
    head.setInt32(12 + 8 * d, dim);
    head.setInt32(16 + 8 * d, v.getInt32(12 + 4 * ndim + 4 * d, true));
  }
  if (nitems > 8 * b.length) throw new WalFormatError('invalid-datum', `array of ${nitems} elements in ${b.length} bytes`);
  parts.push(new Uint8Array(head.buffer));
  const headerEnd = 12 + 8 * ndim;
  const bitmap = dataoffset !== 0 ? headerEnd : -1;
  // Offsets here are 4 less than from the varlena start, which alignment is relative to.
  let off = dataoffset !== 0 ? dataoffset - 4 : ((headerEnd + 4 + 7) & ~7) - 4;
  const align = alignOf(elem.align);
  for (let i = 0; i < nitems; i++) {
    const len = new DataView(new ArrayBuffer(4));
    if (bitmap >= 0 && !((b[bitmap + (i >> 3)]! >> (i & 7)) & 1)) {
      len.setInt32(0, -1);
      parts.push(new Uint8Array(len.buffer));
      continue;
    }
    off = ((off + 4 + align - 1) & ~(align - 1)) - 4;
    const [datum, next] = readDatum(b, off, elem.len);
    off = next;
    const sent = sendValue(datum, elem, types, column);
    len.setInt32(0, sent.length);
    parts.push(new Uint8Array(len.buffer), sent);
  }
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

// see network_send (network.c): family, bits, is_cidr, address length, the address. Stored: family, bits, address.
function networkSend(b: Uint8Array, isCidr: boolean): Uint8Array {
  const nb = b.length - 2;
  const out = new Uint8Array(4 + nb);
  out[0] = b[0]!;
  out[1] = b[1]!;
  out[2] = isCidr ? 1 : 0;
  out[3] = nb;
  out.set(b.subarray(2), 4);
  return out;
}

// see bit_send (varbit.c): the bit length as int32, then the bytes as stored.
function bitSend(b: Uint8Array): Uint8Array {
  const out = new Uint8Array(b.length);
  out.set(bigEndian(b, 4));
  out.set(b.subarray(4), 4);
  return out;
}

const RANGE_EMPTY = 0x01;
const RANGE_LB_INF = 0x08;
const RANGE_UB_INF = 0x10;
const RANGE_LB_NULL = 0x20;
const RANGE_UB_NULL = 0x40;

// see range_send (rangetypes.c): the flags, then each bound present as its length and send bytes. Stored: the
// range type's OID, the bounds (aligned as their subtype), the flags last.
function rangeSend(b: Uint8Array, type: TypeInfo, types: TypeLookup, column: string): Uint8Array {
  const flags = b[b.length - 1]!;
  // A domain over a range type may carry no subtype: the datum names its range type.
  const rangeType = type.rangeSubtype === undefined ? types(u32(b, 0)) : type;
  const sub = rangeType?.rangeSubtype === undefined ? undefined : types(rangeType.rangeSubtype);
  if (sub === undefined) throw new WalFormatError('unknown-type', `the subtype of range type ${type.name} is not in the catalog`);
  const align = alignOf(sub.align);
  const parts: Uint8Array[] = [Uint8Array.of(flags)];
  // Offsets are relative to the payload; alignment is relative to the varlena start, 4 bytes earlier.
  let off = 4;
  const bound = (): void => {
    if (sub.len !== -1 || b[off] === 0) off = ((off + 4 + align - 1) & ~(align - 1)) - 4;
    const [datum, next] = readDatum(b, off, sub.len);
    off = next;
    const sent = sendValue(datum, sub, types, column);
    const len = new Uint8Array(4);
    new DataView(len.buffer).setInt32(0, sent.length);
    parts.push(len, sent);
  };
  if (!(flags & (RANGE_EMPTY | RANGE_LB_NULL | RANGE_LB_INF))) bound();
  if (!(flags & (RANGE_EMPTY | RANGE_UB_NULL | RANGE_UB_INF))) bound();
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * The send format of a stored value of `type` (a domain sends as its base type: it shares its functions).
 * `column` names the value in the error for a type pgwal cannot send.
 */
export function sendValue(b: Uint8Array, type: TypeInfo, types: TypeLookup, column: string): Uint8Array {
  switch (type.output) {
    case 'boolout':
      return Uint8Array.of(b[0] ? 1 : 0);
    case 'charout':
      return Uint8Array.of(b[0]!);
    case 'int2out':
      return bigEndian(b, 2);
    case 'int4out':
    case 'oidout':
    case 'xidout':
    case 'cidout':
    case 'float4out':
    case 'date_out':
      return bigEndian(b, 4);
    case 'int8out':
    case 'float8out':
    case 'time_out':
    case 'timestamp_out':
    case 'timestamptz_out':
    case 'pg_lsn_out':
    case 'cash_out':
    case 'xid8out':
      return bigEndian(b, 8);
    case 'timetz_out':
      return fields(b, [8, 4]);
    case 'interval_out':
      return fields(b, [8, 4, 4]);
    case 'uuid_out':
    case 'byteaout':
    case 'macaddr_out':
    case 'macaddr8_out':
      return b.slice();
    case 'inet_out':
      return networkSend(b, false);
    case 'cidr_out':
      return networkSend(b, true);
    case 'bit_out':
    case 'varbit_out':
      return bitSend(b);
    case 'range_out':
      return rangeSend(b, type, types, column);
    case 'numeric_out':
      return numericSend(b);
    case 'textout':
    case 'varcharout':
    case 'bpcharout':
    case 'json_out':
    case 'nameout':
    case 'enum_out':
      // pq_sendtext of the value's text (the database encoding is UTF-8).
      return utf8.encode(outputValue(b, type, types));
    case 'array_out':
      return arraySend(b, types, column);
    case 'jsonb_out': {
      // jsonb_send: version 1, then the text.
      const t = utf8.encode(outputValue(b, type, types));
      const out = new Uint8Array(t.length + 1);
      out[0] = 1;
      out.set(t, 1);
      return out;
    }
    default:
      throw new WalFormatError('unsupported-type', `pgwal cannot write column ${column} of type ${type.name} (oid ${type.oid}) in binary (pgoutput binary = true): no send function for its output ${type.output}`);
  }
}
