// Column values to text as the server's output functions print them (DateStyle ISO, TimeZone UTC,
// extra_float_digits 1, bytea_output hex, lc_monetary C), chosen by pg_type.typoutput.
import { splitDays, splitTod } from './timestamp-days.js';
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
  /** For a multirange type: its range type (pg_range.rngtypid of the row whose rngmultitypid is this type). */
  rangeType?: number;
  /** typbasetype, for a domain: where its enum labels are when it carries none itself. */
  baseType?: number;
  /** pg_enum labels by OID, for enums. */
  enumLabels?: Map<number, string> | Record<string, string>;
  /** pg_range.rngsubtype, for range types. */
  rangeSubtype?: number;
  /** Domains: typtypmod (the modifier of the type the domain is over, `baseType`). */
  baseTypmod?: number;
  /** The columns of a composite type (its typrelid's attributes), for record_out. */
  fields?: Attribute[];
  /** pg_type.typname and its namespace's name, as pgoutput's Type message carries them; undefined when not known. */
  typname?: string;
  namespace?: string;
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

/** numeric_out (get_str_from_var). `b` is the payload after the varlena header (or its bytes `s` to `e`). */
export function numericOut(b: Uint8Array, s0 = 0, e0 = b.length): string {
  const h = u16(b, s0);
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
    weight = i16(b, s0 + 2);
    first = 4;
  }
  const ndigits = (e0 - s0 - first) >> 1;
  const at = s0 + first;
  const digit = (k: number): number => (k >= 0 && k < ndigits ? u16(b, at + 2 * k) : 0);
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

/** The same as timeText for a time of day that is a safe integer. */
function timeTextNumber(usec: number): string {
  const h = Math.floor(usec / 3_600_000_000);
  const rem = usec - h * 3_600_000_000;
  const m = Math.floor(rem / 60_000_000);
  const sec = rem - m * 60_000_000;
  const s = Math.floor(sec / 1_000_000);
  const frac = sec - s * 1_000_000;
  let t = `${h < 10 ? '0' : ''}${h}:${m < 10 ? '0' : ''}${m}:${s < 10 ? '0' : ''}${s}`;
  if (frac !== 0) {
    // The fraction's 6 digits without trailing zeros, by arithmetic.
    let f = frac;
    let digits = 6;
    while (f % 10 === 0) {
      f /= 10;
      digits--;
    }
    const text = String(f);
    t += text.length < digits ? '.' + '0'.repeat(digits - text.length) + text : '.' + text;
  }
  return t;
}

/** timestamp_out / timestamptz_out from the value's two halves: without BigInt while it is a safe integer. */
function timestampTextFromHalves(hi: number, lo: number, tz: boolean): string {
  // timestamptz in a session TimeZone other than UTC takes the general path (the zone's offset at that instant).
  if (hi < -0x200000 || hi >= 0x200000 || (tz && !UTC_NAMES.has(sessionTimeZone))) return timestampText((BigInt(hi) << 32n) | BigInt(lo), tz);
  const us = hi * 0x1_0000_0000 + lo;
  const days = splitDays(us);
  const tod = splitTod;
  if (days !== lastDays) {
    const [y, m, d] = j2date(days + POSTGRES_EPOCH_JDATE);
    const year = y > 0 ? y : 1 - y;
    lastDays = days;
    lastDate = `${year >= 1000 ? year : pad(year, 4)}-${m < 10 ? '0' : ''}${m}-${d < 10 ? '0' : ''}${d} `;
    lastEra = y > 0 ? '' : ' BC';
  }
  return lastDate + timeTextNumber(tod) + (tz ? (lastEra === '' ? '+00' : '+00 BC') : lastEra);
}
/** The date part of the last timestamp printed: a column of timestamps mostly shares its day. */
let lastDays = Number.NaN;
let lastDate = '';
let lastEra = '';

/**
 * timestampTextFromHalves written as ASCII into `buf` from `at` (room for 40 bytes): the new end, or -1 where the
 * text takes the general path (beyond a safe integer, timestamptz in a zone other than UTC).
 */
export function timestampAsciiFromHalves(buf: Uint8Array, at: number, hi: number, lo: number, tz: boolean): number {
  if (hi < -0x200000 || hi >= 0x200000 || (tz && !UTC_NAMES.has(sessionTimeZone))) return -1;
  const us = hi * 0x1_0000_0000 + lo;
  const days = splitDays(us);
  const tod = splitTod;
  if (days !== lastDateBytesDays) {
    const [y, m, d] = j2date(days + POSTGRES_EPOCH_JDATE);
    const year = y > 0 ? y : 1 - y;
    const text = `${year >= 1000 ? year : pad(year, 4)}-${m < 10 ? '0' : ''}${m}-${d < 10 ? '0' : ''}${d} `;
    lastDateBytes = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) lastDateBytes[i] = text.charCodeAt(i);
    lastDateBytesDays = days;
    lastDateBytesBC = y <= 0;
  }
  const date = lastDateBytes;
  for (let i = 0; i < date.length; i++) buf[at++] = date[i]!;
  // HH:MM:SS[.ffffff] without the fraction's trailing zeros, as timeTextNumber.
  const h = Math.floor(tod / 3_600_000_000);
  const rem = tod - h * 3_600_000_000;
  const m = Math.floor(rem / 60_000_000);
  const sec = rem - m * 60_000_000;
  const sWhole = Math.floor(sec / 1_000_000);
  let frac = sec - sWhole * 1_000_000;
  at = twoDigits(buf, at, h);
  buf[at++] = 0x3a;
  at = twoDigits(buf, at, m);
  buf[at++] = 0x3a;
  at = twoDigits(buf, at, sWhole);
  if (frac !== 0) {
    let digits = 6;
    while (frac % 10 === 0) {
      frac /= 10;
      digits--;
    }
    buf[at++] = 0x2e;
    for (let k = digits - 1; k >= 0; k--) {
      const q = Math.floor(frac / 10);
      buf[at + k] = 0x30 + (frac - q * 10);
      frac = q;
    }
    at += digits;
  }
  if (tz) {
    buf[at++] = 0x2b; // +00
    buf[at++] = 0x30;
    buf[at++] = 0x30;
  }
  if (lastDateBytesBC) {
    buf[at++] = 0x20; // ' BC'
    buf[at++] = 0x42;
    buf[at++] = 0x43;
  }
  return at;
}
let lastDateBytesDays = Number.NaN;
let lastDateBytes = new Uint8Array(0);
let lastDateBytesBC = false;

function twoDigits(buf: Uint8Array, at: number, v: number): number {
  const t = Math.floor(v / 10);
  buf[at] = 0x30 + t;
  buf[at + 1] = 0x30 + (v - t * 10);
  return at + 2;
}

/** timestamp_out / timestamptz_out (UTC): ISO, ` BC`, infinities. */
// The session TimeZone that timestamptz values print in (the slot's, from its state). Output is synchronous, so
// the decoder sets it around each plugin call rather than threading it through every nested output function.
let sessionTimeZone = 'UTC';
const UTC_NAMES = new Set(['UTC', 'Etc/UTC', 'GMT', 'Etc/GMT', 'UCT', 'Etc/UCT', 'Zulu', 'Etc/Zulu', 'Universal', 'Etc/Universal', 'Greenwich', 'Etc/Greenwich', 'GMT0', 'GMT+0', 'GMT-0', 'Etc/GMT0', 'Etc/GMT+0', 'Etc/GMT-0']);
const zoneFormats = new Map<string, Intl.DateTimeFormat>();
const MAX_DATE_MS = 8.64e15;

/** Runs `fn` with timestamptz values printed in the TimeZone `zone` (an IANA name, as the server's setting). */
export function withOutputTimeZone<T>(zone: string, fn: () => T): T {
  const before = sessionTimeZone;
  sessionTimeZone = zone;
  try {
    return fn();
  } finally {
    sessionTimeZone = before;
  }
}

/** Seconds east of UTC of the session TimeZone at the instant `us` (µs since 2000-01-01 UTC). */
function utcOffsetSeconds(us: bigint): number {
  const zone = sessionTimeZone;
  if (UTC_NAMES.has(zone)) return 0;
  let f = zoneFormats.get(zone);
  if (f === undefined) {
    try {
      f = new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'longOffset', year: 'numeric' });
    } catch {
      throw new WalFormatError('unsupported-timezone', `cannot print timestamptz values in TimeZone "${zone}": not an IANA time zone name pgwal knows`);
    }
    zoneFormats.set(zone, f);
  }
  // Beyond what a Date holds the zone's rules no longer change: use the offset at the edge.
  const ms = Math.max(-MAX_DATE_MS, Math.min(MAX_DATE_MS, Number(us / 1000n) + 946_684_800_000));
  const name = f.formatToParts(new Date(ms)).find((p) => p.type === 'timeZoneName')?.value ?? 'GMT';
  const m = /^GMT(?:([+-])(\d{1,2})(?::(\d{2}))?(?::(\d{2}))?)?$/.exec(name);
  if (m === null) throw new WalFormatError('unsupported-timezone', `cannot read the UTC offset "${name}" of TimeZone "${zone}"`);
  if (m[1] === undefined) return 0;
  const secs = Number(m[2]) * 3600 + Number(m[3] ?? 0) * 60 + Number(m[4] ?? 0);
  return m[1] === '-' ? -secs : secs;
}

/** timestamp_out / timestamptz_out: ISO, ` BC`, infinities; timestamptz in the session TimeZone. */
function timestampText(us: bigint, tz: boolean): string {
  if (us === INT64_MIN) return '-infinity';
  if (us === INT64_MAX) return 'infinity';
  const offset = tz ? utcOffsetSeconds(us) : 0;
  if (offset !== 0) us += BigInt(offset) * 1_000_000n;
  let days = us / 86_400_000_000n;
  let tod = us % 86_400_000_000n;
  if (tod < 0n) {
    tod += 86_400_000_000n;
    days -= 1n;
  }
  const [y, m, d] = j2date(Number(days) + POSTGRES_EPOCH_JDATE);
  const date = `${pad(y > 0 ? y : 1 - y, 4)}-${pad(m, 2)}-${pad(d, 2)}`;
  return `${date} ${timeText(tod)}${tz ? tzText(-offset) : ''}${y > 0 ? '' : ' BC'}`;
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
  if (n > 8 * (b.length - 4)) throw new WalFormatError('invalid-datum', `bit string of ${n} bits in ${b.length - 4} bytes`);
  let s = '';
  for (let i = 0; i < n; i++) s += (b[4 + (i >> 3)]! >> (7 - (i & 7))) & 1 ? '1' : '0';
  return s;
}

/** jsonb_out: the binary container to text (JsonbToCString). */
function jsonbText(b: Uint8Array): string {
  const jsonString = jsonQuoted;
  const container = (off: number): string => {
    const header = u32(b, off);
    const count = header & 0x0fffffff;
    const isObject = (header & 0x20000000) !== 0;
    const isScalar = (header & 0x10000000) !== 0;
    const nChildren = isObject ? count * 2 : count;
    const jentries = off + 4;
    const data = jentries + 4 * nChildren;
    if (data > b.length) throw new WalFormatError('invalid-datum', `jsonb container of ${nChildren} entries in ${b.length} bytes`);
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
  if (ndim < 0 || ndim > 6 || b.length < 12 + 8 * ndim) throw new WalFormatError('invalid-datum', `array with ${ndim} dimensions in ${b.length} bytes`);
  const dims: number[] = [];
  const lbs: number[] = [];
  for (let d = 0; d < ndim; d++) {
    dims.push(i32(b, 12 + 4 * d));
    lbs.push(i32(b, 12 + 4 * ndim + 4 * d));
  }
  const nitems = dims.reduce((x, y) => x * y, 1);
  // Every element takes a bit of the null bitmap or at least a byte: more than that cannot be in these bytes.
  if (dims.some((d) => d < 0) || nitems > 8 * b.length) throw new WalFormatError('invalid-datum', `array of ${dims.join('×')} elements in ${b.length} bytes`);
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
  // typdelim: box is the one built-in type whose array elements are separated by ';'.
  const delim = elem.output === 'box_out' ? ';' : ',';
  const quote = (v: string | null): string => {
    if (v === null) return 'NULL';
    // array_isspace, not \s: only ASCII white space makes the server quote.
    if (v === '' || /^null$/i.test(v) || /["\\{} \t\n\r\v\f]/.test(v) || v.includes(delim)) return `"${v.replace(/(["\\])/g, '\\$1')}"`;
    return v;
  };
  let idx = 0;
  const nest = (d: number): string => {
    const parts: string[] = [];
    for (let k = 0; k < dims[d]!; k++) parts.push(d === ndim - 1 ? quote(values[idx++]!) : nest(d + 1));
    return `{${parts.join(delim)}}`;
  };
  const body = nest(0);
  return lbs.some((l) => l !== 1) ? dims.map((n, d) => `[${lbs[d]}:${lbs[d]! + n - 1}]`).join('') + '=' + body : body;
}

/** One datum at `off` of a packed value (array element, range bound): its bytes and the offset after it. */
export function readDatum(b: Uint8Array, off: number, len: number): [Uint8Array, number] {
  const past = (end: number): never => {
    throw new WalFormatError('invalid-datum', `an element runs from ${off} to ${end}, past the ${b.length} bytes of its value`);
  };
  if (off >= b.length) past(off);
  if (len > 0) return off + len > b.length ? past(off + len) : [b.subarray(off, off + len), off + len];
  if (len === -1) {
    if (b[off]! & 0x01) {
      const size = b[off]! >> 1;
      if (size < 1 || off + size > b.length) past(off + size);
      return [b.subarray(off + 1, off + size), off + size];
    }
    const size = u32(b, off) >>> 2;
    if (size < 4 || off + size > b.length) past(off + size);
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
    return text === '' || /["\\()[\], \t\n\r\v\f]/.test(text) ? `"${text.replace(/(["\\])/g, '$1$1')}"` : text;
  };
  const lower = flags & 0x08 ? '' : bound();
  const upper = flags & 0x10 ? '' : bound();
  return `${flags & 0x02 ? '[' : '('}${lower},${upper}${flags & 0x04 ? ']' : ')'}`;
}

const alignOf = (a: string): number => (a === 'd' ? 8 : a === 'i' ? 4 : a === 's' ? 2 : 1);

/**
 * outputValue of the datum `src[start, end)`: the commonest types print straight from the range, the others
 * from a view of it.
 */
export function outputValueAt(src: Uint8Array, start: number, end: number, type: TypeInfo, types: TypeLookup): string {
  switch (type.output) {
    case 'int4out':
      return String(i32(src, start));
    case 'int8out': {
      const hi = i32(src, start + 4);
      return hi >= -0x200000 && hi < 0x200000 ? String(hi * 0x1_0000_0000 + u32(src, start)) : outputValue(src.subarray(start, end), type, types);
    }
    case 'int2out':
      return String(i16(src, start));
    case 'boolout':
      return src[start] ? 't' : 'f';
    case 'oidout':
    case 'xidout':
      return String(u32(src, start));
    case 'numeric_out':
      return numericOut(src, start, end);
    case 'timestamp_out':
      return timestampTextFromHalves(i32(src, start + 4), u32(src, start), false);
    case 'timestamptz_out':
      return timestampTextFromHalves(i32(src, start + 4), u32(src, start), true);
    case 'textout':
    case 'varcharout':
    case 'bpcharout':
      return utf8.decode(src.subarray(start, end));
    default:
      return outputValue(src.subarray(start, end), type, types);
  }
}

/** The type a domain is over, through nested domains. */
function baseOf(type: TypeInfo, types: TypeLookup): TypeInfo | undefined {
  let t: TypeInfo | undefined = type;
  for (let n = 0; t?.baseType !== undefined && n < 100; n++) t = types(t.baseType);
  return t === type ? undefined : t;
}

/** A typed error for a value pgwal will not guess at. */
const unsupported = (type: TypeInfo, why: string): never => {
  throw new WalFormatError('unsupported-type', `pgwal cannot print values of type ${type.name} (oid ${type.oid}): ${why}`);
};

/** A count or offset read from a value that its bytes cannot hold: a typed error, not a long loop or a guess. */
const malformed = (type: TypeInfo, what: string): never => {
  throw new WalFormatError('invalid-datum', `${type.name} value is malformed: ${what}`);
};

/** Prints a value by recursion over its own items; one nested past the stack (or in a cycle) is refused. */
function nested(type: TypeInfo, print: () => string): string {
  try {
    return print();
  } catch (e) {
    if (e instanceof RangeError) return unsupported(type, 'nested too deeply to print');
    throw e;
  }
}

/**
 * record_out: `(a,b)`, NULL as nothing, a value quoted when empty or holding `"`, `\`, `(`, `)`, `,` or
 * white space, with `"` and `\` doubled. `b` is a composite datum after its length word: typmod, type OID,
 * then a heap tuple header from t_ctid on.
 */
// see record_out (rowtypes.c)
function recordText(b: Uint8Array, type: TypeInfo, types: TypeLookup): string {
  // A domain over a composite type has no columns of its own: the datum names its row type.
  const fields = type.fields ?? types(u32(b, 4))?.fields;
  if (fields === undefined) return unsupported(type, 'its columns are not in the catalog');
  if (b.length < 19) malformed(type, `${b.length} bytes`);
  const values = deformTuple(b.subarray(19), u16(b, 14), u16(b, 16), b[18]!, fields);
  let s = '(';
  let first = true;
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i]!;
    if (f.dropped) continue;
    if (!first) s += ',';
    first = false;
    const v = values[i]!;
    if (v.kind === 'null' || (v.kind === 'missing' && v.text === null)) continue;
    let text: string;
    if (v.kind === 'bytes') {
      const t = types(f.typeOid);
      if (t === undefined) throw new WalFormatError('unknown-type', `type ${f.typeOid} of column ${f.name} of composite type ${type.name} is not in the catalog`);
      text = outputValue(v.bytes, t, types);
    } else if (v.kind === 'missing') text = v.text!;
    else return unsupported(type, `column ${f.name} holds a TOAST pointer`);
    s += text === '' || /["\\(), \t\n\r\v\f]/.test(text) ? `"${text.replace(/(["\\])/g, '$1$1')}"` : text;
  }
  return s + ')';
}

/** Multirange type → range type of the built-in multiranges (pg_range.rngmultitypid), for a catalog without rangeType. */
const BUILTIN_MULTIRANGES: Record<number, number> = { 4451: 3904, 4532: 3906, 4533: 3908, 4534: 3910, 4535: 3912, 4536: 3926 };

/**
 * multirange_out: `{r1,r2}`, each range as its range type prints it. `b` (after the length word): type OID,
 * range count, an item per range after the first (a length, or every 4th an offset), a flags byte per range,
 * then each range's bounds aligned to the subtype.
 */
// see multirange_out, multirange_get_bounds_offset and multirange_get_range (multirangetypes.c)
function multirangeText(b: Uint8Array, type: TypeInfo, types: TypeLookup): string {
  const own = u32(b, 0);
  const rangeOid = type.rangeType ?? types(own)?.rangeType ?? BUILTIN_MULTIRANGES[own];
  const range = rangeOid === undefined ? undefined : types(rangeOid);
  const sub = range?.rangeSubtype === undefined ? undefined : types(range.rangeSubtype);
  if (range === undefined || sub === undefined) return unsupported(type, 'its range type is not in the catalog');
  const count = b.length < 8 ? 0 : u32(b, 4);
  if (count === 0) return '{}';
  const flagsAt = 8 + 4 * (count - 1);
  if (flagsAt + count > b.length) malformed(type, `${count} ranges in ${b.length} bytes`);
  const a = alignOf(sub.align);
  // Alignment counts from the varlena start, 4 bytes before `b`.
  const start = ((flagsAt + count + 4 + a - 1) & ~(a - 1)) - 4;
  // Range i's bounds start at the sum of the lengths in the items before it, back to one holding an offset.
  const offsetAfter = (i: number, prev: number): number => {
    const item = u32(b, 8 + 4 * i);
    return (item & 0x80000000 ? 0 : prev) + (item & 0x7fffffff);
  };
  let s = '{';
  let next = 0;
  for (let i = 0; i < count; i++) {
    const from = start + next;
    next = i + 1 < count ? offsetAfter(i, next) : b.length - start;
    const to = start + next;
    if (to > b.length || from > to) malformed(type, `range ${i} at ${from}..${to} of ${b.length} bytes`);
    // A range datum as range_out reads it: type OID, the bounds (aligned as in the multirange), flags last.
    const r = new Uint8Array(4 + (to - from) + 1);
    r[0] = rangeOid! & 0xff;
    r[1] = (rangeOid! >>> 8) & 0xff;
    r[2] = (rangeOid! >>> 16) & 0xff;
    r[3] = rangeOid! >>> 24;
    r.set(b.subarray(from, to), 4);
    r[r.length - 1] = b[flagsAt + i]!;
    s += (i > 0 ? ',' : '') + outputValue(r, range, types);
  }
  return s + '}';
}

/** float8out_internal with extra_float_digits 1, as the geometric types print coordinates. */
const coord = (b: Uint8Array, o: number): string => floatOut(f64(b, o), false);
const pointText = (b: Uint8Array, o: number): string => `(${coord(b, o)},${coord(b, o + 8)})`;

/** path_encode: points `(x,y)` joined by `,`, inside `open`/`close`. */
function pointsText(b: Uint8Array, o: number, n: number, open: string, close: string): string {
  let s = open;
  for (let i = 0; i < n; i++) s += (i > 0 ? ',' : '') + pointText(b, o + 16 * i);
  return s + close;
}

/** tsvectorout: `'lexeme':1A,2 'other'`, `'` doubled and `\` doubled inside lexemes. */
// see tsvectorout (tsvector.c)
function tsvectorText(b: Uint8Array, type: TypeInfo): string {
  const size = b.length < 4 ? 0 : u32(b, 0);
  const strAt = 4 + 4 * size;
  if (strAt > b.length) malformed(type, `${size} lexemes in ${b.length} bytes`);
  const parts: string[] = [];
  for (let i = 0; i < size; i++) {
    // WordEntry bit fields, low bit first: haspos:1, len:11, pos:20.
    const we = u32(b, 4 + 4 * i);
    const len = (we >>> 1) & 0x7ff;
    const pos = we >>> 12;
    if (strAt + pos + len > b.length) malformed(type, `lexeme ${i} past the end`);
    let s = `'${utf8.decode(b.subarray(strAt + pos, strAt + pos + len)).replace(/(['\\])/g, '$1$1')}'`;
    if (we & 1) {
      // The positions follow the lexeme, 2-aligned from the lexeme area (itself 4-aligned).
      const pp = strAt + ((pos + len + 1) & ~1);
      const npos = pp + 2 > b.length ? 0 : u16(b, pp);
      if (pp + 2 + 2 * npos > b.length) malformed(type, `positions of lexeme ${i} past the end`);
      for (let k = 0; k < npos; k++) {
        const wep = u16(b, pp + 2 + 2 * k);
        s += (k === 0 ? ':' : ',') + String(wep & 0x3fff) + ['', 'C', 'B', 'A'][wep >> 14]!;
      }
    }
    parts.push(s);
  }
  return parts.join(' ');
}

/** tsqueryout: the query's Polish-notation items printed infix, parenthesised by operator priority. */
// see infix and tsqueryout (tsquery.c)
function tsqueryText(b: Uint8Array, type: TypeInfo): string {
  const size = b.length < 4 ? 0 : u32(b, 0);
  if (size === 0) return '';
  const items = 4;
  const operands = items + 12 * size;
  if (operands > b.length) malformed(type, `${size} items in ${b.length} bytes`);
  const priority = [0, 4, 2, 1, 3]; // OP_NOT, OP_AND, OP_OR, OP_PHRASE
  let cur = 0;
  const infix = (parent: number, rightPhrase: boolean): string => {
    if (cur >= size) malformed(type, 'an operator lacks an operand');
    const it = items + 12 * cur++;
    if (b[it] === 1) {
      // QueryOperand: type, weight, prefix, valcrc, then length:12 and distance:20 (the operand's offset).
      const weight = b[it + 1]!;
      const at = operands + (u32(b, it + 8) >>> 12);
      if (at >= b.length) malformed(type, 'an operand past the end');
      const end = b.indexOf(0, at);
      let s = `'${utf8.decode(b.subarray(at, end < 0 ? b.length : end)).replace(/(['\\])/g, '$1$1')}'`;
      if (weight !== 0 || b[it + 2] !== 0) {
        s += ':' + (b[it + 2] !== 0 ? '*' : '') + (weight & 8 ? 'A' : '') + (weight & 4 ? 'B' : '') + (weight & 2 ? 'C' : '') + (weight & 1 ? 'D' : '');
      }
      return s;
    }
    // QueryOperator: type, oper, distance (int16), left.
    const op = b[it + 1]!;
    const p = priority[op] ?? 0;
    if (op === 1) {
      const inner = '!' + infix(p, false);
      return p < parent ? `( ${inner} )` : inner;
    }
    const paren = p < parent || (op === 4 && rightPhrase);
    const distance = i16(b, it + 2);
    const right = infix(p, op === 4);
    const left = infix(p, false);
    const sym = op === 3 ? '|' : op === 2 ? '&' : distance !== 1 ? `<${distance}>` : '<->';
    const s = `${left} ${sym} ${right}`;
    return paren ? `( ${s} )` : s;
  };
  return nested(type, () => infix(-1, false));
}

/** xml_out: the stored text, its XML declaration printed again only when it says more than version 1.0. */
// see xml_out_internal, parse_xml_decl and print_xml_decl (xml.c)
function xmlText(b: Uint8Array): string {
  const str = utf8.decode(b);
  let len = 0;
  let version: string | undefined;
  let standalone = -1;
  if (str.startsWith('<?xml') && !/^[\p{L}\p{N}._:\-\u00b7]/u.test(str.slice(5))) {
    const m = /^<\?xml[ \t\r\n]+version[ \t\r\n]*=[ \t\r\n]*(?:'([^']*)'|"([^"]*)")(?:[ \t\r\n]+encoding[ \t\r\n]*=[ \t\r\n]*(?:'[^']*'|"[^"]*"))?(?:[ \t\r\n]+standalone[ \t\r\n]*=[ \t\r\n]*('yes'|"yes"|'no'|"no"))?[ \t\r\n]*\?>/.exec(str);
    // An unparsable declaration: the server warns and prints the text as stored; so does a non-ASCII one.
    if (m === null || /[^\x00-\x7f]/.test(m[0])) return str;
    len = m[0].length;
    version = m[1] ?? m[2];
    if (m[3] !== undefined) standalone = m[3].includes('yes') ? 1 : 0;
  }
  if ((version !== undefined && version !== '1.0') || standalone !== -1) {
    return `<?xml version="${version ?? '1.0'}"${standalone === 1 ? ' standalone="yes"' : standalone === 0 ? ' standalone="no"' : ''}?>${str.slice(len)}`;
  }
  return str.slice(str[len] === '\n' ? len + 1 : len);
}

/** int2vectorout / oidvectorout: the one-dimensional array's values separated by spaces. */
function vectorText(b: Uint8Array, width: 2 | 4, type: TypeInfo): string {
  // ndim, dataoffset, elemtype, dim1, lbound1, then the values.
  const n = b.length < 20 ? 0 : u32(b, 12);
  if (20 + width * n > b.length) malformed(type, `${n} values in ${b.length} bytes`);
  let s = '';
  for (let i = 0; i < n; i++) s += (i > 0 ? ' ' : '') + String(width === 2 ? i16(b, 20 + 2 * i) : u32(b, 20 + 4 * i));
  return s;
}

/** pg_snapshot_out (also txid_snapshot's): `xmin:xmax:xip,xip`. */
function snapshotText(b: Uint8Array, type: TypeInfo): string {
  const u64 = (o: number): string => ((BigInt(u32(b, o + 4)) << 32n) | BigInt(u32(b, o))).toString();
  const n = b.length < 20 ? -1 : u32(b, 0);
  if (n < 0 || 20 + 8 * n > b.length) malformed(type, `${n} transactions in ${b.length} bytes`);
  let s = `${u64(4)}:${u64(12)}:`;
  for (let i = 0; i < n; i++) s += (i > 0 ? ',' : '') + u64(20 + 8 * i);
  return s;
}

/**
 * The reg* types print catalog names (qualified by the search_path's visibility, or the bare OID when no row
 * has it): pgwal prints regtype from the catalog it has and `-` for 0, and refuses the others.
 */
function regText(b: Uint8Array, type: TypeInfo, types: TypeLookup): string {
  const oid = u32(b, 0);
  if (oid === 0) return '-';
  if (type.output === 'regtypeout') {
    const t = types(oid);
    if (t !== undefined) return t.name;
    return unsupported(type, `type ${oid} is not in the catalog`);
  }
  return unsupported(type, `its output (${type.output}) names catalog objects pgwal does not carry`);
}

/** escape_json: a JSON string literal as PostgreSQL writes one. */
function jsonQuoted(bytes: Uint8Array): string {
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
}

// jsonpath item types (JsonPathItemType, jsonpath.h; 43+ are 17's item methods).
const JPI_BINARY: Record<number, string> = { 4: '&&', 5: '||', 8: '==', 9: '!=', 10: '<', 11: '>', 12: '<=', 13: '>=', 14: '+', 15: '-', 16: '*', 17: '/', 18: '%', 41: 'starts with' };
const JPI_METHOD: Record<number, string> = {
  31: '.type()', 32: '.size()', 33: '.abs()', 34: '.floor()', 35: '.ceiling()', 36: '.double()', 38: '.keyvalue()',
  43: '.bigint()', 44: '.boolean()', 45: '.date()', 47: '.integer()', 48: '.number()', 49: '.string()',
};
const JPI_METHOD_ARG: Record<number, string> = { 37: '.datetime(', 50: '.time(', 51: '.time_tz(', 52: '.timestamp(', 53: '.timestamp_tz(' };

/** operationPriority (jsonpath.c). */
function jsonpathPriority(type: number): number {
  if (type === 5) return 0;
  if (type === 4) return 1;
  if ((type >= 8 && type <= 13) || type === 41) return 2;
  if (type === 14 || type === 15) return 3;
  if (type >= 16 && type <= 18) return 4;
  if (type === 19 || type === 20) return 5;
  return 6;
}

/**
 * jsonpath_out: the binary items printed back as text. `b` (after the length word): a header (version, the lax
 * bit), then items — a type byte, int-aligned next/argument positions relative to the item, payload.
 */
// see jsonPathToCstring, printJsonPathItem and jspInitByBuffer (jsonpath.c)
function jsonpathText(b: Uint8Array, type: TypeInfo): string {
  // Offsets in `b` are ≡ addresses mod 4 (the varlena start is aligned and 4 bytes before `b`).
  // An item and the chain of items after it (`.a.b[*]`), iteratively: chains are long where nesting is not.
  const item = (pos: number, inKey: boolean, brackets: boolean): string => {
    let s = '';
    for (let n = 0; ; n++) {
      if (n > b.length / 4 || pos < 4 || ((pos + 4) & ~3) + 4 > b.length) malformed(type, `an item at ${pos} of ${b.length} bytes`);
      s += one(pos, inKey, brackets);
      const next = i32(b, (pos + 4) & ~3);
      if (next <= 0) return s;
      pos += next;
      inKey = brackets = true;
    }
  };
  const one = (pos: number, inKey: boolean, brackets: boolean): string => {
    const t = b[pos]!;
    let p = (pos + 1 + 3) & ~3;
    const next = i32(b, p);
    p += 4;
    const child = (rel: number, k: boolean, br: boolean): string => item(pos + rel, k, br);
    const operand = (rel: number): string => {
      const childType = b[pos + rel];
      return child(rel, false, childType !== undefined && jsonpathPriority(childType) <= jsonpathPriority(t));
    };
    const text = (at: number): Uint8Array => {
      const len = i32(b, at);
      if (len < 0 || at + 4 + len > b.length) malformed(type, `a string of ${len} bytes at ${at}`);
      return b.subarray(at + 4, at + 4 + len);
    };
    let s: string;
    if (t in JPI_BINARY) {
      s = `${operand(i32(b, p))} ${JPI_BINARY[t]} ${operand(i32(b, p + 4))}`;
      if (brackets) s = `(${s})`;
    } else if (t in JPI_METHOD) s = JPI_METHOD[t]!;
    else if (t in JPI_METHOD_ARG) {
      const arg = i32(b, p);
      s = `${JPI_METHOD_ARG[t]}${arg !== 0 ? child(arg, false, false) : ''})`;
    } else {
      switch (t) {
        case 0:
          s = 'null';
          break;
        case 1:
          s = jsonQuoted(text(p));
          break;
        case 2: {
          // A whole numeric varlena.
          const hdr = b[p]! & 0x01 ? 1 : 4;
          const size = hdr === 1 ? b[p]! >> 1 : u32(b, p) >>> 2;
          if (size < hdr + 2 || p + size > b.length) malformed(type, `a numeric of ${size} bytes at ${p}`);
          s = numericOut(b.subarray(p + hdr, p + size));
          if (next > 0) s = `(${s})`;
          break;
        }
        case 3:
          s = b[p] ? 'true' : 'false';
          break;
        case 6:
          s = `!(${child(i32(b, p), false, false)})`;
          break;
        case 7:
          s = `(${child(i32(b, p), false, false)}) is unknown`;
          break;
        case 19:
        case 20:
          s = (t === 19 ? '+' : '-') + operand(i32(b, p));
          if (brackets) s = `(${s})`;
          break;
        case 21:
          s = '[*]';
          break;
        case 22:
          s = (inKey ? '.' : '') + '*';
          break;
        case 23: {
          const n = i32(b, p);
          if (n < 0 || p + 4 + 8 * n > b.length) malformed(type, `${n} subscripts`);
          const parts: string[] = [];
          for (let i = 0; i < n; i++) {
            const from = i32(b, p + 4 + 8 * i);
            const to = i32(b, p + 8 + 8 * i);
            parts.push(child(from, false, false) + (to !== 0 ? ` to ${child(to, false, false)}` : ''));
          }
          s = `[${parts.join(',')}]`;
          break;
        }
        case 24: {
          const first = u32(b, p);
          const last = u32(b, p + 4);
          const L = 0xffffffff;
          const bound = (x: number): string => (x === L ? 'last' : String(x));
          s = (inKey ? '.' : '') + (first === 0 && last === L ? '**' : first === last ? `**{${bound(first)}}` : `**{${bound(first)} to ${bound(last)}}`);
          break;
        }
        case 25:
          s = (inKey ? '.' : '') + jsonQuoted(text(p));
          break;
        case 26:
          s = '@';
          break;
        case 27:
          s = '$';
          break;
        case 28:
          s = '$' + jsonQuoted(text(p));
          break;
        case 29:
          s = `?(${child(i32(b, p), false, false)})`;
          break;
        case 30:
          s = `exists (${child(i32(b, p), false, false)})`;
          break;
        case 40:
          s = 'last';
          break;
        case 42: {
          const flags = i32(b, p);
          const expr = i32(b, p + 4);
          const len = i32(b, p + 8);
          if (len < 0 || p + 12 + len > b.length) malformed(type, `a pattern of ${len} bytes`);
          s = `${operand(expr)} like_regex ${jsonQuoted(b.subarray(p + 12, p + 12 + len))}`;
          if (flags) s += ` flag "${flags & 1 ? 'i' : ''}${flags & 2 ? 's' : ''}${flags & 4 ? 'm' : ''}${flags & 8 ? 'x' : ''}${flags & 16 ? 'q' : ''}"`;
          if (brackets) s = `(${s})`;
          break;
        }
        case 46: {
          const left = i32(b, p);
          const right = i32(b, p + 4);
          s = `.decimal(${left !== 0 ? child(left, false, false) : ''}${right !== 0 ? ',' + child(right, false, false) : ''})`;
          break;
        }
        default:
          return unsupported(type, `jsonpath item type ${t}`);
      }
    }
    return s;
  };
  return (u32(b, 0) & 0x80000000 ? '' : 'strict ') + nested(type, () => item(4, false, true));
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
    case 'int8out': {
      // Without BigInt while the value is a safe integer.
      const hi = i32(b, 4);
      return hi >= -0x200000 && hi < 0x200000 ? String(hi * 0x1_0000_0000 + u32(b, 0)) : i64(b, 0).toString();
    }
    case 'oidout':
    case 'xidout':
    case 'cidout':
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
      return utf8.decode(b);
    case 'xml_out':
      return xmlText(b);
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
      return timestampTextFromHalves(i32(b, 4), u32(b, 0), false);
    case 'timestamptz_out':
      return timestampTextFromHalves(i32(b, 4), u32(b, 0), true);
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
      // A domain over a range type may carry no subtype: the datum names its range type.
      return rangeText(b, type.rangeSubtype === undefined ? (types(u32(b, 0)) ?? type) : type, types);
    case 'enum_out': {
      const labels = type.enumLabels ?? baseOf(type, types)?.enumLabels;
      const label = labels instanceof Map ? labels.get(u32(b, 0)) : labels?.[String(u32(b, 0))];
      if (label === undefined) throw new WalFormatError('unknown-type', `enum value ${u32(b, 0)} of type ${type.name} is not in the catalog`);
      return label;
    }
    case 'record_out':
      return recordText(b, type, types);
    case 'multirange_out':
      return multirangeText(b, type, types);
    case 'macaddr8_out':
      return Array.from(b.subarray(0, 8), (x) => pad(x.toString(16), 2)).join(':');
    case 'tidout':
      // ItemPointerData: block number as two uint16 halves (high first), then the offset.
      return `(${u16(b, 0) * 0x10000 + u16(b, 2)},${u16(b, 4)})`;
    case 'int2vectorout':
      return vectorText(b, 2, type);
    case 'oidvectorout':
      return vectorText(b, 4, type);
    case 'xid8out':
      return ((BigInt(u32(b, 4)) << 32n) | BigInt(u32(b, 0))).toString();
    case 'point_out':
      return pointText(b, 0);
    case 'lseg_out':
      return pointsText(b, 0, 2, '[', ']');
    case 'box_out':
      return pointsText(b, 0, 2, '', '');
    case 'line_out':
      return `{${coord(b, 0)},${coord(b, 8)},${coord(b, 16)}}`;
    case 'circle_out':
      return `<${pointText(b, 0)},${coord(b, 16)}>`;
    case 'path_out':
      // npts, closed, padding, then the points (8-aligned from the varlena start).
      if (b.length < 12 || u32(b, 0) > (b.length - 12) / 16) malformed(type, `${u32(b, 0)} points in ${b.length} bytes`);
      return u32(b, 4) !== 0 ? pointsText(b, 12, u32(b, 0), '(', ')') : pointsText(b, 12, u32(b, 0), '[', ']');
    case 'poly_out':
      // npts, the bounding box, then the points.
      if (b.length < 36 || u32(b, 0) > (b.length - 36) / 16) malformed(type, `${u32(b, 0)} points in ${b.length} bytes`);
      return pointsText(b, 36, u32(b, 0), '(', ')');
    case 'tsvectorout':
      return tsvectorText(b, type);
    case 'tsqueryout':
      return tsqueryText(b, type);
    case 'pg_snapshot_out':
    case 'txid_snapshot_out':
      return snapshotText(b, type);
    case 'jsonpath_out':
      return jsonpathText(b, type);
    case 'unknownout':
    case 'pg_node_tree_out':
      return utf8.decode(b);
    case 'regclassout':
    case 'regprocout':
    case 'regprocedureout':
    case 'regoperout':
    case 'regoperatorout':
    case 'regtypeout':
    case 'regnamespaceout':
    case 'regroleout':
    case 'regconfigout':
    case 'regdictionaryout':
    case 'regcollationout':
      return regText(b, type, types);
    default:
      throw new WalFormatError('unsupported-type', `pgwal cannot print values of type ${type.name} (oid ${type.oid}, output function ${type.output})`);
  }
}
