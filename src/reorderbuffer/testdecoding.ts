// test_decoding's text: quote_identifier, print_literal and tuple_to_stringinfo, as contrib/test_decoding prints.
import type { RawValue } from './tuple.js';
import type { TypeInfo, TypeLookup } from './values.js';
import { outputValue } from './values.js';

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

const UNQUOTED = new Set([21, 23, 20, 26, 700, 701, 1700]); // int2, int4, int8, oid, float4, float8, numeric
const BIT = new Set([1560, 1562]);
const BOOL = 16;

/** print_literal: numbers bare, bits as B'…', booleans as true/false, everything else in quotes with ' doubled. */
export function printLiteral(typeOid: number, text: string): string {
  if (UNQUOTED.has(typeOid)) return text;
  if (BIT.has(typeOid)) return `B'${text}'`;
  if (typeOid === BOOL) return text === 't' ? 'true' : 'false';
  return `'${text.replace(/'/g, "''")}'`;
}

export interface OutputColumn {
  name: string;
  typeOid: number;
  dropped: boolean;
}

/** tuple_to_stringinfo: ` name[type]:value` per live column; `skipNulls` for old keys. */
export function tupleText(columns: readonly OutputColumn[], values: readonly RawValue[], types: TypeLookup, major: number, skipNulls: boolean): string {
  let s = '';
  for (let i = 0; i < columns.length; i++) {
    const c = columns[i]!;
    if (c.dropped) continue;
    const v = values[i]!;
    const isNull = v.kind === 'null' || (v.kind === 'missing' && v.text === null);
    if (isNull && skipNulls) continue;
    const type: TypeInfo | undefined = types(c.typeOid);
    if (type === undefined) throw new Error(`type ${c.typeOid} of column ${c.name} is not in the catalog`);
    s += ` ${quoteIdentifier(c.name, major)}[${type.name}]:`;
    if (isNull) s += 'null';
    else if (v.kind === 'toast') s += 'unchanged-toast-datum';
    else if (v.kind === 'missing') s += printLiteral(c.typeOid, v.text!);
    else if (v.kind === 'bytes') s += printLiteral(c.typeOid, outputValue(v.bytes, type, types));
  }
  return s;
}
