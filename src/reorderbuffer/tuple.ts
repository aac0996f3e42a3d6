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
}

/** A column value as stored: bytes of the datum (varlena payload without its header), or null / a TOAST pointer. */
export type RawValue =
  | { kind: 'null' }
  | { kind: 'bytes'; bytes: Uint8Array }
  /** Column added after the tuple was written: attmissingval's text, or null. */
  | { kind: 'missing'; text: string | null }
  | { kind: 'toast'; rawSize: number; extSize: number; valueId: number; toastRelId: number; compressed: boolean; method: number };

const HEAP_HASNULL = 0x0001;
const HEAP_NATTS_MASK = 0x07ff;
const VARTAG_ONDISK = 18;

const alignOf = (a: string): number => (a === 'd' ? 8 : a === 'i' ? 4 : a === 's' ? 2 : 1);
const alignUp = (off: number, a: number): number => (off + a - 1) & ~(a - 1);

/**
 * Deforms a tuple as WAL carries it: `data` starts at tuple offset 23 (the null bitmap), as after an
 * xl_heap_header; `infomask2`, `infomask` and `hoff` come from that header.
 */
// see heap_deform_tuple (heaptuple.c) and DecodeXLogTuple (decode.c)
export function deformTuple(data: Uint8Array, infomask2: number, infomask: number, hoff: number, attrs: readonly Attribute[], lsn = 0): RawValue[] {
  const natts = infomask2 & HEAP_NATTS_MASK;
  const hasNull = (infomask & HEAP_HASNULL) !== 0;
  // Offsets are tuple offsets (the tuple starts 8-aligned); byte k of the tuple is data[k - 23].
  const at = (k: number): number => k - 23;
  let off = hoff;
  const end = 23 + data.length;
  const out: RawValue[] = [];
  const bad = (what: string): never => {
    throw new WalFormatError('invalid-tuple', `tuple at ${lsn ? lsn.toString(16) : '?'} is malformed: ${what}`, { lsn });
  };
  for (let i = 0; i < attrs.length; i++) {
    const a = attrs[i]!;
    if (i >= natts) {
      out.push(a.missing !== undefined ? { kind: 'missing', text: a.missing } : { kind: 'null' });
      continue;
    }
    if (hasNull && !((data[at(23 + (i >> 3))]! >> (i & 7)) & 1)) {
      out.push({ kind: 'null' });
      continue;
    }
    if (a.len > 0) {
      off = alignUp(off, alignOf(a.align));
      if (off + a.len > end) bad(`attribute ${a.attnum} runs past the end`);
      out.push({ kind: 'bytes', bytes: data.subarray(at(off), at(off + a.len)) });
      off += a.len;
    } else if (a.len === -1) {
      // A zero byte here is alignment padding before a 4-byte header; 1-byte headers are never zero.
      if (off >= end) bad(`attribute ${a.attnum} starts past the end`);
      if (data[at(off)] === 0) off = alignUp(off, alignOf(a.align));
      const b0 = data[at(off)]!;
      if (b0 === 0x01) {
        const tag = data[at(off + 1)]!;
        if (tag !== VARTAG_ONDISK || off + 18 > end) bad(`attribute ${a.attnum} has TOAST tag ${tag}`);
        const p = at(off + 2);
        const rawSize = u32(data, p);
        const extInfo = u32(data, p + 4);
        const extSize = extInfo & 0x3fffffff;
        out.push({ kind: 'toast', rawSize, extSize, valueId: u32(data, p + 8), toastRelId: u32(data, p + 12), compressed: extSize < rawSize - 4, method: extInfo >>> 30 });
        off += 18;
      } else if (b0 & 0x01) {
        const size = b0 >> 1;
        if (off + size > end) bad(`attribute ${a.attnum} runs past the end`);
        out.push({ kind: 'bytes', bytes: data.subarray(at(off + 1), at(off + size)) });
        off += size;
      } else {
        const size = u32(data, at(off)) >>> 2;
        if (size < 4 || off + size > end) bad(`attribute ${a.attnum} has length ${size}`);
        if ((b0 & 0x03) === 0x02) {
          out.push({ kind: 'bytes', bytes: decompressDatum(data.subarray(at(off + 4), at(off + size)), lsn) });
        } else {
          out.push({ kind: 'bytes', bytes: data.subarray(at(off + 4), at(off + size)) });
        }
        off += size;
      }
    } else if (a.len === -2) {
      let e = off;
      while (e < end && data[at(e)] !== 0) e++;
      if (e >= end) bad(`cstring attribute ${a.attnum} is not terminated`);
      out.push({ kind: 'bytes', bytes: data.subarray(at(off), at(e)) });
      off = e + 1;
    } else {
      bad(`attribute ${a.attnum} has length ${a.len}`);
    }
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
