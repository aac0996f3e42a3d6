// The sql output plugin (pgwal's own): one SQL statement per change — INSERT, UPDATE … WHERE key, DELETE … WHERE
// key, TRUNCATE; DDL and messages as comments — or, with undo, the statements that reverse a range, newest first.
// Undo needs whole old rows (old-rows=full, or REPLICA IDENTITY FULL): a change whose old row is unknown stops it
// with a typed error before anything is printed.
import { WalError } from '../errors.js';
import { formatLsn, type Lsn } from '../lsn.js';
import type { DecoderRelation, SchemaChange } from './catalog.js';
import type { MessageChange, OutputContext, OutputPlugin, ReorderTxn, RowChange, TruncateChange } from './plugin.js';
import { qualifiedName, quoteIdentifier, quoteLiteral } from './testdecoding.js';
import { BytesValue, type RawValue } from './tuple.js';
import { outputValue, outputValueAt } from './values.js';

/** A change the sql plugin cannot turn into a statement: no key to find the row by, or (undo) no whole old row. */
export class SqlOutputError extends WalError {}

export interface SqlOptions {
  /** The statements that reverse the range, newest transaction first, each one's changes newest first. */
  undo?: boolean;
  /** Only these top-level transactions. */
  xids?: ReadonlySet<number>;
  /** Only these tables (`schema.name`, as the catalog spells them). */
  tables?: ReadonlySet<string>;
  /** Only transactions committed at or after / before this time: microseconds since 2000-01-01 UTC (TimestampTz). */
  startTime?: bigint;
  endTime?: bigint;
  /** Only transactions whose commit record is at or after this LSN (the range's start; its end is where decoding stops). */
  startLsn?: Lsn;
  /** Bytes of undo statements held until the end (default 256 MiB): beyond it, a typed error. */
  undoLimit?: number;
}

export class SqlPlugin implements OutputPlugin {
  /** Undo: each emitted transaction's statements (reversed), oldest transaction first. */
  private readonly undone: string[][] = [];
  private undoBytes = 0;
  private current: string[] | undefined;
  private skip = false;

  constructor(readonly options: SqlOptions = {}) {}

  private selected(txn: ReorderTxn): boolean {
    const o = this.options;
    if (o.xids !== undefined && !o.xids.has(txn.xid)) return false;
    if (o.startTime !== undefined && txn.commitTime < o.startTime) return false;
    if (o.endTime !== undefined && txn.commitTime >= o.endTime) return false;
    if (o.startLsn !== undefined && txn.finalLsn < o.startLsn) return false;
    return true;
  }

  private tableSelected(rel: DecoderRelation): boolean {
    return this.options.tables === undefined || this.options.tables.has(`${rel.namespace}.${rel.name}`);
  }

  begin(_ctx: OutputContext, txn: ReorderTxn): void {
    this.skip = !this.selected(txn);
    this.current = [];
    if (!this.skip && !this.options.undo) this.current.push(`BEGIN; -- xid ${txn.xid}`);
  }

  /** Statements are held to the commit: a transaction is printed whole or not at all; undo holds them to the end. */
  private emit(stmt: string): void {
    this.current!.push(stmt);
    if (!this.options.undo) return;
    this.undoBytes += stmt.length;
    const limit = this.options.undoLimit ?? 256 << 20;
    if (this.undoBytes > limit) throw new SqlOutputError('undo-too-large', `undo statements exceed ${limit} bytes: narrow the range (--end, -o xids, -o tables)`);
  }

  change(ctx: OutputContext, _txn: ReorderTxn, change: RowChange): void {
    if (this.skip || !this.tableSelected(change.relation)) return;
    this.emit(this.options.undo ? undoStatement(ctx, change) : redoStatement(ctx, change));
  }

  truncate(ctx: OutputContext, _txn: ReorderTxn, change: TruncateChange): void {
    if (this.skip) return;
    const rels = change.relations.filter((r) => this.tableSelected(r));
    if (rels.length === 0) return;
    if (this.options.undo) throw new SqlOutputError('undo-impossible', `TRUNCATE at ${formatLsn(change.lsn)} of ${rels.map((r) => `${r.namespace}.${r.name}`).join(', ')} cannot be undone from WAL`, { lsn: change.lsn });
    const names = rels.map((r) => qualifiedName(r.namespace, r.name, ctx.major)).join(', ');
    this.emit(`TRUNCATE ${names}${change.restartSeqs ? ' RESTART IDENTITY' : ''}${change.cascade ? ' CASCADE' : ''};`);
  }

  message(ctx: OutputContext, txn: ReorderTxn | undefined, change: MessageChange): void {
    if (txn === undefined || this.skip || this.options.undo) return;
    // Names in comments as JSON strings: a newline in one must not end the comment.
    this.emit(`-- message at ${formatLsn(change.lsn)}: prefix ${JSON.stringify(change.prefix)}, ${change.content.length} bytes`);
  }

  ddl(ctx: OutputContext, _txn: ReorderTxn, change: SchemaChange): void {
    if (this.skip) return;
    if (this.options.undo) throw new SqlOutputError('undo-impossible', `${change.namespace}.${change.name} was ${change.kind} at ${formatLsn(change.lsn)}: undo does not reverse DDL`, { lsn: change.lsn });
    this.emit(`-- DDL at ${formatLsn(change.lsn)}: ${JSON.stringify(`${change.namespace}.${change.name}`)} ${change.kind}${change.changes ? ` (${change.changes.join(', ')})` : ''}`);
  }

  commit(ctx: OutputContext, txn: ReorderTxn): void {
    const stmts = this.current ?? [];
    this.current = undefined;
    if (this.skip) return;
    if (this.options.undo) {
      if (stmts.length > 0) this.undone.push(stmts.reverse());
      return;
    }
    if (stmts.length <= 1) return; // nothing but BEGIN
    for (const s of stmts) ctx.write(s);
    ctx.write(`COMMIT; -- ${formatLsn(txn.endLsn)}`);
  }

  /** Undo: the script, newest transaction first (empty before the end of decoding). */
  undoScript(): string[] {
    const out: string[] = [];
    for (let i = this.undone.length - 1; i >= 0; i--) out.push('BEGIN;', ...this.undone[i]!, 'COMMIT;');
    return out;
  }
}

/** A value as an SQL literal: its output function's text, quoted (the column's type reads it back). */
function literal(ctx: OutputContext, rel: DecoderRelation, i: number, v: RawValue, lsn: Lsn): string | undefined {
  const a = rel.attributes[i]!;
  if (v.kind === 'null' || (v.kind === 'missing' && v.text === null)) return 'NULL';
  if (v.kind === 'missing') return quoteLiteral(v.text!);
  if (v.kind === 'toast') return undefined;
  const type = ctx.type(a.typeOid);
  if (type === undefined) throw new SqlOutputError('unknown-type', `type ${a.typeOid} of column ${a.name} of ${rel.namespace}.${rel.name} is not in the catalog (at ${formatLsn(lsn)})`, { lsn });
  const text = v instanceof BytesValue ? outputValueAt(v.src, v.start, v.end, type, ctx.type) : outputValue(v.bytes, type, ctx.type);
  return quoteLiteral(text);
}

const tableName = (ctx: OutputContext, rel: DecoderRelation): string => qualifiedName(rel.namespace, rel.name, ctx.major);
const column = (ctx: OutputContext, rel: DecoderRelation, i: number): string => quoteIdentifier(rel.attributes[i]!.name, ctx.major);

/** `WHERE` by the replica identity key (or primary key); with neither, by every column of a whole row. */
function where(ctx: OutputContext, change: RowChange, values: readonly RawValue[], whole: boolean): string {
  const rel = change.relation;
  const key = rel.identityKey ?? rel.primaryKey ?? undefined;
  const parts: string[] = [];
  for (let i = 0; i < rel.attributes.length; i++) {
    const a = rel.attributes[i]!;
    if (a.dropped) continue;
    if (key !== undefined && key !== null ? !key.includes(a.attnum) : !whole) continue;
    const lit = literal(ctx, rel, i, values[i] ?? { kind: 'null' }, change.lsn);
    if (lit === undefined) throw new SqlOutputError('no-key', `${change.action} at ${formatLsn(change.lsn)} of ${rel.namespace}.${rel.name}: column ${a.name} that finds the row is an unchanged TOAST value`, { lsn: change.lsn });
    parts.push(lit === 'NULL' ? `${column(ctx, rel, i)} IS NULL` : `${column(ctx, rel, i)} = ${lit}`);
  }
  if (parts.length === 0) throw new SqlOutputError('no-key', `${change.action} at ${formatLsn(change.lsn)} of ${rel.namespace}.${rel.name}: no key and no whole old row to find the row by`, { lsn: change.lsn });
  return ` WHERE ${parts.join(' AND ')}`;
}

function insert(ctx: OutputContext, rel: DecoderRelation, values: readonly RawValue[], lsn: Lsn): string {
  const cols: string[] = [];
  const vals: string[] = [];
  for (let i = 0; i < rel.attributes.length; i++) {
    if (rel.attributes[i]!.dropped) continue;
    const lit = literal(ctx, rel, i, values[i] ?? { kind: 'null' }, lsn);
    if (lit === undefined) throw new SqlOutputError('old-row-unknown', `row of ${rel.namespace}.${rel.name} at ${formatLsn(lsn)} lacks the TOAST value of column ${rel.attributes[i]!.name}`, { lsn });
    cols.push(column(ctx, rel, i));
    vals.push(lit);
  }
  return `INSERT INTO ${tableName(ctx, rel)} (${cols.join(', ')}) VALUES (${vals.join(', ')});`;
}

/** `SET` of every column with a value (unchanged TOAST values are left as they are). */
function set(ctx: OutputContext, rel: DecoderRelation, values: readonly RawValue[], lsn: Lsn): string {
  const parts: string[] = [];
  for (let i = 0; i < rel.attributes.length; i++) {
    if (rel.attributes[i]!.dropped) continue;
    const lit = literal(ctx, rel, i, values[i] ?? { kind: 'null' }, lsn);
    if (lit !== undefined) parts.push(`${column(ctx, rel, i)} = ${lit}`);
  }
  return parts.join(', ');
}

function redoStatement(ctx: OutputContext, change: RowChange): string {
  const rel = change.relation;
  const whole = rel.replIdent === 'f' || change.oldRow !== undefined;
  switch (change.action) {
    case 'INSERT':
      return insert(ctx, rel, change.newTuple!, change.lsn);
    case 'UPDATE':
      return `UPDATE ${tableName(ctx, rel)} SET ${set(ctx, rel, change.newTuple!, change.lsn)}${where(ctx, change, change.oldTuple ?? change.newTuple!, whole && change.oldTuple !== undefined)};`;
    case 'DELETE':
      if (change.oldTuple === undefined) throw new SqlOutputError('no-key', `DELETE at ${formatLsn(change.lsn)} of ${rel.namespace}.${rel.name} logged no old key (replica identity nothing)`, { lsn: change.lsn });
      return `DELETE FROM ${tableName(ctx, rel)}${where(ctx, change, change.oldTuple, whole)};`;
  }
}

/** The whole old row of an UPDATE / DELETE, or the typed error undo stops with. */
function wholeOld(change: RowChange): readonly RawValue[] {
  const rel = change.relation;
  // Under replica identity full the record logged the whole old row (TOAST values inlined).
  const old = change.oldRowComplete === true ? change.oldRow : rel.replIdent === 'f' ? change.oldTuple : undefined;
  const what = `cannot undo ${change.action} at ${formatLsn(change.lsn)} of ${rel.namespace}.${rel.name}`;
  if (old === undefined) throw new SqlOutputError('old-row-unknown', `${what}: its old row is unknown (its page was not seen since a full-page image in the range)`, { lsn: change.lsn });
  const toast = old.findIndex((v) => v.kind === 'toast');
  if (toast >= 0) {
    throw new SqlOutputError('old-row-unknown', `${what}: the TOAST value of column ${rel.attributes[toast]!.name} of its old row is unknown (its chunks were not seen since a full-page image in the range)`, { lsn: change.lsn });
  }
  return old;
}

function undoStatement(ctx: OutputContext, change: RowChange): string {
  const rel = change.relation;
  switch (change.action) {
    case 'INSERT':
      return `DELETE FROM ${tableName(ctx, rel)}${where(ctx, change, change.newTuple!, true)};`;
    case 'UPDATE': {
      const old = wholeOld(change);
      return `UPDATE ${tableName(ctx, rel)} SET ${set(ctx, rel, old, change.lsn)}${where(ctx, change, change.newTuple!, true)};`;
    }
    case 'DELETE':
      return insert(ctx, rel, wholeOld(change), change.lsn);
  }
}
