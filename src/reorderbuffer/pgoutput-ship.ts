// pgoutput on two threads (what `pgwal decode --plugin pgoutput --format-thread` uses). The plugin stays on the
// decoding thread with all its state (publications, invalidations, relations sent), so any option and any point of
// switching (even inside a transaction) gives the same rows; its messages go in batches to the other thread, which
// prints them as hex lines. A stored change whose published columns are all of built-in types goes as its tuple
// bytes instead (the plugin's rowSink), and the other thread writes its message as the plugin would
// (PgOutputRowWriter, in text or binary as the plugin's option says): the writing of values is off the decoding
// thread too, and so is that of Begin and Commit (txnSink). Row filters and user types keep the message written on
// the decoding thread. The batches are framed as ship.ts's (ShippingPlugin's).
import { WalError, WalFormatError } from '../errors.js';
import { formatLsn, type Lsn } from '../lsn.js';
import type { DecoderRelation } from './catalog.js';
import { storedDataLength, StoredRowChange } from './change.js';
import type { OutputContext } from './plugin.js';
import { MessageWriter, writeBegin, writeCommit } from './pgoutput-proto.js';
import { FIRST_GENBKI_OBJECT_ID, PgOutputRowWriter, type RowTarget } from './pgoutput-rows.js';
import type { PgOutputRowSink, PgOutputTxnSink } from './pgoutput.js';
import { ACTION_CODE, ACTIONS, DYNAMIC_OUTPUTS, type Ctx, type ShipMessage } from './ship.js';
import { OP_RECORD_END, ShipBatch } from './ship-batch.js';
import { withOutputTimeZone, type TypeInfo } from './values.js';

/** A binary row (pgoutput's message): its LSN, xid, length and bytes. */
const OP_BYTES_ROW = 21;
/** A stored change for pgoutput's row message, written there: as ShippingPlugin's change, with its RowTarget's id and xid. */
const OP_STORED_ROW = 22;
/** A Begin message, written there from its fields: final LSN, commit time, xid. */
const OP_BEGIN_ROW = 23;
/** A Commit message, written there from its fields: commit LSN, end LSN, commit time. */
const OP_COMMIT_ROW = 24;

/** A RowTarget as shipped (an entry is updated in place: a changed one is shipped again); `ok`: written there. */
type ShippedTarget = { id: number; relation: DecoderRelation; target: DecoderRelation; columns: number[]; map: number[] | undefined; ok: boolean };

/** The decoding thread's side: pgoutput's messages (`row`) and stored changes (`storedRow`) into batches. */
export class BytesRowShipper extends ShipBatch {
  constructor(batchSize = 1024 * 1024) {
    super(batchSize);
  }

  /** Per RowTarget object: the id it was shipped under, with what it was as shipped (an entry is updated in place). */
  private readonly targets = new WeakMap<RowTarget, ShippedTarget>();
  private nextTarget = 1;
  /** The RowTarget of the row before (most rows follow one of the same relation), and what it was shipped as. */
  private lastTarget: RowTarget | undefined = undefined;
  private lastShipped: ShippedTarget | undefined = undefined;
  /** Built-in types shipped (fixed for the session). */
  private readonly typesSent = new Set<number>();

  /**
   * The plugin's rowSink: `ch` shipped as its tuple bytes, its message to be written there with `e` and `xid`; false
   * (written here) when a published column's type is not a built-in one whose values name no other types.
   */
  readonly storedRow: PgOutputRowSink = (ctx, e, xid, ch) => {
    let t = e === this.lastTarget ? this.lastShipped : this.targets.get(e);
    if (t === undefined || t.relation !== e.relation || t.target !== e.target || t.columns !== e.columns || t.map !== e.map) {
      t = { id: this.nextTarget++, relation: e.relation, target: e.target, columns: e.columns, map: e.map, ok: this.builtIn(ctx, e) };
      this.targets.set(e, t);
      if (t.ok) this.send({ t: 'rowTarget', id: t.id, target: { relation: e.relation, target: e.target, map: e.map, columns: e.columns } });
    }
    this.lastTarget = e;
    this.lastShipped = t;
    if (!t.ok) return false;
    const c = ctx as Ctx;
    const src = ch.change;
    const newLen = ch.newAt < 0 ? 0 : 10 + storedDataLength(src, ch.newAt);
    const oldLen = ch.oldAt < 0 ? 0 : 10 + storedDataLength(src, ch.oldAt);
    this.inRecord = true;
    this.room(21 + 8 + 9 + newLen + oldLen);
    const buf = this.buf;
    const v = this.view;
    let p = this.pos;
    buf[p] = OP_STORED_ROW;
    v.setFloat64(p + 1, c.lsn, true);
    v.setUint32(p + 9, c.xid >>> 0, true);
    v.setUint32(p + 13, t.id, true);
    v.setUint32(p + 17, xid >>> 0, true);
    v.setFloat64(p + 21, ch.lsn, true);
    const action = ch.action;
    buf[p + 29] = action === 'INSERT' ? ACTION_CODE.INSERT : action === 'UPDATE' ? ACTION_CODE.UPDATE : ACTION_CODE.DELETE;
    v.setInt32(p + 30, ch.newAt < 0 ? -1 : newLen, true);
    v.setInt32(p + 34, ch.oldAt < 0 ? -1 : oldLen, true);
    p += 38;
    if (newLen > 0) {
      this.copy(src, ch.newAt, newLen, p);
      p += newLen;
    }
    if (oldLen > 0) {
      this.copy(src, ch.oldAt, oldLen, p);
      p += oldLen;
    }
    this.pos = p;
    return true;
  };

  /** Whether every published column is of a built-in type whose values name none outside its closure; those types shipped. */
  private builtIn(ctx: OutputContext, e: RowTarget): boolean {
    const fresh: TypeInfo[] = [];
    const add = (oid: number | undefined, depth: number): boolean => {
      if (oid === undefined || oid === 0) return true;
      if (oid >= FIRST_GENBKI_OBJECT_ID || depth > 20) return false;
      const t = ctx.type(oid);
      if (t === undefined || DYNAMIC_OUTPUTS.has(t.output) || (t.output === 'record_out' && t.fields === undefined) || (t.output === 'range_out' && t.rangeSubtype === undefined)) return false;
      if (!this.typesSent.has(oid) && !fresh.includes(t)) fresh.push(t);
      const d = depth + 1;
      return add(t.elem, d) && add(t.baseType, d) && add(t.rangeSubtype, d) && (t.fields ?? []).every((f) => add(f.typeOid, d));
    };
    for (const i of e.columns) if (!add(e.target.attributes[i]!.typeOid, 0)) return false;
    if (fresh.length > 0) {
      for (const t of fresh) this.typesSent.add(t.oid);
      this.send({ t: 'types', types: fresh });
    }
    return true;
  }

  /** The plugin's txnSink: Begin and Commit as their fields (no message written and copied here). */
  readonly txnSink: PgOutputTxnSink = {
    begin: (ctx, finalLsn, commitTime, xid) => {
      const c = ctx as Ctx;
      this.inRecord = true;
      this.room(33);
      const p = this.pos;
      const v = this.view;
      this.buf[p] = OP_BEGIN_ROW;
      v.setFloat64(p + 1, c.lsn, true);
      v.setUint32(p + 9, c.xid >>> 0, true);
      v.setFloat64(p + 13, finalLsn, true);
      v.setBigInt64(p + 21, commitTime, true);
      v.setUint32(p + 29, xid >>> 0, true);
      this.pos = p + 33;
    },
    commit: (ctx, commitLsn, endLsn, commitTime) => {
      const c = ctx as Ctx;
      this.inRecord = true;
      this.room(37);
      const p = this.pos;
      const v = this.view;
      this.buf[p] = OP_COMMIT_ROW;
      v.setFloat64(p + 1, c.lsn, true);
      v.setUint32(p + 9, c.xid >>> 0, true);
      v.setFloat64(p + 13, commitLsn, true);
      v.setFloat64(p + 21, endLsn, true);
      v.setBigInt64(p + 29, commitTime, true);
      this.pos = p + 37;
    },
  };

  /** One row, `bytes[0, n)` copied (the plugin reuses its buffer). */
  readonly row = (lsn: Lsn, xid: number, bytes: Uint8Array, n: number): void => {
    this.inRecord = true;
    this.room(17 + n);
    const p = this.pos;
    const buf = this.buf;
    const v = this.view;
    buf[p] = OP_BYTES_ROW;
    v.setFloat64(p + 1, lsn, true);
    v.setUint32(p + 9, xid >>> 0, true);
    v.setUint32(p + 13, n, true);
    // A byte loop is slower than a view and a copy from about 16 bytes on.
    if (n <= 16) for (let i = 0; i < n; i++) buf[p + 17 + i] = bytes[i]!;
    else buf.set(bytes.subarray(0, n), p + 17);
    this.pos = p + 17 + n;
  };
}

/** The other thread's side of BytesRowShipper: rows printed by `sink`, stored changes' messages written first. */
export class BytesRowReplayer {
  private readonly targets = new Map<number, RowTarget>();
  private readonly types = new Map<number, TypeInfo>();
  private readonly rows: PgOutputRowWriter;
  private readonly ctx: OutputContext & { lsn: Lsn };
  /** The change being written, one object refilled per row (its message is written before the next). */
  private readonly stored = new StoredRowChange(0, 'INSERT', undefined as unknown as DecoderRelation, new Uint8Array(0), -1, -1);

  constructor(
    private readonly sink: { row(lsn: Lsn, xid: number, bytes: Uint8Array, n: number): void; recordEnd(): void },
    major: number,
    private readonly timezone: string | undefined,
    /** The plugin's `binary` option: values in their send format. */
    binary = false,
  ) {
    this.rows = new PgOutputRowWriter(new MessageWriter(), binary);
    const types = this.types;
    this.ctx = {
      major,
      lsn: 0,
      write: () => {
        throw new WalError('internal', 'a pgoutput row written as text');
      },
      type: (oid: number) => types.get(oid),
    };
  }

  receive(m: ShipMessage): void {
    if (m.t === 'rowTarget') this.targets.set(m.id, m.target);
    else if (m.t === 'types') for (const t of m.types) this.types.set(t.oid, t);
    else if (m.t === 'batch') {
      const zone = this.timezone;
      if (zone === undefined || zone === 'UTC') this.batch(m.buf, m.length);
      else withOutputTimeZone(zone, () => this.batch(m.buf, m.length));
    } else throw new WalError('internal', `a ${m.t} message among shipped rows`);
  }

  private batch(buf: Uint8Array, length: number): void {
    const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    const sink = this.sink;
    let at = 0;
    while (at < length) {
      const op = buf[at]!;
      if (op === OP_RECORD_END) {
        at++;
        sink.recordEnd();
      } else if (op === OP_BYTES_ROW) {
        const n = v.getUint32(at + 13, true);
        sink.row(v.getFloat64(at + 1, true), v.getUint32(at + 9, true), buf.subarray(at + 17, at + 17 + n), n);
        at += 17 + n;
      } else if (op === OP_BEGIN_ROW) {
        const w = writeBegin(this.rows.w, v.getFloat64(at + 13, true), v.getBigInt64(at + 21, true), v.getUint32(at + 29, true));
        sink.row(v.getFloat64(at + 1, true), v.getUint32(at + 9, true), w.buffer, w.length);
        at += 33;
      } else if (op === OP_COMMIT_ROW) {
        const w = writeCommit(this.rows.w, v.getFloat64(at + 13, true), v.getFloat64(at + 21, true), v.getBigInt64(at + 29, true));
        sink.row(v.getFloat64(at + 1, true), v.getUint32(at + 9, true), w.buffer, w.length);
        at += 37;
      } else if (op === OP_STORED_ROW) {
        const lsn = v.getFloat64(at + 1, true);
        const xid = v.getUint32(at + 9, true);
        const id = v.getUint32(at + 13, true);
        const e = this.targets.get(id);
        if (e === undefined) throw new WalError('internal', `row target ${id} was not shipped before its change`);
        const streamXid = v.getUint32(at + 17, true);
        const changeLsn = v.getFloat64(at + 21, true);
        const action = ACTIONS[buf[at + 29]!]!;
        const newLen = v.getInt32(at + 30, true);
        const oldLen = v.getInt32(at + 34, true);
        at += 38;
        const newAt = newLen < 0 ? -1 : at;
        if (newLen > 0) at += newLen;
        const oldAt = oldLen < 0 ? -1 : at;
        if (oldLen > 0) at += oldLen;
        const ch = this.stored.refill(changeLsn, action, e.relation, buf, newAt, oldAt);
        this.ctx.lsn = lsn;
        let w: MessageWriter;
        try {
          w = this.rows.write(this.ctx, e, action, streamXid, ch, oldAt >= 0, ch, undefined);
        } catch (err) {
          // As the reorder buffer names a malformed value (valueError).
          if (err instanceof RangeError) throw new WalFormatError('invalid-datum', `a value of the change at ${formatLsn(lsn)} is malformed: ${err.message}`, { lsn });
          throw err;
        }
        sink.row(lsn, xid, w.buffer, w.length);
      } else throw new WalError('internal', `shipped row ${op} is unknown`);
    }
  }
}
