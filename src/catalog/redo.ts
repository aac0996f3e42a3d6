// The catalog page store and heap redo on it: full-page images, insert, multi-insert, update / HOT update
// (prefix- and suffix-compressed new tuples rebuilt from the old one), delete, lock, inplace, prune, vacuum and
// freeze, each applied to a page only when the page is older than the record (PostgreSQL's BLK_NEEDS_REDO).
import type { Lsn } from '../lsn.js';
import { formatLsn } from '../lsn.js';
import type { DecodedRecord } from '../xlogreader/record.js';
import { BKPBLOCK_FORK_MASK, MAIN_FORKNUM } from '../xlogreader/record.js';
import { BlockZero, readBlockZero } from '../xlogreader/decode-record.js';
import { restoreBlockImage } from '../xlogreader/fpi.js';
import type { Major } from '../xlogreader/profile.js';
import {
  multiInsertOffnum,
  multiInsertTuples,
  parseHeapDelete,
  parseHeapFreezePage,
  parseHeapInplace,
  parseHeapInsert,
  parseHeapLock,
  parseHeapPruneFreeze,
  parseHeapPruneV15,
  parseHeapUpdate,
  parseHeapVacuumV15,
  parseMultiInsert,
  readFreezePlan,
  XLH_DELETE_IS_PARTITION_MOVE,
  XLH_DELETE_IS_SUPER,
  XLHL_KEYS_UPDATED,
  XLHL_XMAX_EXCL_LOCK,
  XLHL_XMAX_IS_MULTI,
  XLHL_XMAX_KEYSHR_LOCK,
  XLHL_XMAX_LOCK_ONLY,
  XLHP_CLEANUP_LOCK,
  XLH_UPDATE_PREFIX_FROM_OLD,
  type WalTuple,
} from '../xlogreader/rmgrdesc/heap-parse.js';
import { CatalogError } from './errors.js';
import {
  emptyPage,
  HEAP_COMBOCID,
  HEAP_HOT_UPDATED,
  HEAP_KEYS_UPDATED,
  HEAP_MOVED,
  HEAP_XMAX_BITS,
  HEAP_XMAX_EXCL_LOCK,
  HEAP_XMAX_IS_MULTI,
  HEAP_XMAX_KEYSHR_LOCK,
  HEAP_XMAX_LOCK_ONLY,
  LP_DEAD,
  LP_NORMAL,
  LP_REDIRECT,
  LP_UNUSED,
  parsePage,
  setCid,
  setCtid,
  setInfomask,
  setInfomask2,
  setXmax,
  setXmin,
  SIZEOF_HEAP_TUPLE_HEADER,
  truncateLinePointers,
  tupHoff,
  tupInfomask,
  tupInfomask2,
  unusedItem,
  type Item,
  type Page,
} from './page.js';

const RM_XLOG_ID = 0;
const RM_HEAP2_ID = 9;
const RM_HEAP_ID = 10;
const XLOG_FPI = 0xb0;
const XLOG_HEAP_INIT_PAGE = 0x80;
const MOVED_PARTITIONS_OFFSET = 0xfffd;
const XLH_FREEZE_XVAC = 0x02;
const XLH_INVALID_XVAC = 0x04;
const FROZEN_XID = 2;

/** Told about every tuple version redo writes to a tracked relation (how the catalog learns who changes it). */
export type TupleWriteHook = (relfilenode: number, xid: number, tuple: Uint8Array, lsn: Lsn) => void;

/** Pages of the tracked relations of one database, keyed by relfilenode then block number. */
export class CatalogPages {
  readonly pages = new Map<number, Map<number, Page>>();
  /** Relfilenodes whose pages are kept (added to by track() only). */
  readonly tracked = new Set<number>();
  /**
   * The largest relfilenode ever tracked: a record on a larger one (a user table's, as most are) is not the
   * catalog's, known without a lookup.
   */
  private trackedMax = -1;
  /** Blocks a record touched that were never seen (no starting page, no image): relfilenode → first LSN. */
  readonly missing = new Map<number, { block: number; lsn: Lsn }>();
  /**
   * A table rewrite (VACUUM FULL, CLUSTER of a catalog) writes a new relfilenode — its images (XLOG_FPI), then heap
   * records on it — before the relation mapper or pg_class names it, at the transaction's end. So images of
   * relations not tracked are kept (`pending`), and a heap record on one makes it `tentative`: redone like a
   * tracked one. Both are dropped when the writing transaction ends without the catalog taking them, or for room.
   */
  private readonly pending = new Map<number, { xid: number; images: Map<number, { image: Uint8Array; lsn: Lsn; endLsn: Lsn }> }>();
  private readonly tentative = new Map<number, number>();
  private keptBytes = 0;
  /** Relfilenodes whose pending images were dropped for room. */
  private readonly evicted = new Set<number>();
  onTupleWrite: TupleWriteHook | undefined;

  constructor(
    readonly databaseOid: number,
    readonly major: Major,
    private readonly pendingLimit = 64 << 20,
  ) {}

  /** Whether the pages of a relation are kept (a subclass may keep every relation's). */
  protected isTracked(relfilenode: number): boolean {
    return relfilenode <= this.trackedMax && this.tracked.has(relfilenode);
  }

  /** The page a record's image of block `i` of a tracked relation restores; undefined: not kept (never, for the catalog). */
  protected imagePage(rec: DecodedRecord, i: number): Page | undefined {
    return parsePage(restoreBlockImage(rec, i), rec.endLsn, rec.lsn);
  }

  page(relfilenode: number, block: number): Page | undefined {
    return this.pages.get(relfilenode)?.get(block);
  }

  setPage(relfilenode: number, block: number, page: Page): void {
    let rel = this.pages.get(relfilenode);
    if (rel === undefined) this.pages.set(relfilenode, (rel = new Map()));
    rel.set(block, page);
  }

  /** Starts keeping a relation's pages; images seen for it earlier are taken over. */
  track(relfilenode: number): void {
    if (this.tentative.delete(relfilenode)) {
      this.keptBytes -= 8192 * (this.pages.get(relfilenode)?.size ?? 0);
      return;
    }
    if (this.tracked.has(relfilenode)) return;
    this.tracked.add(relfilenode);
    if (relfilenode > this.trackedMax) this.trackedMax = relfilenode;
    if (!this.pages.has(relfilenode)) this.pages.set(relfilenode, new Map());
    const p = this.pending.get(relfilenode);
    if (p !== undefined) {
      for (const [block, img] of p.images) if (this.page(relfilenode, block) === undefined) this.setPage(relfilenode, block, parsePage(img.image, img.endLsn, img.lsn));
      this.keptBytes -= 8192 * p.images.size;
      this.pending.delete(relfilenode);
    }
    if (this.evicted.has(relfilenode)) this.missing.set(relfilenode, { block: 0, lsn: 0 });
  }

  /** A heap record on a relation with pending images: redo it from now on, tentatively. */
  private activate(relfilenode: number): void {
    const p = this.pending.get(relfilenode)!;
    this.track(relfilenode);
    this.tentative.set(relfilenode, p.xid);
    this.keptBytes += 8192 * p.images.size;
  }

  /** The end (commit or abort) of transactions: what they wrote that the catalog did not take is dropped. */
  endTransaction(xid: number, subxacts: readonly number[]): void {
    if (this.pending.size === 0 && this.tentative.size === 0) return;
    const ended = new Set(subxacts);
    ended.add(xid);
    for (const [fn, p] of this.pending) {
      if (!ended.has(p.xid)) continue;
      this.keptBytes -= 8192 * p.images.size;
      this.pending.delete(fn);
    }
    for (const [fn, xid] of this.tentative) {
      if (!ended.has(xid)) continue;
      this.keptBytes -= 8192 * (this.pages.get(fn)?.size ?? 0);
      this.tentative.delete(fn);
      this.tracked.delete(fn);
      this.pages.delete(fn);
      this.missing.delete(fn);
    }
  }

  private readonly blockZero = new BlockZero();

  /** Applies one record to the tracked pages; returns whether any tracked page changed. */
  apply(rec: DecodedRecord): boolean {
    if (rec.maxBlockId < 0) return false;
    if (rec.maxBlockId === 0) {
      // Most records touch one block of a user table: decided from the header, without building the references.
      const z = this.blockZero;
      if (!readBlockZero(rec, z) || (z.flags & BKPBLOCK_FORK_MASK) !== MAIN_FORKNUM || z.dbOid !== this.databaseOid) return false;
      const fn = z.relNumber;
      const heap = rec.rmid === RM_HEAP_ID || rec.rmid === RM_HEAP2_ID;
      if (!this.isTracked(fn) && !(rec.rmid === RM_XLOG_ID && rec.rmgrInfo === XLOG_FPI) && !(heap && this.pending.has(fn))) return false;
    }
    let mine = false;
    for (let i = 0; i <= rec.maxBlockId; i++) {
      const b = rec.blocks[i];
      if (b === undefined || b.forkNumber !== MAIN_FORKNUM || b.locator.dbOid !== this.databaseOid) continue;
      const fn = b.locator.relNumber;
      if (this.isTracked(fn)) mine = true;
      else if (rec.rmid === RM_XLOG_ID && rec.rmgrInfo === XLOG_FPI && b.applyImage) this.keepPending(rec, i);
      else if ((rec.rmid === RM_HEAP_ID || rec.rmid === RM_HEAP2_ID) && this.pending.has(fn)) {
        this.activate(fn);
        mine = true;
      }
    }
    if (!mine) return false;
    // Images first: a block restored from its image needs no redo (BLK_RESTORED).
    for (let i = 0; i <= rec.maxBlockId; i++) {
      const b = rec.blocks[i];
      if (b === undefined || !b.applyImage || b.forkNumber !== MAIN_FORKNUM || b.locator.dbOid !== this.databaseOid) continue;
      if (!this.isTracked(b.locator.relNumber)) continue;
      const page = this.imagePage(rec, i);
      if (page === undefined) continue;
      const old = this.page(b.locator.relNumber, b.blockNumber);
      if (old !== undefined) keepTags(old, page);
      this.setPage(b.locator.relNumber, b.blockNumber, page);
      this.missing.delete(b.locator.relNumber);
    }
    switch (rec.rmid) {
      case RM_HEAP_ID:
        this.heap(rec);
        break;
      case RM_HEAP2_ID:
        this.heap2(rec);
        break;
      default:
        break; // other rmgrs touch catalog pages only through images (handled above)
    }
    return true;
  }

  private keepPending(rec: DecodedRecord, i: number): void {
    // A catalog rewrite runs in a transaction; images written without one (index builds) are never the catalog's.
    if (rec.xid === 0) return;
    const b = rec.blocks[i]!;
    let rel = this.pending.get(b.locator.relNumber);
    if (rel === undefined) this.pending.set(b.locator.relNumber, (rel = { xid: rec.xid, images: new Map() }));
    if (!rel.images.has(b.blockNumber)) this.keptBytes += 8192;
    rel.images.set(b.blockNumber, { image: restoreBlockImage(rec, i), lsn: rec.lsn, endLsn: rec.endLsn });
    // Over the limit: drop the oldest relation kept; if it becomes a catalog later, its pages are missing.
    while (this.keptBytes > this.pendingLimit && this.pending.size + this.tentative.size > 0) {
      if (this.pending.size > 0) {
        const [first, p] = this.pending.entries().next().value as [number, { images: Map<number, unknown> }];
        this.keptBytes -= 8192 * p.images.size;
        this.pending.delete(first);
        this.evicted.add(first);
      } else {
        const [first] = this.tentative.entries().next().value as [number, number];
        this.keptBytes -= 8192 * (this.pages.get(first)?.size ?? 0);
        this.tentative.delete(first);
        this.tracked.delete(first);
        this.pages.delete(first);
        this.evicted.add(first);
      }
    }
  }

  /**
   * The page of block `id` when the record must be redone on it (BLK_NEEDS_REDO), undefined when it is newer
   * than the record or was restored from the record's image. `init`: the record re-initializes the page.
   */
  private target(rec: DecodedRecord, id: number, init = false): Page | undefined {
    const b = rec.block(id);
    if (b === undefined || b.forkNumber !== MAIN_FORKNUM || !this.isTracked(b.locator.relNumber)) return undefined;
    if (b.applyImage) {
      // Restored from the record's image (BLK_RESTORED): the write is in the image, but is still this record's.
      const restored = this.page(b.locator.relNumber, b.blockNumber);
      if (restored !== undefined) this.retag(rec, id, restored);
      return undefined;
    }
    if (init) {
      const page = emptyPage(0);
      this.setPage(b.locator.relNumber, b.blockNumber, page);
      return page;
    }
    const page = this.page(b.locator.relNumber, b.blockNumber);
    if (page === undefined) {
      if (!this.missing.has(b.locator.relNumber)) this.missing.set(b.locator.relNumber, { block: b.blockNumber, lsn: rec.lsn });
      return undefined;
    }
    if (rec.endLsn <= page.lsn) {
      this.retag(rec, id, page);
      return undefined;
    }
    return page;
  }

  /**
   * A record older than its page (the page came later, e.g. read from the server or from an exported snapshot):
   * only note the LSNs at which it wrote tuple versions, which the transaction's own lookups go by.
   */
  private retag(rec: DecodedRecord, id: number, page: Page): void {
    const relfilenode = rec.block(id)!.locator.relNumber;
    const tag = (off: number, field: 'insertLsn' | 'xmaxLsn'): void => {
      const it = page.items[off - 1];
      if (it === undefined) return;
      if (it[field] === 0) it[field] = rec.lsn;
      // Still a write of this transaction: who changes the catalog is learnt from the records, not the pages.
      if (it.tuple !== undefined) this.onTupleWrite?.(relfilenode, rec.xid, it.tuple, rec.lsn);
    };
    if (rec.rmid === RM_HEAP_ID) {
      const op = rec.info & 0x70;
      if (op === 0x00) tag(parseHeapInsert(rec).offnum, 'insertLsn');
      else if (op === 0x10) tag(parseHeapDelete(rec).offnum, 'xmaxLsn');
      else if (op === 0x20 || op === 0x40) {
        const u = parseHeapUpdate(rec);
        if (id === 0) tag(u.newOffnum, 'insertLsn');
        if (id === 1 || !rec.hasBlockRef(1)) tag(u.oldOffnum, 'xmaxLsn');
      }
    } else if (rec.rmid === RM_HEAP2_ID && (rec.info & 0x70) === 0x50) {
      const m = parseMultiInsert(rec);
      for (let i = 0; i < m.ntuples; i++) tag(multiInsertOffnum(rec, m, i), 'insertLsn');
    }
  }

  private item(rec: DecodedRecord, page: Page, offnum: number): Item & { tuple: Uint8Array } {
    const it = page.items[offnum - 1];
    if (it === undefined || it.flags !== LP_NORMAL || it.tuple === undefined) {
      throw new CatalogError('invalid-redo', `catalog redo at ${formatLsn(rec.lsn)}: item ${offnum} is not a normal line pointer`, { lsn: rec.lsn });
    }
    return it as Item & { tuple: Uint8Array };
  }

  /** PageAddItem(…, offnum, overwrite) of a tuple redo built. */
  private addItem(rec: DecodedRecord, id: number, page: Page, offnum: number, tuple: Uint8Array): void {
    if (offnum < 1 || offnum > page.items.length + 1) {
      throw new CatalogError('invalid-redo', `catalog redo at ${formatLsn(rec.lsn)}: offset ${offnum} past the ${page.items.length} line pointers`, { lsn: rec.lsn });
    }
    page.items[offnum - 1] = { flags: LP_NORMAL, redirect: 0, tuple, insertLsn: rec.lsn, xmaxLsn: rec.lsn };
    const b = rec.block(id)!;
    this.onTupleWrite?.(b.locator.relNumber, rec.xid, tuple, rec.lsn);
  }

  /** A tuple as insert redo builds it: the 23-byte header zeroed, then xl_heap_header's fields and the bytes. */
  private newTuple(rec: DecodedRecord, t: WalTuple, block: number, offnum: number, prefix?: Uint8Array, suffix?: Uint8Array): Uint8Array {
    const bytes = rec.bytes.subarray(t.dataOffset, t.dataOffset + t.dataLength);
    const tuple = new Uint8Array(SIZEOF_HEAP_TUPLE_HEADER + bytes.length + (prefix?.length ?? 0) + (suffix?.length ?? 0));
    let p = SIZEOF_HEAP_TUPLE_HEADER;
    if (prefix !== undefined) {
      // bitmap [+ padding] from the record, the prefix from the old tuple, then the rest from the record
      const head = t.hoff - SIZEOF_HEAP_TUPLE_HEADER;
      tuple.set(bytes.subarray(0, head), p);
      p += head;
      tuple.set(prefix, p);
      p += prefix.length;
      tuple.set(bytes.subarray(head), p);
      p += bytes.length - head;
    } else {
      tuple.set(bytes, p);
      p += bytes.length;
    }
    if (suffix !== undefined) tuple.set(suffix, p);
    setInfomask2(tuple, t.infomask2);
    setInfomask(tuple, t.infomask);
    tuple[22] = t.hoff;
    setXmin(tuple, rec.xid);
    setCid(tuple, 0);
    setCtid(tuple, block, offnum);
    return tuple;
  }

  private heap(rec: DecodedRecord): void {
    const op = rec.info & 0x70;
    const init = (rec.info & XLOG_HEAP_INIT_PAGE) !== 0;
    switch (op) {
      case 0x00: {
        // see heap_xlog_insert (heapam.c)
        const page = this.target(rec, 0, init);
        if (page === undefined) return;
        const ins = parseHeapInsert(rec);
        if (ins.tuple === undefined) throw new CatalogError('invalid-redo', `catalog insert at ${formatLsn(rec.lsn)} carries no tuple`, { lsn: rec.lsn });
        this.addItem(rec, 0, page, ins.offnum, this.newTuple(rec, ins.tuple, rec.block(0)!.blockNumber, ins.offnum));
        page.lsn = rec.endLsn;
        return;
      }
      case 0x10: {
        // see heap_xlog_delete (heapam.c)
        const page = this.target(rec, 0);
        if (page === undefined) return;
        const del = parseHeapDelete(rec);
        const it = this.item(rec, page, del.offnum);
        const t = it.tuple;
        clearXmax(t, del.infobitsSet, false);
        if (!(del.flags & XLH_DELETE_IS_SUPER)) setXmax(t, del.xmax);
        else setXmin(t, 0);
        setCid(t, 0);
        setInfomask(t, tupInfomask(t) & ~HEAP_COMBOCID);
        if (del.flags & XLH_DELETE_IS_PARTITION_MOVE) setCtid(t, 0xffffffff, MOVED_PARTITIONS_OFFSET);
        else setCtid(t, rec.block(0)!.blockNumber, del.offnum);
        it.xmaxLsn = rec.lsn;
        page.lsn = rec.endLsn;
        this.onTupleWrite?.(rec.block(0)!.locator.relNumber, rec.xid, t, rec.lsn);
        return;
      }
      case 0x20:
      case 0x40:
        return this.update(rec, op === 0x40, init);
      case 0x60: {
        // see heap_xlog_lock (heapam.c)
        const page = this.target(rec, 0);
        if (page === undefined) return;
        const lock = parseHeapLock(rec);
        const it = this.item(rec, page, lock.offnum);
        const t = it.tuple;
        clearXmax(t, lock.infobitsSet, false);
        if (tupInfomask(t) & HEAP_XMAX_LOCK_ONLY) {
          setInfomask2(t, tupInfomask2(t) & ~HEAP_HOT_UPDATED);
          setCtid(t, rec.block(0)!.blockNumber, lock.offnum);
        }
        setXmax(t, lock.xmax);
        setCid(t, 0);
        setInfomask(t, tupInfomask(t) & ~HEAP_COMBOCID);
        it.xmaxLsn = rec.lsn;
        page.lsn = rec.endLsn;
        return;
      }
      case 0x70: {
        // see heap_xlog_inplace (heapam.c)
        const page = this.target(rec, 0);
        if (page === undefined) return;
        const ip = parseHeapInplace(rec, this.major);
        const t = this.item(rec, page, ip.offnum).tuple;
        const hoff = tupHoff(t);
        if (ip.dataOffset < 0 || t.length - hoff !== ip.dataLength) {
          throw new CatalogError('invalid-redo', `catalog in-place update at ${formatLsn(rec.lsn)}: ${ip.dataLength} bytes for a tuple of ${t.length - hoff}`, { lsn: rec.lsn });
        }
        t.set(rec.bytes.subarray(ip.dataOffset, ip.dataOffset + ip.dataLength), hoff);
        page.lsn = rec.endLsn;
        return;
      }
      case 0x30: // TRUNCATE: logical decoding only
      case 0x50: // CONFIRM: speculative insertion, never on a catalog
        return;
      default:
        return;
    }
  }

  // see heap_xlog_update (heapam.c)
  private update(rec: DecodedRecord, hot: boolean, init: boolean): void {
    const upd = parseHeapUpdate(rec);
    const newBlock = rec.block(0)!;
    const sameBlock = !rec.hasBlockRef(1);
    const oldId = sameBlock ? 0 : 1;
    const oldBlockNumber = rec.block(oldId)!.blockNumber;
    let oldTuple: Uint8Array | undefined;
    const oldPage = this.target(rec, oldId);
    if (oldPage !== undefined) {
      const it = this.item(rec, oldPage, upd.oldOffnum);
      const t = it.tuple;
      oldTuple = t;
      clearXmax(t, upd.oldInfobitsSet, true);
      setInfomask2(t, hot ? tupInfomask2(t) | HEAP_HOT_UPDATED : tupInfomask2(t) & ~HEAP_HOT_UPDATED);
      setXmax(t, upd.oldXmax);
      setCid(t, 0);
      setInfomask(t, tupInfomask(t) & ~HEAP_COMBOCID);
      setCtid(t, newBlock.blockNumber, upd.newOffnum);
      it.xmaxLsn = rec.lsn;
      if (!sameBlock) oldPage.lsn = rec.endLsn;
      this.onTupleWrite?.(rec.block(oldId)!.locator.relNumber, rec.xid, t, rec.lsn);
    }
    // Both halves on one page: redone together or not at all.
    const page = sameBlock ? oldPage : this.target(rec, 0, init);
    if (page === undefined) return;
    if (upd.newTuple === undefined) throw new CatalogError('invalid-redo', `catalog update at ${formatLsn(rec.lsn)} carries no new tuple`, { lsn: rec.lsn });
    let prefix: Uint8Array | undefined;
    let suffix: Uint8Array | undefined;
    if (upd.prefixLength > 0 || upd.suffixLength > 0) {
      if (oldTuple === undefined) {
        // The old page was restored from an image or is newer: read the old tuple from it as it stands.
        const op = this.page(rec.block(oldId)!.locator.relNumber, oldBlockNumber);
        const it = op?.items[upd.oldOffnum - 1];
        oldTuple = it?.tuple;
        if (oldTuple === undefined) {
          throw new CatalogError('catalog-page-missing', `catalog update at ${formatLsn(rec.lsn)} shares bytes with an old tuple that was never seen`, { lsn: rec.lsn });
        }
      }
      const hoff = tupHoff(oldTuple);
      if (upd.flags & XLH_UPDATE_PREFIX_FROM_OLD) prefix = oldTuple.subarray(hoff, hoff + upd.prefixLength);
      if (upd.suffixLength > 0) suffix = oldTuple.slice(oldTuple.length - upd.suffixLength);
      if (prefix !== undefined) prefix = prefix.slice();
    }
    const t = this.newTuple(rec, upd.newTuple, newBlock.blockNumber, upd.newOffnum, prefix, suffix);
    setXmax(t, upd.newXmax);
    this.addItem(rec, 0, page, upd.newOffnum, t);
    page.lsn = rec.endLsn;
  }

  private heap2(rec: DecodedRecord): void {
    const op = rec.info & 0x70;
    if (op === 0x50) {
      // see heap_xlog_multi_insert (heapam.c)
      const m = parseMultiInsert(rec);
      const page = this.target(rec, 0, m.isInit);
      if (page === undefined) return;
      const tuples = multiInsertTuples(rec, m);
      const block = rec.block(0)!.blockNumber;
      for (let i = 0; i < tuples.length; i++) {
        const off = multiInsertOffnum(rec, m, i);
        this.addItem(rec, 0, page, off, this.newTuple(rec, tuples[i]!, block, off));
      }
      page.lsn = rec.endLsn;
      return;
    }
    if (op === 0x60) {
      // LOCK_UPDATED: see heap_xlog_lock_updated (heapam.c)
      const page = this.target(rec, 0);
      if (page === undefined) return;
      const lock = parseHeapLock(rec);
      const it = this.item(rec, page, lock.offnum);
      clearXmax(it.tuple, lock.infobitsSet, false);
      setXmax(it.tuple, lock.xmax);
      it.xmaxLsn = rec.lsn;
      page.lsn = rec.endLsn;
      return;
    }
    if (op === 0x00 || op === 0x40 || op === 0x70) return; // REWRITE, VISIBLE, NEW_CID: no heap page change
    if (this.major <= 16) return this.heap2V15(rec, op);
    // 17+: PRUNE_ON_ACCESS / PRUNE_VACUUM_SCAN / PRUNE_VACUUM_CLEANUP
    // see heap_xlog_prune_freeze (heapam.c)
    const page = this.target(rec, 0);
    if (page === undefined) return;
    const p = parseHeapPruneFreeze(rec);
    this.pruneExecute(rec, page, p.redirectedOffset, p.nredirected, p.deadOffset, p.ndead, p.unusedOffset, p.nunused);
    let off = p.frozenOffset;
    for (let i = 0; i < p.nplans; i++) {
      const plan = readFreezePlan(rec, p.plansOffset + 12 * i);
      for (let k = 0; k < plan.ntuples; k++, off += 2) this.freeze(rec, page, rec.view.getUint16(off, true), plan.xmax, plan.infomask2, plan.infomask, plan.frzflags);
    }
    const truncateOnly = (p.flags & XLHP_CLEANUP_LOCK) === 0;
    if (truncateOnly) truncateLinePointers(page);
    page.lsn = rec.endLsn;
  }

  private heap2V15(rec: DecodedRecord, op: number): void {
    const page = this.target(rec, 0);
    if (page === undefined) return;
    if (op === 0x10) {
      const p = parseHeapPruneV15(rec, this.major);
      this.pruneExecute(rec, page, p.redirectedOffset, p.nredirected, p.deadOffset, p.ndead, p.unusedOffset, p.nunused);
    } else if (op === 0x20) {
      const v = parseHeapVacuumV15(rec);
      this.pruneExecute(rec, page, -1, 0, -1, 0, v.unusedOffset, v.nunused);
      truncateLinePointers(page);
    } else if (op === 0x30) {
      const f = parseHeapFreezePage(rec, this.major);
      if (this.major === 15) {
        // xl_heap_freeze_tuple: xmax, offset, t_infomask2, t_infomask, frzflags (12 bytes)
        for (let i = 0; i < f.count; i++) {
          const at = f.entriesOffset + 12 * i;
          const v = rec.view;
          this.freeze(rec, page, v.getUint16(at + 4, true), v.getUint32(at, true), v.getUint16(at + 6, true), v.getUint16(at + 8, true), v.getUint8(at + 10));
        }
      } else {
        let off = f.planOffsetsOffset;
        for (let i = 0; i < f.count; i++) {
          const plan = readFreezePlan(rec, f.entriesOffset + 12 * i);
          for (let k = 0; k < plan.ntuples; k++, off += 2) this.freeze(rec, page, rec.view.getUint16(off, true), plan.xmax, plan.infomask2, plan.infomask, plan.frzflags);
        }
      }
    }
    page.lsn = rec.endLsn;
  }

  // see heap_page_prune_execute (pruneheap.c): line pointers only; the tuples' bytes need no compaction here
  private pruneExecute(rec: DecodedRecord, page: Page, redirected: number, nredirected: number, dead: number, ndead: number, unused: number, nunused: number): void {
    const v = rec.view;
    const at = (off: number): Item => {
      while (page.items.length < off) page.items.push(unusedItem());
      return page.items[off - 1]!;
    };
    for (let i = 0; i < nredirected; i++) {
      const from = v.getUint16(redirected + 4 * i, true);
      const to = v.getUint16(redirected + 4 * i + 2, true);
      Object.assign(at(from), { flags: LP_REDIRECT, redirect: to, tuple: undefined });
    }
    for (let i = 0; i < ndead; i++) Object.assign(at(v.getUint16(dead + 2 * i, true)), { flags: LP_DEAD, redirect: 0, tuple: undefined });
    for (let i = 0; i < nunused; i++) Object.assign(at(v.getUint16(unused + 2 * i, true)), { flags: LP_UNUSED, redirect: 0, tuple: undefined });
  }

  // see heap_execute_freeze_tuple (heapam.h)
  private freeze(rec: DecodedRecord, page: Page, offnum: number, xmax: number, infomask2: number, infomask: number, frzflags: number): void {
    const t = this.item(rec, page, offnum).tuple;
    setXmax(t, xmax);
    if (frzflags & XLH_FREEZE_XVAC) setCid(t, FROZEN_XID);
    if (frzflags & XLH_INVALID_XVAC) setCid(t, 0);
    setInfomask(t, infomask);
    setInfomask2(t, infomask2);
  }
}

/** The xmax part of delete / update / lock redo: clear the xmax bits, then set them from infobits_set. */
// see fix_infomask_from_infobits (heapam.c)
function clearXmax(t: Uint8Array, infobits: number, _update: boolean): void {
  let im = tupInfomask(t) & ~(HEAP_XMAX_BITS | HEAP_MOVED);
  let im2 = tupInfomask2(t) & ~HEAP_KEYS_UPDATED;
  if (infobits & XLHL_XMAX_IS_MULTI) im |= HEAP_XMAX_IS_MULTI;
  if (infobits & XLHL_XMAX_LOCK_ONLY) im |= HEAP_XMAX_LOCK_ONLY;
  if (infobits & XLHL_XMAX_EXCL_LOCK) im |= HEAP_XMAX_EXCL_LOCK;
  if (infobits & XLHL_XMAX_KEYSHR_LOCK) im |= HEAP_XMAX_KEYSHR_LOCK;
  if (infobits & XLHL_KEYS_UPDATED) im2 |= HEAP_KEYS_UPDATED;
  setInfomask(t, im);
  setInfomask2(t, im2);
}

/** An image replaced a page: items that hold the same tuple version keep their LSN tags. */
function keepTags(old: Page, page: Page): void {
  for (let i = 0; i < page.items.length && i < old.items.length; i++) {
    const a = old.items[i]!;
    const b = page.items[i]!;
    if (a.tuple === undefined || b.tuple === undefined) continue;
    if (a.tuple.length === b.tuple.length && sameHeader(a.tuple, b.tuple, 0)) {
      b.insertLsn = a.insertLsn;
      if (sameHeader(a.tuple, b.tuple, 4)) b.xmaxLsn = a.xmaxLsn;
    }
  }
}

const sameHeader = (a: Uint8Array, b: Uint8Array, at: number): boolean => a[at] === b[at] && a[at + 1] === b[at + 1] && a[at + 2] === b[at + 2] && a[at + 3] === b[at + 3];
