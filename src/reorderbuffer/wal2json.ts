// wal2json's format-version 2 as wal2json 2.5 writes it: one JSON object per change, message and truncated
// table, plus "B"/"C" objects around each transaction — what pg_logical_slot_peek_changes returns for a slot of
// that plugin with 'format-version' '2'.
import type { SchemaChange } from './catalog.js';
import { InvalidArgumentError, WalFormatError } from '../errors.js';
import { formatLsn, type Lsn } from '../lsn.js';
import type { DecoderRelation } from './catalog.js';
import type { MessageChange, OutputContext, OutputPlugin, ReorderTxn, RowChange, TruncateChange } from './plugin.js';
import { ATT_BYTES, ATT_COMPRESSED, ATT_MISSING, ATT_NULL, ATT_TOAST, LAYOUT_IN_USE, decompressDatum, deformTupleInto, type Attribute, type RawValue } from './tuple.js';
import { StoredRowChange, storedDataLength, storedDataOffset, storedHoff, storedInfomask, storedInfomask2 } from './change.js';
import type { ByteRows, TextRowBytes } from './row-bytes.js';
import { u16, u32 } from '../xlogreader/bytes.js';
import { outputValue, timestampAsciiFromHalves, type TypeInfo } from './values.js';

/** A `filter-tables` / `add-tables` entry: `schema.table`, `*.table`, `schema.*`. */
export interface SelectTable {
  schema: string;
  table: string;
  allSchemas: boolean;
  allTables: boolean;
}

export interface Wal2JsonOptions {
  includeTransaction: boolean;
  includeXids: boolean;
  includeTimestamp: boolean;
  includeOrigin: boolean;
  includeSchemas: boolean;
  includeTypes: boolean;
  includeTypeOids: boolean;
  includeColumnPositions: boolean;
  includeNotNull: boolean;
  includeDefault: boolean;
  includeDomainDataType: boolean;
  /** pgwal's own `include-ddl` (not wal2json's): a `{"action":"DDL",…}` row per schema change, before "C". */
  includeDdl: boolean;
  includePk: boolean;
  includeLsn: boolean;
  actions: { insert: boolean; update: boolean; delete: boolean; truncate: boolean };
  filterOrigins: number[];
  filterTables: SelectTable[];
  addTables: SelectTable[];
  filterMsgPrefixes: string[];
  addMsgPrefixes: string[];
}

/** wal2json's defaults (pg_decode_startup) for format-version 2. */
export function defaultWal2JsonOptions(): Wal2JsonOptions {
  return {
    includeTransaction: true,
    includeXids: false,
    includeTimestamp: false,
    includeOrigin: false,
    includeSchemas: true,
    includeTypes: true,
    includeTypeOids: false,
    includeColumnPositions: false,
    includeNotNull: false,
    includeDefault: false,
    includeDomainDataType: false,
    includeDdl: false,
    includePk: false,
    includeLsn: false,
    actions: { insert: true, update: true, delete: true, truncate: true },
    filterOrigins: [],
    filterTables: [],
    addTables: [{ schema: '', table: '', allSchemas: true, allTables: true }],
    filterMsgPrefixes: [],
    addMsgPrefixes: [],
  };
}

const BOOLEAN_OPTIONS: Record<string, keyof Wal2JsonOptions> = {
  'include-transaction': 'includeTransaction',
  'include-xids': 'includeXids',
  'include-timestamp': 'includeTimestamp',
  'include-origin': 'includeOrigin',
  'include-schemas': 'includeSchemas',
  'include-types': 'includeTypes',
  'include-type-oids': 'includeTypeOids',
  'include-column-positions': 'includeColumnPositions',
  'include-not-null': 'includeNotNull',
  'include-default': 'includeDefault',
  'include-domain-data-type': 'includeDomainDataType',
  'include-pk': 'includePk',
  'include-lsn': 'includeLsn',
  'include-ddl': 'includeDdl',
};

/** Options that format-version 2 of wal2json 2.5 accepts and ignores. */
const IGNORED_OPTIONS = new Set(['include-typmod', 'pretty-print', 'write-in-chunks']);

/** parse_bool (bool.c): true/false, yes/no, on/off, 1/0 and their unique prefixes, any case, no blanks. */
// see parse_bool_with_len (bool.c)
export function parsePgBool(value: string): boolean | undefined {
  const v = value.toLowerCase();
  if (v.length === 0) return undefined;
  const prefixOf = (word: string, min = 1): boolean => v.length >= min && word.startsWith(v);
  if (prefixOf('true') || prefixOf('yes') || prefixOf('on', 2) || v === '1') return true;
  if (prefixOf('false') || prefixOf('no') || prefixOf('off', 2) || v === '0') return false;
  return undefined;
}

const badValue = (name: string, value: string): InvalidArgumentError => new InvalidArgumentError(`could not parse value "${value}" for parameter "${name}"`);

/**
 * wal2json's options (pg_decode_startup), as the SQL functions or `-o NAME=VALUE` pass them: a null value
 * means the option was given without one (true for a boolean). `format-version` must be 2 (pgwal writes only
 * format 2); an unknown option is an error, as the plugin makes it.
 */
// see pg_decode_startup (wal2json.c)
export function parseWal2JsonOptions(options: Iterable<readonly [string, string | null]>): Wal2JsonOptions {
  const o = defaultWal2JsonOptions();
  let version = 1;
  for (const [name, value] of options) {
    const flag = BOOLEAN_OPTIONS[name];
    if (flag !== undefined) {
      const b = value === null ? true : parsePgBool(value);
      if (b === undefined) throw badValue(name, value!);
      (o as unknown as Record<string, boolean>)[flag] = b;
    } else if (IGNORED_OPTIONS.has(name)) {
      if (value !== null && parsePgBool(value) === undefined) throw badValue(name, value);
    } else if (name === 'actions') {
      if (value === null) continue;
      const list = splitList(value);
      if (list === undefined) throw badValue(name, value);
      o.actions = { insert: false, update: false, delete: false, truncate: false };
      for (const a of list) {
        if (a !== 'insert' && a !== 'update' && a !== 'delete' && a !== 'truncate') throw badValue(name, a);
        o.actions[a] = true;
      }
    } else if (name === 'filter-origins') {
      const list = value === null ? [] : splitList(value);
      if (list === undefined) throw badValue(name, value!);
      // atoi: leading digits, else 0.
      o.filterOrigins = list.map((t) => Number(/^\s*[+-]?\d*/.exec(t)![0].trim() || 0) >>> 0);
    } else if (name === 'filter-tables' || name === 'add-tables') {
      const list = value === null ? [] : parseSelectTables(value);
      if (list === undefined) throw badValue(name, value!);
      if (name === 'filter-tables') o.filterTables = list;
      else o.addTables = list;
    } else if (name === 'filter-msg-prefixes' || name === 'add-msg-prefixes') {
      const list = value === null ? [] : splitList(value);
      if (list === undefined) throw badValue(name, value!);
      if (name === 'filter-msg-prefixes') o.filterMsgPrefixes = list;
      else o.addMsgPrefixes = list;
    } else if (name === 'format-version') {
      if (value === null) version = 2;
      else if (/^\s*[+-]?\d+\s*$/.test(value)) version = Number(value);
      else throw badValue(name, value);
      if (version > 2) throw new InvalidArgumentError(`client sent format_version=${version} but we only support format 2 or lower`);
      if (version < 1) throw new InvalidArgumentError(`client sent format_version=${version} but we only support format 1 or higher`);
    } else if (name === 'include-unchanged-toast') {
      throw new InvalidArgumentError(`parameter "${name}" was deprecated`);
    } else {
      throw new InvalidArgumentError(`option "${name}" = "${value ?? '(null)'}" is unknown`);
    }
  }
  if (version !== 2) throw new InvalidArgumentError('pgwal writes wal2json format-version 2 only: pass format-version=2');
  return o;
}

const isSpace = (c: string | undefined): boolean => c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v';

/** split_string_to_list (wal2json.c): comma-separated, blanks around items, a backslash keeps the next character. */
function splitList(raw: string): string[] | undefined {
  const out: string[] = [];
  let i = 0;
  while (isSpace(raw[i])) i++;
  if (i >= raw.length) return out;
  for (;;) {
    const start = i;
    while (i < raw.length && raw[i] !== ',' && !isSpace(raw[i])) {
      if (raw[i] === '\\') i++;
      i++;
    }
    const end = Math.min(i, raw.length);
    if (start === end) return undefined;
    while (isSpace(raw[i])) i++;
    out.push(raw.slice(start, end));
    if (raw[i] === ',') {
      i++;
      while (isSpace(raw[i])) i++;
    } else if (i >= raw.length) return out;
    else return undefined;
  }
}

/** string_to_SelectTable + parse_table_identifier (wal2json.c): `schema.table` items, `\` escaping. */
function parseSelectTables(raw: string): SelectTable[] | undefined {
  const items = splitList(raw);
  if (items === undefined) return undefined;
  const out: SelectTable[] = [];
  for (const item of items) {
    const allSchemas = item[0] === '*' && item[1] === '.';
    // Up to the first unescaped '.', removing backslashes; the character after one is taken as is.
    let schema = '';
    let i = 0;
    for (; i < item.length && item[i] !== '.'; i++) {
      if (item[i] === '\\') i++;
      if (i < item.length) schema += item[i];
    }
    if (i >= item.length) return undefined;
    const rest = item.slice(i + 1);
    const allTables = rest === '*';
    let table = '';
    for (let k = 0; k < rest.length; k++) {
      if (rest[k] === '\\') k++;
      if (k < rest.length) table += rest[k];
    }
    out.push({ schema, table, allSchemas, allTables });
  }
  return out;
}

const matches = (list: readonly SelectTable[], schema: string, table: string): boolean =>
  list.some((t) => (t.allSchemas || t.schema === schema) && (t.allTables || t.table === table));

/** escape_json (json.c): quotes, backslash, \b \f \n \r \t, other control characters as \u00XX. */
export function escapeJson(s: string): string {
  let out = '"';
  let from = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x20 && c !== 0x22 && c !== 0x5c) continue;
    out += s.slice(from, i);
    from = i + 1;
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += '\\\\';
    else if (c === 8) out += '\\b';
    else if (c === 12) out += '\\f';
    else if (c === 10) out += '\\n';
    else if (c === 13) out += '\\r';
    else if (c === 9) out += '\\t';
    else out += '\\u' + c.toString(16).padStart(4, '0');
  }
  return out + s.slice(from) + '"';
}

const BPCHAROID = 1042;
const VARCHAROID = 1043;
const BITOID = 1560;
const VARBITOID = 1562;
const NUMERICOID = 1700;
const TIMEOID = 1083;
const TIMETZOID = 1266;
const TIMESTAMPOID = 1114;
const TIMESTAMPTZOID = 1184;
const INTERVALOID = 1186;

const INTERVAL_FIELDS: Record<number, string> = {
  [1 << 2]: ' year',
  [1 << 1]: ' month',
  [1 << 3]: ' day',
  [1 << 10]: ' hour',
  [1 << 11]: ' minute',
  [1 << 12]: ' second',
  [(1 << 2) | (1 << 1)]: ' year to month',
  [(1 << 3) | (1 << 10)]: ' day to hour',
  [(1 << 3) | (1 << 10) | (1 << 11)]: ' day to minute',
  [(1 << 3) | (1 << 10) | (1 << 11) | (1 << 12)]: ' day to second',
  [(1 << 10) | (1 << 11)]: ' hour to minute',
  [(1 << 10) | (1 << 11) | (1 << 12)]: ' hour to second',
  [(1 << 11) | (1 << 12)]: ' minute to second',
  [0x7fff]: '',
};

/**
 * format_type_with_typemod: the type's name with the column's typmod, e.g. `character varying(20)`,
 * `numeric(10,2)`, `timestamp(3) with time zone`, `interval day to second(0)`, `character varying(5)[]`.
 * `types` resolves array element types.
 */
// see format_type_extended (format_type.c) and the built-in *typmodout functions
export function formatTypeWithTypmod(type: TypeInfo, typmod: number, types: (oid: number) => TypeInfo | undefined): string {
  let t = type;
  let isArray = false;
  if (type.output === 'array_out' && type.elem !== 0) {
    const elem = types(type.elem);
    if (elem === undefined) throw new WalFormatError('unknown-type', `array element type ${type.elem} of ${type.name} is not in the catalog`);
    t = elem;
    isArray = true;
  }
  const withTypmod = typmod >= 0;
  let s: string;
  const unsupported = (): never => {
    throw new WalFormatError('unsupported-type', `pgwal cannot print the type modifier ${typmod} of type ${t.name}`);
  };
  switch (t.oid) {
    case BITOID:
      s = withTypmod ? `bit(${typmod})` : '"bit"';
      break;
    case VARBITOID:
      s = withTypmod ? `bit varying(${typmod})` : 'bit varying';
      break;
    case BPCHAROID:
      s = withTypmod ? `character${typmod > 4 ? `(${typmod - 4})` : ''}` : 'bpchar';
      break;
    case VARCHAROID:
      s = `character varying${withTypmod && typmod > 4 ? `(${typmod - 4})` : ''}`;
      break;
    case NUMERICOID:
      // NUMERIC_TYPMOD_PRECISION / NUMERIC_TYPMOD_SCALE (the scale may be negative since 15).
      s = withTypmod ? `numeric(${((typmod - 4) >> 16) & 0xffff},${(((typmod - 4) & 0x7ff) ^ 1024) - 1024})` : 'numeric';
      break;
    case TIMEOID:
    case TIMETZOID:
    case TIMESTAMPOID:
    case TIMESTAMPTZOID: {
      const base = t.oid === TIMEOID || t.oid === TIMETZOID ? 'time' : 'timestamp';
      const zone = t.oid === TIMETZOID || t.oid === TIMESTAMPTZOID ? ' with time zone' : ' without time zone';
      s = withTypmod ? `${base}(${typmod})${zone}` : t.name;
      break;
    }
    case INTERVALOID: {
      if (!withTypmod) {
        s = 'interval';
        break;
      }
      const fields = INTERVAL_FIELDS[(typmod >> 16) & 0x7fff];
      if (fields === undefined) return unsupported();
      const precision = typmod & 0xffff;
      s = `interval${fields}${precision !== 0xffff ? `(${precision})` : ''}`;
      break;
    }
    default:
      // Other types have no typmod output of their own among the built-ins pgwal knows.
      s = withTypmod ? unsupported() : t.name;
  }
  return isArray ? `${s}[]` : s;
}

// int2, int4, int8, oid, float4, float8, numeric: written bare (wal2json's list).
const NUMBER_TYPES = new Set([21, 23, 20, 26, 700, 701, NUMERICOID]);
const BOOLOID = 16;
const BYTEAOID = 17;
const NUMBER_CHARS = /^[0-9+\-eE.]*$/;

/** `row`: an identity that is the whole old row (old-rows=full). */
type Kind = 'change' | 'identity' | 'pk' | 'row';

/** The wal2json output plugin (format-version 2). */
export class Wal2JsonPlugin implements OutputPlugin {
  readonly options: Wal2JsonOptions;
  /** Relations whose catalog entry was checked for what wal2json needs. */
  private readonly complete = new WeakSet<DecoderRelation>();

  constructor(options: Partial<Wal2JsonOptions> | Wal2JsonOptions = {}) {
    this.options = { ...defaultWal2JsonOptions(), ...options };
  }

  // see pg_filter_by_origin (wal2json.c)
  filterByOrigin(originId: number): boolean {
    return originId !== 0 && this.options.filterOrigins.includes(originId);
  }

  /** The fields every transaction-scoped object carries after "action". */
  private txnFields(ctx: OutputContext, txn: ReorderTxn): string {
    const o = this.options;
    let s = '';
    if (o.includeXids) s += `,"xid":${txn.xid}`;
    if (o.includeTimestamp) s += `,"timestamp":"${timestamptzText(ctx, txn.commitTime)}"`;
    if (o.includeOrigin) s += `,"origin":${txn.originId}`;
    return s;
  }

  // see pg_decode_begin_txn_v2 (wal2json.c)
  begin(ctx: OutputContext, txn: ReorderTxn): void {
    if (!this.options.includeTransaction) return;
    let s = `{"action":"B"${this.txnFields(ctx, txn)}`;
    if (this.options.includeLsn) s += `,"lsn":"${formatLsn(txn.finalLsn)}","nextlsn":"${formatLsn(txn.endLsn)}"`;
    ctx.write(s + '}');
  }

  /** pgwal's DDL row (include-ddl): the table's schema change with the column lists before and after. */
  ddl(ctx: OutputContext, txn: ReorderTxn, e: SchemaChange): void {
    if (!this.options.includeDdl) return;
    const cols = (list: SchemaChange['newColumns']): string => `[${(list ?? []).map((c) => `{"name":${JSON.stringify(c.name)},"type":${JSON.stringify(c.type)}}`).join(',')}]`;
    let s = `{"action":"DDL","kind":"${e.kind}"${this.txnFields(ctx, txn)},"schema":${JSON.stringify(e.namespace)},"table":${JSON.stringify(e.name)}`;
    if (e.oldName !== undefined) s += `,"oldSchema":${JSON.stringify(e.oldNamespace ?? e.namespace)},"oldTable":${JSON.stringify(e.oldName)}`;
    if (e.oldColumns !== undefined) s += `,"oldColumns":${cols(e.oldColumns)}`;
    if (e.newColumns !== undefined) s += `,"columns":${cols(e.newColumns)}`;
    if (this.options.includeLsn) s += `,"lsn":"${formatLsn(e.lsn)}"`;
    ctx.write(s + '}');
  }

  // see pg_decode_commit_txn_v2 (wal2json.c)
  commit(ctx: OutputContext, txn: ReorderTxn): void {
    if (!this.options.includeTransaction) return;
    let s = `{"action":"C"${this.txnFields(ctx, txn)}`;
    if (this.options.includeLsn) s += `,"lsn":"${formatLsn(txn.finalLsn)}","nextlsn":"${formatLsn(txn.endLsn)}"`;
    ctx.write(s + '}');
  }

  private tableSelected(rel: DecoderRelation): boolean {
    return !matches(this.options.filterTables, rel.namespace, rel.name) && matches(this.options.addTables, rel.namespace, rel.name);
  }

  // see pg_decode_change_v2 and pg_decode_write_change (wal2json.c)
  change(ctx: OutputContext, txn: ReorderTxn, change: RowChange): void {
    const o = this.options;
    const { relation: rel, action } = change;
    if (action === 'INSERT' ? !o.actions.insert : action === 'UPDATE' ? !o.actions.update : !o.actions.delete) return;
    if (!this.tableSelected(rel)) return;
    if (!this.complete.has(rel) && (rel.identityKey === undefined || rel.primaryKey === undefined || (o.includeTypes && rel.attributes.some((a) => a.typmod === undefined)))) {
      // Never a guess: which columns identify a row, and the types' modifiers, come from the catalog.
      throw new WalFormatError('incomplete-catalog', `the catalog of ${rel.namespace}.${rel.name} lacks its primary key, replica identity key or column type modifiers: make the slot state again with this pgwal (at ${formatLsn(change.lsn)})`, { lsn: change.lsn });
    }
    this.complete.add(rel);
    // Changes wal2json drops with a WARNING: no tuple, or no way to identify the old row.
    const hasIdentity = rel.identityKey !== null || rel.replIdent === 'f';
    // A stored change written as bytes where the context takes them: its tuples are never made value objects.
    const rows = ctx.textRows;
    // (A DELETE without its old key is left to the text's way: it has no tuple to write.)
    if (rows !== undefined && change instanceof StoredRowChange && (action === 'DELETE' ? change.oldAt >= 0 : change.newAt >= 0 || change.oldAt >= 0)) {
      if (action !== 'DELETE' && change.newAt < 0) return;
      if (action !== 'INSERT' && change.oldAt < 0 && !hasIdentity) return;
      return this.storedChangeBytes(rows, ctx, txn, change);
    }
    const { newTuple, oldTuple } = change;
    if (action !== 'DELETE' && newTuple === undefined) return;
    if (action !== 'INSERT' && oldTuple === undefined && !hasIdentity) return;

    let s = `{"action":"${action === 'INSERT' ? 'I' : action === 'UPDATE' ? 'U' : 'D'}"${this.txnFields(ctx, txn)}`;
    if (o.includeLsn) s += `,"lsn":"${formatLsn(change.lsn)}"`;
    if (o.includeSchemas) s += `,"schema":${escapeJson(rel.namespace)}`;
    s += `,"table":${escapeJson(rel.name)}`;
    if (newTuple !== undefined) s += `,"columns":[${this.tuple(ctx, rel, newTuple, 'change', change.lsn)}]`;
    // A whole old row (old-rows=full) is every column, as under replica identity full.
    if (oldTuple !== undefined) s += `,"identity":[${this.tuple(ctx, rel, oldTuple, change.oldRow !== undefined ? 'row' : 'identity', change.lsn)}]`;
    else if (action === 'UPDATE' && (rel.primaryKey !== null || rel.identityKey !== null)) {
      // The key did not change: wal2json takes the identity from the new tuple.
      s += `,"identity":[${this.tuple(ctx, rel, newTuple!, 'identity', change.lsn)}]`;
    }
    if (o.includePk) {
      s += ',"pk":[';
      if (rel.primaryKey !== null) s += this.tuple(ctx, rel, (oldTuple ?? newTuple)!, 'pk', change.lsn);
      s += ']';
    }
    ctx.write(s + '}');
  }

  // see pg_decode_write_tuple (wal2json.c)
  private tuple(ctx: OutputContext, rel: DecoderRelation, values: readonly RawValue[], kind: Kind, lsn: Lsn): string {
    const o = this.options;
    // No key (replica identity full or nothing): every column, as an empty bitmap selects in wal2json.
    const key = (kind === 'identity' ? rel.identityKey : kind === 'pk' ? rel.primaryKey : undefined) ?? undefined;
    let out = '';
    const attrs = rel.attributes;
    for (let i = 0; i < attrs.length; i++) {
      const a = attrs[i]!;
      if (a.dropped) continue;
      if (key !== undefined && key.length > 0 && !key.includes(a.attnum)) continue;
      const v = values[i] ?? { kind: 'null' };
      // An unchanged TOAST value is left out, never shown as null.
      if (v.kind === 'toast') continue;
      const type = ctx.type(a.typeOid);
      let s = this.columnHead(ctx, a, type, rel, lsn);
      if (kind !== 'pk') s += `,"value":${this.value(v, a, type, ctx, rel, lsn)}`;
      if (kind === 'change' && this.withTail) s += this.columnTail(a, rel, lsn);
      out += out === '' ? s + '}' : ',' + s + '}';
    }
    return out;
  }

  /** include-not-null, include-column-positions, include-default: what follows a changed column's value. */
  private columnTail(a: Attribute, rel: DecoderRelation, lsn: Lsn): string {
    const o = this.options;
    let s = '';
    if (o.includeNotNull) s += `,"optional":${a.notNull === true ? 'false' : 'true'}`;
    if (o.includeColumnPositions) s += `,"position":${a.attnum}`;
    if (o.includeDefault) {
      if (a.defaultExpr === undefined) throw new WalFormatError('unknown-default', `the catalog does not hold the default of column ${a.name} of ${rel.namespace}.${rel.name} (include-default)`, { lsn });
      // Written between quotes as pg_get_expr prints it, without escaping, as wal2json does.
      s += a.defaultExpr === null ? ',"default":null' : `,"default":"${a.defaultExpr}"`;
    }
    return s;
  }

  private get withTail(): boolean {
    const o = this.options;
    return o.includeNotNull || o.includeColumnPositions || o.includeDefault;
  }

  /** `change` of a stored change, written as UTF-8 bytes straight from its tuples' bytes. */
  // see pg_decode_write_change (wal2json.c)
  private storedChangeBytes(rows: TextRowBytes, ctx: OutputContext, txn: ReorderTxn, ch: StoredRowChange): void {
    const o = this.options;
    const rel = ch.relation;
    const { action, newAt, oldAt } = ch;
    const out = rows.start();
    // Each tuple deformed once (an UPDATE's identity and pk come from the new tuple when no old one was logged).
    const scratchNew = newLayout;
    const scratchOld = oldLayout;
    newLayout = oldLayout = LAYOUT_IN_USE;
    let layoutNew: Int32Array | undefined;
    let layoutOld: Int32Array | undefined;
    try {
      if (newAt >= 0) layoutNew = deformStored(scratchNew, ch, newAt);
      if (oldAt >= 0) layoutOld = deformStored(scratchOld, ch, oldAt);
      const heads = this.relationBytes(rel);
      // Up to the first tuple's opening bracket (INSERT, UPDATE: the new tuple; DELETE: the old key) in one piece
      // unless transaction fields or the LSN come between.
      if (o.includeXids || o.includeTimestamp || o.includeOrigin || o.includeLsn) {
        out.append(action === 'INSERT' ? ACTION_I : action === 'UPDATE' ? ACTION_U : ACTION_D);
        if (o.includeXids || o.includeTimestamp || o.includeOrigin) out.text(this.txnFields(ctx, txn));
        if (o.includeLsn) out.text(`,"lsn":"${formatLsn(ch.lsn)}"`);
        out.append(action === 'DELETE' ? heads.identity : heads.columns);
      } else out.append(action === 'INSERT' ? heads.insert : action === 'UPDATE' ? heads.update : heads.delete);
      if (action !== 'DELETE') {
        this.storedTupleBytes(out, ctx, ch, layoutNew!, 'change');
        if (layoutOld !== undefined || (action === 'UPDATE' && (rel.primaryKey !== null || rel.identityKey !== null))) {
          // Without an old tuple the key did not change: wal2json takes the identity from the new tuple.
          out.append(CLOSE_IDENTITY_OPEN);
          this.storedTupleBytes(out, ctx, ch, (layoutOld ?? layoutNew)!, 'identity');
        }
      } else this.storedTupleBytes(out, ctx, ch, layoutOld!, 'identity');
      if (o.includePk) {
        out.append(CLOSE_PK_OPEN);
        if (rel.primaryKey !== null) this.storedTupleBytes(out, ctx, ch, (layoutOld ?? layoutNew)!, 'pk');
      }
      out.append(CLOSE_ROW);
    } catch (e) {
      rows.cancel();
      throw e;
    } finally {
      newLayout = layoutNew ?? scratchNew;
      oldLayout = layoutOld ?? scratchOld;
    }
    rows.end();
  }

  /** A relation's `,"schema":…,"table":…` with what follows it, as UTF-8: made once per relation and its names. */
  private relationBytes(rel: DecoderRelation): RelationBytes {
    const hit = this.relations.get(rel);
    if (hit !== undefined && hit.namespace === rel.namespace && hit.name === rel.name) return hit;
    const text = `${this.options.includeSchemas ? `,"schema":${escapeJson(rel.namespace)}` : ''},"table":${escapeJson(rel.name)}`;
    const b = (s: string): Uint8Array => encoder.encode(s);
    const entry: RelationBytes = {
      namespace: rel.namespace,
      name: rel.name,
      columns: b(`${text},"columns":[`),
      identity: b(`${text},"identity":[`),
      insert: b(`{"action":"I"${text},"columns":[`),
      update: b(`{"action":"U"${text},"columns":[`),
      delete: b(`{"action":"D"${text},"identity":[`),
    };
    this.relations.set(rel, entry);
    return entry;
  }

  private readonly relations = new WeakMap<DecoderRelation, RelationBytes>();
  private readonly relationHeads = new WeakMap<DecoderRelation, (ColumnHead | undefined)[]>();

  /** `tuple` of a stored tuple of a change (its `layout`), written as bytes. */
  // see pg_decode_write_tuple (wal2json.c)
  private storedTupleBytes(out: ByteRows, ctx: OutputContext, ch: StoredRowChange, layout: Int32Array, kind: Kind): void {
    const rel = ch.relation;
    const lsn = ch.lsn;
    const key = (kind === 'identity' ? rel.identityKey : kind === 'pk' ? rel.primaryKey : undefined) ?? undefined;
    const keyed = key !== undefined && key.length > 0;
    const tail = kind === 'change' && this.withTail;
    const attrs = rel.attributes;
    const src = ch.change;
    let heads = this.relationHeads.get(rel);
    if (heads === undefined || heads.length !== attrs.length) this.relationHeads.set(rel, (heads = new Array<ColumnHead | undefined>(attrs.length)));
    const domains = this.options.includeTypes && this.options.includeDomainDataType;
    let first = true;
    for (let i = 0, k = 0; i < attrs.length; i++, k += 3) {
      const a = attrs[i]!;
      if (a.dropped) continue;
      if (keyed && !key.includes(a.attnum)) continue;
      const held = layout[k]!;
      // An unchanged TOAST value is left out, never shown as null.
      if (held === ATT_TOAST) continue;
      const type = ctx.type(a.typeOid);
      // The relation's heads by column (one map look-up per tuple, not per column); a domain's base is looked up each time.
      let head = heads[i];
      if (head === undefined || head.attr !== a || head.type !== type || domains) head = heads[i] = this.columnHeadEntry(ctx, a, type, rel, lsn);
      // After the first column the previous one's closing `},` comes with the head.
      if (kind === 'pk') out.append(first ? (head.headBytes ??= encoder.encode(head.head)) : (head.nextHeadBytes ??= encoder.encode(`},${head.head}`)));
      else {
        out.append(first ? (head.valueHeadBytes ??= encoder.encode(`${head.head},"value":`)) : (head.nextValueHeadBytes ??= encoder.encode(`},${head.head},"value":`)));
        if (held === ATT_NULL) out.append(NULL_BYTES);
        else if (held === ATT_MISSING) {
          const missing = a.missing;
          if (missing === undefined || missing === null) out.append(NULL_BYTES);
          else out.text(jsonOfText(missing, a, lsn));
        } else {
          if (type === undefined) throw unknownType(a, rel, lsn);
          const start = layout[k + 1]!;
          const end = layout[k + 2]!;
          if (held !== ATT_BYTES || head.code === 0 || !datumJsonBytes(out, src, start, end, head.code)) {
            const text = held === ATT_BYTES ? datumText(ctx, src, start, end, type, a, rel, lsn) : datumText(ctx, decompressDatum(src.subarray(start, end), lsn), 0, -1, type, a, rel, lsn);
            textJsonBytes(out, text, a, lsn);
          }
        }
      }
      if (tail) out.text(this.columnTail(a, rel, lsn));
      first = false;
    }
    if (!first) out.ensure(1)[out.length++] = 0x7d; // '}'
  }

  /**
   * A column's `{"name":…,"type":…,"typeoid":…` as the options ask, made once per column and type (the catalog
   * answers with the same type object while the type does not change).
   */
  private columnHead(ctx: OutputContext, a: Attribute, type: TypeInfo | undefined, rel: DecoderRelation, lsn: Lsn): string {
    return this.columnHeadEntry(ctx, a, type, rel, lsn).head;
  }

  private columnHeadEntry(ctx: OutputContext, a: Attribute, type: TypeInfo | undefined, rel: DecoderRelation, lsn: Lsn): ColumnHead {
    const o = this.options;
    const base = o.includeTypes && o.includeDomainDataType && type?.baseType !== undefined ? ctx.type(type.baseType) : undefined;
    const hit = this.heads.get(a);
    if (hit !== undefined && hit.type === type && hit.base === base) return hit;
    let s = `{"name":${escapeJson(a.name)}`;
    if (o.includeTypes) {
      if (type === undefined) throw unknownType(a, rel, lsn);
      // A domain by the type it is over, with that type's modifier (one level, as wal2json does).
      if (o.includeDomainDataType && type.baseType !== undefined && base === undefined) throw unknownType({ ...a, typeOid: type.baseType }, rel, lsn);
      const name = base !== undefined ? formatTypeWithTypmod(base, type.baseTypmod ?? -1, (oid) => ctx.type(oid)) : formatTypeWithTypmod(type, a.typmod ?? -1, (oid) => ctx.type(oid));
      // A quoted identifier is already a JSON string, unless array brackets follow the quotes.
      s += `,"type":${name.startsWith('"') && !name.endsWith(']') ? name : escapeJson(name)}`;
    }
    if (o.includeTypeOids) s += `,"typeoid":${a.typeOid | 0}`;
    const entry: ColumnHead = { attr: a, type, base, head: s, headBytes: undefined, valueHeadBytes: undefined, nextHeadBytes: undefined, nextValueHeadBytes: undefined, code: type === undefined ? 0 : valueCode(a.typeOid, type) };
    this.heads.set(a, entry);
    return entry;
  }

  private readonly heads = new WeakMap<Attribute, ColumnHead>();

  // see pg_decode_write_value (wal2json.c)
  private value(v: RawValue, a: Attribute, type: TypeInfo | undefined, ctx: OutputContext, rel: DecoderRelation, lsn: Lsn): string {
    let text: string;
    if (v.kind === 'null' || (v.kind === 'missing' && v.text === null)) return 'null';
    if (v.kind === 'missing') text = v.text!;
    else if (v.kind === 'bytes') {
      if (type === undefined) throw unknownType(a, rel, lsn);
      try {
        text = outputValue(v.bytes, type, (oid) => ctx.type(oid));
      } catch (e) {
        if (e instanceof WalFormatError && e.lsn === undefined) throw new WalFormatError(e.code, `${e.message} (column ${a.name} of ${rel.namespace}.${rel.name} at ${formatLsn(lsn)})`, { lsn });
        throw e;
      }
    } else return 'null';
    return jsonOfText(text, a, lsn);
  }

  // see pg_decode_truncate_v2 (wal2json.c)
  truncate(ctx: OutputContext, txn: ReorderTxn, change: TruncateChange): void {
    if (!this.options.actions.truncate) return;
    for (const rel of change.relations) {
      if (!this.tableSelected(rel)) continue;
      let s = `{"action":"T"${this.txnFields(ctx, txn)}`;
      if (this.options.includeLsn) s += `,"lsn":"${formatLsn(change.lsn)}"`;
      if (this.options.includeSchemas) s += `,"schema":${escapeJson(rel.namespace)}`;
      ctx.write(`${s},"table":${escapeJson(rel.name)}}`);
    }
  }

  // see pg_decode_message and pg_decode_message_v2 (wal2json.c)
  message(ctx: OutputContext, txn: ReorderTxn | undefined, change: MessageChange): void {
    const o = this.options;
    if (o.filterMsgPrefixes.includes(change.prefix)) return;
    if (o.addMsgPrefixes.length > 0 && !o.addMsgPrefixes.includes(change.prefix)) return;
    const t = change.transactional ? txn : undefined;
    let s = '{"action":"M"';
    if (o.includeXids) s += `,"xid":${t !== undefined ? t.xid : 'null'}`;
    if (o.includeTimestamp) s += `,"timestamp":${t !== undefined ? `"${timestamptzText(ctx, t.commitTime)}"` : 'null'}`;
    if (o.includeOrigin) s += `,"origin":${t !== undefined ? t.originId : 'null'}`;
    if (o.includeLsn) s += `,"lsn":"${formatLsn(change.lsn)}"`;
    s += `,"transactional":${change.transactional ? 'true' : 'false'},"prefix":${escapeJson(change.prefix)}`;
    // The content is copied as a C string: it ends at the first NUL.
    const nul = change.content.indexOf(0);
    const content = utf8.decode(nul < 0 ? change.content : change.content.subarray(0, nul));
    ctx.write(`${s},"content":${escapeJson(content)}}`);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

interface ColumnHead {
  attr: Attribute;
  type: TypeInfo | undefined;
  base: TypeInfo | undefined;
  /** `{"name":…,"type":…` as the options ask. */
  head: string;
  /** `head` as UTF-8, and with `,"value":` after it, each also after the previous column's `},`: made when first written as bytes. */
  headBytes: Uint8Array | undefined;
  valueHeadBytes: Uint8Array | undefined;
  nextHeadBytes: Uint8Array | undefined;
  nextValueHeadBytes: Uint8Array | undefined;
  /** How datumJsonBytes writes the column's values (valueCode); 0: through their text. */
  code: number;
}

/** pg_decode_write_value on a value's text: numbers bare (NaN and infinities as null), booleans, bytea without `\x`, else a JSON string. */
function jsonOfText(text: string, a: Attribute, lsn: Lsn): string {
  if (NUMBER_TYPES.has(a.typeOid)) {
    if (/^(nan|infinity|-infinity)/i.test(text)) return 'null';
    if (!NUMBER_CHARS.test(text)) throw new WalFormatError('invalid-datum', `${text} is not a number (column ${a.name} at ${formatLsn(lsn)})`, { lsn });
    return text;
  }
  if (a.typeOid === BOOLOID) return text === 't' ? 'true' : 'false';
  if (a.typeOid === BYTEAOID) return escapeJson(text.slice(2));
  return escapeJson(text);
}

const encoder = new TextEncoder();
const ACTION_I = encoder.encode('{"action":"I"');
const ACTION_U = encoder.encode('{"action":"U"');
const ACTION_D = encoder.encode('{"action":"D"');
const CLOSE_IDENTITY_OPEN = encoder.encode('],"identity":[');
const CLOSE_PK_OPEN = encoder.encode('],"pk":[');
const CLOSE_ROW = encoder.encode(']}');

interface RelationBytes {
  namespace: string;
  name: string;
  /** `,"schema":…,"table":…` then `,"columns":[` or `,"identity":[`. */
  columns: Uint8Array;
  identity: Uint8Array;
  /** The same after `{"action":"I"`, `"U"`, `"D"` (a DELETE opens its identity). */
  insert: Uint8Array;
  update: Uint8Array;
  delete: Uint8Array;
}
const NULL_BYTES = encoder.encode('null');
const TRUE_BYTES = encoder.encode('true');
const FALSE_BYTES = encoder.encode('false');

// Scratch layouts of a change's new and old tuple: taken off while in use (an output function never comes back
// here, but be safe).
let newLayout: Int32Array = new Int32Array(3 * 32);
let oldLayout: Int32Array = new Int32Array(3 * 32);

/** Where each column of the stored tuple at `at` of a change lies (deformTupleInto). */
function deformStored(layout: Int32Array, ch: StoredRowChange, at: number): Int32Array {
  const src = ch.change;
  return deformTupleInto(layout, src, storedDataOffset(at), storedDataLength(src, at), storedInfomask2(src, at), storedInfomask(src, at), storedHoff(src, at), ch.relation.attributes, ch.lsn);
}

/** The datum `src[start, end)` (end -1: to the end) as its type's output function prints it; a failure names the column. */
function datumText(ctx: OutputContext, src: Uint8Array, start: number, end: number, type: TypeInfo, a: Attribute, rel: DecoderRelation, lsn: Lsn): string {
  try {
    // A view of the datum, as the text path gives the output function (one that reads past a short datum then reads
    // the same nothing, not the next column's bytes).
    return outputValue(end < 0 ? src : src.subarray(start, end), type, (oid) => ctx.type(oid));
  } catch (e) {
    if (e instanceof WalFormatError && e.lsn === undefined) throw new WalFormatError(e.code, `${e.message} (column ${a.name} of ${rel.namespace}.${rel.name} at ${formatLsn(lsn)})`, { lsn });
    throw e;
  }
}

/** Types wal2json writes bare (NUMBER_TYPES), without a Set lookup. */
const isNumberType = (oid: number): boolean => oid === 23 || oid === 20 || oid === 21 || oid === NUMERICOID || oid === 26 || oid === 701 || oid === 700;

// valueCode: what datumJsonBytes does with a column's datum (the low bits), and BARE: written as a bare number.
const V_INT4 = 1;
const V_INT2 = 2;
const V_INT8 = 3;
const V_OID = 4;
const V_BOOL = 5;
const V_TEXT = 6;
const V_TIMESTAMP = 7;
const V_TIMESTAMPTZ = 8;
const V_NUMERIC = 9;
const BARE = 16;

/**
 * How the values of a column of type `type` (the column's own type OID `typeOid`: a domain's is not its base's) are
 * written as bytes, decided once per column and type: pg_decode_write_value's choice by OID (numbers bare, bool as
 * true/false, bytea and the rest quoted) with the type's output function. 0: through the text.
 */
function valueCode(typeOid: number, type: TypeInfo): number {
  if (typeOid === BYTEAOID) return 0;
  const bare = isNumberType(typeOid) ? BARE : 0;
  switch (type.output) {
    case 'int4out':
      return typeOid === BOOLOID ? 0 : V_INT4 | bare;
    case 'int2out':
      return typeOid === BOOLOID ? 0 : V_INT2 | bare;
    case 'int8out':
      return typeOid === BOOLOID ? 0 : V_INT8 | bare;
    case 'oidout':
    case 'xidout':
      return typeOid === BOOLOID ? 0 : V_OID | bare;
    case 'boolout':
      return typeOid === BOOLOID ? V_BOOL : 0;
    case 'textout':
    case 'varcharout':
    case 'bpcharout':
      return bare !== 0 || typeOid === BOOLOID ? 0 : V_TEXT;
    case 'numeric_out':
      // Bare only: a domain over numeric is quoted, NaN and all.
      return bare !== 0 ? V_NUMERIC | bare : 0;
    case 'timestamp_out':
      return bare !== 0 || typeOid === BOOLOID ? 0 : V_TIMESTAMP;
    case 'timestamptz_out':
      return bare !== 0 || typeOid === BOOLOID ? 0 : V_TIMESTAMPTZ;
    default:
      return 0;
  }
}

/**
 * The value `src[start, end)` of a column written as pg_decode_write_value writes its text, as bytes, for the
 * commonest types (`code` from valueCode): integers from their bytes, UTF-8 text escaped as escape_json does,
 * timestamps. False when the bytes are not what that needs (the caller writes the text), so that the bytes are
 * always what the text would be.
 */
function datumJsonBytes(out: ByteRows, src: Uint8Array, start: number, end: number, code: number): boolean {
  let v: number;
  switch (code & 15) {
    case V_INT4:
      if (end - start !== 4) return false;
      v = u32(src, start) | 0;
      break;
    case V_INT2:
      if (end - start !== 2) return false;
      v = (u16(src, start) << 16) >> 16;
      break;
    case V_INT8: {
      if (end - start !== 8) return false;
      const hi = u32(src, start + 4) | 0;
      // Without BigInt while a safe integer, as outputValueAt.
      if (hi < -0x200000 || hi >= 0x200000) return false;
      v = hi * 0x1_0000_0000 + u32(src, start);
      break;
    }
    case V_OID:
      if (end - start !== 4) return false;
      v = u32(src, start);
      break;
    case V_BOOL:
      if (end - start !== 1) return false;
      out.append(src[start] !== 0 ? TRUE_BYTES : FALSE_BYTES);
      return true;
    case V_TEXT:
      return utf8JsonBytes(out, src, start, end);
    case V_NUMERIC:
      return numericJsonBytes(out, src, start, end);
    case V_TIMESTAMP:
    case V_TIMESTAMPTZ: {
      if (end - start !== 8) return false;
      const buf = out.ensure(48);
      const at = timestampAsciiFromHalves(buf, out.length + 1, u32(src, start + 4) | 0, u32(src, start), (code & 15) === V_TIMESTAMPTZ);
      if (at < 0) return false;
      buf[out.length] = 0x22;
      buf[at] = 0x22;
      out.length = at + 1;
      return true;
    }
    default:
      return false;
  }
  if ((code & BARE) !== 0) {
    out.int(v);
    return true;
  }
  out.ensure(1)[out.length++] = 0x22;
  out.int(v);
  out.ensure(1)[out.length++] = 0x22;
  return true;
}

/**
 * A numeric column's value `b[s0, e0)` written bare as numericOut prints it, from its base-10000 digits; NaN and the
 * infinities as null (pg_decode_write_value). False for a datum too short for its header (the text's way).
 */
// see get_str_from_var (numeric.c)
function numericJsonBytes(out: ByteRows, b: Uint8Array, s0: number, e0: number): boolean {
  if (e0 - s0 < 2) return false;
  const h = u16(b, s0);
  if ((h & 0xc000) === 0xc000) {
    out.append(NULL_BYTES);
    return true;
  }
  let neg: boolean;
  let dscale: number;
  let weight: number;
  let first: number;
  if (h & 0x8000) {
    neg = (h & 0x2000) !== 0;
    dscale = (h >> 7) & 0x3f;
    weight = h & 0x40 ? (h & 0x3f) - 64 : h & 0x3f;
    first = 2;
  } else {
    if (e0 - s0 < 4) return false;
    neg = (h & 0x4000) !== 0;
    dscale = h & 0x3fff;
    weight = (u16(b, s0 + 2) << 16) >> 16;
    first = 4;
  }
  const ndigits = (e0 - s0 - first) >> 1;
  const at0 = s0 + first;
  // Room for every group of the integer part, the fraction and a sign, at 5 characters a group at most.
  const buf = out.ensure(5 * (Math.max(weight, 0) + 1) + dscale + 8);
  let at = out.length;
  if (neg && ndigits > 0) buf[at++] = 0x2d;
  if (weight < 0) buf[at++] = 0x30;
  else for (let k = 0; k <= weight; k++) at = putDigits(buf, at, k < ndigits ? u16(b, at0 + 2 * k) : 0, k === 0 ? 1 : 4);
  if (dscale > 0) {
    buf[at++] = 0x2e;
    const from = at;
    for (let k = weight + 1; at - from < dscale; k++) {
      if (at + 5 > buf.length) return false;
      at = putDigits(buf, at, k >= 0 && k < ndigits ? u16(b, at0 + 2 * k) : 0, 4);
    }
    at = from + dscale;
  }
  out.length = at;
  return true;
}

/** `d` in decimal, zero-padded to `width`, at `at`; the new end. */
function putDigits(buf: Uint8Array, at: number, d: number, width: number): number {
  let n = d >= 10000 ? 5 : d >= 1000 ? 4 : d >= 100 ? 3 : d >= 10 ? 2 : 1;
  if (n < width) n = width;
  for (let k = n - 1; k >= 0; k--) {
    const q = Math.floor(d / 10);
    buf[at + k] = 0x30 + (d - q * 10);
    d = q;
  }
  return at + n;
}

/** One character below 0x20, a quote or a backslash as escape_json writes it, at `at`; the new end. */
function escapeByte(buf: Uint8Array, at: number, c: number): number {
  buf[at++] = 0x5c; // '\'
  switch (c) {
    case 0x22:
    case 0x5c:
      buf[at++] = c;
      break;
    case 8:
      buf[at++] = 0x62; // b
      break;
    case 12:
      buf[at++] = 0x66; // f
      break;
    case 10:
      buf[at++] = 0x6e; // n
      break;
    case 13:
      buf[at++] = 0x72; // r
      break;
    case 9:
      buf[at++] = 0x74; // t
      break;
    default:
      // \u00XX, lower-case hex
      buf[at++] = 0x75;
      buf[at++] = 0x30;
      buf[at++] = 0x30;
      buf[at++] = 0x30 + (c >> 4);
      buf[at++] = HEX[c & 15]!;
  }
  return at;
}
const HEX = encoder.encode('0123456789abcdef');

/**
 * Text written as a JSON string (escape_json) from its UTF-8 bytes. False where the text's way would print other
 * bytes: the decoder replaces invalid UTF-8 and drops a leading byte order mark, and the copy must write the same.
 */
function utf8JsonBytes(out: ByteRows, src: Uint8Array, start: number, end: number): boolean {
  const buf = out.ensure(6 * (end - start) + 2);
  let at = out.length;
  buf[at++] = 0x22;
  for (let i = start; i < end; i++) {
    const c = src[i]!;
    if (c >= 0x20 && c !== 0x22 && c !== 0x5c) {
      if (c >= 0x80) {
        const n = utf8SequenceLength(src, i, end);
        if (n === 0 || (i === start && c === 0xef && src[i + 1] === 0xbb && src[i + 2] === 0xbf)) return false;
        buf[at++] = c;
        for (let k = 1; k < n; k++) buf[at++] = src[i + k]!;
        i += n - 1;
      } else buf[at++] = c;
    } else at = escapeByte(buf, at, c);
  }
  buf[at++] = 0x22;
  out.length = at;
  return true;
}

/** The length of the well-formed UTF-8 sequence that starts with the byte >= 0x80 at `i` (Unicode table 3-7), 0 when ill-formed. */
function utf8SequenceLength(src: Uint8Array, i: number, end: number): number {
  const c = src[i]!;
  const cont = (k: number, lo = 0x80, hi = 0xbf): boolean => {
    if (i + k >= end) return false;
    const b = src[i + k]!;
    return b >= lo && b <= hi;
  };
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    const ok = c === 0xe0 ? cont(1, 0xa0) : c === 0xed ? cont(1, 0x80, 0x9f) : cont(1);
    return ok && cont(2) ? 3 : 0;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    const ok = c === 0xf0 ? cont(1, 0x90) : c === 0xf4 ? cont(1, 0x80, 0x8f) : cont(1);
    return ok && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

/** jsonOfText written as bytes: a JSON string's ASCII characters escaped straight into the buffer. */
function textJsonBytes(out: ByteRows, text: string, a: Attribute, lsn: Lsn): void {
  const oid = a.typeOid;
  if (isNumberType(oid) || oid === BOOLOID || oid === BYTEAOID) return out.text(jsonOfText(text, a, lsn));
  const n = text.length;
  const buf = out.ensure(6 * n + 2);
  let at = out.length;
  buf[at++] = 0x22;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x20 && c !== 0x22 && c !== 0x5c) {
      if (c >= 0x80) return out.text(escapeJson(text));
      buf[at++] = c;
    } else at = escapeByte(buf, at, c);
  }
  buf[at++] = 0x22;
  out.length = at;
}

const TIMESTAMPTZ: TypeInfo = { oid: TIMESTAMPTZOID, name: 'timestamp with time zone', output: 'timestamptz_out', len: 8, align: 'd', byval: true, elem: 0 };

/** timestamptz_to_str: the commit time as timestamptz_out prints it (ISO, the state's TimeZone). */
function timestamptzText(ctx: OutputContext, us: bigint): string {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigInt64(0, us, true);
  return outputValue(b, ctx.type(TIMESTAMPTZOID) ?? TIMESTAMPTZ, (oid) => ctx.type(oid));
}

function unknownType(a: Attribute, rel: DecoderRelation, lsn: Lsn): WalFormatError {
  return new WalFormatError('unknown-type', `type ${a.typeOid} of column ${a.name} of ${rel.namespace}.${rel.name} is not in the catalog (at ${formatLsn(lsn)})`, { lsn });
}
