// Live: `pgwal serve` answers Debian's pg_recvlogical 15 as a walsender does. A test_decoding pgwal slot made
// with the server's own slot at the same point; pg_recvlogical, connected to pgwal serve, writes exactly the
// rows pg_logical_slot_peek_changes returns; its feedback confirms the pgwal slot, and a second run resumes
// after what the first confirmed.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { slotCommand } from '../src/cli/slot.js';
import { readSlotStateFile } from '../src/node/slot.js';
import { WalSender } from '../src/node/walsender.js';
import { parseLsn } from '../src/lsn.js';
import { Server, withServer, type Major } from './support/pg-server.js';
import { asText, dsnOf, flushedLsn, io, waitForReplay } from './support/slot.js';
import { streamSourceOptions } from '../src/cli/serve.js';

const PSQL = '/usr/lib/postgresql/15/bin/psql';

/** IDENTIFY_SYSTEM over a replication=database connection (Debian's psql 15): systemid|timeline|xlogpos|dbname. */
function identifySystem(conninfo: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const p = spawn(PSQL, ['-Atc', 'IDENTIFY_SYSTEM', '-d', `${conninfo} dbname=postgres user=postgres replication=database`]);
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve(out.trim().split('|')) : reject(new Error(`psql: ${err}`))));
  });
}

/** pg_recvlogical without an end: its rows as they come, stopped with SIGINT (it then exits 0). */
function recvlogicalFollow(port: number, slot: string): { lines: () => string[]; stop: () => Promise<{ code: number | null; stderr: string }> } {
  const p = spawn(PG_RECVLOGICAL, ['--start', '-S', slot, '-f', '-', '--no-loop', '-s', '1', '-d', `host=127.0.0.1 port=${port} dbname=postgres user=postgres`]);
  let stdout = '';
  let stderr = '';
  p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; stderr: string }>((resolve) => p.on('close', (code) => resolve({ code, stderr })));
  return {
    lines: () => stdout.trimEnd().split('\n').filter((l) => l !== ''),
    stop: async () => {
      p.kill('SIGINT');
      const t = setTimeout(() => p.kill('SIGKILL'), 10_000);
      const r = await exited;
      clearTimeout(t);
      return r;
    },
  };
}

async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  for (const t0 = Date.now(); !(await ok()); ) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const PG_RECVLOGICAL = '/usr/lib/postgresql/15/bin/pg_recvlogical';
const SERVE_MAJORS: Major[] = (process.env.PGWAL_SERVE_MAJORS ?? '15,16,17,18').split(',').map(Number) as Major[];

function recvlogical(port: number, slot: string, endpos: string, extra: string[] = []): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(PG_RECVLOGICAL, ['--start', '-S', slot, '-f', '-', '--no-loop', '-E', endpos, ...extra, '-d', `host=127.0.0.1 port=${port} dbname=postgres user=postgres`], { env: { ...process.env, PGCONNECT_TIMEOUT: '10' } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const t = setTimeout(() => p.kill('SIGKILL'), 60_000);
    p.on('error', reject);
    p.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

describe.each(SERVE_MAJORS)('PostgreSQL %i', (major) => {
  it('pg_recvlogical through pgwal serve receives what the server\'s slot returns, and resumes after its confirm', async () => {
    await withServer({ major, gucs: { wal_keep_size: "'1GB'" } }, async (server) => {
      const state = path.join(server.baseDir, 'slot.state');
      const c = await server.connect();
      try {
        await c.query(`create type mood as enum ('sad', 'ok', 'happy')`);
        await c.query('create table acct (id int primary key, owner text, balance numeric(12,2), m mood, ms mood[])');
        const created = io();
        expect(await slotCommand(['create', '--dsn', dsnOf(server), '--slot', 'pgwal_s', '--state', state], created), created.stderr()).toBe(0);
        const before = readSlotStateFile(state).confirmedFlush;
        await c.query(`insert into acct select g, 'owner ' || g, g * 1.5, (array['sad', 'ok', 'happy'])[g % 3 + 1]::mood, array['ok']::mood[] from generate_series(1, 40) g`);
        await c.query('update acct set balance = balance - 10 where id % 4 = 0');
        await c.query('begin');
        await c.query('delete from acct where id > 35');
        await c.query('savepoint s');
        await c.query(`insert into acct values (100, 'rolled back', 0)`);
        await c.query('rollback to savepoint s');
        await c.query('commit');
        await c.query(`select pg_logical_emit_message(true, 'audit', 'done')`);
        const end1 = await flushedLsn(c);

        // No output queue: every row goes through the spill file (the path of a large transaction to a slow client).
        const served = new WalSender({ states: [state], path: [server.pgWalDir], auth: 'trust', keepaliveMs: 200, pollMs: 100, maxQueuedOutput: 0 });
        let spills = 0;
        served.on('spill', () => spills++);
        const commands: string[] = [];
        served.on('command', (x: { sql: string }) => commands.push(x.sql));
        const addr = await served.listen({ host: '127.0.0.1', port: 0 });
        const port = Number(addr.split(':').at(-1));
        try {
          const run1 = await recvlogical(port, 'pgwal_s', end1);
          expect(run1.code, run1.stderr).toBe(0);
          // pg_recvlogical empties its session's search_path: test_decoding then qualifies user types (public.mood).
          await c.query(`set search_path = ''`);
          const theirs1 = (await c.query({ text: `select data from pg_logical_slot_peek_changes('pgwal_s', $1, null)`, values: [end1], rowMode: 'array', types: asText })).rows.map((r) => r[0] as string);
          expect(theirs1.length).toBeGreaterThan(40);
          expect(theirs1.some((r) => r.includes(' m[public.mood]:') && r.includes(' ms[public.mood[]]:'))).toBe(true);
          expect(run1.stdout.trimEnd().split('\n')).toEqual(theirs1);
          expect(commands.some((q) => q.startsWith('IDENTIFY_SYSTEM'))).toBe(true);
          expect(spills).toBeGreaterThan(0);
          expect(commands.some((q) => q.startsWith('START_REPLICATION SLOT "pgwal_s" LOGICAL'))).toBe(true);
          // pg_recvlogical's feedback confirmed the pgwal slot (the state file) up to a commit it received.
          const confirmed = readSlotStateFile(state).confirmedFlush;
          expect(confirmed).not.toBe(before);

          // More work; the second run starts after what the first confirmed: together, the server's whole range.
          await c.query(`insert into public.acct values (200, 'second run', 2)`);
          await c.query(`update public.acct set owner = 'renamed' where id = 1`);
          const end2 = await flushedLsn(c);
          const run2 = await recvlogical(port, 'pgwal_s', end2);
          expect(run2.code, run2.stderr).toBe(0);
          const all = (await c.query({ text: `select data from pg_logical_slot_peek_changes('pgwal_s', $1, null)`, values: [end2], rowMode: 'array', types: asText })).rows.map((r) => r[0] as string);
          expect([...run1.stdout.trimEnd().split('\n'), ...run2.stdout.trimEnd().split('\n')]).toEqual(all);
          expect(run2.stdout).toContain('second run');
          expect(run2.stdout).not.toContain("'owner 2'");
        } finally {
          await served.close();
        }
      } finally {
        await c.end();
      }
    });
  }, 180_000);

  it('serve --dsn: pg_recvlogical receives from the server\'s replication stream (a physical slot) what the server\'s slot returns, WAL written while it streams included; IDENTIFY_SYSTEM says the server\'s timeline and flush', async () => {
    await withServer({ major, gucs: { wal_keep_size: "'1GB'" } }, async (server) => {
      const state = path.join(server.baseDir, 'slot.state');
      const c = await server.connect();
      try {
        await c.query(`select pg_create_physical_replication_slot('pgwal_phys')`);
        await c.query('create table t (id int primary key, v text, n numeric)');
        const created = io();
        expect(await slotCommand(['create', '--dsn', dsnOf(server), '--slot', 'pgwal_s', '--state', state], created), created.stderr()).toBe(0);
        await c.query(`insert into t select g, 'v' || g, g / 3.0 from generate_series(1, 30) g`);
        await c.query(`select pg_logical_emit_message(true, 'mark', 'one')`);
        const quiet = io();
        const served = new WalSender({ states: [state], path: [], auth: 'trust', keepaliveMs: 200, ...(await streamSourceOptions(dsnOf(server), 'pgwal_phys', [state], quiet)) });
        const port = Number((await served.listen({ host: '127.0.0.1', port: 0 })).split(':').at(-1));
        try {
          const rl = recvlogicalFollow(port, 'pgwal_s');
          await until('the first part', () => rl.lines().some((l) => l.includes('content:one')));
          // Written while pg_recvlogical streams: pgwal follows the stream.
          await c.query(`update t set v = v || '!' where id % 3 = 0`);
          await c.query('begin');
          await c.query('delete from t where id > 25');
          await c.query(`insert into t values (100, 'late', 1)`);
          await c.query('commit');
          await c.query(`select pg_logical_emit_message(true, 'mark', 'two')`);
          const end = await flushedLsn(c);
          await until('the second part', () => rl.lines().some((l) => l.includes('content:two')));
          // The physical slot shows the stream, holding WAL from the pgwal slot's restart_lsn on.
          await until('the physical slot active', async () => (await c.query(`select active from pg_replication_slots where slot_name = 'pgwal_phys'`)).rows[0].active === true);
          const ident = await identifySystem(`host=127.0.0.1 port=${port}`);
          const theirsId = await identifySystem(`host=${server.socketDir} port=${server.port}`);
          expect(ident[0]).toBe(theirsId[0]);
          expect(ident[1]).toBe(theirsId[1]);
          expect(parseLsn(ident[2]!)).toBeGreaterThanOrEqual(parseLsn(end));
          expect(parseLsn(ident[2]!)).toBeLessThanOrEqual(parseLsn(theirsId[2]!));
          const r = await rl.stop();
          expect(r.code, r.stderr).toBe(0);
          await c.query(`set search_path = ''`);
          const theirs = (await c.query({ text: `select data from pg_logical_slot_peek_changes('pgwal_s', $1, null)`, values: [end], rowMode: 'array', types: asText })).rows.map((x) => x[0] as string);
          expect(theirs.some((l) => l.includes("'late'"))).toBe(true);
          expect(rl.lines()).toEqual(theirs);
          // pg_recvlogical's feedback confirmed the pgwal slot; the stream told the physical slot its restart_lsn.
          const st = readSlotStateFile(state);
          await until('the physical slot\'s restart_lsn', async () => (await c.query(`select restart_lsn::text as r from pg_replication_slots where slot_name = 'pgwal_phys'`)).rows[0].r === st.restartLsn);
        } finally {
          await served.close();
        }
      } finally {
        await c.end();
      }
    });
  }, 180_000);

  it('serve --dsn from a standby that is promoted while pg_recvlogical streams: pgwal follows onto timeline 2 in the same stream; pg_recvlogical receives what the promoted server\'s slot returns', async () => {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-serve-dsn-promote-'));
    fs.chmodSync(base, 0o755);
    const primary = await Server.create({ major, gucs: { wal_keep_size: "'1GB'" } });
    let standby: Server | undefined;
    let served: WalSender | undefined;
    try {
      await primary.start();
      await primary.query('create table t (id int primary key, v text)');
      const state = path.join(base, 'slot.state');
      const created = io();
      // The server's slot is made with pgwal's and copied with the data folder: the promoted server decodes it too.
      expect(await slotCommand(['create', '--dsn', dsnOf(primary), '--slot', 'pgwal_s', '--state', state], created), created.stderr()).toBe(0);
      await primary.query(`insert into t select g, 'on the primary' from generate_series(1, 20) g`);
      // The standby: a cold copy of the primary, streaming from it, passing catalog_xmin on (hot_standby_feedback).
      await primary.stop('fast');
      fs.cpSync(primary.dataDir, path.join(base, 'standby'), { recursive: true });
      standby = await Server.create({ major, dataDir: path.join(base, 'standby'), gucs: { primary_conninfo: `'host=${primary.socketDir} port=${primary.port} user=postgres'`, wal_keep_size: "'1GB'", hot_standby_feedback: 'on' } });
      fs.writeFileSync(path.join(standby.dataDir, 'standby.signal'), '');
      if (standby.owner) fs.chownSync(path.join(standby.dataDir, 'standby.signal'), standby.owner.uid, standby.owner.gid);
      await primary.start();
      await standby.start();
      await standby.query(`select pg_create_physical_replication_slot('pgwal_phys')`);
      const notes = io();
      served = new WalSender({ states: [state], path: [], auth: 'trust', keepaliveMs: 200, ...(await streamSourceOptions(dsnOf(standby), 'pgwal_phys', [state], notes)) });
      const commands: string[] = [];
      served.on('command', (x: { sql: string }) => commands.push(x.sql));
      const port = Number((await served.listen({ host: '127.0.0.1', port: 0 })).split(':').at(-1));
      const rl = recvlogicalFollow(port, 'pgwal_s');
      const p = await primary.connect();
      try {
        await p.query(`insert into t select g, 'streamed ' || g from generate_series(100, 600) g`);
        await p.query(`update t set v = v || ' updated' where id % 10 = 0`);
        await p.query(`select pg_logical_emit_message(true, 'mark', 'timeline one')`);
        await waitForReplay(standby, await flushedLsn(p));
      } finally {
        await p.end();
      }
      await until('the timeline 1 part', () => rl.lines().some((l) => l.includes('content:timeline one')));
      await primary.stop('fast');
      await standby.query('select pg_promote(true, 60)');
      const s = await standby.connect();
      try {
        await s.query(`insert into t select g, 'on timeline 2 ' || g from generate_series(1000, 1300) g`);
        await s.query('select pg_switch_wal()');
        await s.query('delete from t where id between 100 and 150');
        await s.query(`select pg_logical_emit_message(true, 'mark', 'timeline two')`);
        const end = await flushedLsn(s);
        await until('the timeline 2 part', () => rl.lines().some((l) => l.includes('content:timeline two')));
        // pg_recvlogical's status updates (every second) confirm the pgwal slot onto timeline 2.
        await until('the slot confirmed on timeline 2', () => readSlotStateFile(state).timeline === 2);
        const r = await rl.stop();
        expect(r.code, r.stderr).toBe(0);
        await s.query(`set search_path = ''`);
        const theirs = (await s.query({ text: `select data from pg_logical_slot_peek_changes('pgwal_s', $1, null)`, values: [end], rowMode: 'array', types: asText })).rows.map((x) => x[0] as string);
        expect(theirs.some((l) => l.includes("'on timeline 2 1300'"))).toBe(true);
        expect(rl.lines()).toEqual(theirs);
      } finally {
        await s.end();
      }
      // One stream over the switch, said on stderr.
      expect(commands.filter((q) => q.startsWith('START_REPLICATION'))).toHaveLength(1);
      expect(notes.stderr()).toMatch(/^pgwal serve: timeline 1 ended at [0-9A-F]+\/[0-9A-F]+; following timeline 2\n/);
    } finally {
      await served?.close();
      await standby?.destroy();
      await primary.destroy();
      fs.rmSync(base, { recursive: true, force: true });
    }
  }, 180_000);

  it('IDENTIFY_SYSTEM from the folders: the end of the last record, equal to the server\'s flush position when it is idle', async () => {
    await withServer({ major, gucs: { wal_keep_size: "'1GB'" } }, async (server) => {
      const state = path.join(server.baseDir, 'slot.state');
      const c = await server.connect();
      try {
        await c.query('create table t (id int primary key)');
        const created = io();
        expect(await slotCommand(['create', '--dsn', dsnOf(server), '--slot', 'pgwal_s', '--state', state], created), created.stderr()).toBe(0);
        await c.query(`insert into t select generate_series(1, 1000)`);
        const served = new WalSender({ states: [state], path: [server.pgWalDir], auth: 'trust' });
        const port = Number((await served.listen({ host: '127.0.0.1', port: 0 })).split(':').at(-1));
        try {
          // The server's background records (running_xacts) can land between the two looks: looked at again then.
          let seen: string[] = [];
          for (let i = 0; i < 20; i++) {
            await c.query(`insert into t values (${2000 + i})`);
            const before = await identifySystem(`host=${server.socketDir} port=${server.port}`);
            const ours = await identifySystem(`host=127.0.0.1 port=${port}`);
            const after = await identifySystem(`host=${server.socketDir} port=${server.port}`);
            seen = [before[2]!, ours[2]!, after[2]!];
            expect(ours[0]).toBe(before[0]);
            expect(ours[1]).toBe(before[1]);
            if (before[2] === after[2]) break;
          }
          expect(seen[1]).toBe(seen[0]);
        } finally {
          await served.close();
        }
      } finally {
        await c.end();
      }
    });
  }, 120_000);

  it('two slots served at once, each client with its own test_decoding options, each equal to its server slot', async () => {
    await withServer({ major, gucs: { wal_keep_size: "'1GB'" } }, async (server) => {
      const c = await server.connect();
      const states = ['a', 'b'].map((x) => path.join(server.baseDir, `${x}.state`));
      try {
        await c.query('create table t (id int primary key, v text)');
        for (const [i, st] of states.entries()) {
          const created = io();
          expect(await slotCommand(['create', '--dsn', dsnOf(server), '--slot', `pgwal_${'ab'[i]}`, '--state', st], created), created.stderr()).toBe(0);
        }
        await c.query(`insert into t select g, 'v' || g from generate_series(1, 30) g`);
        await c.query('begin');
        await c.query('update t set v = v || \'!\' where id % 2 = 0');
        await c.query('commit');
        await c.query('begin');
        await c.query('rollback');
        await c.query(`select pg_logical_emit_message(false, 'p', 'nontx')`);
        await c.query('delete from t where id > 25');
        const end = await flushedLsn(c);
        const served = new WalSender({ states, path: [server.pgWalDir], auth: 'trust', keepaliveMs: 200, pollMs: 100 });
        const port = Number((await served.listen({ host: '127.0.0.1', port: 0 })).split(':').at(-1));
        try {
          const opts = ['-o', 'include-xids=0', '-o', 'skip-empty-xacts=1', '-o', 'include-timestamp=0'];
          const [ra, rb] = await Promise.all([recvlogical(port, 'pgwal_a', end), recvlogical(port, 'pgwal_b', end, opts)]);
          expect(ra.code, ra.stderr).toBe(0);
          expect(rb.code, rb.stderr).toBe(0);
          await c.query(`set search_path = ''`);
          const peek = async (slot: string, args: string[]): Promise<string[]> =>
            (await c.query({ text: `select data from pg_logical_slot_peek_changes($1, $2, null${args.map((_, i) => `, $${i + 3}`).join('')})`, values: [slot, end, ...args], rowMode: 'array', types: asText })).rows.map((r) => r[0] as string);
          expect(ra.stdout.trimEnd().split('\n')).toEqual(await peek('pgwal_a', []));
          const wantB = await peek('pgwal_b', ['include-xids', '0', 'skip-empty-xacts', '1', 'include-timestamp', '0']);
          expect(rb.stdout.trimEnd().split('\n')).toEqual(wantB);
          expect(wantB).not.toEqual(await peek('pgwal_b', []));
        } finally {
          await served.close();
        }
      } finally {
        await c.end();
      }
    });
  }, 180_000);
});
