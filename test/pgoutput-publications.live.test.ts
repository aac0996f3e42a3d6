// Live, PostgreSQL 15–18: publications changed after the slot's creation in every way pgoutput follows (ADD / DROP /
// SET TABLE, column lists, TABLES IN SCHEMA, publish actions, publish_via_partition_root, CREATE, DROP and RENAME
// PUBLICATION, a change inside a transaction that also changes rows, one while another transaction is open),
// partitions made and attached after the slot, TRUNCATE with and without the action published, replication origins created after the slot, and invalidations
// that make the server send a Relation message again (ANALYZE, ALTER TABLE, CREATE INDEX, CREATE and ALTER SCHEMA
// on 16+): `pgwal decode --plugin pgoutput` equals pg_logical_slot_peek_binary_changes byte for byte, for
// proto_version 1 and the newest (with binary), on one thread and with --format-thread on.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type pg from 'pg';
import { decodeCommand } from '../src/cli/decode.js';
import { slotCommand } from '../src/cli/slot.js';
import type { DumpIo } from '../src/cli/dump.js';
import { readCatalogPages, readSlotStateFile, writeSlotStateFile } from '../src/node/slot.js';
import { withServer } from './support/pg-server.js';
import { runCliProcess } from './support/cli-process.js';
import { walDirRecords } from './support/wal.js';
import { HistoricCatalog } from '../src/catalog/historic.js';
import { catalogSnapshotFromJson } from '../src/catalog/snapshot-json.js';
import { parseLsn } from '../src/lsn.js';

const asText = { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig;

function io(): DumpIo & { stdout: () => string; stderr: () => string } {
  let out = '';
  let err = '';
  return { out: (t) => (out += t), err: (t) => (err += t), errIsTty: false, env: {}, cwd: process.cwd(), sleep: async () => undefined, stdout: () => out, stderr: () => err };
}

async function schema(c: pg.Client): Promise<void> {
  await c.query(`create table t1 (id int primary key, a text, b int, c text)`);
  await c.query(`create table t2 (id int primary key, v text)`);
  await c.query(`create schema s1`);
  await c.query(`create table s1.t3 (k int primary key, w text)`);
  await c.query(`create table parted (k int primary key, v text) partition by range (k)`);
  await c.query(`create table parted_1 partition of parted for values from (0) to (100)`);
  await c.query(`create publication p_a for table t1`);
  await c.query(`create publication p_b for all tables with (publish = 'insert')`);
  await c.query(`create publication p_other for table t2`);
  await c.query(`create publication p_fs for table t2 where (id > 0)`);
}

/** Publications changed after the slot, with rows changed between each change. */
async function workload(c: pg.Client, other: pg.Client): Promise<void> {
  let n = 0;
  const rows = async (): Promise<void> => {
    n++;
    await c.query(`insert into t1 values (${n}, 'a${n}', ${n}, 'c${n}')`);
    await c.query(`update t1 set b = b + 100 where id = ${n}`);
    await c.query(`insert into t2 values (${n}, 'v${n}')`);
    await c.query(`insert into s1.t3 values (${n}, 'w${n}')`);
    await c.query(`insert into parted values (${n}, 'p${n}')`);
    if (n % 3 === 0) await c.query(`delete from t1 where id = ${n - 1}`);
    if (n % 4 === 0) await c.query(`truncate t2, s1.t3`);
  };
  await rows();
  await c.query(`alter publication p_a add table t2`);
  await rows();
  await c.query(`alter publication p_a set (publish = 'insert')`);
  await rows();
  await c.query(`alter publication p_a set (publish = 'insert, update, delete, truncate')`);
  await rows();
  await c.query(`alter publication p_a add tables in schema s1`);
  await rows();
  await c.query(`alter publication p_a drop tables in schema s1`);
  await rows();
  // A column list, then another one: the Relation message says which columns, again at each change.
  await c.query(`alter publication p_a set table t1 (id, a), t2`);
  await rows();
  await c.query(`alter publication p_a set table t1 (id, b, c), t2`);
  await rows();
  await c.query(`alter publication p_a drop table t2`);
  await rows();
  // Partitions through their root once publish_via_partition_root is on.
  await c.query(`alter publication p_a add table parted`);
  await rows();
  await c.query(`alter publication p_a set (publish_via_partition_root = true)`);
  await rows();
  // Partitions made and attached after the slot: their ancestors from the historic catalog (pg_inherits).
  await c.query(`create table parted_2 partition of parted for values from (100) to (200)`);
  await c.query(`create table parted_3 (v text, k int not null)`);
  await c.query(`alter table parted attach partition parted_3 for values from (200) to (300)`);
  await c.query(`insert into parted values (150, 'new partition'), (250, 'attached partition')`);
  await c.query(`update parted set v = v || '!' where k >= 100`);
  await rows();
  // A publication made after the slot (named in publication_names before it exists: 18 skips it until then).
  await c.query(`create publication p_late for table s1.t3`);
  await rows();
  // A publication nobody decodes with, dropped: the server's publication cache is invalidated all the same.
  await c.query(`drop publication p_other`);
  await rows();
  await c.query(`alter publication p_b set (publish = 'insert, update')`);
  await rows();
  // A publication renamed (18 sends relsync invalidations for its tables, earlier majors rebuild every entry).
  await c.query(`alter publication p_fs rename to p_fs_renamed`);
  await rows();
  // Within one transaction: rows before and after the publication changes.
  await c.query('begin');
  await c.query(`insert into t2 values (1000, 'before add')`);
  await c.query(`alter publication p_a add table t2`);
  await c.query(`insert into t2 values (1001, 'after add')`);
  await c.query(`alter publication p_a set table t1 (id, a)`);
  await c.query(`insert into t1 values (1002, 'after set table', 1, 'c')`);
  await c.query('commit');
  await rows();
  // Invalidations that are not publication changes: the Relation message goes out again after them too.
  await c.query(`analyze t1`);
  await rows();
  await c.query(`alter table t1 add column d int`);
  await rows();
  await c.query(`create index on t1 (b)`);
  await rows();
  // A schema made, then renamed (pg_namespace changes): on 16+ every entry is rebuilt, every Relation sent again.
  await c.query(`create schema s2`);
  await rows();
  await c.query(`alter schema s2 rename to s2_renamed`);
  await rows();
  // A publication changed while another transaction is in progress: the server hands the change's invalidations to
  // it at that point (changes before it not published, after it published), and to one that only begins after it.
  await other.query('begin');
  await other.query(`insert into t2 values (3000, 'before the concurrent add')`);
  await c.query(`alter publication p_a add table t2`);
  await rows();
  await other.query(`insert into t2 values (3001, 'after the concurrent add')`);
  await other.query('commit');
  await rows();
  // A replication origin made after the slot: its name in the Origin message.
  // The first after a checkpoint is logged with a full-page image (and no tuple data), the second with its tuple.
  await c.query(`checkpoint`);
  await c.query(`select pg_replication_origin_create('late_origin')`);
  await c.query(`select pg_replication_origin_create('late_origin_2')`);
  for (const [name, id] of [['late_origin', 5000], ['late_origin_2', 5001]] as const) {
    await other.query(`select pg_replication_origin_session_setup('${name}')`);
    await other.query('begin');
    await other.query(`select pg_replication_origin_xact_setup('0/1234567', '2001-02-03 04:05:06.789+00')`);
    await other.query(`insert into t1 values (${id}, 'replicated', 1, 'x')`);
    await other.query('commit');
    await other.query(`select pg_replication_origin_session_reset()`);
  }
  await rows();
  await c.query(`drop publication p_late`);
  await rows();
}

const PUBLICATION_SETS = [['p_a'], ['p_b'], ['p_a', 'p_b'], ['p_late'], ['p_a', 'p_late']];

describe.each([15, 16, 17, 18] as const)('PostgreSQL %i', (major) => {
  it('publications changed after the slot decode as the server decodes them', async () => {
    await withServer({ major, gucs: { wal_keep_size: "'1GB'", autovacuum: 'off' } }, async (server) => {
      const c = await server.connect();
      const other = await server.connect();
      try {
        await schema(c);
        const state = path.join(server.baseDir, 'slot.state');
        const dsn = `postgresql://postgres@localhost/postgres?host=${encodeURIComponent(server.socketDir)}&port=${server.port}`;
        const created = io();
        expect(await slotCommand(['create', '--dsn', dsn, '--slot', 'pgo', '--plugin', 'pgoutput', '--state', state], created), created.stderr()).toBe(0);
        await workload(c, other);
        const end = (await c.query('select pg_current_wal_insert_lsn()::text as l')).rows[0].l as string;
        for (let i = 0; i < 200 && (await c.query('select pg_current_wal_flush_lsn() >= $1::pg_lsn as ok', [end])).rows[0].ok !== true; i++) await new Promise((res) => setTimeout(res, 25));
        const maxProto = major >= 16 ? 4 : 3;
        let compared = 0;
        const failures: string[] = [];
        for (const proto of [1, maxProto]) {
          for (const pubs of PUBLICATION_SETS) {
            const opts: [string, string][] = [['proto_version', String(proto)], ['publication_names', pubs.join(',')]];
            if (proto === maxProto) opts.push(['binary', 'true']);
            const args = opts.flat();
            const theirs = await c
              .query({
                text: `select lsn, xid, data from pg_logical_slot_peek_binary_changes('pgo', $1, null${args.map((_, i) => `, $${i + 2}`).join('')})`,
                values: [end, ...args],
                rowMode: 'array',
                types: asText,
              })
              .then(
                (r) => r.rows.map((row) => `${row[0]}\t${row[1]}\t${row[2]}`),
                (e: Error) => e,
              );
            const run = io();
            const code = await decodeCommand(['--state', state, '-p', server.pgWalDir, '--end', end, '--with-lsn', ...opts.flatMap(([k, v]) => ['-o', `${k}=${v}`])], run);
            const where = `${major}: ${JSON.stringify(opts)}`;
            if (theirs instanceof Error) {
              // 15-17 stop at the first change when a publication named does not exist yet; so does pgwal.
              expect(code, `${where}: the server failed with ${theirs.message}`).toBe(1);
              expect(run.stderr(), where).toContain(theirs.message);
              failures.push(`${pubs.join(',')}: ${theirs.message}`);
              continue;
            }
            expect(code, `${where}: ${run.stderr()}`).toBe(0);
            const ours = run.stdout() === '' ? [] : run.stdout().replace(/\n$/, '').split('\n');
            expect(ours, where).toEqual(theirs);
            // The same through the second thread (messages of stored changes written there, in the process the CLI is).
            const threaded = await runCliProcess(['decode', '--state', state, '-p', server.pgWalDir, '--end', end, '--with-lsn', '--format-thread', 'on', ...opts.flatMap(([k, v]) => ['-o', `${k}=${v}`])]);
            expect(threaded, `${where} --format-thread on`).toEqual({ code: 0, stdout: run.stdout(), stderr: run.stderr() });
            compared += theirs.length;
          }
        }
        expect(compared).toBeGreaterThan(200);
        // Both sides stop where the server stops: different column lists for t1 in p_a and p_b, and (15-17) p_late
        // named before it exists.
        const late = major >= 18 ? [] : ['p_late: publication "p_late" does not exist', 'p_a,p_late: publication "p_late" does not exist'];
        const cols = 'p_a,p_b: cannot use different column lists for table "public.t1" in different publications';
        expect(failures).toEqual([cols, ...late, cols, ...late]);
        // The Origin message of the origin made after the slot went out with its name.
        const origins = (
          await c.query({ text: `select data from pg_logical_slot_peek_binary_changes('pgo', $1, null, 'proto_version', '1', 'publication_names', 'p_a')`, values: [end], rowMode: 'array', types: asText })
        ).rows.filter((r) => (r[0] as string).startsWith('\\x4f'));
        expect(origins.map((r) => Buffer.from((r[0] as string).slice(20, -2), 'hex').toString())).toEqual(['late_origin', 'late_origin_2']);
        // Row filters set after the slot: the historic catalog has what the server stores, as
        // of each point — every publication's options, members, column lists and row filters (prqual's node tree).
        await c.query(`create publication p_f for table t2 where (id > 3), s1.t3 (k) where (w <> 'x')`);
        await c.query(`alter publication p_f set table t2 where (v is not null and id < 100)`);
        await c.query(`alter publication p_a set table t1 (id, a), t2 where (id % 2 = 0)`);
        await c.query(`insert into t2 values (2000, 'filtered')`);
        const end2 = (await c.query('select pg_current_wal_insert_lsn()::text as l')).rows[0].l as string;
        for (let i = 0; i < 200 && (await c.query('select pg_current_wal_flush_lsn() >= $1::pg_lsn as ok', [end2])).rows[0].ok !== true; i++) await new Promise((res) => setTimeout(res, 25));
        const st0 = readSlotStateFile(state);
        const historic = new HistoricCatalog(catalogSnapshotFromJson(readCatalogPages(st0)!), { defaults: st0.catalog });
        for (const rec of walDirRecords(server.pgWalDir, parseLsn(st0.restartLsn), parseLsn(end2))) historic.process(rec);
        const pubsOurs = historic.publications({ lsn: parseLsn(end2) + 1, xid: 0 })!;
        const pubsTheirs = (
          await c.query({
            text: `select p.oid, p.pubname, p.puballtables, p.pubinsert, p.pubupdate, p.pubdelete, p.pubtruncate, p.pubviaroot,
                          coalesce((select json_agg(json_build_array(r.prrelid::int8, string_to_array(r.prattrs::text, ' ')::int[], r.prqual::text) order by r.prrelid)
                                    from pg_publication_rel r where r.prpubid = p.oid), '[]') as tables,
                          array(select n.nspname::text from pg_publication_namespace pn join pg_namespace n on n.oid = pn.pnnspid where pn.pnpubid = p.oid order by 1) as schemas
                   from pg_publication p order by p.oid`,
          })
        ).rows;
        expect(pubsOurs.map((p) => [p.oid, p.name, p.allTables, p.insert, p.update, p.delete, p.truncate, p.viaRoot, p.tables.map((t) => [t.relid, t.columns, t.rowFilterNode]), p.schemas])).toEqual(
          pubsTheirs.map((r) => [Number(r.oid), r.pubname, r.puballtables, r.pubinsert, r.pubupdate, r.pubdelete, r.pubtruncate, r.pubviaroot, r.tables, r.schemas]),
        );
        expect(pubsOurs.flatMap((p) => p.tables).filter((t) => t.rowFilterNode !== null).length).toBe(3);
        // A filter of the slot's creation keeps its pg_get_expr text; one set later has its node tree there.
        const fsText = (await c.query(`select pg_get_expr(prqual, prrelid) as q from pg_publication_rel r join pg_publication p on p.oid = r.prpubid where p.pubname = 'p_fs_renamed'`)).rows[0].q;
        expect(pubsOurs.find((p) => p.name === 'p_fs_renamed')!.tables[0]!.rowFilter).toBe(fsText);
        // Row filters set after the slot's creation are evaluated from their node trees, as the server's.
        for (const pubs of ['p_a']) {
          const theirs2 = (
            await c.query({
              text: `select lsn, xid, data from pg_logical_slot_peek_binary_changes('pgo', $1, null, 'proto_version', '1', 'publication_names', $2)`,
              values: [end2, pubs],
              rowMode: 'array',
              types: asText,
            })
          ).rows.map((row) => `${row[0]}\t${row[1]}\t${row[2]}`);
          const run2 = io();
          expect(await decodeCommand(['--state', state, '-p', server.pgWalDir, '--end', end2, '--with-lsn', '-o', 'proto_version=1', '-o', `publication_names=${pubs}`], run2), run2.stderr()).toBe(0);
          expect(run2.stdout() === '' ? [] : run2.stdout().replace(/\n$/, '').split('\n'), pubs).toEqual(theirs2);
          if (pubs === 'p_a') expect(theirs2.some((r) => r.includes('\\x49')), 'an insert past the filter').toBe(true);
        }
        // A state made before pgwal kept the publication catalogs: decoding stops at the first change to them.
        const st = readSlotStateFile(state);
        const pages = readCatalogPages(st)!;
        expect(pages, 'slot create keeps the catalog pages').toBeDefined();
        const pubNodes = [6104, 6106, 6237].map((oid) => pages.filenodes[String(oid)]!);
        for (const oid of [6104, 6106, 6237]) delete pages.filenodes[String(oid)];
        pages.pages = pages.pages.filter((x) => !pubNodes.includes(x.relfilenode));
        const oldState = path.join(server.baseDir, 'old.state');
        const oldPages = path.join(server.baseDir, 'old.pages.json');
        fs.writeFileSync(oldPages, JSON.stringify(pages));
        writeSlotStateFile(oldState, { ...st, catalogPages: undefined, catalogPagesFile: oldPages });
        const old = io();
        expect(await decodeCommand(['--state', oldState, '-p', server.pgWalDir, '--end', end, '-o', 'proto_version=1', '-o', 'publication_names=p_a'], old)).toBe(1);
        expect(old.stderr()).toMatch(/^pgwal decode: error: a publication changed at [0-9A-F]+\/[0-9A-F]+ \(transaction \d+\): pgwal's pgoutput decodes with the publications of the slot's creation only/);
      } finally {
        await other.end();
        await c.end();
      }
    });
  }, 300_000);
});
