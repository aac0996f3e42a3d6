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
import { COLUMNS, randomRow, rng } from './support/random-rows.js';
import { dsnOf, runCli } from './support/cli.js';

const SEED = Number(process.env.PGWAL_SEED ?? Date.now() % 100000);
const asText = { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig;

async function workload(server: Server, c: pg.Client, seed: number, copyDir: string): Promise<void> {
  const r = rng(seed);
  const int = (lo: number, hi: number): number => Math.floor(lo + r() * (hi - lo + 1));
  let id = 1;
  let gid = 0;
  const q = (s: string): Promise<unknown> => c.query(s);
  const others = [await server.connect(), await server.connect()];
  const big = (): string => (r() < 0.5 ? `repeat(md5('${int(0, 1e6)}'), ${int(100, 300)})` : `(select string_agg(md5(g::text || '${int(0, 1e6)}'), '') from generate_series(1, ${int(100, 400)}) g)`);
  try {
    for (let step = 0; step < 60; step++) {
      switch (int(0, 11)) {
        case 0:
          for (let i = int(1, 5); i > 0; i--) await q(`insert into v values ${randomRow(r, id++)}`);
          break;
        case 1:
          await q(`update v set t = ${r() < 0.5 ? `'u${step}'` : 'null'}, i4 = i4 + 1 where id % ${int(2, 5)} = ${int(0, 1)}`);
          break;
        case 2:
          await q(`delete from v where id % ${int(3, 9)} = 0`);
          break;
        case 3: {
          // Savepoints, some rolled back, and sometimes the whole transaction.
          await q('begin');
          await q(`insert into f values (${id++}, 'top ${step}', ${r()})`);
          for (let s = int(1, 4); s > 0; s--) {
            await q(`savepoint s${s}`);
            await q(`insert into f values (${id++}, 'sub ${s}', ${r()})`);
            if (r() < 0.3) await q(`update f set note = 'in sub' where id = ${id - 1}`);
            if (r() < 0.4) await q(`rollback to savepoint s${s}`);
            else if (r() < 0.5) await q(`release savepoint s${s}`);
          }
          await q(r() < 0.2 ? 'rollback' : 'commit');
          break;
        }
        case 4: {
          // Concurrent sessions, interleaved, committing in a random order; one may abort.
          const [a, b] = others as [pg.Client, pg.Client];
          await a.query('begin');
          await b.query('begin');
          await a.query(`insert into f values (${id++}, 'a', 1)`);
          await b.query(`insert into f values (${id++}, 'b', 2)`);
          await a.query(`update f set x = x + 1 where id = ${id - 2}`);
          await b.query(`insert into big values (${id++}, ${big()}, 0)`);
          const order = r() < 0.5 ? [a, b] : [b, a];
          await order[0]!.query('commit');
          await order[1]!.query(r() < 0.2 ? 'rollback' : 'commit');
          break;
        }
        case 5: {
          // Two-phase commit: prepared, then committed, sometimes after other work.
          const g = `g${seed}_${gid++}`;
          const s = others[0]!;
          await s.query('begin');
          await s.query(`insert into f values (${id++}, 'prepared', 0)`);
          if (r() < 0.5) {
            await s.query('savepoint p');
            await s.query(`insert into f values (${id++}, 'prepared sub', 0)`);
          }
          await s.query(`prepare transaction '${g}'`);
          if (r() < 0.5) await q(`insert into f values (${id++}, 'between', 0)`);
          // Only COMMIT PREPARED: a transaction already rolled back when the server decodes its PREPARE is cut short
          // there or not depending on the server's catalog cache (its concurrent-abort check), which no WAL shows.
          // ROLLBACK PREPARED is covered by the two-phase fixture.
          await q(`commit prepared '${g}'`);
          break;
        }
        case 6: {
          // COPY writes heap multi-insert records, TOAST included.
          const file = path.join(copyDir, `copy-${step}.csv`);
          const lines: string[] = [];
          for (let i = int(2, 30); i > 0; i--) lines.push(`${id++},"copied ""${i}""",${r() < 0.2 ? '' : r()}`);
          fs.writeFileSync(file, lines.join('\n') + '\n', { mode: 0o644 });
          await q(`copy f from '${file}' with (format csv)`);
          if (r() < 0.5) {
            const tfile = path.join(copyDir, `copy-big-${step}.csv`);
            const rows: string[] = [];
            for (let i = int(2, 6); i > 0; i--) rows.push(`${id++},${'y'.repeat(int(3000, 9000))}${i},${i}`);
            fs.writeFileSync(tfile, rows.join('\n') + '\n', { mode: 0o644 });
            await q(`copy big from '${tfile}' with (format csv)`);
          }
          break;
        }
        case 7:
          await q(`insert into big values (${id++}, ${big()}, 1)`);
          if (r() < 0.5) await q(`update big set n = n + 1 where id % 2 = 0`);
          if (r() < 0.3) await q(`update big set payload = payload || 'z' where id % 3 = 0`);
          break;
        case 8:
          // INSERT … ON CONFLICT: speculative insertions, confirmed or turned into updates.
          await q(`insert into f values (${-int(1, 12)}, 'upsert', 9) on conflict (id) do update set note = excluded.note`);
          await q(`insert into f values (${-int(1, 12)}, 'maybe', 8) on conflict do nothing`);
          break;
        case 9:
          await q(`select pg_logical_emit_message(${r() < 0.5}, 'p${step}', 'content ${step}')`);
          if (r() < 0.5) {
            await q('begin');
            await q(`select pg_logical_emit_message(true, 'in', 'tx ${step}')`);
            await q(`insert into f values (${id++}, 'with message', 0)`);
            await q('commit');
          }
          break;
        case 10:
          await q('begin');
          await q(`insert into v values ${randomRow(r, id++)}`);
          await q('rollback');
          break;
        case 11:
          // A transaction that changes nothing decodable (only a sequence): skipped in every mode.
          await q(`select nextval('sq')`);
          // A transaction replayed from elsewhere (a replication origin): only-local skips it.
          await q(`select pg_replication_origin_session_setup('elsewhere')`);
          await q(`insert into f values (${id++}, 'from an origin', 0)`);
          await q(`select pg_replication_origin_session_reset()`);
          break;
      }
    }
    // TRUNCATE gives the tables new relfilenodes: changes after it need the historic catalog, so it comes last.
    await q('truncate big');
    await q('truncate f, v restart identity cascade');
  } finally {
    for (const o of others) await o.end();
  }
}

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
