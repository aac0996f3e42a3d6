// Live: typed JS values of tuples read from WAL agree with the server, for random rows of many built-in types
// (seeded): each value against the server's text, temporal values also against exact numbers the server
// computes (days, microseconds since 1970, interval fields), array elements one by one with the array's
// dimensions, range bounds; fast defaults (attmissingval) and unchanged TOAST values too.
import { describe, expect, it } from 'vitest';
import type pg from 'pg';
import { formatLsn, parseLsn } from '../src/index.js';
import { loadCatalog } from '../src/node/catalog.js';
import { deformTuple } from '../src/reorderbuffer/tuple.js';
import { PgDate, PgInterval, PgRange, PgTime, PgTimeTz, PgTimestamp, rawToJs, UnchangedToast, type JsValue } from '../src/reorderbuffer/jsvalues.js';
import type { TypeInfo } from '../src/reorderbuffer/values.js';
import { parseHeapInsert, parseHeapUpdate } from '../src/xlogreader/rmgrdesc/heap-parse.js';
import { withServer } from './support/pg-server.js';
import { describeJs, matchesText } from './support/jsvalue-match.js';
import { walDirRecords } from './support/wal.js';
import { COLUMNS, randomRow, rng } from './support/random-rows.js';

const SEED = Number(process.env.PGWAL_SEED ?? Date.now() % 100000);
const asText = { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig;

const flatten = (a: JsValue[]): JsValue[] => a.flatMap((x) => (Array.isArray(x) ? flatten(x) : [x]));
const dimsOf = (a: JsValue[]): number[] => (a.length === 0 ? [] : [a.length, ...(Array.isArray(a[0]) ? dimsOf(a[0]) : [])]);

/** Per column, what the server says besides the text: exact numbers for temporal types, elements, bounds. */
function probes(name: string, type: string): string[] {
  const col = name;
  if (type === 'date') return [`case when isfinite(${col}) then (${col} - date '1970-01-01')::text end`];
  if (type === 'time') return [`trunc(extract(epoch from ${col}) * 1000000)::text`];
  if (type === 'timetz') return [`trunc((extract(hour from ${col}) * 3600 + extract(minute from ${col}) * 60) * 1000000 + extract(microseconds from ${col}))::text`, `extract(timezone from ${col})::text`];
  // Whole seconds first: the server's extract(epoch) rounds to 16 digits near the end of the timestamp range.
  if (type === 'timestamp' || type === 'timestamptz')
    return [`case when isfinite(${col}) then (trunc(extract(epoch from date_trunc('second', ${col}))) * 1000000 + extract(microseconds from ${col})::bigint % 1000000)::text else ${col}::text end`];
  if (type === 'interval')
    return [
      `(extract(year from ${col}) * 12 + extract(month from ${col}))::text`,
      `extract(day from ${col})::text`,
      `trunc((extract(hour from ${col}) * 3600 + extract(minute from ${col}) * 60) * 1000000 + extract(microseconds from ${col}))::text`,
    ];
  if (type.endsWith('[]')) return [`(select json_agg(x::text) from unnest(${col}) x)::text`, `array_dims(${col})`];
  if (type.endsWith('range')) return [`lower(${col})::text`, `upper(${col})::text`, `lower_inc(${col})::text`, `upper_inc(${col})::text`, `isempty(${col})::text`];
  return [];
}

function checkProbes(js: JsValue, type: TypeInfo, sqlType: string, got: (string | null)[], types: (oid: number) => TypeInfo | undefined): string | undefined {
  if (js === null) return undefined;
  const bad = (what: string): string => `${describeJs(js)}: ${what} (server: ${JSON.stringify(got)})`;
  if (js instanceof PgDate) return got[0] === null ? (Math.abs(js.days) === Infinity ? undefined : bad('finite')) : js.days === Number(got[0]) ? undefined : bad('days');
  if (js instanceof PgTime) return js.microseconds === Number(got[0]) ? undefined : bad('microseconds');
  if (js instanceof PgTimeTz) return js.microseconds === Number(got[0]) && js.offsetSeconds === Number(got[1]) ? undefined : bad('fields');
  if (js instanceof PgTimestamp) {
    if (got[0] === 'infinity' || got[0] === '-infinity') return js.infinite === (got[0] === 'infinity' ? 1 : -1) ? undefined : bad('infinity');
    return js.infinite === 0 && js.microseconds === BigInt(got[0]!) ? undefined : bad('microseconds since 1970');
  }
  if (js instanceof PgInterval) return js.months === Number(got[0]) && js.days === Number(got[1]) && js.microseconds === BigInt(got[2]!) ? undefined : bad('fields');
  if (Array.isArray(js)) {
    const elem = types(type.elem)!;
    const texts = got[0] === null ? [] : (JSON.parse(got[0]) as (string | null)[]);
    const flat = flatten(js);
    if (flat.length !== texts.length) return bad('element count');
    for (let i = 0; i < flat.length; i++) {
      const m = matchesText(flat[i]!, texts[i]!, elem);
      if (m !== undefined) return bad(`element ${i}: ${m}`);
    }
    const dims = got[1] === null ? [] : [...got[1].matchAll(/\[(-?\d+):(-?\d+)\]/g)].map((d) => Number(d[2]) - Number(d[1]) + 1);
    return JSON.stringify(dimsOf(js)) === JSON.stringify(dims) ? undefined : bad('dimensions');
  }
  if (js instanceof PgRange) {
    const sub = types(type.rangeSubtype!)!;
    if (js.empty !== (got[4] === 'true')) return bad('empty');
    if (js.empty) return undefined;
    for (const [v, t] of [
      [js.lower, got[0]],
      [js.upper, got[1]],
    ] as const) {
      if ((v === undefined) !== (t === null)) return bad('unbounded');
      if (v !== undefined) {
        const m = matchesText(v, t, sub);
        if (m !== undefined) return bad(`bound: ${m}`);
      }
    }
    return js.lowerInclusive === (got[2] === 'true') && js.upperInclusive === (got[3] === 'true') ? undefined : bad('inclusive');
  }
  void sqlType;
  return undefined;
}

describe.each([15, 18] as const)('PostgreSQL %i', (major) => {
  it(`typed JS values of WAL tuples agree with the server (seed ${SEED + major})`, async () => {
    await withServer({ major, gucs: { wal_keep_size: "'1GB'" } }, async (server) => {
      const c = await server.connect();
      try {
        await c.query(`create type mood as enum ('sad', 'ok', 'happy')`);
        await c.query('create type textrange as range (subtype = text)');
        await c.query(`create domain posint as int check (value > 0)`);
        await c.query(`create table v (id int primary key, ${COLUMNS.map(([n, t]) => `${n} ${t}`).join(', ')}, dom posint)`);
        await c.query(`create table fast (id int primary key)`);
        await c.query(`create table tst (id int primary key, note text, big text)`);
        await c.query(`insert into tst values (1, 'a', (select string_agg(md5(g::text), '') from generate_series(1, 300) g))`);
        await c.query(`insert into fast values (1)`);
        const defaults: [string, string, string][] = [
          ['fi', 'int', '-7'],
          ['fb', 'bigint', '9007199254740993'],
          ['fbo', 'bool', 'true'],
          ['ft', 'text', `'it''s'`],
          ['fn', 'numeric(10,3)', '3.14159'],
          ['ff', 'float8', `'-Infinity'`],
          ['ff4', 'float4', '0.1'],
          ['fd', 'date', `'0044-03-15 BC'`],
          ['fts', 'timestamp', `'2024-02-29 23:59:59.123456'`],
          ['ftb', 'timestamp', `'1200-03-04 05:06:07 BC'`],
          ['ftz', 'timestamptz', `'1999-12-31 23:59:59.5-08'`],
          ['ftm', 'time', `'13:45:00.25'`],
          ['ftt', 'timetz', `'01:02:03+05:30'`],
          ['fby', 'bytea', `'\\x00ff10'`],
          ['fu', 'uuid', `'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'`],
          ['fj', 'jsonb', `'{"b": [1, 2], "a": null}'`],
          ['fe', 'mood', `'ok'`],
          ['finf', 'timestamptz', `'infinity'`],
        ];
        for (const [n, t, d] of defaults) await c.query(`alter table fast add column ${n} ${t} default ${d}`);
        const start = parseLsn((await c.query('select pg_current_wal_insert_lsn()::text as l')).rows[0].l);
        await c.query(`insert into fast (id) values (2)`);
        const r = rng(SEED + major);
        for (let i = 1; i <= 300; i++) await c.query(`insert into v values ${randomRow(r, i).slice(0, -1)}, ${r() < 0.2 ? 'null' : Math.floor(1 + r() * 1e6)})`);
        await c.query(`update tst set note = 'b'`);
        const end = parseLsn((await c.query('select pg_current_wal_insert_lsn()::text as l')).rows[0].l);
        for (let i = 0; i < 200 && parseLsn((await c.query('select pg_current_wal_flush_lsn()::text as l')).rows[0].l) < end; i++) await new Promise((res) => setTimeout(res, 25));
        const catalog = await loadCatalog(c);
        const types = new Map<number, TypeInfo>(catalog.types.map((t) => [t.oid, t]));
        const lookup = (oid: number): TypeInfo | undefined => types.get(oid);
        const rel = (name: string) => catalog.relations.find((x) => x.name === name)!;
        const cols: [string, string][] = [...COLUMNS, ['dom', 'posint']];
        const probeSql = cols.map(([n, t]) => probes(n, t));
        const theirs = new Map<number, { text: (string | null)[]; probes: (string | null)[][] }>();
        const q = `select id, ${cols.map(([n]) => n).join(', ')}${probeSql.flat().length > 0 ? ', ' + probeSql.flat().join(', ') : ''} from v`;
        for (const row of (await c.query({ text: q, rowMode: 'array', types: asText })).rows) {
          let k = cols.length + 1;
          theirs.set(Number(row[0]), { text: row.slice(0, cols.length + 1), probes: probeSql.map((p) => row.slice(k, (k += p.length))) });
        }
        const fastText = (await c.query({ text: `select ${defaults.map(([n]) => n).join(', ')} from fast where id = 1`, rowMode: 'array', types: asText })).rows[0] as (string | null)[];
        const records = walDirRecords(server.pgWalDir, start, end);
        let rows = 0;
        let missing = 0;
        let toast = 0;
        for (const rec of records) {
          if (rec.rmid !== 10) continue;
          const node = rec.block(0)?.locator.relNumber;
          if ((rec.info & 0x70) === 0 && node === rel('v').relfilenode) {
            const t = parseHeapInsert(rec).tuple!;
            const attrs = rel('v').attributes;
            const raw = deformTuple(rec.bytes.subarray(t.dataOffset, t.dataOffset + t.dataLength), t.infomask2, t.infomask, t.hoff, attrs, rec.lsn);
            const js = raw.map((v, i) => rawToJs(v, types.get(attrs[i]!.typeOid)!, lookup));
            const id = js[0] as number;
            const want = theirs.get(id)!;
            for (let i = 0; i < js.length; i++) {
              const type = types.get(attrs[i]!.typeOid)!;
              const where = `seed ${SEED + major}, row ${id}, column ${attrs[i]!.name} at ${formatLsn(rec.lsn)}`;
              expect(matchesText(js[i]!, want.text[i]!, type), where).toBeUndefined();
              if (i > 0) expect(checkProbes(js[i]!, type, cols[i - 1]![1], want.probes[i - 1]!, lookup), where).toBeUndefined();
            }
            rows++;
          } else if ((rec.info & 0x70) === 0 && node === rel('fast').relfilenode) {
            // Inserted after the defaults were added: real values. The row inserted before lives only in the catalog's
            // attmissingval, read back here through a tuple cut to the first column.
            const t = parseHeapInsert(rec).tuple!;
            const attrs = rel('fast').attributes;
            const full = deformTuple(rec.bytes.subarray(t.dataOffset, t.dataOffset + t.dataLength), t.infomask2, t.infomask, t.hoff, attrs, rec.lsn);
            const cut = deformTuple(rec.bytes.subarray(t.dataOffset, t.dataOffset + t.dataLength), (t.infomask2 & ~0x7ff) | 1, t.infomask, t.hoff, attrs, rec.lsn);
            for (let i = 1; i < attrs.length; i++) {
              expect(cut[i]!.kind).toBe('missing');
              const type = types.get(attrs[i]!.typeOid)!;
              const fromText = rawToJs(cut[i]!, type, lookup);
              expect(matchesText(fromText, fastText[i - 1]!, type), `fast default ${attrs[i]!.name}`).toBeUndefined();
              expect(describeJs(fromText), `fast default ${attrs[i]!.name} from text vs from bytes`).toBe(describeJs(rawToJs(full[i]!, type, lookup)));
              missing++;
            }
          } else if (((rec.info & 0x70) === 0x20 || (rec.info & 0x70) === 0x40) && node === rel('tst').relfilenode) {
            const u = parseHeapUpdate(rec).newTuple!;
            const attrs = rel('tst').attributes;
            const raw = deformTuple(rec.bytes.subarray(u.dataOffset, u.dataOffset + u.dataLength), u.infomask2, u.infomask, u.hoff, attrs, rec.lsn);
            const js = rawToJs(raw[2]!, types.get(25)!, lookup);
            expect(js).toBeInstanceOf(UnchangedToast);
            expect((js as UnchangedToast).size).toBe(300 * 32);
            toast++;
          }
        }
        expect(rows).toBe(300);
        expect(missing).toBe(defaults.length);
        expect(toast).toBe(1);
      } finally {
        await c.end();
      }
    });
  }, 120_000);
});
