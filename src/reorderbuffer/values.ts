// Column values to text as the server's output functions print them (DateStyle ISO, TimeZone UTC,
// extra_float_digits 1, bytea_output hex, lc_monetary C), chosen by pg_type.typoutput.
import { WalFormatError } from '../errors.js';
import { toHex } from '../xlogreader/hex.js';
import { u16, u32 } from '../xlogreader/bytes.js';
import { deformTuple, type Attribute } from './tuple.js';

/** What output needs of a pg_type row. */
export interface TypeInfo {
  oid: number;
  /** format_type(oid, NULL), as test_decoding prints it. */
  name: string;
  /** typoutput, e.g. `int4out`, `array_out`. */
  output: string;
  len: number;
  align: string;
  byval: boolean;
  /** typelem for arrays. */
  elem: number;
  /** pg_enum labels by OID, for enums. */
  enumLabels?: Map<number, string> | Record<string, string>;
  /** pg_range.rngsubtype, for range types. */
  rangeSubtype?: number;
  /** The columns of a composite type (its typrelid's attributes), for record_out. */
  fields?: Attribute[];
}

export type TypeLookup = (oid: number) => TypeInfo | undefined;

const utf8 = new TextDecoder('utf-8', { fatal: false });
const i16 = (b: Uint8Array, o: number): number => (u16(b, o) << 16) >> 16;
const i32 = (b: Uint8Array, o: number): number => u32(b, o) | 0;
const i64 = (b: Uint8Array, o: number): bigint => (BigInt(i32(b, o + 4)) << 32n) | BigInt(u32(b, o));
const f32 = (b: Uint8Array, o: number): number => new DataView(b.buffer, b.byteOffset + o, 4).getFloat32(0, true);
const f64 = (b: Uint8Array, o: number): number => new DataView(b.buffer, b.byteOffset + o, 8).getFloat64(0, true);
const pad = (n: number | bigint | string, w: number): string => String(n).padStart(w, "0");

/**
 * float8out / float4out with extra_float_digits = 1: the shortest digits that read back as the same value
 * (Ryu), exponent form outside [-4, 15) / [-4, 6). PostgreSQL builds Ryu without STRICTLY_SHORTEST, so a
 * decimal lying exactly on the boundary between two floats is never chosen, even where it would round back.
 */
function floatOut(x: number, single: boolean): string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return 'Infinity';
  if (x === -Infinity) return '-Infinity';
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  const roundTrips = (t: string): boolean => (single ? Math.fround(Number(t)) === x : Number(t) === x) && !onBoundary(t, x, single);
  let t = single ? x.toExponential(0) : x.toExponential();
  let p = t.split('e')[0]!.replace('-', '').replace('.', '').length - 1;
  if (single) {
    p = 0;
    while (!roundTrips(t) && p < 9) t = x.toExponential(++p);
  }
  while (!roundTrips(t) && p < 20) t = x.toExponential(++p);
  // toExponential rounds ties up; Ryu rounds them to even.
  const exact = x.toExponential(Math.min(100, p + 40));
  const rest = exact.split('e')[0]!.replace('-', '').replace('.', '').slice(p + 1);
  if (/^50*$/.test(rest)) {
    const [m, e] = t.split('e') as [string, string];
    const last = Number(m[m.length - 1]);
    if (last % 2 === 1) {
      const alt = `${m.slice(0, -1)}${last - 1}e${e}`;
      if (roundTrips(alt)) t = alt;
    }
  }
  const [digits, exp] = splitExp(t);
  const neg = digits.startsWith('-');
  const d = digits.replace('-', '').replace('.', '').replace(/0+$/, '') || '0';
  const limit = single ? 6 : 15;
  let s: string;
  if (exp < -4 || exp >= limit) {
    s = (d.length > 1 ? `${d[0]}.${d.slice(1)}` : d) + `e${exp < 0 ? '-' : '+'}${pad(Math.abs(exp), 2)}`;
  } else if (exp >= 0) {
    s = d.length <= exp + 1 ? d + '0'.repeat(exp + 1 - d.length) : `${d.slice(0, exp + 1)}.${d.slice(exp + 1)}`;
  } else {
    s = `0.${'0'.repeat(-exp - 1)}${d}`;
  }
  return neg ? `-${s}` : s;
}

/** Whether the decimal `t` is exactly the midpoint between `x` and a neighbouring float (exact BigInt math). */
function onBoundary(t: string, x: number, single: boolean): boolean {
  // x = M * 2^Q exactly.
  let M: bigint;
  let Q: number;
  let atPowerOfTwo: boolean;
  if (single) {
    const bits = new Uint32Array(new Float32Array([Math.abs(x)]).buffer)[0]!;
    const e = bits >>> 23;
    const f = bits & 0x7fffff;
    M = BigInt(e === 0 ? f : f | 0x800000);
    Q = (e === 0 ? 1 : e) - 127 - 23;
    atPowerOfTwo = f === 0 && e > 1;
  } else {
    const dv = new DataView(new ArrayBuffer(8));
    dv.setFloat64(0, Math.abs(x));
    const hi = dv.getUint32(0);
    const lo = dv.getUint32(4);
    const e = hi >>> 20;
    const f = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
    M = e === 0 ? f : f | (1n << 52n);
    Q = (e === 0 ? 1 : e) - 1023 - 52;
    atPowerOfTwo = f === 0n && e > 1;
  }
  // t = D * 10^P exactly.
  const m = /^-?(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(t);
  if (m === null) return false;
  const frac = m[2] ?? '';
  const D = BigInt(m[1]! + frac);
  const P = Number(m[3]) - frac.length;
  const equals = (K: bigint, R: number): boolean =>
    D * 10n ** BigInt(Math.max(P, 0)) * 2n ** BigInt(Math.max(-R, 0)) === K * 10n ** BigInt(Math.max(-P, 0)) * 2n ** BigInt(Math.max(R, 0));
  if (equals(2n * M + 1n, Q - 1)) return true;
  return atPowerOfTwo ? equals(4n * M - 1n, Q - 2) : equals(2n * M - 1n, Q - 1);
}

function splitExp(t: string): [string, number] {
  const [m, e] = t.split('e') as [string, string];
  return [m, Number(e)];
}

/** numeric_out (get_str_from_var). `b` is the payload after the varlena header. */
export function numericOut(b: Uint8Array): string {
  const h = u16(b, 0);
  if ((h & 0xc000) === 0xc000) return h === 0xc000 ? 'NaN' : h === 0xd000 ? 'Infinity' : h === 0xf000 ? '-Infinity' : 'NaN';
  let neg: boolean;
  let dscale: number;
  let weight: number;
  let first: number;
  if (h & 0x8000) {
    neg = (h & 0x2000) !== 0;
    dscale = (h >> 7) & 0x3f;
    weight = h & 0x40 ? (h & 0x3f) - 64 : h & 0x3f;
    first = 2;
  } else {
    neg = (h & 0x4000) !== 0;
    dscale = h & 0x3fff;
    weight = i16(b, 2);
    first = 4;
  }
  const ndigits = (b.length - first) >> 1;
  const digit = (k: number): number => (k >= 0 && k < ndigits ? u16(b, first + 2 * k) : 0);
  let s = neg && ndigits > 0 ? '-' : '';
  if (weight < 0) s += '0';
  else {
    for (let k = 0; k <= weight; k++) s += k === 0 ? String(digit(k)) : pad(digit(k), 4);
  }
  if (dscale > 0) {
    let frac = '';
    for (let k = weight + 1; frac.length < dscale; k++) frac += pad(digit(k), 4);
    s += '.' + frac.slice(0, dscale);
  }
  return s;
}

const POSTGRES_EPOCH_JDATE = 2451545;

/** j2date: Julian day → proleptic Gregorian (y, m, d). */
function j2date(jd: number): [number, number, number] {
  let julian = jd + 32044;
  let quad = Math.floor(julian / 146097);
  const extra = (julian - quad * 146097) * 4 + 3;
  julian += 60 + quad * 3 + Math.floor(extra / 146097);
  quad = Math.floor(julian / 1461);
  julian -= quad * 1461;
  let y = Math.floor((julian * 4) / 1461);
  julian = y !== 0 ? ((julian + 305) % 365) + 123 : ((julian + 306) % 366) + 123;
  y += quad * 4;
  const year = y - 4800;
  quad = Math.floor((julian * 2141) / 65536);
  const day = julian - Math.floor((7834 * quad) / 256);
  const month = ((quad + 10) % 12) + 1;
  return [year, month, day];
}

function dateText(days: number): string {
  const [y, m, d] = j2date(days + POSTGRES_EPOCH_JDATE);
  return y > 0 ? `${pad(y, 4)}-${pad(m, 2)}-${pad(d, 2)}` : `${pad(1 - y, 4)}-${pad(m, 2)}-${pad(d, 2)} BC`;
}

/** HH:MM:SS[.ffffff] with trailing zeros of the fraction dropped (AppendSeconds). */
function timeText(usec: bigint): string {
  const h = usec / 3_600_000_000n;
  const rem = usec % 3_600_000_000n;
  const m = rem / 60_000_000n;
  const s = (rem % 60_000_000n) / 1_000_000n;
  const frac = Number(usec % 1_000_000n);
  let t = `${pad(h, 2)}:${pad(m, 2)}:${pad(s, 2)}`;
  if (frac !== 0) t += '.' + pad(frac, 6).replace(/0+$/, '');
  return t;
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** timestamptz_to_str in TimeZone UTC: what test_decoding's include-timestamp prints. */
export function timestamptzText(us: bigint): string {
  return timestampText(us, true);
}

/** timestamp_out / timestamptz_out (UTC): ISO, ` BC`, infinities. */
function timestampText(us: bigint, tz: boolean): string {
  if (us === INT64_MIN) return '-infinity';
  if (us === INT64_MAX) return 'infinity';
  let days = us / 86_400_000_000n;
  let tod = us % 86_400_000_000n;
  if (tod < 0n) {
    tod += 86_400_000_000n;
    days -= 1n;
  }
  const [y, m, d] = j2date(Number(days) + POSTGRES_EPOCH_JDATE);
  const date = `${pad(y > 0 ? y : 1 - y, 4)}-${pad(m, 2)}-${pad(d, 2)}`;
  return `${date} ${timeText(tod)}${tz ? '+00' : ''}${y > 0 ? '' : ' BC'}`;
}

/** The UTC offset as timetz prints it: +HH[:MM[:SS]]; stored as seconds west of UTC. */
function tzText(secondsWest: number): string {
  const east = -secondsWest;
  const sign = east < 0 ? '-' : '+';
  const a = Math.abs(east);
  let s = `${sign}${pad(Math.floor(a / 3600), 2)}`;
  const mi = Math.floor((a % 3600) / 60);
  const se = a % 60;
  if (mi !== 0 || se !== 0) s += `:${pad(mi, 2)}`;
  if (se !== 0) s += `:${pad(se, 2)}`;
  return s;
}

/** interval_out, IntervalStyle postgres (EncodeInterval). */
function intervalText(time: bigint, day: number, month: number): string {
  const year = Math.trunc(month / 12);
  const mon = month % 12;
  const parts: string[] = [];
  // A positive part gets a "+" when the part printed just before it was negative (AddPostgresIntPart).
  let before = false;
  const add = (v: number, unit: string, plural: string): void => {
    if (v === 0) return;
    parts.push(`${parts.length > 0 && before && v > 0 ? '+' : ''}${v} ${v === 1 ? unit : plural}`);
    before = v < 0;
  };
  add(year, 'year', 'years');
  add(mon, 'mon', 'mons');
  add(day, 'day', 'days');
  if (time !== 0n || parts.length === 0) {
    const neg = time < 0n;
    parts.push((neg ? '-' : before ? '+' : '') + timeText(neg ? -time : time));
  }
  return parts.join(' ');
}

/** inet_out / cidr_out. */
function inetText(b: Uint8Array, cidr: boolean): string {
  const family = b[0]!;
  const bits = b[1]!;
  const addr = b.subarray(2);
  let text: string;
  if (family === 2) {
    text = Array.from(addr.subarray(0, 4)).join('.');
    if (cidr || bits !== 32) text += `/${bits}`;
    return text;
  }
  // IPv6: the longest run (≥ 2) of zero groups becomes ::, as inet_net_ntop does.
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((addr[i]! << 8) | addr[i + 1]!);
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hexes = groups.map((g) => g.toString(16));
  if (best >= 0 && best === 0 && (bestLen === 6 || (bestLen === 5 && groups[5] === 0xffff))) {
    // IPv4-compatible / mapped addresses keep the dotted quad.
    const v4 = `${addr[12]}.${addr[13]}.${addr[14]}.${addr[15]}`;
    text = bestLen === 6 ? `::${v4}` : `::ffff:${v4}`;
  } else if (best >= 0) {
    text = `${hexes.slice(0, best).join(':')}::${hexes.slice(best + bestLen).join(':')}`;
  } else text = hexes.join(':');
  if (cidr || bits !== 128) text += `/${bits}`;
  return text;
}

/** cash_out with lc_monetary C: `$1,234.56`, `-$1.00`. */
function cashText(v: bigint): string {
  const neg = v < 0n;
  const a = neg ? -v : v;
  const whole = (a / 100n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${neg ? '-' : ''}$${whole}.${pad(a % 100n, 2)}`;
}

function bitText(b: Uint8Array): string {
  const n = u32(b, 0);
  let s = '';
  for (let i = 0; i < n; i++) s += (b[4 + (i >> 3)]! >> (7 - (i & 7))) & 1 ? '1' : '0';
  return s;
}

/** jsonb_out: the binary container to text (JsonbToCString). */
function jsonbText(b: Uint8Array): string {
  const jsonString = (bytes: Uint8Array): string => {
    let out = '"';
    for (const ch of utf8.decode(bytes)) {
      const c = ch.charCodeAt(0);
      if (ch === '"') out += '\\"';
      else if (ch === '\\') out += '\\\\';
      else if (c === 8) out += '\\b';
      else if (c === 12) out += '\\f';
      else if (c === 10) out += '\\n';
      else if (c === 13) out += '\\r';
      else if (c === 9) out += '\\t';
      else if (c < 0x20) out += '\\u' + pad(c.toString(16), 4);
      else out += ch;
    }
    return out + '"';
  };
  const container = (off: number): string => {
    const header = u32(b, off);
    const count = header & 0x0fffffff;
    const isObject = (header & 0x20000000) !== 0;
    const isScalar = (header & 0x10000000) !== 0;
    const nChildren = isObject ? count * 2 : count;
    const jentries = off + 4;
    const data = jentries + 4 * nChildren;
    const starts: number[] = [];
    const lens: number[] = [];
    let offset = 0;
    for (let i = 0; i < nChildren; i++) {
      const je = u32(b, jentries + 4 * i);
      const v = je & 0x0fffffff;
      const end = je & 0x80000000 ? v : offset + v;
      starts.push(offset);
      lens.push(end - offset);
      offset = end;
    }
    const child = (i: number): string => {
      const je = u32(b, jentries + 4 * i);
      const type = je & 0x70000000;
      const s = data + starts[i]!;
      const len = lens[i]!;
      switch (type) {
        case 0x00000000:
          return jsonString(b.subarray(s, s + len));
        case 0x10000000: {
          const a = data + ((starts[i]! + 3) & ~3);
          // A complete numeric varlena: skip its (4-byte or 1-byte) header.
          const hdr = b[a]! & 0x01 ? 1 : 4;
          const size = b[a]! & 0x01 ? b[a]! >> 1 : u32(b, a) >>> 2;
          return numericOut(b.subarray(a + hdr, a + size));
        }
        case 0x20000000:
          return 'false';
        case 0x30000000:
          return 'true';
        case 0x40000000:
          return 'null';
        case 0x50000000:
          return container(data + ((starts[i]! + 3) & ~3));
        default:
          throw new WalFormatError('invalid-datum', `unknown jsonb entry type ${type >>> 28}`);
      }
    };
    if (isScalar) return child(0);
    if (isObject) {
      const items: string[] = [];
      for (let i = 0; i < count; i++) items.push(`${child(i)}: ${child(i + count)}`);
      return `{${items.join(', ')}}`;
    }
    const items: string[] = [];
    for (let i = 0; i < count; i++) items.push(child(i));
    return `[${items.join(', ')}]`;
  };
  return container(0);
}

/** array_out: `{a,b}`, nested braces, `[lb:ub]=` when a lower bound is not 1, quoting as the server does. */
function arrayText(b: Uint8Array, types: TypeLookup): string {
  // `b` is the payload after the varlena header; the array header fields follow the 4-byte length word.
  const ndim = i32(b, 0);
  const dataoffset = i32(b, 4);
  const elemType = u32(b, 8);
  if (ndim === 0) return '{}';
  const dims: number[] = [];
  const lbs: number[] = [];
  for (let d = 0; d < ndim; d++) {
    dims.push(i32(b, 12 + 4 * d));
    lbs.push(i32(b, 12 + 4 * ndim + 4 * d));
  }
  const nitems = dims.reduce((x, y) => x * y, 1);
  const elem = types(elemType);
  if (elem === undefined) throw new WalFormatError('unknown-type', `array element type ${elemType} is not in the catalog`);
  const headerEnd = 12 + 8 * ndim; // offsets here are 4 less than from the varlena start
  const bitmap = dataoffset !== 0 ? headerEnd : -1;
  let off = dataoffset !== 0 ? dataoffset - 4 : ((headerEnd + 4 + 7) & ~7) - 4;
  const align = alignOf(elem.align);
  const values: (string | null)[] = [];
  for (let i = 0; i < nitems; i++) {
    if (bitmap >= 0 && !((b[bitmap + (i >> 3)]! >> (i & 7)) & 1)) {
      values.push(null);
      continue;
    }
    // Alignment is relative to the varlena start (4 bytes before `b`).
    off = ((off + 4 + align - 1) & ~(align - 1)) - 4;
    const [datum, next] = readDatum(b, off, elem.len);
    off = next;
    values.push(outputValue(datum, elem, types));
  }
  const quote = (v: string | null): string => {
    if (v === null) return 'NULL';
    if (v === '' || /^null$/i.test(v) || /["\\{},\s]/.test(v)) return `"${v.replace(/(["\\])/g, '\\$1')}"`;
    return v;
  };
  let idx = 0;
  const nest = (d: number): string => {
    const parts: string[] = [];
    for (let k = 0; k < dims[d]!; k++) parts.push(d === ndim - 1 ? quote(values[idx++]!) : nest(d + 1));
    return `{${parts.join(',')}}`;
  };
  const body = nest(0);
  return lbs.some((l) => l !== 1) ? dims.map((n, d) => `[${lbs[d]}:${lbs[d]! + n - 1}]`).join('') + '=' + body : body;
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

/** range_out: `[lo,hi)`, `empty`, infinite bounds left blank, bounds quoted when they need it. */
function rangeText(b: Uint8Array, type: TypeInfo, types: TypeLookup): string {
  const flags = b[b.length - 1]!;
  if (flags & 0x01) return 'empty';
  const sub = type.rangeSubtype === undefined ? undefined : types(type.rangeSubtype);
  if (sub === undefined) throw new WalFormatError('unknown-type', `the subtype of range type ${type.name} is not in the catalog`);
  const align = alignOf(sub.align);
  // Offsets are relative to the payload; alignment is relative to the varlena start, 4 bytes earlier.
  let off = 4;
  const bound = (): string => {
    if (sub.len === -1 && b[off] === 0) off = ((off + 4 + align - 1) & ~(align - 1)) - 4;
    else if (sub.len !== -1) off = ((off + 4 + align - 1) & ~(align - 1)) - 4;
    const [datum, next] = readDatum(b, off, sub.len);
    off = next;
    const text = outputValue(datum, sub, types);
    return text === '' || /["\\()[\],\s]/.test(text) ? `"${text.replace(/(["\\])/g, '$1$1')}"` : text;
  };
  const lower = flags & 0x08 ? '' : bound();
  const upper = flags & 0x10 ? '' : bound();
  return `${flags & 0x02 ? '[' : '('}${lower},${upper}${flags & 0x04 ? ']' : ')'}`;
}

const alignOf = (a: string): number => (a === 'd' ? 8 : a === 'i' ? 4 : a === 's' ? 2 : 1);

/**
 * record_out: `(a,b)`, NULL as nothing, a value quoted when empty or holding `"`, `\\`, `(`, `)`, `,` or space.
 * `b` is a composite datum after its length word: typmod, type OID, then a heap tuple header from t_ctid on.
 */
// see record_out (rowtypes.c)
function recordText(b: Uint8Array, fields: readonly Attribute[], types: TypeLookup): string {
  const values = deformTuple(b.subarray(19), u16(b, 14), u16(b, 16), b[18]!, fields);
  const parts: string[] = [];
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i]!;
    if (f.dropped) continue;
    const v = values[i]!;
    if (v.kind !== 'bytes') {
      parts.push('');
      continue;
    }
    const t = types(f.typeOid);
    if (t === undefined) throw new WalFormatError('unknown-type', `type ${f.typeOid} of a composite's column ${f.name} is not in the catalog`);
    const text = outputValue(v.bytes, t, types);
    parts.push(text === '' || /["\\(),\s]/.test(text) ? `"${text.replace(/(["\\])/g, '$1$1')}"` : text);
  }
  return `(${parts.join(',')})`;
}

/** The text the type's output function prints for a datum (varlena payload without its header). */
export function outputValue(b: Uint8Array, type: TypeInfo, types: TypeLookup): string {
  switch (type.output) {
    case 'boolout':
      return b[0] ? 't' : 'f';
    case 'int2out':
      return String(i16(b, 0));
    case 'int4out':
      return String(i32(b, 0));
    case 'int8out':
      return i64(b, 0).toString();
    case 'oidout':
    case 'xidout':
    case 'cidout':
    case 'regclassout':
    case 'regprocout':
      return String(u32(b, 0));
    case 'float4out':
      return floatOut(f32(b, 0), true);
    case 'float8out':
      return floatOut(f64(b, 0), false);
    case 'numeric_out':
      return numericOut(b);
    case 'textout':
    case 'varcharout':
    case 'bpcharout':
    case 'json_out':
    case 'xml_out':
      return utf8.decode(b);
    case 'nameout': {
      const z = b.indexOf(0);
      return utf8.decode(z < 0 ? b : b.subarray(0, z));
    }
    case 'charout':
      return b[0] === 0 ? '' : String.fromCharCode(b[0]!);
    case 'byteaout':
      return '\\x' + toHex(b);
    case 'date_out': {
      const d = i32(b, 0);
      return d === -0x80000000 ? '-infinity' : d === 0x7fffffff ? 'infinity' : dateText(d);
    }
    case 'time_out':
      return timeText(i64(b, 0));
    case 'timetz_out':
      return timeText(i64(b, 0)) + tzText(i32(b, 8));
    case 'timestamp_out':
      return timestampText(i64(b, 0), false);
    case 'timestamptz_out':
      return timestampText(i64(b, 0), true);
    case 'interval_out':
      return intervalText(i64(b, 0), i32(b, 8), i32(b, 12));
    case 'uuid_out': {
      const h = toHex(b);
      return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
    }
    case 'jsonb_out':
      return jsonbText(b.subarray(0));
    case 'pg_lsn_out':
      // From the halves: a pg_lsn value may lie beyond the LSNs pgwal's own positions represent.
      return `${u32(b, 4).toString(16).toUpperCase()}/${u32(b, 0).toString(16).toUpperCase()}`;
    case 'inet_out':
      return inetText(b, false);
    case 'cidr_out':
      return inetText(b, true);
    case 'macaddr_out':
      return Array.from(b.subarray(0, 6), (x) => pad(x.toString(16), 2)).join(':');
    case 'cash_out':
      return cashText(i64(b, 0));
    case 'bit_out':
    case 'varbit_out':
      return bitText(b);
    case 'array_out':
      return arrayText(b, types);
    case 'range_out':
      return rangeText(b, type, types);
    case 'record_out':
      if (type.fields !== undefined) return recordText(b, type.fields, types);
      throw new WalFormatError('unsupported-type', `pgwal cannot print values of type ${type.name}: its columns are not in the catalog`);
    case 'enum_out': {
      const labels = type.enumLabels;
      const label = labels instanceof Map ? labels.get(u32(b, 0)) : labels?.[String(u32(b, 0))];
      if (label === undefined) throw new WalFormatError('unknown-type', `enum value ${u32(b, 0)} of type ${type.name} is not in the catalog`);
      return label;
    }
    default:
      throw new WalFormatError('unsupported-type', `pgwal cannot print values of type ${type.name} (output function ${type.output})`);
  }
}
