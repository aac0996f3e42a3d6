// Live, PostgreSQL 15–18, seeded: publications of several kinds made before two pgoutput slots (one two_phase),
// the random workload of decoding-random (types, TOAST, savepoints, aborts, concurrent sessions, two-phase, COPY,
// ON CONFLICT, messages, an origin) with partitions, a schema's table and large transactions (spilled at 64 kB;
// streamed, every transaction, on 16+), then DDL mid-stream and TRUNCATE; `pgwal decode --plugin pgoutput` equals
// pg_logical_slot_peek_binary_changes byte for byte for each proto_version, with and without binary, all tables,
// listed tables, a schema, column lists and partitions with and without publish_via_partition_root; so does it
// with --format-thread on.
// The seed is printed on a mismatch; PGWAL_SEED=N repeats a run.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type pg from 'pg';
import { MAJORS, withServer, type Major } from './support/pg-server.js';
import { COLUMNS } from './support/random-rows.js';
import { workload, type WorkloadStep } from './support/random-workload.js';
import { dsnOf, runCli } from './support/cli.js';
import { runCliProcess } from './support/cli-process.js';

const SEED = Number(process.env.PGWAL_SEED ?? Date.now() % 100000);
const asText = { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig;

/** Partitions (rows moving between them), a table in another schema, and transactions over 64 kB. */
const STEPS: WorkloadStep[] = [
  async ({ q, int, nextId, r }) => {
    // Ids below 100000 go to parted_lo, ids + 500000 to parted_hi; the update moves rows from one to the other.
    for (let i = int(1, 4); i > 0; i--) await q(`insert into parted values (${nextId() + (r() < 0.5 ? 0 : 500000)}, 'p${i}', ${int(0, 99)})`);
    await q(`update parted set k = k + 500000, v = v || 'm' where k < 100000 and n % ${int(2, 5)} = 0`);
    await q(`update parted set v = v || 'u' where n % ${int(2, 5)} = 1`);
    if (int(0, 2) === 0) await q(`delete from parted where n % 7 = ${int(0, 6)}`);
  },
  async ({ q, int, nextId, r }) => {
    await q(`insert into s2.t values (${nextId()}, 'in s2', ${int(-1000, 1000)}.${int(0, 99)}, now())`);
    await q(`update s2.t set note = ${r() < 0.5 ? `'changed'` : 'null'} where id % ${int(2, 4)} = 0`);
    if (r() < 0.3) await q(`delete from s2.t where id % 5 = 0`);
  },
  async ({ q, int, nextId, r }) => {
    // Over logical_decoding_work_mem (64 kB): spilled, or streamed; with a subtransaction.
    await q('begin');
    const first = nextId();
    for (let i = 0; i < 300; i++) nextId();
    await q(`insert into f select g, repeat('L', ${int(100, 300)}), g from generate_series(${first}, ${first + 150}) g`);
    await q('savepoint a');
    await q(`insert into big select g, repeat('B', 500), 1 from generate_series(${first + 151}, ${first + 250}) g`);
    // Released, not rolled back: see the commit below (a subtransaction's changes are checked the same way).
    if (r() < 0.4) await q('release savepoint a');
    await q(`update f set note = 'big txn' where id between ${first} and ${first + 20}`);
    // Committed: a streamed (sub)transaction already rolled back when the server decodes it is cut short at its
    // next catalog lookup (the concurrent-abort check) or not, by the state of the server's caches, which no WAL
    // shows.
    await q('commit');
  },
];

/** Phase two only: DDL between and inside transactions. */
const DDL: WorkloadStep[] = [
  async ({ q, int, nextId, step }) => {
    await q('begin');
    await q(`insert into s2.t values (${nextId()}, 'before ddl', 1, now())`);
    await q(`alter table s2.t add column c${step} int default ${int(0, 9)}`);
    await q(`insert into s2.t (id, note) values (${nextId()}, 'after ddl')`);
    await q('commit');
  },
  async ({ q, step, nextId }) => {
    await q(`alter table parted add column a${step} text`);
    await q(`insert into parted (k, v, n, a${step}) values (${nextId() + 500000}, 'with a${step}', 3, 'x')`);
  },
];

/** Publication sets compared at every proto_version; binary ones use tables whose types pgwal sends. */
const SETS: { pubs: string; binary?: boolean }[] = [
  { pubs: 'p_all' },
  { pubs: 'p_list,p_ins' },
  { pubs: 'p_schema' },
  { pubs: 'p_cols' },
  { pubs: 'p_root' },
  { pubs: 'p_leaf' },
  { pubs: 'p_leaf,p_root' },
  { pubs: 'p_all', binary: true },
  { pubs: 'p_bin', binary: true },
];

// Two seeds per major, each on a fresh server.
describe.each(MAJORS.flatMap((m) => [[m, 0], [m, 1]] as [Major, number][]))('PostgreSQL %i, seed %i', (major, k) => {
  it('pgwal decode --plugin pgoutput equals pg_logical_slot_peek_binary_changes after a random workload (seeded)', async () => {
    const seed = SEED + major + 1000 * k;
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-pgo-random-'));
    fs.chmodSync(work, 0o755);
    try {
      await withServer({ major, gucs: { wal_keep_size: "'1GB'", logical_decoding_work_mem: "'64kB'", max_prepared_transactions: 10 } }, async (server) => {
        const c = await server.connect();
        try {
          await c.query(`create type mood as enum ('sad', 'ok', 'happy')`);
          await c.query('create type textrange as range (subtype = text)');
          await c.query(`create table v (id int primary key, ${COLUMNS.map(([n, t]) => `${n} ${t}`).join(', ')})`);
          await c.query('create table f (id int primary key, note text, x float8)');
          // FULL: a column list on f would have to cover every column; f has none.
          await c.query(`alter table f replica identity ${seed % 2 === 0 ? 'full' : 'default'}`);
          await c.query('create table big (id int primary key, payload text, n int)');
          await c.query('create sequence sq');
          await c.query(`select pg_replication_origin_create('elsewhere')`);
          await c.query('create schema s2');
          await c.query('create table s2.t (id int primary key, note text, amount numeric(12,2), at timestamptz)');
          await c.query('create table parted (k int primary key, v text, n int) partition by range (k)');
          await c.query('create table parted_lo partition of parted for values from (minvalue) to (100000)');
          // Columns in another order than the root's: mapped by name when published through the root.
          await c.query('create table parted_hi (n int, v text, k int not null)');
          await c.query('alter table parted attach partition parted_hi for values from (100000) to (maxvalue)');
          await c.query('create publication p_all for all tables');
          await c.query(`create publication p_list for table f, big with (publish = 'insert, update, delete')`);
          await c.query(`create publication p_ins for table big, s2.t with (publish = 'insert, truncate')`);
          await c.query('create publication p_schema for tables in schema s2');
          await c.query('create publication p_cols for table big (id, n), s2.t (id, amount)');
          await c.query('create publication p_root for table parted with (publish_via_partition_root = true)');
          await c.query('create publication p_leaf for table parted');
          await c.query('create publication p_bin for table f, big, s2.t, parted');
          const dsn = dsnOf(server);
          const state = path.join(work, 'pgo.state');
          const state2pc = path.join(work, 'pgo2pc.state');
          for (const [slot, file, extra] of [['pgo', state, []], ['pgo2pc', state2pc, ['--two-phase']]] as [string, string, string[]][]) {
            const made = await runCli(['slot', 'create', '--dsn', dsn, '--slot', slot, '--plugin', 'pgoutput', '--state', file, ...extra]);
            expect(made.code, made.stderr).toBe(0);
          }
          const ids = { id: 1, gid: 0 };
          await workload(server, c, seed, work, { steps: 40, extra: STEPS, truncate: false, ids });
          const beforeDdl = (await c.query('select pg_current_wal_insert_lsn()::text as l')).rows[0].l as string;
          await workload(server, c, seed + 7919, work, { steps: 25, extra: [...STEPS, ...DDL, ...DDL], ids });
          const end = (await c.query('select pg_current_wal_insert_lsn()::text as l')).rows[0].l as string;
          // A commit after `end` (nothing published) and a checkpoint: the WAL up to and past `end` is on disk.
          await c.query('select txid_current()');
          await c.query('checkpoint');
          for (let i = 0; i < 200 && (await c.query('select pg_current_wal_flush_lsn() > $1::pg_lsn as ok', [end])).rows[0].ok !== true; i++) await new Promise((res) => setTimeout(res, 25));
          const maxProto = major >= 16 ? 4 : 3;
          const runs: { slot: string; file: string; opts: string[]; streaming: 'off' | 'immediate' }[] = [];
          for (let proto = 1; proto <= maxProto; proto++) {
            for (const set of SETS) {
              // Every set at 1 and the newest; p_all at the others.
              if (proto !== 1 && proto !== maxProto && set.pubs !== 'p_all') continue;
              runs.push({ slot: 'pgo', file: state, opts: ['proto_version', String(proto), 'publication_names', set.pubs, 'messages', 'true', ...(set.binary === true ? ['binary', 'true'] : [])], streaming: 'off' });
            }
            if (proto >= 2) {
              // Every transaction streamed (16+: debug_logical_replication_streaming = immediate, pgwal's limit 0). Not at
              // a limit above 0: where the server streams then follows its ReorderBufferChangeSize accounting, which
              // pgwal's queue does not reproduce (at 64 kB the blocks end at other changes).
              if (major >= 16) runs.push({ slot: 'pgo', file: state, opts: ['proto_version', String(proto), 'publication_names', 'p_all', 'streaming', 'on', 'messages', 'true'], streaming: 'immediate' });
              if (major >= 16) runs.push({ slot: 'pgo', file: state, opts: ['proto_version', String(proto), 'publication_names', proto === maxProto ? 'p_bin' : 'p_list', 'streaming', 'on', ...(proto === maxProto ? ['binary', 'true'] : [])], streaming: 'immediate' });
            }
            if (proto >= 3) runs.push({ slot: 'pgo2pc', file: state2pc, opts: ['proto_version', String(proto), 'publication_names', 'p_all', 'two_phase', 'on', 'messages', 'true'], streaming: 'off' });
          }
          if (major >= 16) runs.push({ slot: 'pgo', file: state, opts: ['proto_version', '4', 'publication_names', 'p_all', 'origin', 'none'], streaming: 'off' });
          let compared = 0;
          for (const run of runs) {
            if (major >= 16) await c.query(`set debug_logical_replication_streaming = ${run.streaming === 'immediate' ? 'immediate' : 'buffered'}`);
            // Streamed: up to the first DDL (the server opens a stream block at a catalog change pgwal does not queue).
            const upto = run.streaming === 'off' ? end : beforeDdl;
            const theirs = (
              await c.query({
                text: `select lsn, xid, data from pg_logical_slot_peek_binary_changes($1, $2, null${run.opts.map((_, i) => `, $${i + 3}`).join('')})`,
                values: [run.slot, upto, ...run.opts],
                rowMode: 'array',
                types: asText,
              })
            ).rows.map((row) => `${row[0]}\t${row[1]}\t${row[2]}`);
            const args = ['decode', '--state', run.file, '-p', server.pgWalDir, '--end', upto, '--with-lsn', '--memory-limit', run.streaming === 'immediate' ? '0' : '64kB', '--spill-dir', path.join(work, 'spill')];
            for (let i = 0; i < run.opts.length; i += 2) args.push('-o', `${run.opts[i]}=${run.opts[i + 1]}`);
            const ours = await runCli(args);
            const what = `seed ${seed}, ${run.slot} ${run.opts.join(' ')}${run.streaming === 'off' ? '' : ` (${run.streaming})`}`;
            expect(ours.stderr, what).toBe('');
            // The same through the second thread (messages of stored changes written there).
            expect(await runCliProcess([...args, '--format-thread', 'on']), `${what} --format-thread on`).toEqual({ code: ours.code, stdout: ours.stdout, stderr: ours.stderr });
            let lines = ours.stdout === '' ? [] : ours.stdout.replace(/\n$/, '').split('\n');
            if (run.streaming === 'immediate') {
              // A streamed transaction rolled back before the server decodes it is cut short at its next catalog
              // lookup (the concurrent-abort check: an empty block, no more blocks) or not, by the state of the
              // server's caches, which no WAL shows. Its blocks are compared as a set of rolled-back xids only.
              const rolledBack = (rows: string[]): Set<string> => new Set(rows.filter((r) => /\t\\x41([0-9a-f]{8})\1/.test(r)).map((r) => r.split('\t')[1]!));
              const mine = rolledBack(lines);
              const server = rolledBack(theirs);
              expect([...mine].sort(), `${what}: the transactions rolled back`).toEqual([...server].sort());
              lines = lines.filter((r) => !server.has(r.split('\t')[1]!));
              theirs.splice(0, theirs.length, ...theirs.filter((r) => !server.has(r.split('\t')[1]!)));
            }
            for (let i = 0; i < Math.max(lines.length, theirs.length); i++) expect(lines[i], `${what}, row ${i}`).toBe(theirs[i]);
            expect(theirs.length, what).toBeGreaterThan(10);
            compared += theirs.length;
          }
          expect(compared).toBeGreaterThan(1000);
        } finally {
          await c.end();
        }
      });
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  }, 240_000);
});
