// Heap pages of user tables (and their TOAST relations) kept from full-page images and heap redo, within a memory
// budget: what gives the whole old row of an UPDATE or DELETE when the table's replica identity logs only its key.
// A page is known from its image (or a record that initializes it) on; evicted, dropped or never imaged, it is not.
import type { DecodedRecord } from '../xlogreader/record.js';
import { MAIN_FORKNUM } from '../xlogreader/record.js';
import type { Major } from '../xlogreader/profile.js';
import { WalError } from '../errors.js';
import { parseSmgrCreate, parseSmgrTruncate, XLOG_SMGR_CREATE, XLOG_SMGR_TRUNCATE } from '../xlogreader/rmgrdesc/smgr.js';
import { parseAbort, parseCommit } from '../xlogreader/rmgrdesc/xact.js';
import type { OldRowSource } from '../reorderbuffer/oldrows.js';
import { CatalogPages } from './redo.js';
import { restoreBlockImage } from '../xlogreader/fpi.js';
import { LP_NORMAL, parsePage, tupHoff, tupInfomask, type Page } from './page.js';

const RM_XLOG_ID = 0;
const RM_XACT_ID = 1;
const RM_SMGR_ID = 2;
const RM_HEAP2_ID = 9;
const RM_HEAP_ID = 10;
const SMGR_TRUNCATE_HEAP = 0x0001;
const HEAP_HASNULL = 0x0001;
/** What a kept page is counted as: its tuples, line pointers and objects stay within about a page's bytes. */
const PAGE_COST = 8192;

/** The default budget of `-o old-rows=full`: pages beyond it are evicted, least recently used first. */
export const DEFAULT_HEAP_PAGES_BUDGET = 256 << 20;

/** A kept page with when it was last used and what it was counted as. */
type KeptPage = Page & { used?: number; cost?: number };

/**
 * What a kept page costs: its 8 kB buffer, and per line pointer its item object and tuple view (a tuple redo wrote
 * has its own small buffer). An estimate, counted again each time the page is used: on pgbench pages (about 60
 * tuples) the live heap and array buffers after a full GC were 23 kB a page, as this counts (bench/old-rows.ts).
 */
const pageCost = (page: Page): number => PAGE_COST + ITEM_COST * page.items.length;
const ITEM_COST = 240;

/** Every relation of one database is tracked; images are kept only of heap pages (no special space). */
export class HeapPages extends CatalogPages implements OldRowSource {
  /** Bytes the kept pages are counted as (pageCost). */
  bytes = 0;
  private pageCount = 0;
  private clock = 0;
  /** Pages evicted for room, and pages dropped after an error in their redo: counters for a report. */
  evictions = 0;
  redoFailures = 0;

  constructor(
    databaseOid: number,
    major: Major,
    readonly budget = DEFAULT_HEAP_PAGES_BUDGET,
  ) {
    super(databaseOid, major, 0);
    if (!(budget >= 2 * PAGE_COST)) throw new WalError('invalid-argument', `old-rows memory of ${budget} bytes is below two pages (${2 * PAGE_COST})`);
  }

  protected override isTracked(): boolean {
    return true;
  }

  /** Images of heap pages only: an index page (special space) or a page of another rmgr's record is not a heap page. */
  protected override imagePage(rec: DecodedRecord, i: number): Page | undefined {
    const raw = rec.rmid === RM_HEAP_ID || rec.rmid === RM_HEAP2_ID || rec.rmid === RM_XLOG_ID ? restoreBlockImage(rec, i) : undefined;
    if (raw !== undefined && (raw[16]! | (raw[17]! << 8)) === raw.length) return parsePage(raw, rec.endLsn, rec.lsn, false);
    // Not a heap page after all: what was kept of the block is stale now.
    const b = rec.blocks[i]!;
    this.forget(b.locator.relNumber, b.blockNumber);
    return undefined;
  }

  /** Number of pages kept now. */
  get size(): number {
    return this.pageCount;
  }

  override page(relfilenode: number, block: number): Page | undefined {
    const page = super.page(relfilenode, block) as KeptPage | undefined;
    if (page !== undefined) {
      page.used = ++this.clock;
      // Redo adds items: counted again on use (a page is used before each record redone on it).
      const cost = pageCost(page);
      this.bytes += cost - (page.cost ?? 0);
      page.cost = cost;
      if (this.bytes > this.budget) this.evict();
    }
    return page;
  }

  override setPage(relfilenode: number, block: number, page: Page): void {
    const old = this.pages.get(relfilenode)?.get(block) as KeptPage | undefined;
    if (old !== undefined) this.bytes -= old.cost ?? 0;
    else this.pageCount++;
    super.setPage(relfilenode, block, page);
    const kept = page as KeptPage;
    kept.used = ++this.clock;
    kept.cost = pageCost(page);
    this.bytes += kept.cost;
    if (this.bytes > this.budget) this.evict();
  }

  /** Over the budget: the least recently used eighth of the pages (at least down to the budget) goes at once. */
  private evict(): void {
    const all: [number, number, number][] = [];
    for (const [fn, rel] of this.pages) for (const [b, p] of rel) all.push([(p as KeptPage).used ?? 0, fn, b]);
    all.sort((x, y) => x[0] - y[0]);
    const target = Math.min(this.budget, this.bytes - this.bytes / 8);
    // The page used last (the one being redone or read) stays.
    for (let i = 0; i < all.length - 1 && this.bytes > target; i++) {
      this.forget(all[i]![1], all[i]![2]);
      this.evictions++;
    }
  }

  private forget(relfilenode: number, block: number): void {
    const rel = this.pages.get(relfilenode);
    const page = rel?.get(block) as KeptPage | undefined;
    if (page === undefined) return;
    this.bytes -= page.cost ?? 0;
    this.pageCount--;
    rel!.delete(block);
    if (rel!.size === 0) this.pages.delete(relfilenode);
  }

  /** Forgets a relation's pages from block `from` on (all of them by default). */
  dropRelation(relfilenode: number, from = 0): void {
    const rel = this.pages.get(relfilenode);
    if (rel === undefined) return;
    for (const b of [...rel.keys()]) if (b >= from) this.forget(relfilenode, b);
  }

  override apply(rec: DecodedRecord): boolean {
    // New storage, truncation and a transaction's dropped relations (rewrites, TRUNCATE, DROP) end what was kept.
    if (rec.rmid === RM_SMGR_ID) {
      const op = rec.info & 0xf0;
      if (op === XLOG_SMGR_CREATE) {
        const c = parseSmgrCreate(rec);
        if (c.locator.dbOid === this.databaseOid && c.forkNumber === MAIN_FORKNUM) this.dropRelation(c.locator.relNumber);
      } else if (op === XLOG_SMGR_TRUNCATE) {
        const t = parseSmgrTruncate(rec);
        if (t.locator.dbOid === this.databaseOid && t.flags & SMGR_TRUNCATE_HEAP) this.dropRelation(t.locator.relNumber, t.blockNumber);
      }
      return false;
    }
    if (rec.rmid === RM_XACT_ID) {
      const op = rec.info & 0x70;
      const dropped = op === 0x00 || op === 0x30 ? parseCommit(rec, this.major).relLocators : op === 0x20 || op === 0x40 ? parseAbort(rec, this.major).relLocators : [];
      for (const l of dropped) if (l.dbOid === this.databaseOid) this.dropRelation(l.relNumber);
      return false;
    }
    try {
      return super.apply(rec);
    } catch (e) {
      // A record that does not fit the page kept (never expected): the page is unknown again, never guessed.
      if (!(e instanceof WalError)) throw e;
      for (let i = 0; i <= rec.maxBlockId; i++) {
        const b = rec.blocks[i];
        if (b !== undefined && b.locator.dbOid === this.databaseOid) this.forget(b.locator.relNumber, b.blockNumber);
      }
      this.redoFailures++;
      return false;
    }
  }

  /** Old rows of the decoded tables' UPDATEs and DELETEs found and not found: the known share a budget gives. */
  known = 0;
  unknown = 0;

  tuple(relfilenode: number, block: number, offnum: number): Uint8Array | undefined {
    const it = this.page(relfilenode, block)?.items[offnum - 1];
    const t = it !== undefined && it.flags === LP_NORMAL ? it.tuple : undefined;
    if (t === undefined) this.unknown++;
    else this.known++;
    return t;
  }

  // see toast_fetch_datum (detoast.c): chunks (chunk_id oid, chunk_seq int4, chunk_data bytea) in sequence order
  toastValue(relfilenode: number, valueId: number, extSize: number): Uint8Array | undefined {
    const rel = this.pages.get(relfilenode);
    if (rel === undefined) return undefined;
    const chunks: (Uint8Array | undefined)[] = [];
    for (const page of rel.values()) {
      if (!chunkIdsOf(page).has(valueId)) continue;
      for (const it of page.items) {
        const t = it.tuple;
        if (it.flags !== LP_NORMAL || t === undefined || tupInfomask(t) & HEAP_HASNULL) continue;
        const h = tupHoff(t);
        if (t.length < h + 9 || u32(t, h) !== valueId) continue;
        const seq = u32(t, h + 4);
        const data = varlenaPayload(t, h + 8);
        // Two chunks with one number (a value id used again): which one is the value's is not known.
        if (data === undefined || seq > extSize || chunks[seq] !== undefined) return undefined;
        chunks[seq] = data;
      }
    }
    let total = 0;
    for (let i = 0; i < chunks.length; i++) {
      if (chunks[i] === undefined) return undefined; // a chunk on a page not kept
      total += chunks[i]!.length;
    }
    if (chunks.length === 0 || total !== extSize) return undefined;
    const out = new Uint8Array(total);
    let o = 0;
    for (const c of chunks) {
      out.set(c!, o);
      o += c!.length;
    }
    return out;
  }
}

/** The value ids of a TOAST page's chunks, by page, as of its LSN (redo moves it): pages without the value are skipped. */
const chunkIdCache = new WeakMap<Page, { lsn: number; ids: Set<number> }>();

function chunkIdsOf(page: Page): Set<number> {
  const hit = chunkIdCache.get(page);
  if (hit !== undefined && hit.lsn === page.lsn) return hit.ids;
  const ids = new Set<number>();
  for (const it of page.items) {
    const t = it.tuple;
    if (it.flags === LP_NORMAL && t !== undefined && t.length >= tupHoff(t) + 4) ids.add(u32(t, tupHoff(t)));
  }
  chunkIdCache.set(page, { lsn: page.lsn, ids });
  return ids;
}

const u32 = (b: Uint8Array, o: number): number => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16)) + b[o + 3]! * 0x1000000;

/** A chunk's bytea: a 1-byte or 4-byte header (chunks are never compressed or external themselves). */
function varlenaPayload(t: Uint8Array, at: number): Uint8Array | undefined {
  const first = t[at]!;
  if ((first & 1) === 1) {
    if (first === 1) return undefined; // an external pointer
    const len = first >>> 1;
    return at + len <= t.length ? t.subarray(at + 1, at + len) : undefined;
  }
  if ((first & 3) !== 0) return undefined; // compressed inline
  const len = u32(t, at) >>> 2;
  return len >= 4 && at + len <= t.length ? t.subarray(at + 4, at + len) : undefined;
}
