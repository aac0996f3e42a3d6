// Live, every major: a test_decoding slot on a fresh server, a workload of many types, updates and deletes
// under both replica identities, savepoints, aborts, interleaved sessions, TOAST, TRUNCATE and messages; then
// pgwal decodes the WAL files from the slot's restart_lsn and prints exactly what
// pg_logical_slot_peek_changes returns, row for row (lsn, xid, data), with include-xids on and off.
import { describe, expect, it } from 'vitest';
import type pg from 'pg';
import { parseLsn, formatLsn } from '../src/index.js';
import { loadCatalog } from '../src/node/catalog.js';
import { TestDecodingDecoder } from '../src/reorderbuffer/logical.js';
import { profileForMajor } from '../src/xlogreader/profile.js';
import { MAJORS, withServer, type Server } from './support/pg-server.js';
import { walDirRecords } from './support/wal.js';
import { COLUMNS, randomRow, rng } from './support/random-rows.js';

const SEED = Number(process.env.PGWAL_SEED ?? Date.now() % 100000);
const asText = { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig;

async function workload(server: Server, c: pg.Client, seed: number): Promise<void> {
  const r = rng(seed);
  const q = (s: string): Promise<unknown> => c.query(s);
  for (let i = 1; i <= 60; i++) await q(`insert into v values ${randomRow(r, i)}`);
  await q(`update v set t = 'updated' where id % 3 = 0`);
  await q(`update v set id = id + 1000 where id % 7 = 0`);
  await q('delete from v where id % 5 = 0');
  await q(`insert into f values (1, 'one', 1.5), (2, null, 2.5)`);
  await q(`update f set note = 'changed' where id = 1`);
  await q('delete from f where id = 2');
  // Savepoints, a rollback to one, an abort.
  await q('begin');
  await q(`insert into f values (10, 'top', 0)`);
  await q('savepoint a');
  await q(`insert into f values (11, 'rolled back', 0)`);
  await q('rollback to savepoint a');
  await q('savepoint b');
  await q(`insert into f values (12, 'kept', 0)`);
  await q('release savepoint b');
  await q('commit');
  await q('begin');
  await q(`insert into f values (20, 'aborted', 0)`);
  await q('rollback');
  // Interleaved sessions committing out of order.
  const [s1, s2] = [await server.connect(), await server.connect()];
  try {
    await s1.query('begin');
    await s1.query(`insert into f values (30, 's1', 0)`);
    await s2.query('begin');
    await s2.query(`insert into f values (31, 's2', 0)`);
    await s1.query(`insert into f values (32, 's1 again', 0)`);
    await s2.query('commit');
    await s1.query('commit');
  } finally {
    await s1.end();
    await s2.end();
  }
  // TOAST: external (uncompressed and compressed), inline compressed, unchanged on update.
  await q(`insert into big values (1, (select string_agg(md5(g::text), '') from generate_series(1, 200) g), 1)`);
  await q(`insert into big values (2, repeat((select string_agg(md5(g::text), '') from generate_series(1, 90) g), 40), 2)`);
  await q(`insert into big values (3, repeat('x', 100000), 3)`);
  await q('update big set n = n + 1');
  await q(`update big set payload = payload || 'more' where id = 1`);
  await q(`select pg_logical_emit_message(true, 'tx', 'in a transaction')`);
  await q(`select pg_logical_emit_message(false, 'nontx', 'outside')`);
  await q('begin');
  await q(`insert into f values (40, 'with message', 0)`);
  await q(`select pg_logical_emit_message(true, 'tx', 'inside')`);
  await q('commit');
  await q('truncate big');
  // TRUNCATE gives the tables new relfilenodes: changes after it need the historic catalog (not here yet).
  await q('truncate f, v restart identity cascade');
}

describe.each(MAJORS)('PostgreSQL %i', (major) => {
  it('decodes WAL files into exactly what test_decoding returns', async () => {
    const seed = SEED + major;
    await withServer({ major, gucs: { wal_keep_size: "'1GB'" } }, async (server) => {
      const c = await server.connect();
      try {
        await c.query(`create type mood as enum ('sad', 'ok', 'happy')`);
        await c.query('create type textrange as range (subtype = text)');
        await c.query(`create table v (id int primary key, ${COLUMNS.map(([n, t]) => `${n} ${t}`).join(', ')})`);
        await c.query('create table f (id int primary key, note text, x float8)');
        await c.query('alter table f replica identity full');
        await c.query('create table big (id int primary key, payload text, n int)');
        await c.query(`create table "Mixed Case" ("select" int primary key, "Quote""d" text)`);
        await c.query(`insert into "Mixed Case" values (1, 'q')`);
        const catalog = await loadCatalog(c);
        const databaseOid = Number((await c.query(`select oid from pg_database where datname = current_database()`)).rows[0].oid);
        await c.query(`select pg_create_logical_replication_slot('s', 'test_decoding')`);
        const slot = (await c.query(`select restart_lsn::text, confirmed_flush_lsn::text from pg_replication_slots where slot_name = 's'`)).rows[0];
        await workload(server, c, seed);
        await c.query(`insert into "Mixed Case" values (2, 'after')`);
        const end = parseLsn((await c.query('select pg_current_wal_insert_lsn()::text as l')).rows[0].l);
        for (let i = 0; i < 200 && parseLsn((await c.query('select pg_current_wal_flush_lsn()::text as l')).rows[0].l) < end; i++) await new Promise((res) => setTimeout(res, 25));
        const records = walDirRecords(server.pgWalDir, parseLsn(slot.restart_lsn), end);
        for (const includeXids of [true, false]) {
          const theirs = (
            await c.query({
              text: `select lsn, xid, data from pg_logical_slot_peek_changes('s', $1, null, 'include-xids', $2, 'skip-empty-xacts', '1')`,
              values: [formatLsn(end), includeXids ? '1' : '0'],
              rowMode: 'array',
              types: asText,
            })
          ).rows.map(([lsn, xid, data]) => `${lsn}\t${xid}\t${data}`);
          const decoder = new TestDecodingDecoder({ databaseOid, ...catalog }, profileForMajor(major)!.major, { includeXids, skipEmptyXacts: true }, parseLsn(slot.confirmed_flush_lsn));
          for (const rec of records) decoder.process(rec);
          const ours = decoder.output.map((o) => `${formatLsn(o.lsn)}\t${o.xid}\t${o.data}`);
          expect(theirs.length, `seed ${seed}`).toBeGreaterThan(50);
          for (let i = 0; i < Math.max(ours.length, theirs.length); i++) expect(ours[i], `seed ${seed}, row ${i}, include-xids ${includeXids}\nours:\n${ours.slice(i, i + 3).join("\n").slice(0, 600)}\ntheirs:\n${theirs.slice(i, i + 3).join("\n").slice(0, 600)}`).toBe(theirs[i]);
        }
      } finally {
        await c.end();
      }
    });
  });
});

