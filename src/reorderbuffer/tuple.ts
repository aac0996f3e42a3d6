// Heap tuples from WAL: the column values of a tuple given its relation's attributes (heap_deform_tuple),
// with varlena headers, inline compression and TOAST pointers told apart.
import { WalFormatError } from '../errors.js';
import { formatLsn } from '../lsn.js';
import { lz4DecompressBlock, pglzDecompress } from '../xlogreader/compression.js';
import { u16, u32 } from '../xlogreader/bytes.js';

/** What decoding needs of a pg_attribute row. */
export interface Attribute {
  attnum: number;
  name: string;
  typeOid: number;
  /** attlen: > 0 fixed, -1 varlena, -2 cstring. */
  len: number;
  /** attalign: 'c' | 's' | 'i' | 'd'. */
  align: string;
  byval: boolean;
  dropped: boolean;
  /** attmissingval as text, for columns added later with a default (fast default); undefined when none. */
  missing?: string | null;
  /** atttypmod (-1: none), e.g. for varchar(n), numeric(p,s): what format_type prints with the type's name. */
  typmod?: number;
  /** attnotnull. */
  notNull?: boolean;
  /** The column default as pg_get_expr prints it; null when none (or generated); undefined when not known. */
  defaultExpr?: string | null;
  /** attgenerated: '' none, 's' stored, 'v' virtual (18); undefined when not known (an older state file). */
  generated?: string;
}

/** A column value as stored: bytes of the datum (varlena payload without its header), or null / a TOAST pointer. */
export type RawValue =
  | { kind: 'null' }
  | { kind: 'bytes'; bytes: Uint8Array }
  | BytesValue
  /** Column added after the tuple was written: attmissingval's text, or null. */
  | { kind: 'missing'; text: string | null }
  | { kind: 'toast'; rawSize: number; extSize: number; valueId: number; toastRelId: number; compressed: boolean; method: number };

const HEAP_HASNULL = 0x0001;
const HEAP_NATTS_MASK = 0x07ff;
const VARTAG_ONDISK = 18;

const alignOf = (a: string): number => (a === 'd' ? 8 : a === 'i' ? 4 : a === 's' ? 2 : 1);
const alignUp = (off: number, a: number): number => (off + a - 1) & ~(a - 1);
/** Every null column shares one value object (nothing mutates RawValues). */
const NULL_VALUE: RawValue = { kind: 'null' };

function badTuple(lsn: number, what: string): never {
  throw new WalFormatError('invalid-tuple', `tuple at ${lsn ? lsn.toString(16) : '?'} is malformed: ${what}`, { lsn });
}

/**
 * A column's bytes as a range of a larger buffer (the tuple's): the view is made on first use of `bytes`, as
 * output functions mostly read straight from the range (a view costs more to make than an int4 to print).
 */
export class BytesValue {
  private view: Uint8Array | undefined = undefined;

  constructor(
    readonly src: Uint8Array,
    readonly start: number,
    readonly end: number,
  ) {}

  /** On the prototype: one field less per value. */
  get kind(): 'bytes' {
    return 'bytes';
  }

  get bytes(): Uint8Array {
    return (this.view ??= this.src.subarray(this.start, this.end));
  }
}

/**
 * Deforms a tuple as WAL carries it: `data` starts at tuple offset 23 (the null bitmap), as after an
 * xl_heap_header; `infomask2`, `infomask` and `hoff` come from that header.
 */
export function deformTuple(data: Uint8Array, infomask2: number, infomask: number, hoff: number, attrs: readonly Attribute[], lsn = 0): RawValue[] {
  return deformTupleAt(data, 0, data.length, infomask2, infomask, hoff, attrs, lsn);
}

// Attribute kinds of a tuple layout (deformTupleInto): what each column holds and where.
export const ATT_NULL = 0;
/** The datum is src[start, end). */
export const ATT_BYTES = 1;
/** A TOAST pointer: its varatt_external at src[start, end). */
export const ATT_TOAST = 2;
/** An inline-compressed varlena: its payload (va_tcinfo on) at src[start, end). */
export const ATT_COMPRESSED = 3;
/** Not in the tuple (added later): the attribute's missing value, or null. */
export const ATT_MISSING = 4;

/**
 * Where each column of a tuple lies, in `layout` (kind, start, end per attribute; grown when too short, so use
 * the array returned): heap_deform_tuple's walk without an object per value. Offsets are into `src`.
 */
// see heap_deform_tuple (heaptuple.c) and DecodeXLogTuple (decode.c)
export function deformTupleInto(
  layout: Int32Array,
  src: Uint8Array,
  start: number,
  length: number,
  infomask2: number,
  infomask: number,
  hoff: number,
  attrs: readonly Attribute[],
  lsn = 0,
): Int32Array {
  const data = src;
  if (layout.length < 3 * attrs.length) layout = new Int32Array(3 * attrs.length);
  const natts = infomask2 & HEAP_NATTS_MASK;
  const hasNull = (infomask & HEAP_HASNULL) !== 0;
  // Offsets are tuple offsets (the tuple starts 8-aligned); byte k of the tuple is src[start + k - 23].
  const base = start - 23;
  let off = hoff;
  const end = 23 + length;
  for (let i = 0, o = 0; i < attrs.length; i++, o += 3) {
    const a = attrs[i]!;
    if (i >= natts) {
      layout[o] = ATT_MISSING;
      continue;
    }
    if (hasNull && !((data[start + (i >> 3)]! >> (i & 7)) & 1)) {
      layout[o] = ATT_NULL;
      continue;
    }
    if (a.len > 0) {
      off = alignUp(off, alignOf(a.align));
      if (off + a.len > end) badTuple(lsn, `attribute ${a.attnum} runs past the end`);
      layout[o] = ATT_BYTES;
      layout[o + 1] = base + off;
      layout[o + 2] = base + off + a.len;
      off += a.len;
    } else if (a.len === -1) {
      // A zero byte here is alignment padding before a 4-byte header; 1-byte headers are never zero.
      if (off >= end) badTuple(lsn, `attribute ${a.attnum} starts past the end`);
      if (data[base + off] === 0) off = alignUp(off, alignOf(a.align));
      const b0 = data[base + off]!;
      if (b0 === 0x01) {
        const tag = data[base + off + 1]!;
        if (tag !== VARTAG_ONDISK || off + 18 > end) badTuple(lsn, `attribute ${a.attnum} has TOAST tag ${tag}`);
        layout[o] = ATT_TOAST;
        layout[o + 1] = base + off + 2;
        layout[o + 2] = base + off + 18;
        off += 18;
      } else if (b0 & 0x01) {
        const size = b0 >> 1;
        if (off + size > end) badTuple(lsn, `attribute ${a.attnum} runs past the end`);
        layout[o] = ATT_BYTES;
        layout[o + 1] = base + off + 1;
        layout[o + 2] = base + off + size;
        off += size;
      } else {
        const size = u32(data, base + off) >>> 2;
        if (size < 4 || off + size > end) badTuple(lsn, `attribute ${a.attnum} has length ${size}`);
        layout[o] = (b0 & 0x03) === 0x02 ? ATT_COMPRESSED : ATT_BYTES;
        layout[o + 1] = base + off + 4;
        layout[o + 2] = base + off + size;
        off += size;
      }
    } else if (a.len === -2) {
      let e = off;
      while (e < end && data[base + e] !== 0) e++;
      if (e >= end) badTuple(lsn, `cstring attribute ${a.attnum} is not terminated`);
      layout[o] = ATT_BYTES;
      layout[o + 1] = base + off;
      layout[o + 2] = base + e;
      off = e + 1;
    } else {
      badTuple(lsn, `attribute ${a.attnum} has length ${a.len}`);
    }
  }
  return layout;
}

/** A TOAST pointer's varatt_external at src[p, p + 16): what the value is and where its chunks are. */
export function toastPointerAt(src: Uint8Array, p: number): Extract<RawValue, { kind: 'toast' }> {
  const rawSize = u32(src, p);
  const extInfo = u32(src, p + 4);
  const extSize = extInfo & 0x3fffffff;
  return { kind: 'toast', rawSize, extSize, valueId: u32(src, p + 8), toastRelId: u32(src, p + 12), compressed: extSize < rawSize - 4, method: extInfo >>> 30 };
}

/** Stands in for a scratch layout while it is in use (a new empty array per call would cost more than the walk). */
export const LAYOUT_IN_USE: Int32Array = new Int32Array(0);
let scratchLayout: Int32Array = new Int32Array(3 * 32);

/** deformTuple of the `length` bytes of `src` from `start`; values are ranges of `src`. */
export function deformTupleAt(src: Uint8Array, start: number, length: number, infomask2: number, infomask: number, hoff: number, attrs: readonly Attribute[], lsn = 0): RawValue[] {
  // Taken off the shared scratch while in use: decompressing a value cannot come back here, but be safe.
  const layout = deformTupleInto(scratchLayout, src, start, length, infomask2, infomask, hoff, attrs, lsn);
  scratchLayout = LAYOUT_IN_USE;
  const out: RawValue[] = [];
  try {
    for (let i = 0, o = 0; i < attrs.length; i++, o += 3) {
      const s = layout[o + 1]!;
      const e = layout[o + 2]!;
      switch (layout[o]) {
        case ATT_NULL:
          out.push(NULL_VALUE);
          break;
        case ATT_BYTES:
          out.push(new BytesValue(src, s, e));
          break;
        case ATT_TOAST:
          out.push(toastPointerAt(src, s));
          break;
        case ATT_COMPRESSED:
          out.push({ kind: 'bytes', bytes: decompressDatum(src.subarray(s, e), lsn) });
          break;
        default: {
          const missing = attrs[i]!.missing;
          out.push(missing !== undefined ? { kind: 'missing', text: missing } : { kind: 'null' });
        }
      }
    }
  } finally {
    scratchLayout = layout;
  }
  return out;
}

/** An inline-compressed varlena's payload (after its 4-byte header): va_tcinfo, then pglz or lz4 data. */
export function decompressDatum(payload: Uint8Array, lsn = 0): Uint8Array {
  const tcinfo = u32(payload, 0);
  const rawSize = tcinfo & 0x3fffffff;
  const method = tcinfo >>> 30;
  // Neither pglz (≤ ~87×) nor lz4 (≤ ~255×) expands a stream more than 256-fold: a larger claim is a bomb, refused
  // before anything is allocated.
  if (rawSize > (payload.length - 4) * 256 + 64) {
    throw new WalFormatError('invalid-datum', `compressed datum claims ${rawSize} bytes from ${payload.length - 4} compressed bytes at ${formatLsn(lsn)}`, { lsn });
  }
  const out = new Uint8Array(rawSize);
  const n = method === 0 ? pglzDecompress(payload.subarray(4), out, true) : method === 1 ? lz4DecompressBlock(payload.subarray(4), out) : -1;
  if (n !== rawSize) {
    throw new WalFormatError('invalid-datum', `compressed data is corrupt (method ${method === 0 ? 'pglz' : method === 1 ? 'lz4' : method}, ${rawSize} bytes expected)`, { lsn });
  }
  return out;
}

export { u16 };
