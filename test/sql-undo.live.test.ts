// Live: `--plugin sql` against the server itself. A table (replica identity default) is read at A, a workload runs
// to B (inserts, HOT and non-HOT updates, key changes, deletes, TOAST values an update leaves unchanged, quotes and
// backslashes, a rolled-back subtransaction); the undo statements of A..B applied to the server give the table
// at A again, and then the redo statements of A..B give it at B. A slot that starts after the pages' images cannot
// undo: a typed error naming the LSN and table, and nothing printed. On 15 also with Debian's pg_dump: the data
// dump after the undo equals the one at A, and the redo applied to a copy restored from the dump at A gives the
// dump at B. Filters by xid, table, commit time and commit LSN, as flags and as -o options.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type pg from 'pg';
import { decodeCommand } from '../src/cli/decode.js';
import { slotCommand } from '../src/cli/slot.js';
import type { DumpIo } from '../src/cli/dump.js';
import { spawnSync } from 'node:child_process';
import { debianAvailable, withServer, type Server } from './support/pg-server.js';

const DEBIAN_BIN = '/usr/lib/postgresql/15/bin';

/** Debian's pg_dump 15 of one table (of a 15 server); with `sortRows`, the COPY block's rows sorted (undo moves rows). */
function pgDump(server: Server, db: string, args: string[], sortRows: boolean): string {
  const r = spawnSync(path.join(DEBIAN_BIN, 'pg_dump'), ['-h', server.socketDir, '-p', String(server.port), '-U', 'postgres', '-d', db, ...args], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  if (!sortRows) return r.stdout;
  // \restrict and \unrestrict carry a key made afresh by each run (pg_dump since the fix of CVE-2025-8714).
  const lines = r.stdout.split('\n').filter((l) => !/^\\(un)?restrict /.test(l));
  const from = lines.findIndex((l) => l.startsWith('COPY '));
  const to = lines.indexOf('\\.', from);
  expect(from >= 0 && to > from).toBe(true);
  return [...lines.slice(0, from + 1), ...lines.slice(from + 1, to).sort(), ...lines.slice(to)].join('\n');
}

function psqlFile(server: Server, db: string, input: string): void {
  const r = spawnSync(path.join(DEBIAN_BIN, 'psql'), ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h', server.socketDir, '-p', String(server.port), '-U', 'postgres', '-d', db, '-f', '-'], { encoding: 'utf8', input });
  expect(r.status, r.stderr).toBe(0);
}

function io(): DumpIo & { stdout: () => string; stderr: () => string } {
  let out = '';
  let err = '';
  return { out: (t) => (out += t), err: (t) => (err += t), errIsTty: false, env: {}, cwd: process.cwd(), sleep: async () => undefined, stdout: () => out, stderr: () => err };
}

const dsnOf = (server: Server): string => `postgresql://postgres@localhost/postgres?host=${encodeURIComponent(server.socketDir)}&port=${server.port}`;

async function createSlot(server: Server, name: string): Promise<string> {
  const state = path.join(server.baseDir, `${name}.state`);
  const run = io();
  expect(await slotCommand(['create', '--dsn', dsnOf(server), '--slot', name, '--state', state], run), run.stderr()).toBe(0);
  return state;
}

async function decode(server: Server, state: string, end: string, args: string[]): Promise<{ code: number; out: string; err: string }> {
  const run = io();
  const code = await decodeCommand(['--state', state, '-p', server.pgWalDir, '--end', end, '--plugin', 'sql', ...args], run);
  return { code, out: run.stdout(), err: run.stderr() };
}

const contents = async (c: pg.Client, table: string): Promise<string[]> => (await c.query(`select ${table}::text as r from ${table} order by id`)).rows.map((r: { r: string }) => r.r);

async function waitFlushed(c: pg.Client): Promise<string> {
  const end = (await c.query('select pg_current_wal_insert_lsn()::text as l')).rows[0].l as string;
  for (let i = 0; i < 200 && (await c.query('select pg_current_wal_flush_lsn() >= $1::pg_lsn as ok', [end])).rows[0].ok !== true; i++) await new Promise((res) => setTimeout(res, 25));
  return end;
}

describe.each([15, 18] as const)('PostgreSQL %i: --plugin sql', (major) => {
  it('undo of A..B applied to the server gives the table at A; redo then gives it at B', async () => {
    await withServer({ major, gucs: { wal_keep_size: "'1GB'" } }, async (server) => {
      const c = await server.connect();
      try {
        await c.query(`create table t (id int primary key, n numeric(10,2), s text, big text, ts timestamptz, arr int[], b bool, j jsonb, "Odd Col" varchar(10))`);
        await c.query(`create table other (id int primary key, v text)`);
        const big = (salt: string): string => `(select string_agg(md5(g::text || '${salt}'), '') from generate_series(1, 100) g)`;
        const state = await createSlot(server, 'a');
        await c.query('checkpoint');
        // After the checkpoint: the TOAST chunks' pages are in the range (chunks written before it and never touched
        // again are unknown). A is after this transaction: the range A..B is chosen by commit time.
        await c.query(`insert into t select g, g / 3.0, 's' || g, case when g % 20 = 0 then ${big('a')} || g end, '2024-01-01 00:00+00'::timestamptz + g * interval '1 hour', array[g, null, -g], g % 2 = 0, jsonb_build_object('k', g), 'o' || g from generate_series(1, 300) g`);
        const atA = await contents(c, 't');
        // On 15, Debian's pg_dump at A too: the table's data, and the table whole for a restored copy at A.
        const dumps = major === 15;
        if (dumps) expect(debianAvailable(15), "Debian's postgresql-15 is missing (apt-get install -y postgresql-15): pg_dump and psql").toBe(true);
        const dumpA = dumps ? pgDump(server, 'postgres', ['--data-only', '-t', 'public.t'], true) : '';
        const wholeA = dumps ? pgDump(server, 'postgres', ['-t', 'public.t'], false) : '';
        const timeA = (await c.query(`select to_char(clock_timestamp() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as t`)).rows[0].t as string;
        const lsnA = (await c.query('select pg_current_wal_insert_lsn()::text as l')).rows[0].l as string;
        // The workload A..B.
        await c.query(`insert into t values (1000, 1.5, E'it''s a \\\\ back\\nslash', null, null, '{}', null, '{"a": [1, "x"]}', 'q''q')`);
        await c.query(`update t set n = n + 1 where id % 3 = 0`);
        await c.query(`update t set s = 'toast unchanged' where id in (20, 40, 60)`);
        await c.query(`update t set id = id + 5000 where id % 25 = 1`);
        await c.query(`delete from t where id % 7 = 0`);
        await c.query('begin');
        const xid = Number((await c.query('select txid_current() as x')).rows[0].x);
        await c.query(`update t set b = null, "Odd Col" = 'changed' where id = 2`);
        await c.query('savepoint s');
        await c.query(`delete from t where id = 3`);
        await c.query('rollback to savepoint s');
        await c.query(`insert into other values (1, 'not t')`);
        await c.query(`update t set big = 'now small' where id = 80`);
        await c.query('commit');
        await c.query(`update t set s = s || '!' where id between 100 and 110`);
        await c.query(`delete from t where id in (100, 120)`);
        const end = await waitFlushed(c);
        const atB = await contents(c, 't');
        const dumpB = dumps ? pgDump(server, 'postgres', ['--data-only', '-t', 'public.t'], true) : '';
        expect(atB).not.toEqual(atA);

        // Filters (as flags, and in their -o forms): one transaction; one table.
        const all = await decode(server, state, end, ['-o', 'undo=1']);
        expect(all.code, all.err).toBe(0);
        // Undoing the first insert too: every row deleted, newest transaction first.
        expect(all.out.split('\n').at(-3)).toMatch(/^DELETE FROM public\.t WHERE id = '1';$/);
        const one = await decode(server, state, end, ['--xid', String(xid)]);
        expect((await decode(server, state, end, ['-o', `xids=${xid}`])).out).toBe(one.out);
        expect(one.code, one.err).toBe(0);
        expect(one.out.split('\n').filter((l) => /^(UPDATE|DELETE|INSERT)/.test(l)).length).toBe(3);
        expect(one.out).toContain('INSERT INTO public.other');
        const onlyOther = await decode(server, state, end, ['-o', 'tables=public.other']);
        expect(onlyOther.out.split('\n').filter((l) => /^(UPDATE|DELETE|INSERT)/.test(l))).toEqual([`INSERT INTO public.other (id, v) VALUES ('1', 'not t');`]);

        const undo = await decode(server, state, end, ['-o', 'undo=1', '--table', 'public.t', '--start-time', timeA]);
        expect(undo.code, undo.err).toBe(0);
        await c.query(undo.out);
        expect(await contents(c, 't')).toEqual(atA);
        if (dumps) expect(pgDump(server, 'postgres', ['--data-only', '-t', 'public.t'], true)).toBe(dumpA);
        // The same range by LSN: -s A.
        const redo = await decode(server, state, end, ['--table', 'public.t', '-s', lsnA]);
        expect((await decode(server, state, end, ['-o', 'tables=public.t', '-o', `start-time=${timeA}`])).out).toBe(redo.out);
        expect(redo.code, redo.err).toBe(0);
        await c.query(redo.out);
        expect(await contents(c, 't')).toEqual(atB);
        if (dumps) {
          // The redo applied to a copy restored from the dump at A gives the dump at B.
          expect(pgDump(server, 'postgres', ['--data-only', '-t', 'public.t'], true)).toBe(dumpB);
          await c.query('create database copy_a');
          psqlFile(server, 'copy_a', wholeA);
          psqlFile(server, 'copy_a', redo.out);
          expect(pgDump(server, 'copy_a', ['--data-only', '-t', 'public.t'], true)).toBe(dumpB);
        }

        // A slot whose range starts after the images: the old rows are unknown, undo refuses before printing.
        const late = await createSlot(server, 'late');
        await c.query(`update t set s = 'late' where id = 150`);
        const end2 = await waitFlushed(c);
        const refused = await decode(server, late, end2, ['-o', 'undo=1']);
        expect(refused.code).toBe(1);
        expect(refused.out).toBe('');
        expect(refused.err).toMatch(/^pgwal decode: error: cannot undo UPDATE at [0-9A-F]+\/[0-9A-F]+ of public\.t: its old row is unknown .*\n$/);
      } finally {
        await c.end();
      }
    });
  }, 240_000);
});
