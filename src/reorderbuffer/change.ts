// A queued change as bytes: what the reorder buffer keeps per change in memory and writes to a spill file.
// Copying a change out of its record is what lets the record's page buffers go; one encoding for memory and
// disk keeps spilled and unspilled transactions on the same path (ReorderBufferSerializeChange's role).
//
//   0 u8 kind  1 u8 flags  2 u16 reserved  4 u32 a  8 u32 lsn (low)  12 u32 lsn (high)  16 u32 b  20 u32 c  24 body…
import type { Lsn } from '../lsn.js';
import { lastViewCache } from '../xlogreader/bytes.js';
import type { DecoderRelation } from './catalog.js';
import type { RowAction, RowChange } from './plugin.js';
import { deformTupleAt, type RawValue } from './tuple.js';

export const CHANGE_INSERT = 1;
export const CHANGE_UPDATE = 2;
export const CHANGE_DELETE = 3;
export const CHANGE_SPEC_INSERT = 4;
export const CHANGE_SPEC_CONFIRM = 5;
export const CHANGE_SPEC_ABORT = 6;
export const CHANGE_TRUNCATE = 7;
export const CHANGE_MESSAGE = 8;
/** A change the server queues but no plugin sees (command id, invalidations, snapshot): its LSN and server size. */
export const CHANGE_INTERNAL = 9;

/** Row changes: the creator says the TOAST chunks collected so far may be dropped after this change. */
export const CF_CLEAR_TOAST = 0x01;
/** Row changes: the insert is into a TOAST relation (XLH_INSERT_ON_TOAST_RELATION): a partial change. */
export const CF_TOAST_INSERT = 0x02;

/** UPDATE / DELETE: whole old rows were asked for (old-rows=full); without CF_OLD_ROW this one's is not known. */
export const CF_OLD_WANTED = 0x04;
/** UPDATE / DELETE: the old tuple is the whole old row, read from the kept page (not the key the record logged). */
export const CF_OLD_ROW = 0x08;
/** UPDATE / DELETE: TOAST values of the old row follow it ([u32 value id][u32 length][bytes]…, to the end). */
export const CF_OLD_TOAST = 0x10;

export const CHANGE_HEADER = 24;

/** Chunks kept for reuse (queue.ts's ChunkPool): any of at least `min` bytes; kept while at most `max` bytes are. */
export interface ChunkReuse {
  take(min: number): Uint8Array | undefined;
  give(chunk: Uint8Array, max: number): void;
}

/** Where a change is encoded: a ChangeArena, or a transaction's own ChangeQueue (queue.ts). */
export interface ChangeAllocator {
  alloc(n: number): Uint8Array;
}

/**
 * Where encoded changes are allocated: chunks, so that a change is a view of a chunk rather than its own
 * ArrayBuffer (each of which V8 allocates and frees outside its heap, at a cost many times the copy). Chunks grow
 * from `nextSize` to `maxSize`; a change larger than 16 KiB gets its own buffer.
 */
export class ChangeArena implements ChangeAllocator {
  /** How many chunks were started: the current chunk's number. */
  chunkNo = 0;
  /** How many of them were allocated rather than reused. */
  allocated = 0;
  private chunk: Uint8Array | undefined;
  /** A DataView of the current chunk (putRowChange's stores). */
  private chunkView: DataView | undefined;
  private pos = 0;

  /** With `reuse`: the chunks started and not yet released, oldest first (held[i] is chunk heldFrom + i). */
  private readonly held: Uint8Array[] = [];
  private heldFrom = 1;

  constructor(
    private nextSize = 2048,
    private readonly maxSize = 1 << 20,
    /** Where released chunks go and new ones are taken from first (see release); none: every chunk is new. */
    private readonly reuse?: ChunkReuse,
  ) {}

  alloc(n: number): Uint8Array {
    if (n > 16384) return new Uint8Array(n);
    let c = this.chunk;
    if (c === undefined || this.pos + n > c.length) {
      const size = Math.max(this.nextSize, n);
      const reused = this.reuse?.take(size);
      if (reused === undefined) this.allocated++;
      c = this.chunk = reused ?? new Uint8Array(size);
      this.chunkView = undefined;
      this.nextSize = Math.min(this.nextSize * 2, this.maxSize);
      this.pos = 0;
      this.chunkNo++;
      if (this.reuse !== undefined) this.held.push(c);
    }
    const out = new Uint8Array(c.buffer, this.pos, n);
    this.pos += n;
    return out;
  }

  /**
   * Chunks numbered below `firstInUse` (and below the current one) hold nothing anyone reads any more: those
   * numbered above `pinnedThrough` go to `reuse` (which keeps them while it holds at most `max` bytes), the others
   * are let go. A chunk taken again is not freed and allocated anew: no malloc churn of 1 MiB blocks (which glibc
   * places by a threshold other allocations move) and no page faults on fresh pages.
   */
  release(firstInUse: number, pinnedThrough: number, max: number): void {
    const held = this.held;
    let k = 0;
    while (k < held.length && this.heldFrom + k < firstInUse && this.heldFrom + k < this.chunkNo) {
      if (this.heldFrom + k > pinnedThrough) this.reuse!.give(held[k]!, max);
      k++;
    }
    if (k === 0) return;
    held.splice(0, k);
    this.heldFrom += k;
  }

  /** The chunk reserve() placed its last `n` bytes in. */
  get buf(): Uint8Array {
    return this.chunk!;
  }

  /** A DataView of `buf`, made once per chunk. */
  get view(): DataView {
    const c = this.chunk!;
    return (this.chunkView ??= new DataView(c.buffer, c.byteOffset, c.byteLength));
  }

  /**
   * Room for `n` bytes (at most 16 KiB) in the current chunk (`buf`), by offset: no view per change. A queued change
   * is then (chunk, offset, length), and the chunk is the same object for the changes of a megabyte.
   */
  reserve(n: number): number {
    const c = this.chunk;
    if (c === undefined || this.pos + n > c.length) this.alloc(n);
    else this.pos += n;
    return this.pos - n;
  }

  /** A copy of `c` in this arena. */
  copy(c: Uint8Array): Uint8Array {
    const d = this.alloc(c.length);
    d.set(c);
    return d;
  }
}

// Little-endian stores and loads on the bytes themselves: no DataView per change.
function put32(b: Uint8Array, at: number, v: number): void {
  b[at] = v;
  b[at + 1] = v >>> 8;
  b[at + 2] = v >>> 16;
  b[at + 3] = v >>> 24;
}

const get16 = (b: Uint8Array, at: number): number => b[at]! | (b[at + 1]! << 8);
const get32 = (b: Uint8Array, at: number): number => (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16)) + b[at + 3]! * 0x1000000;

/** The header; the LSN (< 2^53) as two u32 halves. */
function header(kind: number, flags: number, lsn: Lsn, a: number, b: number, c: number, bodyLength: number, arena?: ChangeAllocator): Uint8Array {
  const bytes = arena === undefined ? new Uint8Array(CHANGE_HEADER + bodyLength) : arena.alloc(CHANGE_HEADER + bodyLength);
  putHeader(bytes, 0, kind, flags, lsn, a, b, c);
  return bytes;
}

function putHeader(bytes: Uint8Array, at: number, kind: number, flags: number, lsn: Lsn, a: number, b: number, c: number): void {
  bytes[at] = kind;
  bytes[at + 1] = flags;
  bytes[at + 2] = 0;
  bytes[at + 3] = 0;
  put32(bytes, at + 4, a);
  put32(bytes, at + 8, lsn % 0x1_0000_0000);
  put32(bytes, at + 12, Math.floor(lsn / 0x1_0000_0000));
  put32(bytes, at + 16, b);
  put32(bytes, at + 20, c);
}

/** The encoded length of a row change (see encodeRowChange), without an appendix. */
export const rowChangeLength = (newAt: number, newLength: number, oldAt: number, oldLength: number): number =>
  CHANGE_HEADER + (newAt < 0 ? 1 : 5 + newLength) + (oldAt < 0 ? 1 : 5 + oldLength);

/**
 * encodeRowChange's bytes (no appendix) at offset `at` of `bytes`, which has room for rowChangeLength of them;
 * `view` is a DataView of the same bytes (one u32 store where put32 makes four).
 */
export function putRowChange(
  bytes: Uint8Array,
  view: DataView,
  at: number,
  kind: number,
  flags: number,
  lsn: Lsn,
  tablespace: number,
  relfilenode: number,
  src: Uint8Array,
  newAt: number,
  newLength: number,
  oldAt: number,
  oldLength: number,
): void {
  view.setUint32(at, kind | (flags << 8), true);
  view.setUint32(at + 4, tablespace, true);
  view.setUint32(at + 8, lsn % 0x1_0000_0000, true);
  view.setUint32(at + 12, Math.floor(lsn / 0x1_0000_0000), true);
  view.setUint32(at + 16, relfilenode, true);
  view.setUint32(at + 20, 0, true);
  putViewTuple(bytes, view, putViewTuple(bytes, view, at + CHANGE_HEADER, src, newAt, newLength), src, oldAt, oldLength);
}

/** putWalTuple with the length stored through `view`. */
function putViewTuple(b: Uint8Array, view: DataView, at: number, src: Uint8Array, from: number, length: number): number {
  if (from < 0) {
    b[at] = 0;
    return at + 1;
  }
  b[at] = 1;
  b[at + 1] = src[from]!;
  b[at + 2] = src[from + 1]!;
  b[at + 3] = src[from + 2]!;
  b[at + 4] = src[from + 3]!;
  b[at + 5] = src[from + 4]!;
  const n = length - 5;
  view.setUint32(at + 6, n, true);
  const to = at + 10;
  if (n > 256) {
    b.set(src.subarray(from + 5, from + length), to);
    return to + n;
  }
  // Four bytes a step through views (the record's source is one reader buffer for many records): a subarray and
  // its set per tuple cost more than the copy at a tuple's usual size.
  const sv = sourceView(src);
  const s = from + 5;
  let i = 0;
  for (; i + 4 <= n; i += 4) view.setInt32(to + i, sv.getInt32(s + i, true), true);
  for (; i < n; i++) b[to + i] = src[s + i]!;
  return to + n;
}

/** A DataView of the records' source putViewTuple copies from, kept while it stays the same buffer. */
const sourceView = lastViewCache();

/**
 * INSERT / UPDATE / DELETE / SPEC_INSERT on the relation stored at (tablespace, relfilenode), its tuples as the
 * record carries them: xl_heap_header (infomask2, infomask, hoff) then the bytes from t_bits on, `newLength` /
 * `oldLength` bytes of `src` at `newAt` / `oldAt` (-1: none). Offsets, not views: a view costs more to make than
 * copying the bytes. Stored per tuple as [1, the header's five bytes, u32 data length, data], or [0] for none.
 */
export function encodeRowChange(
  kind: number,
  flags: number,
  lsn: Lsn,
  tablespace: number,
  relfilenode: number,
  src: Uint8Array,
  newAt: number,
  newLength: number,
  oldAt: number,
  oldLength: number,
  arena?: ChangeAllocator,
  /** Where the old tuple is, when not in `src` (a kept page's tuple, at its t_infomask2). */
  oldSrc: Uint8Array = src,
  /** Bytes after the old tuple (CF_OLD_TOAST's values). */
  appendix?: Uint8Array,
): Uint8Array {
  const newSize = newAt < 0 ? 1 : 5 + newLength;
  const bytes = header(kind, flags, lsn, tablespace, relfilenode, 0, newSize + (oldAt < 0 ? 1 : 5 + oldLength) + (appendix?.length ?? 0), arena);
  const end = putWalTuple(bytes, putWalTuple(bytes, CHANGE_HEADER, src, newAt, newLength), oldSrc, oldAt, oldLength);
  if (appendix !== undefined) bytes.set(appendix, end);
  return bytes;
}

/** CF_OLD_TOAST's values after the old tuple at `oldAt`: value id → its stored bytes (as one chunk). */
export function oldToastValues(c: Uint8Array, oldAt: number): Map<number, Uint8Array[]> {
  const values = new Map<number, Uint8Array[]>();
  let p = storedDataOffset(oldAt) + storedDataLength(c, oldAt);
  while (p + 8 <= c.length) {
    const n = get32(c, p + 4);
    values.set(get32(c, p), [c.subarray(p + 8, p + 8 + n)]);
    p += 8 + n;
  }
  return values;
}

/** An appendix of TOAST values: [u32 value id][u32 length][bytes] each. */
export function encodeToastValues(values: readonly { valueId: number; bytes: Uint8Array }[]): Uint8Array {
  const out = new Uint8Array(values.reduce((n, v) => n + 8 + v.bytes.length, 0));
  let p = 0;
  for (const v of values) {
    put32(out, p, v.valueId);
    put32(out, p + 4, v.bytes.length);
    out.set(v.bytes, p + 8);
    p += 8 + v.bytes.length;
  }
  return out;
}

function putWalTuple(b: Uint8Array, at: number, src: Uint8Array, from: number, length: number): number {
  if (from < 0) {
    b[at] = 0;
    return at + 1;
  }
  b[at] = 1;
  for (let i = 0; i < 5; i++) b[at + 1 + i] = src[from + i]!;
  const n = length - 5;
  put32(b, at + 6, n);
  const to = at + 10;
  // Only the shortest tuples byte by byte: past ~32 bytes set() and its subarray cost less (3-4× at 120 bytes).
  if (n <= 32) for (let i = 0; i < n; i++) b[to + i] = src[from + 5 + i]!;
  else b.set(src.subarray(from + 5, from + length), to);
  return to + n;
}

/** An internal change: `size` is what the server counts for it (ReorderBufferChangeSize). */
export function encodeInternal(lsn: Lsn, size: number): Uint8Array {
  return header(CHANGE_INTERNAL, 0, lsn, size, 0, 0, 0);
}

/** SPEC_CONFIRM / SPEC_ABORT: no body. */
export function encodeMarker(kind: number, lsn: Lsn): Uint8Array {
  return header(kind, 0, lsn, 0, 0, 0, 0);
}

export function encodeTruncate(lsn: Lsn, flags: number, relids: readonly number[]): Uint8Array {
  const bytes = header(CHANGE_TRUNCATE, 0, lsn, relids.length, flags, 0, 4 * relids.length);
  for (let i = 0; i < relids.length; i++) put32(bytes, CHANGE_HEADER + 4 * i, relids[i]!);
  return bytes;
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

/** A transactional logical message; `lsn` is where its row goes (the record's end). */
export function encodeMessage(lsn: Lsn, prefix: string, content: Uint8Array): Uint8Array {
  const p = utf8.encode(prefix);
  const bytes = header(CHANGE_MESSAGE, 0, lsn, p.length, content.length, 0, p.length + content.length);
  bytes.set(p, CHANGE_HEADER);
  bytes.set(content, CHANGE_HEADER + p.length);
  return bytes;
}

/** Reading a change back: fields by offset, no object per field until a plugin needs one. */
// `base`: where the change starts in `c` (a change kept in a shared chunk); tuple offsets returned are in `c`.
export const changeKind = (c: Uint8Array, base = 0): number => c[base]!;
export const changeFlags = (c: Uint8Array, base = 0): number => c[base + 1]!;
export const changeLsn = (c: Uint8Array, base = 0): Lsn => get32(c, base + 12) * 0x1_0000_0000 + get32(c, base + 8);

// A row change read back: fields by offset, its tuples by offset (-1 when it has none); no object per change.
export const rowTablespace = (c: Uint8Array, base = 0): number => get32(c, base + 4);
export const rowRelfilenode = (c: Uint8Array, base = 0): number => get32(c, base + 16);
export const rowNewTupleAt = (c: Uint8Array, base = 0): number => (c[base + CHANGE_HEADER] === 0 ? -1 : base + CHANGE_HEADER);
export function rowOldTupleAt(c: Uint8Array, base = 0): number {
  const h = base + CHANGE_HEADER;
  const next = c[h] === 0 ? h + 1 : h + 10 + get32(c, h + 6);
  return c[next] === 0 ? -1 : next;
}

// The fields of a stored tuple at offset `at` of a change (as putWalTuple wrote them).
export const storedInfomask2 = (c: Uint8Array, at: number): number => get16(c, at + 1);
export const storedInfomask = (c: Uint8Array, at: number): number => get16(c, at + 3);
export const storedHoff = (c: Uint8Array, at: number): number => c[at + 5]!;
export const storedDataLength = (c: Uint8Array, at: number): number => get32(c, at + 6);
export const storedDataOffset = (at: number): number => at + 10;

export function decodeTruncate(c: Uint8Array): { lsn: Lsn; flags: number; relids: number[] } {
  const n = get32(c, 4);
  const relids: number[] = [];
  for (let i = 0; i < n; i++) relids.push(get32(c, CHANGE_HEADER + 4 * i));
  return { lsn: changeLsn(c), flags: get32(c, 16), relids };
}

export const decodeInternalSize = (c: Uint8Array): number => get32(c, 4);

/** A message's prefix and content lengths in bytes. */
export function decodeMessageSizes(c: Uint8Array): { prefix: number; content: number } {
  return { prefix: get32(c, 4), content: get32(c, 16) };
}

export function decodeMessage(c: Uint8Array): { lsn: Lsn; prefix: string; content: Uint8Array } {
  const p = get32(c, 4);
  const n = get32(c, 16);
  return { lsn: changeLsn(c), prefix: fromUtf8.decode(c.subarray(CHANGE_HEADER, CHANGE_HEADER + p)), content: c.subarray(CHANGE_HEADER + p, CHANGE_HEADER + p + n) };
}

/**
 * A row change as the reorder buffer replays it: its tuples stay in the encoded change and are deformed on first
 * use, so a plugin that prints straight from the bytes (test_decoding's) makes no value objects. Made only when no
 * TOAST value of the transaction replaces a pointer in it: the stored tuples are then the change's tuples as they are.
 */
export class StoredRowChange implements RowChange {
  private newValues: RawValue[] | undefined = undefined;
  private oldValues: RawValue[] | undefined = undefined;

  constructor(
    public lsn: Lsn,
    public action: RowAction,
    public relation: DecoderRelation,
    /** Bytes holding the encoded change (it, or the chunk it was kept in) and its tuples' offsets in them (-1: none). */
    public change: Uint8Array,
    public newAt: number,
    public oldAt: number,
  ) {}

  /** The same object as another change (for a plugin with transientRowChanges): its values deformed anew. */
  refill(lsn: Lsn, action: RowAction, relation: DecoderRelation, change: Uint8Array, newAt: number, oldAt: number): this {
    this.lsn = lsn;
    this.action = action;
    this.relation = relation;
    this.change = change;
    this.newAt = newAt;
    this.oldAt = oldAt;
    this.newValues = undefined;
    this.oldValues = undefined;
    return this;
  }

  get kind(): 'row' {
    return 'row';
  }

  get newTuple(): readonly RawValue[] | undefined {
    return this.newAt < 0 ? undefined : (this.newValues ??= this.deform(this.newAt));
  }

  get oldTuple(): readonly RawValue[] | undefined {
    return this.oldAt < 0 ? undefined : (this.oldValues ??= this.deform(this.oldAt));
  }

  private deform(at: number): RawValue[] {
    const c = this.change;
    return deformTupleAt(c, storedDataOffset(at), storedDataLength(c, at), storedInfomask2(c, at), storedInfomask(c, at), storedHoff(c, at), this.relation.attributes, this.lsn);
  }
}
