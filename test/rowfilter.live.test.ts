// Live, PostgreSQL 15–18: row filters (publication WHERE clauses) evaluated by pgwal's evaluator on the rows of a
// table, as read from the server's own heap page, equal what the server answers for `select <filter> from t`
// (true, false, NULL, or an error); filters outside the supported set are refused at compile time. The operator and
// function OIDs pgwal's tables name are checked against each major's pg_operator and pg_proc.
import { describe, expect, it } from 'vitest';
import type pg from 'pg';
import { withServer } from './support/pg-server.js';
import { loadCatalog } from '../src/node/catalog.js';
import { deformTuple } from '../src/reorderbuffer/tuple.js';
import { FUNCTIONS, OPERATOR_FUNCTIONS, RowFilter, RowFilterEvalError, RowFilterUnsupportedError } from '../src/reorderbuffer/rowfilter.js';

const asText = { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig;

const TABLE = `create table t (id int primary key, i2 int2, i8 int8, n numeric, f4 float4, f8 float8, s text, v varchar(10), c char(4),
  b bool, d date, ts timestamp, tz timestamptz, u uuid, dom posint, j jsonb)`;

const ROWS = [
  `(1, 1, 10, 1.5, 1.5, 2.25, 'x', 'a', 'ab', true, '2023-06-01', '2023-06-01 12:00', '2023-06-01 12:00+00', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 1)`,
  `(2, null, null, null, null, null, null, null, null, null, null, null, null, null, null)`,
  `(3, -32768, -9223372036854775808, 'NaN', 'NaN', 'NaN', '', '', '', false, '-infinity', '-infinity', '-infinity', '00000000-0000-0000-0000-000000000000', 5)`,
  `(4, 32767, 9223372036854775807, 'Infinity', 'Infinity', '-Infinity', 'ABC xyz', 'b', 'cd', false, 'infinity', 'infinity', 'infinity', 'ffffffff-ffff-ffff-ffff-ffffffffffff', 2147483647)`,
  `(5, 7, 5, -0.0001, -0.0, 1e300, E'\\u00e9t\\u00e9 ', 'A', 'ab  ', true, '1999-12-31', '1999-12-31 23:59:59.999999', '2000-01-01 00:00+01', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12', 3)`,
  `(6, 0, 0, 123456789012345678901234567890.123456789, 3.4e38, -1e-300, E'\\U0001F600', 'ｚ', 'ｚ', null, '2024-02-29', '2024-02-29 00:00', '2024-02-29 00:00-12', null, 4)`,
  `(7, 2, -7, -1.5, -2.5, 2.5, '  pad  ', 'x', ' x', true, '0001-01-01 BC', '4713-01-01 00:00 BC', '294276-12-31 23:59:59+00', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 6)`,
  `(8, 100, 3000000000, 2.5, 16777217, 9007199254740993, 'MiXeD', 'mixed', 'MIX', false, '2023-06-02', '2023-06-01 00:00', '2023-05-31 23:59:59.999999+00', 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', 7)`,
  `(9, null, null, null, null, null, 'a_c', 'a', 'ab%', null, null, null, null, null, null)`,
  `(10, null, null, null, null, null, E'50%\nx.y', 'a.b', '(x', null, null, null, null, null, null)`,
];

const JSONB = [
  `'{"a": "x", "b": [1, "two", null, {"c": true}], "n": 1.50}'`,
  'null',
  `'"x"'`,
  `'[1, 2, 3]'`,
  `'{"a": null, "b": []}'`,
  `'{"a": "é😀", "k": {"z": [false]}}'`,
  `'123.4500'`,
  `'{"a": 1e2, "aa": "y", "": "empty"}'`,
  `'{}'`,
  `'{"a": {"b": {"c": "deep"}}, "b": [[1], [2, 3]]}'`,
];
const ROWS_J = ROWS.map((r, i) => r.replace(/\)$/, `, ${JSONB[i]})`));

/** Filters the evaluator supports: its answers must equal the server's on every row. */
const SUPPORTED = [
  'id > 5',
  'id > 5 and i2 <> 3',
  'i2 = id or i8 >= id',
  'i8 < 3 and i2 <= 7',
  'not (id < 3)',
  'n >= 1.5',
  'n < 0',
  'n = 2.5 or n > 1e20',
  'n <> n',
  'f4 < 2.5',
  'f4 = f8',
  'f8 > 1',
  'f8 <= 2.25 and f4 > -3',
  "f8 = 'NaN'",
  "s = 'x'",
  "s <> 'x'",
  "s < 'b'",
  "s >= 'M'",
  "s > 'ｚ'",
  "v = 'a'",
  "v::text < 'b'",
  "c = 'ab'",
  "c < 'b'",
  "c = 'ab  '",
  'b',
  'not b',
  'b = true',
  'b is true',
  'b is not true',
  'b is false',
  'b is not false',
  'b is unknown',
  'b is not unknown',
  "d < '2024-01-01'",
  "d >= '2000-01-01'",
  "ts > '2023-01-01'",
  "ts = '1999-12-31 23:59:59.999999'",
  "tz <= '2023-06-01 12:00+02'",
  "tz > '2000-01-01 00:00+01'",
  "d = ts",
  "d < ts",
  "ts >= d",
  "u = 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'",
  "u > 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'",
  'id in (1, 3, 5)',
  'id not in (1, 2)',
  'i8 in (1, 5, 10)',
  "s in ('a', 'x', '')",
  "s in ('a', null)",
  "s not in ('a', null)",
  "c in ('ab', 'cd')",
  "s = any ('{x,MiXeD}')",
  "id = any ('{1,NULL,7}'::int[])",
  "n = any ('{2.5,NaN}')",
  "u in ('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'ffffffff-ffff-ffff-ffff-ffffffffffff')",
  'i2 is null',
  's is not null and b is null',
  'n is null or n is not null',
  "lower(s) = 'mixed'",
  "upper(v) = 'A'",
  "upper(s) = 'ABC XYZ'",
  'length(s) > 2',
  'length(c) = 2',
  'char_length(s) = 1',
  'octet_length(s) = 4',
  'octet_length(c) = 4',
  "btrim(s) = 'pad'",
  "ltrim(s) = 'pad  '",
  "rtrim(s) = '  pad'",
  "c::text = 'ab'",
  'abs(i8) > 3',
  'abs(i2) > 3',
  'abs(n) > 1',
  'abs(f8) > 2',
  'i2::int8 = id',
  'n::int8 > 1',
  'n::int = 2',
  'f8::int > 2',
  'f4::int8 = 2',
  'id::float8 = 1',
  'i8::float8 > 9e15',
  'i8::float4 > 1',
  'n::float8 > 1',
  'f8::float4 > 1',
  'i2::numeric = 7',
  'd::timestamp > ts',
  'ts::date = d',
  'id % 2 = 0',
  'id + 1 > i8',
  'i2 * 2 > 10',
  '-id > -3',
  'i8 / 2 = 5',
  "s || 'x' = 'xx'",
  'coalesce(i2, 0) > 1',
  'nullif(id, 3) > 1',
  's is distinct from null',
  "s is not distinct from 'x'",
  'case when b then id else 0 end > 1',
  "(id > 2 and s <> '') or (b is not true and n is not null)",
  "not (s = 'x' or i2 > 50)",
  "s like 'M%'",
  "j->>'a' = 'x'",
  "j->>'a' is null",
  "j->'a' is null",
  "j->'b'->>1 = 'two'",
  "j->'b'->-1 is not null",
  "j->'b'->>-4 = '1'",
  `j->'b'->>3 = '{"c": true}'`,
  "j->>0 = '1'",
  "j->0 is null",
  "j->>'n' = '1.50'",
  "j->'k'->'z'->>0 = 'false'",
  "j->>'' = 'empty'",
  "j->'a'->'b'->>'c' = 'deep'",
  "j->>'b' like '[%'",
  "j->>'a' = 'é😀'",
  "j->>'aa' in ('y', 'z')",
  "j->>'a' = '100'",
  "j->'b'->0->>0 = '1'",
  "starts_with(s, 'Mi')",
  "starts_with(s, '')",
  "strpos(s, 'x') > 1",
  "position('y' in s) = 6",
  "strpos(s, '') = 1",
  "replace(s, 'a', 'xy') = '  pxyd  '",
  "replace(s, '', 'z') = s",
  "left(s, 2) = 'Mi'",
  "left(s, -1) = 'MiXe'",
  "left(s, -100) = ''",
  "right(s, 2) = 'eD'",
  "right(s, -2) = 'XeD'",
  "substr(s, 2, 3) = 'iXe'",
  "substr(s, 0, 2) = 'M'",
  "substr(s, -5, 3) = ''",
  "substr(s, 3) = 'XeD'",
  "substring(s from 2 for 1) = 'i'",
  "substr(s, 1, i2) <> ''",
  "substr(s, 2, 2147483647) = 'iXeD'",
  // Folded before any row, as eval_const_expressions folds: constant errors fail every row, a constant FALSE / TRUE
  // decides AND / OR, a NULL argument makes a strict operator NULL, CASE and COALESCE skip what folding skips.
  'id > 5 or 1 / 0 > 1',
  '(id / 0 > 1) and false',
  'i2 * 1000::int2 > 1 and false',
  'true or i2 * 1000::int2 > 1',
  'i2 * 1000::int2 > null',
  'abs(i2 * 1000::int2) > null::int',
  'case when true then id else 1 / 0 end > 0',
  'case when false then 1 / 0 when i2 * 1000::int2 > 0 then 1 else 2 end > 1',
  'case when id > 1 then 1 / 0 else 1 end > 0',
  'coalesce(id, 1 / 0) > 0',
  'coalesce(null, 1, 1 / 0) > 0',
  'not (1 / 0 > 1)',
  'n + 1 > 2',
  'n - 0.5 = 1',
  'n * 2 >= 3',
  'n * n > 1e40',
  '- n < 0',
  'n + 1e-30 > n',
  "n * 0 = 0 or n + 'Infinity' > 0",
  'f8 + 1 > 2',
  'f8 - f8 = 0',
  'f8 * 1e300 > 1',
  'f8 * 1e-300 > 0',
  'f8 / 2 > 1',
  'f8 / 0 > 1',
  'f8 / f8 = 1',
  '- f8 < 0',
  "f8 + 'Infinity' > 0",
  "s like '%x%'",
  "s not like '_'",
  "s like '__'",
  "s like '%\\%'",
  "s like 'a\\_c' or s like '%.%' or s like '(%'",
  "v like 'a%'",
  "c like 'ab%'",
  "c like 'ab'",
  "c not like '%  '",
];

/** Filters outside the supported set: refused when compiled. */
const UNSUPPORTED = ["s ~ '^M'", "s ilike 'm%'", 'n / 2 > 1', 'f4 + 1 > 2', "s collate \"POSIX\" > 'a' and s < 'b' collate \"C\""];

describe.each([15, 16, 17, 18] as const)('PostgreSQL %i', (major) => {
  it("row filters evaluate as the server's, and unsupported ones are refused", async () => {
    await withServer({ major }, async (server) => {
      const c = await server.connect();
      try {
        // Every OID pgwal maps is the named built-in operator function / function on this major.
        for (const line of OPERATOR_FUNCTIONS.trim().split(/[;\n]/)) {
          const [oid, name, l, r, res] = line.trim().split(' ');
          const row = (await c.query({ text: `select oprname, oprleft::int, oprright::int, oprresult::int from pg_operator where oprcode = $1::regproc::oid`, values: [oid], types: asText })).rows;
          expect(row, line).toContainEqual({ oprname: name, oprleft: l, oprright: r, oprresult: res });
        }
        for (const line of FUNCTIONS.trim().split(/[;\n]/)) {
          const [oid, name, a, res] = line.trim().split(' ');
          const row = (await c.query({ text: `select proname, proargtypes::text as args, prorettype::int as ret, provolatile, proisstrict from pg_proc where oid = $1`, values: [oid], types: asText })).rows[0];
          expect(row, line).toEqual({ proname: name, args: a!.replaceAll(',', ' '), ret: res, provolatile: 'i', proisstrict: 't' });
        }
        await c.query(`create domain posint as int check (value > 0)`);
        await c.query(TABLE);
        await c.query(`alter table t replica identity full`);
        await c.query(`insert into t values ${ROWS_J.join(', ')}`);
        await c.query(`create extension pageinspect`);
        const catalog = await loadCatalog(c);
        const rel = catalog.relations.find((r) => r.name === 't')!;
        const types = new Map(catalog.types.map((t) => [t.oid, t]));
        const ctx = { type: (oid: number) => types.get(oid), ...(catalog.databaseLocale !== undefined ? { locale: catalog.databaseLocale } : {}) };
        expect(catalog.databaseLocale).toMatchObject({ collate: 'C', ctype: 'C' });
        // The rows as stored: the heap page's tuples, deformed as the decoder deforms WAL's.
        const page = (await c.query(`select get_raw_page('t', 0) as p`)).rows[0].p as Buffer;
        const items = (await c.query(`select lp_off, lp_len, t_infomask2, t_infomask, t_hoff from heap_page_items(get_raw_page('t', 0)) where lp_len > 0 order by lp`)).rows;
        const rows = items.map((it) => deformTuple(new Uint8Array(page.subarray(it.lp_off + 23, it.lp_off + it.lp_len)), it.t_infomask2, it.t_infomask, it.t_hoff, rel.attributes));
        expect(rows.length).toBe(ROWS.length);
        const idOf = (row: (typeof rows)[number]): number => Buffer.from((row[0] as { bytes: Uint8Array }).bytes).readInt32LE(0);
        const mismatches: string[] = [];
        let k = 0;
        for (const expr of [...SUPPORTED, ...UNSUPPORTED]) {
          const pub = `p${k++}`;
          const made = await c.query(`create publication ${pub} for table t where (${expr})`).then(
            () => '',
            (e: Error) => e.message,
          );
          if (made !== '') {
            mismatches.push(`${expr}: the server refuses it as a row filter (${made})`);
            continue;
          }
          const node = (await c.query({ text: `select prqual::text as q from pg_publication_rel r join pg_publication p on p.oid = r.prpubid where pubname = $1`, values: [pub], types: asText })).rows[0].q as string;
          let filter: RowFilter;
          try {
            filter = new RowFilter(node, rel, ctx);
          } catch (err) {
            if (!(err instanceof RowFilterUnsupportedError)) throw err;
            if (!UNSUPPORTED.includes(expr)) mismatches.push(`${expr}: refused (${err.message})`);
            continue;
          }
          if (UNSUPPORTED.includes(expr)) mismatches.push(`${expr}: accepted`);
          for (const row of rows) {
            const id = idOf(row);
            const theirs = await c.query({ text: `select (${expr})::text as r from t where id = $1`, values: [id], types: asText }).then(
              (r) => (r.rows[0].r as string | null) ?? 'null',
              (e: Error) => `error: ${e.message}`,
            );
            let ours: string;
            try {
              const v = filter.evaluate((attnum) => row[rel.attributes.findIndex((a) => a.attnum === attnum)]);
              ours = v === null ? 'null' : v ? 'true' : 'false';
            } catch (err) {
              if (!(err instanceof RowFilterEvalError)) throw err;
              ours = `error: ${err.message}`;
            }
            if (ours !== theirs) mismatches.push(`${expr} on row ${id}: server ${theirs}, pgwal ${ours}`);
          }
        }
        expect(mismatches).toEqual([]);
      } finally {
        await c.end();
      }
    });
  }, 180_000);
});
