// Transactions and their change queues until they end, then the plugin callbacks in order (reorderbuffer.c).
// Subtransactions, memory accounting, spill and restore, streaming, two-phase and TOAST reassembly live here too.
//
//   change ─▶ queue it, encoded, under its xid ─┬─▶ over the memory limit: stream the largest transaction, or spill the largest queue
//                                               ├─▶ COMMIT: merge the xid and its subxacts by LSN ─▶ plugin
//                                               ├─▶ PREPARE (two-phase): the same, ending in prepare
//                                               └─▶ ABORT: drop the xid and its subxacts, spills too
//
// decode.ts says what a record means (which xid, which change, whether to skip it); this file does it.
import { formatLsn, type Lsn } from '../lsn.js';
import { WalFormatError } from '../errors.js';
import { decompressDatum, deformTupleAt, type RawValue } from './tuple.js';
import { SNAPBUILD_FULL_SNAPSHOT, type SnapshotBuilder } from './snapbuild.js';
import type { CatalogPoint, CatalogView, DecoderRelation, SchemaChange } from './catalog.js';
import type { MessageChange, OutputContext, OutputPlugin, ReorderTxn, RowAction, RowChange, TruncateChange } from './plugin.js';
import { MemorySpillStore, type SpillStore } from './spill.js';
import { ChangeQueue, ChunkPool } from './queue.js';
import {
  CF_CLEAR_TOAST,
  CF_OLD_ROW,
  CF_OLD_TOAST,
  CF_OLD_WANTED,
  CF_TOAST_INSERT,
  CHANGE_DELETE,
  CHANGE_INSERT,
  CHANGE_INTERNAL,
  encodeInternal,
  CHANGE_MESSAGE,
  CHANGE_SPEC_ABORT,
  CHANGE_SPEC_CONFIRM,
  CHANGE_SPEC_INSERT,
  CHANGE_TRUNCATE,
  CHANGE_UPDATE,
  ChangeArena,
  type ChangeAllocator,
  changeLsn,
  storedDataLength,
  storedDataOffset,
  storedHoff,
  storedInfomask,
  storedInfomask2,
  decodeMessage,
  decodeMessageSizes,
  decodeInternalSize,
  rowNewTupleAt,
  rowOldTupleAt,
  rowRelfilenode,
  rowTablespace,
  StoredRowChange,
  decodeTruncate,
  encodeMessage,
  encodeRowChange,
  oldToastValues,
  putRowChange,
  rowChangeLength,
} from './change.js';

/** What the reorder buffer reads of logical.ts's DecoderOptions (when it needs it, not copied). */
export interface ReorderBufferOptions {
  readonly startAt: Lsn | 'snapshot';
  readonly twoPhaseAt?: Lsn;
  readonly memoryLimit?: number;
  readonly spill?: SpillStore;
  readonly streaming?: boolean;
  readonly includeRewrites?: boolean;
  readonly toastCache?: number;
}

/**
 * The context plugin callbacks get (logical.ts makes it, as LogicalDecodingContext): its write location is set
 * before each call (ctxAt), as logical.c's callback wrappers set ctx->write_location.
 */
export interface CallbackContext extends OutputContext {
  lsn: Lsn;
  xid: number;
  /** The (sub)transaction whose queue the change being replayed came from. */
  changeXid: number;
  at: CatalogPoint | undefined;
}

const SHARED_CHUNK = 1 << 20;
/** Shared chunks a transaction's changes may stay in before they move to the transaction's own arena. */
const SHARED_CHUNKS_HELD = 8;
/** The largest change placed in a shared chunk by offset (ChangeArena gives a larger one its own buffer). */
const SHARED_PLACED_MAX = 16384;
const NO_CHANGES: readonly Uint8Array[] = Object.freeze([]);

/** A transaction's in-memory changes as views, in order (for spilling and moving them: not the replay path). */
function changeViews(t: TxnState): Uint8Array[] {
  const out: Uint8Array[] = [];
  const c = t.changes;
  for (let i = 0; i < t.changesUsed; i += 3) {
    const b = c[i] as Uint8Array;
    const at = c[i + 1] as number;
    const n = c[i + 2] as number;
    out.push(at === 0 && n === b.length ? b : b.subarray(at, at + n));
  }
  return out;
}

/** Arrays of changes longer than this are let go at a clear rather than kept for the transaction's next use. */
const CHANGES_KEPT = 3 * 256;

/** Empties the changes of `t`: the array is kept for reuse (a short one), its chunk references dropped. */
function clearChanges(t: TxnState): void {
  const c = t.changes;
  if (c.length > CHANGES_KEPT) t.changes = [];
  else for (let i = 0; i < t.changesUsed; i += 3) c[i] = 0;
  t.changesUsed = 0;
}

/** The server's sizeof(ReorderBufferChange) on 64-bit Linux, 15–18. */
export const SIZEOF_REORDER_BUFFER_CHANGE = 80;
/** sizeof(SharedInvalidationMessage). */
const SIZEOF_SHARED_INVALIDATION_MESSAGE = 16;
/** sizeof(HeapTupleData) and SizeofHeapTupleHeader: a decoded tuple's t_len is its WAL data plus the header. */
const SIZEOF_HEAP_TUPLE_DATA = 24;
const SIZEOF_HEAP_TUPLE_HEADER = 23;
/** sizeof(Size), twice: ReorderBufferChangeSize counts a message's prefix and message lengths. */
const MESSAGE_SIZE_FIELDS = 16;

/**
 * What the server counts against logical_decoding_work_mem for a queued change (ReorderBufferChangeSize):
 * sizeof(ReorderBufferChange), plus sizeof(HeapTupleData) and t_len per tuple, a message's prefix with its NUL,
 * its content and two Size fields, or a truncate's relation OIDs.
 */
// see ReorderBufferChangeSize (reorderbuffer.c)
export function serverChangeSize(c: Uint8Array, base = 0): number {
  switch (c[base]) {
    case CHANGE_INSERT:
    case CHANGE_UPDATE:
    case CHANGE_DELETE:
    case CHANGE_SPEC_INSERT: {
      let n = SIZEOF_REORDER_BUFFER_CHANGE;
      const at = rowNewTupleAt(c, base);
      if (at >= 0) n += SIZEOF_HEAP_TUPLE_DATA + SIZEOF_HEAP_TUPLE_HEADER + storedDataLength(c, at);
      const old = rowOldTupleAt(c, base);
      if (old >= 0) n += SIZEOF_HEAP_TUPLE_DATA + SIZEOF_HEAP_TUPLE_HEADER + storedDataLength(c, old);
      return n;
    }
    case CHANGE_MESSAGE: {
      const m = decodeMessageSizes(base === 0 ? c : c.subarray(base));
      return SIZEOF_REORDER_BUFFER_CHANGE + m.prefix + 1 + m.content + MESSAGE_SIZE_FIELDS;
    }
    case CHANGE_TRUNCATE:
      return SIZEOF_REORDER_BUFFER_CHANGE + 4 * decodeTruncate(base === 0 ? c : c.subarray(base)).relids.length;
    case CHANGE_INTERNAL:
      return decodeInternalSize(base === 0 ? c : c.subarray(base));
    default:
      return SIZEOF_REORDER_BUFFER_CHANGE;
  }
}
export const DEFAULT_MEMORY_LIMIT = 64 * 1024 * 1024;

/** A (sub)transaction's queue: ReorderBufferTXN. */
interface TxnState {
  xid: number;
  firstLsn: Lsn;
  /**
   * Changes in memory, after any spilled ones (while it has no queue of its own), as triples (bytes, offset, length):
   * a shared chunk and where the change lies in it, or a change of its own from 0. No view per change, and one
   * array per transaction.
   */
  changes: (Uint8Array | number)[];
  /** Entries of `changes` in use (the array is reused: its length may be larger). */
  changesUsed: number;
  /**
   * Changes are encoded into the reorder buffer's shared arena, from its chunk number `sharedFrom` on (-1: none there);
   * a transaction still open a few chunks later, or spilled, moves them to a queue of its own (`own`), so that a
   * long transaction does not keep the shared chunks of everything decoded since it began from being freed.
   */
  sharedFrom: number;
  own: ChangeQueue | undefined;
  /** Bytes counted against the memory limit. */
  size: number;
  spilled: boolean;
  /** A change was queued (the server's base_snapshot): only such transactions reach the plugin. */
  hasBase: boolean;
  /** Top-level: changes were streamed before the end (RBTXN_IS_STREAMED); subxact: it had changes in a stream. */
  streamed: boolean;
  /** Top-level: a TOAST chunk or speculative insertion waits for its main change (RBTXN_HAS_PARTIAL_CHANGE). */
  partial: boolean;
  /** Top-level: a change a plugin sees was queued (RBTXN_HAS_STREAMABLE_CHANGE). */
  streamable: boolean;
  /** Top-level: where it got its base snapshot (base_snapshot_lsn), which orders txns_by_base_snapshot_lsn. */
  baseLsn: Lsn | undefined;
  /** Replication origin of its records (0 or unset: local). */
  origin: number | undefined;
  /** PREPARE seen: where, when, with which GID. */
  prepare: { gid: string; lsn: Lsn; endLsn: Lsn; time: bigint; origin: number; originLsn: Lsn; subxacts: number[] } | undefined;
}

/** Ended transactions' states kept for the next ones (most transactions are small and short). */
const TXN_POOL = 64;

/** What a transaction's replay carries from one change to the next. */
interface ReplayState {
  readonly xid: number;
  readonly txn: ReorderTxn;
  readonly streaming: boolean;
  /** The plugin's transientRowChanges, read once per replay (it changes only between records). */
  readonly transient: boolean;
  /** The last change's LSN: a streamed block opens at its first change, whatever that change turns out to be. */
  lastLsn: Lsn | undefined;
  /** TOAST chunks by value id, made at the first chunk (most transactions have none). */
  toast: Map<number, Uint8Array[]> | undefined;
  /** A speculative insertion waiting for its confirmation: the bytes holding it, at `specAt`. */
  spec: Uint8Array | undefined;
  specAt: number;
}

const isTxnState = (x: Iterable<Uint8Array> | TxnState): x is TxnState => (x as TxnState).changes !== undefined;

/** A commit's schema changes when there are none (most commits): shared, not made per commit. */
const NO_SCHEMA_CHANGES: readonly SchemaChange[] = Object.freeze([]);

const xidPrecedes = (a: number, b: number): boolean => ((a - b) | 0) < 0;


export class ReorderBuffer {
  private readonly txns = new Map<number, TxnState>();
  /** subxact → top-level xid, from record headers, assignment records and commit records. */
  private readonly parent = new Map<number, number>();
  private readonly spill: SpillStore;
  private readonly memoryLimit: number;
  /** Encoded changes of transactions, in 1 MiB chunks (see TxnState.sharedFrom). */
  private readonly shared: ChangeArena;
  /**
   * Shared chunks up to this number may be referred to from outside the queues (a plugin without
   * transientRowChanges was given views of them, or a spill store their changes): never reused.
   */
  private sharedPinned = 0;
  /**
   * Chunks of spilled queues and released shared chunks, for the next changes: at most the limit less what is
   * queued (see reduceMemory).
   */
  private readonly pool = new ChunkPool();
  private sharedChunkSeen = 0;
  /** Transactions with catalog changes (RBTXN_HAS_CATALOG_CHANGES), until their end. */
  private readonly catalogChanges = new Set<number>();
  /** Invalidation messages queued per top-level transaction (txn->ninvalidations), until its end. */
  private readonly invalidationCounts = new Map<number, number>();
  /** The snapshot builder's committed catalog-modifying xids (builder->committed): a snapshot's xip. */
  private committedCatalogXids: number[] = [];
  /** Total bytes of changes in memory (rb->size). */
  private size = 0;
  /** The end LSN of the last commit emitted: what a consumer confirms (confirmed_flush). */
  lastCommitEnd: Lsn = 0;
  /** Changes skipped because their relation was not in the catalog (catalog relations, or DDL not followed). */
  unknownRelationChanges = 0;
  /** How many times a transaction was spilled. */
  spills = 0;
  /** Schema changes reported by the catalog, not yet emitted with their transaction. */
  private schemaChanges: SchemaChange[] = [];
  /** The schema changes of the commit being emitted. */
  private ddlOfCommit: readonly SchemaChange[] = NO_SCHEMA_CHANGES;
  /** TOAST values seen in the range, by toast relation and value id, oldest first (a bounded LRU). */
  private readonly toastValues = new Map<string, Uint8Array>();
  private toastValueBytes = 0;
  /** ReadRecPtr of the record being processed (decode.ts sets it): streaming starts only at or after the start point. */
  recordLsn: Lsn = 0;

  /**
   * `ctx` is the one context every plugin callback gets, pointed at each callback's row location before the call;
   * `snapbuild` (none with a fixed start point) says which transactions are decoded and emitted.
   */
  // see ReorderBufferAllocate (reorderbuffer.c)
  constructor(
    private readonly options: ReorderBufferOptions,
    private readonly catalog: CatalogView,
    private readonly plugin: OutputPlugin,
    private readonly snapbuild: SnapshotBuilder | undefined,
    private readonly ctx: CallbackContext,
  ) {
    this.spill = options.spill ?? new MemorySpillStore();
    this.memoryLimit = options.memoryLimit ?? DEFAULT_MEMORY_LIMIT;
    // Shared chunks no queued change is in any more go to the pool too, for the next shared chunk or any queue.
    this.shared = new ChangeArena(SHARED_CHUNK, SHARED_CHUNK, this.pool);
  }

  /** With a snapshot builder: the LSN decoding became consistent at, once it has. */
  get consistentAt(): Lsn | undefined {
    return this.snapbuild === undefined ? (this.options.startAt as Lsn) : this.snapbuild.consistentAt;
  }

  /** Bytes of queued changes in memory now, counted as the server counts them (rb->size). */
  get memoryUsed(): number {
    return this.size;
  }

  /** Shared chunks allocated (not reused) so far. */
  get sharedChunksAllocated(): number {
    return this.shared.allocated;
  }

  /** Bytes of chunks spilled transactions gave back, kept for the next changes: at most the limit less memoryUsed. */
  get memoryPooled(): number {
    return this.pool.bytes;
  }

  /**
   * Where decoding can restart without losing a change of a transaction still open: the first LSN of the oldest
   * one that has changes, or `after` (the end of what was read) when none is open.
   */
  restartPoint(after: Lsn): Lsn {
    let min = after;
    for (const t of this.txns.values()) if (t.hasBase && t.firstLsn < min) min = t.firstLsn;
    return min;
  }

  /** Ends decoding: spill files are removed (ReorderBufferFree). */
  close(): void {
    this.spill.close();
  }

  /** Whether changes of `xid` are queued (SnapBuildProcessChange). */
  private decodes(xid: number): boolean {
    return this.snapbuild === undefined || this.snapbuild.decodesChangesOf(xid);
  }

  /** SnapBuildXactNeedsSkip, inverted: whether a transaction ending at `lsn` is emitted. */
  emits(lsn: Lsn): boolean {
    const at = this.consistentAt;
    return at !== undefined && lsn >= at;
  }

  /** Two-phase decoding is on (ctx->twophase): a two_phase_at and a plugin with prepare callbacks. */
  get twoPhase(): boolean {
    return this.options.twoPhaseAt !== undefined && this.plugin.prepare !== undefined;
  }

  private topOf(xid: number): number {
    return this.parent.get(xid) ?? xid;
  }

  /** ReorderBufferTXNByXid(create): the queue of `xid`, made with `lsn` as its first LSN. */
  private txnFor(xid: number, lsn: Lsn): TxnState {
    // A record's xid is looked up several times over (its header, its change, its arena): the last one is kept.
    const last = this.lastTxn;
    if (last !== undefined && last.xid === xid) return last;
    let t = this.txns.get(xid);
    if (t === undefined) {
      t = this.freeTxns.pop();
      if (t === undefined) {
        t = { xid, firstLsn: lsn, changes: [], changesUsed: 0, sharedFrom: -1, own: undefined, size: 0, spilled: false, hasBase: false, streamed: false, partial: false, streamable: false, baseLsn: undefined, origin: undefined, prepare: undefined };
      } else {
        // A state an ended transaction left (its changes cleared when it was dropped).
        t.xid = xid;
        t.firstLsn = lsn;
        t.sharedFrom = -1;
        t.size = 0;
        t.spilled = false;
        t.hasBase = false;
        t.streamed = false;
        t.partial = false;
        t.streamable = false;
        t.baseLsn = undefined;
        t.origin = undefined;
      }
      this.txns.set(xid, t);
    }
    this.lastTxn = t;
    return t;
  }

  /** The transaction txnFor returned last, while it is in `txns`. */
  private lastTxn: TxnState | undefined;
  /** States of dropped transactions, for txnFor to reuse (no object and no changes array per transaction). */
  private readonly freeTxns: TxnState[] = [];

  // see ReorderBufferProcessXid and ReorderBufferAssignChild: the top-level transaction starts at its first record
  processXid(xid: number, toplevelXid: number, lsn: Lsn, origin: number): void {
    let top: TxnState | undefined;
    if (toplevelXid !== 0) {
      this.parent.set(xid, toplevelXid);
      top = this.txnFor(toplevelXid, lsn);
    }
    const t = this.txnFor(xid, lsn);
    // The replication origin a streamed block announces before the commit record says it.
    if (origin !== 0) (top ?? t).origin = origin;
  }

  /** An XACT_ASSIGNMENT record: these subtransactions belong to `top` (ReorderBufferAssignChild). */
  assignChildren(top: number, subxacts: readonly number[], lsn: Lsn): void {
    for (const sub of subxacts) {
      this.parent.set(sub, top);
      this.txnFor(top, lsn);
    }
  }

  /**
   * At a commit record, before it is decoded or skipped: its subtransactions become the xid's
   * (ReorderBufferCommitChild), and the schema changes the catalog reported for it (it saw the record first) are
   * taken to go out with it, or to be dropped with it.
   */
  commitChildren(xid: number, subxacts: readonly number[]): void {
    for (const s of subxacts) this.parent.set(s, xid);
    const ddl = this.schemaChanges.length === 0 ? NO_SCHEMA_CHANGES : this.schemaChanges.filter((e) => e.xid === xid);
    if (ddl.length > 0) this.schemaChanges = this.schemaChanges.filter((e) => e.xid !== xid);
    this.ddlOfCommit = ddl;
  }

  /** A schema change a catalog that follows DDL reported at its commit: held until that transaction is emitted. */
  addSchemaChange(e: SchemaChange): void {
    this.schemaChanges.push(e);
  }

  /** ReorderBufferAbortOld: transactions older than the oldest running one crashed; forget them. */
  abortOld(oldestRunningXid: number): void {
    for (const t of [...this.txns.values()]) {
      if (xidPrecedes(t.xid, oldestRunningXid) && t.prepare === undefined) this.forget(t.xid);
    }
  }

  /**
   * A record with nothing to replay gave `xid` its base snapshot (heap_decode's XLOG_HEAP_INPLACE): the transaction
   * is emitted at its commit, empty, as the server's is.
   */
  // see SnapBuildProcessChange (snapbuild.c)
  baseSnapshot(xid: number, lsn: Lsn): void {
    const top = this.topOf(xid);
    if (!this.decodes(top)) return;
    this.txnFor(xid, lsn).hasBase = true;
    this.txnFor(top, lsn).baseLsn ??= lsn;
  }

  /** Queues an encoded change under `xid` (if its transaction is decoded) and keeps memory under the limit. */
  // see ReorderBufferQueueChange and ReorderBufferProcessPartialChange (reorderbuffer.c)
  queue(xid: number, lsn: Lsn, change: Uint8Array): void {
    this.queueAt(xid, lsn, change, 0, change.length);
  }

  /**
   * A row change from a record's bytes (see encodeRowChange): encoded into the shared arena by offset, unless the
   * transaction has a queue of its own or the change is large (then as encodeRowChange with arenaOf does).
   */
  queueRowChange(xid: number, lsn: Lsn, kind: number, flags: number, tablespace: number, relfilenode: number, src: Uint8Array, newAt: number, newLength: number, oldAt: number, oldLength: number): void {
    const n = rowChangeLength(newAt, newLength, oldAt, oldLength);
    const t = this.lastTxn?.xid === xid ? this.lastTxn : this.txns.get(xid);
    if (t === undefined || t.own !== undefined || n > SHARED_PLACED_MAX) {
      this.queue(xid, lsn, encodeRowChange(kind, flags, lsn, tablespace, relfilenode, src, newAt, newLength, oldAt, oldLength, this.arenaOf(xid)));
      return;
    }
    if (t.sharedFrom < 0) t.sharedFrom = this.shared.chunkNo;
    const at = this.shared.reserve(n);
    const buf = this.shared.buf;
    putRowChange(buf, this.shared.view, at, kind, flags, lsn, tablespace, relfilenode, src, newAt, newLength, oldAt, oldLength);
    // serverChangeSize of it, from the lengths at hand: a tuple's t_len is its data (the length less xl_heap_header's 5) plus the header.
    const tuple = SIZEOF_HEAP_TUPLE_DATA + SIZEOF_HEAP_TUPLE_HEADER - 5;
    this.queueAt(xid, lsn, buf, at, n, SIZEOF_REORDER_BUFFER_CHANGE + (newAt < 0 ? 0 : tuple + newLength) + (oldAt < 0 ? 0 : tuple + oldLength));
  }

  /** Queues the change of `length` bytes at `at` of `buf`; `size` is its serverChangeSize when the caller knows it. */
  private queueAt(xid: number, lsn: Lsn, buf: Uint8Array, at: number, length: number, size = serverChangeSize(buf, at)): void {
    const topXid = this.topOf(xid);
    if (!this.decodes(topXid)) return;
    const t = this.txnFor(xid, lsn);
    const top = topXid === xid ? t : this.txnFor(topXid, lsn);
    const kind = buf[at]!;
    if (kind === CHANGE_INTERNAL) {
      // Internal changes give no base snapshot and make nothing to stream.
    } else {
      if (kind !== CHANGE_SPEC_CONFIRM && kind !== CHANGE_SPEC_ABORT) top.streamable = true;
      t.hasBase = true;
      top.baseLsn ??= lsn;
    }
    if (t.own !== undefined) t.own.push(at === 0 && length === buf.length ? buf : buf.subarray(at, at + length));
    else {
      const c = t.changes;
      const i = t.changesUsed;
      if (i < c.length) {
        c[i] = buf;
        c[i + 1] = at;
        c[i + 2] = length;
      } else c.push(buf, at, length);
      t.changesUsed = i + 3;
    }
    if (this.shared.chunkNo !== this.sharedChunkSeen) {
      this.sharedChunkSeen = this.shared.chunkNo;
      this.rehomeOldChanges();
    }
    t.size += size;
    const flags = buf[at + 1]!;
    if (kind === CHANGE_INSERT && flags & CF_TOAST_INSERT) top.partial = true;
    else if (top.partial && (kind === CHANGE_INSERT || kind === CHANGE_UPDATE) && flags & CF_CLEAR_TOAST) top.partial = false;
    if (kind === CHANGE_SPEC_INSERT) top.partial = true;
    else if (top.partial && (kind === CHANGE_SPEC_CONFIRM || kind === CHANGE_SPEC_ABORT)) top.partial = false;
    this.counted(t, top, size);
  }

  /**
   * A change the server queues for the transaction's own replay but no plugin sees (a new command id, a command's
   * invalidation messages, a catalog snapshot handed out at another's commit): only its size is kept, so that the
   * memory limit is reached at the same change as the server's.
   */
  // see ReorderBufferAddNewCommandId, ReorderBufferAddInvalidations and ReorderBufferAddSnapshot (reorderbuffer.c)
  queueInternal(xid: number, lsn: Lsn, size: number, catalogChange = true): void {
    if (catalogChange) this.catalogChanges.add(xid);
    this.queue(xid, lsn, encodeInternal(lsn, size));
  }

  /** A commit with invalidation messages changed the catalog (ReorderBufferXidSetCatalogChanges). */
  catalogChanged(xid: number): void {
    this.catalogChanges.add(xid);
  }

  /** XLOG_XACT_INVALIDATIONS: queued, and kept under the top-level transaction (txn->invalidations). */
  // see ReorderBufferAddInvalidations (reorderbuffer.c)
  queueInvalidations(xid: number, lsn: Lsn, nmsgs: number): void {
    const top = this.topOf(xid);
    this.invalidationCounts.set(top, (this.invalidationCounts.get(top) ?? 0) + nmsgs);
    this.queueInternal(xid, lsn, SIZEOF_REORDER_BUFFER_CHANGE + SIZEOF_SHARED_INVALIDATION_MESSAGE * nmsgs);
  }

  /**
   * The commit of `xid` with its subtransactions (or COMMIT PREPARED) at `lsn`: if it changed the catalog, every
   * transaction in progress with a base snapshot, the committing one too, gets the new catalog snapshot queued,
   * sizeof(SnapshotData) and its committed xids counted.
   */
  // see SnapBuildCommitTxn and SnapBuildDistributeNewCatalogSnapshot (snapbuild.c)
  committedCatalog(xid: number, subxacts: readonly number[], lsn: Lsn, snapshotDataSize: number): void {
    let changed = false;
    for (const s of subxacts) {
      if (this.catalogChanges.delete(s)) {
        this.committedCatalogXids.push(s);
        changed = true;
      }
    }
    if (this.catalogChanges.delete(xid) || changed) {
      this.committedCatalogXids.push(xid);
      changed = true;
    }
    // Before a full snapshot none is handed out.
    if (!changed || (this.snapbuild !== undefined && this.snapbuild.state < SNAPBUILD_FULL_SNAPSHOT)) return;
    const size = SIZEOF_REORDER_BUFFER_CHANGE + snapshotDataSize + 4 * this.committedCatalogXids.length;
    // The others also get the committing transaction's invalidations (distributed, as of 15.13, 16.9, 17.5, 18).
    const nmsgs = this.invalidationCounts.get(xid) ?? 0;
    for (const t of [...this.txns.values()]) {
      // The committing transaction is given its base snapshot here if it had none.
      if (this.parent.has(t.xid) || t.prepare !== undefined || (t.xid !== xid && !this.anyHasBase(this.members(t.xid, [])))) continue;
      this.queueInternal(t.xid, lsn, size, false);
      if (t.xid !== xid && nmsgs > 0) this.queueInternal(t.xid, lsn, SIZEOF_REORDER_BUFFER_CHANGE + SIZEOF_SHARED_INVALIDATION_MESSAGE * nmsgs, false);
    }
  }

  /** SnapBuildPurgeOlderTxn: committed catalog xids older than the oldest running one leave the snapshot. */
  purgeCommittedCatalog(oldestRunningXid: number): void {
    if (this.committedCatalogXids.length > 0) this.committedCatalogXids = this.committedCatalogXids.filter((x) => !xidPrecedes(x, oldestRunningXid));
  }

  // see ReorderBufferChangeMemoryUpdate, the end of ReorderBufferProcessPartialChange and ReorderBufferCheckMemoryLimit
  private counted(t: TxnState, top: TxnState, size: number): void {
    this.size += size;
    // A transaction spilled while it could not be streamed is streamed as soon as its changes are whole again.
    if (this.canStartStreaming() && !top.partial && t.spilled && top.streamable) this.stream(top);
    // Chunks pooled for reuse count too: over the limit, the pool gives way first.
    if (this.size + this.pool.bytes >= this.memoryLimit || (this.memoryLimit === 0 && this.size > 0)) this.reduceMemory();
  }

  private canStartStreaming(): boolean {
    return this.options.streaming === true && this.plugin.streamStart !== undefined && this.consistentAt !== undefined && this.emits(this.recordLsn);
  }

  /** The size of a top-level transaction with its known subtransactions (total_size). */
  private totalSize(top: TxnState): number {
    let n = top.size;
    for (const [sub, parent] of this.parent) if (parent === top.xid) n += this.txns.get(sub)?.size ?? 0;
    return n;
  }

  // see ReorderBufferCheckMemoryLimit: stream the largest streamable top-level transaction, else spill the largest queue
  private reduceMemory(): void {
    this.pool.trim(this.memoryLimit - this.size - 1);
    while (this.size >= this.memoryLimit || (this.memoryLimit === 0 && this.size > 0)) {
      let top: TxnState | undefined;
      if (this.canStartStreaming()) {
        let topSize = 0;
        for (const t of this.txns.values()) {
          if (this.parent.has(t.xid) || t.partial || !t.streamable) continue;
          const n = this.totalSize(t);
          // Of equal sizes, the first in txns_by_base_snapshot_lsn: the earliest base snapshot.
          if (n > 0 && (top === undefined || n > topSize || (n === topSize && (t.baseLsn ?? Infinity) < (top.baseLsn ?? Infinity)))) {
            top = t;
            topSize = n;
          }
        }
      }
      if (top !== undefined) {
        this.stream(top);
        continue;
      }
      let largest: TxnState | undefined;
      for (const t of this.txns.values()) if (t.size > 0 && (largest === undefined || t.size > largest.size)) largest = t;
      if (largest === undefined) return;
      this.serialize(largest);
    }
  }

  // see ReorderBufferSerializeTXN: the queued changes of `t` go to its spill file
  private serialize(t: TxnState): void {
    if (t.own !== undefined) this.spill.writeFrames(t.xid, t.own.frames());
    else {
      // A spill store may keep the views it is given (MemorySpillStore does).
      if (t.sharedFrom >= 0) this.sharedPinned = this.shared.chunkNo;
      this.spill.write(t.xid, changeViews(t));
    }
    this.size -= t.size;
    t.size = 0;
    clearChanges(t);
    // Its next changes go to its own queue, into the chunks just written out (no plugin saw them): a large
    // transaction reuses the same memory spill after spill instead of leaving it to the garbage collector.
    (t.own ??= new ChangeQueue(this.pool)).clear(this.memoryLimit - this.size - 1);
    t.sharedFrom = -1;
    t.spilled = true;
    this.spills++;
  }

  /** Empties the queues of `members` after their changes went to the plugin (ReorderBufferTruncateTXN). */
  private truncate(members: readonly number[]): void {
    for (const x of members) {
      const t = this.txns.get(x);
      if (t === undefined) continue;
      this.size -= t.size;
      if (t.spilled) this.spill.remove(x);
      clearChanges(t);
      t.own = undefined;
      t.sharedFrom = -1;
      t.size = 0;
      t.spilled = false;
    }
  }

  // see ReorderBufferStreamTXN: the queued changes of a top-level transaction go out as one streamed block
  private stream(top: TxnState): void {
    const members = this.members(top.xid, []);
    const txn: ReorderTxn = { xid: top.xid, firstLsn: top.firstLsn, finalLsn: 0, endLsn: 0, commitTime: 0n, originId: top.origin ?? 0, streamed: true };
    for (const x of members) {
      const t = this.txns.get(x);
      if (t !== undefined && (x === top.xid || t.size > 0 || t.spilled)) t.streamed = true;
    }
    this.replay(top.xid, members, txn, 'stream');
    this.truncate(members);
  }

  private dropQueue(xid: number): void {
    const t = this.txns.get(xid);
    if (t === undefined) return;
    this.size -= t.size;
    if (t.spilled) this.spill.remove(xid);
    this.txns.delete(xid);
    if (this.lastTxn === t) this.lastTxn = undefined;
    if (this.freeTxns.length < TXN_POOL) {
      // Kept for reuse: what it referred to is let go now (its xid stays until reused: a caller iterating over a
      // copy of the transactions may still read it, and finds it gone from `txns`).
      clearChanges(t);
      t.own = undefined;
      t.prepare = undefined;
      this.freeTxns.push(t);
    }
  }

  /** Drops a transaction with its subtransactions, queued changes and spill files. */
  forget(xid: number, subxacts: readonly number[] = []): void {
    this.forgetMembers(this.members(xid, subxacts));
  }

  private forgetMembers(members: readonly number[]): void {
    for (const x of members) {
      this.catalogChanges.delete(x);
      this.invalidationCounts.delete(x);
      this.dropQueue(x);
      this.parent.delete(x);
    }
  }

  private members(xid: number, subxacts: readonly number[]): number[] {
    const members = [xid, ...subxacts];
    for (const [sub, top] of this.parent) if (top === xid && !members.includes(sub)) members.push(sub);
    return members;
  }


  /** The arena `xid`'s next change is encoded into (ReorderBufferAllocChange; its TxnState exists: processXid made it). */
  arenaOf(xid: number): ChangeAllocator | undefined {
    const t = this.lastTxn?.xid === xid ? this.lastTxn : this.txns.get(xid);
    if (t === undefined) return undefined;
    if (t.own !== undefined) return t.own;
    if (t.sharedFrom < 0) t.sharedFrom = this.shared.chunkNo;
    return this.shared;
  }

  /**
   * Moves the changes of transactions open for more than SHARED_CHUNKS_HELD shared chunks to queues of their own;
   * the shared chunks before the first one a queue still refers to are then released for reuse.
   */
  private rehomeOldChanges(): void {
    const oldest = this.shared.chunkNo - SHARED_CHUNKS_HELD;
    let inUse = this.shared.chunkNo;
    for (const t of this.txns.values()) {
      if (t.sharedFrom < 0) continue;
      if (t.sharedFrom > oldest) {
        if (t.sharedFrom < inUse) inUse = t.sharedFrom;
        continue;
      }
      const own = new ChangeQueue(this.pool);
      for (const c of changeViews(t)) own.push(c);
      clearChanges(t);
      t.own = own;
      t.sharedFrom = -1;
    }
    this.shared.release(inUse, this.sharedPinned, this.memoryLimit - this.size - 1);
  }

  /** The stored change passed to a plugin with transientRowChanges, refilled for each. */
  private storedRow: StoredRowChange | undefined = undefined;

  /** The catalog point of the change being replayed (reused: read during the calls it is passed to only). */
  private readonly replayPoint: CatalogPoint = { lsn: 0, xid: 0 };

  // see ReorderBufferQueueMessage: a transactional message is queued as a change; another goes out at once, outside any transaction
  queueMessage(xid: number, lsn: Lsn, transactional: boolean, prefix: string, content: Uint8Array): void {
    if (transactional) {
      this.queue(xid, lsn, encodeMessage(lsn, prefix, content));
      return;
    }
    try {
      this.plugin.message(this.ctxAt(lsn, xid, undefined), undefined, { kind: 'message', lsn, transactional: false, prefix, content });
    } catch (e) {
      throw this.valueError(e);
    }
  }

  // see ReorderBufferCommit and ReorderBufferFinishPrepared (reorderbuffer.c); decode.ts has skipped what is not emitted
  commit(xid: number, subxacts: readonly number[], lsn: Lsn, endLsn: Lsn, time: bigint, origin: number, gid: string | undefined, originLsn: Lsn = 0): void {
    const top = this.txns.get(xid);
    const prepare = top?.prepare;
    if (top === undefined) {
      this.forget(xid, subxacts);
      return;
    }
    const members = this.members(xid, subxacts);
    if (!this.anyHasBase(members)) {
      this.forgetMembers(members);
      return;
    }
    if (gid !== undefined && this.twoPhase && prepare !== undefined) {
      // Decoded at PREPARE already, unless it was prepared before two_phase_at: then now, as a prepare.
      if (prepare.lsn < this.options.twoPhaseAt!) this.replay(xid, members, this.prepareTxn(xid, top, prepare), 'prepare');
      const txn: ReorderTxn = { xid, firstLsn: top.firstLsn, finalLsn: lsn, endLsn, commitTime: time, originId: origin, originLsn, gid };
      this.plugin.commitPrepared?.(this.ctxAt(endLsn, xid, undefined), txn);
      this.lastCommitEnd = endLsn;
      this.forgetMembers(members);
      return;
    }
    const txn: ReorderTxn = { xid, firstLsn: top.firstLsn, finalLsn: lsn, endLsn, commitTime: time, originId: origin, originLsn };
    if (top.streamed) {
      // see ReorderBufferStreamCommit: what is still queued goes out as a last block, then the commit
      this.stream(top);
      for (const e of this.ddlOfCommit) this.plugin.ddl!(this.ctxAt(e.lsn, xid, undefined), txn, e);
      this.plugin.streamCommit?.(this.ctxAt(endLsn, xid, undefined), { ...txn, streamed: true });
    } else {
      this.replay(xid, members, txn, 'commit');
    }
    this.lastCommitEnd = endLsn;
    this.forgetMembers(members);
  }

  /** Whether any of these (sub)transactions queued a change. */
  private anyHasBase(members: readonly number[]): boolean {
    for (const x of members) if (this.txns.get(x)?.hasBase === true) return true;
    return false;
  }

  private prepareTxn(xid: number, top: TxnState, p: NonNullable<TxnState['prepare']>): ReorderTxn {
    return { xid, firstLsn: top.firstLsn, finalLsn: p.lsn, endLsn: p.endLsn, commitTime: p.time, originId: p.origin, originLsn: p.originLsn, gid: p.gid };
  }

  /**
   * A PREPARE record: its subtransactions become the xid's, and where, when and with which GID it was prepared is
   * kept for COMMIT / ROLLBACK PREPARED. False when the transaction is not known (nothing of it was decoded).
   */
  // see ReorderBufferRememberPrepareInfo (reorderbuffer.c)
  rememberPrepareInfo(xid: number, subxacts: number[], gid: string, lsn: Lsn, endLsn: Lsn, time: bigint, origin: number, originLsn: Lsn): boolean {
    for (const s of subxacts) this.parent.set(s, xid);
    const top = this.txns.get(xid);
    if (top === undefined) return false;
    top.prepare = { gid, lsn, endLsn, time, origin, originLsn, subxacts };
    return true;
  }

  // see ReorderBufferPrepare (reorderbuffer.c): decode.ts has checked that it is decoded at PREPARE
  prepare(xid: number, subxacts: readonly number[]): void {
    const top = this.txns.get(xid);
    if (top?.prepare === undefined) return;
    const members = this.members(xid, subxacts);
    if (!members.some((x) => this.txns.get(x)?.hasBase === true)) return;
    const txn = this.prepareTxn(xid, top, top.prepare);
    if (top.streamed) {
      this.stream(top);
      this.plugin.streamPrepare?.(this.ctxAt(txn.endLsn, xid, undefined), { ...txn, streamed: true });
    } else {
      this.replay(xid, members, txn, 'prepare');
    }
    // The changes went out; COMMIT / ROLLBACK PREPARED only need the transaction's identity now.
    this.truncate(members);
  }

  // see ReorderBufferFinishPrepared (reorderbuffer.c), for ROLLBACK PREPARED
  rollbackPrepared(xid: number, subxacts: readonly number[], lsn: Lsn, endLsn: Lsn, time: bigint, origin: number, gid: string): void {
    const top = this.txns.get(xid);
    const members = this.members(xid, subxacts);
    if (top !== undefined && members.some((x) => this.txns.get(x)?.hasBase === true)) {
      const txn: ReorderTxn = { xid, firstLsn: top.firstLsn, finalLsn: lsn, endLsn, commitTime: time, originId: origin, gid, prepareEndLsn: top.prepare?.endLsn, prepareTime: top.prepare?.time };
      this.plugin.rollbackPrepared?.(this.ctxAt(endLsn, xid, undefined), txn);
      this.lastCommitEnd = endLsn;
    }
    this.forget(xid, subxacts);
  }

  // see ReorderBufferAbort: a (sub)transaction that was streamed is aborted downstream too, subxacts first
  abort(xid: number, subxacts: readonly number[], lsn: Lsn, endLsn: Lsn, time: bigint, origin: number): void {
    for (const x of [...subxacts, xid]) {
      const t = this.txns.get(x);
      if (t?.streamed !== true) continue;
      const top = this.txns.get(this.topOf(x)) ?? t;
      const aborted: ReorderTxn = { xid: x, firstLsn: t.firstLsn, finalLsn: lsn, endLsn, commitTime: time, originId: origin, streamed: true };
      this.plugin.streamAbort?.(this.ctxAt(endLsn, x, undefined), aborted, endLsn, top.xid);
    }
    this.forget(xid, subxacts);
  }

  /** The (sub)transaction whose queue the change being replayed came from (OutputContext.changeXid). */
  private replayChangeXid = 0;

  /** The context for a plugin callback, with the row location and xid the server's wrapper sets for it. */
  private ctxAt(lsn: Lsn, xid: number, at: CatalogPoint | undefined): OutputContext {
    const ctx = this.ctx;
    ctx.lsn = lsn;
    ctx.xid = xid;
    ctx.at = at;
    ctx.changeXid = this.replayChangeXid;
    return ctx;
  }

  /**
   * Values read past their bytes (a datum that lies about its length) surface as RangeErrors from typed arrays:
   * a typed error at the change whose callback was running (the context's location).
   */
  private valueError(e: unknown): unknown {
    if (e instanceof RangeError) {
      const lsn = this.ctx.lsn;
      return new WalFormatError('invalid-datum', `a value of the change at ${formatLsn(lsn)} is malformed: ${e.message}`, { lsn });
    }
    return e;
  }

  /** The changes of a transaction and its subtransactions, merged by LSN (spilled ones read back first). */
  private merged(members: readonly number[]): Iterable<Uint8Array> | TxnState {
    // The common case, one queue all in memory: the queue itself (a transaction's own, or its changes by offset).
    let only: TxnState | undefined;
    let queues = 0;
    for (const x of members) {
      const t = this.txns.get(x);
      if (t === undefined || ((t.own?.length ?? t.changesUsed) === 0 && !t.spilled)) continue;
      only = t;
      queues++;
    }
    if (queues === 0) return NO_CHANGES;
    this.replayChangeXid = only!.xid;
    if (queues === 1 && !only!.spilled) return only!.own ?? only!;
    // see ReorderBufferIterTXNInit: what a spilled (sub)transaction still holds in memory is spilled too, so that
    // reading it back holds only the read buffers; the chunks kept for its next spill are not needed any more.
    for (const x of members) {
      const t = this.txns.get(x);
      if (t !== undefined && t.spilled && (t.own?.length ?? t.changesUsed) > 0) this.serialize(t);
    }
    this.pool.trim(0);
    return this.mergedQueues(members);
  }

  private *mergedQueues(members: readonly number[]): Generator<Uint8Array> {
    const heads: { it: Iterator<Uint8Array>; cur: Uint8Array; lsn: Lsn; xid: number }[] = [];
    for (const x of members) {
      const t = this.txns.get(x);
      if (t === undefined) continue;
      const it = (function* (spill: SpillStore, spilled: boolean, mem: Iterable<Uint8Array>): Generator<Uint8Array> {
        if (spilled) yield* spill.read(x);
        yield* mem;
      })(this.spill, t.spilled, t.own ?? changeViews(t));
      const first = it.next();
      if (!first.done) heads.push({ it, cur: first.value, lsn: changeLsn(first.value), xid: x });
    }
    // Few members as a rule; a linear pick keeps equal LSNs (one multi-insert) in queue order.
    while (heads.length > 0) {
      let k = 0;
      for (let i = 1; i < heads.length; i++) if (heads[i]!.lsn < heads[k]!.lsn) k = i;
      const h = heads[k]!;
      this.replayChangeXid = h.xid;
      yield h.cur;
      const n = h.it.next();
      if (n.done) heads.splice(k, 1);
      else {
        h.cur = n.value;
        h.lsn = changeLsn(n.value);
      }
    }
  }

  // see ReorderBufferProcessTXN (reorderbuffer.c)
  private replay(xid: number, members: readonly number[], txn: ReorderTxn, end: 'commit' | 'prepare' | 'stream'): void {
    try {
      this.replayChanges(xid, members, txn, end);
    } catch (e) {
      throw this.valueError(e);
    }
  }

  private replayChanges(xid: number, members: readonly number[], txn: ReorderTxn, end: 'commit' | 'prepare' | 'stream'): void {
    const plugin = this.plugin;
    const streaming = end === 'stream';
    if (end === 'prepare') plugin.beginPrepare!(this.ctxAt(txn.firstLsn, xid, undefined), txn);
    else if (end === 'commit') plugin.begin(this.ctxAt(txn.firstLsn, xid, undefined), txn);
    const r: ReplayState = { xid, txn, streaming, transient: plugin.transientRowChanges === true, lastLsn: undefined, toast: undefined, spec: undefined, specAt: 0 };
    if (!r.transient) this.sharedPinned = this.shared.chunkNo;
    const src = this.merged(members);
    if (isTxnState(src)) {
      // Changes kept by offset in shared chunks: read in place, no view per change.
      const c = src.changes;
      const n = src.changesUsed;
      for (let i = 0; i < n; i += 3) this.replayChange(r, c[i] as Uint8Array, c[i + 1] as number, c[i + 2] as number);
    } else {
      for (const c of src) this.replayChange(r, c, 0, c.length);
    }
    const lastLsn = r.lastLsn;
    if (end === 'prepare') plugin.prepare!(this.ctxAt(txn.endLsn, xid, undefined), txn);
    else if (end === 'commit') {
      for (const e of this.ddlOfCommit) plugin.ddl!(this.ctxAt(e.lsn, xid, undefined), txn, e);
      plugin.commit(this.ctxAt(txn.endLsn, xid, undefined), txn);
    }
    else if (lastLsn !== undefined) plugin.streamStop!(this.ctxAt(lastLsn, xid, undefined), txn);
  }

  /** One change of a transaction's replay: `length` bytes of `buf` from `base`. */
  private replayChange(r: ReplayState, buf: Uint8Array, base: number, length: number): void {
    const kind = buf[base]!;
    if ((base !== 0 || length !== buf.length) && (kind === CHANGE_TRUNCATE || kind === CHANGE_MESSAGE || (kind <= CHANGE_SPEC_INSERT && (buf[base + 1]! & CF_OLD_WANTED) !== 0))) {
      // These are read to their end (a truncate's relations, a message, old-rows' TOAST values): a view of their own.
      buf = buf.subarray(base, base + length);
      base = 0;
    }
    const { xid, txn, streaming } = r;
    const plugin = this.plugin;
    const lsn = changeLsn(buf, base);
    const at = this.replayPoint;
    at.lsn = lsn;
    at.xid = xid;
    if (streaming && r.lastLsn === undefined) plugin.streamStart!(this.ctxAt(lsn, xid, undefined), txn);
    r.lastLsn = lsn;
    switch (kind) {
      case CHANGE_INSERT:
      case CHANGE_UPDATE:
      case CHANGE_DELETE:
      case CHANGE_SPEC_INSERT:
      case CHANGE_SPEC_CONFIRM: {
        let change = buf;
        let cat = base;
        if (kind === CHANGE_SPEC_CONFIRM) {
          if (r.spec === undefined) throw new WalFormatError('invalid-change-order', `speculative insertion confirmed at ${formatLsn(lsn)} without a pending insertion`, { lsn });
          change = r.spec;
          cat = r.specAt;
        }
        // A confirmed speculative insertion is the insertion's change: its kind, flags, LSN and tuples.
        const rKind = change[cat]!;
        const rLsn = kind !== CHANGE_SPEC_CONFIRM ? lsn : changeLsn(change, cat);
        const newAt = rowNewTupleAt(change, cat);
        const oldAt = rowOldTupleAt(change, cat);
        const rel = this.catalog.relationByFilenode(rowTablespace(change, cat), rowRelfilenode(change, cat), at);
        if (kind === CHANGE_SPEC_INSERT) {
          r.spec = rel !== undefined ? change : undefined;
          r.specAt = cat;
        } else if (kind !== CHANGE_SPEC_CONFIRM) r.spec = undefined;
        if (kind === CHANGE_SPEC_INSERT) break;
        if (rel === undefined) {
          this.unknownRelationChanges++;
          break;
        }
        if ((rel.rewriteOf ?? 0) !== 0 && this.options.includeRewrites !== true) break;
        if (rel.kind === 'S') break;
        if (rel.kind === 't') {
          if (rKind === CHANGE_INSERT || rKind === CHANGE_SPEC_INSERT) this.appendChunk((r.toast ??= new Map()), rel, change, newAt, lsn);
          break;
        }
        const action: RowAction = rKind === CHANGE_DELETE ? 'DELETE' : rKind === CHANGE_UPDATE ? 'UPDATE' : 'INSERT';
        // Tuples stay in the change unless TOAST values of this transaction (or the TOAST cache) replace pointers.
        const cflags = change[cat + 1]!;
        const toast = r.toast;
        const row: RowChange = (toast === undefined || toast.size === 0) && this.toastValues.size === 0 && (cflags & CF_OLD_WANTED) === 0
          ? r.transient
            ? (this.storedRow?.refill(rLsn, action, rel, change, newAt, oldAt) ?? (this.storedRow = new StoredRowChange(rLsn, action, rel, change, newAt, oldAt)))
            : new StoredRowChange(rLsn, action, rel, change, newAt, oldAt)
          : {
          kind: 'row',
          lsn: rLsn,
          action,
          relation: rel,
          newTuple: newAt >= 0 ? this.fillToast(reassemble(this.deform(change, newAt, rel, lsn), toast, lsn, this.remember)) : undefined,
          ...this.oldValues(change, cflags, oldAt, rel, lsn),
        };
        if (streaming) plugin.streamChange!(this.ctxAt(rLsn, xid, at), txn, row);
        else plugin.change(this.ctxAt(rLsn, xid, at), txn, row);
        if (cflags & CF_CLEAR_TOAST) toast?.clear();
        if (kind === CHANGE_SPEC_CONFIRM) r.spec = undefined;
        break;
      }
      case CHANGE_SPEC_ABORT:
        if (r.spec !== undefined) {
          r.toast?.clear();
          r.spec = undefined;
        }
        break;
      case CHANGE_TRUNCATE: {
        const t = decodeTruncate(buf);
        const relations: DecoderRelation[] = [];
        for (const oid of t.relids) {
          const rel = this.catalog.relationByOid(oid, at);
          if (rel !== undefined) relations.push(rel);
          else this.unknownRelationChanges++;
        }
        if (relations.length === 0) break;
        const tc: TruncateChange = { kind: 'truncate', lsn, relations, cascade: (t.flags & 0x01) !== 0, restartSeqs: (t.flags & 0x02) !== 0 };
        if (streaming) plugin.streamTruncate!(this.ctxAt(lsn, xid, at), txn, tc);
        else plugin.truncate(this.ctxAt(lsn, xid, at), txn, tc);
        break;
      }
      case CHANGE_INTERNAL:
        break;
      case CHANGE_MESSAGE: {
        const m = decodeMessage(buf);
        const mc: MessageChange = { kind: 'message', lsn: m.lsn, transactional: true, prefix: m.prefix, content: m.content };
        if (streaming) plugin.streamMessage!(this.ctxAt(m.lsn, xid, at), txn, mc);
        else plugin.message(this.ctxAt(m.lsn, xid, at), txn, mc);
        break;
      }
      default:
        throw new WalFormatError('invalid-change', `unknown queued change kind ${kind} at ${formatLsn(lsn)}`, { lsn });
    }
  }

  /** Remembers a reassembled TOAST value for later unchanged columns (when toastCache is on). */
  private readonly remember = (toastRelId: number, valueId: number, bytes: Uint8Array): void => {
    const max = this.options.toastCache ?? 0;
    if (max <= 0 || bytes.length > max) return;
    const key = `${toastRelId}:${valueId}`;
    const old = this.toastValues.get(key);
    if (old !== undefined) {
      this.toastValueBytes -= old.length;
      this.toastValues.delete(key);
    }
    this.toastValues.set(key, bytes);
    this.toastValueBytes += bytes.length;
    for (const [k, v] of this.toastValues) {
      if (this.toastValueBytes <= max) break;
      this.toastValues.delete(k);
      this.toastValueBytes -= v.length;
    }
  };

  /** Fills unchanged TOAST columns from values seen earlier in the range (toastCache). */
  private fillToast(values: RawValue[]): RawValue[] {
    if (this.toastValues.size === 0 || !values.some((v) => v.kind === 'toast')) return values;
    return values.map((v) => {
      if (v.kind !== 'toast') return v;
      const bytes = this.toastValues.get(`${v.toastRelId}:${v.valueId}`);
      return bytes === undefined ? v : { kind: 'bytes', bytes };
    });
  }

  /** The old tuple, and with old-rows=full the whole old row (its TOAST values filled from those it carries). */
  private oldValues(c: Uint8Array, flags: number, oldAt: number, rel: DecoderRelation, lsn: Lsn): Pick<RowChange, 'oldTuple' | 'oldRow' | 'oldRowComplete'> {
    if (oldAt < 0) return { oldTuple: undefined, ...(flags & CF_OLD_WANTED ? { oldRowComplete: false } : {}) };
    const values = this.deform(c, oldAt, rel, lsn);
    if ((flags & CF_OLD_ROW) === 0) return { oldTuple: values, ...(flags & CF_OLD_WANTED ? { oldRowComplete: false } : {}) };
    const row = this.fillToast(flags & CF_OLD_TOAST ? reassemble(values, oldToastValues(c, oldAt), lsn) : values);
    return { oldTuple: row, oldRow: row, oldRowComplete: !row.some((v) => v.kind === 'toast') };
  }

  /** The values of the tuple at offset `at` of the encoded change `c`. */
  private deform(c: Uint8Array, at: number, rel: DecoderRelation, lsn: Lsn): RawValue[] {
    return deformTupleAt(c, storedDataOffset(at), storedDataLength(c, at), storedInfomask2(c, at), storedInfomask(c, at), storedHoff(c, at), rel.attributes, lsn);
  }

  // see ReorderBufferToastAppendChunk: (chunk_id oid, chunk_seq int4, chunk_data bytea), in order
  private appendChunk(toast: Map<number, Uint8Array[]>, rel: DecoderRelation, c: Uint8Array, tuple: number, lsn: Lsn): void {
    if (tuple < 0) return;
    const [id, seq, data] = this.deform(c, tuple, rel, lsn);
    if (id?.kind !== 'bytes' || seq?.kind !== 'bytes' || data?.kind !== 'bytes') throw new WalFormatError('invalid-toast', `TOAST chunk at ${formatLsn(lsn)} is not (oid, int4, bytea)`, { lsn });
    const valueId = u32le(id.bytes);
    const list = toast.get(valueId) ?? [];
    const n = u32le(seq.bytes) | 0;
    if (n !== list.length) throw new WalFormatError('invalid-toast', `TOAST chunk ${n} of value ${valueId} out of order at ${formatLsn(lsn)}, expected ${list.length}`, { lsn });
    // The chunk's bytes outlive the change they came from only as long as the value is being reassembled.
    list.push(data.bytes);
    toast.set(valueId, list);
  }
}

/** Replaces TOAST pointers whose chunks this transaction logged by the reassembled value (ReorderBufferToastReplace). */
function reassemble(values: RawValue[], toast: Map<number, Uint8Array[]> | undefined, lsn: Lsn, remember?: (toastRelId: number, valueId: number, bytes: Uint8Array) => void): RawValue[] {
  if (toast === undefined || toast.size === 0) return values;
  return values.map((v) => {
    if (v.kind !== 'toast') return v;
    const chunks = toast.get(v.valueId);
    if (chunks === undefined) return v;
    const total = chunks.reduce((n, c) => n + c.length, 0);
    // The pointer says how many bytes are stored (va_extinfo): chunks that add up to another size are not its value.
    if (total !== v.extSize) throw new WalFormatError('invalid-toast', `TOAST value ${v.valueId} at ${formatLsn(lsn)} has ${total} bytes in its chunks, its pointer says ${v.extSize}`, { lsn });
    const data = new Uint8Array(total);
    let o = 0;
    for (const c of chunks) {
      data.set(c, o);
      o += c.length;
    }
    // A compressed external value's stored bytes are va_tcinfo followed by the compressed stream.
    const bytes = v.compressed ? decompressDatum(data, lsn) : data;
    remember?.(v.toastRelId, v.valueId, bytes);
    return { kind: 'bytes', bytes };
  });
}

function u32le(b: Uint8Array): number {
  return (b[0]! | (b[1]! << 8) | (b[2]! << 16)) + b[3]! * 0x1000000;
}
