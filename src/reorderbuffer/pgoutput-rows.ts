// pgoutput's row messages (Insert, Update, Delete) as logicalrep_write_insert/update/delete write them, apart from
// the plugin that decides whether and as which relation a change is published: the CLI's second thread writes
// them from the stored tuples shipped to it (ship.ts), the plugin on one thread.
import { splitDays, splitTod } from './timestamp-days.js';
import { WalFormatError } from '../errors.js';
import { formatLsn, type Lsn } from '../lsn.js';
import type { DecoderRelation } from './catalog.js';
import type { OutputContext, RowChange } from './plugin.js';
import { sendValue } from './pgoutput-send.js';
import { COLUMN_BINARY, COLUMN_NULL, COLUMN_TEXT, COLUMN_UNCHANGED, MessageWriter, MSG_DELETE, MSG_INSERT, MSG_UPDATE } from './pgoutput-proto.js';
import { PgOutputUnsupportedError } from './pgoutput-catalog.js';
import { ATT_BYTES, ATT_MISSING, ATT_NULL, ATT_TOAST, BytesValue, deformTupleInto, type Attribute, type RawValue } from './tuple.js';
import { StoredRowChange, storedDataLength, storedDataOffset, storedHoff, storedInfomask, storedInfomask2 } from './change.js';
import { outputValue, outputValueAt, type TypeInfo } from './values.js';

const utf8 = new TextEncoder();

/** Types below this OID are built in: fixed for the session. */
export const FIRST_GENBKI_OBJECT_ID = 10000;

/** How a relation's changes are written: the part of its RelationSyncEntry the row messages need. */
export interface RowTarget {
  relation: DecoderRelation;
  /** The relation changes are published as: the relation, or (publish_via_partition_root) its ancestor. */
  target: DecoderRelation;
  /** With an ancestor target: for each of its attributes, the partition's attribute index (-1: none). */
  map: number[] | undefined;
  /** Published columns (attribute indexes into target.attributes), in attnum order. */
  columns: number[];
  /** How its stored changes' columns are written (storedTuple), for this relation and target. */
  plan?: StoredPlan;
}

// How storedTuple writes a published column that has bytes: by its type's output function.
/** Another output function (outputValueAt). */
const OUT_OTHER = 0;
/** textout, varcharout, bpcharout: the stored bytes are the text. */
const OUT_COPY = 1;
/** int4out: the digits, written without a string. */
const OUT_INT4 = 2;

export interface StoredPlan {
  relation: DecoderRelation;
  target: DecoderRelation;
  /** Per published column: the stored tuple's attribute index it is read from (-1: none, null). */
  from: Int32Array;
  /** Per published column: OUT_*. */
  out: Uint8Array;
  /** Per published column in binary: 1 its stored bytes, 4 or 8 a fixed-length datum reversed, 0 sendValue. */
  bin: Uint8Array;
  /** Per published column: its type when built in (fixed for the session), else undefined (looked up per value). */
  types: (TypeInfo | undefined)[];
}

/** Writes row messages into `w`; one per plugin (or thread), its buffers reused. */
export class PgOutputRowWriter {
  constructor(
    readonly w: MessageWriter,
    private readonly binary: boolean,
  ) {}

  /**
   * The message of a published change: `stored` (the change itself, when its values may be written from its
   * stored bytes) or the values (`newTuple`: the new row as a row filter left it, else the change's).
   */
  write(ctx: OutputContext, e: RowTarget, action: RowChange['action'], xid: number, change: RowChange, hasOld: boolean, stored: StoredRowChange | undefined, newTuple: readonly RawValue[] | undefined): MessageWriter {
    const target = e.target;
    const w = this.w.reset();
    // Values of a change as the reorder buffer stored it are written straight from its bytes (no value objects).
    if (action === 'INSERT') {
      // see logicalrep_write_insert (proto.c)
      w.byte(MSG_INSERT);
      if (xid !== 0) w.int32(xid);
      w.int32(target.oid).byte(0x4e); // 'N'
      if (stored === undefined || !this.storedTuple(ctx, e, stored, stored.newAt)) this.tuple(ctx, e, (newTuple ?? change.newTuple)!, change.lsn);
    } else if (action === 'UPDATE') {
      // see logicalrep_write_update (proto.c)
      w.byte(MSG_UPDATE);
      if (xid !== 0) w.int32(xid);
      w.int32(target.oid);
      if (hasOld) {
        w.byte(target.replIdent === 'f' ? 0x4f : 0x4b); // 'O' old tuple, 'K' old key
        if (stored === undefined || !this.storedTuple(ctx, e, stored, stored.oldAt)) this.tuple(ctx, e, change.oldTuple!, change.lsn);
      }
      w.byte(0x4e);
      if (stored === undefined || !this.storedTuple(ctx, e, stored, stored.newAt)) this.tuple(ctx, e, change.newTuple!, change.lsn);
    } else {
      // see logicalrep_write_delete (proto.c)
      w.byte(MSG_DELETE);
      if (xid !== 0) w.int32(xid);
      w.int32(target.oid).byte(target.replIdent === 'f' ? 0x4f : 0x4b);
      if (stored === undefined || !this.storedTuple(ctx, e, stored, stored.oldAt)) this.tuple(ctx, e, change.oldTuple!, change.lsn);
    }
    return w;
  }

  /** The stored tuple's column layout (deformTupleInto), reused. */
  private layout: Int32Array = new Int32Array(3 * 32);

  /** How `storedTuple` writes each published column of the entry, made at its first stored change. */
  private storedPlan(ctx: OutputContext, e: RowTarget): StoredPlan {
    const p = e.plan;
    if (p !== undefined && p.relation === e.relation && p.target === e.target) return p;
    const cols = e.columns;
    const from = new Int32Array(cols.length);
    const out = new Uint8Array(cols.length);
    const bin = new Uint8Array(cols.length);
    const types: (TypeInfo | undefined)[] = [];
    for (let j = 0; j < cols.length; j++) {
      const i = cols[j]!;
      from[j] = e.map === undefined ? i : e.map[i]!;
      const oid = e.target.attributes[i]!.typeOid;
      // A built-in type's output function is the same for the session; another's is looked up per value (an enum's
      // labels may grow without an invalidation of the relation).
      const t = oid < FIRST_GENBKI_OBJECT_ID ? ctx.type(oid) : undefined;
      types.push(t);
      const o = t?.output;
      out[j] = o === 'textout' || o === 'varcharout' || o === 'bpcharout' ? OUT_COPY : o === 'int4out' ? OUT_INT4 : OUT_OTHER;
      // As sendValue sends them (textsend, int4send, date_send, int8send, timestamp_send, float8send, …).
      bin[j] = out[j] === OUT_COPY ? 1 : o === 'int4out' || o === 'date_out' || o === 'oidout' ? 4 : o === 'int8out' || o === 'timestamp_out' || o === 'timestamptz_out' || o === 'float8out' ? 8 : 0;
    }
    return (e.plan = { relation: e.relation, target: e.target, from, out, bin, types });
  }

  /**
   * `tuple` for the stored tuple at offset `at` of the change (in binary: storedBinary), written from its bytes
   * through a layout of its columns (no value object per column): false, with nothing written, when a published
   * column is compressed inline (`tuple` decompresses it).
   */
  private storedTuple(ctx: OutputContext, e: RowTarget, ch: StoredRowChange, at: number): boolean {
    const src = ch.change;
    const attrs = ch.relation.attributes;
    const layout = (this.layout = deformTupleInto(this.layout, src, storedDataOffset(at), storedDataLength(src, at), storedInfomask2(src, at), storedInfomask(src, at), storedHoff(src, at), attrs, ch.lsn));
    const plan = this.storedPlan(ctx, e);
    if (this.binary) return this.storedBinary(ctx, e, plan, layout, src, attrs, ch.lsn);
    const from = plan.from;
    const kinds = plan.out;
    const n = from.length;
    const w = this.w;
    const start = w.length;
    w.int16(n);
    for (let j = 0; j < n; j++) {
      const k = from[j]!;
      const kind = k < 0 ? ATT_NULL : layout[3 * k]!;
      if (kind === ATT_BYTES) {
        const s = layout[3 * k + 1]!;
        const end = layout[3 * k + 2]!;
        const out = kinds[j]!;
        if (out === OUT_COPY) w.byte(COLUMN_TEXT).countedRange(src, s, end);
        else if (out === OUT_INT4 && end - s === 4) w.byte(COLUMN_TEXT).countedInt(src[s]! | (src[s + 1]! << 8) | (src[s + 2]! << 16) | (src[s + 3]! << 24));
        else this.storedValue(ctx, e, plan.types[j], e.columns[j]!, src, s, end, ch.lsn);
      } else if (kind === ATT_NULL) w.byte(COLUMN_NULL);
      else if (kind === ATT_TOAST) w.byte(COLUMN_UNCHANGED);
      else if (kind === ATT_MISSING) {
        const missing = attrs[k]!.missing;
        if (missing === undefined || missing === null) w.byte(COLUMN_NULL);
        else w.byte(COLUMN_TEXT).countedText(missing);
      } else {
        w.truncate(start);
        return false;
      }
    }
    return true;
  }

  /**
   * `tuple` in binary for a stored tuple laid out in `layout`: false, with nothing written, for a column `tuple`
   * writes otherwise (compressed inline, or missing: its error is tuple's).
   */
  private storedBinary(ctx: OutputContext, e: RowTarget, plan: StoredPlan, layout: Int32Array, src: Uint8Array, attrs: readonly Attribute[], lsn: Lsn): boolean {
    const from = plan.from;
    const bin = plan.bin;
    const n = from.length;
    const w = this.w;
    const start = w.length;
    w.int16(n);
    for (let j = 0; j < n; j++) {
      const k = from[j]!;
      const kind = k < 0 ? ATT_NULL : layout[3 * k]!;
      if (kind === ATT_BYTES) {
        const s = layout[3 * k + 1]!;
        const end = layout[3 * k + 2]!;
        const how = bin[j]!;
        if (how === 1) w.byte(COLUMN_BINARY).countedRange(src, s, end);
        else if (how !== 0 && end - s === how) w.byte(COLUMN_BINARY).countedReversed(src, s, how);
        else {
          const rel = e.target;
          const a = rel.attributes[e.columns[j]!]!;
          const type = plan.types[j] ?? ctx.type(a.typeOid);
          if (type === undefined) throw new WalFormatError('unknown-type', `type ${a.typeOid} of column ${a.name} of ${rel.namespace}.${rel.name} is not in the catalog (at ${formatLsn(lsn)})`, { lsn });
          try {
            w.byte(COLUMN_BINARY).counted(sendValue(src.subarray(s, end), type, ctx.type, `${a.name} of ${rel.namespace}.${rel.name}`));
          } catch (err) {
            if (err instanceof WalFormatError && err.lsn === undefined) throw new WalFormatError(err.code, `${err.message} (at ${formatLsn(lsn)})`, { lsn });
            throw err;
          }
        }
      } else if (kind === ATT_NULL) w.byte(COLUMN_NULL);
      else if (kind === ATT_TOAST) w.byte(COLUMN_UNCHANGED);
      else if (kind === ATT_MISSING && (attrs[k]!.missing ?? null) === null) w.byte(COLUMN_NULL);
      else {
        w.truncate(start);
        return false;
      }
    }
    return true;
  }

  /** A stored value whose text is made by its type's output function. */
  private storedValue(ctx: OutputContext, e: RowTarget, known: TypeInfo | undefined, i: number, src: Uint8Array, start: number, end: number, lsn: Lsn): void {
    const rel = e.target;
    const a = rel.attributes[i]!;
    const type = known ?? ctx.type(a.typeOid);
    if (type === undefined) throw new WalFormatError('unknown-type', `type ${a.typeOid} of column ${a.name} of ${rel.namespace}.${rel.name} is not in the catalog (at ${formatLsn(lsn)})`, { lsn });
    const out = type.output;
    const w = this.w;
    if (out === 'textout' || out === 'varcharout' || out === 'bpcharout') {
      w.byte(COLUMN_TEXT).countedRange(src, start, end);
      return;
    }
    if (out === 'int4out' && end - start === 4) {
      w.byte(COLUMN_TEXT).countedInt(src[start]! | (src[start + 1]! << 8) | (src[start + 2]! << 16) | (src[start + 3]! << 24));
      return;
    }
    if (out === 'timestamp_out' && end - start === 8 && this.timestamp(src, start, type, ctx)) return;
    let text: string;
    try {
      text = outputValueAt(src, start, end, type, ctx.type);
    } catch (err) {
      if (err instanceof WalFormatError && err.lsn === undefined) throw new WalFormatError(err.code, `${err.message} (column ${a.name} of ${rel.namespace}.${rel.name} at ${formatLsn(lsn)})`, { lsn });
      throw err;
    }
    w.byte(COLUMN_TEXT).countedText(text);
  }

  /** The day of the last timestamp written, and its date as outputValueAt prints it (with the blank). */
  private tsDays = Number.NaN;
  private tsDate = new Uint8Array(0);

  /**
   * A timestamp (without time zone) written as timestamp_out's text without a string: the date part as
   * outputValueAt printed it for the day (a column of timestamps mostly shares its day), the time from its digits.
   * False when not a safe integer of microseconds (years about 1715 to 2285: no BC, no infinity), which
   * outputValueAt prints.
   */
  private timestamp(src: Uint8Array, at: number, type: TypeInfo, ctx: OutputContext): boolean {
    const hi = src[at + 4]! | (src[at + 5]! << 8) | (src[at + 6]! << 16) | (src[at + 7]! << 24);
    if (hi < -0x200000 || hi >= 0x200000) return false;
    const lo = (src[at]! | (src[at + 1]! << 8) | (src[at + 2]! << 16)) + src[at + 3]! * 0x1000000;
    const us = hi * 0x1_0000_0000 + lo;
    const days = splitDays(us);
    const tod = splitTod;
    if (days !== this.tsDays) {
      const text = outputValueAt(src, at, at + 8, type, ctx.type);
      this.tsDate = utf8.encode(text.slice(0, text.indexOf(' ') + 1));
      this.tsDays = days;
    }
    this.w.byte(COLUMN_TEXT).countedTimestamp(this.tsDate, tod);
    return true;
  }

  // see logicalrep_write_tuple (proto.c)
  private tuple(ctx: OutputContext, e: RowTarget, values: readonly RawValue[], lsn: Lsn): void {
    const w = this.w;
    const rel = e.target;
    const map = e.map;
    w.int16(e.columns.length);
    for (const i of e.columns) {
      // Through an ancestor: the partition's value of the column of that name.
      const v = map === undefined ? values[i] : map[i]! < 0 ? undefined : values[map[i]!];
      if (v === undefined || v.kind === 'null' || (v.kind === 'missing' && v.text === null)) {
        w.byte(COLUMN_NULL);
        continue;
      }
      if (v.kind === 'toast') {
        w.byte(COLUMN_UNCHANGED);
        continue;
      }
      let text: string;
      if (v.kind === 'missing') {
        if (this.binary) {
          const a = rel.attributes[i]!;
          throw new PgOutputUnsupportedError('unsupported-type', `pgwal cannot write column ${a.name} of ${rel.namespace}.${rel.name} in binary: the row predates the column (its default is known as text only) (at ${formatLsn(lsn)})`, { lsn });
        }
        text = v.text!;
      } else {
        const a = rel.attributes[i]!;
        const type = ctx.type(a.typeOid);
        if (type === undefined) throw new WalFormatError('unknown-type', `type ${a.typeOid} of column ${a.name} of ${rel.namespace}.${rel.name} is not in the catalog (at ${formatLsn(lsn)})`, { lsn });
        if (this.binary) {
          if (v instanceof BytesValue) {
            // The commonest send functions written straight into the message (no value copy or string): a text
            // type sends its stored bytes (the database encoding is UTF-8), an integer or timestamp its bytes in
            // network order.
            const out = type.output;
            const n = v.end - v.start;
            if (out === 'textout' || out === 'varcharout' || out === 'bpcharout') {
              w.byte(COLUMN_BINARY).countedRange(v.src, v.start, v.end);
              continue;
            }
            if ((n === 4 && (out === 'int4out' || out === 'date_out' || out === 'oidout')) || (n === 8 && (out === 'int8out' || out === 'timestamp_out' || out === 'timestamptz_out' || out === 'float8out'))) {
              w.byte(COLUMN_BINARY).countedReversed(v.src, v.start, n);
              continue;
            }
          }
          try {
            w.byte(COLUMN_BINARY).counted(sendValue(v.bytes, type, ctx.type, `${a.name} of ${rel.namespace}.${rel.name}`));
          } catch (err) {
            if (err instanceof WalFormatError && err.lsn === undefined) throw new WalFormatError(err.code, `${err.message} (at ${formatLsn(lsn)})`, { lsn });
            throw err;
          }
          continue;
        }
        if (v instanceof BytesValue) {
          // The commonest outputs written straight into the message, without a string: a text type's output is its
          // stored bytes, an integer's its digits.
          const out = type.output;
          if (out === 'textout' || out === 'varcharout' || out === 'bpcharout') {
            w.byte(COLUMN_TEXT).countedRange(v.src, v.start, v.end);
            continue;
          }
          if (out === 'int4out' && v.end - v.start === 4) {
            const s = v.src;
            const at = v.start;
            w.byte(COLUMN_TEXT).countedInt((s[at]! | (s[at + 1]! << 8) | (s[at + 2]! << 16) | (s[at + 3]! << 24)));
            continue;
          }
        }
        try {
          text = v instanceof BytesValue ? outputValueAt(v.src, v.start, v.end, type, ctx.type) : outputValue(v.bytes, type, ctx.type);
        } catch (err) {
          if (err instanceof WalFormatError && err.lsn === undefined) throw new WalFormatError(err.code, `${err.message} (column ${a.name} of ${rel.namespace}.${rel.name} at ${formatLsn(lsn)})`, { lsn });
          throw err;
        }
      }
      w.byte(COLUMN_TEXT).countedText(text);
    }
  }
}
