// Live, Debian's PostgreSQL 15 with Debian's wal2json 2.5: `pgwal slot create --plugin wal2json`, a seeded
// workload (many types, NULLs, TOAST, replica identity default/full/index/nothing, deferrable keys, fast defaults,
// subtransactions, aborts, messages, TRUNCATE), then pgwal's wal2json rows from the server's WAL files equal
// pg_logical_slot_peek_changes(slot, …, 'format-version', '2', …) on that slot, for several option sets —
// through `pgwal decode --plugin json` (the default for a wal2json slot).
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type pg from 'pg';
import { decodeCommand } from '../src/cli/decode.js';
import { slotCommand } from '../src/cli/slot.js';
import { readSlotStateFile } from '../src/node/slot.js';
import type { TypeInfo } from '../src/reorderbuffer/values.js';
import { formatTypeWithTypmod, parseWal2JsonOptions } from '../src/reorderbuffer/wal2json.js';
import type { DumpIo } from '../src/cli/dump.js';
import { loadCatalog } from '../src/node/catalog.js';
import { debianAvailable, withServer } from './support/pg-server.js';
import { COLUMNS, randomRow, rng } from './support/random-rows.js';

const SEED = Number(process.env.PGWAL_SEED ?? Date.now() % 100000);
const WAL2JSON = '/usr/lib/postgresql/15/lib/wal2json.so';
const asText = { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig;

/** The CLI's io with synchronous byte output, as a terminal or a pipe gives it: change rows come as bytes (ctx.textRows). */
function io(): DumpIo & { stdout: () => string; stderr: () => string } {
  const out: Buffer[] = [];
  let err = '';
  return {
    out: (t) => void out.push(Buffer.from(t)),
    outSync: (t) => void out.push(Buffer.from(t)),
    outBytesSync: (b, n) => void out.push(Buffer.from(b.subarray(0, n))),
    err: (t) => (err += t),
    errIsTty: false,
    env: {},
    cwd: process.cwd(),
    sleep: async () => undefined,
    stdout: () => Buffer.concat(out).toString('utf8'),
    stderr: () => err,
  };
}

/** Option sets compared: wal2json's defaults, everything on, filters and actions. */
export const OPTION_SETS: [string, string][][] = [
  [],
  [['include-xids', '1'], ['include-timestamp', '1'], ['include-lsn', '1'], ['include-pk', '1'], ['include-type-oids', '1'], ['include-not-null', '1'], ['include-column-positions', '1'], ['include-origin', '1']],
  [['include-types', '0'], ['include-schemas', '0'], ['include-transaction', '0'], ['actions', 'insert,delete'], ['filter-tables', 'public.nopk, *.full_t'], ['add-msg-prefixes', 'keep']],
  [['include-pk', 'true'], ['add-tables', 'public.idx_t,My\\ Schema.*, public.types'], ['filter-msg-prefixes', 'keep'], ['actions', 'update,truncate'], ['include-xids', 'on']],
  [['include-xids', 'Y'], ['include-lsn', 'of'], ['include-pk', 'tRu'], ['add-tables', 'My\\ Schema.Odd\\ "Name", *.toasty,*.full_t'], ['filter-tables', 'public.*'], ['pretty-print', '1'], ['include-typmod', '0']],
  [['add-tables', ''], ['include-timestamp', 'yes']],
  [['include-domain-data-type', '1'], ['include-default', '1'], ['include-type-oids', '1'], ['add-tables', 'public.dom_t,public.types,public.fastdef']],
  [['include-domain-data-type', '1'], ['include-default', 'on'], ['include-types', 'off'], ['add-tables', 'public.dom_t']],
  [['filter-origins', '1'], ['include-origin', '1'], ['include-timestamp', '1'], ['include-xids', '1']],
  [['filter-origins', '7, 8'], ['include-origin', '1'], ['include-timestamp', '1'], ['actions', 'insert'], ['add-tables', 'public.nopk']],
];

/** Options wal2json refuses: pgwal refuses them with the same message. */
const BAD_OPTIONS: [string, string][][] = [
  [['include-xids', 'maybe']],
  [['include-xids', ' true']],
  [['include-lsn', 'n']],
  [['include-lsn', 'o']],
  [['actions', 'insert,upsert']],
  [['actions', 'insert,,delete']],
  [['no-such-option', '1']],
  [['format-version', '3']],
  [['format-version', 'two']],
  [['filter-tables', 'nodot']],
  [['add-tables', 'public.a b']],
  [['include-unchanged-toast', '1']],
];

/** A workload touching what wal2json prints differently; DDL only before the slot exists (static catalog). */
async function schema(c: pg.Client): Promise<void> {
  await c.query(`create type mood as enum ('sad', 'ok', 'happy')`);
  await c.query('create type textrange as range (subtype = text)');
  await c.query(`create table types (id int primary key, ${COLUMNS.map(([n, t]) => `${n} ${t}`).join(', ')})`);
  await c.query(`create table toasty (id int primary key, note text, big text, nums numeric(10,2)[])`);
  await c.query(`create table full_t (id int, a varchar(10), big text, ts timestamp(3), iv interval day to second(2)) `);
  await c.query(`alter table full_t replica identity full`);
  // A dropped column: still in the tuples (as null), never printed.
  await c.query(`alter table full_t add column gone text, add column after_gone int`);
  await c.query(`alter table full_t drop column gone`);
  await c.query(`create domain short_vc as varchar(5)`);
  await c.query(`create domain posint as int check (value > 0)`);
  await c.query(`create domain posint2 as posint`);
  await c.query(
    `create table dom_t (id int primary key default 7, s short_vc, p posint default 1, p2 posint2, g int generated always as (id * 2) stored, t text default 'it''s "q"', ts timestamptz default now(), sa short_vc[])`,
  );
  await c.query(`create table parted (k int primary key, v text) partition by range (k)`);
  await c.query(`create table parted_1 partition of parted for values from (0) to (100)`);
  await c.query(`create table idx_t (a int not null, b text not null, c text, d char(3))`);
  await c.query(`create unique index idx_t_ab on idx_t (b, a)`);
  await c.query(`alter table idx_t replica identity using index idx_t_ab`);
  await c.query(`create table nopk (a int, b text)`);
  await c.query(`create table nothing_t (id int primary key, v text)`);
  await c.query(`alter table nothing_t replica identity nothing`);
  await c.query(`create table defer_t (id int primary key deferrable initially deferred, v text)`);
  await c.query(`create schema "My Schema"`);
  await c.query(`select pg_replication_origin_create('w2j_origin')`);
  await c.query(`create table "My Schema"."Odd ""Name""" ("Col A" int primary key, "tab\tcol" text, "select" bit varying(5)[])`);
  // Rows written before a fast-default column: their old tuples miss it.
  await c.query(`create table fastdef (id int primary key, v text)`);
  await c.query(`insert into fastdef select g, 'v' || g from generate_series(1, 5) g`);
  await c.query(`alter table fastdef add column extra int default 42, add column label text default 'it''s "new"'`);
  await c.query(`alter table fastdef replica identity full`);
}

async function workload(c: pg.Client, other: pg.Client, seed: number): Promise<void> {
  const r = rng(seed);
  const big = (n: number): string => `(select string_agg(md5(g::text || '${seed}'), '') from generate_series(1, ${n}) g)`;
  for (let i = 1; i <= 60; i++) await c.query(`insert into types values ${randomRow(r, i)}`);
  await c.query(`update types set t = 'upd ' || id, f8 = 'NaN' where id % 5 = 0`);
  await c.query(`update types set id = id + 1000 where id % 7 = 0`);
  await c.query(`delete from types where id % 11 = 0`);
  await c.query(`insert into toasty values (1, 'a', ${big(200)}, '{1.5,NULL,3}'), (2, 'b', repeat('x', 100000), null), (3, 'c', null, '{}')`);
  await c.query(`update toasty set note = 'note only' where id in (1, 2)`); // unchanged TOAST: left out
  await c.query(`update toasty set big = ${big(150)} where id = 2`);
  await c.query(`update toasty set id = 10 where id = 1`);
  await c.query(`delete from toasty where id = 10`);
  await c.query(`insert into full_t values (1, 'x', ${big(300)}, '2024-01-02 03:04:05.678', '1 day 2 hours 3.25 seconds', 7), (2, null, 'small', null, null, null)`);
  await c.query(`insert into dom_t (s, p2, sa) values ('abc', 3, '{x,yy}')`);
  await c.query(`update dom_t set p = 5`);
  await c.query(`insert into parted values (1, 'leaf')`);
  await c.query(`update parted set v = 'leaf 2'`);
  await c.query('begin');
  await c.query('select txid_current()'); // an xid and nothing decoded: no B/C
  await c.query('commit');
  await c.query(`update full_t set a = 'y'`);
  await c.query(`delete from full_t where id = 1`);
  await c.query(`insert into idx_t values (1, 'one', 'c1', 'ab'), (2, 'two', null, null)`);
  await c.query(`update idx_t set c = 'changed' where a = 1`); // key unchanged: identity from the new tuple
  await c.query(`update idx_t set b = 'TWO' where a = 2`); // key changed: old key logged
  await c.query(`delete from idx_t where a = 1`);
  await c.query(`insert into nopk values (1, 'no key')`);
  await c.query(`update nopk set b = 'dropped by wal2json'`);
  await c.query(`delete from nopk`);
  await c.query(`insert into nothing_t values (1, 'n')`);
  await c.query(`update nothing_t set v = 'm'`);
  await c.query(`delete from nothing_t`);
  await c.query(`insert into defer_t values (1, 'd')`);
  await c.query(`update defer_t set v = 'e'`);
  await c.query(`insert into "My Schema"."Odd ""Name""" values (1, E'line\\nbreak "q" \\\\ \\u0001', '{10101,NULL}')`);
  await c.query(`update "My Schema"."Odd ""Name""" set "tab\tcol" = 'ü'`);
  await c.query(`update fastdef set v = 'w' where id = 1`);
  await c.query(`delete from fastdef where id = 2`);
  // Subtransactions, an abort, interleaving, messages.
  await c.query('begin');
  await c.query(`insert into idx_t values (10, 'ten', 's0', 'x')`);
  await c.query(`select pg_logical_emit_message(true, 'keep', E'tx "msg"\\n\\\\')`);
  await c.query('savepoint a');
  await c.query(`insert into idx_t values (11, 'eleven', 's1', 'y')`);
  await other.query(`insert into nopk values (2, 'interleaved')`);
  await c.query('rollback to savepoint a');
  await c.query('savepoint b');
  await c.query(`insert into idx_t values (12, 'twelve', 's2', 'z')`);
  await c.query('release savepoint b');
  await c.query(`select pg_logical_emit_message(false, 'drop', 'non-transactional')`);
  await c.query(`select pg_logical_emit_message(true, 'drop', 'tx')`);
  await c.query('commit');
  await c.query('begin');
  await c.query(`insert into idx_t values (20, 'aborted', null, null)`);
  await c.query('rollback');
  await c.query(`select pg_logical_emit_message(false, 'keep', E'outside\\u0002')`);
  await c.query(`select pg_logical_emit_message(true, 'keep', 'ctl' || chr(1))`);
  await c.query(`select pg_logical_emit_message(true, 'keep', '\\x61006209'::bytea)`); // content ends at the NUL
  // Two-phase: wal2json has no prepare callbacks, so prepared transactions appear at COMMIT PREPARED.
  await c.query('begin');
  await c.query(`insert into nopk values (40, 'prepared then committed')`);
  await c.query(`prepare transaction 'w2j_a'`);
  await c.query('begin');
  await c.query(`insert into nopk values (41, 'prepared then rolled back')`);
  await c.query(`prepare transaction 'w2j_b'`);
  await c.query(`commit prepared 'w2j_a'`);
  await c.query(`rollback prepared 'w2j_b'`);
  // A replication origin: include-origin shows it, filter-origins drops it; its commit time is the origin's.
  await other.query(`select pg_replication_origin_session_setup('w2j_origin')`);
  await other.query('begin');
  await other.query(`select pg_replication_origin_xact_setup('0/ABCDEF', '2001-02-03 04:05:06.789+00')`);
  await other.query(`insert into nopk values (50, 'replicated')`);
  await other.query('commit');
  await other.query(`select pg_replication_origin_session_reset()`);
  // TRUNCATE last: the static catalog does not follow the new relfilenodes.
  await c.query(`truncate nopk, nothing_t`);
  await c.query(`truncate defer_t, "My Schema"."Odd ""Name""" restart identity cascade`);
}

describe('wal2json 2.5 on Debian PostgreSQL 15', () => {
  it(`pgwal's wal2json rows equal the server's, for several option sets (seed ${SEED})`, async () => {
    // Not skipped when missing: a comparison that did not run must not pass.
    expect(debianAvailable(15), "Debian's PostgreSQL 15 is missing: apt-get install -y postgresql-15").toBe(true);
    expect(fs.existsSync(WAL2JSON), `${WAL2JSON} is missing: apt-get install -y postgresql-15-wal2json`).toBe(true);
    await withServer({ major: 15, flavor: 'debian', gucs: { wal_keep_size: "'1GB'" } }, async (server) => {
      const c = await server.connect();
      const other = await server.connect();
      try {
        await schema(c);
        const state = path.join(server.baseDir, 'slot.state');
        const dsn = `postgresql://postgres@localhost/postgres?host=${encodeURIComponent(server.socketDir)}&port=${server.port}`;
        const created = io();
        expect(await slotCommand(['create', '--dsn', dsn, '--slot', 'w2j', '--plugin', 'wal2json', '--state', state], created), created.stderr()).toBe(0);
        await workload(c, other, SEED);
        const end = (await c.query('select pg_current_wal_insert_lsn()::text as l')).rows[0].l as string;
        for (let i = 0; i < 200 && (await c.query('select pg_current_wal_flush_lsn() >= $1::pg_lsn as ok', [end])).rows[0].ok !== true; i++) await new Promise((res) => setTimeout(res, 25));
        expect(readSlotStateFile(state).plugin).toBe('wal2json');
        for (const opts of OPTION_SETS) {
          const args = opts.flatMap(([k, v]) => [k, v]);
          const theirs = (
            await c.query({
              text: `select lsn, xid, data from pg_logical_slot_peek_changes('w2j', $1, null, 'format-version', '2'${args.map((_, i) => `, $${i + 2}`).join('')})`,
              values: [end, ...args],
              rowMode: 'array',
              types: asText,
            })
          ).rows.map((row) => `${row[0]}\t${row[1]}\t${row[2]}`);
          const run = io();
          const code = await decodeCommand(['--state', state, '-p', server.pgWalDir, '--end', end, '--with-lsn', ...opts.flatMap(([k, v]) => ['-o', `${k}=${v}`])], run);
          expect(code, run.stderr()).toBe(0);
          const ours = run.stdout() === '' ? [] : run.stdout().replace(/\n$/, '').split('\n');
          expect(ours, `seed ${SEED}, options ${JSON.stringify(opts)}`).toEqual(theirs);
          expect(theirs.length, JSON.stringify(opts)).toBeGreaterThan(opts[0]?.[1] === '' ? 20 : 5);
          if (opts[0]?.[0] === 'include-domain-data-type' && opts[2]?.[0] === 'include-type-oids') {
            const dom = theirs.find((r) => r.includes('"table":"dom_t"'))!;
            for (const part of ['"name":"s","type":"character varying(5)"', '"name":"p2","type":"posint"', '"default":"now()"', '"name":"g","type":"integer","typeoid":23,"value":14,"default":null']) {
              expect(dom, part).toContain(part);
            }
          }
          if (opts[0]?.[1] === '7, 8') {
            // The workload did what the comparison relies on.
            expect(theirs.some((r) => r.includes('"timestamp":"2001-02-03 04:05:06.789+00","origin":1') && r.includes('replicated'))).toBe(true);
            expect(theirs.some((r) => r.includes('prepared then committed'))).toBe(true);
            expect(theirs.some((r) => r.includes('prepared then rolled back'))).toBe(false);
          }
        }
        for (const opts of BAD_OPTIONS) {
          const args = opts.flatMap(([k, v]) => [k, v]);
          const theirs = await c
            .query({ text: `select data from pg_logical_slot_peek_changes('w2j', $1, null, 'format-version', '2'${args.map((_, i) => `, $${i + 2}`).join('')})`, values: [end, ...args] })
            .then(
              () => 'accepted',
              (e: Error) => e.message,
            );
          let ours = 'accepted';
          try {
            parseWal2JsonOptions([['format-version', '2'], ...opts]);
          } catch (e) {
            ours = (e as Error).message;
          }
          expect(ours, JSON.stringify(opts)).toBe(theirs);
        }
      } finally {
        await other.end();
        await c.end();
      }
    });
  }, 180_000);
});

describe.each([15, 18] as const)('PostgreSQL %i: type names', (major) => {
  it('formatTypeWithTypmod equals format_type(atttypid, atttypmod) for every column', async () => {
    await withServer({ major }, async (server) => {
      const c = await server.connect();
      try {
        await c.query(`create type "Quoted Type" as enum ('a')`);
        await c.query(`create domain short as varchar(5)`);
        const cols = [
          'varchar(1)', 'varchar', 'char(10)', 'char', 'bpchar', 'numeric(5)', 'numeric(10,2)', 'numeric(3,-2)', 'numeric(1000,999)',
          'bit(1)', 'bit(64)', 'varbit(3)', 'varbit', 'time(0)', 'time', 'timetz(3)', 'timestamp(0)', 'timestamptz(6)', 'timestamptz',
          'interval', 'interval year', 'interval month', 'interval day', 'interval hour', 'interval minute', 'interval second',
          'interval second(3)', 'interval year to month', 'interval day to hour', 'interval day to minute', 'interval day to second(0)',
          'interval hour to minute', 'interval hour to second(6)', 'interval minute to second(2)', 'interval(4)', 'varchar(20)[]',
          'numeric(4,1)[][]', '"char"', 'name', 'text', 'bit(3)[]', 'int4', 'short', '"Quoted Type"', '"Quoted Type"[]', 'char(3)[]',
          'bpchar[]', 'timestamp(2)[]', 'interval day to second(1)[]', 'int4range', 'jsonb[]', 'float4', 'bool[]',
        ];
        await c.query(`create table t (${cols.map((t, i) => `c${i} ${t}`).join(', ')})`);
        const catalog = await loadCatalog(c);
        const types = new Map<number, TypeInfo>(catalog.types.map((t) => [t.oid, t]));
        const rel = catalog.relations.find((r) => r.name === 't')!;
        const theirs = (await c.query(`select attnum, format_type(atttypid, atttypmod) as f from pg_attribute where attrelid = 't'::regclass and attnum > 0 order by attnum`)).rows;
        expect(rel.attributes.map((a) => formatTypeWithTypmod(types.get(a.typeOid)!, a.typmod ?? -1, (oid) => types.get(oid)))).toEqual(theirs.map((r) => r.f));
      } finally {
        await c.end();
      }
    });
  });
});
