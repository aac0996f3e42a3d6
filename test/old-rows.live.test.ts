// Live, every major: `-o old-rows=full` against the server's own REPLICA IDENTITY FULL. Two identical tables, `d`
// (replica identity default) and `f` (full), get the same workload after a CHECKPOINT (COPY's multi-inserts, HOT and
// non-HOT updates, key changes, deletes, TOAST values an update leaves unchanged, VACUUM's prune and freeze between
// changes, a row updated twice in one transaction, VACUUM FULL's rewrite); pgwal's old-rows=full rows for `d` equal the server's
// test_decoding rows for `f` (table name aside), also when every transaction spills. A slot created after the pages'
// images gets the key only, as the server prints for `d`: an unknown old row is never guessed. On Debian's 15,
// wal2json's rows for `f` are the ground truth of `--plugin json`.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type pg from 'pg';
import { decodeCommand } from '../src/cli/decode.js';
import { slotCommand } from '../src/cli/slot.js';
import { decodeTransactions } from '../src/node/transactions.js';
import { readSlotStateFile } from '../src/node/slot.js';
import { parseLsn } from '../src/lsn.js';
import type { DumpIo } from '../src/cli/dump.js';
import { debianAvailable, MAJORS, withServer, type Major, type Server } from './support/pg-server.js';

const WAL2JSON = '/usr/lib/postgresql/15/lib/wal2json.so';

function io(): DumpIo & { stdout: () => string; stderr: () => string } {
  let out = '';
  let err = '';
  return { out: (t) => (out += t), err: (t) => (err += t), errIsTty: false, env: {}, cwd: process.cwd(), sleep: async () => undefined, stdout: () => out, stderr: () => err };
}

/** Incompressible text of about 32 × n characters: stored out of line, uncompressed. */
const noise = (n: number, salt: string): string => `(select string_agg(md5(g::text || '${salt}'), '') from generate_series(1, ${n}) g)`;

async function schema(c: pg.Client): Promise<void> {
  for (const t of ['d', 'f']) {
    // fillfactor leaves room for HOT updates on the first pages; later pages fill up (non-HOT).
    await c.query(`create table ${t} (id int primary key, a int, note text, big text, tail varchar(20)) with (fillfactor = 80)`);
  }
  await c.query('alter table f replica identity full');
}

/** The same changes on table `t`; `server` writes the COPY file as its own user (multi-insert needs COPY). */
async function workload(c: pg.Client, t: string): Promise<void> {
  const q = (s: string): Promise<unknown> => c.query(s);
  const dir = (await c.query(`select current_setting('data_directory') as d`)).rows[0].d as string;
  const file = `${dir}/oldrows_${t}.csv`;
  await q(`copy (select g, g * 10, 'n' || g, case when g % 50 = 1 then repeat(${noise(80, 'y')} || g, 3) when g % 50 = 2 then ${noise(120, 'x')} || g end, 't' || g from generate_series(1, 400) g) to '${file}'`);
  await q(`copy ${t} from '${file}'`);
  await q(`update ${t} set a = a + 1 where id % 3 = 0`);
  // Unchanged TOAST values: the old row's come from the TOAST relation's pages (one compressed, one not).
  await q(`update ${t} set note = 'toast kept' where id in (1, 2, 51, 52)`);
  await q(`update ${t} set id = id + 1000 where id % 10 = 3`);
  await q(`delete from ${t} where id % 7 = 0`);
  await q(`vacuum (freeze) ${t}`);
  await q(`update ${t} set tail = 'after vacuum' where id % 4 = 1`);
  await q('begin');
  await q(`update ${t} set a = -1 where id = 5`);
  await q(`update ${t} set a = -2 where id = 5`);
  await q(`delete from ${t} where id = 5`);
  await q('commit');
  await q(`update ${t} set big = 'small now' where id = 101`);
  await q(`delete from ${t} where id in (2, 52, 151)`);
  // Many dead versions on one page, then more updates there: pruned on access between changes.
  for (let i = 0; i < 12; i++) await q(`update ${t} set a = a + 1 where id between 10 and 20`);
  await q(`update ${t} set tail = null where id between 10 and 20`);
  // A rewrite: the new relfilenode's pages come as images, the old one's are dropped at commit.
  await q(`vacuum full ${t}`);
  await q(`update ${t} set a = 0 where id < 30`);
  await q(`delete from ${t} where id = 29`);
}

async function waitFlushed(c: pg.Client): Promise<string> {
  const end = (await c.query('select pg_current_wal_insert_lsn()::text as l')).rows[0].l as string;
  for (let i = 0; i < 200 && (await c.query('select pg_current_wal_flush_lsn() >= $1::pg_lsn as ok', [end])).rows[0].ok !== true; i++) await new Promise((res) => setTimeout(res, 25));
  return end;
}

const dsnOf = (server: Server): string => `postgresql://postgres@localhost/postgres?host=${encodeURIComponent(server.socketDir)}&port=${server.port}`;

async function createSlot(server: Server, name: string, plugin: string): Promise<string> {
  const state = path.join(server.baseDir, `${name}.state`);
  const run = io();
  expect(await slotCommand(['create', '--dsn', dsnOf(server), '--slot', name, '--plugin', plugin, '--state', state], run), run.stderr()).toBe(0);
  return state;
}

async function serverRows(c: pg.Client, slot: string, end: string, options: string[]): Promise<string[]> {
  const r = await c.query({ text: `select data from pg_logical_slot_peek_changes($1, $2, null${options.map((_, i) => `, $${i + 3}`).join('')})`, values: [slot, end, ...options] });
  return r.rows.map((row: { data: string }) => row.data);
}

async function pgwalRows(server: Server, state: string, end: string, args: string[]): Promise<string[]> {
  const run = io();
  const code = await decodeCommand(['--state', state, '-p', server.pgWalDir, '--end', end, ...args], run);
  expect(code, run.stderr()).toBe(0);
  return run.stdout() === '' ? [] : run.stdout().replace(/\n$/, '').split('\n');
}

const ofTable = (rows: string[], marker: string): string[] => rows.filter((r) => r.includes(marker));

async function compare(major: Major, flavor: 'npm' | 'debian', plugin: 'test_decoding' | 'wal2json'): Promise<void> {
  await withServer({ major, flavor, gucs: { wal_keep_size: "'1GB'" } }, async (server) => {
    const c = await server.connect();
    try {
      await schema(c);
      const state = await createSlot(server, 'early', plugin);
      await c.query('checkpoint');
      await workload(c, 'd');
      await workload(c, 'f');
      // A slot whose range starts after the pages' images: d's old rows there are unknown.
      const late = await createSlot(server, 'late', plugin);
      await c.query(`update d set note = 'late' where id between 30 and 40`);
      await c.query(`delete from d where id = 41`);
      await c.query('checkpoint');
      // After a checkpoint the next change of a page logs its image: known again.
      await c.query(`update d set note = 'after image' where id = 44`);
      const end = await waitFlushed(c);

      const [dOf, fOf, toF] =
        plugin === 'test_decoding'
          ? ['table public.d:', 'table public.f:', (r: string) => r.replace('table public.d:', 'table public.f:')]
          : ['"table":"d"', '"table":"f"', (r: string) => r.replace('"table":"d"', '"table":"f"')];
      const serverOpts = plugin === 'test_decoding' ? ['include-xids', '0'] : ['format-version', '2'];
      const pgwalOpts = plugin === 'test_decoding' ? ['-o', 'include-xids=0'] : ['--plugin', 'json'];
      const theirs = await serverRows(c, 'early', end, serverOpts);
      const full = ofTable(theirs, fOf);
      // The workload did what the comparison relies on: updates, deletes, whole old rows with TOAST values.
      expect(full.length).toBeGreaterThan(500);
      expect(full.some((r) => r.includes('DELETE') || r.includes('"action":"D"'))).toBe(true);
      expect(full.filter((r) => r.includes('toast kept') && r.length > 3000).length).toBeGreaterThanOrEqual(4);

      const run = io();
      expect(await decodeCommand(['--state', state, '-p', server.pgWalDir, '--end', end, ...pgwalOpts, '-o', 'old-rows=full'], run), run.stderr()).toBe(0);
      const ours = run.stdout().replace(/\n$/, '').split('\n');
      // After the checkpoint every page's first change logs its image: every old row of d is known.
      const share = /^pgwal decode: old rows known for (\d+) of (\d+) updates and deletes \(\d+ pages kept, 0 evicted\)\n$/.exec(run.stderr());
      expect(share, run.stderr()).not.toBeNull();
      expect(Number(share![1])).toBe(Number(share![2]));
      expect(Number(share![2])).toBeGreaterThan(400);
      const oursD = ofTable(ours, dOf).map(toF);
      const firstD = ofTable(theirs, dOf);
      // The key-only rows the server prints for d differ from f's in most updates and every delete.
      expect(firstD.map(toF).filter((r, i) => r !== full[i]).length).toBeGreaterThan(300);
      expect(oursD.slice(0, full.length), `${plugin} ${major}`).toEqual(full);
      // Without the option (and for f, which logs its old rows), nothing changes.
      expect(ofTable(ours, fOf)).toEqual(full);
      expect(ofTable(await pgwalRows(server, state, end, pgwalOpts), dOf)).toEqual(firstD);
      // Spilled transactions carry the whole old rows too.
      expect(ofTable(await pgwalRows(server, state, end, [...pgwalOpts, '-o', 'old-rows=full', '--memory-limit', '0']), dOf).map(toF).slice(0, full.length)).toEqual(full);
      // A budget of a few pages: evicted pages make old rows unknown (the key), never wrong.
      if (plugin === 'test_decoding') await smallBudget(server, state, end, full, firstD, oursD.length, toF);
      // The changes after the late slot's start: unknown old rows are the key, as the server prints for d.
      const lateTheirs = ofTable(await serverRows(c, 'late', end, serverOpts), dOf);
      const lateOurs = ofTable(await pgwalRows(server, late, end, [...pgwalOpts, '-o', 'old-rows=full']), dOf);
      expect(lateTheirs.length).toBeGreaterThan(5);
      expect(lateOurs.slice(0, -1)).toEqual(lateTheirs.slice(0, -1));
      // … but the change after the checkpoint has its image: the whole old row.
      const last = lateOurs.at(-1)!;
      expect(last).not.toBe(lateTheirs.at(-1));
      if (plugin === 'test_decoding') await typedLate(server, late, end);
      if (plugin === 'test_decoding') expect(last).toContain("old-key: id[integer]:44 a[integer]:440 note[text]:'n44' tail[character varying]:'t44'");
      else expect(last.slice(last.indexOf('"identity"'))).toContain('"name":"tail","type":"character varying(20)","value":"t44"');
    } finally {
      await c.end();
    }
  });
}

/** The typed API on the late slot: oldRowComplete false where the old row is unknown (old = the key), true after the image. */
async function typedLate(server: Server, state: string, end: string): Promise<void> {
  const seen: { kind: string; complete: boolean | undefined; old: string[] }[] = [];
  for await (const t of decodeTransactions({ state: readSlotStateFile(state), path: server.pgWalDir, end: parseLsn(end), oldRows: true })) {
    for (const ch of t.changes) {
      if ((ch.kind === 'update' || ch.kind === 'delete') && ch.table === 'd') seen.push({ kind: ch.kind, complete: ch.oldRowComplete, old: Object.keys(ch.old ?? {}) });
    }
  }
  expect(seen.length).toBeGreaterThan(5);
  for (const s of seen.slice(0, -1)) expect(s.complete, JSON.stringify(s)).toBe(false);
  expect(seen.at(-1)).toEqual({ kind: 'update', complete: true, old: ['id', 'a', 'note', 'big', 'tail'] });
  expect(seen.find((s) => s.kind === 'delete')?.old).toEqual(['id']);
}

/** With a budget of 2 pages: each d row is f's (known), the key the server prints for d (evicted), or f's with TOAST values left out. */
async function smallBudget(server: Server, state: string, end: string, full: string[], keyOnly: string[], n: number, toF: (r: string) => string): Promise<void> {
  const small = ofTable(await pgwalRows(server, state, end, ['-o', 'include-xids=0', '-o', 'old-rows=full', '-o', 'old-rows-memory=16kB']), 'table public.d:').map(toF);
  expect(small.length).toBe(n);
  let keys = 0;
  let known = 0;
  for (let i = 0; i < full.length; i++) {
    if (small[i] === full[i]) known++;
    else if (small[i] === toF(keyOnly[i]!)) keys++;
    else expect(small[i], full[i]).toContain('unchanged-toast-datum');
  }
  expect(keys).toBeGreaterThan(0);
  expect(known).toBeGreaterThan(0);
}

describe.each(MAJORS)('PostgreSQL %i: old-rows=full', (major) => {
  it("test_decoding: d's whole old rows equal the server's rows for f (replica identity full)", async () => {
    await compare(major, 'npm', 'test_decoding');
  }, 240_000);
});

describe('Debian PostgreSQL 15 with wal2json: old-rows=full', () => {
  it("--plugin json: d's identity equals wal2json's for f", async () => {
    expect(debianAvailable(15), "Debian's PostgreSQL 15 is missing").toBe(true);
    expect(fs.existsSync(WAL2JSON), `${WAL2JSON} is missing`).toBe(true);
    await compare(15, 'debian', 'wal2json');
  }, 240_000);
});
