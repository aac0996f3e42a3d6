// Live, PostgreSQL 15–18: publications with row filters (ints, numeric, text equality, bool, timestamps, IN lists,
// NULL tests, AND/OR/NOT, functions; several publications OR-ed, per publish action, a publication without a filter;
// partitions with and without publish_via_partition_root; TOAST) and INSERT / UPDATE / DELETE crossing the filters
// both ways: `pgwal decode --plugin pgoutput` equals pg_logical_slot_peek_binary_changes of a pgoutput slot made at
// the same point, byte for byte, for proto_version 1 and the newest. A filter pgwal cannot evaluate is an error
// naming the publication, the table and the expression.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type pg from 'pg';
import { decodeCommand } from '../src/cli/decode.js';
import { slotCommand } from '../src/cli/slot.js';
import type { DumpIo } from '../src/cli/dump.js';
import { withServer } from './support/pg-server.js';
import { readCatalogPages, readSlotStateFile, writeSlotStateFile } from '../src/node/slot.js';

const asText = { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig;

function io(): DumpIo & { stdout: () => string; stderr: () => string } {
  let out = '';
  let err = '';
  return { out: (t) => (out += t), err: (t) => (err += t), errIsTty: false, env: {}, cwd: process.cwd(), sleep: async () => undefined, stdout: () => out, stderr: () => err };
}

async function schema(c: pg.Client): Promise<void> {
  await c.query(`create table rf_full (id int, k int, i8 int8, n numeric, f float8, s text, c char(4), b bool, d date, ts timestamptz, u uuid, big text, j jsonb)`);
  await c.query(`alter table rf_full replica identity full`);
  await c.query(`create table rf_key (id int primary key, v text)`);
  await c.query(`create table parted (k int not null, v text) partition by range (k)`);
  await c.query(`create table parted_1 partition of parted for values from (0) to (100)`);
  // A partition whose columns are in another order than its root's: the root's filter reads it by name.
  await c.query(`create table parted_2 (v text, k int not null)`);
  await c.query(`alter table parted attach partition parted_2 for values from (100) to (200)`);
  await c.query(`alter table parted replica identity full`);
  await c.query(`alter table parted_1 replica identity full`);
  await c.query(`alter table parted_2 replica identity full`);
  await c.query(`create publication p_ints for table rf_full where (id > 5 and k <> 3 or i8 < 0)`);
  await c.query(`create publication p_num for table rf_full where (n >= 1.5 and f < 100)`);
  await c.query(`create publication p_text for table rf_full where (s = 'yes' or s in ('a', 'b') or c = 'ab')`);
  await c.query(`create publication p_bool for table rf_full where (b is true)`);
  await c.query(`create publication p_time for table rf_full where (ts > '2024-01-01 00:00+00' and d <= '2024-06-30')`);
  await c.query(`create publication p_null for table rf_full where (s is null or not b)`);
  await c.query(`create publication p_fn for table rf_full where (lower(s) = 'yes' and length(s) = 3 and s like 'Y_S%' or abs(k) = 7 or u = 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11')`);
  await c.query(`create publication p_toast for table rf_full where (n > 0)`);
  await c.query(`create publication p_json for table rf_full where (j->>'kind' = 'order' or (j->'n'->>0)::text = '2')`);
  await c.query(`create publication p_key for table rf_key where (id % 2 = 0)`);
  await c.query(`create publication p_key_ins for table rf_key where (id > 10) with (publish = 'insert')`);
  await c.query(`create publication p_key_upd for table rf_key with (publish = 'update')`);
  await c.query(`create publication p_root for table parted where (k < 50 or k >= 150) with (publish_via_partition_root = true)`);
  await c.query(`create publication p_leaf for table parted_1 where (k > 10), parted_2 where (v <> 'skip')`);
  await c.query(`create publication p_all for all tables`);
  await c.query(`create publication p_bad for table rf_full where (s ~ '^y')`);
  // A constant part that fails when folded: the server fails at the table's first change (there an INSERT, though
  // this filter is for UPDATEs only), so does pgwal.
  await c.query(`create publication p_fold for table rf_key where (id > 1 / 0 or id < 0) with (publish = 'update')`);
}

async function workload(c: pg.Client): Promise<void> {
  const big = (n: number, salt: string): string => `(select string_agg(md5(g::text || '${salt}'), '') from generate_series(1, ${n}) g)`;
  await c.query(`insert into rf_full (id, k, i8, n, f, s, c, b, d, ts, u) values
    (1, 3, 5, 1.5, 1, 'yes', 'ab', true, '2024-03-01', '2024-03-01 10:00+00', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'),
    (6, 3, -1, 1.4999, 100, 'YES', 'ab  ', false, '2024-07-01', '2023-12-31 23:59+00', null),
    (7, 4, 9, 'NaN', 'NaN', 'a', 'x', null, '2024-06-30', '2024-01-01 00:00:00.000001+00', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12'),
    (8, -7, null, null, null, null, null, true, null, null, null),
    (9, 0, 0, 2, -1e300, 'b', 'ab', false, 'infinity', 'infinity', null)`);
  // Each update moves rows into or out of the filters (old matches / new does not → DELETE, and the reverse → INSERT).
  await c.query(`update rf_full set k = 5 where id = 6`);
  await c.query(`update rf_full set n = 1.5, s = 'no' where id = 6`);
  await c.query(`update rf_full set b = not b, s = 'yes' where id in (1, 9)`);
  await c.query(`update rf_full set ts = '2024-02-01', d = '2024-01-01' where id = 6`);
  await c.query(`update rf_full set id = 2, i8 = -5 where id = 7`);
  await c.query(`update rf_full set s = null where id = 1`);
  await c.query(`update rf_full set j = '{"kind": "order", "n": [1]}' where id in (1, 9)`);
  await c.query(`update rf_full set j = '{"kind": "refund", "n": [2, 3]}' where id = 1`);
  await c.query(`update rf_full set j = j - 'n' where id = 1`);
  await c.query(`delete from rf_full where id in (2, 8)`);
  // TOAST: a row whose big value stays unchanged while the filter's column crosses; as an INSERT its value is sent.
  await c.query(`insert into rf_full (id, n, s, big) values (20, -1, 'toast', ${big(300, 'a')})`);
  await c.query(`update rf_full set n = 1 where id = 20`);
  await c.query(`update rf_full set n = 2 where id = 20`);
  await c.query(`update rf_full set n = -2 where id = 20`);
  await c.query(`delete from rf_full where id = 20`);
  // Replica identity default: the old key only; a key change carries it.
  await c.query(`insert into rf_key select g, 'v' || g from generate_series(1, 14) g`);
  await c.query(`update rf_key set v = 'changed' where id in (2, 3, 12)`);
  await c.query(`update rf_key set id = id + 100 where id in (4, 5)`);
  await c.query(`update rf_key set id = 6001 where id = 6`);
  await c.query(`update rf_key set id = 8 - 1 + 1000 where id = 7`);
  await c.query(`delete from rf_key where id in (1, 2, 11, 12)`);
  await c.query(`insert into parted values (1, 'a'), (20, 'b'), (120, 'c'), (160, 'skip'), (99, 'd')`);
  await c.query(`update parted set k = k + 40 where k in (1, 20, 120)`);
  await c.query(`update parted set v = 'skip' where k = 99`);
  await c.query(`update parted set k = 150 where k = 60`);
  await c.query(`delete from parted where k in (41, 150)`);
}

const SETS: string[][] = [
  ['p_ints'],
  ['p_num'],
  ['p_text'],
  ['p_bool'],
  ['p_time'],
  ['p_null'],
  ['p_fn'],
  ['p_toast'],
  ['p_json'],
  ['p_num', 'p_text'],
  ['p_bool', 'p_all'],
  ['p_key'],
  ['p_key', 'p_key_ins'],
  ['p_key_ins', 'p_key_upd'],
  ['p_root'],
  ['p_leaf'],
  ['p_root', 'p_leaf'],
];

describe.each([15, 16, 17, 18] as const)('PostgreSQL %i', (major) => {
  it("row-filtered pgoutput equals pg_logical_slot_peek_binary_changes byte for byte", async () => {
    await withServer({ major, gucs: { wal_keep_size: "'1GB'" } }, async (server) => {
      const c = await server.connect();
      try {
        await schema(c);
        const state = path.join(server.baseDir, 'slot.state');
        const dsn = `postgresql://postgres@localhost/postgres?host=${encodeURIComponent(server.socketDir)}&port=${server.port}`;
        const created = io();
        expect(await slotCommand(['create', '--dsn', dsn, '--slot', 'rf', '--plugin', 'pgoutput', '--state', state], created), created.stderr()).toBe(0);
        await workload(c);
        const end = (await c.query('select pg_current_wal_insert_lsn()::text as l')).rows[0].l as string;
        for (let i = 0; i < 200 && (await c.query('select pg_current_wal_flush_lsn() >= $1::pg_lsn as ok', [end])).rows[0].ok !== true; i++) await new Promise((res) => setTimeout(res, 25));
        const maxProto = major >= 16 ? 4 : 3;
        const kinds = new Set<string>();
        for (const proto of [1, maxProto]) {
          for (const pubs of SETS) {
            // Binary with the newest protocol; streamed (16+: every transaction in blocks) for a few sets.
            const variants: [string, string][][] = [[['binary', 'false']]];
            if (proto > 1) variants.push([['binary', 'true']]);
            if (proto > 1 && major >= 16 && ['p_toast', 'p_key', 'p_root', 'p_num'].includes(pubs[0]!)) variants.push([['streaming', 'on']]);
            for (const variant of variants) {
              const opts: [string, string][] = [['proto_version', String(proto)], ['publication_names', pubs.join(',')], ...variant];
              const streaming = variant[0]![0] === 'streaming';
              if (major >= 16) await c.query(`set debug_logical_replication_streaming = ${streaming ? 'immediate' : 'buffered'}`);
              const args = opts.flat();
              const theirs = (
                await c.query({
                  text: `select lsn, xid, data from pg_logical_slot_peek_binary_changes('rf', $1, null${args.map((_, i) => `, $${i + 2}`).join('')})`,
                  values: [end, ...args],
                  rowMode: 'array',
                  types: asText,
                })
              ).rows.map((row) => `${row[0]}\t${row[1]}\t${row[2]}`);
              const run = io();
              const code = await decodeCommand(['--state', state, '-p', server.pgWalDir, '--end', end, '--with-lsn', '--memory-limit', streaming ? '0' : '64MB', ...opts.flatMap(([k, v]) => ['-o', `${k}=${v}`])], run);
              expect(code, run.stderr()).toBe(0);
              const ours = run.stdout() === '' ? [] : run.stdout().replace(/\n$/, '').split('\n');
              expect(ours, `${major}: ${JSON.stringify(opts)}`).toEqual(theirs);
              expect(theirs.length, JSON.stringify(opts)).toBeGreaterThan(2);
              for (const r of theirs) kinds.add(r.split('\t')[2]!.slice(2, 4));
            }
          }
        }
        // Inserts, updates and deletes all went out (some of them transformed from updates), and streamed blocks.
        for (const k of ['49', '55', '44', ...(major >= 16 ? ['53'] : [])]) expect(kinds.has(k), k).toBe(true);
        // A filter outside the evaluator's set: an error naming the publication, the table and the expression.
        const run = io();
        expect(await decodeCommand(['--state', state, '-p', server.pgWalDir, '--end', end, '-o', 'proto_version=1', '-o', 'publication_names=p_bad'], run)).toBe(1);
        expect(run.stderr()).toMatch(/^pgwal decode: error: cannot evaluate the row filter of publication "p_bad" on table public\.rf_full: WHERE \(s ~ '\^y'::text\): .*not supported \(change at [0-9A-F]+\/[0-9A-F]+\)\n$/);
        const theirFold = await c
          .query({ text: `select data from pg_logical_slot_peek_binary_changes('rf', $1, null, 'proto_version', '1', 'publication_names', 'p_key_ins,p_fold')`, values: [end] })
          .then(
            () => 'accepted',
            (e: Error) => e.message,
          );
        expect(theirFold).toBe('division by zero');
        const fold = io();
        expect(await decodeCommand(['--state', state, '-p', server.pgWalDir, '--end', end, '-o', 'proto_version=1', '-o', 'publication_names=p_key_ins,p_fold'], fold)).toBe(1);
        expect(fold.stdout(), 'nothing before the error, as the server').toBe('');
        expect(fold.stderr()).toMatch(/^pgwal decode: error: cannot evaluate the row filter of publication "p_fold" on table public\.rf_key: WHERE .*: division by zero \(change at [0-9A-F]+\/[0-9A-F]+\)\n$/);
        // A state made before pgwal recorded the filters' node trees: an error saying to make it again.
        const older = path.join(server.baseDir, 'older.state');
        // (made before pgwal kept the publication catalogs too: their pages are stripped, so the state's own list is used)
        const s = readSlotStateFile(state);
        for (const p of s.catalog.publications ?? []) for (const t of p.tables) delete t.rowFilterNode;
        const pages = readCatalogPages(s)!;
        const pubNodes = [6104, 6106, 6237].map((oid) => pages.filenodes[String(oid)]!);
        for (const oid of [6104, 6106, 6237]) delete pages.filenodes[String(oid)];
        pages.pages = pages.pages.filter((x) => !pubNodes.includes(x.relfilenode));
        const olderPages = path.join(server.baseDir, 'older.pages.json');
        fs.writeFileSync(olderPages, JSON.stringify(pages));
        writeSlotStateFile(older, { ...s, catalogPages: undefined, catalogPagesFile: olderPages });
        const run2 = io();
        expect(await decodeCommand(['--state', older, '-p', server.pgWalDir, '--end', end, '-o', 'proto_version=1', '-o', 'publication_names=p_num'], run2)).toBe(1);
        expect(run2.stderr()).toMatch(/^pgwal decode: error: cannot evaluate the row filter of publication "p_num" on table public\.rf_full: WHERE .*the slot state lacks the filter's node tree: make the slot state again with this pgwal \(change at [0-9A-F]+\/[0-9A-F]+\)\n$/);
      } finally {
        await c.end();
      }
    });
  }, 300_000);
});
