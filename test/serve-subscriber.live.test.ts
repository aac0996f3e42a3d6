// Live: a real PostgreSQL subscriber replicates through `pgwal serve`. A pgoutput pgwal slot made on the
// publisher (its publication first); the subscriber's CREATE SUBSCRIPTION names pgwal serve and that slot,
// without creating one or copying data; after a workload on the publisher its tables equal the publisher's.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type pg from 'pg';
import { slotCommand } from '../src/cli/slot.js';
import { streamSourceOptions } from '../src/cli/serve.js';
import { WalSender } from '../src/node/walsender.js';
import { readSlotStateFile } from '../src/node/slot.js';
import { Server, withServer, type Major } from './support/pg-server.js';
import { dsnOf, flushedLsn, io, waitForReplay } from './support/slot.js';
import { cliBundle } from './support/cli-process.js';

const KILLS = Number(process.env.PGWAL_SERVE_KILLS ?? 20);

/** A seeded random sequence (mulberry32): a failing run is repeated with its PGWAL_SERVE_SEED. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** `pgwal serve` as a process, once it listens. */
function startServe(args: string[]): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [cliBundle(), 'serve', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('listening on')) resolve(p);
    });
    p.on('exit', (code) => reject(new Error(`pgwal serve exited (${code}): ${err}`)));
  });
}

const SERVE_MAJORS: Major[] = (process.env.PGWAL_SERVE_MAJORS ?? '15,16,17,18').split(',').map(Number) as Major[];

const TABLES = ['create table acct (id int primary key, owner text, balance numeric(12,2))', 'create table ev (id bigint primary key, at timestamptz, tags text[], doc jsonb)'];

async function dump(c: pg.Client): Promise<string> {
  const a = await c.query('select * from acct order by id');
  const e = await c.query('select id, at::text, tags::text, doc::text from ev order by id');
  return JSON.stringify([a.rows, e.rows]);
}

/** Subscriber variants: its major (default the WAL's) and the subscription's options. */
const VARIANTS: { sub?: (m: Major) => Major; with: string; twoPhase?: boolean; memoryLimit?: number }[] = [
  { with: '' },
  // a two_phase slot (pgwal slot create --two-phase): a prepared transaction is sent at PREPARE
  { with: ', two_phase = true', twoPhase: true },
  { with: ', binary = true' },
  // every transaction streamed (memory limit 0, as debug_logical_replication_streaming = immediate)
  { with: ', streaming = on', memoryLimit: 0 },
  // another major's subscriber: the oldest for a newer WAL, the newest for 15's
  { sub: (m) => (m === 15 ? 18 : 15), with: '' },
];

describe.each(SERVE_MAJORS)('PostgreSQL %i', (major) => {
  it.each(VARIANTS.map((v) => [`${v.sub === undefined ? 'of the same major' : `of PostgreSQL ${v.sub(major)}`}${v.with}`, v] as const))('a subscriber %s, connected to pgwal serve, ends equal to the publisher', async (_name, variant) => {
    await withServer({ major, gucs: { wal_keep_size: "'1GB'" } }, async (pub) => {
      await withServer({ major: variant.sub?.(major) ?? major, gucs: { max_logical_replication_workers: 4 } }, async (sub) => {
        const state = path.join(pub.baseDir, 'slot.state');
        const pc = await pub.connect();
        const sc = await sub.connect();
        const commands: string[] = [];
        let sender: WalSender | undefined;
        try {
          for (const t of TABLES) {
            await pc.query(t);
            await sc.query(t);
          }
          await pc.query('create publication p for table acct, ev');
          const created = io();
          expect(await slotCommand(['create', '--dsn', dsnOf(pub), '--slot', 'pgwal_s', '--state', state, '--plugin', 'pgoutput', ...(variant.twoPhase === true ? ['--two-phase'] : [])], created), created.stderr()).toBe(0);
          const createdAt = readSlotStateFile(state).confirmedFlush;
          sender = new WalSender({ states: [state], path: [pub.pgWalDir], auth: 'trust', keepaliveMs: 500, pollMs: 100, ...(variant.memoryLimit !== undefined ? { memoryLimit: variant.memoryLimit } : {}) });
          sender.on('command', (x: { sql: string }) => commands.push(x.sql));
          const errors: unknown[] = [];
          sender.on('session-error', (x: { error: unknown }) => errors.push(x.error));
          const port = Number((await sender.listen({ host: '127.0.0.1', port: 0 })).split(':').at(-1));
          await sc.query(`create subscription s connection 'host=127.0.0.1 port=${port} dbname=postgres user=postgres' publication p with (create_slot = false, slot_name = 'pgwal_s', copy_data = false${variant.with})`);
          await pc.query(`insert into acct select g, 'owner ' || g, g * 1.5 from generate_series(1, 50) g`);
          await pc.query(`insert into ev select g, timestamptz '2024-01-01 00:00+00' + g * interval '1 hour', array['a', 'b' || g], jsonb_build_object('g', g) from generate_series(1, 30) g`);
          await pc.query('update acct set balance = balance - 10 where id % 4 = 0');
          await pc.query('begin');
          await pc.query('delete from acct where id > 45');
          await pc.query('update ev set doc = doc || \'{"x": 1}\' where id % 3 = 0');
          await pc.query('commit');
          await pc.query('delete from ev where id % 7 = 0');
          if (variant.twoPhase === true) {
            await pc.query('begin');
            await pc.query(`insert into acct values (500, 'prepared', 5)`);
            await pc.query(`prepare transaction 'gx'`);
            await pc.query(`commit prepared 'gx'`);
            await pc.query('begin');
            await pc.query(`insert into acct values (501, 'rolled back prepared', 5)`);
            await pc.query(`prepare transaction 'gy'`);
            await pc.query(`rollback prepared 'gy'`);
          }
          const want = await dump(pc);
          let got = '';
          for (let i = 0; i < 300 && got !== want; i++) {
            await new Promise((r) => setTimeout(r, 100));
            got = await dump(sc);
          }
          expect(got, `commands: ${commands.join(' | ')}\nerrors: ${errors.map(String).join(' | ')}`).toBe(want);
          expect(commands.some((q) => /^START_REPLICATION SLOT "pgwal_s" LOGICAL/.test(q))).toBe(true);
          // The published tables pgwal answered CREATE SUBSCRIPTION with became the subscription's, ready.
          expect((await sc.query(`select srrelid::regclass::text as t, srsubstate from pg_subscription_rel order by 1`)).rows).toEqual([
            { t: 'acct', srsubstate: 'r' },
            { t: 'ev', srsubstate: 'r' },
          ]);
          // The apply worker's feedback confirmed the pgwal slot (its state file) past where it was created.
          for (let i = 0; i < 300 && readSlotStateFile(state).confirmedFlush === createdAt; i++) await new Promise((r) => setTimeout(r, 100));
          expect(readSlotStateFile(state).confirmedFlush).not.toBe(createdAt);
          if (process.env.PGWAL_SERVE_LOG) console.log(`PostgreSQL ${sub.major} subscriber (${variant.with}) sent:\n${commands.join('\n')}`);
        } finally {
          await sc.query('alter subscription s disable').catch(() => undefined);
          await sc.query('alter subscription s set (slot_name = none)').catch(() => undefined);
          await sc.query('drop subscription if exists s').catch(() => undefined);
          await sender?.close();
          await pc.end();
          await sc.end();
        }
      });
    });
  }, 180_000);

  it('copy_data = true: the table synchronization is refused with an error naming copy_data, as a failing sync of the server\'s; the subscriber logs it and retries', async () => {
    await withServer({ major, gucs: { wal_keep_size: "'1GB'" } }, async (pub) => {
      await withServer({ major, gucs: { max_logical_replication_workers: 4, wal_retrieve_retry_interval: "'200ms'" } }, async (sub) => {
        const state = path.join(pub.baseDir, 'slot.state');
        const pc = await pub.connect();
        const sc = await sub.connect();
        let sender: WalSender | undefined;
        const commands: string[] = [];
        try {
          for (const t of TABLES) {
            await pc.query(t);
            await sc.query(t);
          }
          await pc.query('create publication p for table acct, ev');
          const created = io();
          expect(await slotCommand(['create', '--dsn', dsnOf(pub), '--slot', 'pgwal_s', '--state', state, '--plugin', 'pgoutput'], created), created.stderr()).toBe(0);
          sender = new WalSender({ states: [state], path: [pub.pgWalDir], auth: 'trust', keepaliveMs: 500, pollMs: 100 });
          sender.on('command', (x: { sql: string }) => commands.push(x.sql));
          const port = Number((await sender.listen({ host: '127.0.0.1', port: 0 })).split(':').at(-1));
          await sc.query(`create subscription s connection 'host=127.0.0.1 port=${port} dbname=postgres user=postgres' publication p with (create_slot = false, slot_name = 'pgwal_s', copy_data = true)`);
          const message = 'pgwal serve does not synchronize tables (copy_data = true)';
          for (let i = 0; i < 300 && !fs.readFileSync(sub.logFile, 'utf8').includes(message); i++) await new Promise((r) => setTimeout(r, 100));
          if (process.env.PGWAL_SERVE_LOG) console.log(`PostgreSQL ${major} subscriber with copy_data = true sent:\n${commands.join('\n')}`);
          expect(fs.readFileSync(sub.logFile, 'utf8')).toContain(message);
          // The tablesync worker's transaction (tablesync.c) is what was refused; nothing was copied.
          expect(commands).toContain('BEGIN READ ONLY ISOLATION LEVEL REPEATABLE READ');
          expect((await sc.query(`select sync_error_count::int as n from pg_stat_subscription_stats where subname = 's'`)).rows[0].n).toBeGreaterThan(0);
          expect((await sc.query(`select count(*)::int as n from pg_subscription_rel where srsubstate = 'r'`)).rows[0].n).toBe(0);
          expect((await sc.query('select count(*)::int as n from acct')).rows[0].n).toBe(0);
        } finally {
          await sc.query('alter subscription s disable').catch(() => undefined);
          await sc.query('alter subscription s set (slot_name = none)').catch(() => undefined);
          await sc.query('drop subscription if exists s').catch(() => undefined);
          await sender?.close();
          await pc.end();
          await sc.end();
        }
      });
    });
  }, 120_000);

  it.each(['-p', '--dsn'] as const)('the standby case (WAL from %s): pgwal serves a physical standby\'s WAL (its pg_wal, or its replication stream through a physical slot on it); the standby is promoted while the subscriber streams; it ends equal to the promoted server', async (source) => {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-serve-promote-'));
    fs.chmodSync(base, 0o755);
    const primary = await Server.create({ major, gucs: { wal_keep_size: "'1GB'" } });
    let standby: Server | undefined;
    let sender: WalSender | undefined;
    try {
      await withServer({ major, gucs: { max_logical_replication_workers: 4, wal_retrieve_retry_interval: "'200ms'" } }, async (sub) => {
        await primary.start();
        const state = path.join(base, 'slot.state');
        const sc = await sub.connect();
        let p: pg.Client | undefined;
        let s: pg.Client | undefined;
        try {
          for (const t of TABLES) {
            await primary.query(t);
            await sc.query(t);
          }
          await primary.query('create publication p for table acct, ev');
          const created = io();
          expect(await slotCommand(['create', '--dsn', dsnOf(primary), '--slot', 'pgwal_s', '--state', state, '--plugin', 'pgoutput'], created), created.stderr()).toBe(0);
          await primary.query(`insert into acct select g, 'owner ' || g, g from generate_series(1, 20) g`);
          // The standby: a cold copy of the primary, streaming from it.
          await primary.stop('fast');
          fs.cpSync(primary.dataDir, path.join(base, 'standby'), { recursive: true });
          // --dsn: hot_standby_feedback passes the catalog_xmin pgwal tells the standby's physical slot on to the primary.
          standby = await Server.create({ major, dataDir: path.join(base, 'standby'), gucs: { primary_conninfo: `'host=${primary.socketDir} port=${primary.port} user=postgres'`, wal_keep_size: "'1GB'", ...(source === '--dsn' ? { hot_standby_feedback: 'on' } : {}) } });
          fs.writeFileSync(path.join(standby.dataDir, 'standby.signal'), '');
          if (standby.owner) fs.chownSync(path.join(standby.dataDir, 'standby.signal'), standby.owner.uid, standby.owner.gid);
          await primary.start();
          await standby.start();
          p = await primary.connect();
          p.on('error', () => undefined);
          const notes = io();
          if (source === '--dsn') await standby.query(`select pg_create_physical_replication_slot('pgwal_phys')`);
          sender =
            source === '-p'
              ? new WalSender({ states: [state], path: [standby.pgWalDir], auth: 'trust', keepaliveMs: 500, pollMs: 100 })
              : new WalSender({ states: [state], path: [], auth: 'trust', keepaliveMs: 500, ...(await streamSourceOptions(dsnOf(standby), 'pgwal_phys', [state], notes)) });
          const commands: string[] = [];
          sender.on('command', (x: { sql: string }) => commands.push(x.sql));
          const errors: unknown[] = [];
          sender.on('session-error', (x: { error: unknown }) => errors.push(x.error));
          const port = Number((await sender.listen({ host: '127.0.0.1', port: 0 })).split(':').at(-1));
          await sc.query(`create subscription s connection 'host=127.0.0.1 port=${port} dbname=postgres user=postgres' publication p with (create_slot = false, slot_name = 'pgwal_s', copy_data = false)`);
          for (let i = 0; i < 40; i++) {
            await p.query(`update acct set balance = balance + ${i} where id = ${(i % 20) + 1}`);
            await p.query(`insert into ev values (${i}, now(), array['before'], '{"tl": 1}')`);
          }
          await p.query('begin');
          await p.query(`insert into ev values (1000, now(), array['in flight'], '{}')`);
          const sent = await flushedLsn(p);
          await waitForReplay(standby, sent);
          // The primary dies with a transaction open; the standby is promoted: timeline 2.
          await primary.stop('immediate');
          p = undefined;
          await standby.query('select pg_promote(true, 60)');
          s = await standby.connect();
          for (let i = 40; i < 80; i++) {
            await s.query(`update acct set balance = balance - ${i} where id = ${(i % 20) + 1}`);
            await s.query(`insert into ev values (${i}, now(), array['after'], '{"tl": 2}')`);
          }
          await s.query('delete from ev where id % 9 = 0');
          const want = await dump(s);
          let got = '';
          for (let i = 0; i < 300 && got !== want; i++) {
            await new Promise((r) => setTimeout(r, 100));
            got = await dump(sc);
          }
          expect(got, `errors: ${errors.map(String).join(' | ')}\nstderr: ${notes.stderr()}`).toBe(want);
          expect(got).toContain('{after}');
          // The slot's confirms moved it onto the new timeline.
          for (let i = 0; i < 100 && readSlotStateFile(state).timeline !== 2; i++) await new Promise((r) => setTimeout(r, 100));
          expect(readSlotStateFile(state).timeline).toBe(2);
          // IDENTIFY_SYSTEM says the folders' newest timeline, as the promoted server's does.
          expect(commands.filter((q) => q.startsWith('IDENTIFY_SYSTEM')).length).toBeGreaterThan(0);
          if (source === '--dsn') {
            // The stream went on over the switch: no session ended with an error, and the standby's physical slot
            // holds what pgwal's slot needs (its restart_lsn, and the catalog_xmin passed on by feedback).
            expect(errors.map(String)).toEqual([]);
            // One START_REPLICATION: the apply worker was never dropped and reconnected; pgwal read on over the switch.
            expect(commands.filter((q) => q.startsWith('START_REPLICATION')), commands.join(' | ')).toHaveLength(1);
            expect(notes.stderr()).toMatch(/timeline 1 ended at [0-9A-F]+\/[0-9A-F]+; following timeline 2/);
            const phys = async (): Promise<{ restart_lsn: string | null; catalog_xmin: string | null }> => (await s!.query(`select restart_lsn::text, catalog_xmin::text from pg_replication_slots where slot_name = 'pgwal_phys'`)).rows[0];
            // Hot standby feedback goes with the status updates (every 10 s).
            for (let i = 0; i < 150 && (await phys()).catalog_xmin === null; i++) await new Promise((r) => setTimeout(r, 100));
            const held = await phys();
            expect(held.restart_lsn).not.toBeNull();
            expect(held.catalog_xmin).not.toBeNull();
            expect(Number(held.catalog_xmin)).toBeLessThanOrEqual(readSlotStateFile(state).catalogXmin);
          }
        } finally {
          await sc.query('alter subscription s disable').catch(() => undefined);
          await sc.query('alter subscription s set (slot_name = none)').catch(() => undefined);
          await sc.query('drop subscription if exists s').catch(() => undefined);
          await sender?.close();
          await sc.end();
          await p?.end().catch(() => undefined);
          await s?.end();
        }
      });
    } finally {
      await standby?.destroy();
      await primary.destroy();
      fs.rmSync(base, { recursive: true, force: true });
    }
  }, 180_000);

  it.each(['-p', '--dsn'] as const)(`a subscriber ends equal to the publisher through ${KILLS} kill -9 of pgwal serve (WAL from %s) during a seeded workload: nothing lost or applied twice`, async (source) => {
    await withServer({ major, gucs: { wal_keep_size: "'1GB'" } }, async (pub) => {
      await withServer({ major, gucs: { max_logical_replication_workers: 4, wal_retrieve_retry_interval: "'100ms'" } }, async (sub) => {
        const state = path.join(pub.baseDir, 'slot.state');
        const pc = await pub.connect();
        const sc = await sub.connect();
        let serve: ChildProcess | undefined;
        try {
          for (const t of TABLES) {
            await pc.query(t);
            await sc.query(t);
          }
          await pc.query('create publication p for table acct, ev');
          const created = io();
          expect(await slotCommand(['create', '--dsn', dsnOf(pub), '--slot', 'pgwal_s', '--state', state, '--plugin', 'pgoutput'], created), created.stderr()).toBe(0);
          const port = await freePort();
          // From the folders, or from the publisher's replication stream (decode --dsn's source), followed.
          const args = ['--state', state, ...(source === '-p' ? ['-p', pub.pgWalDir] : ['--dsn', dsnOf(pub)]), '--listen', `127.0.0.1:${port}`, '--auth', 'trust'];
          const seed = Number(process.env.PGWAL_SERVE_SEED ?? Date.now() % 100000);
          const random = seeded(seed);
          serve = await startServe(args);
          await sc.query(`create subscription s connection 'host=127.0.0.1 port=${port} dbname=postgres user=postgres' publication p with (create_slot = false, slot_name = 'pgwal_s', copy_data = false)`);
          await pc.query(`insert into acct select g, 'owner ' || g, 0 from generate_series(1, 20) g`);
          // Non-idempotent updates: a transaction applied twice leaves a different balance.
          // The workload runs until the last kill (at least 300 transactions), so every kill falls inside it.
          let done = false;
          let killing = true;
          let transactions = 0;
          const work = seeded(seed + 1);
          const workload = (async () => {
            for (let i = 0; i < 300 || killing; i++) {
              await pc.query('begin');
              await pc.query(`update acct set balance = balance + ${1 + Math.floor(work() * 5)} where id = ${1 + Math.floor(work() * 20)}`);
              await pc.query(`insert into ev values (${i}, now(), array['t${i}'], '{"i": ${i}}')`);
              if (i % 10 === 9) await pc.query(`delete from ev where id = ${i - 1 - Math.floor(work() * 8)}`);
              if (work() < 0.3) await pc.query('rollback');
              else await pc.query('commit');
              transactions++;
              if (work() < 0.2) await new Promise((r) => setTimeout(r, 10));
            }
            done = true;
          })();
          for (let k = 0; k < KILLS; k++) {
            await new Promise((r) => setTimeout(r, 150 + Math.floor(random() * 250)));
            serve.kill('SIGKILL');
            await new Promise((r) => serve!.once('exit', r));
            serve = await startServe(args);
          }
          killing = false;
          await workload;
          expect(done).toBe(true);
          expect(transactions).toBeGreaterThanOrEqual(300);
          const want = await dump(pc);
          let got = '';
          for (let i = 0; i < 600 && got !== want; i++) {
            await new Promise((r) => setTimeout(r, 100));
            got = await dump(sc);
          }
          expect(got, `seed ${seed}`).toBe(want);
        } finally {
          await sc.query('alter subscription s disable').catch(() => undefined);
          await sc.query('alter subscription s set (slot_name = none)').catch(() => undefined);
          await sc.query('drop subscription if exists s').catch(() => undefined);
          serve?.kill('SIGKILL');
          await pc.end();
          await sc.end();
        }
      });
    });
  }, 300_000);
});
