// Live, every major, seeded: `-o old-rows=full` against the server's own OLD rows. Tables with the default replica
// identity (one without a key) have AFTER UPDATE OR DELETE triggers that copy OLD into an audit table; a random
// workload (many types, HOT and non-HOT updates, key changes, TOAST values changed and left unchanged, COPY's
// multi-inserts, ON CONFLICT, row locks, savepoints rolled back, concurrent sessions, repeated updates that prune
// pages, VACUUM and VACUUM FREEZE, VACUUM FULL and CLUSTER rewrites, checkpoints) runs after a CHECKPOINT. The
// audit rows, as the server's own test_decoding prints their INSERTs, are the ground truth: every old row pgwal
// prints equals the server's OLD, all of them are known (a range that begins with a checkpoint), and every other
// row equals the server's. A second
// slot begins mid-workload: each of its old rows is the server's OLD, or (unknown) the key the server prints for it,
// or OLD with TOAST values whose chunks were not seen left unchanged; after its first checkpoint, every one is known.
// The undo SQL of the range from a point A mid-workload, applied to the server, gives the tables as at A; the redo
// SQL then gives them as at the end. The seed is printed; PGWAL_SEED=N repeats a run.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type pg from 'pg';
import { decodeCommand } from '../src/cli/decode.js';
import { slotCommand } from '../src/cli/slot.js';
import { parseLsn } from '../src/lsn.js';
import type { DumpIo } from '../src/cli/dump.js';
import { MAJORS, withServer, type Server } from './support/pg-server.js';
import { COLUMNS, randomRow, rng } from './support/random-rows.js';
import { dsnOf } from './support/cli.js';

const SEED = Number(process.env.PGWAL_SEED ?? Date.now() % 100000);
/** The audited tables: random types (v), a narrow one with an indexed column and TOAST (w), one without a key (nk). */
const TABLES = ['v', 'w', 'nk'] as const;

function io(): DumpIo & { stdout: () => string; stderr: () => string } {
  let out = '';
  let err = '';
  return { out: (t) => (out += t), err: (t) => (err += t), errIsTty: false, env: {}, cwd: process.cwd(), sleep: async () => undefined, stdout: () => out, stderr: () => err };
}

async function schema(c: pg.Client): Promise<void> {
  await c.query(`create type mood as enum ('sad', 'ok', 'happy')`);
  await c.query('create type textrange as range (subtype = text)');
  await c.query(`create table v (id int primary key, ${COLUMNS.map(([n, t]) => `${n} ${t}`).join(', ')}, big text) with (fillfactor = 70)`);
  await c.query('create table w (id int primary key, k int, a int, note text, big text) with (fillfactor = 80)');
  await c.query('create index on w (k)');
  await c.query('create table nk (a int, b text)');
  for (const t of TABLES) {
    // The audit row: OLD's columns, then the operation.
    await c.query(`create table audit_${t} (like ${t}, audit_op text)`);
    await c.query(`create function audit_${t}() returns trigger language plpgsql as $$ begin insert into audit_${t} select (OLD).*, TG_OP; return null; end $$`);
    await c.query(`create trigger audit after update or delete on ${t} for each row execute function audit_${t}()`);
  }
}

/** Incompressible text of about 32 × n characters (stored out of line), or compressible text (stored compressed). */
function bigText(r: () => number): string {
  const n = Math.floor(60 + r() * 200);
  return r() < 0.6 ? `(select string_agg(md5(g::text || '${Math.floor(r() * 1e6)}'), '') from generate_series(1, ${n}) g)` : `repeat(md5('${Math.floor(r() * 1e6)}'), ${n * 4})`;
}

interface Marks {
  /** Called once, mid-workload: makes the late slot. */
  late: () => Promise<void>;
}

async function workload(server: Server, c: pg.Client, seed: number, marks: Marks): Promise<void> {
  const r = rng(seed);
  const int = (lo: number, hi: number): number => Math.floor(lo + r() * (hi - lo + 1));
  const q = (s: string): Promise<unknown> => c.query(s);
  const other = await server.connect();
  const dir = (await c.query(`select current_setting('data_directory') as d`)).rows[0].d as string;
  let vid = 1;
  let wid = 1;
  const wRow = (): string => `(${wid++}, ${int(0, 50)}, ${int(0, 1000)}, 'n${int(0, 1e6)}', ${r() < 0.25 ? bigText(r) : r() < 0.5 ? 'null' : `'small ${int(0, 99)}'`})`;
  // Rows to work on from the start.
  for (let i = 0; i < 40; i++) await q(`insert into v values ${randomRow(r, vid++).replace(/\)$/, `, ${r() < 0.2 ? bigText(r) : 'null'})`)}`);
  await q(`insert into w values ${Array.from({ length: 120 }, wRow).join(', ')}`);
  await q(`insert into nk select g, 'b' || g from generate_series(1, 50) g`);
  const steps = 120;
  const lateAt = int(30, 80);
  try {
    for (let step = 0; step < steps; step++) {
      if (step === lateAt) await marks.late();
      const pick = int(0, 18);
      switch (pick) {
        case 0:
          for (let i = int(1, 4); i > 0; i--) await q(`insert into v values ${randomRow(r, vid++).replace(/\)$/, `, ${r() < 0.3 ? bigText(r) : 'null'})`)}`);
          break;
        case 1:
          // HOT where the page has room (a column without an index).
          await q(`update w set a = a + 1 where id % ${int(3, 9)} = ${int(0, 2)}`);
          break;
        case 2:
          // Non-HOT: an indexed column; and a key change.
          await q(`update w set k = k + 1 where id % ${int(4, 11)} = ${int(0, 3)}`);
          if (r() < 0.4) await q(`update w set id = id + 100000 where id = (select min(id) from w where id < 100000)`);
          break;
        case 3:
          // TOAST values left unchanged by the update: the old row's come from the TOAST relation's pages.
          await q(`update w set note = 'kept ${step}' where big is not null and id % ${int(2, 4)} = ${int(0, 1)}`);
          break;
        case 4:
          await q(`update w set big = ${r() < 0.5 ? bigText(r) : `'small now ${step}'`} where id = (select id from w order by id offset ${int(0, 60)} limit 1)`);
          break;
        case 5:
          await q(`delete from w where id % ${int(7, 19)} = ${int(0, 6)}`);
          break;
        case 6:
          await q(`update v set t = ${r() < 0.5 ? `'u${step}'` : 'null'}, i4 = coalesce(i4, 0) / 2 + 1 where id % ${int(2, 5)} = ${int(0, 1)}`);
          break;
        case 7:
          await q(`delete from v where id % ${int(5, 13)} = ${int(0, 4)}`);
          break;
        case 8: {
          // Many versions of the same rows: the page is pruned between changes.
          const from = int(1, wid);
          for (let i = int(4, 10); i > 0; i--) await q(`update w set a = a + 1 where id between ${from} and ${from + 8}`);
          break;
        }
        case 9:
          await q(r() < 0.5 ? `vacuum w` : `vacuum (freeze) ${r() < 0.5 ? 'v' : 'nk'}`);
          break;
        case 10:
          // Rewrites (rarely): the new relfilenode's pages come as images, the old one's are dropped at commit.
          if (r() < 0.5) await q(r() < 0.5 ? 'vacuum full w' : 'cluster v using v_pkey');
          break;
        case 11: {
          // Savepoints, some rolled back, and sometimes the whole transaction: their OLD rows vanish with them.
          await q('begin');
          await q(`update w set a = -a where id % 5 = ${int(0, 4)}`);
          for (let s = int(1, 3); s > 0; s--) {
            await q(`savepoint s${s}`);
            await q(`delete from w where id % 13 = ${int(0, 12)}`);
            await q(`update v set b = not b where id % 4 = ${int(0, 3)}`);
            if (r() < 0.5) await q(`rollback to savepoint s${s}`);
          }
          await q(r() < 0.2 ? 'rollback' : 'commit');
          break;
        }
        case 12:
          await q('checkpoint');
          break;
        case 13:
          await q(`update nk set b = b || '${step}' where a % ${int(2, 6)} = 0`);
          if (r() < 0.5) await q(`delete from nk where a % ${int(5, 11)} = ${int(0, 4)}`);
          await q(`insert into nk select g, 'again ${step}' from generate_series(1, ${int(1, 5)}) g`);
          break;
        case 14:
          // Row locks (heap lock records), then updates of the locked rows in the same transaction.
          await q('begin');
          await q(`select * from w where id % 6 = ${int(0, 5)} for update`);
          await q(`update w set a = 0 where id % 6 = ${int(0, 5)}`);
          await q('commit');
          break;
        case 15: {
          // COPY: multi-insert records.
          const file = `${dir}/oldrows_random_${step}.csv`;
          const n = int(20, 80);
          await q(`copy (select g, g % 40, g, 'copied', case when g % 9 = 0 then repeat(md5(g::text), 200) end from generate_series(${wid}, ${wid + n - 1}) g) to '${file}'`);
          await q(`copy w from '${file}'`);
          wid += n;
          break;
        }
        case 16:
          await q(`insert into w values ${wRow()}, (${int(1, wid - 2)}, 1, 1, 'conflict', null) on conflict (id) do update set note = excluded.note, a = w.a + 1`);
          break;
        case 17: {
          // Two sessions interleaved on different rows, committing in a random order.
          await q('begin');
          await other.query('begin');
          await q(`update w set a = a + 7 where id % 10 = 1`);
          await other.query(`update w set a = a + 9 where id % 10 = 2`);
          await other.query(`delete from v where id % 17 = ${int(0, 16)}`);
          if (r() < 0.5) {
            await q('commit');
            await other.query('commit');
          } else {
            await other.query('commit');
            await q('commit');
          }
          break;
        }
        case 18:
          for (let i = int(1, 10); i > 0; i--) await q(`insert into w values ${wRow()}`);
          break;
      }
    }
  } finally {
    await other.end();
  }
}

/** The rows of v and w as text, sorted: what a data-only dump of them holds. */
async function snapshot(c: pg.Client): Promise<string[][]> {
  const out: string[][] = [];
  for (const t of ['v', 'w']) out.push((await c.query(`select ${t}::text as r from ${t} order by 1`)).rows.map((r: { r: string }) => r.r));
  return out;
}

async function waitFlushed(c: pg.Client): Promise<string> {
  const end = (await c.query('select pg_current_wal_insert_lsn()::text as l')).rows[0].l as string;
  for (let i = 0; i < 200 && (await c.query('select pg_current_wal_flush_lsn() >= $1::pg_lsn as ok', [end])).rows[0].ok !== true; i++) await new Promise((res) => setTimeout(res, 25));
  return end;
}

async function createSlot(server: Server, name: string): Promise<string> {
  const state = path.join(server.baseDir, `${name}.state`);
  const run = io();
  expect(await slotCommand(['create', '--dsn', dsnOf(server), '--slot', name, '--state', state], run), run.stderr()).toBe(0);
  return state;
}

/** A row as "lsn<TAB>data". */
interface Row {
  lsn: number;
  data: string;
}

async function serverRows(c: pg.Client, slot: string, end: string): Promise<Row[]> {
  const r = await c.query({ text: `select lsn::text, data from pg_logical_slot_peek_changes($1, $2, null, 'include-xids', '0')`, values: [slot, end] });
  return r.rows.map((row: { lsn: string; data: string }) => ({ lsn: parseLsn(row.lsn), data: row.data }));
}

async function pgwalRows(server: Server, state: string, end: string): Promise<{ rows: Row[]; stderr: string }> {
  const run = io();
  const code = await decodeCommand(['--state', state, '-p', server.pgWalDir, '--end', end, '--with-lsn', '-o', 'include-xids=0', '-o', 'old-rows=full'], run);
  expect(code, run.stderr()).toBe(0);
  const rows = run.stdout() === '' ? [] : run.stdout().replace(/\n$/, '').split('\n');
  return {
    // lsn<TAB>xid<TAB>data: the data may hold tabs itself.
    rows: rows.map((l) => {
      const a = l.indexOf('\t');
      return { lsn: parseLsn(l.slice(0, a)), data: l.slice(l.indexOf('\t', a + 1) + 1) };
    }),
    stderr: run.stderr(),
  };
}

/** The UPDATEs and DELETEs of table t, in order. */
const changesOf = (rows: Row[], t: string): Row[] => rows.filter((r) => r.data.startsWith(`table public.${t}: UPDATE: `) || r.data.startsWith(`table public.${t}: DELETE: `));

/** The old row as test_decoding prints it: after "old-key: " up to " new-tuple: " (UPDATE), or the tuple (DELETE); undefined when none. */
function oldPart(data: string): string | undefined {
  const del = / DELETE: (.*)$/.exec(data);
  if (del !== null) return del[1] === '(no-tuple-data)' ? undefined : del[1];
  const at = data.indexOf(' old-key: ');
  if (at < 0) return undefined;
  return data.slice(at + ' old-key: '.length, data.indexOf(' new-tuple: ', at));
}

/** The server's OLD rows of table t: its audit INSERTs as the server's test_decoding prints them, the operation cut off. */
function auditOf(rows: Row[], t: string): { op: string; old: string }[] {
  const prefix = `table public.audit_${t}: INSERT: `;
  return rows
    .filter((r) => r.data.startsWith(prefix))
    .map((r) => {
      const m = / audit_op\[text\]:'(UPDATE|DELETE)'$/.exec(r.data)!;
      // test_decoding prints an old tuple without its NULL columns (tuple_to_stringinfo's skip_nulls).
      const row = r.data.slice(prefix.length, m.index);
      const labels = labelsOf(row);
      const values = columns(row, labels)!;
      return { op: m[1]!, old: labels.flatMap((l, i) => (values[i] === 'null' ? [] : [`${l}${values[i]}`])).join(' ') };
    });
}

/** Column values of a printed tuple, split at the column labels ("name[type]:") the audit row shows, in order. */
function columns(tuple: string, labels: string[]): string[] | undefined {
  const out: string[] = [];
  let at = 0;
  for (let i = 0; i < labels.length; i++) {
    if (!tuple.startsWith(labels[i]!, at)) return undefined;
    const from = at + labels[i]!.length;
    const next = i + 1 < labels.length ? tuple.indexOf(` ${labels[i + 1]}`, from) : tuple.length;
    if (next < 0) return undefined;
    out.push(tuple.slice(from, next));
    at = next + 1;
  }
  return at >= tuple.length ? out : undefined;
}

/** The column labels of a printed tuple ("name[type]:"; the types may hold brackets: "ia[integer[]]:"). */
const labelsOf = (tuple: string): string[] => [...tuple.matchAll(/(?:^| )([a-z0-9_]+\[[a-z0-9 "_]+(?:\[\])?\]:)/g)].map((m) => m[1]!);

/** OLD with some TOAST values not known (unchanged-toast-datum where OLD has a value): a known row whose chunks were not seen. */
function equalButToast(ours: string, old: string): boolean {
  const labels = labelsOf(old);
  const a = columns(ours, labels);
  const b = columns(old, labels);
  if (a === undefined || b === undefined) return false;
  return a.every((v, i) => v === b[i] || v === 'unchanged-toast-datum');
}

describe.each(MAJORS)('PostgreSQL %i: old-rows=full against audit triggers, seeded random workload', (major) => {
  it(`seed ${SEED}: every old row pgwal prints is the server's OLD; undo and redo SQL of a range take the tables back and forth`, async () => {
    await withServer({ major, gucs: { wal_keep_size: "'1GB'", autovacuum: 'off' } }, async (server) => {
      const c = await server.connect();
      try {
        await schema(c);
        const early = await createSlot(server, 'early');
        await c.query('checkpoint');
        let lateState: string | undefined;
        let lsnA: string | undefined;
        let atA: string[][] | undefined;
        await workload(server, c, SEED, {
          late: async () => {
            // Rows changed since the last checkpoint, changed again in the late slot's range: no image, unknown.
            await c.query(`update w set a = a + 1 where id % 4 = 0`);
            lateState = await createSlot(server, 'late');
            // A, where undo goes back to: the tables as they are now.
            lsnA = (await c.query('select pg_current_wal_insert_lsn()::text as l')).rows[0].l as string;
            atA = await snapshot(c);
            await c.query(`update w set a = a + 1 where id % 4 = 0`);
          },
        });
        // A checkpoint in the late slot's range, and changes after it: known again.
        await c.query('checkpoint');
        const redo = parseLsn((await c.query('select redo_lsn::text as l from pg_control_checkpoint()')).rows[0].l as string);
        await c.query(`update w set a = a + 1 where id % 3 = 0`);
        await c.query(`delete from v where id % 3 = 0`);
        await c.query(`update nk set b = 'last' where a % 2 = 0`);
        const end = await waitFlushed(c);
        const atB = await snapshot(c);
        // The workload did what the comparison relies on: HOT and non-HOT updates of w.
        await c.query('select pg_stat_force_next_flush()');
        const st = (await c.query(`select n_tup_upd::int as upd, n_tup_hot_upd::int as hot from pg_stat_user_tables where relname = 'w'`)).rows[0] as { upd: number; hot: number };
        expect(st.hot, JSON.stringify(st)).toBeGreaterThan(0);
        expect(st.upd - st.hot, JSON.stringify(st)).toBeGreaterThan(0);

        const theirs = await serverRows(c, 'early', end);
        const ours = await pgwalRows(server, early, end);
        // Every other row is the server's (BEGIN and COMMIT, inserts, the audit rows).
        const rest = (rows: Row[]): string[] => rows.filter((r) => !TABLES.some((t) => changesOf([r], t).length > 0)).map((r) => `${r.lsn.toString(16)} ${r.data}`);
        expect(rest(ours.rows)).toEqual(rest(theirs));
        const share = /^pgwal decode: old rows known for (\d+) of (\d+) updates and deletes/m.exec(ours.stderr);
        expect(share, ours.stderr).not.toBeNull();
        // The range begins with a checkpoint (full_page_writes on): every old row is known.
        expect(Number(share![1]), `seed ${SEED}`).toBe(Number(share![2]));
        let compared = 0;
        let toasted = 0;
        for (const t of TABLES) {
          const audit = auditOf(theirs, t);
          const changes = changesOf(ours.rows, t);
          // The same changes as the server's (at the same LSNs), as many as its audit rows.
          expect(changes.map((ch) => ch.lsn)).toEqual(changesOf(theirs, t).map((ch) => ch.lsn));
          expect(changes.length, `${t}, seed ${SEED}`).toBe(audit.length);
          changes.forEach((ch, i) => {
            expect(ch.data.includes(': DELETE: ') ? 'DELETE' : 'UPDATE').toBe(audit[i]!.op);
            expect(oldPart(ch.data), `${t} #${i} at ${ch.lsn.toString(16)}, seed ${SEED}`).toBe(audit[i]!.old);
            compared++;
            if (audit[i]!.old.length > 2000) toasted++;
          });
        }
        // The workload did what the comparison relies on.
        expect(compared).toBeGreaterThan(300);
        expect(toasted).toBeGreaterThan(0);

        // The late slot: OLD where known, the server's own row where not, never anything else.
        const lateTheirs = await serverRows(c, 'late', end);
        const lateOurs = await pgwalRows(server, lateState!, end);
        const counts = { known: 0, key: 0, toastUnknown: 0, afterCheckpoint: 0 };
        for (const t of TABLES) {
          const audit = auditOf(lateTheirs, t);
          const changes = changesOf(lateOurs.rows, t);
          const server = changesOf(lateTheirs, t);
          expect(changes.length).toBe(audit.length);
          changes.forEach((ch, i) => {
            const what = `${t} #${i} at ${ch.lsn.toString(16)}, seed ${SEED}`;
            expect(ch.lsn, what).toBe(server[i]!.lsn);
            const mine = oldPart(ch.data);
            const old = audit[i]!.old;
            if (ch.lsn > redo) {
              counts.afterCheckpoint++;
              // Known; TOAST values whose chunks were written before the slot's range are left unchanged.
              if (mine !== old) expect(equalButToast(mine ?? '', old), `${what}: ${ch.data.slice(0, 300)}`).toBe(true);
            }
            if (mine === old) counts.known++;
            else if (ch.data === server[i]!.data) counts.key++;
            else {
              expect(equalButToast(mine ?? '', old), `${what}: ${ch.data.slice(0, 300)}`).toBe(true);
              counts.toastUnknown++;
            }
          });
        }
        expect(counts.afterCheckpoint, JSON.stringify(counts)).toBeGreaterThan(10);
        // Pages not seen since an image before the checkpoint: unknown there (the key, as the server prints).
        expect(counts.key, JSON.stringify(counts)).toBeGreaterThan(0);

        // Undo A..B (the early slot knows every old row; -s A), applied to the server: the tables as at A. Then
        // redo A..B on that copy at A: the tables as at B. (nk has no key: its duplicate rows cannot be told apart.)
        const sql = async (args: string[]): Promise<string> => {
          const run = io();
          const code = await decodeCommand(['--state', early, '-p', server.pgWalDir, '-e', end, '--plugin', 'sql', '--table', 'public.v', '--table', 'public.w', '-s', lsnA!, ...args], run);
          expect(code, run.stderr()).toBe(0);
          return run.stdout();
        };
        const undo = await sql(['-o', 'undo=1']);
        const redoSql = await sql([]);
        expect(atB).not.toEqual(atA);
        expect(undo.split('\n').filter((l) => /^(INSERT|UPDATE|DELETE) /.test(l)).length).toBeGreaterThan(50);
        await c.query(undo);
        expect(await snapshot(c), `undo, seed ${SEED}`).toEqual(atA);
        await c.query(redoSql);
        expect(await snapshot(c), `redo, seed ${SEED}`).toEqual(atB);
      } finally {
        await c.end();
      }
    });
  }, 400_000);
});
