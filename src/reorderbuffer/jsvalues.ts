// Column values as typed JS values for the library API: exact (bigint for int8, strings for numeric, no Date
// precision loss), chosen by pg_type.typoutput as the text output is, so domains behave as their base type.
//
//   bool → boolean            int2, int4, oid, xid, cid, regclass, regproc → number     int8 → bigint
//   float4, float8 → number (NaN, ±Infinity kept; float4 as its exact double value)     numeric → string
//   text, varchar, bpchar, name, "char", json, jsonb (the server's text), xml, uuid, inet, cidr, macaddr,
//   money, pg_lsn, bit, varbit, enum (its label) → string as the server prints it          bytea → Uint8Array
//   date → PgDate   time → PgTime   timetz → PgTimeTz   timestamp, timestamptz → PgTimestamp   interval → PgInterval
//   arrays → (nested) JS arrays, NULL elements as null     ranges → PgRange      SQL NULL → null
//   an unchanged TOAST value the decoded range did not carry → UnchangedToast (never null)
import { WalFormatError } from '../errors.js';
import { u16, u32 } from '../xlogreader/bytes.js';
import type { RawValue } from './tuple.js';
import { numericOut, outputValue, type TypeInfo, type TypeLookup } from './values.js';

export type JsValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PgDate
  | PgTime
  | PgTimeTz
  | PgTimestamp
  | PgInterval
  | PgRange
  | UnchangedToast
  | JsValue[];

/** Microseconds between 1970-01-01 and 2000-01-01 (PostgreSQL's epoch). */
const EPOCH_SHIFT_US = 946_684_800_000_000n;
/** Days between 1970-01-01 and 2000-01-01. */
const EPOCH_SHIFT_DAYS = 10_957;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const NO_TYPES: TypeLookup = () => undefined;

const fixedType = (output: string, len: number): TypeInfo => ({ oid: 0, name: output, output, len, align: 'd', byval: len <= 8, elem: 0 });
const DATE = fixedType('date_out', 4);
const TIME = fixedType('time_out', 8);
const TIMETZ = fixedType('timetz_out', 12);
const TIMESTAMP = fixedType('timestamp_out', 8);
const TIMESTAMPTZ = fixedType('timestamptz_out', 8);
const INTERVAL = fixedType('interval_out', 16);

/** A date: days since 1970-01-01 (proleptic Gregorian), or ±infinity. */
export class PgDate {
  /** Days since 1970-01-01; ±Infinity for the infinite dates. */
  readonly days: number;

  constructor(days: number) {
    this.days = days;
  }

  /** date_out's text (DateStyle ISO): `2024-02-29`, `0044-03-15 BC`, `infinity`. */
  toString(): string {
    const b = new Uint8Array(4);
    const v = this.days === Infinity ? 0x7fffffff : this.days === -Infinity ? -0x80000000 : this.days - EPOCH_SHIFT_DAYS;
    new DataView(b.buffer).setInt32(0, v, true);
    return outputValue(b, DATE, NO_TYPES);
  }

  toJSON(): string {
    return this.toString();
  }
}

/** A time of day: microseconds since midnight (0 … 86 400 000 000, exact in a number). */
export class PgTime {
  constructor(readonly microseconds: number) {}

  /** time_out's text: `13:45:00.25`. */
  toString(): string {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigInt64(0, BigInt(this.microseconds), true);
    return outputValue(b, TIME, NO_TYPES);
  }

  toJSON(): string {
    return this.toString();
  }
}

/** A time with a UTC offset: microseconds since midnight and seconds east of UTC (+05:30 → 19800). */
export class PgTimeTz {
  constructor(
    readonly microseconds: number,
    readonly offsetSeconds: number,
  ) {}

  /** timetz_out's text: `13:45:00+05:30`. */
  toString(): string {
    const b = new Uint8Array(12);
    const v = new DataView(b.buffer);
    v.setBigInt64(0, BigInt(this.microseconds), true);
    v.setInt32(8, -this.offsetSeconds, true);
    return outputValue(b, TIMETZ, NO_TYPES);
  }

  toJSON(): string {
    return this.toString();
  }
}

/**
 * A timestamp, exact to the microsecond: microseconds since 1970-01-01 00:00 UTC (for `timestamp without time
 * zone`, of the wall-clock time read as UTC). `infinite` is 1 / -1 for ±infinity (`microseconds` is then 0).
 */
export class PgTimestamp {
  constructor(
    readonly microseconds: bigint,
    readonly withTimeZone: boolean,
    readonly infinite: -1 | 0 | 1 = 0,
  ) {}

  /** timestamp_out / timestamptz_out's text (ISO, UTC): `2024-01-02 03:04:05.678+00`, `infinity`. */
  toString(): string {
    const b = new Uint8Array(8);
    const raw = this.infinite === 1 ? INT64_MAX : this.infinite === -1 ? INT64_MIN : this.microseconds - EPOCH_SHIFT_US;
    new DataView(b.buffer).setBigInt64(0, raw, true);
    return outputValue(b, this.withTimeZone ? TIMESTAMPTZ : TIMESTAMP, NO_TYPES);
  }

  toJSON(): string {
    return this.toString();
  }

  /** A JS Date: milliseconds only (the microseconds are truncated toward -∞); Invalid Date outside its range. */
  toDate(): Date {
    if (this.infinite !== 0) return new Date(this.infinite * Infinity);
    const ms = this.microseconds / 1000n - (this.microseconds % 1000n < 0n ? 1n : 0n);
    return new Date(ms > 8_640_000_000_000_000n || ms < -8_640_000_000_000_000n ? NaN : Number(ms));
  }
}

/** An interval as PostgreSQL keeps it: months, days and microseconds, each signed and independent. */
export class PgInterval {
  constructor(
    readonly months: number,
    readonly days: number,
    readonly microseconds: bigint,
  ) {}

  /** interval_out's text (IntervalStyle postgres): `1 year 2 mons -3 days +04:05:06.5`. */
  toString(): string {
    const b = new Uint8Array(16);
    const v = new DataView(b.buffer);
    v.setBigInt64(0, this.microseconds, true);
    v.setInt32(8, this.days, true);
    v.setInt32(12, this.months, true);
    return outputValue(b, INTERVAL, NO_TYPES);
  }

  toJSON(): string {
    return this.toString();
  }
}

/** A range: bounds as JS values of the subtype, `undefined` when unbounded; `empty` for the empty range. */
export class PgRange {
  constructor(
    readonly empty: boolean,
    readonly lower: JsValue | undefined,
    readonly upper: JsValue | undefined,
    readonly lowerInclusive: boolean,
    readonly upperInclusive: boolean,
    /** range_out's text. */
    private readonly text: string,
  ) {}

  toString(): string {
    return this.text;
  }

  toJSON(): string {
    return this.text;
  }
}

/**
 * A TOAST value the update did not change and whose chunks the decoded range did not hold: its value is not
 * in the WAL. Never reported as null.
 */
export class UnchangedToast {
  constructor(
    /** The value's length in bytes once detoasted and decompressed (va_rawsize less its 4-byte header). */
    readonly size: number,
    /** chunk_id in the TOAST relation. */
    readonly valueId: number,
    readonly toastRelId: number,
  ) {}

  toString(): string {
    return 'unchanged-toast-datum';
  }

  toJSON(): string {
    return this.toString();
  }
}

const i32 = (b: Uint8Array, o: number): number => u32(b, o) | 0;
const i64 = (b: Uint8Array, o: number): bigint => (BigInt(i32(b, o + 4)) << 32n) | BigInt(u32(b, o));
const f32 = (b: Uint8Array, o: number): number => new DataView(b.buffer, b.byteOffset + o, 4).getFloat32(0, true);
const f64 = (b: Uint8Array, o: number): number => new DataView(b.buffer, b.byteOffset + o, 8).getFloat64(0, true);
const alignOf = (a: string): number => (a === 'd' ? 8 : a === 'i' ? 4 : a === 's' ? 2 : 1);

function timestamp(b: Uint8Array, tz: boolean): PgTimestamp {
  const raw = i64(b, 0);
  if (raw === INT64_MAX) return new PgTimestamp(0n, tz, 1);
  if (raw === INT64_MIN) return new PgTimestamp(0n, tz, -1);
  return new PgTimestamp(raw + EPOCH_SHIFT_US, tz);
}

/** The JS value of a datum (varlena payload without its header), by the type's output function. */
export function jsValue(b: Uint8Array, type: TypeInfo, types: TypeLookup): JsValue {
  if (TEXT_VALUED.has(type.output)) return outputValue(b, type, types);
  switch (type.output) {
    case 'boolout':
      return b[0] !== 0;
    case 'int2out':
      return (u16(b, 0) << 16) >> 16;
    case 'int4out':
      return i32(b, 0);
    case 'int8out':
      return i64(b, 0);
    case 'oidout':
    case 'xidout':
    case 'cidout':
    case 'regclassout':
    case 'regprocout':
      return u32(b, 0);
    case 'float4out':
      return f32(b, 0);
    case 'float8out':
      return f64(b, 0);
    case 'numeric_out':
      return numericOut(b);
    case 'byteaout':
      // A copy: the WAL buffer the datum points into is not the caller's to keep.
      return b.slice();
    case 'date_out': {
      const d = i32(b, 0);
      return new PgDate(d === 0x7fffffff ? Infinity : d === -0x80000000 ? -Infinity : d + EPOCH_SHIFT_DAYS);
    }
    case 'time_out':
      return new PgTime(Number(i64(b, 0)));
    case 'timetz_out':
      return new PgTimeTz(Number(i64(b, 0)), -i32(b, 8));
    case 'timestamp_out':
      return timestamp(b, false);
    case 'timestamptz_out':
      return timestamp(b, true);
    case 'interval_out':
      return new PgInterval(i32(b, 12), i32(b, 8), i64(b, 0));
    case 'array_out':
      return arrayValue(b, types);
    case 'range_out':
      return rangeValue(b, type, types);
    default:
      throw new WalFormatError('unsupported-type', `pgwal cannot convert values of type ${type.name} (output function ${type.output})`);
  }
}

/** One datum at `off` of a packed value (array element, range bound): its bytes and the offset after it. */
function readDatum(b: Uint8Array, off: number, len: number): [Uint8Array, number] {
  if (len > 0) return [b.subarray(off, off + len), off + len];
  if (len === -1) {
    if (b[off]! & 0x01) {
      const size = b[off]! >> 1;
      return [b.subarray(off + 1, off + size), off + size];
    }
    const size = u32(b, off) >>> 2;
    return [b.subarray(off + 4, off + size), off + size];
  }
  let e = off;
  while (e < b.length && b[e] !== 0) e++;
  return [b.subarray(off, e), e + 1];
}

// see array_out (arrayfuncs.c): the same walk over the elements, to JS values instead of text
function arrayValue(b: Uint8Array, types: TypeLookup): JsValue[] {
  const ndim = i32(b, 0);
  const dataoffset = i32(b, 4);
  const elemType = u32(b, 8);
  if (ndim === 0) return [];
  const dims: number[] = [];
  for (let d = 0; d < ndim; d++) dims.push(i32(b, 12 + 4 * d));
  const nitems = dims.reduce((x, y) => x * y, 1);
  const elem = types(elemType);
  if (elem === undefined) throw new WalFormatError('unknown-type', `array element type ${elemType} is not in the catalog`);
  const headerEnd = 12 + 8 * ndim; // offsets here are 4 less than from the varlena start
  const bitmap = dataoffset !== 0 ? headerEnd : -1;
  let off = dataoffset !== 0 ? dataoffset - 4 : ((headerEnd + 4 + 7) & ~7) - 4;
  const align = alignOf(elem.align);
  const values: JsValue[] = [];
  for (let i = 0; i < nitems; i++) {
    if (bitmap >= 0 && !((b[bitmap + (i >> 3)]! >> (i & 7)) & 1)) {
      values.push(null);
      continue;
    }
    off = ((off + 4 + align - 1) & ~(align - 1)) - 4;
    const [datum, next] = readDatum(b, off, elem.len);
    off = next;
    values.push(jsValue(datum, elem, types));
  }
  let idx = 0;
  const nest = (d: number): JsValue[] => {
    const out: JsValue[] = [];
    for (let k = 0; k < dims[d]!; k++) out.push(d === ndim - 1 ? values[idx++]! : nest(d + 1));
    return out;
  };
  return nest(0);
}

// see range_out (rangetypes.c) and range_deserialize
function rangeValue(b: Uint8Array, type: TypeInfo, types: TypeLookup): PgRange {
  const text = outputValue(b, type, types);
  const flags = b[b.length - 1]!;
  if (flags & 0x01) return new PgRange(true, undefined, undefined, false, false, text);
  const sub = type.rangeSubtype === undefined ? undefined : types(type.rangeSubtype);
  if (sub === undefined) throw new WalFormatError('unknown-type', `the subtype of range type ${type.name} is not in the catalog`);
  const align = alignOf(sub.align);
  let off = 4;
  const bound = (): JsValue => {
    if (sub.len !== -1 || b[off] === 0) off = ((off + 4 + align - 1) & ~(align - 1)) - 4;
    const [datum, next] = readDatum(b, off, sub.len);
    off = next;
    return jsValue(datum, sub, types);
  };
  const lower = flags & 0x08 ? undefined : bound();
  const upper = flags & 0x10 ? undefined : bound();
  return new PgRange(false, lower, upper, (flags & 0x02) !== 0, (flags & 0x04) !== 0, text);
}

/**
 * A column value as the decoder holds it, to its JS value: SQL NULL → null, an unchanged TOAST pointer →
 * UnchangedToast, a fast default (attmissingval's text) → parsed from that text.
 */
export function rawToJs(v: RawValue, type: TypeInfo, types: TypeLookup): JsValue {
  switch (v.kind) {
    case 'null':
      return null;
    case 'bytes':
      return jsValue(v.bytes, type, types);
    case 'toast':
      return new UnchangedToast(v.rawSize - 4, v.valueId, v.toastRelId);
    case 'missing':
      return v.text === null ? null : jsValueFromText(v.text, type);
  }
}

const ISO_TIME = /^(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?/;
const ISO_OFFSET = /^([+-])(\d{2})(?::(\d{2}))?(?::(\d{2}))?$/;

/** days_from_civil: days since 1970-01-01 of a proleptic Gregorian date (astronomical year: 1 BC = 0). */
function civilDays(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function parseDateText(t: string): [number, string] | undefined {
  const m = /^(\d{4,})-(\d{2})-(\d{2})/.exec(t);
  if (m === null) return undefined;
  const bc = / BC$/.test(t);
  const year = bc ? 1 - Number(m[1]) : Number(m[1]);
  return [civilDays(year, Number(m[2]), Number(m[3])), t.slice(m[0].length).replace(/ BC$/, '')];
}

function parseTimeText(t: string): [number, string] | undefined {
  const m = ISO_TIME.exec(t);
  if (m === null) return undefined;
  const us = ((Number(m[1]) * 60 + Number(m[2])) * 60 + Number(m[3])) * 1_000_000 + Number((m[4] ?? '').padEnd(6, '0'));
  return [us, t.slice(m[0].length)];
}

function parseOffset(t: string): number | undefined {
  const m = ISO_OFFSET.exec(t);
  if (m === null) return undefined;
  const s = Number(m[2]) * 3600 + Number(m[3] ?? 0) * 60 + Number(m[4] ?? 0);
  return m[1] === '-' ? -s : s;
}

/**
 * The JS value of a value's text as the server printed it (DateStyle ISO): what a fast default (attmissingval)
 * is known by. Covers the scalar types; others give a typed error rather than a guess.
 */
/** Output functions whose JS value is the server's text itself. */
const TEXT_VALUED = new Set(['textout', 'varcharout', 'bpcharout', 'nameout', 'charout', 'json_out', 'jsonb_out', 'xml_out', 'uuid_out', 'inet_out', 'cidr_out', 'macaddr_out', 'cash_out', 'pg_lsn_out', 'bit_out', 'varbit_out', 'enum_out']);

export function jsValueFromText(text: string, type: TypeInfo): JsValue {
  const bad = (): never => {
    throw new WalFormatError('unsupported-type', `pgwal cannot convert the text "${text}" of type ${type.name} (output function ${type.output})`);
  };
  if (TEXT_VALUED.has(type.output)) return text;
  switch (type.output) {
    case 'boolout':
      return text === 't' || text === 'true';
    case 'int2out':
    case 'int4out':
    case 'oidout':
    case 'xidout':
    case 'cidout':
    case 'regclassout':
    case 'regprocout':
      return /^-?\d+$/.test(text) ? Number(text) : bad();
    case 'int8out':
      return /^-?\d+$/.test(text) ? BigInt(text) : bad();
    case 'float4out':
      return Math.fround(Number(text));
    case 'float8out':
      return Number(text);
    case 'byteaout':
      return /^\\x([0-9a-f]{2})*$/i.test(text) ? Uint8Array.from(text.slice(2).match(/../g) ?? [], (h) => parseInt(h, 16)) : bad();
    case 'date_out': {
      if (text === 'infinity' || text === '-infinity') return new PgDate(text === 'infinity' ? Infinity : -Infinity);
      const d = parseDateText(text);
      return d !== undefined && d[1] === '' ? new PgDate(d[0]) : bad();
    }
    case 'time_out': {
      const t = parseTimeText(text);
      return t !== undefined && t[1] === '' ? new PgTime(t[0]) : bad();
    }
    case 'timetz_out': {
      const t = parseTimeText(text);
      const off = t === undefined ? undefined : parseOffset(t[1]);
      return t !== undefined && off !== undefined ? new PgTimeTz(t[0], off) : bad();
    }
    case 'timestamp_out':
    case 'timestamptz_out': {
      const tz = type.output === 'timestamptz_out';
      if (text === 'infinity' || text === '-infinity') return new PgTimestamp(0n, tz, text === 'infinity' ? 1 : -1);
      const bc = text.endsWith(' BC');
      const body = bc ? text.slice(0, -3) : text;
      const m = /^(\d{4,})-(\d{2})-(\d{2}) /.exec(body);
      const t = m === null ? undefined : parseTimeText(body.slice(m[0].length));
      if (m === null || t === undefined) return bad();
      const off = tz ? parseOffset(t[1]) : t[1] === '' ? 0 : undefined;
      if (off === undefined) return bad();
      const days = civilDays(bc ? 1 - Number(m[1]) : Number(m[1]), Number(m[2]), Number(m[3]));
      return new PgTimestamp(BigInt(days) * 86_400_000_000n + BigInt(t[0]) - BigInt(off) * 1_000_000n, tz);
    }
    case 'numeric_out':
      return text;
    default:
      return bad();
  }
}
