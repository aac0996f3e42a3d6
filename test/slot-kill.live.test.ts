// Live, every major: `pgwal decode --confirm-every 1` killed with SIGKILL at random points, PGWAL_KILLS times
// (default 50), then run to the end. Each run's output must continue the server's own slot output exactly
// after the confirmed_flush the run started from (nothing committed is missing, nothing before the confirmed
// LSN repeated), and a confirmation may only name a commit the run had written. The workload interleaves
// three sessions so transactions stay open across confirmations (restart_lsn matters). Prints its seed
// (PGWAL_KILL_SEED replays one).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { slotCommand } from '../src/cli/slot.js';
import { readSlotStateFile } from '../src/node/slot.js';
import { parseLsn } from '../src/lsn.js';
import { cliBundle } from './support/cli-process.js';
import { MAJORS, withServer } from './support/pg-server.js';
import { asText, dsnOf, flushedLsn, io } from './support/slot.js';

const KILLS = Number(process.env.PGWAL_KILLS ?? 50);

function prng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 0x1_0000_0000;
  };
}

async function workload(sessions: pg.Client[], rand: () => number, steps: number): Promise<void> {
  const open = sessions.map(() => false);
  // Each session updates only its own rows: the sessions never wait for each other's locks.
  const mine: number[][] = sessions.map(() => []);
  let nextId = 1;
  for (let i = 0; i < steps; i++) {
    const k = Math.floor(rand() * sessions.length);
    const c = sessions[k]!;
    if (!open[k]) {
      await c.query('begin');
      open[k] = true;
    }
    const r = rand();
    if (r < 0.4) {
      mine[k]!.push(nextId);
      await c.query(`insert into k values ($1, $2)`, [nextId++, `s${k} step ${i} ${'x'.repeat(Math.floor(rand() * 40))}`]);
    } else if (r < 0.55) await c.query(`update k set v = v || '+' where id = $1`, [mine[k]![Math.floor(rand() * mine[k]!.length)] ?? 0]);
    else if (r < 0.62) {
      await c.query('savepoint sp');
      await c.query(`insert into k values ($1, 'rolled back to savepoint')`, [nextId++]);
      await c.query('rollback to savepoint sp');
    } else if (r < 0.66) {
      await c.query('rollback');
      open[k] = false;
    } else if (r < 0.9) {
      await c.query('commit');
      open[k] = false;
    } else {
      mine[k]!.push(nextId);
      await c.query(`insert into k values ($1, 'next')`, [nextId++]);
    }
  }
  for (const [k, c] of sessions.entries()) if (open[k]) await c.query('commit');
}

interface Row {
  lsn: number;
  line: string;
  commit: boolean;
}

const rowOf = (line: string): Row => {
  const [lsn, , data] = line.split('\t');
  return { lsn: parseLsn(lsn!), line, commit: data!.startsWith('COMMIT') };
};

afterAll(() => {
  fs.rmSync(cliBundle(), { force: true });
});

describe.each(MAJORS)('PostgreSQL %i', (major) => {
  it(`decode --confirm-every 1 killed ${KILLS} times: no committed transaction missing, none repeated past its confirmed LSN`, async () => {
    const seed = Number(process.env.PGWAL_KILL_SEED ?? Math.floor(Math.random() * 2 ** 31));
    console.log(`slot-kill PostgreSQL ${major}: seed ${seed}`);
    const rand = prng(seed);
    await withServer({ major, gucs: { wal_keep_size: "'1GB'" } }, async (server) => {
      const state = path.join(server.baseDir, 'slot.state');
      const sessions: pg.Client[] = [];
      for (let i = 0; i < 3; i++) sessions.push(await server.connect());
      let expected: Row[];
      let end: string;
      try {
        await sessions[0]!.query('create table k (id int primary key, v text)');
        const created = io();
        expect(await slotCommand(['create', '--dsn', dsnOf(server), '--slot', 'k', '--state', state], created), created.stderr()).toBe(0);
        await workload(sessions, rand, 4000);
        end = await flushedLsn(sessions[0]!);
        // The server's own slot, never advanced: everything since the slot's creation.
        expected = (
          await sessions[0]!.query({ text: `select lsn, xid, data from pg_logical_slot_peek_changes('k', $1, null, 'skip-empty-xacts', '1')`, values: [end], rowMode: 'array', types: asText })
        ).rows.map((r) => rowOf(r.join('\t')));
      } finally {
        for (const s of sessions) await s.end();
      }
      expect(expected.filter((r) => r.commit).length).toBeGreaterThan(300);

      const bundle = cliBundle();
      const args = [bundle, 'decode', '--state', state, '-p', server.pgWalDir, '--with-lsn', '-o', 'skip-empty-xacts=1', '--end', end, '--confirm-every', '1'];
      let kills = 0;
      let killsWithWorkLeft = 0;
      const lastCommit = expected[expected.length - 1]!.lsn;
      let repeated = 0;
      let previousWritten: Row[] = [];
      for (let run = 0; ; run++) {
        const confirmedBefore = parseLsn(readSlotStateFile(state).confirmedFlush);
        const outFile = path.join(server.baseDir, `run-${run}.out`);
        const fd = fs.openSync(outFile, 'w');
        const child = spawn(process.execPath, args, { stdio: ['ignore', fd, 'pipe'] });
        fs.closeSync(fd);
        let stderr = '';
        child.stderr!.on('data', (d) => (stderr += d));
        const last = kills >= KILLS;
        // Kill once the run has written a random amount (0 to ~4 KB: a few transactions), at whatever it is
        // doing then — between a write and its confirmation, inside a record, during the fsync.
        const threshold = Math.floor(rand() * rand() * 8000);
        const timer = last
          ? undefined
          : setInterval(() => {
              if (fs.statSync(outFile).size >= threshold) child.kill('SIGKILL');
            }, 2);
        const result = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
        clearInterval(timer);
        if (result.signal === 'SIGKILL') kills++;
        if (result.signal === 'SIGKILL' && confirmedBefore < lastCommit) killsWithWorkLeft++;
        else expect(result.code, stderr).toBe(0);

        // What this run wrote (a line cut by the kill is not output yet).
        const text = fs.readFileSync(outFile, 'utf8');
        const complete = text.slice(0, text.lastIndexOf('\n') + 1);
        const written = complete === '' ? [] : complete.trimEnd().split('\n').map(rowOf);
        // It continues the server's output exactly after the confirmed_flush it started from.
        const from = expected.findIndex((r) => r.commit && r.lsn > confirmedBefore);
        let txnStart = from < 0 ? expected.length : from;
        while (txnStart > 0 && txnStart < expected.length && !expected[txnStart - 1]!.commit) txnStart--;
        const continuation = expected.slice(txnStart);
        expect(written.map((r) => r.line), `run ${run} (confirmed_flush ${confirmedBefore} before it)`).toEqual(continuation.slice(0, written.length).map((r) => r.line));
        // Whole transactions it repeats from the previous run were written but not yet confirmed there.
        repeated += written.filter((r) => r.commit && previousWritten.some((p) => p.commit && p.lsn === r.lsn)).length;
        // Every transaction the run's confirmation covers was written by it (an empty one, skipped by
        // skip-empty-xacts, may be confirmed without output, as the server's slot does).
        const confirmedAfter = parseLsn(readSlotStateFile(state).confirmedFlush);
        if (process.env.PGWAL_KILL_VERBOSE) console.log(`run ${run}: ${result.signal ?? result.code}, ${written.length} lines, confirmed ${confirmedBefore} -> ${confirmedAfter} of ${expected[expected.length - 1]!.lsn}`);
        const covered = expected.filter((r) => r.commit && r.lsn > confirmedBefore && r.lsn <= confirmedAfter).map((r) => r.lsn);
        const wroteCommits = new Set(written.filter((r) => r.commit).map((r) => r.lsn));
        expect(covered.filter((l) => !wroteCommits.has(l)), `run ${run}: confirmed ${confirmedAfter} covers commits it did not write`).toEqual([]);
        expect(confirmedAfter).toBeGreaterThanOrEqual(confirmedBefore);
        previousWritten = written;
        if (result.code === 0) {
          if (last) {
            expect(written.length).toBe(continuation.length);
            break;
          }
        }
        if (run > KILLS * 4) throw new Error(`no end after ${run} runs`);
      }
      // Each kill repeats at most the one transaction written after the last confirmation.
      expect(repeated).toBeLessThanOrEqual(kills);
      expect(kills).toBe(KILLS);
      // The kills landed while there was work left, not after the end.
      expect(killsWithWorkLeft).toBeGreaterThanOrEqual(Math.floor(KILLS * 0.8));
    });
  });
});
