// test_decoding's text: quote_identifier, print_literal and tuple_to_stringinfo, as contrib/test_decoding prints.
import { WalFormatError } from '../errors.js';
import { ATT_BYTES, ATT_COMPRESSED, ATT_MISSING, ATT_NULL, ATT_TOAST, BytesValue, LAYOUT_IN_USE, decompressDatum, deformTupleInto, type RawValue } from './tuple.js';
import { StoredRowChange, storedDataLength, storedDataOffset, storedHoff, storedInfomask, storedInfomask2 } from './change.js';
import type { TypeInfo, TypeLookup } from './values.js';
import { outputValue, outputValueAt, timestampAsciiFromHalves, timestamptzText } from './values.js';
import { rowValueError } from './value-error.js';
import type { ByteRows, TextRowBytes } from './row-bytes.js';
import { lastViewCache, u16, u32 } from '../xlogreader/bytes.js';
import type { MessageChange, OutputContext, OutputPlugin, ReorderTxn, RowChange, TruncateChange } from './plugin.js';

// Keywords that are not UNRESERVED_KEYWORD in kwlist.h (15–18; 16+ added the JSON ones, MERGE_ACTION, SYSTEM_USER).
const KEYWORDS_15 =
  'all analyse analyze and any array as asc asymmetric authorization between bigint binary bit boolean both case cast char character check coalesce collate collation column concurrently constraint create cross current_catalog current_date current_role current_schema current_time current_timestamp current_user dec decimal default deferrable desc distinct do else end except exists extract false fetch float for foreign freeze from full grant greatest group grouping having ilike in initially inner inout int integer intersect interval into is isnull join lateral leading least left like limit localtime localtimestamp national natural nchar none normalize not notnull null nullif numeric offset on only or order out outer overlaps overlay placing position precision primary real references returning right row select session_user setof similar smallint some substring symmetric table tablesample then time timestamp to trailing treat trim true union unique user using values varchar variadic verbose when where window with xmlattributes xmlconcat xmlelement xmlexists xmlforest xmlnamespaces xmlparse xmlpi xmlroot xmlserialize xmltable';
const KEYWORDS_16_EXTRA =
  'json json_array json_arrayagg json_exists json_object json_objectagg json_query json_scalar json_serialize json_table json_value merge_action system_user';

const keywords15 = new Set(KEYWORDS_15.split(' '));
const keywords16 = new Set([...keywords15, ...KEYWORDS_16_EXTRA.split(' ')]);

/** quote_identifier: double-quoted unless a lower-case identifier that is no (non-unreserved) keyword. */
export function quoteIdentifier(name: string, major: number): string {
  const safe = /^[a-z_][a-z0-9_]*$/.test(name) && !(major >= 16 ? keywords16 : keywords15).has(name);
  return safe ? name : `"${name.replace(/"/g, '""')}"`;
}

// int2, int4, int8, oid, float4, float8, numeric: printed bare
const INT2 = 21;
const INT4 = 23;
const INT8 = 20;
const OID = 26;
const FLOAT4 = 700;
const FLOAT8 = 701;
const NUMERIC = 1700;
const BIT = 1560;
const VARBIT = 1562;
const BOOL = 16;

const unquoted = (typeOid: number): boolean =>
  typeOid === INT4 || typeOid === INT8 || typeOid === INT2 || typeOid === NUMERIC || typeOid === OID || typeOid === FLOAT8 || typeOid === FLOAT4;

/** print_literal: numbers bare, bits as B'…', booleans as true/false, everything else in quotes with ' doubled. */
export function printLiteral(typeOid: number, text: string): string {
  if (unquoted(typeOid)) return text;
  if (typeOid === BIT || typeOid === VARBIT) return `B'${text}'`;
  if (typeOid === BOOL) return text === 't' ? 'true' : 'false';
  return text.indexOf("'") < 0 ? `'${text}'` : `'${text.replace(/'/g, "''")}'`;
}

export interface OutputColumn {
  name: string;
  typeOid: number;
  dropped: boolean;
}

/**
 * The ` name[type]:` of each column and how its values print, per column list: made once and checked per use
 * against the column's name and the type the catalog gives now (a historic catalog may answer differently).
 */
interface ColumnHeads {
  major: number;
  names: string[];
  types: (TypeInfo | undefined)[];
  heads: string[];
  /** `heads` as UTF-8, made when first written as bytes. */
  headBytes: (Uint8Array | undefined)[];
  /** The value's text is printed bare (numbers) rather than quoted. */
  bare: boolean[];
  /** How literalBytes writes the column's values (a C_* code), from its type's output function. */
  codes: number[];
  /** The context's typesVersion at which every live column's head and type were last brought up to date. */
  version: number | undefined;
}
const headsCache = new WeakMap<readonly OutputColumn[], ColumnHeads>();

function columnHeads(columns: readonly OutputColumn[], major: number): ColumnHeads {
  let h = headsCache.get(columns);
  if (h === undefined || h.major !== major || h.names.length !== columns.length) {
    h = { major, names: columns.map((c) => c.name), types: columns.map(() => undefined), heads: columns.map(() => ''), headBytes: columns.map(() => undefined), bare: columns.map((c) => unquoted(c.typeOid)), codes: columns.map(() => C_TEXT_WAY), version: undefined };
    headsCache.set(columns, h);
  }
  return h;
}

/** The type of column `i` and its ` name[type]:` head brought up to date (the catalog may answer differently now). */
function columnType(h: ColumnHeads, i: number, c: OutputColumn, types: TypeLookup, major: number): TypeInfo {
  const type: TypeInfo | undefined = types(c.typeOid);
  if (type === undefined) throw new WalFormatError('unknown-type', `type ${c.typeOid} of column ${c.name} is not in the catalog`);
  if (h.types[i] !== type || h.names[i] !== c.name) {
    h.types[i] = type;
    h.names[i] = c.name;
    h.heads[i] = ` ${quoteIdentifier(c.name, major)}[${type.name}]:`;
    h.headBytes[i] = undefined;
    h.bare[i] = unquoted(c.typeOid);
    h.codes[i] = literalCode(type, c.typeOid, h.bare[i]!);
  }
  return type;
}

/**
 * Whether the heads of `columns` hold for `version` of the context's types (OutputContext.typesVersion): when
 * not yet, every live column is brought up to date, and if each has its type they are marked as holding.
 */
function headsHold(h: ColumnHeads, columns: readonly OutputColumn[], types: TypeLookup, major: number, version: number | undefined): boolean {
  if (version === undefined) return false;
  if (h.version === version) return true;
  for (let i = 0; i < columns.length; i++) {
    const c = columns[i]!;
    if (c.dropped) continue;
    // A type not in the catalog is an error only where the column is printed: left to the slow path.
    if (types(c.typeOid) === undefined) return false;
    columnType(h, i, c, types, major);
  }
  h.version = version;
  return true;
}

/** tuple_to_stringinfo: ` name[type]:value` per live column; `skipNulls` for old keys. */
export function tupleText(columns: readonly OutputColumn[], values: readonly RawValue[], types: TypeLookup, major: number, skipNulls: boolean): string {
  const h = columnHeads(columns, major);
  let s = '';
  for (let i = 0; i < columns.length; i++) {
    const c = columns[i]!;
    if (c.dropped) continue;
    const v = values[i]!;
    const isNull = v.kind === 'null' || (v.kind === 'missing' && v.text === null);
    if (isNull && skipNulls) continue;
    const type = columnType(h, i, c, types, major);
    s += h.heads[i]!;
    if (isNull) s += 'null';
    else if (v.kind === 'bytes') {
      const text = v instanceof BytesValue ? outputValueAt(v.src, v.start, v.end, type, types) : outputValue(v.bytes, type, types);
      s += h.bare[i] ? text : printLiteral(c.typeOid, text);
    }
    else if (v.kind === 'toast') s += 'unchanged-toast-datum';
    else if (v.kind === 'missing') s += printLiteral(c.typeOid, v.text!);
  }
  return s;
}

let storedLayout: Int32Array = new Int32Array(3 * 32);

/**
 * tupleText of a tuple as the reorder buffer stored it (offset `at` of the encoded change), printed straight from
 * its bytes: no value objects.
 */
export function storedTupleText(ch: StoredRowChange, at: number, types: TypeLookup, major: number, skipNulls: boolean): string {
  const columns = ch.relation.attributes;
  const src = ch.change;
  const layout = deformTupleInto(storedLayout, src, storedDataOffset(at), storedDataLength(src, at), storedInfomask2(src, at), storedInfomask(src, at), storedHoff(src, at), columns, ch.lsn);
  // Taken off the scratch while values print (a value's output function never comes back here, but be safe).
  storedLayout = LAYOUT_IN_USE;
  const h = columnHeads(columns, major);
  let s = '';
  try {
    for (let i = 0, o = 0; i < columns.length; i++, o += 3) {
      const c = columns[i]!;
      if (c.dropped) continue;
      const kind = layout[o]!;
      const missing = kind === ATT_MISSING ? c.missing : undefined;
      const isNull = kind === ATT_NULL || (kind === ATT_MISSING && (missing === undefined || missing === null));
      if (isNull && skipNulls) continue;
      const type = columnType(h, i, c, types, major);
      s += h.heads[i]!;
      if (isNull) s += 'null';
      else if (kind === ATT_BYTES || kind === ATT_COMPRESSED) {
        const text =
          kind === ATT_BYTES
            ? outputValueAt(src, layout[o + 1]!, layout[o + 2]!, type, types)
            : outputValue(decompressDatum(src.subarray(layout[o + 1]!, layout[o + 2]!), ch.lsn), type, types);
        s += h.bare[i] ? text : printLiteral(c.typeOid, text);
      }
      else if (kind === ATT_TOAST) s += 'unchanged-toast-datum';
      else s += printLiteral(c.typeOid, missing!);
    }
  } finally {
    storedLayout = layout;
  }
  return s;
}

const encoder = new TextEncoder();
const NULL_BYTES = encoder.encode('null');
const TOAST_BYTES = encoder.encode('unchanged-toast-datum');
const NO_TUPLE_BYTES = encoder.encode(' (no-tuple-data)');
const OLD_KEY_BYTES = encoder.encode(' old-key:');
const NEW_TUPLE_BYTES = encoder.encode(' new-tuple:');
const ACTION_BYTES = { INSERT: encoder.encode('INSERT:'), UPDATE: encoder.encode('UPDATE:'), DELETE: encoder.encode('DELETE:') };
const BEGIN_BYTES = encoder.encode('BEGIN');
const COMMIT_BYTES = encoder.encode('COMMIT');
const QUOTE = 0x27;

// How literalBytes writes a column's values: by the text (C_TEXT_WAY) or from the bytes by type.
const C_TEXT_WAY = 0;
const C_INT4 = 1;
const C_INT2 = 2;
const C_INT8 = 3;
const C_OID = 4;
const C_TEXT = 5;
const C_TIMESTAMP = 6;
const C_TIMESTAMPTZ = 7;

function literalCode(type: TypeInfo, typeOid: number, bare: boolean): number {
  // Quoted unless bare; the types print_literal prints otherwise take the text's way.
  if (!bare && (typeOid === BIT || typeOid === VARBIT || typeOid === BOOL)) return C_TEXT_WAY;
  switch (type.output) {
    case 'int4out':
      return C_INT4;
    case 'int2out':
      return C_INT2;
    case 'int8out':
      return C_INT8;
    case 'oidout':
    case 'xidout':
      return C_OID;
    case 'textout':
    case 'varcharout':
    case 'bpcharout':
      return C_TEXT;
    // A bare timestamp would be a type printed bare with timestamp's output function: by the text.
    case 'timestamp_out':
      return bare ? C_TEXT_WAY : C_TIMESTAMP;
    case 'timestamptz_out':
      return bare ? C_TEXT_WAY : C_TIMESTAMPTZ;
    default:
      return C_TEXT_WAY;
  }
}

/**
 * The value `src[start, end)` of a column whose literalCode is `code` printed as print_literal prints its text, as
 * bytes, for the commonest types: integers and timestamps from their bytes, ASCII text copied with ' doubled. False
 * when it is not one of those (the caller prints the text), so that the bytes are always what the text would be.
 */
function literalBytes(out: ByteRows, src: Uint8Array, start: number, end: number, code: number, bare: boolean): boolean {
  let v: number;
  switch (code) {
    case C_INT4:
      if (end - start !== 4) return false;
      v = u32(src, start) | 0;
      break;
    case C_INT2:
      if (end - start !== 2) return false;
      v = (u16(src, start) << 16) >> 16;
      break;
    case C_INT8: {
      if (end - start !== 8) return false;
      const hi = u32(src, start + 4) | 0;
      // Without BigInt while a safe integer, as outputValueAt.
      if (hi < -0x200000 || hi >= 0x200000) return false;
      v = hi * 0x1_0000_0000 + u32(src, start);
      break;
    }
    case C_OID:
      if (end - start !== 4) return false;
      v = u32(src, start);
      break;
    case C_TEXT:
      return asciiLiteral(out, src, start, end, bare);
    case C_TIMESTAMP:
    case C_TIMESTAMPTZ: {
      if (end - start !== 8) return false;
      // Quoted (literalCode): the text is ASCII, at most 40 bytes.
      const buf = out.ensure(42);
      const at = timestampAsciiFromHalves(buf, out.length + 1, u32(src, start + 4) | 0, u32(src, start), code === C_TIMESTAMPTZ);
      if (at < 0) return false;
      buf[out.length] = QUOTE;
      buf[at] = QUOTE;
      out.length = at + 1;
      return true;
    }
    default:
      return false;
  }
  if (bare) {
    out.int(v);
    return true;
  }
  out.ensure(1)[out.length++] = QUOTE;
  out.int(v);
  out.ensure(1)[out.length++] = QUOTE;
  return true;
}

/** A DataView of a change's bytes (the last one kept: a batch's changes come from one buffer). */
const viewOf = lastViewCache();

/**
 * Text that is all ASCII, copied (quoted, with ' doubled, unless bare). Other bytes take the text's way: the
 * decoder replaces invalid UTF-8 and drops a leading byte order mark, and the copy must print the same.
 */
function asciiLiteral(out: ByteRows, src: Uint8Array, start: number, end: number, bare: boolean): boolean {
  // One pass: copied while checked; nothing is kept (length unchanged) when a byte is not ASCII.
  const buf = out.ensure(2 * (end - start) + 2);
  let at = out.length;
  if (bare) {
    for (let i = start; i < end; i++) {
      const b = src[i]!;
      if (b >= 0x80) return false;
      buf[at++] = b;
    }
  } else {
    buf[at++] = QUOTE;
    let i = start;
    if (end - start >= 16) {
      // Four bytes a step while none is a quote or above 0x7f (padded char(n) columns are long runs of such).
      const from = viewOf(src);
      const to = out.view();
      for (; i + 4 <= end; i += 4) {
        const w = from.getUint32(i, true);
        const q = w ^ 0x27272727; // a zero byte where a quote was
        if (((w | ((q - 0x01010101) & ~q)) & 0x80808080) !== 0) break;
        to.setUint32(at, w, true);
        at += 4;
      }
    }
    for (; i < end; i++) {
      const b = src[i]!;
      if (b >= 0x80) return false;
      buf[at++] = b;
      if (b === QUOTE) buf[at++] = QUOTE;
    }
    buf[at++] = QUOTE;
  }
  out.length = at;
  return true;
}

/**
 * storedTupleText written into `out` as its UTF-8 bytes. `typesVersion`: the context's (OutputContext.typesVersion),
 * with which the columns' types are looked up once per version rather than per value.
 */
export function storedTupleBytes(out: ByteRows, ch: StoredRowChange, at: number, types: TypeLookup, major: number, skipNulls: boolean, typesVersion?: number): void {
  const columns = ch.relation.attributes;
  const src = ch.change;
  const layout = deformTupleInto(storedLayout, src, storedDataOffset(at), storedDataLength(src, at), storedInfomask2(src, at), storedInfomask(src, at), storedHoff(src, at), columns, ch.lsn);
  storedLayout = LAYOUT_IN_USE;
  const h = columnHeads(columns, major);
  const hold = headsHold(h, columns, types, major, typesVersion);
  try {
    for (let i = 0, o = 0; i < columns.length; i++, o += 3) {
      const c = columns[i]!;
      if (c.dropped) continue;
      const kind = layout[o]!;
      const missing = kind === ATT_MISSING ? c.missing : undefined;
      const isNull = kind === ATT_NULL || (kind === ATT_MISSING && (missing === undefined || missing === null));
      if (isNull && skipNulls) continue;
      const type = hold ? h.types[i]! : columnType(h, i, c, types, major);
      out.append(h.headBytes[i] ?? (h.headBytes[i] = encoder.encode(h.heads[i]!)));
      if (isNull) out.append(NULL_BYTES);
      else if (kind === ATT_BYTES) {
        const start = layout[o + 1]!;
        const end = layout[o + 2]!;
        if (!literalBytes(out, src, start, end, h.codes[i]!, h.bare[i]!)) {
          const text = outputValueAt(src, start, end, type, types);
          out.text(h.bare[i] ? text : printLiteral(c.typeOid, text));
        }
      } else if (kind === ATT_COMPRESSED) {
        const text = outputValue(decompressDatum(src.subarray(layout[o + 1]!, layout[o + 2]!), ch.lsn), type, types);
        out.text(h.bare[i] ? text : printLiteral(c.typeOid, text));
      } else if (kind === ATT_TOAST) out.append(TOAST_BYTES);
      else out.text(printLiteral(c.typeOid, missing!));
    }
  } finally {
    storedLayout = layout;
  }
}

export interface TestDecodingOptions {
  /** include-xids (default on). */
  includeXids: boolean;
  /** include-timestamp: commit/prepare times on COMMIT / PREPARE lines. */
  includeTimestamp: boolean;
  /** skip-empty-xacts: BEGIN is written with the first change, and transactions without one print nothing. */
  skipEmptyXacts: boolean;
  /** only-local: transactions with a replication origin are skipped. */
  onlyLocal: boolean;
  /** stream-changes: in-progress transactions may be streamed (the decoder decides when, by its memory limit). */
  streamChanges: boolean;
}

/** contrib/test_decoding as an output plugin: the rows pg_logical_slot_peek_changes returns. */
export class TestDecodingPlugin implements OutputPlugin {
  readonly options: TestDecodingOptions;
  /** Each change is printed in its callback. */
  readonly transientRowChanges = true;
  /** xact_wrote_changes of the transaction being emitted. */
  private wrote = false;

  constructor(options: Partial<TestDecodingOptions> = {}) {
    this.options = { includeXids: true, includeTimestamp: false, skipEmptyXacts: false, onlyLocal: false, streamChanges: false, ...options };
  }

  /** Per streamed top-level transaction: xact_wrote_changes and stream_wrote_changes. */
  private readonly streams = new Map<number, { wrote: boolean; streamWrote: boolean }>();

  private streamState(xid: number): { wrote: boolean; streamWrote: boolean } {
    let st = this.streams.get(xid);
    if (st === undefined) {
      st = { wrote: false, streamWrote: false };
      this.streams.set(xid, st);
    }
    return st;
  }

  private streamOpened(ctx: OutputContext, txn: ReorderTxn): void {
    const st = this.streamState(txn.xid);
    if (this.options.skipEmptyXacts && !st.streamWrote) ctx.write(this.opening(txn));
    st.wrote = st.streamWrote = true;
  }

  private opening(txn: ReorderTxn): string {
    return this.options.includeXids ? `opening a streamed block for transaction TXN ${txn.xid}` : 'opening a streamed block for transaction';
  }

  streamStart(ctx: OutputContext, txn: ReorderTxn): void {
    this.streamState(txn.xid).streamWrote = false;
    if (!this.options.skipEmptyXacts) ctx.write(this.opening(txn));
  }

  streamStop(ctx: OutputContext, txn: ReorderTxn): void {
    if (this.options.skipEmptyXacts && !this.streamState(txn.xid).streamWrote) return;
    ctx.write(this.options.includeXids ? `closing a streamed block for transaction TXN ${txn.xid}` : 'closing a streamed block for transaction');
  }

  streamAbort(ctx: OutputContext, txn: ReorderTxn, _abortLsn: number, topXid: number): void {
    const wrote = this.streamState(topXid).wrote;
    if (txn.xid === topXid) this.streams.delete(topXid);
    if (this.options.skipEmptyXacts && !wrote) return;
    ctx.write(this.options.includeXids ? `aborting streamed (sub)transaction TXN ${txn.xid}` : 'aborting streamed (sub)transaction');
  }

  streamPrepare(ctx: OutputContext, txn: ReorderTxn): void {
    if (this.options.skipEmptyXacts && !this.streamState(txn.xid).wrote) return;
    const gid = quoteLiteral(txn.gid!);
    ctx.write(`${this.options.includeXids ? `preparing streamed transaction TXN ${gid}, txid ${txn.xid}` : `preparing streamed transaction ${gid}`}${this.at(txn.commitTime)}`);
  }

  streamCommit(ctx: OutputContext, txn: ReorderTxn): void {
    const wrote = this.streamState(txn.xid).wrote;
    this.streams.delete(txn.xid);
    if (this.options.skipEmptyXacts && !wrote) return;
    ctx.write(`${this.options.includeXids ? `committing streamed transaction TXN ${txn.xid}` : 'committing streamed transaction'}${this.at(txn.commitTime)}`);
  }

  streamChange(ctx: OutputContext, txn: ReorderTxn): void {
    this.streamOpened(ctx, txn);
    ctx.write(this.options.includeXids ? `streaming change for TXN ${txn.xid}` : 'streaming change for transaction');
  }

  streamTruncate(ctx: OutputContext, txn: ReorderTxn): void {
    this.streamOpened(ctx, txn);
    ctx.write(this.options.includeXids ? `streaming truncate for TXN ${txn.xid}` : 'streaming truncate for transaction');
  }

  streamMessage(ctx: OutputContext, txn: ReorderTxn, m: MessageChange): void {
    if (m.transactional) {
      // 15 and 16 neither open a delayed block nor count the message as a change.
      if (ctx.major >= 17) this.streamOpened(ctx, txn);
      ctx.write(`streaming message: transactional: 1 prefix: ${m.prefix}, sz: ${m.content.length}`);
    } else {
      ctx.write(`streaming message: transactional: 0 prefix: ${m.prefix}, sz: ${m.content.length} content:${textUpToNul(m.content)}`);
    }
  }

  filterByOrigin(originId: number): boolean {
    return this.options.onlyLocal && originId !== 0;
  }

  /** pg_decode_filter_prepare: a GID containing `_nodecode` is decoded at COMMIT PREPARED only. */
  filterPrepare(gid: string): boolean {
    return gid.includes('_nodecode');
  }

  private beginLine(txn: ReorderTxn): string {
    return this.options.includeXids ? `BEGIN ${txn.xid}` : 'BEGIN';
  }

  private at(time: bigint): string {
    return this.options.includeTimestamp ? ` (at ${timestamptzText(time)})` : '';
  }

  begin(ctx: OutputContext, txn: ReorderTxn): void {
    this.wrote = false;
    if (!this.options.skipEmptyXacts && !this.xidLine(ctx, BEGIN_BYTES, txn.xid)) ctx.write(this.beginLine(txn));
  }

  /** `word xid` (or `word` without include-xids) written as bytes where the context takes them: false if not. */
  private xidLine(ctx: OutputContext, word: Uint8Array, xid: number): boolean {
    const rows = ctx.textRows;
    if (rows === undefined) return false;
    const out = rows.start();
    out.append(word);
    if (this.options.includeXids) {
      out.ensure(1)[out.length++] = 0x20;
      out.int(xid);
    }
    rows.end();
    return true;
  }

  beginPrepare(ctx: OutputContext, txn: ReorderTxn): void {
    this.begin(ctx, txn);
  }

  /** The delayed BEGIN of skip-empty-xacts, written at the first change's location. */
  private opened(ctx: OutputContext, txn: ReorderTxn): void {
    if (this.options.skipEmptyXacts && !this.wrote && !this.xidLine(ctx, BEGIN_BYTES, txn.xid)) ctx.write(this.beginLine(txn));
    this.wrote = true;
  }

  change(ctx: OutputContext, txn: ReorderTxn, ch: RowChange): void {
    this.opened(ctx, txn);
    const columns = ch.relation.attributes;
    const types = this.typesOf(ctx);
    const rows = ctx.textRows;
    if (rows !== undefined && ch instanceof StoredRowChange) return this.storedChangeBytes(rows, ch, types, ctx.major, ctx.typesVersion);
    let line = tableHead(ch.relation, ctx.major) + (ch.action === 'INSERT' ? 'INSERT:' : ch.action === 'UPDATE' ? 'UPDATE:' : 'DELETE:');
    try {
      if (ch instanceof StoredRowChange) return ctx.write(line + this.storedTuples(ch, types, ctx.major));
      if (ch.action === 'INSERT') line += ch.newTuple ? tupleText(columns, ch.newTuple, types, ctx.major, false) : ' (no-tuple-data)';
      else if (ch.action === 'UPDATE') {
        if (ch.oldTuple) line += ' old-key:' + tupleText(columns, ch.oldTuple, types, ctx.major, true) + ' new-tuple:';
        line += ch.newTuple ? tupleText(columns, ch.newTuple, types, ctx.major, false) : ' (no-tuple-data)';
      } else {
        line += ch.oldTuple ? tupleText(columns, ch.oldTuple, types, ctx.major, true) : ' (no-tuple-data)';
      }
    } catch (e) {
      throw rowValueError(e, ch, types);
    }
    ctx.write(line);
  }

  private lastCtx: OutputContext | undefined;
  private lastTypes: TypeLookup = () => undefined;

  /** ctx.type as a function (one per context, not one per change: the decoder passes the same context). */
  private typesOf(ctx: OutputContext): TypeLookup {
    if (ctx !== this.lastCtx) {
      this.lastCtx = ctx;
      this.lastTypes = (oid) => ctx.type(oid);
    }
    return this.lastTypes;
  }

  /** The tuples' part of a change line, printed from the stored change's bytes. */
  private storedTuples(ch: StoredRowChange, types: TypeLookup, major: number): string {
    const { newAt, oldAt } = ch;
    if (ch.action === 'INSERT') return newAt >= 0 ? storedTupleText(ch, newAt, types, major, false) : ' (no-tuple-data)';
    if (ch.action === 'UPDATE') {
      const old = oldAt >= 0 ? ' old-key:' + storedTupleText(ch, oldAt, types, major, true) + ' new-tuple:' : '';
      return old + (newAt >= 0 ? storedTupleText(ch, newAt, types, major, false) : ' (no-tuple-data)');
    }
    return oldAt >= 0 ? storedTupleText(ch, oldAt, types, major, true) : ' (no-tuple-data)';
  }

  /** A change's row as `change` prints it, written as bytes. */
  private storedChangeBytes(rows: TextRowBytes, ch: StoredRowChange, types: TypeLookup, major: number, typesVersion: number | undefined): void {
    const out = rows.start();
    try {
      out.append(tableHeadBytes(ch.relation, major));
      out.append(ACTION_BYTES[ch.action]);
      const { newAt, oldAt } = ch;
      if (ch.action !== 'INSERT' && oldAt >= 0) {
        if (ch.action === 'UPDATE') out.append(OLD_KEY_BYTES);
        storedTupleBytes(out, ch, oldAt, types, major, true, typesVersion);
        if (ch.action === 'UPDATE') out.append(NEW_TUPLE_BYTES);
      }
      if (ch.action !== 'DELETE') {
        if (newAt >= 0) storedTupleBytes(out, ch, newAt, types, major, false, typesVersion);
        else out.append(NO_TUPLE_BYTES);
      } else if (oldAt < 0) out.append(NO_TUPLE_BYTES);
    } catch (e) {
      rows.cancel();
      throw rowValueError(e, ch, types);
    }
    rows.end();
  }

  truncate(ctx: OutputContext, txn: ReorderTxn, ch: TruncateChange): void {
    this.opened(ctx, txn);
    const names = ch.relations.map((r) => qualifiedName(r.namespace, r.name, ctx.major)).join(', ');
    const opts = `${ch.restartSeqs ? ' restart_seqs' : ''}${ch.cascade ? ' cascade' : ''}`;
    ctx.write(`table ${names}: TRUNCATE:${opts === '' ? ' (no-flags)' : opts}`);
  }

  message(ctx: OutputContext, txn: ReorderTxn | undefined, m: MessageChange): void {
    // 15 and 16 print a transactional message without opening the delayed BEGIN, nor counting it as a change.
    if (m.transactional && txn !== undefined && ctx.major >= 17) this.opened(ctx, txn);
    ctx.write(messageLine(m.transactional, m.prefix, m.content));
  }

  commit(ctx: OutputContext, txn: ReorderTxn): void {
    if (this.options.skipEmptyXacts && !this.wrote) return;
    if (!this.options.includeTimestamp && this.xidLine(ctx, COMMIT_BYTES, txn.xid)) return;
    ctx.write(`${this.options.includeXids ? `COMMIT ${txn.xid}` : 'COMMIT'}${this.at(txn.commitTime)}`);
  }

  prepare(ctx: OutputContext, txn: ReorderTxn): void {
    if (this.options.skipEmptyXacts && !this.wrote) return;
    ctx.write(`PREPARE TRANSACTION ${quoteLiteral(txn.gid!)}${this.options.includeXids ? `, txid ${txn.xid}` : ''}${this.at(txn.commitTime)}`);
  }

  commitPrepared(ctx: OutputContext, txn: ReorderTxn): void {
    ctx.write(`COMMIT PREPARED ${quoteLiteral(txn.gid!)}${this.options.includeXids ? `, txid ${txn.xid}` : ''}${this.at(txn.commitTime)}`);
  }

  rollbackPrepared(ctx: OutputContext, txn: ReorderTxn): void {
    ctx.write(`ROLLBACK PREPARED ${quoteLiteral(txn.gid!)}${this.options.includeXids ? `, txid ${txn.xid}` : ''}${this.at(txn.commitTime)}`);
  }
}

export function qualifiedName(namespace: string, name: string, major: number): string {
  return `${quoteIdentifier(namespace, major)}.${quoteIdentifier(name, major)}`;
}

/** `table schema.name: ` per relation object, checked against its current names. */
const tableHeads = new WeakMap<RowChange['relation'], { namespace: string; name: string; major: number; text: string }>();

function tableHead(rel: RowChange['relation'], major: number): string {
  const t = tableHeads.get(rel);
  if (t !== undefined && t.namespace === rel.namespace && t.name === rel.name && t.major === major) return t.text;
  const text = `table ${qualifiedName(rel.namespace, rel.name, major)}: `;
  tableHeads.set(rel, { namespace: rel.namespace, name: rel.name, major, text });
  return text;
}

/** tableHead as UTF-8. */
const tableHeadsBytes = new WeakMap<RowChange['relation'], { text: string; bytes: Uint8Array }>();

function tableHeadBytes(rel: RowChange['relation'], major: number): Uint8Array {
  const text = tableHead(rel, major);
  const t = tableHeadsBytes.get(rel);
  if (t !== undefined && t.text === text) return t.bytes;
  const bytes = encoder.encode(text);
  tableHeadsBytes.set(rel, { text, bytes });
  return bytes;
}

/** quote_literal_cstr: single quotes doubled; a backslash makes it an E'' literal with backslashes doubled. */
export function quoteLiteral(s: string): string {
  const body = s.replace(/'/g, "''").replace(/\\/g, '\\\\');
  return s.includes('\\') ? `E'${body}'` : `'${body}'`;
}

function messageLine(transactional: boolean, prefix: string, content: Uint8Array): string {
  return `message: transactional: ${transactional ? 1 : 0} prefix: ${prefix}, sz: ${content.length} content:${textUpToNul(content)}`;
}

/** test_decoding appends the raw bytes; the SQL functions return them as text, which ends at the first NUL. */
function textUpToNul(content: Uint8Array): string {
  const nul = content.indexOf(0);
  return new TextDecoder().decode(nul < 0 ? content : content.subarray(0, nul));
}
