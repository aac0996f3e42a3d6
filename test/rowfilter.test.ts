// The row filter evaluator on node trees as a PostgreSQL 17 server stored them (prqual::text), and on hostile
// ones: every bad tree is a typed error, never a crash or a guess. Answers against the server: rowfilter.live.test.ts.
import { describe, expect, it } from 'vitest';
import type { DecoderRelation } from '../src/reorderbuffer/catalog.js';
import type { RawValue } from '../src/reorderbuffer/tuple.js';
import { parseNodeTree, RowFilter, RowFilterEvalError, RowFilterUnsupportedError } from '../src/reorderbuffer/rowfilter.js';

const attr = (attnum: number, name: string, typeOid: number) => ({ attnum, name, typeOid, len: -1, byval: false, align: 'i', dropped: false });
const rel = {
  oid: 16384,
  relfilenode: 16384,
  toastRelid: 0,
  namespace: 'public',
  name: 't',
  kind: 'r',
  attributes: [attr(1, 'id', 23), attr(2, 'i2', 21), attr(3, 's', 25)],
} as unknown as DecoderRelation;
const ctx = { type: () => undefined, locale: { provider: 'c', collate: 'C', ctype: 'C', locale: null } };

const VAR = (n: number, t: number, coll = 0) => `{VAR :varno 1 :varattno ${n} :vartype ${t} :vartypmod -1 :varcollid ${coll} :varnullingrels (b) :varlevelsup 0 :varnosyn 1 :varattnosyn ${n} :location -1}`;
const INT4 = (v: number) => `{CONST :consttype 23 :consttypmod -1 :constcollid 0 :constlen 4 :constbyval true :constisnull false :location -1 :constvalue 4 [ ${[...Buffer.alloc(8).fill(0).map((_, i) => (i < 4 ? (v >> (8 * i)) & 0xff : 0))].map((b) => (b > 127 ? b - 256 : b)).join(' ')} ]}`;
// (id > 5) AND (i2 <> 3), as the server stored it
const AND_TREE = `{BOOLEXPR :boolop and :args ({OPEXPR :opno 521 :opfuncid 147 :opresulttype 16 :opretset false :opcollid 0 :inputcollid 0 :args (${VAR(1, 23)} ${INT4(5)}) :location -1} {OPEXPR :opno 538 :opfuncid 164 :opresulttype 16 :opretset false :opcollid 0 :inputcollid 0 :args (${VAR(2, 21)} ${INT4(3)}) :location -1}) :location -1}`;
// s = ANY ('{a,b}'::text[])
const ANY_TREE = `{SCALARARRAYOPEXPR :opno 98 :opfuncid 67 :hashfuncid 0 :negfuncid 0 :useOr true :inputcollid 100 :args (${VAR(3, 25, 100)} {CONST :consttype 1009 :consttypmod -1 :constcollid 100 :constlen -1 :constbyval false :constisnull false :location -1 :constvalue 40 [ -96 0 0 0 1 0 0 0 0 0 0 0 25 0 0 0 2 0 0 0 1 0 0 0 20 0 0 0 97 0 0 0 20 0 0 0 98 0 0 0 ]}) :location -1}`;
// (id + 1) > 5, integer arithmetic that can overflow
const PLUS_TREE = `{OPEXPR :opno 521 :opfuncid 147 :opresulttype 16 :opretset false :opcollid 0 :inputcollid 0 :args ({OPEXPR :opno 551 :opfuncid 177 :opresulttype 23 :opretset false :opcollid 0 :inputcollid 0 :args (${VAR(1, 23)} ${INT4(1)}) :location -1} ${INT4(5)}) :location -1}`;

const int4 = (v: number): RawValue => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, v, true);
  return { kind: 'bytes', bytes: b };
};
const int2 = (v: number): RawValue => {
  const b = new Uint8Array(2);
  new DataView(b.buffer).setInt16(0, v, true);
  return { kind: 'bytes', bytes: b };
};
const text = (s: string): RawValue => ({ kind: 'bytes', bytes: new TextEncoder().encode(s) });
const NULL: RawValue = { kind: 'null' };
const row = (...vals: RawValue[]) => (attnum: number) => vals[attnum - 1];

describe('row filter evaluator', () => {
  it('evaluates stored trees with SQL three-valued logic', () => {
    const f = new RowFilter(AND_TREE, rel, ctx);
    expect(f.evaluate(row(int4(6), int2(4), NULL))).toBe(true);
    expect(f.evaluate(row(int4(6), int2(3), NULL))).toBe(false);
    expect(f.evaluate(row(int4(6), NULL, NULL))).toBe(null);
    expect(f.evaluate(row(int4(5), NULL, NULL))).toBe(false);
    expect(f.matches(row(int4(6), NULL, NULL))).toBe(false);
    const any = new RowFilter(ANY_TREE, rel, ctx);
    expect([text('a'), text('b'), text('c'), NULL].map((v) => any.evaluate(row(NULL, NULL, v)))).toEqual([true, true, false, null]);
  });

  it('fails where the server fails: integer overflow is a typed error', () => {
    const f = new RowFilter(PLUS_TREE, rel, ctx);
    expect(f.evaluate(row(int4(5), NULL, NULL))).toBe(true);
    expect(() => f.evaluate(row(int4(2147483647), NULL, NULL))).toThrow(RowFilterEvalError);
    expect(() => f.evaluate(row(int4(2147483647), NULL, NULL))).toThrow('integer out of range');
  });

  it('an unchanged TOAST value the filter needs is a typed error', () => {
    const any = new RowFilter(ANY_TREE, rel, ctx);
    const toast: RawValue = { kind: 'toast', rawSize: 5000, extSize: 5000, valueId: 1, toastRelId: 2, compressed: false, method: 0 };
    expect(() => any.evaluate(row(NULL, NULL, toast))).toThrow(RowFilterEvalError);
  });

  it('text ordering needs a known C collation', () => {
    const lt = `{OPEXPR :opno 664 :opfuncid 740 :opresulttype 16 :opretset false :opcollid 0 :inputcollid 100 :args (${VAR(3, 25, 100)} {CONST :consttype 25 :consttypmod -1 :constcollid 100 :constlen -1 :constbyval false :constisnull false :location -1 :constvalue 5 [ 20 0 0 0 98 ]}) :location -1}`;
    expect(new RowFilter(lt, rel, ctx).evaluate(row(NULL, NULL, text('a')))).toBe(true);
    // U+1F600 sorts after U+FF5A in C (code point) order, though not in UTF-16 order.
    const big = `{OPEXPR :opno 664 :opfuncid 740 :opresulttype 16 :opretset false :opcollid 0 :inputcollid 100 :args (${VAR(3, 25, 100)} {CONST :consttype 25 :consttypmod -1 :constcollid 100 :constlen -1 :constbyval false :constisnull false :location -1 :constvalue 7 [ 28 0 0 0 -17 -67 -102 ]}) :location -1}`;
    expect(new RowFilter(big, rel, ctx).evaluate(row(NULL, NULL, text('\u{1F600}')))).toBe(false);
    expect(() => new RowFilter(lt, rel, { type: () => undefined })).toThrow(RowFilterUnsupportedError);
    expect(() => new RowFilter(lt, rel, { type: () => undefined, locale: { provider: 'c', collate: 'en_US.UTF-8', ctype: 'en_US.UTF-8' } })).toThrow(/text ordering under the default collation/);
    expect(() => new RowFilter(lt, rel, { type: () => undefined, locale: { provider: 'i', collate: 'C', ctype: 'C', locale: 'und' } })).toThrow(RowFilterUnsupportedError);
  });

  it('refuses what it does not know, and hostile trees, with typed errors', () => {
    const hostile = [
      '',
      '{',
      '{OPEXPR :opno 1',
      '{OPEXPR :opno 521 :opfuncid 99999 :args ({VAR :varattno 1 :vartype 23 :varlevelsup 0} {VAR :varattno 1 :vartype 23 :varlevelsup 0})}',
      '{VAR :varno 1 :varattno 9 :vartype 23 :varlevelsup 0}',
      '{VAR :varno 1 :varattno 1 :vartype 25 :varlevelsup 0}',
      '{VAR :varno 1 :varattno -1 :vartype 27 :varlevelsup 0}',
      '{SUBLINK :subLinkType 0}',
      '{CONST :consttype 23 :constlen 4 :constbyval true :constisnull false :constvalue 4 [ 1 2 ]}',
      '{CONST :consttype 25 :constlen -1 :constbyval false :constisnull false :constvalue 5 [ 3 0 0 0 97 ]}',
      AND_TREE.slice(0, -1),
      `${AND_TREE} trailing`,
      '{BOOLEXPR :boolop and :args ('.repeat(200_000),
      '{BOOLEXPR :boolop xor :args ()}',
      `{BOOLEXPR :boolop not :args (${VAR(1, 23)})}`,
      '{CONST :consttype 20 :constlen 8 :constbyval true :constisnull false :constvalue 4 [ 1 0 0 0 ]}',
      `{OPEXPR :opno 521 :opfuncid 147 :opresulttype 16 :args (${VAR(1, 23)} {CONST :consttype 23 :constlen 4 :constbyval true :constisnull false :constvalue 2 [ 1 0 ]})}`,
      `{SCALARARRAYOPEXPR :opno 96 :opfuncid 65 :useOr true :inputcollid 0 :args (${VAR(1, 23)} {CONST :consttype 1007 :constlen -1 :constbyval false :constisnull false :constvalue 24 [ 96 0 0 0 1 0 0 0 0 0 0 0 23 0 0 0 9 0 0 0 1 0 0 0 ]})}`,
      `{SCALARARRAYOPEXPR :opno 98 :opfuncid 67 :useOr true :inputcollid 100 :args (${VAR(3, 25, 100)} {CONST :consttype 1009 :constlen -1 :constbyval false :constisnull false :constvalue 4 [ 16 0 0 0 ]})}`,
    ];
    for (const t of hostile) {
      let thrown: unknown;
      try {
        new RowFilter(t, rel, ctx).evaluate(row(int4(1), int2(1), text('a')));
      } catch (err) {
        thrown = err;
      }
      expect(thrown instanceof RowFilterUnsupportedError || thrown instanceof RowFilterEvalError, `${t.slice(0, 60)}: ${String(thrown)}`).toBe(true);
    }
  });

  it('a damaged jsonb value is a typed error', () => {
    const jrel = { ...rel, attributes: [attr(1, 'j', 3802)] } as unknown as DecoderRelation;
    // j->>'a' = 'x'
    const tree = `{OPEXPR :opno 98 :opfuncid 67 :opresulttype 16 :opretset false :opcollid 0 :inputcollid 100 :args ({OPEXPR :opno 3477 :opfuncid 3214 :opresulttype 25 :opretset false :opcollid 100 :inputcollid 100 :args (${VAR(1, 3802)} {CONST :consttype 25 :consttypmod -1 :constcollid 100 :constlen -1 :constbyval false :constisnull false :location -1 :constvalue 5 [ 20 0 0 0 97 ]}) :location -1} {CONST :consttype 25 :consttypmod -1 :constcollid 100 :constlen -1 :constbyval false :constisnull false :location -1 :constvalue 5 [ 20 0 0 0 120 ]}) :location -1}`;
    const f = new RowFilter(tree, jrel, ctx);
    expect(() => new RowFilter(AND_TREE, rel, ctx).evaluate(row({ kind: 'bytes', bytes: new Uint8Array(2) }, int2(1), NULL))).toThrow(RowFilterEvalError);
    for (const bytes of [[], [1, 0, 0, 0x20], [1, 0, 0, 0x20, 1, 0, 0, 0, 1, 0, 0, 0], [0xff, 0xff, 0xff, 0x2f]]) {
      expect(() => f.evaluate(row({ kind: 'bytes', bytes: Uint8Array.from(bytes) })), JSON.stringify(bytes)).toThrow(RowFilterEvalError);
    }
  });

  it('parses tokens, lists, nulls and escaped characters as readfuncs does', () => {
    expect(parseNodeTree('{X :a <> :b (i 1 2) :c true :d a\\ b :e ({Y})}')).toEqual({ tag: 'X', fields: { a: null, b: ['1', '2'], c: true, d: 'a b', e: [{ tag: 'Y', fields: {} }] } });
  });
});
