// Live, every major, seeded: `pgwal slot create` on a fresh server, a random workload (many types, NULLs,
// TOAST, savepoints, aborts, concurrent sessions, two-phase commit, COPY, ON CONFLICT, messages, TRUNCATE at the
// end), then `pgwal decode` from the WAL files against pg_logical_slot_peek_changes on the same slots —
// identical text for several option sets, with a 64 kB memory limit so transactions spill to files on the way,
// and through a two_phase slot. The seed is printed; PGWAL_SEED=N repeats a run.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type pg from 'pg';
import { parseLsn } from '../src/index.js';
import { MAJORS, withServer, type Server } from './support/pg-server.js';
import { COLUMNS } from './support/random-rows.js';
import { workload } from './support/random-workload.js';
import { dsnOf, runCli } from './support/cli.js';

const SEED = Number(process.env.PGWAL_SEED ?? Date.now() % 100000);
const asText = { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig;

const OPTION_SETS: string[][] = [
  ['include-xids', '1', 'skip-empty-xacts', '1'],
  ['include-xids', '0', 'skip-empty-xacts', '0'],
  ['include-xids', '1', 'skip-empty-xacts', '0', 'include-timestamp', '1'],
  ['include-xids', '0', 'skip-empty-xacts', '1', 'only-local', '1'],
];

describe.each(MAJORS)('PostgreSQL %i', (major) => {
  it('pgwal decode equals pg_logical_slot_peek_changes after a random workload (seeded)', async () => {
    const seed = SEED + major;
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-random-'));
    fs.chmodSync(work, 0o755);
    try {
      await withServer({ major, gucs: { wal_keep_size: "'1GB'" } }, async (server) => {
        const c = await server.connect();
        try {
          await c.query(`create type mood as enum ('sad', 'ok', 'happy')`);
          await c.query('create type textrange as range (subtype = text)');
          await c.query(`create table v (id int primary key, ${COLUMNS.map(([n, t]) => `${n} ${t}`).join(', ')})`);
          await c.query('create table f (id int primary key, note text, x float8)');
          await c.query(`alter table f replica identity ${seed % 2 === 0 ? 'full' : 'default'}`);
          await c.query('create table big (id int primary key, payload text, n int)');
          await c.query('create sequence sq');
          await c.query(`select pg_replication_origin_create('elsewhere')`);
          await c.query('create database other');
          const other = await server.connect('other');
          await other.query('create table f (id int primary key, note text, x float8)');
          const dsn = dsnOf(server);
          const stateFile = path.join(work, 'slot.json');
          const stateFile2pc = path.join(work, 'slot2pc.json');
          expect((await runCli(['slot', 'create', '--dsn', dsn, '--slot', 'r', '--state', stateFile])).code).toBe(0);
          expect((await runCli(['slot', 'create', '--dsn', dsn, '--slot', 'r2pc', '--state', stateFile2pc, '--two-phase'])).code).toBe(0);
          await workload(server, c, seed, work);
          // Another database's transactions are in the same WAL and never decoded for this slot.
          await other.query(`insert into f values (1, 'other database', 0)`);
          await other.query('begin');
          await other.query(`insert into f values (2, 'other database', 0)`);
          await other.query(`select pg_logical_emit_message(true, 'other', 'db')`);
          await other.query('commit');
          await other.end();
          const end = (await c.query('select pg_current_wal_insert_lsn()::text as l')).rows[0].l as string;
          await c.query('checkpoint'); // the WAL up to `end` is on disk
          const theirs = async (slot: string, opts: string[]): Promise<string> =>
            (
              await c.query({
                text: `select data from pg_logical_slot_peek_changes($1, $2, null${opts.map((_, i) => `, $${i + 3}`).join('')})`,
                values: [slot, end, ...opts],
                rowMode: 'array',
                types: asText,
              })
            ).rows
              .map(([d]) => `${d}\n`)
              .join('');
          for (const [slot, state, sets] of [['r', stateFile, OPTION_SETS], ['r2pc', stateFile2pc, [['include-xids', '0', 'skip-empty-xacts', '1']]]] as [string, string, string[][]][]) {
            for (const opts of sets) {
              const args = ['decode', '--state', state, '-p', server.pgWalDir, '--end', end, '--memory-limit', '64kB', '--spill-dir', path.join(work, 'spill')];
              for (let i = 0; i < opts.length; i += 2) args.push('-o', `${opts[i]}=${opts[i + 1]}`);
              const ours = await runCli(args);
              expect(ours.stderr, `seed ${seed}`).toBe('');
              const expected = await theirs(slot, opts);
              expect(expected.split('\n').length, `seed ${seed}`).toBeGreaterThan(50);
              const a = ours.stdout.split('\n');
              const b = expected.split('\n');
              for (let i = 0; i < Math.max(a.length, b.length); i++) expect(a[i], `seed ${seed}, slot ${slot}, ${opts.join(' ')}, line ${i}`).toBe(b[i]);
              expect(fs.existsSync(path.join(work, 'spill')), 'spill files and their folder are removed').toBe(false);
            }
          }
          expect(parseLsn(end)).toBeGreaterThan(0);
        } finally {
          await c.end();
        }
      });
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
});
