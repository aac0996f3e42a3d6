// The decoding context: wires catalog, snapshot builder, reorder buffer and output plugin together (logical.c).
// It takes the reader's records, and holds where plugin callbacks write (their rows go to a sink).
//
//   record ─▶ catalog, snapshot builder ─▶ decode.ts (what the record means) ─▶ reorderbuffer.ts ─▶ plugin ─▶ sink
import type { DecodedRecord } from '../xlogreader/record.js';
import type { Major } from '../xlogreader/profile.js';
import type { Lsn } from '../lsn.js';
import { SnapshotBuilder } from './snapbuild.js';
import { StaticCatalog, type CatalogPoint, type CatalogView, type DecoderCatalog, type DecoderRelation } from './catalog.js';
import type { OutputPlugin } from './plugin.js';
import type { TextByteSink, TextRowBytes } from './row-bytes.js';
import { withOutputTimeZone, type TypeInfo } from './values.js';
import type { SpillStore } from './spill.js';
import { TestDecodingPlugin, type TestDecodingOptions } from './testdecoding.js';
import { processRecord, type DecodingContext } from './decode.js';
import { ReorderBuffer, type CallbackContext } from './reorderbuffer.js';
import { HeapPages } from '../catalog/heap-pages.js';

export { DEFAULT_MEMORY_LIMIT } from './reorderbuffer.js';

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
  /**
   * Receives rows of bytes (pgoutput's messages) as `bytes[0, length)` of a buffer the plugin reuses: to be used
   * within the call, never kept (no copy and no row object per message). Without it they come to `sink` as copies.
   */
  byteSink?: (lsn: Lsn, xid: number, bytes: Uint8Array, length: number) => void;
  /**
   * Receives text rows written as UTF-8 bytes (test_decoding's and wal2json's change rows) instead of as strings through `sink`:
   * a plugin that can appends a row to the buffer `start` returns, then calls `end`. Other rows still come to `sink`.
   */
  textByteSink?: TextByteSink;
  /** The session TimeZone timestamptz values print in (the slot's, as its state recorded it); default UTC. */
  timezone?: string;
  /**
   * Bytes of TOAST values to remember across transactions (default 0: none, as the server). With it, an unchanged
   * TOAST column is filled in when its value was logged earlier in the decoded range; otherwise it stays a
   * `toast` value (test_decoding's `unchanged-toast-datum`).
   */
  toastCache?: number;
  /**
   * old-rows=full: keep the heap pages of the database's tables from their full-page images and redo (at most
   * `budget` bytes, default 256 MiB; least recently used pages are evicted), so that UPDATE and DELETE carry the
   * whole old row where its page was kept (RowChange.oldRow / oldRowComplete), as REPLICA IDENTITY FULL would.
   */
  oldRows?: { budget?: number };
}

/**
 * The decoding context (LogicalDecodingContext): what decode.ts reads, and what plugin callbacks write through —
 * one object whose write location is set before each callback (so no context or closure is made per row). As a
 * plugin's context it is valid during the callback only.
 */
class LogicalDecodingContext implements CallbackContext, DecodingContext {
  lsn: Lsn = 0;
  xid = 0;
  changeXid = 0;
  at: CatalogPoint | undefined = undefined;
  readonly reorder: ReorderBuffer;
  readonly oldRows: HeapPages | undefined;

  constructor(
    readonly major: Major,
    readonly catalog: CatalogView,
    readonly plugin: OutputPlugin,
    readonly snapbuild: SnapshotBuilder | undefined,
    private readonly sink: (row: OutputRow) => void,
    options: DecoderOptions,
  ) {
    this.byteSink = options.byteSink;
    const rows = options.textByteSink;
    this.textRows = rows === undefined ? undefined : { start: () => rows.start(this.lsn, this.xid), end: () => rows.end(), cancel: () => rows.cancel() };
    this.reorder = new ReorderBuffer(options, catalog, plugin, snapbuild, this);
    this.oldRows = options.oldRows === undefined ? undefined : new HeapPages(catalog.databaseOid, major, options.oldRows.budget);
  }

  // Arrow properties: callers may pass ctx.write / ctx.type around unbound.
  readonly write = (data: string | Uint8Array): void => this.sink({ lsn: this.lsn, xid: this.xid, data });
  readonly writeBytes = (buf: Uint8Array, length: number): void => {
    if (this.byteSink !== undefined) this.byteSink(this.lsn, this.xid, buf, length);
    else this.sink({ lsn: this.lsn, xid: this.xid, data: buf.slice(0, length) });
  };
  private readonly byteSink: DecoderOptions['byteSink'];
  readonly textRows: TextRowBytes | undefined;
  readonly type = (oid: number): TypeInfo | undefined => this.catalog.type(oid, this.at ?? { lsn: this.lsn, xid: this.xid });
  readonly relation = (oid: number): DecoderRelation | undefined => this.catalog.relationByOid(oid, this.at ?? { lsn: this.lsn, xid: this.xid });
}

export class LogicalDecoder {
  /** The decoding context, with the reorder buffer it made. */
  private readonly ctx: LogicalDecodingContext;
  private readonly reorder: ReorderBuffer;
  readonly output: OutputRow[] = [];

  // see CreateDecodingContext (logical.c)
  constructor(private readonly options: DecoderOptions) {
    const catalog: CatalogView = 'process' in options.catalog ? options.catalog : new StaticCatalog(options.catalog);
    const snapbuild = options.startAt === 'snapshot' ? new SnapshotBuilder() : undefined;
    const plugin = options.plugin;
    const sink = options.sink ?? ((row: OutputRow) => this.output.push(row));
    this.ctx = new LogicalDecodingContext(options.major, catalog, plugin, snapbuild, sink, options);
    const rb = (this.reorder = this.ctx.reorder);
    // A catalog that follows DDL reports schema changes at their commit: held until that transaction is emitted.
    if (plugin.ddl !== undefined) catalog.onDdl = (e) => rb.addSchemaChange(e);
  }

  /** With a snapshot builder: the LSN decoding became consistent at, once it has. */
  get consistentAt(): Lsn | undefined {
    return this.reorder.consistentAt;
  }

  /** Bytes of queued changes in memory now, counted as the server counts them (rb->size). */
  get memoryUsed(): number {
    return this.reorder.memoryUsed;
  }

  /** Bytes of chunks spilled transactions gave back, kept for the next changes: at most the limit less memoryUsed. */
  get memoryPooled(): number {
    return this.reorder.memoryPooled;
  }

  // The reorder buffer's counters, as the fields they were (writable: the type stays the same).
  /** The end LSN of the last commit emitted: what a consumer confirms (confirmed_flush). */
  get lastCommitEnd(): Lsn {
    return this.reorder.lastCommitEnd;
  }
  set lastCommitEnd(lsn: Lsn) {
    this.reorder.lastCommitEnd = lsn;
  }

  /** Changes skipped because their relation was not in the catalog (catalog relations, or DDL not followed). */
  get unknownRelationChanges(): number {
    return this.reorder.unknownRelationChanges;
  }
  set unknownRelationChanges(n: number) {
    this.reorder.unknownRelationChanges = n;
  }

  /**
   * old-rows=full: heap pages kept now and evicted for room so far; UPDATEs and DELETEs of the database's tables
   * (from the restart point, committed or not) whose old row was known and unknown, not counting those whose
   * record logged it whole (replica identity full).
   */
  get oldRowStats(): { kept: number; evicted: number; known: number; unknown: number } | undefined {
    const p = this.ctx.oldRows;
    return p === undefined ? undefined : { kept: p.size, evicted: p.evictions, known: p.known, unknown: p.unknown };
  }

  /** How many times a transaction was spilled. */
  get spills(): number {
    return this.reorder.spills;
  }
  set spills(n: number) {
    this.reorder.spills = n;
  }

  /**
   * Where decoding can restart without losing a change of a transaction still open: the first LSN of the oldest
   * one that has changes, or `after` (the end of what was read) when none is open.
   */
  restartPoint(after: Lsn): Lsn {
    return this.reorder.restartPoint(after);
  }

  /** Ends decoding: spill files are removed. */
  // see FreeDecodingContext (logical.c)
  close(): void {
    this.reorder.close();
  }

  /** Feeds one record, in WAL order. */
  process(rec: DecodedRecord): void {
    // Plugin callbacks print timestamptz values in the slot's TimeZone; UTC is the default and needs no switch.
    const zone = this.options.timezone;
    if (zone === undefined || zone === 'UTC') processRecord(this.ctx, rec);
    else this.processIn(zone, rec);
  }

  // Apart from process: a closure there made V8 allocate its captured variables on every record.
  private processIn(zone: string, rec: DecodedRecord): void {
    withOutputTimeZone(zone, () => processRecord(this.ctx, rec));
  }
}

/** The decoder with test_decoding as its plugin: what `pgwal decode` prints. */
export class TestDecodingDecoder extends LogicalDecoder {
  constructor(catalog: DecoderCatalog | CatalogView, major: Major, options: Partial<TestDecodingOptions>, startAt: Lsn | 'snapshot', more: Omit<DecoderOptions, 'catalog' | 'major' | 'plugin' | 'startAt'> = {}) {
    super({ catalog, major, plugin: new TestDecodingPlugin(options), startAt, streaming: options.streamChanges === true, ...more });
  }
}

export type { TypeInfo };
