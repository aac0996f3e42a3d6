// The output-plugin interface: what the reorder buffer calls, in commit order, for each decoded transaction —
// PostgreSQL's OutputPluginCallbacks (output_plugin.h), with the change and its relation already resolved
// and TOAST values reassembled. A plugin turns them into rows with `ctx.write`; the row's LSN and xid are
// those the server gives the same callback (begin: first_lsn, change: its LSN, commit: end_lsn, …).
import type { Lsn } from '../lsn.js';
import type { DecoderRelation, SchemaChange } from './catalog.js';
import type { RawValue } from './tuple.js';
import type { TypeInfo } from './values.js';
import type { TextRowBytes } from './row-bytes.js';

/** ReorderBufferTXN, as far as plugins see it. */
export interface ReorderTxn {
  /** Top-level xid. */
  readonly xid: number;
  /** LSN of the first record of the transaction (or of a subtransaction) decoded. */
  readonly firstLsn: Lsn;
  /** LSN of the commit / prepare / abort record (final_lsn). */
  readonly finalLsn: Lsn;
  /** End of that record (end_lsn): what a consumer confirms. */
  readonly endLsn: Lsn;
  /** xact_time of the commit or prepare: microseconds since 2000-01-01 00:00 UTC (TimestampTz). */
  readonly commitTime: bigint;
  /** Replication origin of the commit (0 = local). */
  readonly originId: number;
  /** The origin's commit LSN (xl_xact_origin.origin_lsn) with a replication origin; 0 without, or where unknown. */
  readonly originLsn?: Lsn;
  /** Two-phase: the transaction's GID. */
  readonly gid?: string;
  /** ROLLBACK PREPARED: the end of the PREPARE record and its time (rollback_prepared_cb's prepare_end_lsn, prepare_time). */
  readonly prepareEndLsn?: Lsn;
  readonly prepareTime?: bigint;
  /** Streaming: the transaction has been streamed before its end. */
  readonly streamed?: boolean;
}

export type RowAction = 'INSERT' | 'UPDATE' | 'DELETE';

export interface RowChange {
  readonly kind: 'row';
  readonly lsn: Lsn;
  readonly action: RowAction;
  readonly relation: DecoderRelation;
  /** INSERT, UPDATE: the new tuple (undefined when the record carried none). TOAST values reassembled where logged. */
  readonly newTuple?: readonly RawValue[];
  /**
   * UPDATE: the old key or old tuple by replica identity; DELETE: the same. With old-rows=full, the whole old row
   * where it is known (then the same as `oldRow`), else the key as without it.
   */
  readonly oldTuple?: readonly RawValue[];
  /** old-rows=full: the whole old row of an UPDATE / DELETE, when its page was kept since an image; else undefined. */
  readonly oldRow?: readonly RawValue[];
  /**
   * old-rows=full: true when `oldRow` is known and holds every value (no TOAST value left unchanged-toast); false
   * when the old row is unknown or lacks a TOAST value; undefined without old-rows=full.
   */
  readonly oldRowComplete?: boolean;
}

export interface TruncateChange {
  readonly kind: 'truncate';
  readonly lsn: Lsn;
  readonly relations: readonly DecoderRelation[];
  readonly cascade: boolean;
  readonly restartSeqs: boolean;
}

export interface MessageChange {
  readonly kind: 'message';
  /** Where the server places the message's row: the end of the logical message record. */
  readonly lsn: Lsn;
  readonly transactional: boolean;
  readonly prefix: string;
  readonly content: Uint8Array;
}

export interface OutputContext {
  /** The major the WAL is from (output differs in places). */
  readonly major: number;
  /** Emits one output row at the current callback's LSN and xid: text, or bytes for a binary plugin (pgoutput). */
  write(data: string | Uint8Array): void;
  /**
   * Emits `buf[0, length)` as one row of bytes without a copy: `buf` is the plugin's and is reused, so the sink
   * uses it during the call only. Contexts without it take `write` of a copy.
   */
  writeBytes?(buf: Uint8Array, length: number): void;
  /**
   * Where a text plugin may write a row as UTF-8 bytes instead of a string through `write`, at the current
   * callback's LSN and xid (the same output). Undefined from contexts that lack it.
   */
  readonly textRows?: TextRowBytes | undefined;
  /**
   * The (sub)transaction the current change belongs to (ReorderBufferChange.txn->xid: a subtransaction's own xid),
   * during a transaction's replay; what pgoutput writes in a streamed block. Undefined from contexts that lack it.
   */
  readonly changeXid?: number;
  /** A relation by OID, as the catalog sees it at the current change (a partition's ancestor, for pgoutput). */
  relation?(oid: number): DecoderRelation | undefined;
  /** The type of a column, as the catalog sees it at the current change. */
  type(oid: number): TypeInfo | undefined;
  /**
   * A number that changes whenever `type` may answer differently for some OID (undefined: it may at any call),
   * so that a plugin may keep what it looked up while it stays the same.
   */
  readonly typesVersion?: number;
}

/**
 * An output plugin. Streaming and two-phase callbacks are optional: without them the decoder does not stream
 * (it spills) and decodes prepared transactions at COMMIT PREPARED.
 */
export interface OutputPlugin {
  /**
   * The plugin keeps no RowChange past the change callback it came with: the reorder buffer may then pass one
   * object, refilled, for every stored change (no object per change).
   */
  readonly transientRowChanges?: boolean;
  begin(ctx: OutputContext, txn: ReorderTxn): void;
  change(ctx: OutputContext, txn: ReorderTxn, change: RowChange): void;
  truncate(ctx: OutputContext, txn: ReorderTxn, change: TruncateChange): void;
  /** `txn` is undefined for a non-transactional message. */
  message(ctx: OutputContext, txn: ReorderTxn | undefined, change: MessageChange): void;
  commit(ctx: OutputContext, txn: ReorderTxn): void;
  /**
   * A table's schema change, made by `txn` (with a catalog that follows DDL): called after the transaction's
   * changes, before its commit — also for a transaction that changed no rows.
   */
  ddl?(ctx: OutputContext, txn: ReorderTxn, change: SchemaChange): void;
  /** filter_by_origin_cb: true skips a transaction (e.g. only-local with a non-zero origin). */
  filterByOrigin?(originId: number): boolean;

  /** filter_prepare_cb: true decodes this prepared transaction at COMMIT PREPARED instead of at PREPARE. */
  filterPrepare?(gid: string): boolean;
  beginPrepare?(ctx: OutputContext, txn: ReorderTxn): void;
  prepare?(ctx: OutputContext, txn: ReorderTxn): void;
  commitPrepared?(ctx: OutputContext, txn: ReorderTxn): void;
  rollbackPrepared?(ctx: OutputContext, txn: ReorderTxn): void;

  streamStart?(ctx: OutputContext, txn: ReorderTxn): void;
  streamStop?(ctx: OutputContext, txn: ReorderTxn): void;
  /** `txn.xid` is the aborted (sub)transaction's; `topXid` its top-level transaction's. */
  streamAbort?(ctx: OutputContext, txn: ReorderTxn, abortLsn: Lsn, topXid: number): void;
  streamPrepare?(ctx: OutputContext, txn: ReorderTxn): void;
  streamCommit?(ctx: OutputContext, txn: ReorderTxn): void;
  streamChange?(ctx: OutputContext, txn: ReorderTxn, change: RowChange): void;
  streamTruncate?(ctx: OutputContext, txn: ReorderTxn, change: TruncateChange): void;
  streamMessage?(ctx: OutputContext, txn: ReorderTxn, change: MessageChange): void;
}
