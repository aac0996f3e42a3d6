// Live, every major: the README's sink example (examples/pg-sink.ts, as a real process) applies a slot's transactions
// to a table in another database of the server, SIGKILLed PGWAL_SINK_KILLS times (default 6) after a random number
// of batches plus a random delay (between batches, inside one, between its COMMIT and its ack; once with the
// run's acks undone, as if each had been cut off before its write), then run to the end. The target table must end equal to the source table: nothing lost; nothing applied twice (the example
// INSERTs without upsert, so a second application of an insert fails the run). Prints its seed
// (PGWAL_SINK_SEED replays one).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { buildSync } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { createSlot, writeSlotStateFile } from '../src/node/slot.js';
import { MAJORS, withServer, type Server } from './support/pg-server.js';
import { dsnOf, flushedLsn } from './support/slot.js';

const KILLS = Number(process.env.PGWAL_SINK_KILLS ?? 6);
const root = path.resolve(import.meta.dirname, '..');
const bundle = path.join(root, 'test-build', 'examples', `pg-sink-${process.pid}.mjs`);
afterAll(() => fs.rmSync(bundle, { force: true }));

/** examples/pg-sink.ts as a runnable file, with 'pgwal/…' the package's current source. */
function buildExample(): string {
  if (fs.existsSync(bundle)) return bundle;
  buildSync({
    entryPoints: [path.join(root, 'examples', 'pg-sink.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    outfile: bundle,
    external: ['pg'],
    alias: { 'pgwal/node': path.join(root, 'src/node/index.ts'), 'pgwal/reorderbuffer': path.join(root, 'src/reorderbuffer/index.ts'), pgwal: path.join(root, 'src/index.ts') },
    logLevel: 'error',
  });
  return bundle;
}

function prng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 0x1_0000_0000;
  };
}

const TABLE = 'create table src (id int primary key, v text, n bigint, t timestamptz, b bytea)';

/** Three sessions interleaving inserts, updates (some of the key), deletes, savepoints and rollbacks. */
async function workload(sessions: pg.Client[], rand: () => number, steps: number): Promise<void> {
  const open = sessions.map(() => false);
  const mine: number[][] = sessions.map(() => []);
  let nextId = 1;
  const pick = (k: number): number | undefined => mine[k]![Math.floor(rand() * mine[k]!.length)];
  for (let i = 0; i < steps; i++) {
    const k = Math.floor(rand() * sessions.length);
    const c = sessions[k]!;
    if (!open[k]) {
      await c.query('begin');
      open[k] = true;
    }
    const r = rand();
    if (r < 0.35) {
      const id = nextId++;
      mine[k]!.push(id);
      await c.query(`insert into src values ($1, $2, $3, now(), $4)`, [id, `s${k} ${i} ${'x'.repeat(Math.floor(rand() * 30))}`, BigInt(id) * 10_000_000_000n, Buffer.from([k, i & 255])]);
    } else if (r < 0.5) {
      const id = pick(k);
      if (id !== undefined) await c.query(`update src set v = v || '+', n = n + 1 where id = $1`, [id]);
    } else if (r < 0.55) {
      // A key update: the old key is logged.
      const id = pick(k);
      if (id !== undefined) {
        const to = nextId++;
        await c.query(`update src set id = $2 where id = $1`, [id, to]);
        mine[k] = mine[k]!.map((x) => (x === id ? to : x));
      }
    } else if (r < 0.6) {
      const id = pick(k);
      if (id !== undefined) {
        await c.query(`delete from src where id = $1`, [id]);
        mine[k] = mine[k]!.filter((x) => x !== id);
      }
    } else if (r < 0.65) {
      await c.query('savepoint sp');
      await c.query(`insert into src values ($1, 'rolled back to savepoint')`, [nextId++]);
      await c.query('rollback to savepoint sp');
    } else if (r < 0.68) {
      // Rolled back: its rows never existed. The ids it used are not reused.
      await c.query('rollback');
      open[k] = false;
      mine[k] = (await c.query<{ id: number }>('select id from src where v like $1', [`s${k} %`])).rows.map((x) => x.id);
    } else if (r < 0.9) {
      await c.query('commit');
      open[k] = false;
    }
  }
  for (const [k, c] of sessions.entries()) if (open[k]) await c.query('commit');
}

const rowsOf = async (c: pg.Client): Promise<string[]> =>
  (await c.query<{ r: string }>(`select format('%s|%s|%s|%s|%s', id, v, n, t, encode(b, 'hex')) as r from src order by id`)).rows.map((x) => x.r);

const sinkDsn = (s: Server): string => dsnOf(s).replace('/postgres?', '/sink?');

describe.each(MAJORS)('PostgreSQL %i', (major) => {
  it(`examples/pg-sink.ts SIGKILLed ${KILLS} times: the target table ends equal to the source, nothing lost, nothing twice`, async () => {
    const seed = Number(process.env.PGWAL_SINK_SEED ?? Math.floor(Math.random() * 2 ** 31));
    console.log(`consumer-sink PostgreSQL ${major}: seed ${seed}`);
    const rand = prng(seed);
    await withServer({ major, gucs: { wal_keep_size: "'1GB'" } }, async (server) => {
      const state = path.join(server.baseDir, 'slot.state');
      const sessions: pg.Client[] = [];
      for (let i = 0; i < 3; i++) sessions.push(await server.connect());
      let source: string[];
      let end: string;
      try {
        await sessions[0]!.query(TABLE);
        writeSlotStateFile(state, await createSlot({ connection: dsnOf(server), slotName: 'sink' }));
        await workload(sessions, rand, 3000);
        end = await flushedLsn(sessions[0]!);
        source = await rowsOf(sessions[0]!);
        await sessions[0]!.query('create database sink');
      } finally {
        for (const s of sessions) await s.end();
      }
      expect(source.length).toBeGreaterThan(300);
      const sink = await server.connect('sink');
      try {
        await sink.query(TABLE);
      } finally {
        await sink.end();
      }

      const args = [buildExample(), '--state', state, '--wal', server.pgWalDir, '--target', sinkDsn(server), '--end', end, '--batch', '10'];
      let kills = 0;
      let batches = 0;
      let skipped = 0;
      // Run 1's acks are undone after its kill (the state file and its catalog sidecars as before the run): a kill
      // between the target's COMMIT and the slot's write, forced, so the skip of applied transactions is exercised.
      const saved = path.join(server.baseDir, 'saved');
      const stateFiles = (dir: string): string[] => fs.readdirSync(dir).filter((n) => n.startsWith('slot.state'));
      for (let run = 0; ; run++) {
        if (run === 1) {
          fs.mkdirSync(saved);
          for (const n of stateFiles(server.baseDir)) fs.copyFileSync(path.join(server.baseDir, n), path.join(saved, n));
        }
        const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        const last = kills >= KILLS;
        // Kill after 1–3 batches of this run, 0–40 ms into what follows.
        const after = 1 + Math.floor(rand() * 3);
        const delay = Math.floor(rand() * 40);
        let armed = !last;
        child.stdout!.on('data', (d: Buffer) => {
          stdout += d;
          if (armed && stdout.split('\n').length - 1 >= after) {
            armed = false;
            setTimeout(() => child.kill('SIGKILL'), delay);
          }
        });
        child.stderr!.on('data', (d) => (stderr += d));
        const result = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
        const lines = stdout.split('\n').filter((l) => l.startsWith('applied '));
        batches += lines.length;
        for (const l of lines) {
          const m = /^applied (\d+) of (\d+) /.exec(l)!;
          skipped += Number(m[2]) - Number(m[1]);
        }
        if (process.env.PGWAL_SINK_VERBOSE) console.log(`run ${run}: ${result.signal ?? result.code}, ${lines.length} batches`);
        if (run === 1 && result.signal === 'SIGKILL') for (const n of stateFiles(saved)) fs.copyFileSync(path.join(saved, n), path.join(server.baseDir, n));
        if (result.signal === 'SIGKILL') kills++;
        else {
          expect(stderr).toBe('');
          expect(result, stderr).toEqual({ code: 0, signal: null });
          // Done, by the last run or by one that ended before its kill.
          break;
        }
        if (run > KILLS * 4) throw new Error(`no end after ${run} runs`);
      }
      expect(kills).toBe(KILLS);
      expect(batches).toBeGreaterThan(KILLS);
      if (process.env.PGWAL_SINK_VERBOSE) console.log(`${batches} batches, ${skipped} transactions skipped as applied already`);
      // Run 1 applied at least a batch that the slot then did not have acked: it came again and was skipped.
      expect(skipped).toBeGreaterThan(0);

      const check = await server.connect('sink');
      try {
        expect(await rowsOf(check)).toEqual(source);
        const progress = (await check.query<{ ok: boolean }>(`select lsn <= $1::pg_lsn as ok from pgwal_progress where slot_name = 'sink'`, [end])).rows;
        expect(progress).toEqual([{ ok: true }]);
      } finally {
        await check.end();
      }
    });
  });
});
