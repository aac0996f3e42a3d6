// An output plugin run on another thread: the decoder's callbacks shipped in order as bytes (ShippingPlugin) and
// replayed there against the real plugin (CallbackReplayer), so that formatting rows takes the second core while
// the decoding thread reads and reorders. Stored row changes travel as their tuple bytes; relations and types go
// ahead of the first change that needs them, again whenever the catalog answers with a new object (DDL), so the
// plugin sees the catalog as of each change, as it would on the decoding thread. pgoutput, whose plugin reads the
// catalog's publications and invalidations at every change, stays on the decoding thread instead: its messages,
// and the stored changes whose messages the other thread can write alone, are shipped (pgoutput-ship.ts).
import { WalError, WalFormatError } from '../errors.js';
import { formatLsn, type Lsn } from '../lsn.js';
import type { DecoderRelation, SchemaChange } from './catalog.js';
import { storedDataLength, StoredRowChange } from './change.js';
import type { MessageChange, OutputContext, OutputPlugin, ReorderTxn, RowAction, RowChange, TruncateChange } from './plugin.js';
import type { TextRowBytes } from './row-bytes.js';
import type { RowTarget } from './pgoutput-rows.js';
import { BytesValue, type RawValue } from './tuple.js';
import { withOutputTimeZone, type TypeInfo } from './values.js';
import { OP_RECORD_END, ShipBatch } from './ship-batch.js';

/** What the decoding thread sends, in order: callbacks as bytes, and the objects they refer to. */
export type ShipMessage =
  | { t: 'batch'; buf: Uint8Array; length: number }
  | { t: 'relation'; relation: DecoderRelation }
  | { t: 'types'; types: TypeInfo[] }
  /** pgoutput: how the stored changes named by `id` are written (a RowTarget, without its plan: pgoutput-ship.ts). */
  | { t: 'rowTarget'; id: number; target: RowTarget }
  /** A callback whose change is not stored bytes (TOAST values filled in), or a schema change: cloned. */
  | { t: 'call'; op: number; lsn: Lsn; xid: number; changeXid: number; txn: ReorderTxn | undefined; change: unknown };

const OP_BEGIN = 1;
const OP_BEGIN_PREPARE = 2;
const OP_COMMIT = 3;
const OP_PREPARE = 4;
const OP_COMMIT_PREPARED = 5;
const OP_ROLLBACK_PREPARED = 6;
const OP_CHANGE = 7;
const OP_TRUNCATE = 8;
const OP_MESSAGE = 9;
const OP_MESSAGE_NO_TXN = 10;
const OP_DDL = 11;
const OP_STREAM_START = 12;
const OP_STREAM_STOP = 13;
const OP_STREAM_ABORT = 14;
const OP_STREAM_PREPARE = 15;
const OP_STREAM_COMMIT = 16;
const OP_STREAM_CHANGE = 17;
const OP_STREAM_TRUNCATE = 18;
const OP_STREAM_MESSAGE = 19;
// 20: OP_RECORD_END (ship-batch.ts)

export const ACTIONS: readonly RowAction[] = ['INSERT', 'UPDATE', 'DELETE'];
export const ACTION_CODE: Record<RowAction, number> = { INSERT: 0, UPDATE: 1, DELETE: 2 };

// ReorderTxn's optional fields, as bits.
const T_ORIGIN_LSN = 1;
const T_GID = 2;
const T_PREPARE_END = 4;
const T_PREPARE_TIME = 8;
const T_STREAMED = 16;
const T_STREAMED_TRUE = 32;
/** The same transaction object as the callback before. */
const T_SAME = 0xff;

/** Outputs whose value names other types than the column's own closure (a regtype's OID, a record's type). */
export const DYNAMIC_OUTPUTS = new Set(['regtypeout', 'multirange_out', 'anyarray_out', 'anycompatiblearray_out']);
/** Built-in types a plugin looks up besides its columns' (wal2json's commit timestamps). */
const ALWAYS_TYPES = [1184];

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** FirstNormalObjectId: OIDs below it are the built-in objects of initdb. */
const FIRST_NORMAL_OBJECT_ID = 16384;

/** A relation's distinct column type OIDs, whether their output names others, and the types last answered for them. */
interface ColumnTypes {
  readonly rel: DecoderRelation;
  /** `rel` is the object the other thread holds for its OID (the last one shipped for it). */
  current: boolean;
  oids: number[];
  dynamic: boolean;
  seen: (TypeInfo | undefined)[];
  /** typesVersion when `seen` was last checked against `types`. */
  seenAt: number;
}

/** What a callback's context says on the decoding thread, as the replaying thread needs it. */
export type Ctx = OutputContext & { lsn: Lsn; xid: number; changeXid: number };

/**
 * The decoding thread's side: an OutputPlugin with the callbacks `real` has, each written into a batch that goes
 * to `post` when full or at `flush` (once `ship` was called; before, each goes to `real` on this thread). `real` answers the filters (origin, prepare), which are the options' alone,
 * and finds the types a row names in its values (a second instance: its output is dropped).
 */
export class ShippingPlugin extends ShipBatch {
  readonly plugin: OutputPlugin;
  /** Per OID, the relation object last shipped for it. */
  private readonly relations = new Map<number, ColumnTypes>();
  /** Per relation object shipped: the distinct type OIDs of its columns, and whether their output names others. */
  private readonly columnTypes = new WeakMap<DecoderRelation, ColumnTypes>();
  /** The last relation objects met, looked through before the maps (a workload's few tables, in turn). */
  private readonly recent: (ColumnTypes | undefined)[] = [undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined];
  private recentNext = 0;
  private readonly types = new Map<number, TypeInfo>();
  /** Bumped at every change of `types`: a relation's last answers (ColumnTypes.seen) hold while it is unchanged. */
  private typesVersion = 0;

  /** The transaction object last written into a batch. */
  private lastTxn: ReorderTxn | undefined = undefined;

  constructor(
    private readonly real: OutputPlugin,
    private readonly probe: OutputPlugin,
    batchSize = 1024 * 1024,
  ) {
    super(batchSize);
    // Each callback `real` has: to `real` until shipping starts, then shipped.
    const local = (): boolean => this.post === undefined;
    const p: OutputPlugin = {
      // Shipped changes are copied into the batch at once.
      get transientRowChanges() {
        return local() ? real.transientRowChanges === true : true;
      },
      begin: (ctx, txn) => (local() ? real.begin(ctx, txn) : this.txnCall(OP_BEGIN, ctx, txn)),
      commit: (ctx, txn) => (local() ? real.commit(ctx, txn) : this.txnCall(OP_COMMIT, ctx, txn)),
      change: (ctx, txn, ch) => (local() ? real.change(ctx, txn, ch) : this.change(OP_CHANGE, ctx, txn, ch)),
      truncate: (ctx, txn, ch) => (local() ? real.truncate(ctx, txn, ch) : this.truncate(OP_TRUNCATE, ctx, txn, ch)),
      message: (ctx, txn, m) => (local() ? real.message(ctx, txn, m) : this.message(txn === undefined ? OP_MESSAGE_NO_TXN : OP_MESSAGE, ctx, txn, m)),
    };
    const r = real as Required<OutputPlugin>;
    const has = (name: keyof OutputPlugin): boolean => real[name] !== undefined;
    if (has('ddl')) p.ddl = (ctx, txn, e) => (local() ? r.ddl(ctx, txn, e) : this.cloned(OP_DDL, ctx, txn, e));
    if (has('filterByOrigin')) p.filterByOrigin = (origin) => r.filterByOrigin(origin);
    if (has('filterPrepare')) p.filterPrepare = (gid) => r.filterPrepare(gid);
    const txnOp = (name: 'beginPrepare' | 'prepare' | 'commitPrepared' | 'rollbackPrepared' | 'streamStart' | 'streamStop' | 'streamPrepare' | 'streamCommit', op: number): void => {
      if (has(name)) p[name] = (ctx, txn) => (local() ? r[name](ctx, txn) : this.txnCall(op, ctx, txn));
    };
    txnOp('beginPrepare', OP_BEGIN_PREPARE);
    txnOp('prepare', OP_PREPARE);
    txnOp('commitPrepared', OP_COMMIT_PREPARED);
    txnOp('rollbackPrepared', OP_ROLLBACK_PREPARED);
    txnOp('streamStart', OP_STREAM_START);
    txnOp('streamStop', OP_STREAM_STOP);
    txnOp('streamPrepare', OP_STREAM_PREPARE);
    txnOp('streamCommit', OP_STREAM_COMMIT);
    if (has('streamAbort')) p.streamAbort = (ctx, txn, abortLsn, topXid) => (local() ? r.streamAbort(ctx, txn, abortLsn, topXid) : this.streamAbort(ctx, txn, abortLsn, topXid));
    if (has('streamChange')) p.streamChange = (ctx, txn, ch) => (local() ? r.streamChange(ctx, txn, ch) : this.change(OP_STREAM_CHANGE, ctx, txn, ch));
    if (has('streamTruncate')) p.streamTruncate = (ctx, txn, ch) => (local() ? r.streamTruncate(ctx, txn, ch) : this.truncate(OP_STREAM_TRUNCATE, ctx, txn, ch));
    if (has('streamMessage')) p.streamMessage = (ctx, txn, m) => (local() ? r.streamMessage(ctx, txn, m) : this.message(OP_STREAM_MESSAGE, ctx, txn, m));
    this.plugin = p;
  }

  /**
   * From now on callbacks are shipped to `post` (before, each goes to `real` on this thread). Between transactions
   * only: the other thread's plugin starts fresh, so `real` must hold nothing of a transaction (no streamed one open).
   */
  override ship(post: (m: ShipMessage, transfer?: ArrayBuffer[]) => void): void {
    super.ship(post);
    this.lastTxn = undefined;
  }

  /** op, the context's LSN, xid and changeXid: 1 + 8 + 4 + 4 bytes. */
  private head(op: number, ctx: OutputContext): void {
    this.inRecord = true;
    const c = ctx as Ctx;
    const v = this.view;
    this.buf[this.pos] = op;
    v.setFloat64(this.pos + 1, c.lsn, true);
    v.setUint32(this.pos + 9, c.xid >>> 0, true);
    v.setUint32(this.pos + 13, (c.changeXid ?? 0) >>> 0, true);
    this.pos += 17;
  }

  private static txnSize(txn: ReorderTxn): number {
    return 65 + (txn.gid === undefined ? 0 : 4 + 3 * txn.gid.length);
  }

  private putTxn(txn: ReorderTxn): void {
    // A transaction's changes come with the object its begin came with: sent once, then named as the same.
    if (txn === this.lastTxn) {
      this.buf[this.pos++] = T_SAME;
      return;
    }
    this.lastTxn = txn;
    const v = this.view;
    let p = this.pos;
    let flags = 0;
    if (txn.originLsn !== undefined) flags |= T_ORIGIN_LSN;
    if (txn.gid !== undefined) flags |= T_GID;
    if (txn.prepareEndLsn !== undefined) flags |= T_PREPARE_END;
    if (txn.prepareTime !== undefined) flags |= T_PREPARE_TIME;
    if (txn.streamed !== undefined) flags |= txn.streamed ? T_STREAMED | T_STREAMED_TRUE : T_STREAMED;
    this.buf[p++] = flags;
    v.setUint32(p, txn.xid >>> 0, true);
    v.setFloat64(p + 4, txn.firstLsn, true);
    v.setFloat64(p + 12, txn.finalLsn, true);
    v.setFloat64(p + 20, txn.endLsn, true);
    v.setBigInt64(p + 28, txn.commitTime, true);
    v.setUint32(p + 36, txn.originId >>> 0, true);
    v.setFloat64(p + 40, txn.originLsn ?? 0, true);
    v.setFloat64(p + 48, txn.prepareEndLsn ?? 0, true);
    p += 56;
    if (txn.prepareTime !== undefined) v.setBigInt64(p, txn.prepareTime, true);
    p += 8;
    if (txn.gid !== undefined) p = this.putText(p, txn.gid);
    this.pos = p;
  }

  /** A string as u32 length and UTF-8 bytes at `p` (room for 4 + 3 × its length made): the end. */
  private putText(p: number, s: string): number {
    const n = encoder.encodeInto(s, this.buf.subarray(p + 4)).written;
    this.view.setUint32(p, n, true);
    return p + 4 + n;
  }

  private txnCall(op: number, ctx: OutputContext, txn: ReorderTxn): void {
    if (!this.alwaysShipped) this.always(ctx);
    this.room(17 + ShippingPlugin.txnSize(txn));
    this.head(op, ctx);
    this.putTxn(txn);
  }

  private streamAbort(ctx: OutputContext, txn: ReorderTxn, abortLsn: Lsn, topXid: number): void {
    this.room(17 + ShippingPlugin.txnSize(txn) + 12);
    this.head(OP_STREAM_ABORT, ctx);
    this.putTxn(txn);
    this.view.setFloat64(this.pos, abortLsn, true);
    this.view.setUint32(this.pos + 8, topXid >>> 0, true);
    this.pos += 12;
  }

  /** The relation of the change before, and its column types. */
  private lastRel: DecoderRelation | undefined = undefined;
  private lastTypes: ColumnTypes | undefined = undefined;

  /** The relation as the catalog answers now, and its columns' types, shipped where they are new. */
  private relation(ctx: OutputContext, rel: DecoderRelation): ColumnTypes {
    let ct = this.lastTypes;
    if (rel !== this.lastRel) {
      ct = undefined;
      const recent = this.recent;
      for (let i = 0; i < recent.length; i++) {
        const r = recent[i];
        if (r !== undefined && r.rel === rel) {
          ct = r;
          break;
        }
      }
      if (ct === undefined) {
        ct = this.columnTypes.get(rel);
        if (ct === undefined) {
          const oids = [...new Set(rel.attributes.filter((a) => !a.dropped).map((a) => a.typeOid))];
          ct = { rel, current: false, oids, dynamic: oids.some((oid) => this.dynamic(ctx, oid, 0)), seen: [], seenAt: -1 };
          this.columnTypes.set(rel, ct);
        }
        recent[this.recentNext] = ct;
        this.recentNext = (this.recentNext + 1) % recent.length;
      }
      if (!ct.current) {
        const before = this.relations.get(rel.oid);
        if (before !== undefined) before.current = false;
        ct.current = true;
        this.relations.set(rel.oid, ct);
        this.send({ t: 'relation', relation: rel });
      }
      this.lastRel = rel;
      this.lastTypes = ct;
    }
    // Types are asked for at every change: the catalog may answer with a new one (an enum's new label) at any.
    // Built-in types are the exception: what a plugin reads of them (bootstrap names and output functions) is
    // the same at every point, so they are asked at the first change of each relation object (a DDL makes a new
    // one) and where the answer was none; the catalog lookups per change are then those of user types alone.
    const oids = ct!.oids;
    const seen = ct!.seen;
    // The same answers as at this relation's last change, with `types` unchanged since: nothing to look up or ship.
    const same = ct!.seenAt === this.typesVersion;
    const first = ct!.seenAt < 0;
    let fresh: TypeInfo[] | undefined;
    for (let i = 0; i < oids.length; i++) {
      const oid = oids[i]!;
      if (oid < FIRST_NORMAL_OBJECT_ID && !first && seen[i] !== undefined) continue;
      const t = ctx.type(oid);
      if (same && t === seen[i]) continue;
      seen[i] = t;
      if (t !== undefined && this.types.get(oid) !== t) fresh = this.closure(ctx, t, (fresh ??= []));
    }
    if (fresh !== undefined) this.send({ t: 'types', types: fresh });
    ct!.seenAt = this.typesVersion;
    return ct!;
  }

  /** Whether values of type `oid` may name types outside its closure (then each row is probed). */
  private dynamic(ctx: OutputContext, oid: number | undefined, depth: number): boolean {
    if (oid === undefined || oid === 0) return false;
    const t = ctx.type(oid);
    if (t === undefined || depth > 20) return false;
    if (DYNAMIC_OUTPUTS.has(t.output)) return true;
    if (t.output === 'record_out' && t.fields === undefined) return true;
    if (t.output === 'range_out' && t.rangeSubtype === undefined) return true;
    const d = depth + 1;
    return this.dynamic(ctx, t.elem, d) || this.dynamic(ctx, t.baseType, d) || this.dynamic(ctx, t.rangeSubtype, d) || (t.fields ?? []).some((f) => this.dynamic(ctx, f.typeOid, d));
  }

  private alwaysShipped = false;

  private always(ctx: OutputContext): void {
    this.alwaysShipped = true;
    const out: TypeInfo[] = [];
    for (const oid of ALWAYS_TYPES) {
      const t = ctx.type(oid);
      if (t !== undefined && this.types.get(oid) !== t) this.closure(ctx, t, out);
    }
    if (out.length > 0) this.send({ t: 'types', types: out });
  }

  /** `t` and the types its values name through it (elements, fields, bases, ranges), where not shipped as they are. */
  private closure(ctx: OutputContext, t: TypeInfo, out: TypeInfo[]): TypeInfo[] {
    if (this.types.get(t.oid) === t) return out;
    this.types.set(t.oid, t);
    this.typesVersion++;
    out.push(t);
    const next = (oid: number | undefined): void => {
      if (oid === undefined || oid === 0) return;
      const u = ctx.type(oid);
      if (u !== undefined) this.closure(ctx, u, out);
    };
    next(t.elem);
    next(t.baseType);
    next(t.rangeSubtype);
    next(t.rangeType);
    for (const f of t.fields ?? []) next(f.typeOid);
    return out;
  }

  /**
   * A row whose values name types of their own (regtype, records, ranges): printed here once, its output
   * dropped, so that every type the printing looks up is shipped before it.
   */
  private probeRow(ctx: OutputContext, txn: ReorderTxn, ch: RowChange): void {
    const met: TypeInfo[] = [];
    const probeCtx: OutputContext = {
      major: ctx.major,
      write: () => {},
      type: (oid) => {
        const t = ctx.type(oid);
        if (t !== undefined) met.push(t);
        return t;
      },
    };
    try {
      this.probe.change(probeCtx, txn, ch);
    } catch {
      // The replaying thread meets the same failure and reports it.
    }
    const out: TypeInfo[] = [];
    for (const t of met) this.closure(ctx, t, out);
    if (out.length > 0) this.send({ t: 'types', types: out });
  }

  private change(op: number, ctx: OutputContext, txn: ReorderTxn, ch: RowChange): void {
    if (!this.alwaysShipped) this.always(ctx);
    const rel = ch.relation;
    if (this.relation(ctx, rel).dynamic) this.probeRow(ctx, txn, ch);
    if (!(ch instanceof StoredRowChange)) {
      this.cloned(op, ctx, txn, { lsn: ch.lsn, action: ch.action, relid: rel.oid, newTuple: plain(ch.newTuple), oldTuple: plain(ch.oldTuple), oldRow: plain(ch.oldRow), oldRowComplete: ch.oldRowComplete });
      return;
    }
    const src = ch.change;
    const newLen = ch.newAt < 0 ? 0 : 10 + storedDataLength(src, ch.newAt);
    const oldLen = ch.oldAt < 0 ? 0 : 10 + storedDataLength(src, ch.oldAt);
    this.room(17 + ShippingPlugin.txnSize(txn) + 21 + newLen + oldLen);
    this.head(op, ctx);
    if (txn === this.lastTxn) this.buf[this.pos++] = T_SAME;
    else this.putTxn(txn);
    const v = this.view;
    let p = this.pos;
    const action = ch.action;
    // Compared, not looked up: a keyed load by string per change is a megamorphic lookup.
    this.buf[p] = action === 'INSERT' ? ACTION_CODE.INSERT : action === 'UPDATE' ? ACTION_CODE.UPDATE : ACTION_CODE.DELETE;
    v.setFloat64(p + 1, ch.lsn, true);
    v.setUint32(p + 9, rel.oid, true);
    v.setInt32(p + 13, ch.newAt < 0 ? -1 : newLen, true);
    v.setInt32(p + 17, ch.oldAt < 0 ? -1 : oldLen, true);
    p += 21;
    if (newLen > 0) {
      this.copy(src, ch.newAt, newLen, p);
      p += newLen;
    }
    if (oldLen > 0) {
      this.copy(src, ch.oldAt, oldLen, p);
      p += oldLen;
    }
    this.pos = p;
  }

  private truncate(op: number, ctx: OutputContext, txn: ReorderTxn, ch: TruncateChange): void {
    for (const r of ch.relations) this.relation(ctx, r);
    this.room(17 + ShippingPlugin.txnSize(txn) + 14 + 4 * ch.relations.length);
    this.head(op, ctx);
    this.putTxn(txn);
    const v = this.view;
    let p = this.pos;
    v.setFloat64(p, ch.lsn, true);
    this.buf[p + 8] = (ch.cascade ? 1 : 0) | (ch.restartSeqs ? 2 : 0);
    v.setUint32(p + 9, ch.relations.length, true);
    p += 13;
    for (const r of ch.relations) {
      v.setUint32(p, r.oid, true);
      p += 4;
    }
    this.pos = p;
  }

  private message(op: number, ctx: OutputContext, txn: ReorderTxn | undefined, m: MessageChange): void {
    if (!this.alwaysShipped) this.always(ctx);
    this.room(17 + (txn === undefined ? 0 : ShippingPlugin.txnSize(txn)) + 9 + 4 + 3 * m.prefix.length + 4 + m.content.length);
    this.head(op, ctx);
    if (txn !== undefined) this.putTxn(txn);
    const v = this.view;
    let p = this.pos;
    v.setFloat64(p, m.lsn, true);
    this.buf[p + 8] = m.transactional ? 1 : 0;
    p = this.putText(p + 9, m.prefix);
    v.setUint32(p, m.content.length, true);
    this.buf.set(m.content, p + 4);
    this.pos = p + 4 + m.content.length;
  }

  private cloned(op: number, ctx: OutputContext, txn: ReorderTxn, change: unknown): void {
    const c = ctx as Ctx;
    this.send({ t: 'call', op, lsn: c.lsn, xid: c.xid, changeXid: c.changeXid ?? 0, txn: { ...txn }, change });
  }
}

/** Values as plain objects (a BytesValue is a view of its change: its bytes are copied out). */
function plain(values: readonly RawValue[] | undefined): RawValue[] | undefined {
  return values?.map((v) => (v instanceof BytesValue ? { kind: 'bytes', bytes: v.bytes.slice() } : v));
}

/** Where the replaying thread's plugin writes: the decoding thread's row sink, as the CLI prints rows. */
export interface ReplaySink {
  /** A text or bytes row at `lsn` / `xid`. */
  row(lsn: Lsn, xid: number, data: string | Uint8Array): void;
  /** The rows so far are those of records processed whole. */
  recordEnd?(): void;
  /** Text rows as bytes (undefined: rows come to `row`). */
  readonly textRows?: { start(lsn: Lsn, xid: number): ReturnType<TextRowBytes['start']>; end(): void; cancel(): void } | undefined;
}

/**
 * The other thread's side: replays shipped callbacks, in order, against `plugin`, with a context that answers
 * types and relations from what was shipped. Errors come out of `receive` as they would from the decoder.
 */
export class CallbackReplayer {
  private lastTxn: ReorderTxn | undefined = undefined;
  private transientRow: StoredRowChange | undefined = undefined;
  private readonly relations = new Map<number, DecoderRelation>();
  private readonly types = new Map<number, TypeInfo>();
  private readonly ctx: OutputContext & { lsn: Lsn; xid: number; changeXid: number; typesVersion: number };

  constructor(
    private readonly plugin: OutputPlugin,
    major: number,
    private readonly sink: ReplaySink,
    private readonly timezone: string | undefined,
  ) {
    const types = this.types;
    const relations = this.relations;
    const rows = sink.textRows;
    const ctx = {
      major,
      lsn: 0,
      xid: 0,
      changeXid: 0,
      write: (data: string | Uint8Array) => sink.row(ctx.lsn, ctx.xid, data),
      textRows: rows === undefined ? undefined : { start: () => rows.start(ctx.lsn, ctx.xid), end: () => rows.end(), cancel: () => rows.cancel() },
      type: (oid: number) => types.get(oid),
      // Types change only as they are shipped.
      typesVersion: 0,
      relation: (oid: number) => relations.get(oid),
    };
    this.ctx = ctx;
  }

  receive(m: ShipMessage): void {
    if (m.t === 'relation') this.relations.set(m.relation.oid, m.relation);
    else if (m.t === 'types') {
      for (const t of m.types) this.types.set(t.oid, t);
      this.ctx.typesVersion++;
    }
    else {
      const zone = this.timezone;
      if (zone === undefined || zone === 'UTC') this.replay(m);
      else withOutputTimeZone(zone, () => this.replay(m));
    }
  }

  private replay(m: ShipMessage): void {
    try {
      if (m.t === 'batch') this.batch(m.buf, m.length);
      else if (m.t === 'call') this.call(m);
    } catch (e) {
      // As the reorder buffer names a malformed value (valueError).
      if (e instanceof RangeError) throw new WalFormatError('invalid-datum', `a value of the change at ${formatLsn(this.ctx.lsn)} is malformed: ${e.message}`, { lsn: this.ctx.lsn });
      throw e;
    }
  }

  private relationOf(oid: number): DecoderRelation {
    const r = this.relations.get(oid);
    if (r === undefined) throw new WalError('internal', `relation ${oid} was not shipped before its change`);
    return r;
  }

  private call(m: Extract<ShipMessage, { t: 'call' }>): void {
    const ctx = this.ctx;
    ctx.lsn = m.lsn;
    ctx.xid = m.xid;
    ctx.changeXid = m.changeXid;
    const p = this.plugin;
    if (m.op === OP_DDL) {
      p.ddl!(ctx, m.txn!, m.change as SchemaChange);
      return;
    }
    const c = m.change as { lsn: Lsn; action: RowAction; relid: number; newTuple?: RawValue[]; oldTuple?: RawValue[]; oldRow?: RawValue[]; oldRowComplete?: boolean };
    const row: RowChange = {
      kind: 'row',
      lsn: c.lsn,
      action: c.action,
      relation: this.relationOf(c.relid),
      ...(c.newTuple !== undefined ? { newTuple: c.newTuple } : {}),
      ...(c.oldTuple !== undefined ? { oldTuple: c.oldTuple } : {}),
      ...(c.oldRow !== undefined ? { oldRow: c.oldRow } : {}),
      ...(c.oldRowComplete !== undefined ? { oldRowComplete: c.oldRowComplete } : {}),
    };
    if (m.op === OP_STREAM_CHANGE) p.streamChange!(ctx, m.txn!, row);
    else p.change(ctx, m.txn!, row);
  }

  private batch(buf: Uint8Array, length: number): void {
    const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    const ctx = this.ctx;
    const p = this.plugin;
    let at = 0;
    let txn: ReorderTxn | undefined;
    const transient = p.transientRowChanges === true;
    const readTxn = (): ReorderTxn => {
      const flags = buf[at]!;
      if (flags === T_SAME) {
        at++;
        return this.lastTxn!;
      }
      const o = at + 1;
      const t: { -readonly [K in keyof ReorderTxn]: ReorderTxn[K] } = {
        xid: v.getUint32(o, true),
        firstLsn: v.getFloat64(o + 4, true),
        finalLsn: v.getFloat64(o + 12, true),
        endLsn: v.getFloat64(o + 20, true),
        commitTime: v.getBigInt64(o + 28, true),
        originId: v.getUint32(o + 36, true),
      };
      if (flags & T_ORIGIN_LSN) t.originLsn = v.getFloat64(o + 40, true);
      if (flags & T_PREPARE_END) t.prepareEndLsn = v.getFloat64(o + 48, true);
      if (flags & T_PREPARE_TIME) t.prepareTime = v.getBigInt64(o + 56, true);
      at = o + 64;
      if (flags & T_GID) t.gid = readText();
      if (flags & T_STREAMED) t.streamed = (flags & T_STREAMED_TRUE) !== 0;
      this.lastTxn = t;
      return t;
    };
    const readText = (): string => {
      const n = v.getUint32(at, true);
      const s = decoder.decode(buf.subarray(at + 4, at + 4 + n));
      at += 4 + n;
      return s;
    };
    while (at < length) {
      const op = buf[at]!;
      if (op === OP_RECORD_END) {
        at++;
        this.sink.recordEnd?.();
        continue;
      }
      ctx.lsn = v.getFloat64(at + 1, true);
      ctx.xid = v.getUint32(at + 9, true);
      ctx.changeXid = v.getUint32(at + 13, true);
      at += 17;
      txn = op === OP_MESSAGE_NO_TXN ? undefined : readTxn();
      switch (op) {
        case OP_BEGIN:
          p.begin(ctx, txn!);
          break;
        case OP_BEGIN_PREPARE:
          p.beginPrepare!(ctx, txn!);
          break;
        case OP_COMMIT:
          p.commit(ctx, txn!);
          break;
        case OP_PREPARE:
          p.prepare!(ctx, txn!);
          break;
        case OP_COMMIT_PREPARED:
          p.commitPrepared!(ctx, txn!);
          break;
        case OP_ROLLBACK_PREPARED:
          p.rollbackPrepared!(ctx, txn!);
          break;
        case OP_STREAM_START:
          p.streamStart!(ctx, txn!);
          break;
        case OP_STREAM_STOP:
          p.streamStop!(ctx, txn!);
          break;
        case OP_STREAM_PREPARE:
          p.streamPrepare!(ctx, txn!);
          break;
        case OP_STREAM_COMMIT:
          p.streamCommit!(ctx, txn!);
          break;
        case OP_STREAM_ABORT: {
          const abortLsn = v.getFloat64(at, true);
          const topXid = v.getUint32(at + 8, true);
          at += 12;
          p.streamAbort!(ctx, txn!, abortLsn, topXid);
          break;
        }
        case OP_CHANGE:
        case OP_STREAM_CHANGE: {
          const action = ACTIONS[buf[at]!]!;
          const lsn = v.getFloat64(at + 1, true);
          const rel = this.relationOf(v.getUint32(at + 9, true));
          const newLen = v.getInt32(at + 13, true);
          const oldLen = v.getInt32(at + 17, true);
          at += 21;
          const newAt = newLen < 0 ? -1 : at;
          if (newLen > 0) at += newLen;
          const oldAt = oldLen < 0 ? -1 : at;
          if (oldLen > 0) at += oldLen;
          // A plugin that keeps no change gets one object refilled (as the reorder buffer passes it).
          const row = transient ? (this.transientRow ??= new StoredRowChange(lsn, action, rel, buf, newAt, oldAt)).refill(lsn, action, rel, buf, newAt, oldAt) : new StoredRowChange(lsn, action, rel, buf, newAt, oldAt);
          if (op === OP_CHANGE) p.change(ctx, txn!, row);
          else p.streamChange!(ctx, txn!, row);
          break;
        }
        case OP_TRUNCATE:
        case OP_STREAM_TRUNCATE: {
          const lsn = v.getFloat64(at, true);
          const flags = buf[at + 8]!;
          const n = v.getUint32(at + 9, true);
          at += 13;
          const relations: DecoderRelation[] = [];
          for (let i = 0; i < n; i++, at += 4) relations.push(this.relationOf(v.getUint32(at, true)));
          const tc: TruncateChange = { kind: 'truncate', lsn, relations, cascade: (flags & 1) !== 0, restartSeqs: (flags & 2) !== 0 };
          if (op === OP_TRUNCATE) p.truncate(ctx, txn!, tc);
          else p.streamTruncate!(ctx, txn!, tc);
          break;
        }
        case OP_MESSAGE:
        case OP_MESSAGE_NO_TXN:
        case OP_STREAM_MESSAGE: {
          const lsn = v.getFloat64(at, true);
          const transactional = buf[at + 8] === 1;
          at += 9;
          const prefix = readText();
          const n = v.getUint32(at, true);
          const content = buf.slice(at + 4, at + 4 + n);
          at += 4 + n;
          const mc: MessageChange = { kind: 'message', lsn, transactional, prefix, content };
          if (op === OP_STREAM_MESSAGE) p.streamMessage!(ctx, txn!, mc);
          else p.message(ctx, txn, mc);
          break;
        }
        default:
          throw new WalError('internal', `shipped callback ${op} is unknown`);
      }
    }
  }
}

/** What the CLI's loop drives on the decoding thread, whatever is shipped (callbacks or rows). */
export interface Shipper {
  ship(post: (m: ShipMessage, transfer?: ArrayBuffer[]) => void): void;
  recordEnd(): void;
  flush(): void;
  giveBack(buf: Uint8Array): void;
  readonly shipping: boolean;
}
