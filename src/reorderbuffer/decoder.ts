// The decoding context: records in WAL order → snapshot builder, catalog, reorder buffer → an output plugin's
// callbacks in commit order (the server's decode.c + reorderbuffer.c + logical.c wrappers, in one place).
//
//   record ─▶ queue the change, encoded, under its xid ─┬─▶ over the memory limit: spill the largest queue
//                                                       ├─▶ COMMIT: merge the xid and its subxacts by LSN ─▶ plugin
//                                                       ├─▶ PREPARE (two-phase): the same, ending in prepare
//                                                       └─▶ ABORT: drop the xid and its subxacts, spills too
import { u16 } from '../xlogreader/bytes.js';
import type { DecodedRecord, RelFileLocator } from '../xlogreader/record.js';
import {
  parseHeapDelete,
  parseHeapInsert,
  parseHeapTruncate,
  parseHeapUpdate,
  parseMultiInsert,
  SIZE_OF_HEAP_HEADER,
  XLH_DELETE_CONTAINS_OLD_KEY,
  XLH_DELETE_CONTAINS_OLD_TUPLE,
  XLH_DELETE_IS_SUPER,
  XLH_INSERT_CONTAINS_NEW_TUPLE,
  XLH_INSERT_IS_SPECULATIVE,
  XLH_INSERT_LAST_IN_MULTI,
  XLH_INSERT_ON_TOAST_RELATION,
  XLH_UPDATE_CONTAINS_NEW_TUPLE,
  XLH_UPDATE_CONTAINS_OLD_KEY,
  XLH_UPDATE_CONTAINS_OLD_TUPLE,
  XLH_UPDATE_PREFIX_FROM_OLD,
  XLH_UPDATE_SUFFIX_FROM_OLD,
} from '../xlogreader/rmgrdesc/heap-parse.js';
import { BlockZero, readBlockZero } from '../xlogreader/decode-record.js';
import { parseAbort, parseCommit, parsePrepare, parseXactAssignment } from '../xlogreader/rmgrdesc/xact.js';
import { parseRunningXacts } from '../xlogreader/rmgrdesc/standby.js';
import { parseLogicalMessage } from '../xlogreader/rmgrdesc/logicalmsg.js';
import type { Major } from '../xlogreader/profile.js';
import { formatLsn, type Lsn } from '../lsn.js';
import { WalFormatError } from '../errors.js';
import { decompressDatum, deformTupleAt, type RawValue } from './tuple.js';
import { SnapshotBuilder } from './snapbuild.js';
import { StaticCatalog, type CatalogPoint, type CatalogView, type DecoderCatalog, type DecoderRelation, type SchemaChange } from './catalog.js';
import type { MessageChange, OutputContext, OutputPlugin, ReorderTxn, RowAction, RowChange, TruncateChange } from './plugin.js';
import { withOutputTimeZone, type TypeInfo } from './values.js';
import { MemorySpillStore, type SpillStore } from './spill.js';
import { ChangeQueue, ChunkPool } from './queue.js';
import { TestDecodingPlugin, type TestDecodingOptions } from './testdecoding.js';
import {
  CF_CLEAR_TOAST,
  CF_TOAST_INSERT,
  CHANGE_DELETE,
  CHANGE_INSERT,
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
  rowNewTupleAt,
  rowOldTupleAt,
  rowRelfilenode,
  rowTablespace,
  StoredRowChange,
  decodeTruncate,
  encodeMarker,
  encodeMessage,
  encodeRowChange,
  encodeTruncate,
} from './change.js';

export type { DecoderCatalog, DecoderRelation } from './catalog.js';

/** One output row as pg_logical_slot_peek_changes returns it. */
export interface OutputRow {
  lsn: Lsn;
  xid: number;
  /** Text, or bytes from a binary plugin (pgoutput; pg_logical_slot_peek_binary_changes). */
  data: string | Uint8Array;
}

export interface DecoderOptions {
  catalog: CatalogView | DecoderCatalog;
  major: Major;
  plugin: OutputPlugin;
  /**
   * Transactions committing before this LSN are not emitted (the slot's confirmed_flush); or `'snapshot'`:
   * find the consistent point in the WAL with the snapshot builder, as a new slot does, and start there.
   */
  startAt: Lsn | 'snapshot';
  /**
   * Two-phase decoding (a slot created with two_phase): prepared transactions are emitted at PREPARE; those
   * prepared before `twoPhaseAt` (the slot's two_phase_at) are emitted whole at COMMIT PREPARED.
   */
  twoPhaseAt?: Lsn;
  /** logical_decoding_work_mem in bytes (default 64 MiB): above it the largest transaction spills. */
  memoryLimit?: number;
  /** Where spilled changes go (default: memory, which bounds nothing — give a file store to bound memory). */
  spill?: SpillStore;
  /**
   * Stream large in-progress transactions to the plugin's stream callbacks instead of spilling them (the server's
   * streaming, test_decoding's stream-changes). With `memoryLimit: 0` every change is streamed (or spilled, while
   * it cannot be streamed yet) at once, as with debug_logical_replication_streaming = immediate.
   */
  streaming?: boolean;
  /** include-rewrites: emit changes to the transient tables of table rewrites. */
  includeRewrites?: boolean;
  /** Receives each output row; default: appended to `output`. */
  sink?: (row: OutputRow) => void;
  /** The session TimeZone timestamptz values print in (the slot's, as its state recorded it); default UTC. */
  timezone?: string;
  /**
   * Bytes of TOAST values to remember across transactions (default 0: none, as the server). With it, an unchanged
   * TOAST column is filled in when its value was logged earlier in the decoded range; otherwise it stays a
   * `toast` value (test_decoding's `unchanged-toast-datum`).
   */
  toastCache?: number;
}

/**
 * What plugin callbacks write through: like the server's LogicalDecodingContext, one object whose write location
 * is set before each callback (so no context or closure is made per row). Valid during the callback only.
 */
class DecoderContext implements OutputContext {
  lsn: Lsn = 0;
  xid = 0;
  changeXid = 0;
  at: CatalogPoint | undefined = undefined;

  constructor(
    readonly major: number,
    private readonly catalog: CatalogView,
    private readonly sink: (row: OutputRow) => void,
  ) {}

  // Arrow properties: callers may pass ctx.write / ctx.type around unbound.
  readonly write = (data: string | Uint8Array): void => this.sink({ lsn: this.lsn, xid: this.xid, data });
  readonly type = (oid: number): TypeInfo | undefined => this.catalog.type(oid, this.at ?? { lsn: this.lsn, xid: this.xid });
  readonly relation = (oid: number): DecoderRelation | undefined => this.catalog.relationByOid(oid, this.at ?? { lsn: this.lsn, xid: this.xid });
}

const SHARED_CHUNK = 1 << 20;
/** Shared chunks a transaction's changes may stay in before they move to the transaction's own arena. */
const SHARED_CHUNKS_HELD = 8;

/** The server's sizeof(ReorderBufferChange) on 64-bit, counted per change as it does. */
const CHANGE_OVERHEAD = 80;
export const DEFAULT_MEMORY_LIMIT = 64 * 1024 * 1024;

/** A (sub)transaction's queue: ReorderBufferTXN. */
interface TxnState {
  xid: number;
  firstLsn: Lsn;
  /** Changes in memory, after any spilled ones (while it has no queue of its own). */
  changes: Uint8Array[];
  /**
   * Changes are encoded into the decoder's shared arena, from its chunk number `sharedFrom` on (-1: none there);
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
  /** Replication origin of its records (0 or unset: local). */
  origin?: number;
  /** PREPARE seen: where, when, with which GID. */
  prepare?: { gid: string; lsn: Lsn; endLsn: Lsn; time: bigint; origin: number; originLsn: Lsn; subxacts: number[] };
}

/** A commit's schema changes when there are none (most commits): shared, not made per commit. */
const NO_SCHEMA_CHANGES: readonly SchemaChange[] = Object.freeze([]);

const RM_XACT_ID = 1;
const RM_STANDBY_ID = 8;
const RM_HEAP2_ID = 9;
const RM_HEAP_ID = 10;
const RM_LOGICALMSG_ID = 21;
const XACT_XINFO_HAS_ORIGIN = 1 << 5;

const RMGR_NAMES: Record<number, string> = { 1: 'Transaction', 8: 'Standby', 9: 'Heap2', 10: 'Heap', 21: 'LogicalMessage' };
const rmgrName = (id: number): string => RMGR_NAMES[id] ?? `rmgr ${id}`;

const xidPrecedes = (a: number, b: number): boolean => ((a - b) | 0) < 0;

export class LogicalDecoder {
  private readonly txns = new Map<number, TxnState>();
  /** subxact → top-level xid, from record headers, assignment records and commit records. */
  private readonly parent = new Map<number, number>();
  private readonly catalog: CatalogView;
  private readonly snapbuild: SnapshotBuilder | undefined;
  private readonly plugin: OutputPlugin;
  private readonly spill: SpillStore;
  private readonly memoryLimit: number;
  private readonly sink: (row: OutputRow) => void;
  /** Encoded changes of transactions, in 1 MiB chunks (see TxnState.sharedFrom). */
  private readonly shared = new ChangeArena(SHARED_CHUNK, SHARED_CHUNK);
  /** Chunks of spilled queues, for the next changes: at most the limit less what is queued (see reduceMemory). */
  private readonly pool = new ChunkPool();
  private sharedChunkSeen = 0;
  /** One context for every plugin callback, pointed at each callback's row location before the call. */
  private readonly ctx: DecoderContext;
  /** Total bytes of changes in memory (rb->size). */
  private size = 0;
  readonly output: OutputRow[] = [];
  /** The end LSN of the last commit emitted: what a consumer confirms (confirmed_flush). */
  lastCommitEnd: Lsn = 0;
  /** Changes skipped because their relation was not in the catalog (catalog relations, or DDL not followed). */
  unknownRelationChanges = 0;
  /** How many times a transaction was spilled. */
  spills = 0;
  /** Schema changes reported by the catalog, not yet emitted with their transaction. */
  private schemaChanges: SchemaChange[];
  /** The schema changes of the commit being emitted. */
  private ddlOfCommit: readonly SchemaChange[] = NO_SCHEMA_CHANGES;
  /** TOAST values seen in the range, by toast relation and value id, oldest first (a bounded LRU). */
  private readonly toastValues = new Map<string, Uint8Array>();
  private toastValueBytes = 0;

  constructor(private readonly options: DecoderOptions) {
    this.catalog = 'process' in options.catalog ? options.catalog : new StaticCatalog(options.catalog);
    if (options.startAt === 'snapshot') this.snapbuild = new SnapshotBuilder();
    this.plugin = options.plugin;
    this.schemaChanges = [];
    // A catalog that follows DDL reports schema changes at their commit: held until that transaction is emitted.
    if (this.plugin.ddl !== undefined) this.catalog.onDdl = (e) => this.schemaChanges.push(e);
    this.spill = options.spill ?? new MemorySpillStore();
    this.memoryLimit = options.memoryLimit ?? DEFAULT_MEMORY_LIMIT;
    this.sink = options.sink ?? ((row) => this.output.push(row));
    this.ctx = new DecoderContext(options.major, this.catalog, this.sink);
  }

  /** With a snapshot builder: the LSN decoding became consistent at, once it has. */
  get consistentAt(): Lsn | undefined {
    return this.snapbuild === undefined ? (this.options.startAt as Lsn) : this.snapbuild.consistentAt;
  }

  /** Bytes of queued changes in memory now, counted as the server counts them (rb->size). */
  get memoryUsed(): number {
    return this.size;
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

  /** Ends decoding: spill files are removed. */
  close(): void {
    this.spill.close();
  }

  /** Whether changes of `xid` are queued (SnapBuildProcessChange). */
  private decodes(xid: number): boolean {
    return this.snapbuild === undefined || this.snapbuild.decodesChangesOf(xid);
  }

  /** SnapBuildXactNeedsSkip, inverted: whether a transaction ending at `lsn` is emitted. */
  private emits(lsn: Lsn): boolean {
    const at = this.consistentAt;
    return at !== undefined && lsn >= at;
  }

  private topOf(xid: number): number {
    return this.parent.get(xid) ?? xid;
  }

  /** ReorderBufferTXNByXid(create): the queue of `xid`, made with `lsn` as its first LSN. */
  private txnFor(xid: number, lsn: Lsn): TxnState {
    let t = this.txns.get(xid);
    if (t === undefined) {
      t = { xid, firstLsn: lsn, changes: [], sharedFrom: -1, own: undefined, size: 0, spilled: false, hasBase: false, streamed: false, partial: false, streamable: false };
      this.txns.set(xid, t);
    }
    return t;
  }

  /** The (sub)transaction whose queue the change being replayed came from (OutputContext.changeXid). */
  private replayChangeXid = 0;

  /** ReadRecPtr of the record being processed: streaming starts only at or after the start point. */
  private recordLsn: Lsn = 0;

  /** Feeds one record, in WAL order. */
  process(rec: DecodedRecord): void {
    // Plugin callbacks print timestamptz values in the slot's TimeZone; UTC is the default and needs no switch.
    const zone = this.options.timezone;
    if (zone === undefined || zone === 'UTC') this.processRecord(rec);
    else withOutputTimeZone(zone, () => this.processRecord(rec));
  }

  private processRecord(rec: DecodedRecord): void {
    this.recordLsn = rec.lsn;
    this.catalog.process(rec);
    this.snapbuild?.process(rec);
    if (rec.xid !== 0) {
      // ReorderBufferProcessXid / ReorderBufferAssignChild: the top-level transaction starts at its first record.
      let top: TxnState | undefined;
      if (rec.toplevelXid !== 0) {
        this.parent.set(rec.xid, rec.toplevelXid);
        top = this.txnFor(rec.toplevelXid, rec.lsn);
      }
      const t = this.txnFor(rec.xid, rec.lsn);
      // The replication origin a streamed block announces before the commit record says it.
      if (rec.origin !== 0) (top ?? t).origin = rec.origin;
    }
    try {
      this.dispatch(rec);
    } catch (e) {
      // A payload shorter than its own counts and offsets say: the record is not what its header claims.
      if (e instanceof RangeError) throw new WalFormatError('invalid-record', `invalid ${rmgrName(rec.rmid)} record at ${formatLsn(rec.lsn)}: ${e.message}`, { lsn: rec.lsn });
      throw e;
    }
  }

  private dispatch(rec: DecodedRecord): void {
    switch (rec.rmid) {
      case RM_HEAP_ID:
        return this.heap(rec);
      case RM_HEAP2_ID:
        if ((rec.info & 0x70) === 0x50) this.multiInsert(rec);
        return;
      case RM_XACT_ID:
        return this.xact(rec);
      case RM_STANDBY_ID:
        if ((rec.info & 0xf0) === 0x10) this.abortOld(parseRunningXacts(rec).oldestRunningXid);
        return;
      case RM_LOGICALMSG_ID:
        return this.message(rec);
      default:
        return;
    }
  }

  /** ReorderBufferAbortOld: transactions older than the oldest running one crashed; forget them. */
  private abortOld(oldestRunningXid: number): void {
    for (const t of [...this.txns.values()]) {
      if (xidPrecedes(t.xid, oldestRunningXid) && t.prepare === undefined) this.forget(t.xid);
    }
  }

  /** Queues an encoded change under `xid` (if its transaction is decoded) and keeps memory under the limit. */
  // see ReorderBufferQueueChange and ReorderBufferProcessPartialChange (reorderbuffer.c)
  private queue(xid: number, lsn: Lsn, change: Uint8Array): void {
    const topXid = this.topOf(xid);
    if (!this.decodes(topXid)) return;
    const t = this.txnFor(xid, lsn);
    const top = topXid === xid ? t : this.txnFor(topXid, lsn);
    const kind = change[0]!;
    if (kind !== CHANGE_SPEC_CONFIRM && kind !== CHANGE_SPEC_ABORT) top.streamable = true;
    if (t.own !== undefined) t.own.push(change);
    else t.changes.push(change);
    t.hasBase = true;
    if (this.shared.chunkNo !== this.sharedChunkSeen) {
      this.sharedChunkSeen = this.shared.chunkNo;
      this.rehomeOldChanges();
    }
    const sz = change.length + CHANGE_OVERHEAD;
    t.size += sz;
    this.size += sz;
    const flags = change[1]!;
    if (kind === CHANGE_INSERT && flags & CF_TOAST_INSERT) top.partial = true;
    else if (top.partial && (kind === CHANGE_INSERT || kind === CHANGE_UPDATE) && flags & CF_CLEAR_TOAST) top.partial = false;
    if (kind === CHANGE_SPEC_INSERT) top.partial = true;
    else if (top.partial && (kind === CHANGE_SPEC_CONFIRM || kind === CHANGE_SPEC_ABORT)) top.partial = false;
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
          if (n > 0 && (top === undefined || n > topSize)) {
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
    else this.spill.write(t.xid, t.changes);
    this.size -= t.size;
    t.size = 0;
    t.changes = [];
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
      t.changes = [];
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
  }

  /** Drops a transaction with its subtransactions, queued changes and spill files. */
  private forget(xid: number, subxacts: readonly number[] = []): void {
    for (const x of this.members(xid, subxacts)) {
      this.dropQueue(x);
      this.parent.delete(x);
    }
  }

  private members(xid: number, subxacts: readonly number[]): number[] {
    const members = [xid, ...subxacts];
    for (const [sub, top] of this.parent) if (top === xid && !members.includes(sub)) members.push(sub);
    return members;
  }

  /** The relation storage block 0 names, when in this database (else undefined): its RelFileLocator. */
  private locatorOf(rec: DecodedRecord): RelFileLocator | undefined {
    const b = rec.block(0);
    return b === undefined || b.locator.dbOid !== this.catalog.databaseOid ? undefined : b.locator;
  }

  /** The arena `xid`'s next change is encoded into (its TxnState exists: process() made it). */
  private arenaOf(xid: number): ChangeAllocator | undefined {
    const t = this.txns.get(xid);
    if (t === undefined) return undefined;
    if (t.own !== undefined) return t.own;
    if (t.sharedFrom < 0) t.sharedFrom = this.shared.chunkNo;
    return this.shared;
  }

  /** Moves the changes of transactions open for more than SHARED_CHUNKS_HELD shared chunks to queues of their own. */
  private rehomeOldChanges(): void {
    const oldest = this.shared.chunkNo - SHARED_CHUNKS_HELD;
    for (const t of this.txns.values()) {
      if (t.sharedFrom < 0 || t.sharedFrom > oldest) continue;
      const own = new ChangeQueue(this.pool);
      for (const c of t.changes) own.push(c);
      t.changes = [];
      t.own = own;
      t.sharedFrom = -1;
    }
  }

  // see DecodeInsert / DecodeUpdate / DecodeDelete / DecodeTruncate / DecodeSpecConfirm (decode.c)
  private heap(rec: DecodedRecord): void {
    const op = rec.info & 0x70;
    if (op === 0x30) {
      const t = parseHeapTruncate(rec);
      if (t.dbId !== this.catalog.databaseOid || this.filtered(rec.origin)) return;
      const relids: number[] = [];
      for (let i = 0; i < t.nrelids; i++) relids.push(rec.view.getUint32(t.relidsOffset + 4 * i, true));
      this.queue(rec.xid, rec.lsn, encodeTruncate(rec.lsn, t.flags, relids));
      return;
    }
    if (op !== 0x00 && op !== 0x10 && op !== 0x20 && op !== 0x40 && op !== 0x50) return;
    const z = this.blockZero;
    if (!readBlockZero(rec, z) || z.dbOid !== this.catalog.databaseOid || this.filtered(rec.origin)) return;
    if (op === 0x50) {
      this.queue(rec.xid, rec.lsn, encodeMarker(CHANGE_SPEC_CONFIRM, rec.lsn));
      return;
    }
    // Fields and tuples read by offset (no parsed objects); a record too short for them gets the parsers' error.
    const src = rec.source;
    const main = rec.sourceOffset + rec.mainDataOffset;
    const mainLength = rec.mainDataLength;
    if (op === 0x00) {
      if (mainLength < 3 || (z.dataLength !== 0 && z.dataLength < SIZE_OF_HEAP_HEADER)) return this.shortHeapRecord(rec, op);
      const flags = src[main + 2]!;
      const hasTuple = flags & XLH_INSERT_CONTAINS_NEW_TUPLE && z.dataLength !== 0;
      const kind = flags & XLH_INSERT_IS_SPECULATIVE ? CHANGE_SPEC_INSERT : CHANGE_INSERT;
      const cflags = CF_CLEAR_TOAST | (flags & XLH_INSERT_ON_TOAST_RELATION ? CF_TOAST_INSERT : 0);
      const change = encodeRowChange(kind, cflags, rec.lsn, z.spcOid, z.relNumber, src, hasTuple ? z.dataOffset : -1, z.dataLength, -1, 0, this.arenaOf(rec.xid));
      this.queue(rec.xid, rec.lsn, change);
    } else if (op === 0x10) {
      if (mainLength < 8) return this.shortHeapRecord(rec, op);
      const flags = src[main + 7]!;
      if (flags & XLH_DELETE_IS_SUPER) {
        this.queue(rec.xid, rec.lsn, encodeMarker(CHANGE_SPEC_ABORT, rec.lsn));
        return;
      }
      const hasOld = (flags & (XLH_DELETE_CONTAINS_OLD_TUPLE | XLH_DELETE_CONTAINS_OLD_KEY)) !== 0;
      if (hasOld && mainLength < 8 + SIZE_OF_HEAP_HEADER) return this.shortHeapRecord(rec, op);
      const change = encodeRowChange(CHANGE_DELETE, CF_CLEAR_TOAST, rec.lsn, z.spcOid, z.relNumber, src, -1, 0, hasOld ? main + 8 : -1, mainLength - 8, this.arenaOf(rec.xid));
      this.queue(rec.xid, rec.lsn, change);
    } else {
      if (mainLength < 14) return this.shortHeapRecord(rec, op);
      const flags = src[main + 7]!;
      const hasOld = (flags & (XLH_UPDATE_CONTAINS_OLD_TUPLE | XLH_UPDATE_CONTAINS_OLD_KEY)) !== 0;
      if (hasOld && mainLength < 14 + SIZE_OF_HEAP_HEADER) return this.shortHeapRecord(rec, op);
      let newAt = -1;
      let newLength = 0;
      if (z.dataLength !== 0) {
        // Prefix/suffix lengths come first when logged (never for a relation logged for logical decoding).
        newAt = z.dataOffset + (flags & XLH_UPDATE_PREFIX_FROM_OLD ? 2 : 0) + (flags & XLH_UPDATE_SUFFIX_FROM_OLD ? 2 : 0);
        newLength = z.dataOffset + z.dataLength - newAt;
        if (newLength < SIZE_OF_HEAP_HEADER) return this.shortHeapRecord(rec, op);
        if (!(flags & XLH_UPDATE_CONTAINS_NEW_TUPLE)) newAt = -1;
      }
      const change = encodeRowChange(CHANGE_UPDATE, CF_CLEAR_TOAST, rec.lsn, z.spcOid, z.relNumber, src, newAt, newLength, hasOld ? main + 14 : -1, mainLength - 14, this.arenaOf(rec.xid));
      this.queue(rec.xid, rec.lsn, change);
    }
  }

  /** The catalog point of the change being replayed (reused: read during the calls it is passed to only). */
  private readonly replayPoint: CatalogPoint = { lsn: 0, xid: 0 };

  /** Block 0, read by heap() (reused: numbers only, read before the next record). */
  private readonly blockZero = new BlockZero();

  /** A heap record too short for the fields heap() reads: the parser's typed error, which names what is missing. */
  private shortHeapRecord(rec: DecodedRecord, op: number): never {
    if (op === 0x00) parseHeapInsert(rec);
    else if (op === 0x10) parseHeapDelete(rec);
    else parseHeapUpdate(rec);
    throw new WalFormatError('short-record', `invalid Heap record at ${formatLsn(rec.lsn)}: too short for its fields`, { lsn: rec.lsn });
  }

  // see DecodeMultiInsert (decode.c): one change per tuple; TOAST chunks are kept until the batch's last tuple
  private multiInsert(rec: DecodedRecord): void {
    const at = this.locatorOf(rec);
    if (at === undefined || this.filtered(rec.origin)) return;
    const m = parseMultiInsert(rec);
    if (!(m.flags & XLH_INSERT_CONTAINS_NEW_TUPLE) || m.tuplesLength === 0) return;
    let off = 0;
    const base = m.tuplesOffset;
    for (let i = 0; i < m.ntuples; i++) {
      off = (off + 1) & ~1; // each xl_multi_insert_tuple is SHORTALIGNed within the block data
      const p = base + off;
      const datalen = u16(rec.bytes, p);
      if (p + 7 + datalen > base + m.tuplesLength) {
        throw new WalFormatError('short-record', `invalid Heap2 MULTI_INSERT record at ${formatLsn(rec.lsn)}: tuple ${i + 1} of ${m.ntuples} runs past the block data`, { lsn: rec.lsn });
      }
      const clear = i + 1 === m.ntuples && (m.flags & XLH_INSERT_LAST_IN_MULTI) !== 0 ? CF_CLEAR_TOAST : 0;
      // xl_multi_insert_tuple: datalen, then the same five header bytes as xl_heap_header, then the data.
      this.queue(rec.xid, rec.lsn, encodeRowChange(CHANGE_INSERT, clear, rec.lsn, at.spcOid, at.relNumber, rec.bytes, p + 2, 5 + datalen, -1, 0, this.arenaOf(rec.xid)));
      off += 7 + datalen;
    }
  }

  private filtered(origin: number): boolean {
    return this.plugin.filterByOrigin?.(origin) === true;
  }

  // see DecodeLogicalMsg (decode.c)
  private message(rec: DecodedRecord): void {
    const m = parseLogicalMessage(rec);
    if (m.dbId !== this.catalog.databaseOid || this.filtered(rec.origin)) return;
    const content = rec.bytes.subarray(m.messageOffset, m.messageOffset + m.messageSize);
    if (m.transactional) {
      this.queue(rec.xid, rec.endLsn, encodeMessage(rec.endLsn, m.prefix, content));
    } else if (this.emits(rec.lsn)) {
      // Non-transactional messages go out at once, outside any transaction.
      try {
        this.plugin.message(this.ctxAt(rec.endLsn, rec.xid, undefined), undefined, { kind: 'message', lsn: rec.endLsn, transactional: false, prefix: m.prefix, content });
      } catch (e) {
        throw this.valueError(e);
      }
    }
  }

  // see DecodeXactOp (decode.c)
  private xact(rec: DecodedRecord): void {
    const op = rec.info & 0x70;
    const major = this.options.major;
    if (op === 0x00 || op === 0x30) {
      const c = parseCommit(rec, major);
      const xid = op === 0x30 ? c.twophaseXid : rec.xid;
      const time = c.xinfo & XACT_XINFO_HAS_ORIGIN ? c.originTimestamp : c.xactTime;
      this.commit(xid, c.subxacts, c.dbId, rec, time, op === 0x30 ? c.twophaseGid : undefined, c.xinfo & XACT_XINFO_HAS_ORIGIN ? c.originLsn : 0);
    } else if (op === 0x20 || op === 0x40) {
      const a = parseAbort(rec, major);
      const xid = op === 0x40 ? a.twophaseXid : rec.xid;
      const time = a.xinfo & XACT_XINFO_HAS_ORIGIN ? a.originTimestamp : a.xactTime;
      if (op === 0x40 && this.twoPhase && !this.skipsXact(a.dbId, rec)) this.rollbackPrepared(xid, a.subxacts, rec, time, a.twophaseGid);
      else {
        // see ReorderBufferAbort: a (sub)transaction that was streamed is aborted downstream too, subxacts first
        for (const x of [...a.subxacts, xid]) {
          const t = this.txns.get(x);
          if (t?.streamed !== true) continue;
          const top = this.txns.get(this.topOf(x)) ?? t;
          const aborted: ReorderTxn = { xid: x, firstLsn: t.firstLsn, finalLsn: rec.lsn, endLsn: rec.endLsn, commitTime: time, originId: rec.origin, streamed: true };
          this.plugin.streamAbort?.(this.ctxAt(rec.endLsn, x, undefined), aborted, rec.endLsn, top.xid);
        }
        this.forget(xid, a.subxacts);
      }
    } else if (op === 0x10) {
      this.prepare(rec);
    } else if (op === 0x50) {
      const a = parseXactAssignment(rec);
      for (const sub of a.subxacts) {
        this.parent.set(sub, a.xtop);
        this.txnFor(a.xtop, rec.lsn);
      }
    }
  }

  private get twoPhase(): boolean {
    return this.options.twoPhaseAt !== undefined && this.plugin.prepare !== undefined;
  }

  /** DecodeTXNNeedSkip: before the start point, another database, or filtered by origin. */
  private skipsXact(dbId: number, rec: DecodedRecord): boolean {
    return !this.emits(rec.lsn) || (dbId !== 0 && dbId !== this.catalog.databaseOid) || this.filtered(rec.origin);
  }

  // see DecodeCommit (decode.c), ReorderBufferCommit and ReorderBufferFinishPrepared (reorderbuffer.c)
  private commit(xid: number, subxacts: number[], dbId: number, rec: DecodedRecord, time: bigint, gid: string | undefined, originLsn: Lsn = 0): void {
    for (const s of subxacts) this.parent.set(s, xid);
    // The catalog saw this commit first (process() feeds it before us): its schema changes go out with it.
    const ddl = this.schemaChanges.length === 0 ? NO_SCHEMA_CHANGES : this.schemaChanges.filter((e) => e.xid === xid);
    if (ddl.length > 0) this.schemaChanges = this.schemaChanges.filter((e) => e.xid !== xid);
    this.ddlOfCommit = ddl;
    const top = this.txns.get(xid);
    const prepare = top?.prepare;
    if (this.skipsXact(dbId, rec) || top === undefined) {
      this.forget(xid, subxacts);
      return;
    }
    const members = this.members(xid, subxacts);
    if (!this.anyHasBase(members)) {
      this.forget(xid, subxacts);
      return;
    }
    if (gid !== undefined && this.twoPhase && prepare !== undefined) {
      // Decoded at PREPARE already, unless it was prepared before two_phase_at: then now, as a prepare.
      if (prepare.lsn < this.options.twoPhaseAt!) this.replay(xid, members, this.prepareTxn(xid, top, prepare), 'prepare');
      const txn: ReorderTxn = { xid, firstLsn: top.firstLsn, finalLsn: rec.lsn, endLsn: rec.endLsn, commitTime: time, originId: rec.origin, originLsn, gid };
      this.plugin.commitPrepared?.(this.ctxAt(rec.endLsn, xid, undefined), txn);
      this.lastCommitEnd = rec.endLsn;
      this.forget(xid, subxacts);
      return;
    }
    const txn: ReorderTxn = { xid, firstLsn: top.firstLsn, finalLsn: rec.lsn, endLsn: rec.endLsn, commitTime: time, originId: rec.origin, originLsn };
    if (top.streamed) {
      // see ReorderBufferStreamCommit: what is still queued goes out as a last block, then the commit
      this.stream(top);
      for (const e of this.ddlOfCommit) this.plugin.ddl!(this.ctxAt(e.lsn, xid, undefined), txn, e);
      this.plugin.streamCommit?.(this.ctxAt(rec.endLsn, xid, undefined), { ...txn, streamed: true });
    } else {
      this.replay(xid, members, txn, 'commit');
    }
    this.lastCommitEnd = rec.endLsn;
    this.forget(xid, subxacts);
  }

  /** Whether any of these (sub)transactions queued a change. */
  private anyHasBase(members: readonly number[]): boolean {
    for (const x of members) if (this.txns.get(x)?.hasBase === true) return true;
    return false;
  }

  private prepareTxn(xid: number, top: TxnState, p: NonNullable<TxnState['prepare']>): ReorderTxn {
    return { xid, firstLsn: top.firstLsn, finalLsn: p.lsn, endLsn: p.endLsn, commitTime: p.time, originId: p.origin, originLsn: p.originLsn, gid: p.gid };
  }

  // see DecodePrepare (decode.c) and ReorderBufferPrepare (reorderbuffer.c)
  private prepare(rec: DecodedRecord): void {
    const p = parsePrepare(rec, this.options.major);
    const xid = p.twophaseXid;
    for (const s of p.subxacts) this.parent.set(s, xid);
    const top = this.txns.get(xid);
    if (top === undefined) return;
    const time = p.originTimestamp !== 0n ? p.originTimestamp : p.xactTime;
    top.prepare = { gid: p.twophaseGid, lsn: rec.lsn, endLsn: rec.endLsn, time, origin: rec.origin, originLsn: p.originLsn, subxacts: p.subxacts };
    if (!this.twoPhase || this.plugin.filterPrepare?.(p.twophaseGid) === true) return;
    if (this.snapbuild !== undefined && this.snapbuild.consistentAt === undefined) return;
    if (this.skipsXact(p.dbId, rec)) return;
    const members = this.members(xid, p.subxacts);
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

  private rollbackPrepared(xid: number, subxacts: number[], rec: DecodedRecord, time: bigint, gid: string): void {
    const top = this.txns.get(xid);
    const members = this.members(xid, subxacts);
    if (top !== undefined && members.some((x) => this.txns.get(x)?.hasBase === true)) {
      const txn: ReorderTxn = { xid, firstLsn: top.firstLsn, finalLsn: rec.lsn, endLsn: rec.endLsn, commitTime: time, originId: rec.origin, gid, prepareEndLsn: top.prepare?.endLsn, prepareTime: top.prepare?.time };
      this.plugin.rollbackPrepared?.(this.ctxAt(rec.endLsn, xid, undefined), txn);
      this.lastCommitEnd = rec.endLsn;
    }
    this.forget(xid, subxacts);
  }

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
  private merged(members: readonly number[]): Iterable<Uint8Array> {
    // The common case, one queue all in memory: the queue itself.
    let only: TxnState | undefined;
    let queues = 0;
    for (const x of members) {
      const t = this.txns.get(x);
      if (t === undefined || ((t.own?.length ?? t.changes.length) === 0 && !t.spilled)) continue;
      only = t;
      queues++;
    }
    if (queues === 0) return [];
    this.replayChangeXid = only!.xid;
    if (queues === 1 && !only!.spilled) return only!.own ?? only!.changes;
    // see ReorderBufferIterTXNInit: what a spilled (sub)transaction still holds in memory is spilled too, so that
    // reading it back holds only the read buffers; the chunks kept for its next spill are not needed any more.
    for (const x of members) {
      const t = this.txns.get(x);
      if (t !== undefined && t.spilled && (t.own?.length ?? t.changes.length) > 0) this.serialize(t);
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
      })(this.spill, t.spilled, t.own ?? t.changes);
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
    // A streamed block opens at its first change, whatever that change turns out to be.
    let lastLsn: Lsn | undefined;
    // TOAST chunks by value id, made at the first chunk (most transactions have none).
    let toast: Map<number, Uint8Array[]> | undefined;
    let spec: { change: Uint8Array; rel: DecoderRelation } | undefined;
    for (const c of this.merged(members)) {
      const kind = c[0]!;
      const lsn = changeLsn(c);
      const at = this.replayPoint;
      at.lsn = lsn;
      at.xid = xid;
      if (streaming && lastLsn === undefined) plugin.streamStart!(this.ctxAt(lsn, xid, undefined), txn);
      lastLsn = lsn;
      switch (kind) {
        case CHANGE_INSERT:
        case CHANGE_UPDATE:
        case CHANGE_DELETE:
        case CHANGE_SPEC_INSERT:
        case CHANGE_SPEC_CONFIRM: {
          let change = c;
          if (kind === CHANGE_SPEC_CONFIRM) {
            if (spec === undefined) throw new WalFormatError('invalid-change-order', `speculative insertion confirmed at ${formatLsn(lsn)} without a pending insertion`, { lsn });
            change = spec.change;
          }
          // A confirmed speculative insertion is the insertion's change: its kind, flags, LSN and tuples.
          const rKind = change[0]!;
          const rLsn = change === c ? lsn : changeLsn(change);
          const newAt = rowNewTupleAt(change);
          const oldAt = rowOldTupleAt(change);
          const rel = this.catalog.relationByFilenode(rowTablespace(change), rowRelfilenode(change), at);
          spec = kind === CHANGE_SPEC_INSERT && rel !== undefined ? { change, rel } : kind === CHANGE_SPEC_CONFIRM ? spec : undefined;
          if (kind === CHANGE_SPEC_INSERT) break;
          if (rel === undefined) {
            this.unknownRelationChanges++;
            break;
          }
          if ((rel.rewriteOf ?? 0) !== 0 && this.options.includeRewrites !== true) break;
          if (rel.kind === 'S') break;
          if (rel.kind === 't') {
            if (rKind === CHANGE_INSERT || rKind === CHANGE_SPEC_INSERT) this.appendChunk((toast ??= new Map()), rel, change, newAt, lsn);
            break;
          }
          const action: RowAction = rKind === CHANGE_DELETE ? 'DELETE' : rKind === CHANGE_UPDATE ? 'UPDATE' : 'INSERT';
          // Tuples stay in the change unless TOAST values of this transaction (or the TOAST cache) replace pointers.
          const row: RowChange = (toast === undefined || toast.size === 0) && this.toastValues.size === 0
            ? new StoredRowChange(rLsn, action, rel, change, newAt, oldAt)
            : {
            kind: 'row',
            lsn: rLsn,
            action,
            relation: rel,
            newTuple: newAt >= 0 ? this.fillToast(reassemble(this.deform(change, newAt, rel, lsn), toast, lsn, this.remember)) : undefined,
            oldTuple: oldAt >= 0 ? this.deform(change, oldAt, rel, lsn) : undefined,
          };
          if (streaming) plugin.streamChange!(this.ctxAt(rLsn, xid, at), txn, row);
          else plugin.change(this.ctxAt(rLsn, xid, at), txn, row);
          if (change[1]! & CF_CLEAR_TOAST) toast?.clear();
          if (kind === CHANGE_SPEC_CONFIRM) spec = undefined;
          break;
        }
        case CHANGE_SPEC_ABORT:
          if (spec !== undefined) {
            toast?.clear();
            spec = undefined;
          }
          break;
        case CHANGE_TRUNCATE: {
          const t = decodeTruncate(c);
          const relations: DecoderRelation[] = [];
          for (const oid of t.relids) {
            const r = this.catalog.relationByOid(oid, at);
            if (r !== undefined) relations.push(r);
            else this.unknownRelationChanges++;
          }
          if (relations.length === 0) break;
          const tc: TruncateChange = { kind: 'truncate', lsn, relations, cascade: (t.flags & 0x01) !== 0, restartSeqs: (t.flags & 0x02) !== 0 };
          if (streaming) plugin.streamTruncate!(this.ctxAt(lsn, xid, at), txn, tc);
          else plugin.truncate(this.ctxAt(lsn, xid, at), txn, tc);
          break;
        }
        case CHANGE_MESSAGE: {
          const m = decodeMessage(c);
          const mc: MessageChange = { kind: 'message', lsn: m.lsn, transactional: true, prefix: m.prefix, content: m.content };
          if (streaming) plugin.streamMessage!(this.ctxAt(m.lsn, xid, at), txn, mc);
          else plugin.message(this.ctxAt(m.lsn, xid, at), txn, mc);
          break;
        }
        default:
          throw new WalFormatError('invalid-change', `unknown queued change kind ${kind} at ${formatLsn(lsn)}`, { lsn });
      }
    }
    if (end === 'prepare') plugin.prepare!(this.ctxAt(txn.endLsn, xid, undefined), txn);
    else if (end === 'commit') {
      for (const e of this.ddlOfCommit) plugin.ddl!(this.ctxAt(e.lsn, xid, undefined), txn, e);
      plugin.commit(this.ctxAt(txn.endLsn, xid, undefined), txn);
    }
    else if (lastLsn !== undefined) plugin.streamStop!(this.ctxAt(lastLsn, xid, undefined), txn);
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

/** The decoder with test_decoding as its plugin: what `pgwal decode` prints. */
export class TestDecodingDecoder extends LogicalDecoder {
  constructor(catalog: DecoderCatalog | CatalogView, major: Major, options: Partial<TestDecodingOptions>, startAt: Lsn | 'snapshot', more: Omit<DecoderOptions, 'catalog' | 'major' | 'plugin' | 'startAt'> = {}) {
    super({ catalog, major, plugin: new TestDecodingPlugin(options), startAt, streaming: options.streamChanges === true, ...more });
  }
}

export type { TypeInfo };
