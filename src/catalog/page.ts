// Heap pages of the catalog relations as line pointers and tuples: what redo changes and visibility reads.
// A page is kept as its item array (not 8 kB of bytes), so pruning needs no compaction; a full-page image or a
// raw page from the server is parsed into it.
import type { Lsn } from '../lsn.js';
import { WalFormatError } from '../errors.js';

export const LP_UNUSED = 0;
export const LP_NORMAL = 1;
export const LP_REDIRECT = 2;
export const LP_DEAD = 3;

// t_infomask bits (htup_details.h)
export const HEAP_HASNULL = 0x0001;
export const HEAP_XMAX_KEYSHR_LOCK = 0x0010;
export const HEAP_COMBOCID = 0x0020;
export const HEAP_XMAX_EXCL_LOCK = 0x0040;
export const HEAP_XMAX_LOCK_ONLY = 0x0080;
export const HEAP_XMIN_COMMITTED = 0x0100;
export const HEAP_XMIN_INVALID = 0x0200;
export const HEAP_XMIN_FROZEN = HEAP_XMIN_COMMITTED | HEAP_XMIN_INVALID;
export const HEAP_XMAX_COMMITTED = 0x0400;
export const HEAP_XMAX_INVALID = 0x0800;
export const HEAP_XMAX_IS_MULTI = 0x1000;
export const HEAP_MOVED = 0x4000 | 0x8000;
export const HEAP_XMAX_BITS = HEAP_XMAX_COMMITTED | HEAP_XMAX_INVALID | HEAP_XMAX_IS_MULTI | HEAP_XMAX_LOCK_ONLY | HEAP_XMAX_EXCL_LOCK | HEAP_XMAX_KEYSHR_LOCK;
/** Hint bits: set without WAL, so they may differ from the server's page. */
export const HEAP_HINT_BITS = HEAP_XMIN_COMMITTED | HEAP_XMIN_INVALID | HEAP_XMAX_COMMITTED | HEAP_XMAX_INVALID;
// t_infomask2 bits
export const HEAP_NATTS_MASK = 0x07ff;
export const HEAP_KEYS_UPDATED = 0x2000;
export const HEAP_HOT_UPDATED = 0x4000;
export const HEAP_ONLY_TUPLE = 0x8000;

export const SIZEOF_HEAP_TUPLE_HEADER = 23;
const SIZE_OF_PAGE_HEADER = 24;

/** One line pointer and, when normal, its tuple (header included, a private copy). */
export interface Item {
  flags: number;
  /** LP_REDIRECT: the offset number it points to. */
  redirect: number;
  tuple: Uint8Array | undefined;
  /** The LSN of the record that wrote this tuple version (0 when it came with the starting snapshot). */
  insertLsn: Lsn;
  /** The LSN of the record that set its current xmax (0 when it came with the starting snapshot). */
  xmaxLsn: Lsn;
}

export interface Page {
  /** The page LSN: the end of the last record applied to it (redo skips older records). */
  lsn: Lsn;
  /** items[offnum - 1]. */
  items: Item[];
}

export const emptyPage = (lsn: Lsn): Page => ({ lsn, items: [] });

const u16 = (b: Uint8Array, o: number): number => b[o]! | (b[o + 1]! << 8);
const u32 = (b: Uint8Array, o: number): number => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
const put16 = (b: Uint8Array, o: number, v: number): void => {
  b[o] = v & 0xff;
  b[o + 1] = (v >>> 8) & 0xff;
};
const put32 = (b: Uint8Array, o: number, v: number): void => {
  b[o] = v & 0xff;
  b[o + 1] = (v >>> 8) & 0xff;
  b[o + 2] = (v >>> 16) & 0xff;
  b[o + 3] = (v >>> 24) & 0xff;
};

// HeapTupleHeaderData field access on a tuple's bytes.
export const tupXmin = (t: Uint8Array): number => u32(t, 0);
export const tupXmax = (t: Uint8Array): number => u32(t, 4);
export const tupInfomask2 = (t: Uint8Array): number => u16(t, 18);
export const tupInfomask = (t: Uint8Array): number => u16(t, 20);
export const tupHoff = (t: Uint8Array): number => t[22]!;
export const setXmin = (t: Uint8Array, v: number): void => put32(t, 0, v);
export const setXmax = (t: Uint8Array, v: number): void => put32(t, 4, v);
export const setCid = (t: Uint8Array, v: number): void => put32(t, 8, v);
export const setInfomask2 = (t: Uint8Array, v: number): void => put16(t, 18, v);
export const setInfomask = (t: Uint8Array, v: number): void => put16(t, 20, v);
export function setCtid(t: Uint8Array, block: number, offnum: number): void {
  put16(t, 12, (block >>> 16) & 0xffff);
  put16(t, 14, block & 0xffff);
  put16(t, 16, offnum);
}

/** The page LSN in a raw page's header. */
export function rawPageLsn(raw: Uint8Array): Lsn {
  return u32(raw, 0) * 0x1_0000_0000 + u32(raw, 4);
}

/** Parses an 8 kB heap page (a full-page image or a raw page) into its items; `copy` false: `raw` is the page's now. */
// see PageGetItemId / ItemIdData (itemid.h)
export function parsePage(raw: Uint8Array, lsn: Lsn, tag: Lsn = 0, copy = true): Page {
  const lower = u16(raw, 12);
  const upper = u16(raw, 14);
  if (lower === 0 && upper === 0) return emptyPage(lsn); // PageIsNew
  if (lower < SIZE_OF_PAGE_HEADER || lower > raw.length || upper > raw.length || lower > upper) {
    throw new WalFormatError('invalid-page', `catalog page has a bad header (pd_lower ${lower}, pd_upper ${upper})`, { lsn });
  }
  const n = (lower - SIZE_OF_PAGE_HEADER) >> 2;
  const items: Item[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const lp = u32(raw, SIZE_OF_PAGE_HEADER + 4 * i);
    const off = lp & 0x7fff;
    const flags = (lp >>> 15) & 3;
    const len = lp >>> 17;
    let tuple: Uint8Array | undefined;
    if (flags === LP_NORMAL) {
      if (off + len > raw.length || len < SIZEOF_HEAP_TUPLE_HEADER) {
        throw new WalFormatError('invalid-page', `catalog page item ${i + 1} runs past the page (offset ${off}, length ${len})`, { lsn });
      }
      // A view when the caller hands over `raw` (one buffer per page instead of one per tuple).
      tuple = copy ? raw.slice(off, off + len) : raw.subarray(off, off + len);
    }
    items[i] = { flags, redirect: flags === LP_REDIRECT ? off : 0, tuple, insertLsn: tag, xmaxLsn: tag };
  }
  return { lsn, items };
}

export const unusedItem = (): Item => ({ flags: LP_UNUSED, redirect: 0, tuple: undefined, insertLsn: 0, xmaxLsn: 0 });

/** Drops unused line pointers at the end of the array (PageTruncateLinePointerArray). */
export function truncateLinePointers(page: Page): void {
  while (page.items.length > 0 && page.items[page.items.length - 1]!.flags === LP_UNUSED) page.items.pop();
}

/** An 8 kB heap page holding a page's items (tuples packed from the end, MAXALIGNed): what the server's pages hold. */
// see PageInit / PageAddItemExtended (bufpage.c)
export function pageToRaw(page: Page): Uint8Array {
  const raw = new Uint8Array(8192);
  const v = new DataView(raw.buffer);
  v.setUint32(0, Math.floor(page.lsn / 0x1_0000_0000), true);
  v.setUint32(4, page.lsn % 0x1_0000_0000, true);
  const lower = SIZE_OF_PAGE_HEADER + 4 * page.items.length;
  let upper = 8192;
  for (let i = 0; i < page.items.length; i++) {
    const it = page.items[i]!;
    let off = 0;
    let len = 0;
    if (it.flags === LP_NORMAL && it.tuple !== undefined) {
      len = it.tuple.length;
      upper = (upper - len) & ~7;
      if (upper < lower) throw new WalFormatError('invalid-page', `catalog page items do not fit in 8 kB`);
      raw.set(it.tuple, upper);
      off = upper;
    } else if (it.flags === LP_REDIRECT) {
      off = it.redirect;
    }
    v.setUint32(SIZE_OF_PAGE_HEADER + 4 * i, (off & 0x7fff) | ((it.flags & 3) << 15) | ((len & 0x7fff) << 17), true);
  }
  v.setUint16(12, lower, true);
  v.setUint16(14, upper, true);
  v.setUint16(16, 8192, true); // pd_special: no special space on heap pages
  v.setUint16(18, 8192 | 4, true); // pd_pagesize_version: 8 kB, layout version 4
  return raw;
}
