// Decoded transactions as typed JS objects for the library API: an output plugin that turns each committed
// transaction into { xid, lsns, commit time, changes } with column values as JS values (see jsvalues.ts).
import type { SchemaChange } from './catalog.js';
import { WalFormatError } from '../errors.js';
import { formatLsn, type Lsn } from '../lsn.js';
import type { DecoderRelation } from './catalog.js';
import type { MessageChange, OutputContext, OutputPlugin, ReorderTxn, RowChange, TruncateChange } from './plugin.js';
import type { RawValue } from './tuple.js';
import { PgTimestamp, rawToJs, type JsValue } from './jsvalues.js';

/** A row: live columns by name. Unchanged TOAST values the range did not carry are `UnchangedToast`, never null. */
export type TypedRow = Record<string, JsValue>;

export interface TableName {
  schema: string;
  table: string;
}

export type TypedChange =
  | ({ kind: 'insert'; lsn: Lsn; new: TypedRow } & TableName)
  /**
   * `old`: the old key (replica identity default / index) or the whole old row (full, or old-rows=full where the
   * row was known); absent when not logged. `oldRowComplete` (old-rows=full only): `old` is the whole row with
   * every value — false when the old row was unknown (then `old` is the key, as without the option).
   */
  | ({ kind: 'update'; lsn: Lsn; new: TypedRow; old?: TypedRow; oldRowComplete?: boolean } & TableName)
  | ({ kind: 'delete'; lsn: Lsn; old?: TypedRow; oldRowComplete?: boolean } & TableName)
  | { kind: 'truncate'; lsn: Lsn; tables: TableName[]; cascade: boolean; restartSeqs: boolean }
  | { kind: 'message'; lsn: Lsn; transactional: boolean; prefix: string; content: Uint8Array }
  /** A table's schema change by this transaction (a catalog that follows DDL), at the commit LSN. */
  | { kind: 'ddl'; lsn: Lsn; change: SchemaChange };

export interface TypedTransaction {
  xid: number;
  /** The first record of the transaction. */
  firstLsn: Lsn;
  /** The commit record (final_lsn). */
  commitLsn: Lsn;
  /** The end of the commit record: what a consumer confirms. */
  endLsn: Lsn;
  commitTime: PgTimestamp;
  /** Replication origin (0 = local). */
  originId: number;
  changes: TypedChange[];
  /** The JSON form (see `jsonTransaction`): `JSON.stringify(txn)` works and loses nothing. */
  toJSON(): JsonTransaction;
}

/**
 * The JSON form of a column value: what `JSON.stringify` cannot carry exactly becomes the server's text —
 * int8 (bigint) as its decimal digits, NaN and ±Infinity as `"NaN"`, `"Infinity"`, `"-Infinity"`, bytea as
 * `"\\x…"` (bytea_out's hex); dates, times, intervals, ranges and unchanged TOAST values as their text (their
 * `toJSON`); arrays element by element; everything else as it is.
 */
export function jsonValue(v: JsValue): unknown {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? v : String(v);
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Uint8Array) return byteaText(v);
  if (Array.isArray(v)) return v.map(jsonValue);
  return v.toJSON();
}

function byteaText(b: Uint8Array): string {
  let s = '\\x';
  for (let i = 0; i < b.length; i++) s += (b[i]! < 16 ? '0' : '') + b[i]!.toString(16);
  return s;
}

function jsonRow(row: TypedRow): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(row)) out[k] = jsonValue(row[k]!);
  return out;
}

/** A change in its JSON form: LSNs as `X/X` text, values as `jsonValue` gives them. */
export type JsonChange = Record<string, unknown> & { kind: TypedChange['kind']; lsn: string };

export interface JsonTransaction {
  xid: number;
  firstLsn: string;
  commitLsn: string;
  endLsn: string;
  /** timestamptz_out's text in UTC. */
  commitTime: string;
  originId: number;
  changes: JsonChange[];
}

/** A change's JSON form (a non-transactional message from `onMessage` too). */
export function jsonChange(c: TypedChange): JsonChange {
  const lsn = formatLsn(c.lsn);
  switch (c.kind) {
    case 'insert':
      return { kind: c.kind, lsn, schema: c.schema, table: c.table, new: jsonRow(c.new) };
    case 'update':
      return { kind: c.kind, lsn, schema: c.schema, table: c.table, new: jsonRow(c.new), ...(c.old ? { old: jsonRow(c.old) } : {}) };
    case 'delete':
      return { kind: c.kind, lsn, schema: c.schema, table: c.table, ...(c.old ? { old: jsonRow(c.old) } : {}) };
    case 'truncate':
      return { kind: c.kind, lsn, tables: c.tables, cascade: c.cascade, restartSeqs: c.restartSeqs };
    case 'message':
      return { kind: c.kind, lsn, transactional: c.transactional, prefix: c.prefix, content: byteaText(c.content) };
    case 'ddl':
      return { kind: c.kind, lsn, change: { ...c.change, lsn } };
    default:
      return assertNever(c);
  }
}

function assertNever(x: never): never {
  throw new Error(`unexpected change ${JSON.stringify(x)}`);
}

/** A transaction's JSON form: what `JSON.stringify(txn)` writes. */
export function jsonTransaction(t: TypedTransaction): JsonTransaction {
  return {
    xid: t.xid,
    firstLsn: formatLsn(t.firstLsn),
    commitLsn: formatLsn(t.commitLsn),
    endLsn: formatLsn(t.endLsn),
    commitTime: t.commitTime.toString(),
    originId: t.originId,
    changes: t.changes.map(jsonChange),
  };
}

/** Node's inspection (console.log) shows LSNs as `X/X` text, as the server prints them. */
const INSPECT = Symbol.for('nodejs.util.inspect.custom');

class DecodedTransaction implements TypedTransaction {
  changes: TypedChange[] = [];
  constructor(
    public xid: number,
    public firstLsn: Lsn,
    public commitLsn: Lsn,
    public endLsn: Lsn,
    public commitTime: PgTimestamp,
    public originId: number,
  ) {}

  toJSON(): JsonTransaction {
    return jsonTransaction(this);
  }

  [INSPECT](_depth: number, options: object, inspect: (v: unknown, o: object) => string): string {
    const shown = { ...this, firstLsn: lsnText(this.firstLsn), commitLsn: lsnText(this.commitLsn), endLsn: lsnText(this.endLsn), changes: this.changes.map((c) => ({ ...c, lsn: lsnText(c.lsn) })) };
    return `DecodedTransaction ${inspect(shown, options)}`;
  }
}

/** An LSN that inspects as its text without quotes. */
function lsnText(lsn: Lsn): object {
  const text = formatLsn(lsn);
  return { [INSPECT]: () => text };
}

/** Microseconds between 1970-01-01 and 2000-01-01. */
const EPOCH_SHIFT_US = 946_684_800_000_000n;

/**
 * The columns of a tuple as a typed row. `key`: only these attribute numbers (an old key tuple holds nulls
 * elsewhere, which are not values of the row).
 */
export function typedRow(relation: DecoderRelation, values: readonly RawValue[], ctx: Pick<OutputContext, 'type'>, lsn: Lsn = 0, key?: readonly number[]): TypedRow {
  const row: [string, JsValue][] = [];
  const attrs = relation.attributes;
  for (let i = 0; i < attrs.length; i++) {
    const a = attrs[i]!;
    if (a.dropped || (key !== undefined && !key.includes(a.attnum))) continue;
    const type = ctx.type(a.typeOid);
    if (type === undefined) {
      throw new WalFormatError('unknown-type', `type ${a.typeOid} of column ${a.name} of ${relation.namespace}.${relation.name} is not in the catalog (at ${formatLsn(lsn)})`, { lsn });
    }
    row.push([a.name, rawToJs(values[i] ?? { kind: 'null' }, type, (oid) => ctx.type(oid))]);
  }
  return Object.fromEntries(row);
}

export interface TypedChangesOptions {
  /** Each committed transaction, whole, in commit order. */
  onTransaction(txn: TypedTransaction): void;
  /** Non-transactional logical messages, as they are decoded (default: dropped). */
  onMessage?(message: Extract<TypedChange, { kind: 'message' }>): void;
  /** filter_by_origin: true skips transactions of that replication origin. */
  filterByOrigin?(originId: number): boolean;
}

/** An output plugin that builds TypedTransaction objects instead of text rows. */
export class TypedChangesPlugin implements OutputPlugin {
  private current: TypedTransaction | undefined;

  constructor(private readonly options: TypedChangesOptions) {}

  filterByOrigin(originId: number): boolean {
    return this.options.filterByOrigin?.(originId) ?? false;
  }

  begin(_ctx: OutputContext, txn: ReorderTxn): void {
    this.current = new DecodedTransaction(txn.xid, txn.firstLsn, txn.finalLsn, txn.endLsn, new PgTimestamp(txn.commitTime + EPOCH_SHIFT_US, true), txn.originId);
  }

  change(ctx: OutputContext, _txn: ReorderTxn, change: RowChange): void {
    const rel = change.relation;
    const name = { schema: rel.namespace, table: rel.name };
    // An old tuple under replica identity full is the whole row; otherwise only its key columns are values.
    const oldKey = rel.replIdent === 'f' || change.oldRow !== undefined ? undefined : (rel.identityKey ?? undefined);
    const old = change.oldTuple && typedRow(rel, change.oldTuple, ctx, change.lsn, oldKey);
    const complete = change.oldRowComplete === undefined ? {} : { oldRowComplete: change.oldRowComplete };
    const changes = this.current!.changes;
    switch (change.action) {
      case 'INSERT':
        if (change.newTuple !== undefined) changes.push({ kind: 'insert', lsn: change.lsn, ...name, new: typedRow(rel, change.newTuple, ctx, change.lsn) });
        return;
      case 'UPDATE':
        if (change.newTuple !== undefined) changes.push({ kind: 'update', lsn: change.lsn, ...name, new: typedRow(rel, change.newTuple, ctx, change.lsn), ...(old ? { old } : {}), ...complete });
        return;
      case 'DELETE':
        changes.push({ kind: 'delete', lsn: change.lsn, ...name, ...(old ? { old } : {}), ...complete });
        return;
    }
  }

  truncate(_ctx: OutputContext, _txn: ReorderTxn, change: TruncateChange): void {
    this.current!.changes.push({
      kind: 'truncate',
      lsn: change.lsn,
      tables: change.relations.map((r) => ({ schema: r.namespace, table: r.name })),
      cascade: change.cascade,
      restartSeqs: change.restartSeqs,
    });
  }

  message(_ctx: OutputContext, txn: ReorderTxn | undefined, change: MessageChange): void {
    // A copy: the content points into WAL buffers.
    const m = { kind: 'message' as const, lsn: change.lsn, transactional: change.transactional, prefix: change.prefix, content: change.content.slice() };
    if (change.transactional && txn !== undefined && this.current !== undefined) this.current.changes.push(m);
    else this.options.onMessage?.(m);
  }

  ddl(_ctx: OutputContext, _txn: ReorderTxn, change: SchemaChange): void {
    this.current!.changes.push({ kind: 'ddl', lsn: change.lsn, change });
  }

  commit(_ctx: OutputContext, _txn: ReorderTxn): void {
    const t = this.current!;
    this.current = undefined;
    this.options.onTransaction(t);
  }
}
