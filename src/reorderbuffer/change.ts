// A queued change as bytes: what the reorder buffer keeps per change in memory and writes to a spill file.
// Copying a change out of its record is what lets the record's page buffers go; one encoding for memory and
// disk keeps spilled and unspilled transactions on the same path (ReorderBufferSerializeChange's role).
//
//   0 u8 kind  1 u8 flags  2 u16 reserved  4 u32 a  8 f64 lsn  16 u32 b  20 u32 c  24 body…
import type { Lsn } from '../lsn.js';

export const CHANGE_INSERT = 1;
export const CHANGE_UPDATE = 2;
export const CHANGE_DELETE = 3;
export const CHANGE_SPEC_INSERT = 4;
export const CHANGE_SPEC_CONFIRM = 5;
export const CHANGE_SPEC_ABORT = 6;
export const CHANGE_TRUNCATE = 7;
export const CHANGE_MESSAGE = 8;

/** Row changes: the creator says the TOAST chunks collected so far may be dropped after this change. */
export const CF_CLEAR_TOAST = 0x01;
/** Row changes: the insert is into a TOAST relation (XLH_INSERT_ON_TOAST_RELATION): a partial change. */
export const CF_TOAST_INSERT = 0x02;

export const CHANGE_HEADER = 24;

/** A tuple as WAL carries it: xl_heap_header fields and the bytes from t_bits on. */
export interface TupleImage {
  infomask2: number;
  infomask: number;
  hoff: number;
  data: Uint8Array;
}

const tupleSize = (t: TupleImage | undefined): number => (t === undefined ? 1 : 1 + 9 + t.data.length);

function putTuple(b: Uint8Array, v: DataView, at: number, t: TupleImage | undefined): number {
  if (t === undefined) {
    b[at] = 0;
    return at + 1;
  }
  b[at] = 1;
  v.setUint16(at + 1, t.infomask2, true);
  v.setUint16(at + 3, t.infomask, true);
  b[at + 5] = t.hoff;
  v.setUint32(at + 6, t.data.length, true);
  b.set(t.data, at + 10);
  return at + 10 + t.data.length;
}

function header(kind: number, flags: number, lsn: Lsn, a: number, b: number, c: number, bodyLength: number): { bytes: Uint8Array; view: DataView } {
  const bytes = new Uint8Array(CHANGE_HEADER + bodyLength);
  const view = new DataView(bytes.buffer);
  bytes[0] = kind;
  bytes[1] = flags;
  view.setUint32(4, a, true);
  view.setFloat64(8, lsn, true);
  view.setUint32(16, b, true);
  view.setUint32(20, c, true);
  return { bytes, view };
}

/** INSERT / UPDATE / DELETE / SPEC_INSERT on the relation stored at (tablespace, relfilenode). */
export function encodeRowChange(kind: number, flags: number, lsn: Lsn, tablespace: number, relfilenode: number, newTuple: TupleImage | undefined, oldTuple: TupleImage | undefined): Uint8Array {
  const { bytes, view } = header(kind, flags, lsn, tablespace, relfilenode, 0, tupleSize(newTuple) + tupleSize(oldTuple));
  putTuple(bytes, view, putTuple(bytes, view, CHANGE_HEADER, newTuple), oldTuple);
  return bytes;
}

/** SPEC_CONFIRM / SPEC_ABORT: no body. */
export function encodeMarker(kind: number, lsn: Lsn): Uint8Array {
  return header(kind, 0, lsn, 0, 0, 0, 0).bytes;
}

export function encodeTruncate(lsn: Lsn, flags: number, relids: readonly number[]): Uint8Array {
  const { bytes, view } = header(CHANGE_TRUNCATE, 0, lsn, relids.length, flags, 0, 4 * relids.length);
  relids.forEach((r, i) => view.setUint32(CHANGE_HEADER + 4 * i, r, true));
  return bytes;
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

/** A transactional logical message; `lsn` is where its row goes (the record's end). */
export function encodeMessage(lsn: Lsn, prefix: string, content: Uint8Array): Uint8Array {
  const p = utf8.encode(prefix);
  const { bytes } = header(CHANGE_MESSAGE, 0, lsn, p.length, content.length, 0, p.length + content.length);
  bytes.set(p, CHANGE_HEADER);
  bytes.set(content, CHANGE_HEADER + p.length);
  return bytes;
}

/** Reading a change back: fields by offset, no object per field until a plugin needs one. */
export const changeKind = (c: Uint8Array): number => c[0]!;
export const changeFlags = (c: Uint8Array): number => c[1]!;
const viewOf = (c: Uint8Array): DataView => new DataView(c.buffer, c.byteOffset, c.byteLength);
export const changeLsn = (c: Uint8Array): Lsn => viewOf(c).getFloat64(8, true);

export interface DecodedRowChange {
  kind: number;
  flags: number;
  lsn: Lsn;
  tablespace: number;
  relfilenode: number;
  newTuple: TupleImage | undefined;
  oldTuple: TupleImage | undefined;
}

function getTuple(c: Uint8Array, v: DataView, at: number): [TupleImage | undefined, number] {
  if (c[at] === 0) return [undefined, at + 1];
  const len = v.getUint32(at + 6, true);
  return [{ infomask2: v.getUint16(at + 1, true), infomask: v.getUint16(at + 3, true), hoff: c[at + 5]!, data: c.subarray(at + 10, at + 10 + len) }, at + 10 + len];
}

export function decodeRowChange(c: Uint8Array): DecodedRowChange {
  const v = viewOf(c);
  const [newTuple, next] = getTuple(c, v, CHANGE_HEADER);
  const [oldTuple] = getTuple(c, v, next);
  return { kind: c[0]!, flags: c[1]!, lsn: v.getFloat64(8, true), tablespace: v.getUint32(4, true), relfilenode: v.getUint32(16, true), newTuple, oldTuple };
}

export function decodeTruncate(c: Uint8Array): { lsn: Lsn; flags: number; relids: number[] } {
  const v = viewOf(c);
  const n = v.getUint32(4, true);
  const relids: number[] = [];
  for (let i = 0; i < n; i++) relids.push(v.getUint32(CHANGE_HEADER + 4 * i, true));
  return { lsn: v.getFloat64(8, true), flags: v.getUint32(16, true), relids };
}

export function decodeMessage(c: Uint8Array): { lsn: Lsn; prefix: string; content: Uint8Array } {
  const v = viewOf(c);
  const p = v.getUint32(4, true);
  const n = v.getUint32(16, true);
  return { lsn: v.getFloat64(8, true), prefix: fromUtf8.decode(c.subarray(CHANGE_HEADER, CHANGE_HEADER + p)), content: c.subarray(CHANGE_HEADER + p, CHANGE_HEADER + p + n) };
}
