// Publication row filters (pg_publication_rel.prqual): the stored node tree parsed and evaluated on a decoded row,
// for the built-in operators and functions filters use in practice; anything else is refused, never guessed.
import { WalError } from '../errors.js';
import type { DatabaseLocale, DecoderRelation } from './catalog.js';
import type { RawValue } from './tuple.js';
import { numericOut, outputValue, type TypeInfo } from './values.js';

/** A filter pgwal does not evaluate (an operator, function, node or collation outside the supported set). */
export class RowFilterUnsupportedError extends WalError {}

/** A filter that fails on a row as the server's would (integer out of range, division by zero, an unknown value). */
export class RowFilterEvalError extends WalError {}

// ---- pg_node_tree text (outfuncs.c / readfuncs.c) ----

/** A node as nodeToString writes it: `{TAG :field value ...}`. */
export interface PgNode {
  tag: string;
  fields: Record<string, NodeValue>;
}
export type NodeValue = PgNode | NodeValue[] | string | boolean | null | Uint8Array;

/** see stringToNode (read.c, readfuncs.c): nodes, lists, `<>`, tokens, and Const's `:constvalue N [ b … ]`. */
export function parseNodeTree(text: string): NodeValue {
  let p = 0;
  const ws = (): void => {
    while (p < text.length && (text[p] === ' ' || text[p] === '\n' || text[p] === '\t' || text[p] === '\r')) p++;
  };
  const fail = (what: string): never => {
    throw new RowFilterUnsupportedError('bad-node-tree', `bad node tree at offset ${p}: ${what}`);
  };
  const token = (): string => {
    ws();
    const s = p;
    if (text[p] === '(' || text[p] === ')' || text[p] === '{' || text[p] === '}') return text[p++]!;
    while (p < text.length && !/[\s(){}]/.test(text[p]!)) p += text[p] === '\\' ? 2 : 1;
    if (p === s) fail('unexpected end');
    return text.slice(s, p).replace(/\\(.)/g, '$1');
  };
  let depth = 0;
  const value = (): NodeValue => {
    ws();
    // Nesting beyond any real filter's (a hostile state file) stops here, not in a stack overflow.
    if (++depth > 1000) fail('nested too deeply');
    try {
      return value1();
    } finally {
      depth--;
    }
  };
  const value1 = (): NodeValue => {
    const c = text[p];
    if (c === '{') return node();
    if (c === '(') {
      p++;
      const items: NodeValue[] = [];
      ws();
      // An integer, OID or bitmap list: `(i 1 2)`, `(o 16)`, `(b)`.
      if (/[biox]/.test(text[p] ?? '') && /[\s)]/.test(text[p + 1] ?? '')) p++;
      for (;;) {
        ws();
        if (p >= text.length) fail('unterminated list');
        if (text[p] === ')') {
          p++;
          return items;
        }
        items.push(value());
      }
    }
    const t = token();
    if (t === '<>') return null;
    if (t === 'true') return true;
    if (t === 'false') return false;
    return t;
  };
  const node = (): PgNode => {
    p++; // {
    const tag = token();
    const fields: Record<string, NodeValue> = {};
    for (;;) {
      ws();
      if (p >= text.length) fail('unterminated node');
      if (text[p] === '}') {
        p++;
        return { tag, fields };
      }
      const name = token();
      if (!name.startsWith(':')) fail(`field name expected, got "${name}"`);
      if (name === ':constvalue') {
        const n = token();
        if (n === '<>') {
          fields.constvalue = null;
          continue;
        }
        if (token() !== '[') fail('[ expected');
        const bytes: number[] = [];
        for (let t = token(); t !== ']'; t = token()) bytes.push(Number(t) & 0xff);
        if (bytes.length < Number(n)) fail('short constvalue');
        fields.constvalue = Uint8Array.from(bytes);
        continue;
      }
      fields[name.slice(1)] = value();
    }
  };
  const v = value();
  ws();
  if (p !== text.length) fail('trailing text');
  return v;
}

// ---- values ----

/** A finite numeric as digits × 10^exp (digits without leading zeros, '' for zero), or NaN / ±Infinity. */
type Num = { neg: boolean; digits: string; exp: number } | 'NaN' | 'Infinity' | '-Infinity';
/** A jsonb value: a container (its bytes from its header on) or a scalar entry (JEntry type, its bytes). */
type Jsonb = { container: Uint8Array } | { scalar: number; bytes: Uint8Array };
type Val = null | boolean | bigint | number | string | Num | Jsonb;

/** What a value of a supported type is in JS. */
type Kind = 'int2' | 'int4' | 'int8' | 'float4' | 'float8' | 'numeric' | 'text' | 'bpchar' | 'bool' | 'date' | 'timestamp' | 'timestamptz' | 'uuid' | 'jsonb';

const KIND_OF: Record<number, Kind> = {
  21: 'int2',
  23: 'int4',
  20: 'int8',
  700: 'float4',
  701: 'float8',
  1700: 'numeric',
  25: 'text',
  1043: 'text',
  1042: 'bpchar',
  16: 'bool',
  1082: 'date',
  1114: 'timestamp',
  1184: 'timestamptz',
  2950: 'uuid',
  3802: 'jsonb',
};
const INT_RANGE: Record<string, [bigint, bigint]> = {
  int2: [-32768n, 32767n],
  int4: [-2147483648n, 2147483647n],
  int8: [-9223372036854775808n, 9223372036854775807n],
};
const DATE_NOBEGIN = -2147483648;
const DATE_NOEND = 2147483647;
const TS_NOBEGIN = -9223372036854775808n;
const TS_NOEND = 9223372036854775807n;
const USECS_PER_DAY = 86400000000n;

const utf8 = new TextDecoder('utf-8', { fatal: true });

function parseNum(t: string): Num {
  if (t === 'NaN' || t === 'Infinity' || t === '-Infinity') return t;
  const m = /^\s*([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?\s*$/.exec(t);
  if (m === null) throw new RowFilterEvalError('invalid-numeric', `invalid input syntax for type numeric: "${t}"`);
  const int = m[2] ?? '';
  const frac = m[3] ?? '';
  let digits = (int + frac).replace(/^0+/, '');
  let exp = -frac.length + Number(m[4] ?? 0);
  const z = /0+$/.exec(digits);
  if (z !== null) {
    exp += z[0].length;
    digits = digits.slice(0, -z[0].length);
  }
  return { neg: digits !== '' && m[1] === '-', digits, exp: digits === '' ? 0 : exp };
}

// see cmp_numerics (numeric.c): NaN above everything and equal to itself
function cmpNum(a: Num, b: Num): number {
  const rank = (x: Num): number => (x === 'NaN' ? 3 : x === 'Infinity' ? 2 : x === '-Infinity' ? -2 : 0);
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== 0 || rb !== 0) return Math.sign(ra - rb);
  const x = a as Exclude<Num, string>;
  const y = b as Exclude<Num, string>;
  const sx = x.digits === '' ? 0 : x.neg ? -1 : 1;
  const sy = y.digits === '' ? 0 : y.neg ? -1 : 1;
  if (sx !== sy) return Math.sign(sx - sy);
  if (sx === 0) return 0;
  // Magnitudes: compare the position of the leading digit, then the digits.
  const mx = x.digits.length + x.exp;
  const my = y.digits.length + y.exp;
  let c = mx !== my ? Math.sign(mx - my) : 0;
  if (c === 0) {
    const n = Math.max(x.digits.length, y.digits.length);
    const dx = x.digits.padEnd(n, '0');
    const dy = y.digits.padEnd(n, '0');
    c = dx < dy ? -1 : dx > dy ? 1 : 0;
  }
  return sx * c;
}

function numFromBigint(v: bigint): Num {
  return parseNum(v.toString());
}

// see numeric_int8 / numeric_int4 (numeric.c): rounded half away from zero, then range-checked
function numToInt(n: Num, kind: 'int2' | 'int4' | 'int8'): bigint {
  if (typeof n === 'string') throw new RowFilterEvalError('numeric-cast', `cannot convert ${n === 'NaN' ? 'NaN' : 'infinity'} to ${kind === 'int8' ? 'bigint' : kind === 'int4' ? 'integer' : 'smallint'}`);
  let v: bigint;
  if (n.digits === '') v = 0n;
  else if (n.exp >= 0) v = BigInt(n.digits + '0'.repeat(n.exp));
  else {
    const keep = n.digits.length + n.exp;
    const int = keep > 0 ? BigInt(n.digits.slice(0, keep)) : 0n;
    const next = keep >= 0 ? Number(n.digits[keep] ?? '0') : 0;
    v = int + (next >= 5 ? 1n : 0n);
  }
  return checkInt(n.neg ? -v : v, kind);
}

function checkInt(v: bigint, kind: string): bigint {
  const r = INT_RANGE[kind]!;
  if (v < r[0] || v > r[1]) throw new RowFilterEvalError('out-of-range', `${kind === 'int8' ? 'bigint' : kind === 'int4' ? 'integer' : 'smallint'} out of range`);
  return v;
}

// see float8_cmp_internal (float.c): NaN above everything and equal to itself
function cmpFloat(a: number, b: number): number {
  if (Number.isNaN(a)) return Number.isNaN(b) ? 0 : 1;
  if (Number.isNaN(b)) return -1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** C collation: code point order (UTF-8 byte order), not JS's UTF-16 order. */
function cmpCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // A surrogate (U+D800–DFFF) stands for a code point above U+FFFF: above every BMP character.
    const hx = x >= 0xd800 && x <= 0xdfff;
    const hy = y >= 0xd800 && y <= 0xdfff;
    if (hx !== hy) return hx ? 1 : -1;
    return x < y ? -1 : 1;
  }
  return Math.sign(a.length - b.length);
}

/** bcTruelen (varchar.c): a bpchar without its trailing spaces. */
const bpTrim = (s: string): string => s.replace(/ +$/, '');

/** rint: to the nearest integer, ties to even. */
function rint(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function floatToInt(x: number, kind: 'int2' | 'int4' | 'int8'): bigint {
  const r = rint(x);
  if (!Number.isFinite(r)) throw new RowFilterEvalError('out-of-range', `${kind === 'int8' ? 'bigint' : kind === 'int4' ? 'integer' : 'smallint'} out of range`);
  return checkInt(BigInt(r), kind);
}

function le(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/** UTF-8 text; two different invalid strings must not compare equal, so an invalid one is refused, not replaced. */
function decodeText(b: Uint8Array): string {
  try {
    return utf8.decode(b);
  } catch {
    throw new RowFilterEvalError('invalid-text', 'a text value is not valid UTF-8');
  }
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** A datum's bytes (on disk: a varlena's payload without its header; fixed-length: the value) as a JS value. */
function fromBytes(b: Uint8Array, kind: Kind): Val {
  const d = le(b);
  switch (kind) {
    case 'int2':
      return BigInt(d.getInt16(0, true));
    case 'int4':
      return BigInt(d.getInt32(0, true));
    case 'int8':
      return d.getBigInt64(0, true);
    case 'float4':
      return d.getFloat32(0, true);
    case 'float8':
      return d.getFloat64(0, true);
    case 'numeric':
      return parseNum(numericOut(b));
    case 'text':
    case 'bpchar':
      return decodeText(b);
    case 'bool':
      return b[0] !== 0;
    case 'date':
      return d.getInt32(0, true);
    case 'timestamp':
    case 'timestamptz':
      return d.getBigInt64(0, true);
    case 'uuid': {
      let s = '';
      for (let i = 0; i < 16; i++) s += HEX[b[i]!];
      return s;
    }
    case 'jsonb':
      return { container: b };
    default:
      return assertNever(kind);
  }
}

/** An attmissingval's text (a column added with a default after the row was written) as a JS value. */
function fromText(t: string, kind: Kind): Val {
  switch (kind) {
    case 'int2':
    case 'int4':
    case 'int8':
      return checkInt(BigInt(t.trim()), kind);
    case 'numeric':
      return parseNum(t);
    case 'text':
    case 'bpchar':
      return t;
    case 'bool':
      return t === 't';
    case 'uuid':
      return t.replace(/[-{}]/g, '').toLowerCase();
    case 'float4':
    case 'float8':
    case 'date':
    case 'timestamp':
    case 'timestamptz':
    case 'jsonb':
      throw new RowFilterEvalError('missing-value', `a ${kind} column's default for rows that predate it (${t}) is known as text only`);
    default:
      return assertNever(kind);
  }
}

/** A Const's constvalue: the Datum's bytes (pass-by-value: little-endian, as the server wrote them) as a JS value. */
function fromConst(b: Uint8Array, kind: Kind, len: number): Val {
  if (len === -1) return fromBytes(varlenaPayload(b, 0)[0], kind);
  return fromBytes(b, kind);
}

/** A varlena in memory at `off`: its payload and the offset after it (4-byte or 1-byte header, not TOASTed). */
function varlenaPayload(b: Uint8Array, off: number): [Uint8Array, number] {
  const short = (): never => {
    throw new RowFilterEvalError('invalid-datum', `a varlena at ${off} beyond its ${b.length} bytes`);
  };
  if (off >= b.length) short();
  const h = b[off]!;
  if ((h & 0x01) === 1) {
    if (h === 0x01) throw new RowFilterUnsupportedError('toasted-const', 'a TOASTed constant');
    const n = h >>> 1;
    if (off + n > b.length) short();
    return [b.subarray(off + 1, off + n), off + n];
  }
  if ((h & 0x03) !== 0) throw new RowFilterUnsupportedError('compressed-const', 'a compressed constant');
  if (off + 4 > b.length) short();
  const n = le(b).getUint32(off, true) >>> 2;
  if (n < 4 || off + n > b.length) short();
  return [b.subarray(off + 4, off + n), off + n];
}

const ELEM_LAYOUT: Record<Kind, [len: number, align: number]> = {
  int2: [2, 2],
  int4: [4, 4],
  int8: [8, 8],
  float4: [4, 4],
  float8: [8, 8],
  numeric: [-1, 4],
  text: [-1, 4],
  bpchar: [-1, 4],
  bool: [1, 1],
  date: [4, 4],
  timestamp: [8, 8],
  timestamptz: [8, 8],
  uuid: [16, 1],
  jsonb: [-1, 4],
};

/** A one-dimensional array constant (ArrayType: ndim, dataoffset, elemtype, dims, lbounds, null bitmap, data). */
function arrayConst(b: Uint8Array, kind: Kind): Val[] {
  const [a] = varlenaPayload(b, 0);
  const d = le(a);
  const ndim = d.getInt32(0, true);
  if (ndim === 0) return [];
  if (ndim !== 1) throw new RowFilterUnsupportedError('array-const', 'a multidimensional array constant');
  const dataOffset = d.getInt32(4, true);
  const n = d.getInt32(12, true);
  // Offsets count from the varlena's start (4-byte header) in the server's layout.
  const headerLen = 4;
  let off = dataOffset !== 0 ? dataOffset - headerLen : 20;
  const bitmap = dataOffset !== 0 ? a.subarray(20) : undefined;
  const [len, align] = ELEM_LAYOUT[kind];
  const out: Val[] = [];
  for (let i = 0; i < n; i++) {
    if (bitmap !== undefined && (bitmap[i >> 3]! & (1 << (i & 7))) === 0) {
      out.push(null);
      continue;
    }
    if (len === -1) {
      // A 1-byte-header element is not aligned; a 4-byte one is, counted from the varlena's start.
      if (a[off] === 0) off = alignUp(off + headerLen, align) - headerLen;
      const [payload, next] = varlenaPayload(a, off);
      out.push(fromBytes(payload, kind));
      off = next;
    } else {
      off = alignUp(off + headerLen, align) - headerLen;
      out.push(fromBytes(a.subarray(off, off + len), kind));
      off += len;
    }
  }
  return out;
}

/** An array constant's element type (ArrayType.elemtype). */
function arrayElementType(b: Uint8Array): number {
  const [a] = varlenaPayload(b, 0);
  if (a.length < 12) throw new RowFilterUnsupportedError('bad-node-tree', 'a short array constant');
  return le(a).getUint32(8, true);
}

const alignUp = (o: number, a: number): number => (o + a - 1) & ~(a - 1);

function assertNever(x: never): never {
  throw new Error(`unexpected ${String(x)}`);
}

// ---- the catalog's operators and functions this evaluator implements (pg_operator.oprcode, pg_proc.oid) ----

/**
 * Operator functions, `oid name left right result`, as pg_operator and pg_proc of 15–18 list them (built-in OIDs
 * are stable; test/rowfilter.live.test.ts checks every line against each major's catalog).
 */
export const OPERATOR_FUNCTIONS = `
56 < 16 16 16;57 > 16 16 16;60 = 16 16 16;84 <> 16 16 16;1691 <= 16 16 16;1692 >= 16 16 16
63 = 21 21 16;64 < 21 21 16;145 <> 21 21 16;146 > 21 21 16;148 <= 21 21 16;151 >= 21 21 16
65 = 23 23 16;66 < 23 23 16;144 <> 23 23 16;147 > 23 23 16;149 <= 23 23 16;150 >= 23 23 16
467 = 20 20 16;468 <> 20 20 16;469 < 20 20 16;470 > 20 20 16;471 <= 20 20 16;472 >= 20 20 16
158 = 21 23 16;160 < 21 23 16;162 > 21 23 16;164 <> 21 23 16;166 <= 21 23 16;168 >= 21 23 16
159 = 23 21 16;161 < 23 21 16;163 > 23 21 16;165 <> 23 21 16;167 <= 23 21 16;169 >= 23 21 16
474 = 20 23 16;475 <> 20 23 16;476 < 20 23 16;477 > 20 23 16;478 <= 20 23 16;479 >= 20 23 16
852 = 23 20 16;853 <> 23 20 16;854 < 23 20 16;855 > 23 20 16;856 <= 23 20 16;857 >= 23 20 16
1850 = 21 20 16;1851 <> 21 20 16;1852 < 21 20 16;1853 > 21 20 16;1854 <= 21 20 16;1855 >= 21 20 16
1856 = 20 21 16;1857 <> 20 21 16;1858 < 20 21 16;1859 > 20 21 16;1860 <= 20 21 16;1861 >= 20 21 16
287 = 700 700 16;288 <> 700 700 16;289 < 700 700 16;290 <= 700 700 16;291 > 700 700 16;292 >= 700 700 16
293 = 701 701 16;294 <> 701 701 16;295 < 701 701 16;296 <= 701 701 16;297 > 701 701 16;298 >= 701 701 16
299 = 700 701 16;300 <> 700 701 16;301 < 700 701 16;302 <= 700 701 16;303 > 700 701 16;304 >= 700 701 16
305 = 701 700 16;306 <> 701 700 16;307 < 701 700 16;308 <= 701 700 16;309 > 701 700 16;310 >= 701 700 16
1718 = 1700 1700 16;1719 <> 1700 1700 16;1720 > 1700 1700 16;1721 >= 1700 1700 16;1722 < 1700 1700 16;1723 <= 1700 1700 16
67 = 25 25 16;157 <> 25 25 16;740 < 25 25 16;741 <= 25 25 16;742 > 25 25 16;743 >= 25 25 16
1048 = 1042 1042 16;1049 < 1042 1042 16;1050 <= 1042 1042 16;1051 > 1042 1042 16;1052 >= 1042 1042 16;1053 <> 1042 1042 16
1086 = 1082 1082 16;1087 < 1082 1082 16;1088 <= 1082 1082 16;1089 > 1082 1082 16;1090 >= 1082 1082 16;1091 <> 1082 1082 16
2052 = 1114 1114 16;2053 <> 1114 1114 16;2054 < 1114 1114 16;2055 <= 1114 1114 16;2056 >= 1114 1114 16;2057 > 1114 1114 16
1152 = 1184 1184 16;1153 <> 1184 1184 16;1154 < 1184 1184 16;1155 <= 1184 1184 16;1156 >= 1184 1184 16;1157 > 1184 1184 16
2338 < 1082 1114 16;2339 <= 1082 1114 16;2340 = 1082 1114 16;2341 > 1082 1114 16;2342 >= 1082 1114 16;2343 <> 1082 1114 16
2364 < 1114 1082 16;2365 <= 1114 1082 16;2366 = 1114 1082 16;2367 > 1114 1082 16;2368 >= 1114 1082 16;2369 <> 1114 1082 16
2954 < 2950 2950 16;2955 <= 2950 2950 16;2956 = 2950 2950 16;2957 >= 2950 2950 16;2958 > 2950 2950 16;2959 <> 2950 2950 16
176 + 21 21 21;180 - 21 21 21;152 * 21 21 21;153 / 21 21 21;155 % 21 21 21
177 + 23 23 23;181 - 23 23 23;141 * 23 23 23;154 / 23 23 23;156 % 23 23 23
463 + 20 20 20;464 - 20 20 20;465 * 20 20 20;466 / 20 20 20;945 % 20 20 20
178 + 21 23 23;182 - 21 23 23;170 * 21 23 23;172 / 21 23 23
179 + 23 21 23;183 - 23 21 23;171 * 23 21 23;173 / 23 21 23
1274 + 20 23 20;1275 - 20 23 20;1276 * 20 23 20;1277 / 20 23 20
1278 + 23 20 20;1279 - 23 20 20;1280 * 23 20 20;1281 / 23 20 20
837 + 20 21 20;838 - 20 21 20;839 * 20 21 20;840 / 20 21 20
841 + 21 20 20;942 - 21 20 20;943 * 21 20 20;948 / 21 20 20
213 - 0 21 21;212 - 0 23 23;462 - 0 20 20;1911 + 0 21 21;1912 + 0 23 23;1910 + 0 20 20
1258 || 25 25 25
3478 -> 3802 25 3802;3214 ->> 3802 25 25;3215 -> 3802 23 3802;3216 ->> 3802 23 25
218 + 701 701 701;219 - 701 701 701;216 * 701 701 701;217 / 701 701 701;220 - 0 701 701;1914 + 0 701 701
1724 + 1700 1700 1700;1725 - 1700 1700 1700;1726 * 1700 1700 1700;1771 - 0 1700 1700;1915 + 0 1700 1700
850 ~~ 25 25 16;851 !~~ 25 25 16;1631 ~~ 1042 25 16;1632 !~~ 1042 25 16`;

/** Functions, `oid name args result` (pg_proc, the arguments' types separated by commas), checked the same way. */
export const FUNCTIONS = `
313 int4 21 23;314 int2 23 21;480 int4 20 23;481 int8 23 20;714 int2 20 21;754 int8 21 20
235 float8 21 701;236 float4 21 700;316 float8 23 701;318 float4 23 700;482 float8 20 701;652 float4 20 700
311 float8 700 701;312 float4 701 700;237 int2 701 21;238 int2 700 21;317 int4 701 23;319 int4 700 23;483 int8 701 20;653 int8 700 20
1740 numeric 23 1700;1781 numeric 20 1700;1782 numeric 21 1700;1744 int4 1700 23;1779 int8 1700 20;1783 int2 1700 21;1746 float8 1700 701
401 text 1042 25;870 lower 25 25;871 upper 25 25;881 ltrim 25 25;882 rtrim 25 25;885 btrim 25 25
1317 length 25 23;1369 character_length 25 23;1381 char_length 25 23;1374 octet_length 25 23
1318 length 1042 23;1367 character_length 1042 23;1372 char_length 1042 23;1375 octet_length 1042 23
1394 abs 700 700;1395 abs 701 701;1396 abs 20 20;1397 abs 23 23;1398 abs 21 21;1705 abs 1700 1700
2024 timestamp 1082 1114;2029 date 1114 1082;2557 bool 23 16;2558 int4 16 23
3696 starts_with 25,25 16;868 strpos 25,25 23;849 position 25,25 23;2087 replace 25,25,25 25
3060 left 25,23 25;3061 right 25,23 25;877 substr 25,23,23 25;883 substr 25,23 25;936 substring 25,23,23 25;937 substring 25,23 25`;

interface OpDef {
  name: string;
  left: number;
  right: number;
  result: number;
}
const OPS = new Map<number, OpDef>();
for (const line of OPERATOR_FUNCTIONS.trim().split(/[;\n]/)) {
  const [oid, name, l, r, res] = line.trim().split(' ');
  OPS.set(Number(oid), { name: name!, left: Number(l), right: Number(r), result: Number(res) });
}
interface FuncDef {
  name: string;
  args: number[];
  result: number;
}
const FUNCS = new Map<number, FuncDef>();
for (const line of FUNCTIONS.trim().split(/[;\n]/)) {
  const [oid, name, a, res] = line.trim().split(' ');
  FUNCS.set(Number(oid), { name: name!, args: a!.split(',').map(Number), result: Number(res) });
}

// ---- compiling a filter ----

/** A column's value: the row's value of the attribute with that attnum. */
export type ColumnValue = (attnum: number) => RawValue | undefined;

interface Compiled {
  /** The base type's OID (a domain's base type). */
  type: number;
  kind: Kind;
  eval: (row: ColumnValue) => Val;
  /** A value without columns (eval ignores the row), folded as eval_const_expressions folds it. */
  constant?: boolean;
  /** The error folding hits in this subtree: the server's fails before any row (ExecPrepareExpr). */
  foldError?: RowFilterEvalError;
  /** foldError was decided by the node itself (AND / OR / CASE skip what folding skips). */
  foldDecided?: boolean;
}

const NO_ROW: ColumnValue = () => undefined;

export interface RowFilterContext {
  type: (oid: number) => TypeInfo | undefined;
  /** The database's locale; without it the default collation's order and case mapping are unknown. */
  locale?: DatabaseLocale;
}

const C_COLLATION = 950;
const POSIX_COLLATION = 951;
const DEFAULT_COLLATION = 100;

/** A compiled row filter of one relation (the relation the filter's Vars refer to). */
export class RowFilter {
  private root: Compiled;
  /** The error folding the filter raises: the server's fails where it prepares the filter, before any row. */
  readonly foldError: RowFilterEvalError | undefined;

  constructor(
    nodeTree: string,
    private readonly relation: DecoderRelation,
    private readonly ctx: RowFilterContext,
  ) {
    const tree = parseNodeTree(nodeTree);
    if (!isNode(tree)) throw new RowFilterUnsupportedError('bad-node-tree', 'the row filter is not a node');
    try {
      this.root = this.compile(tree);
    } catch (err) {
      // A constant shorter than its type (a damaged state file) reads past its bytes.
      if (err instanceof RangeError) throw new RowFilterUnsupportedError('bad-node-tree', `a constant of the wrong size: ${err.message}`);
      throw err;
    }
    if (this.root.kind !== 'bool') throw new RowFilterUnsupportedError('not-boolean', 'the row filter is not boolean');
    const e = this.root.foldError;
    this.foldError = e;
    if (e !== undefined) {
      this.root = {
        ...this.root,
        eval: () => {
          throw e;
        },
      };
    }
  }

  /** Vars compiled so far: a subtree that adds none is constant. */
  private vars = 0;
  /** The children compiled for the node being compiled, in argument order. */
  private kids: Compiled[] = [];

  /** see pgoutput_row_filter_exec_expr (pgoutput.c): NULL counts as false. */
  matches(row: ColumnValue): boolean {
    return this.evaluate(row) === true;
  }

  /** The filter's value on a row: true, false or null (SQL's unknown). */
  evaluate(row: ColumnValue): boolean | null {
    try {
      return this.root.eval(row) as boolean | null;
    } catch (err) {
      // A value shorter than its type reads past its bytes: damaged input, not a wrong answer.
      if (err instanceof RangeError) throw new RowFilterEvalError('invalid-datum', `a value of the wrong size: ${err.message}`);
      throw err;
    }
  }

  private baseType(oid: number): number {
    let t = oid;
    for (let n = 0; n < 100 && KIND_OF[t] === undefined; n++) {
      const info = this.ctx.type(t);
      if (info?.baseType === undefined) break;
      t = info.baseType;
    }
    return t;
  }

  private kindOf(oid: number, what: string): Kind {
    const k = KIND_OF[this.baseType(oid)];
    if (k === undefined) throw new RowFilterUnsupportedError('unsupported-type', `${what} of type ${this.ctx.type(oid)?.name ?? oid} (oid ${oid}) is not supported`);
    return k;
  }

  /** The default collation's order is code point order (C / POSIX under libc, C or C.UTF-8 builtin). */
  private ordersByCodePoint(collid: number): boolean {
    if (collid === C_COLLATION || collid === POSIX_COLLATION) return true;
    if (collid !== DEFAULT_COLLATION) return false;
    const l = this.ctx.locale;
    if (l === undefined) return false;
    if (l.provider === 'c') return l.collate === 'C' || l.collate === 'POSIX';
    if (l.provider === 'b') return l.locale === 'C' || l.locale === 'C.UTF-8';
    return false;
  }

  /** lower/upper change ASCII letters only (C / POSIX under libc, the builtin C locale). */
  private asciiCase(collid: number): boolean {
    if (collid === C_COLLATION || collid === POSIX_COLLATION) return true;
    if (collid !== DEFAULT_COLLATION) return false;
    const l = this.ctx.locale;
    if (l === undefined) return false;
    if (l.provider === 'c') return l.ctype === 'C' || l.ctype === 'POSIX';
    if (l.provider === 'b') return l.locale === 'C';
    return false;
  }

  private collationName(collid: number): string {
    if (collid === DEFAULT_COLLATION) {
      const l = this.ctx.locale;
      return l === undefined ? 'the default collation (the slot state does not record the database locale)' : `the default collation (provider ${l.provider}, ${l.provider === 'c' ? `"${l.collate}"` : `"${l.locale ?? ''}"`})`;
    }
    return `collation ${collid}`;
  }

  /**
   * A node compiled, then folded as eval_const_expressions folds it before the server evaluates any row: a subtree
   * without columns becomes its value, or the error computing it raises (which then fails every row).
   */
  private compile(n: PgNode): Compiled {
    const vars = this.vars;
    const outer = this.kids;
    this.kids = [];
    let c: Compiled;
    try {
      c = this.compileNode(n);
      if (!c.foldDecided) {
        const e = this.kids.find((x) => x.foldError !== undefined)?.foldError;
        if (e !== undefined) c = { ...c, foldError: e };
        // A strict operator or function with a NULL constant argument is NULL (evaluate_function); every one
        // this evaluator knows is strict.
        else if ((n.tag === 'OPEXPR' || n.tag === 'FUNCEXPR') && this.kids.some((x) => x.constant && x.eval(NO_ROW) === null)) c = { ...c, eval: () => null, constant: true };
      }
    } finally {
      this.kids = outer;
    }
    if (c.foldError === undefined && !c.constant && this.vars === vars) {
      try {
        const v = c.eval(NO_ROW);
        c = { ...c, eval: () => v, constant: true };
      } catch (err) {
        if (!(err instanceof RowFilterEvalError)) throw err;
        c = { ...c, foldError: err };
      }
    }
    outer.push(c);
    return c;
  }

  private compileNode(n: PgNode): Compiled {
    const f = n.fields;
    switch (n.tag) {
      case 'VAR': {
        const attnum = int(f.varattno);
        if (int(f.varlevelsup) !== 0 || attnum <= 0) throw new RowFilterUnsupportedError('unsupported-var', `a reference to attribute ${attnum}`);
        const a = this.relation.attributes.find((x) => x.attnum === attnum);
        if (a === undefined || a.dropped || a.typeOid !== int(f.vartype)) {
          throw new RowFilterUnsupportedError('unsupported-var', `attribute ${attnum} of ${this.relation.namespace}.${this.relation.name} is not the filter's column of type ${int(f.vartype)}`);
        }
        const kind = this.kindOf(a.typeOid, `column ${a.name}`);
        const name = a.name;
        this.vars++;
        return {
          type: this.baseType(a.typeOid),
          kind,
          eval: (row) => {
            const v = row(attnum);
            if (v === undefined || v.kind === 'null') return null;
            if (v.kind === 'missing') return v.text === null ? null : fromText(v.text, kind);
            if (v.kind === 'toast') throw new RowFilterEvalError('unchanged-toast', `column ${name} is an unchanged TOAST value the WAL does not carry`);
            return fromBytes(v.bytes, kind);
          },
        };
      }
      case 'CONST': {
        const type = int(f.consttype);
        const base = this.baseType(type);
        const v = f.constvalue;
        const len = int(f.constlen);
        if (f.constisnull === true || v === null) {
          const kind = KIND_OF[base];
          return { type: base, kind: kind ?? 'bool', eval: () => null, constant: true };
        }
        if (!(v instanceof Uint8Array)) throw new RowFilterUnsupportedError('bad-node-tree', 'a constant without its value');
        const kind = this.kindOf(type, 'a constant');
        const val = fromConst(v, kind, len);
        return { type: base, kind, eval: () => val, constant: true };
      }
      case 'RELABELTYPE': {
        // Binary-compatible: varchar → text, a domain → its base type.
        const arg = this.compile(node(f.arg));
        const kind = this.kindOf(int(f.resulttype), 'a relabeled value');
        const textual = (k: Kind): boolean => k === 'text' || k === 'bpchar';
        if (kind !== arg.kind && !(textual(kind) && textual(arg.kind))) throw new RowFilterUnsupportedError('unsupported-relabel', `a relabeling from ${arg.kind} to ${kind}`);
        return { type: this.baseType(int(f.resulttype)), kind, eval: arg.eval };
      }
      case 'BOOLEXPR': {
        const args = list(f.args).map((x) => this.boolArg(x));
        const op = f.boolop;
        // see simplify_and_arguments / simplify_or_arguments (clauses.c): folding stops at a constant FALSE (AND) or
        // TRUE (OR), and the expression is that constant; a fold error of an argument before it fails the filter.
        if (op === 'and' || op === 'or') {
          for (const a of args) {
            if (a.foldError !== undefined) return { ...bool(() => null), foldError: a.foldError, foldDecided: true };
            if (a.constant && a.eval(NO_ROW) === (op === 'or')) return { ...bool(() => op === 'or'), constant: true, foldDecided: true };
          }
        }
        // Three-valued logic; evaluation stops at the first deciding argument, as ExecInterpExpr's does.
        if (op === 'and') {
          return bool((row) => {
            let sawNull = false;
            for (const a of args) {
              const v = a.eval(row);
              if (v === false) return false;
              if (v === null) sawNull = true;
            }
            return sawNull ? null : true;
          });
        }
        if (op === 'or') {
          return bool((row) => {
            let sawNull = false;
            for (const a of args) {
              const v = a.eval(row);
              if (v === true) return true;
              if (v === null) sawNull = true;
            }
            return sawNull ? null : false;
          });
        }
        if (op === 'not') {
          const a = args[0]!;
          return bool((row) => {
            const v = a.eval(row);
            return v === null ? null : !v;
          });
        }
        throw new RowFilterUnsupportedError('unsupported-node', `boolean operator ${String(op)}`);
      }
      case 'NULLTEST': {
        if (f.argisrow === true) throw new RowFilterUnsupportedError('unsupported-node', 'a row IS NULL test');
        const a = this.compile(node(f.arg));
        const isNull = int(f.nulltesttype) === 0;
        return bool((row) => (a.eval(row) === null) === isNull);
      }
      case 'BOOLEANTEST': {
        const a = this.boolArg(node(f.arg));
        const t = int(f.booltesttype);
        if (t < 0 || t > 5) throw new RowFilterUnsupportedError('unsupported-node', `boolean test ${t}`);
        // IS TRUE, IS NOT TRUE, IS FALSE, IS NOT FALSE, IS UNKNOWN, IS NOT UNKNOWN
        return bool((row) => {
          const v = a.eval(row);
          switch (t) {
            case 0:
              return v === true;
            case 1:
              return v !== true;
            case 2:
              return v === false;
            case 3:
              return v !== false;
            case 4:
              return v === null;
            default:
              return v !== null;
          }
        });
      }
      case 'OPEXPR':
      case 'DISTINCTEXPR':
      case 'NULLIFEXPR': {
        const args = list(f.args).map((x) => this.compile(node(x)));
        const op = this.operator(int(f.opno), int(f.opfuncid), args, int(f.inputcollid));
        if (n.tag === 'OPEXPR') return op;
        const [l, r] = args as [Compiled, Compiled];
        if (n.tag === 'DISTINCTEXPR') {
          // IS DISTINCT FROM: NULLs compare as values.
          return bool((row) => {
            const a = l.eval(row);
            const b = r.eval(row);
            if (a === null || b === null) return (a === null) !== (b === null);
            return op.eval(row) === false;
          });
        }
        return { ...l, eval: (row) => (op.eval(row) === true ? null : l.eval(row)) };
      }
      case 'SCALARARRAYOPEXPR': {
        const [scalarNode, arrayNode] = list(f.args).map((x) => node(x)) as [PgNode, PgNode];
        const scalar = this.compile(scalarNode);
        const useOr = f.useOr === true;
        let elems: Compiled[];
        let elemKind: Kind;
        if (arrayNode.tag === 'ARRAYEXPR') {
          if (arrayNode.fields.multidims === true) throw new RowFilterUnsupportedError('unsupported-node', 'a multidimensional ARRAY[]');
          elems = list(arrayNode.fields.elements).map((x) => this.compile(node(x)));
          elemKind = this.kindOf(int(arrayNode.fields.element_typeid), 'an array element');
        } else if (arrayNode.tag === 'CONST') {
          const value = arrayNode.fields.constvalue;
          if (arrayNode.fields.constisnull === true || !(value instanceof Uint8Array)) return bool(() => null);
          const elemType = arrayElementType(value);
          elemKind = this.kindOf(elemType, 'an array element');
          const vals = arrayConst(value, elemKind);
          elems = vals.map((v) => ({ type: elemType, kind: elemKind, eval: () => v }));
        } else throw new RowFilterUnsupportedError('unsupported-node', `${arrayNode.tag} as the array of = ANY / <> ALL`);
        // One comparison per element: the operator applied to the scalar and the element's value.
        let current: Val = null;
        const elemSlot: Compiled = { type: 0, kind: elemKind, eval: () => current };
        const op = this.operator(int(f.opno), int(f.opfuncid), [scalar, elemSlot], int(f.inputcollid));
        // see ExecEvalScalarArrayOp (execExprInterp.c)
        return bool((row) => {
          if (elems.length === 0) return !useOr;
          const s = scalar.eval(row);
          if (s === null) return null;
          let sawNull = false;
          for (const e of elems) {
            current = e.eval(row);
            const r = current === null ? null : op.eval(row);
            if (r === null) sawNull = true;
            else if (r === useOr) return useOr;
          }
          return sawNull ? null : !useOr;
        });
      }
      case 'FUNCEXPR': {
        if (f.funcretset === true || f.funcvariadic === true) throw new RowFilterUnsupportedError('unsupported-function', `function ${int(f.funcid)}`);
        const args = list(f.args).map((x) => this.compile(node(x)));
        return this.func(int(f.funcid), args, int(f.inputcollid));
      }
      case 'COALESCEEXPR': {
        const args = list(f.args).map((x) => this.compile(node(x)));
        // Folding stops at the first argument that is a non-NULL constant.
        let foldError: RowFilterEvalError | undefined;
        for (const a of args) {
          foldError = a.foldError;
          if (foldError !== undefined || (a.constant && a.eval(NO_ROW) !== null)) break;
        }
        return {
          ...args[0]!,
          constant: false,
          foldDecided: true,
          ...(foldError !== undefined ? { foldError } : {}),
          eval: (row) => {
            for (const a of args) {
              const v = a.eval(row);
              if (v !== null) return v;
            }
            return null;
          },
        };
      }
      case 'CASEEXPR': {
        if (f.arg !== null) throw new RowFilterUnsupportedError('unsupported-node', 'a simple CASE (CASE x WHEN …)');
        const whens = list(f.args).map((x) => {
          const w = node(x);
          if (w.tag !== 'CASEWHEN') throw new RowFilterUnsupportedError('bad-node-tree', 'CASE without WHEN');
          return { cond: this.boolArg(node(w.fields.expr)), result: this.compile(node(w.fields.result)) };
        });
        const def = f.defresult === null ? undefined : this.compile(node(f.defresult));
        const kind = this.kindOf(int(f.casetype), 'a CASE');
        // Folding skips a WHEN whose condition is a constant FALSE, and what follows one that is a constant TRUE.
        let foldError: RowFilterEvalError | undefined;
        let decided = false;
        for (const w of whens) {
          foldError = w.cond.foldError;
          if (foldError !== undefined) break;
          if (w.cond.constant && w.cond.eval(NO_ROW) !== true) continue;
          foldError = w.result.foldError;
          if (foldError !== undefined || w.cond.constant) {
            decided = true;
            break;
          }
        }
        if (foldError === undefined && !decided) foldError = def?.foldError;
        return {
          foldDecided: true,
          ...(foldError !== undefined ? { foldError } : {}),
          type: this.baseType(int(f.casetype)),
          kind,
          eval: (row) => {
            for (const w of whens) if (w.cond.eval(row) === true) return w.result.eval(row);
            return def === undefined ? null : def.eval(row);
          },
        };
      }
      default:
        throw new RowFilterUnsupportedError('unsupported-node', `${n.tag} expressions are not supported`);
    }
  }

  private boolArg(x: NodeValue): Compiled {
    const c = this.compile(node(x));
    if (c.kind !== 'bool') throw new RowFilterUnsupportedError('not-boolean', `a ${c.kind} where a boolean is expected`);
    return c;
  }

  private operator(opno: number, funcid: number, args: Compiled[], collid: number): Compiled {
    const def = OPS.get(funcid);
    if (def === undefined) throw new RowFilterUnsupportedError('unsupported-operator', `operator ${opno} (function ${funcid}) is not supported`);
    const unary = def.left === 0;
    if (args.length !== (unary ? 1 : 2)) throw new RowFilterUnsupportedError('bad-node-tree', `operator function ${funcid} with ${args.length} arguments`);
    const [l, r] = unary ? [undefined, args[0]!] : [args[0]!, args[1]!];
    if ((l !== undefined && l.type !== 0 && l.type !== def.left) || (r.type !== 0 && r.type !== def.right)) {
      throw new RowFilterUnsupportedError('unsupported-operator', `operator function ${funcid} on other types than its own`);
    }
    const lk = l === undefined ? undefined : KIND_OF[def.left]!;
    const rk = KIND_OF[def.right]!;
    const resultKind = KIND_OF[def.result]!;
    const name = def.name;
    if (name === '->' || name === '->>') {
      const asText = name === '->>';
      return {
        type: def.result,
        kind: resultKind,
        eval: (row) => {
          const a = l!.eval(row);
          if (a === null) return null;
          const b = r.eval(row);
          if (b === null) return null;
          const v = jsonbGet(a as Jsonb, b as string | bigint);
          return v === null || !asText ? v : jsonbAsText(v);
        },
      };
    }
    if (name === '~~' || name === '!~~') {
      // LIKE matches characters, the same under every deterministic collation.
      if (collid !== DEFAULT_COLLATION && collid !== C_COLLATION && collid !== POSIX_COLLATION) throw new RowFilterUnsupportedError('unsupported-collation', `LIKE under ${this.collationName(collid)} is not supported`);
      const negate = name === '!~~';
      let lastPattern: string | undefined;
      let re: RegExp | undefined;
      return bool((row) => {
        const a = l!.eval(row);
        if (a === null) return null;
        const b = r.eval(row);
        if (b === null) return null;
        if (b !== lastPattern || re === undefined) {
          re = likeRegExp(b as string);
          lastPattern = b as string;
        }
        return re.test(a as string) !== negate;
      });
    }
    if (def.result === 16) {
      const cmp = this.comparator(lk!, rk, collid, name);
      const test = name === '=' ? (c: number) => c === 0 : name === '<>' ? (c: number) => c !== 0 : name === '<' ? (c: number) => c < 0 : name === '<=' ? (c: number) => c <= 0 : name === '>' ? (c: number) => c > 0 : (c: number) => c >= 0;
      return bool((row) => {
        const a = l!.eval(row);
        if (a === null) return null;
        const b = r.eval(row);
        if (b === null) return null;
        return test(cmp(a, b));
      });
    }
    if (name === '||') {
      return {
        type: 25,
        kind: 'text',
        eval: (row) => {
          const a = l!.eval(row);
          const b = a === null ? null : r.eval(row);
          return a === null || b === null ? null : (a as string) + (b as string);
        },
      };
    }
    if (resultKind === 'float8') return floatArith(name, l, r);
    if (resultKind === 'numeric') return numericArith(name, l, r);
    // Integer arithmetic, range-checked in the result's width as int4pl and the others do.
    const arith = (a: bigint, b: bigint): bigint => {
      switch (name) {
        case '+':
          return a + b;
        case '-':
          return a - b;
        case '*':
          return a * b;
        case '/':
        case '%':
          if (b === 0n) throw new RowFilterEvalError('division-by-zero', 'division by zero');
          return name === '/' ? a / b : a % b;
        default:
          throw new RowFilterUnsupportedError('unsupported-operator', `operator ${name}`);
      }
    };
    return {
      type: def.result,
      kind: resultKind,
      eval: (row) => {
        if (l === undefined) {
          const b = r.eval(row);
          if (b === null) return null;
          return checkInt(name === '-' ? -(b as bigint) : (b as bigint), resultKind);
        }
        const a = l.eval(row);
        if (a === null) return null;
        const b = r.eval(row);
        if (b === null) return null;
        return checkInt(arith(a as bigint, b as bigint), resultKind);
      },
    };
  }

  /** Orders two values of the operator's argument kinds as its comparison function does. */
  private comparator(lk: Kind, rk: Kind, collid: number, name: string): (a: Val, b: Val) => number {
    const ints = (k: Kind): boolean => k === 'int2' || k === 'int4' || k === 'int8';
    if (ints(lk) && ints(rk)) return (a, b) => ((a as bigint) < (b as bigint) ? -1 : (a as bigint) > (b as bigint) ? 1 : 0);
    if ((lk === 'float4' || lk === 'float8') && (rk === 'float4' || rk === 'float8')) return (a, b) => cmpFloat(a as number, b as number);
    if (lk === 'numeric') return (a, b) => cmpNum(a as Num, b as Num);
    if (lk === 'bool') return (a, b) => Number(a) - Number(b);
    if (lk === 'uuid') return (a, b) => ((a as string) < (b as string) ? -1 : (a as string) > (b as string) ? 1 : 0);
    if (lk === 'date' && rk === 'date') return (a, b) => Math.sign((a as number) - (b as number));
    if ((lk === 'timestamp' || lk === 'timestamptz') && lk === rk) return (a, b) => ((a as bigint) < (b as bigint) ? -1 : (a as bigint) > (b as bigint) ? 1 : 0);
    if ((lk === 'date' && rk === 'timestamp') || (lk === 'timestamp' && rk === 'date')) {
      // date_cmp_timestamp: the date as a timestamp (midnight).
      return (a, b) => {
        const x = lk === 'date' ? dateToTimestamp(a as number) : (a as bigint);
        const y = rk === 'date' ? dateToTimestamp(b as number) : (b as bigint);
        return x < y ? -1 : x > y ? 1 : 0;
      };
    }
    if ((lk === 'text' || lk === 'bpchar') && lk === rk) {
      const equality = name === '=' || name === '<>';
      if (collid !== DEFAULT_COLLATION && collid !== C_COLLATION && collid !== POSIX_COLLATION) {
        throw new RowFilterUnsupportedError('unsupported-collation', `${this.collationName(collid)} is not supported`);
      }
      // Deterministic collations: equal means byte-equal; order needs the collation's rules.
      if (!equality && !this.ordersByCodePoint(collid)) {
        throw new RowFilterUnsupportedError('unsupported-collation', `text ordering under ${this.collationName(collid)} is not supported (only C / POSIX)`);
      }
      if (lk === 'bpchar') return (a, b) => cmpCodePoints(bpTrim(a as string), bpTrim(b as string));
      return (a, b) => cmpCodePoints(a as string, b as string);
    }
    throw new RowFilterUnsupportedError('unsupported-operator', `comparing ${lk} with ${rk}`);
  }

  /** Text functions of several arguments (varlena.c); strict: NULL when an argument is. */
  private textFunc(def: FuncDef, args: Compiled[], collid: number): Compiled {
    const searches = def.name === 'starts_with' || def.name === 'strpos' || def.name === 'position' || def.name === 'replace';
    if (searches && collid !== DEFAULT_COLLATION && collid !== C_COLLATION && collid !== POSIX_COLLATION) {
      throw new RowFilterUnsupportedError('unsupported-collation', `${def.name}() under ${this.collationName(collid)} is not supported`);
    }
    const fn = ((): ((v: Val[]) => Val) => {
      switch (def.name) {
        case 'starts_with':
          return ([a, b]) => (a as string).startsWith(b as string);
        case 'strpos':
        case 'position':
          // 1-based, in characters; 0 when absent, 1 for an empty string
          return ([a, b]) => {
            const i = (a as string).indexOf(b as string);
            return BigInt(i < 0 ? 0 : [...(a as string).slice(0, i)].length + 1);
          };
        case 'replace':
          return ([a, b, c]) => ((b as string) === '' ? a : (a as string).split(b as string).join(c as string));
        case 'left':
        case 'right':
          return ([a, b]) => {
            const cs = [...(a as string)];
            const n = Number(b as bigint);
            if (def.name === 'left') return cs.slice(0, n < 0 ? Math.max(cs.length + n, 0) : n).join('');
            return cs.slice(n < 0 ? Math.min(-n, cs.length) : Math.max(cs.length - n, 0)).join('');
          };
        case 'substr':
        case 'substring':
          // see text_substring: characters from start (counted from 1, earlier is cut) for count characters
          return ([a, b, c]) => {
            const cs = [...(a as string)];
            const start = Number(b as bigint);
            if (c !== undefined && (c as bigint) < 0n) throw new RowFilterEvalError('negative-length', 'negative substring length not allowed');
            const end = c === undefined ? Infinity : start + Number(c as bigint);
            return end < 1 ? '' : cs.slice(Math.max(start, 1) - 1, end === Infinity ? undefined : Math.max(end - 1, 0)).join('');
          };
        default:
          throw new RowFilterUnsupportedError('unsupported-function', `function ${def.name} is not supported`);
      }
    })();
    return {
      type: def.result,
      kind: KIND_OF[def.result]!,
      eval: (row) => {
        const vals: Val[] = [];
        for (const a of args) {
          const v = a.eval(row);
          if (v === null) return null;
          vals.push(v);
        }
        return fn(vals);
      },
    };
  }

  private func(funcid: number, args: Compiled[], collid: number): Compiled {
    const def = FUNCS.get(funcid);
    if (def === undefined || args.length !== def.args.length) throw new RowFilterUnsupportedError('unsupported-function', `function ${funcid} is not supported`);
    if (args.some((x, i) => x.type !== def.args[i])) throw new RowFilterUnsupportedError('unsupported-function', `function ${funcid} on other types than its own`);
    if (args.length > 1) return this.textFunc(def, args, collid);
    const a = args[0]!;
    const ak = KIND_OF[def.args[0]!]!;
    const rk = KIND_OF[def.result]!;
    const one = (fn: (v: Val) => Val): Compiled => ({
      type: def.result,
      kind: rk,
      eval: (row) => {
        const v = a.eval(row);
        return v === null ? null : fn(v);
      },
    });
    switch (def.name) {
      case 'int2':
      case 'int4':
      case 'int8': {
        const k = rk as 'int2' | 'int4' | 'int8';
        if (ak === 'numeric') return one((v) => numToInt(v as Num, k));
        if (ak === 'float4' || ak === 'float8') return one((v) => floatToInt(v as number, k));
        if (ak === 'bool') return one((v) => (v === true ? 1n : 0n));
        return one((v) => checkInt(v as bigint, k));
      }
      case 'float8':
        if (ak === 'numeric') return one((v) => Number(typeof v === 'string' ? v : numText(v as Num)));
        if (ak === 'float4') return one((v) => v);
        return one((v) => Number(v as bigint));
      case 'float4':
        if (ak === 'float8') {
          // see float8 to float4 (dtof): overflow and underflow are errors
          return one((v) => {
            const x = Math.fround(v as number);
            if (!Number.isFinite(x) && Number.isFinite(v as number)) throw new RowFilterEvalError('out-of-range', 'value out of range: overflow');
            if (x === 0 && (v as number) !== 0) throw new RowFilterEvalError('out-of-range', 'value out of range: underflow');
            return x;
          });
        }
        return one((v) => bigintToFloat4(v as bigint));
      case 'numeric':
        return one((v) => numFromBigint(v as bigint));
      case 'text':
        // rtrim1: a bpchar without its trailing spaces
        return one((v) => bpTrim(v as string));
      case 'lower':
      case 'upper': {
        if (!this.asciiCase(collid)) throw new RowFilterUnsupportedError('unsupported-collation', `${def.name}() under ${this.collationName(collid)} is not supported (only C / POSIX)`);
        const up = def.name === 'upper';
        return one((v) => (v as string).replace(up ? /[a-z]+/g : /[A-Z]+/g, (m) => (up ? m.toUpperCase() : m.toLowerCase())));
      }
      case 'ltrim':
        return one((v) => (v as string).replace(/^ +/, ''));
      case 'rtrim':
        return one((v) => (v as string).replace(/ +$/, ''));
      case 'btrim':
        return one((v) => (v as string).replace(/^ +| +$/g, ''));
      case 'length':
      case 'char_length':
      case 'character_length':
        return one((v) => BigInt([...(ak === 'bpchar' ? bpTrim(v as string) : (v as string))].length));
      case 'octet_length':
        return one((v) => BigInt(new TextEncoder().encode(v as string).length));
      case 'abs':
        if (ak === 'numeric') return one((v) => (typeof v === 'string' ? (v === '-Infinity' ? 'Infinity' : v) : { ...(v as Exclude<Num, string>), neg: false }));
        if (ak === 'float4' || ak === 'float8') return one((v) => Math.abs(v as number));
        return one((v) => checkInt((v as bigint) < 0n ? -(v as bigint) : (v as bigint), rk));
      case 'timestamp':
        return one((v) => dateToTimestamp(v as number));
      case 'date':
        // see timestamp_date: infinities stay infinite, otherwise the day (floor)
        return one((v) => {
          const t = v as bigint;
          if (t === TS_NOBEGIN) return DATE_NOBEGIN;
          if (t === TS_NOEND) return DATE_NOEND;
          const q = t / USECS_PER_DAY;
          return Number(t < 0n && q * USECS_PER_DAY !== t ? q - 1n : q);
        });
      case 'bool':
        return one((v) => (v as bigint) !== 0n);
      default:
        throw new RowFilterUnsupportedError('unsupported-function', `function ${def.name} (${funcid}) is not supported`);
    }
  }
}

// see float8pl, float8mi, float8mul, float8div, float8um (float.c): overflow, underflow and zero division are errors
function floatArith(name: string, l: Compiled | undefined, r: Compiled): Compiled {
  const overflow = (): never => {
    throw new RowFilterEvalError('out-of-range', 'value out of range: overflow');
  };
  const underflow = (): never => {
    throw new RowFilterEvalError('out-of-range', 'value out of range: underflow');
  };
  return {
    type: 701,
    kind: 'float8',
    eval: (row) => {
      if (l === undefined) {
        const b = r.eval(row);
        return b === null ? null : name === '-' ? -(b as number) : b;
      }
      const a0 = l.eval(row);
      if (a0 === null) return null;
      const b0 = r.eval(row);
      if (b0 === null) return null;
      const a = a0 as number;
      const b = b0 as number;
      const inf = (x: number): boolean => x === Infinity || x === -Infinity;
      let res: number;
      switch (name) {
        case '+':
        case '-':
          res = name === '+' ? a + b : a - b;
          if (inf(res) && !inf(a) && !inf(b)) overflow();
          return res;
        case '*':
          res = a * b;
          if (inf(res) && !inf(a) && !inf(b)) overflow();
          if (res === 0 && a !== 0 && b !== 0) underflow();
          return res;
        case '/':
          if (b === 0 && !Number.isNaN(a)) throw new RowFilterEvalError('division-by-zero', 'division by zero');
          res = a / b;
          if (inf(res) && !inf(a)) overflow();
          if (res === 0 && a !== 0 && !inf(b)) underflow();
          return res;
        default:
          throw new RowFilterUnsupportedError('unsupported-operator', `operator ${name} on double precision`);
      }
    },
  };
}

/** A finite numeric as mantissa × 10^exp. */
function numParts(n: Exclude<Num, string>): [bigint, number] {
  const m = n.digits === '' ? 0n : BigInt(n.digits);
  return [n.neg ? -m : m, n.exp];
}

// see numeric_add, numeric_sub, numeric_mul, numeric_uminus (numeric.c): exact, with NaN and the infinities' rules
function numericArith(name: string, l: Compiled | undefined, r: Compiled): Compiled {
  const sign = (x: Num): number => (x === 'Infinity' ? 1 : x === '-Infinity' ? -1 : x === 'NaN' ? 0 : x.digits === '' ? 0 : x.neg ? -1 : 1);
  const negate = (x: Num): Num => (x === 'NaN' ? x : x === 'Infinity' ? '-Infinity' : x === '-Infinity' ? 'Infinity' : x.digits === '' ? x : { ...x, neg: !x.neg });
  const add = (a: Num, b: Num): Num => {
    if (a === 'NaN' || b === 'NaN') return 'NaN';
    if (typeof a === 'string' || typeof b === 'string') {
      if (typeof a === 'string' && typeof b === 'string') return a === b ? a : 'NaN';
      return typeof a === 'string' ? a : b;
    }
    const [ma, ea] = numParts(a);
    const [mb, eb] = numParts(b);
    const e = Math.min(ea, eb);
    return parseNum(`${ma * 10n ** BigInt(ea - e) + mb * 10n ** BigInt(eb - e)}e${e}`);
  };
  const mul = (a: Num, b: Num): Num => {
    if (a === 'NaN' || b === 'NaN') return 'NaN';
    if (typeof a === 'string' || typeof b === 'string') {
      const s = sign(a) * sign(b);
      return s === 0 ? 'NaN' : s > 0 ? 'Infinity' : '-Infinity';
    }
    const [ma, ea] = numParts(a);
    const [mb, eb] = numParts(b);
    return parseNum(`${ma * mb}e${ea + eb}`);
  };
  return {
    type: 1700,
    kind: 'numeric',
    eval: (row) => {
      if (l === undefined) {
        const b = r.eval(row);
        return b === null ? null : name === '-' ? negate(b as Num) : b;
      }
      const a = l.eval(row);
      if (a === null) return null;
      const b = r.eval(row);
      if (b === null) return null;
      if (name === '+') return add(a as Num, b as Num);
      if (name === '-') return add(a as Num, negate(b as Num));
      if (name === '*') return mul(a as Num, b as Num);
      throw new RowFilterUnsupportedError('unsupported-operator', `operator ${name} on numeric`);
    },
  };
}

const JB_FOBJECT = 0x20000000;
const JB_FARRAY = 0x40000000;
const JENTRY_ISCONTAINER = 0x50000000;
const JENTRY_ISNULL = 0x40000000;

/** A container's child `i` (JsonbIteratorNext's view: the JEntries' ends or lengths, 4-aligned containers). */
function jsonbChild(c: Uint8Array, i: number): Jsonb {
  const d = le(c);
  const header = d.getUint32(0, true);
  const count = header & 0x0fffffff;
  const n = header & JB_FOBJECT ? count * 2 : count;
  const data = 4 + 4 * n;
  if (data > c.length) throw new RowFilterEvalError('invalid-jsonb', `jsonb container of ${n} entries in ${c.length} bytes`);
  let start = 0;
  // An entry's start: the end of the nearest earlier entry that stores its offset, plus the lengths between.
  for (let k = i - 1; k >= 0; k--) {
    const je = d.getUint32(4 + 4 * k, true);
    start += je & 0x0fffffff;
    if (je & 0x80000000) break;
  }
  const je = d.getUint32(4 + 4 * i, true);
  const end = je & 0x80000000 ? je & 0x0fffffff : start + (je & 0x0fffffff);
  if (data + end > c.length) throw new RowFilterEvalError('invalid-jsonb', `jsonb entry beyond its container`);
  const type = je & 0x70000000;
  if (type === JENTRY_ISCONTAINER) return { container: c.subarray(data + ((start + 3) & ~3), data + end) };
  if (type === 0x10000000) {
    // A numeric: a whole varlena, 4-aligned.
    const [payload] = varlenaPayload(c, data + ((start + 3) & ~3));
    return { scalar: type, bytes: payload };
  }
  return { scalar: type, bytes: c.subarray(data + start, data + end) };
}

// see jsonb_object_field and jsonb_array_element (jsonfuncs.c): NULL when the value is not an object / array (a raw
// scalar counts as an array of one) or lacks it
function jsonbGet(v: Jsonb, key: string | bigint): Jsonb | null {
  // A scalar is a jsonb of its own: a one-element array (a raw scalar), not an object.
  if (!('container' in v)) return typeof key === 'string' ? null : key === 0n || key === -1n ? v : null;
  const c = v.container;
  if (c.length < 4) throw new RowFilterEvalError('invalid-jsonb', `jsonb container of ${c.length} bytes`);
  const header = le(c).getUint32(0, true);
  const count = header & 0x0fffffff;
  if (typeof key === 'string') {
    if (!(header & JB_FOBJECT)) return null;
    for (let i = 0; i < count; i++) {
      const k = jsonbChild(c, i);
      if ('bytes' in k && decodeText(k.bytes) === key) return jsonbChild(c, i + count);
    }
    return null;
  }
  if (!(header & JB_FARRAY)) return null;
  let i = Number(key);
  if (i < 0) i += count;
  return i < 0 || i >= count ? null : jsonbChild(c, i);
}

const JSONB_TYPE: TypeInfo = { oid: 3802, name: 'jsonb', output: 'jsonb_out', len: -1, align: 'i', byval: false, elem: 0 };

/** ->>: a string unquoted, a number or boolean as printed, JSON null as SQL NULL, a container as jsonb_out prints it. */
function jsonbAsText(v: Jsonb): string | null {
  if ('container' in v) return outputValue(v.container, JSONB_TYPE, () => undefined);
  switch (v.scalar) {
    case 0x00000000:
      return decodeText(v.bytes);
    case 0x10000000:
      return numericOut(v.bytes);
    case 0x20000000:
      return 'false';
    case 0x30000000:
      return 'true';
    case JENTRY_ISNULL:
      return null;
    default:
      throw new RowFilterEvalError('invalid-jsonb', `unknown jsonb entry type ${v.scalar >>> 28}`);
  }
}

/** see MatchText (like_match.c): `%` any characters, `_` one, `\\` escapes the next. */
function likeRegExp(pattern: string): RegExp {
  let out = '^';
  const cps = [...pattern];
  for (let i = 0; i < cps.length; i++) {
    const ch = cps[i]!;
    if (ch === '%') out += '[\\s\\S]*';
    else if (ch === '_') out += '[\\s\\S]';
    else {
      let lit = ch;
      if (ch === '\\') {
        if (i + 1 >= cps.length) throw new RowFilterEvalError('invalid-escape', 'LIKE pattern must not end with escape character');
        lit = cps[++i]!;
      }
      out += lit.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    }
  }
  return new RegExp(`${out}$`, 'u');
}

/** (float4) of an integer: rounded once, to nearest, ties to even (Math.fround(Number(v)) rounds twice past 2^53). */
function bigintToFloat4(v: bigint): number {
  const neg = v < 0n;
  let m = neg ? -v : v;
  const bits = m.toString(2).length;
  let shift = 0;
  if (bits > 24) {
    shift = bits - 24;
    const rest = m & ((1n << BigInt(shift)) - 1n);
    const half = 1n << BigInt(shift - 1);
    m >>= BigInt(shift);
    if (rest > half || (rest === half && (m & 1n) === 1n)) m += 1n;
  }
  const x = Math.fround(Number(m) * 2 ** shift);
  return neg ? -x : x;
}

// see date2timestamp (date.c)
function dateToTimestamp(d: number): bigint {
  if (d === DATE_NOBEGIN) return TS_NOBEGIN;
  if (d === DATE_NOEND) return TS_NOEND;
  // TIMESTAMP_END_JULIAN - POSTGRES_EPOCH_JDATE
  if (d >= 106751983) throw new RowFilterEvalError('out-of-range', 'date out of range for timestamp');
  return BigInt(d) * USECS_PER_DAY;
}

function numText(n: Num): string {
  if (typeof n === 'string') return n;
  return `${n.neg ? '-' : ''}${n.digits === '' ? '0' : n.digits}e${n.exp}`;
}

const bool = (fn: (row: ColumnValue) => boolean | null): Compiled => ({ type: 16, kind: 'bool', eval: fn });

function isNode(v: NodeValue): v is PgNode {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

function node(v: NodeValue | undefined): PgNode {
  if (v === undefined || !isNode(v)) throw new RowFilterUnsupportedError('bad-node-tree', 'a node expected');
  return v;
}

function list(v: NodeValue | undefined): NodeValue[] {
  if (!Array.isArray(v)) throw new RowFilterUnsupportedError('bad-node-tree', 'a list expected');
  return v;
}

function int(v: NodeValue | undefined): number {
  if (typeof v !== 'string' || !/^-?\d+$/.test(v)) throw new RowFilterUnsupportedError('bad-node-tree', `an integer expected, got ${JSON.stringify(v)}`);
  return Number(v);
}
