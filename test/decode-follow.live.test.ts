// Live, every major: `pgwal decode --dsn -f` keeps decoding as WAL arrives.
//  - On one server: a workload in rounds while following with --confirm-every 1 through a physical slot;
//    SIGINT (the CLI's abort) ends it, the state saved: the output equals decoding pg_wal from the same state,
//    the slot confirmed the last commit, the physical slot holds its restart_lsn. SIGTERM ends a CLI process so.
//  - From a standby (physical slot on it, hot_standby_feedback on) that is promoted: pgwal follows onto
//    timeline 2 without a restart; the output over the whole range equals the promoted server's own slot.
//  - From the primary through a host list (target_session_attrs=primary): the primary dies, the standby is
//    promoted, pgwal connects to it and goes on. A slot that consumed what the standby never had: decoding
//    stops refusing the orphaned transactions, as decoding again and decode -p do; --accept-orphans goes on.
//    One that only read ahead of the standby (an open transaction) starts again from the slot by itself.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeCommand } from '../src/cli/decode.js';
import { slotCommand } from '../src/cli/slot.js';
import { decodeTransactions } from '../src/node/transactions.js';
import type { DumpIo } from '../src/cli/dump.js';
import { openSlotFile, readSlotStateFile } from '../src/node/slot.js';
import { formatLsn } from '../src/lsn.js';
import { MAJORS, Server } from './support/pg-server.js';
import { asText, dsnOf, flushedLsn, waitForReplay } from './support/slot.js';
import { cliBundle } from './support/cli-process.js';

function io(signal?: AbortSignal): DumpIo & { stdout: () => string; stderr: () => string } {
  let out = '';
  let err = '';
  return { out: (t) => (out += t), err: (t) => (err += t), errIsTty: false, env: {}, cwd: process.cwd(), sleep: async () => undefined, signal, stdout: () => out, stderr: () => err };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits (up to 20 s) until `f` holds. */
async function until(f: () => boolean | Promise<boolean>, what: () => string): Promise<void> {
  for (let i = 0; i < 800; i++) {
    if (await f()) return;
    await sleep(25);
  }
  throw new Error(`timed out waiting: ${what()}`);
}

const opts = ['-o', 'include-xids=1', '-o', 'skip-empty-xacts=1', '--with-lsn'];

/** What the server's slot returns up to `end`, as `decode --with-lsn` prints it. */
async function serverPeek(s: Server, slot: string, end: string): Promise<string> {
  const c = await s.connect();
  try {
    const r = await c.query({
      text: `select lsn, xid, data from pg_logical_slot_peek_changes($1, $2, null, 'include-xids', '1', 'skip-empty-xacts', '1')`,
      values: [slot, end],
      rowMode: 'array',
      types: asText,
    });
    return r.rows.map((row: string[]) => `${row.join('\t')}\n`).join('');
  } finally {
    await c.end();
  }
}

/** A cold copy of a stopped primary, started as its streaming standby (the primary is started again first). */
async function standbyOf(primary: Server, base: string, major: (typeof MAJORS)[number], gucs: Record<string, string> = {}): Promise<Server> {
  await primary.stop('fast');
  fs.cpSync(primary.dataDir, path.join(base, 'standby'), { recursive: true });
  const standby = await Server.create({
    major,
    dataDir: path.join(base, 'standby'),
    gucs: { primary_conninfo: `'host=${primary.socketDir} port=${primary.port} user=postgres'`, wal_keep_size: "'1GB'", ...gucs },
  });
  fs.writeFileSync(path.join(standby.dataDir, 'standby.signal'), '');
  if (standby.owner) fs.chownSync(path.join(standby.dataDir, 'standby.signal'), standby.owner.uid, standby.owner.gid);
  await primary.start();
  await standby.start();
  return standby;
}

function tmpdir(tag: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), `pgwal-follow-${tag}-`));
  fs.chmodSync(d, 0o755);
  return d;
}

describe('decode --follow arguments', () => {
  it('refuses --follow without --dsn', async () => {
    const a = io();
    expect(await decodeCommand(['--state', '/nonexistent/x.state', '-f', '-p', '/tmp'], a)).toBe(1);
    expect(a.stderr()).toBe('pgwal decode: error: --follow needs --dsn\n');
  });
});

describe.each(MAJORS)('PostgreSQL %i', (major) => {
  it('decode --dsn -f follows the WAL until SIGINT or SIGTERM, confirming; the output equals decoding pg_wal', async () => {
    const server = await Server.create({ major, gucs: { wal_keep_size: "'1GB'" } });
    try {
      await server.start();
      const c = await server.connect();
      try {
        await c.query('create table t (id int primary key, v text)');
        const state = path.join(server.baseDir, 'slot.state');
        const created = io();
        expect(await slotCommand(['create', '--dsn', dsnOf(server), '--slot', 'pgwal_s', '--state', state], created), created.stderr()).toBe(0);
        const before = path.join(server.baseDir, 'before.state');
        fs.copyFileSync(state, before);
        await c.query(`select pg_create_physical_replication_slot('phys')`);
        await c.query(`insert into t select g, 'before ' || g from generate_series(1, 100) g`);

        const ac = new AbortController();
        const live = io(ac.signal);
        const running = decodeCommand(['--state', state, '--dsn', dsnOf(server), '--physical-slot', 'phys', '-f', '--confirm-every', '1', ...opts], live);
        for (let round = 0; round < 5; round++) {
          await c.query(`insert into t select g, 'round ${round} ' || g from generate_series(1000 * (${round} + 1), 1000 * (${round} + 1) + 499) g`);
          if (round === 2) await c.query('select pg_switch_wal()');
          // Each round's rows come out while the server writes the next: decoding does not wait for an end.
          await until(() => live.stdout().includes(`'round ${round} ${1000 * (round + 1) + 499}'`), () => live.stderr());
        }
        const end = await flushedLsn(c);
        ac.abort();
        expect(await running, live.stderr()).toBe(0);
        expect(live.stderr()).toMatch(/^pgwal decode: stopped by SIGINT after the record at [0-9A-F]+\/[0-9A-F]+\n$/);

        const files = io();
        expect(await decodeCommand(['--state', before, '-p', server.pgWalDir, ...opts, '--end', end], files), files.stderr()).toBe(0);
        expect(live.stdout()).toBe(files.stdout());
        expect(live.stdout()).toBe(await serverPeek(server, 'pgwal_s', end));

        // The state was saved: the last commit confirmed; the physical slot holds the slot's restart_lsn.
        const saved = readSlotStateFile(state);
        const lastCommit = live.stdout().trimEnd().split('\n').at(-1)!.split('\t')[0]!;
        // The lsn column of a COMMIT row is the commit's end: what was confirmed last.
        expect(saved.confirmedFlush).toBe(lastCommit);
        const slot = openSlotFile(state, { peek: true });
        const restart = formatLsn(slot.restartLsn);
        slot.release();
        await until(
          async () => (await c.query(`select restart_lsn::text as r from pg_replication_slots where slot_name = 'phys'`)).rows[0].r === restart,
          () => `the physical slot at ${restart}`,
        );

        // SIGTERM to a CLI process: the same clean end; the next run goes on after what was confirmed.
        await c.query(`insert into t values (900001, 'for the process')`);
        const child = spawn(process.execPath, [cliBundle(), 'decode', '--state', state, '--dsn', dsnOf(server), '-f', '--confirm-every', '1', ...opts], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.stderr.on('data', (d: Buffer) => (err += d.toString()));
        const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
        await until(() => out.includes("'for the process'"), () => err);
        child.kill('SIGTERM');
        expect(await exited, err).toBe(0);
        expect(err).toMatch(/^pgwal decode: stopped by SIGTERM after the record at /);
        expect(out.trimEnd().split('\n')).toHaveLength(3);
        const again = readSlotStateFile(state);
        expect(again.confirmedFlush).toBe(out.trimEnd().split('\n').at(-1)!.split('\t')[0]!);

        // The library: decodeTransactions({ stream }) from the state as it was, following until the loop breaks.
        const xids: number[] = [];
        for await (const txn of decodeTransactions({ state: readSlotStateFile(before), stream: { connectionString: dsnOf(server), follow: true } })) {
          xids.push(txn.xid);
          if (txn.changes.some((ch) => JSON.stringify(ch).includes('for the process'))) break;
        }
        const fromFiles = [...files.stdout().matchAll(/\tBEGIN (\d+)\n/g)].map((m) => Number(m[1]));
        expect(xids.slice(0, fromFiles.length)).toEqual(fromFiles);
        expect(xids).toHaveLength(fromFiles.length + 1);
      } finally {
        await c.end();
      }
    } finally {
      await server.destroy();
    }
  });

  it('from a standby that is promoted: pgwal follows onto timeline 2 without a restart, equal to the promoted server', async () => {
    const base = tmpdir('promote');
    const primary = await Server.create({ major, gucs: { wal_keep_size: "'1GB'" } });
    let standby: Server | undefined;
    try {
      await primary.start();
      await primary.query('create table t (id int primary key, v text)');
      const state = path.join(base, 'slot.state');
      const created = io();
      // The server's slot is made with pgwal's and copied with the data folder: the promoted server decodes it too.
      expect(await slotCommand(['create', '--dsn', dsnOf(primary), '--slot', 'f', '--state', state], created), created.stderr()).toBe(0);
      const before = path.join(base, 'before.state');
      fs.copyFileSync(state, before);
      await primary.query(`insert into t select g, 'W1 on the primary' from generate_series(1, 50) g`);
      standby = await standbyOf(primary, base, major, { hot_standby_feedback: 'on' });
      await standby.query(`select pg_create_physical_replication_slot('phys')`);

      const ac = new AbortController();
      const live = io(ac.signal);
      const running = decodeCommand(['--state', state, '--dsn', dsnOf(standby), '--physical-slot', 'phys', '-f', '--confirm-every', '1', ...opts], live);
      const p = await primary.connect();
      try {
        await p.query(`insert into t select g, 'W2 streamed ' || g from generate_series(100, 2100) g`);
        await p.query(`update t set v = v || ' updated' where id % 10 = 0`);
        await p.query(`insert into t values (5000, 'W2 last')`);
        await waitForReplay(standby, await flushedLsn(p));
      } finally {
        await p.end();
      }
      await until(() => live.stdout().includes("'W2 last'"), () => live.stderr());
      // The standby passes the slot's catalog_xmin on: its physical slot shows it.
      const catalogXmin = String(readSlotStateFile(state).catalogXmin);
      await until(async () => (await standby!.query<{ x: string | null }>(`select catalog_xmin::text as x from pg_replication_slots where slot_name = 'phys'`))[0]?.x === catalogXmin, () => `catalog_xmin ${catalogXmin}`);
      // hot_standby_feedback passes it on: the primary's walsender for the standby holds it as its xmin.
      await until(
        async () => (await primary.query<{ x: string | null }>(`select backend_xmin::text as x from pg_stat_replication`))[0]?.x === catalogXmin,
        () => `backend_xmin ${catalogXmin} on the primary`,
      );

      await primary.stop('fast');
      await standby.query('select pg_promote(true, 60)');
      const s = await standby.connect();
      let end: string;
      try {
        await s.query(`insert into t select g, 'W3 on timeline 2 ' || g from generate_series(10000, 11000) g`);
        await s.query('select pg_switch_wal()');
        await s.query(`delete from t where id between 100 and 200`);
        await s.query(`insert into t values (20000, 'W3 last')`);
        end = await flushedLsn(s);
      } finally {
        await s.end();
      }
      await until(() => live.stdout().includes("'W3 last'"), () => live.stderr());
      ac.abort();
      expect(await running, live.stderr()).toBe(0);
      expect(live.stderr()).toMatch(/^pgwal decode: timeline 1 ended at [0-9A-F]+\/[0-9A-F]+; following timeline 2\npgwal decode: stopped by SIGINT after /);
      expect(live.stdout()).toBe(await serverPeek(standby, 'f', end));
      // And to decoding the promoted server's files (both timelines) from the same state.
      const files = io();
      expect(await decodeCommand(['--state', before, '-p', standby.pgWalDir, ...opts, '--end', end], files), files.stderr()).toBe(0);
      expect(live.stdout()).toBe(files.stdout());
      expect(live.stdout()).toContain("'W1 on the primary'");
      expect(readSlotStateFile(state).timeline).toBe(2);
    } finally {
      await standby?.destroy();
      await primary.destroy();
      fs.rmSync(base, { recursive: true, force: true });
    }
  });

  it('from the primary through a host list: the primary dies, the promoted standby is followed; orphans are refused as from files', async () => {
    const base = tmpdir('hostlist');
    const primary = await Server.create({ major, gucs: { wal_keep_size: "'1GB'" } });
    let standby: Server | undefined;
    try {
      await primary.start();
      await primary.query('create table t (id int primary key, v text)');
      const state = path.join(base, 'slot.state');
      const created = io();
      expect(await slotCommand(['create', '--dsn', dsnOf(primary), '--slot', 'f', '--state', state], created), created.stderr()).toBe(0);
      const before = path.join(base, 'before.state');
      fs.copyFileSync(state, before);
      standby = await standbyOf(primary, base, major);
      const both = `host=${primary.socketDir},${standby.socketDir} port=${primary.port},${standby.port} user=postgres dbname=postgres target_session_attrs=primary`;

      const ac = new AbortController();
      const live = io(ac.signal);
      const running = decodeCommand(['--state', state, '--dsn', both, '-f', '--confirm-every', '1', ...opts], live);
      const p = await primary.connect();
      try {
        await p.query(`insert into t select g, 'on the primary ' || g from generate_series(1, 1500) g`);
        await p.query(`insert into t values (5000, 'primary last')`);
        await waitForReplay(standby, await flushedLsn(p));
      } finally {
        await p.end();
      }
      await until(() => live.stdout().includes("'primary last'"), () => live.stderr());
      await primary.stop('immediate');
      await standby.query('select pg_promote(true, 60)');
      const s = await standby.connect();
      let end: string;
      try {
        await s.query(`insert into t select g, 'promoted ' || g from generate_series(10000, 10500) g`);
        await s.query(`insert into t values (20000, 'promoted last')`);
        end = await flushedLsn(s);
      } finally {
        await s.end();
      }
      await until(() => live.stdout().includes("'promoted last'"), () => live.stderr());
      ac.abort();
      expect(await running, live.stderr()).toBe(0);
      expect(live.stderr()).toMatch(/connecting again in \d+ ms at /);
      expect(live.stderr()).toMatch(/timeline 1 ended at [0-9A-F]+\/[0-9A-F]+; following timeline 2\n/);
      expect(live.stdout()).toBe(await serverPeek(standby, 'f', end));
      // And to decoding the promoted server's files (both timelines) from the same state.
      const files = io();
      expect(await decodeCommand(['--state', before, '-p', standby.pgWalDir, ...opts, '--end', end], files), files.stderr()).toBe(0);
      expect(live.stdout()).toBe(files.stdout());

    } finally {
      await standby?.destroy();
      await primary.destroy();
      fs.rmSync(base, { recursive: true, force: true });
    }
  });

  it('a failover to a standby that never had what the slot consumed: the orphans are refused at once, and on the next run refused or accepted as from files', async () => {
    const base = tmpdir('orphans');
    const primary = await Server.create({ major, gucs: { wal_keep_size: "'1GB'" } });
    let standby: Server | undefined;
    try {
      await primary.start();
      await primary.query('create table t (id int primary key, v text)');
      const state = path.join(base, 'slot.state');
      const created = io();
      expect(await slotCommand(['create', '--dsn', dsnOf(primary), '--slot', 'f', '--state', state], created), created.stderr()).toBe(0);
      standby = await standbyOf(primary, base, major);
      const both = `host=${primary.socketDir},${standby.socketDir} port=${primary.port},${standby.port} user=postgres dbname=postgres target_session_attrs=primary`;
      const live = io();
      const running = decodeCommand(['--state', state, '--dsn', both, '-f', '--confirm-every', '1', ...opts], live);
      const p = await primary.connect();
      try {
        await p.query(`insert into t select g, 'replicated ' || g from generate_series(1, 500) g`);
        await waitForReplay(standby, await flushedLsn(p));
        await standby.stop('fast');
        // Committed on the primary alone: pgwal decodes and confirms it, the standby never gets it.
        await p.query(`insert into t values (7000, 'orphan')`);
        await p.query(`insert into t values (7001, 'orphan too')`);
      } finally {
        await p.end();
      }
      await until(() => live.stdout().includes("'orphan too'"), () => live.stderr());
      // The primary's WAL, for decode -p to list the orphans from.
      await primary.stop('immediate');
      const oldWal = path.join(base, 'old-primary-wal');
      fs.cpSync(primary.pgWalDir, oldWal, { recursive: true });
      await standby.start();
      await standby.query('select pg_promote(true, 60)');
      await standby.query(`insert into t values (8000, 'on timeline 2')`);
      expect(await running, live.stderr()).toBe(1);
      const confirmed = readSlotStateFile(state).confirmedFlush;

      // Decoding again over --dsn refuses too; the old timeline's WAL past the switch point is not on the server
      // any more, so it counts them without a list.
      const again = io();
      expect(await decodeCommand(['--state', state, '--dsn', dsnOf(standby), ...opts], again)).toBe(1);
      const fromFiles = io();
      expect(await decodeCommand(['--state', state, '-p', standby.pgWalDir, ...opts], fromFiles)).toBe(1);
      expect(again.stderr()).toMatch(new RegExp(`^pgwal decode: error: slot "f" confirmed ${confirmed} on timeline 1, past its switch point [0-9A-F]+/[0-9A-F]+: `));
      // With the old primary's WAL first (the standby kept its own copy of the last old segment), decode -p lists them: the xids pgwal printed.
      const listed = io();
      expect(await decodeCommand(['--state', state, '-p', oldWal, '-p', standby.pgWalDir, ...opts], listed)).toBe(1);
      const orphanXids = [...new Set(live.stdout().split('\n').filter((l) => l.includes("'orphan")).map((l) => l.split('\t')[1]))];
      expect(orphanXids).toHaveLength(2);
      for (const x of orphanXids) expect(listed.stderr()).toContain(`xid ${x} committed at`);
      // The run that read them refused at once with that same list (the commits it read past the switch point).
      expect(live.stderr().split('\n').filter((l) => l.includes(' error: '))).toEqual([listed.stderr().trimEnd()]);
      expect(again.stderr()).toBe(listed.stderr().replace(/: \d+ transaction\(s\) consumed that the new timeline never had \([^)]*\)/, ": unknown transaction(s) consumed that the new timeline never had (the old timeline's WAL past the switch point is not available to list them)"));

      // --accept-orphans: goes on from the switch point, as decoding the promoted server's files does.
      const accepted = path.join(base, 'accepted.state');
      fs.copyFileSync(state, accepted);
      const acceptedFiles = path.join(base, 'accepted-files.state');
      fs.copyFileSync(state, acceptedFiles);
      const sc = await standby.connect();
      const end = await flushedLsn(sc).finally(() => sc.end());
      const streamed = io();
      expect(await decodeCommand(['--state', accepted, '--dsn', dsnOf(standby), '--accept-orphans', ...opts, '--endpos', end], streamed), streamed.stderr()).toBe(0);
      const files = io();
      expect(await decodeCommand(['--state', acceptedFiles, '-p', standby.pgWalDir, '--accept-orphans', ...opts, '--end', end], files), files.stderr()).toBe(0);
      expect(streamed.stdout()).toBe(files.stdout());
      expect(streamed.stdout()).toContain("'on timeline 2'");
      expect(streamed.stdout()).not.toContain("'orphan");
    } finally {
      await standby?.destroy();
      await primary.destroy();
      fs.rmSync(base, { recursive: true, force: true });
    }
  });

  it('a failover to a standby that has less than pgwal read, nothing of it confirmed: decoding starts again from the slot and goes on', async () => {
    const base = tmpdir('again');
    const primary = await Server.create({ major, gucs: { wal_keep_size: "'1GB'" } });
    let standby: Server | undefined;
    try {
      await primary.start();
      await primary.query('create table t (id int primary key, v text)');
      const state = path.join(base, 'slot.state');
      const created = io();
      expect(await slotCommand(['create', '--dsn', dsnOf(primary), '--slot', 'f', '--state', state], created), created.stderr()).toBe(0);
      const before = path.join(base, 'before.state');
      fs.copyFileSync(state, before);
      standby = await standbyOf(primary, base, major);
      const both = `host=${primary.socketDir},${standby.socketDir} port=${primary.port},${standby.port} user=postgres dbname=postgres target_session_attrs=primary`;
      const ac = new AbortController();
      const live = io(ac.signal);
      const running = decodeCommand(['--state', state, '--dsn', both, '-f', '--confirm-every', '1', ...opts], live);
      const p = await primary.connect();
      p.on('error', () => undefined);
      await p.query(`insert into t select g, 'replicated ' || g from generate_series(1, 500) g`);
      await waitForReplay(standby, await flushedLsn(p));
      await until(() => live.stdout().includes("'replicated 500'"), () => live.stderr());
      await standby.stop('fast');
      // A transaction the primary never commits: pgwal reads its records past what the standby has.
      await p.query('begin');
      await p.query(`insert into t select g, 'never committed ' || g from generate_series(1000, 3000) g`);
      const [{ l: open }] = (await primary.query<{ l: string }>('select pg_current_wal_insert_lsn()::text as l')) as [{ l: string }];
      await until(
        async () => (await primary.query<{ ok: boolean }>(`select sent_lsn >= $1::pg_lsn as ok from pg_stat_replication where application_name = 'pgwal decode'`, [open]))[0]?.ok === true,
        () => `pgwal sent ${open}`,
      );
      await sleep(300);
      await primary.stop('immediate');
      await p.end().catch(() => undefined);
      await standby.start();
      await standby.query('select pg_promote(true, 60)');
      await standby.query(`insert into t values (8000, 'on timeline 2')`);
      const sc = await standby.connect();
      const end = await flushedLsn(sc).finally(() => sc.end());
      await until(() => live.stdout().includes("'on timeline 2'"), () => live.stderr());
      ac.abort();
      expect(await running, live.stderr()).toBe(0);
      expect(live.stderr()).toMatch(/pgwal decode: the server's history left timeline 1 at [0-9A-F]+\/[0-9A-F]+ \(timeline 2 follows\), but pgwal had read that timeline's WAL up to [0-9A-F]+\/[0-9A-F]+; decoding again from the slot's restart_lsn\n/);
      expect(live.stdout()).toBe(await serverPeek(standby, 'f', end));
      const files = io();
      expect(await decodeCommand(['--state', before, '-p', standby.pgWalDir, ...opts, '--end', end], files), files.stderr()).toBe(0);
      expect(live.stdout()).toBe(files.stdout());
      expect(live.stdout()).not.toContain('never committed');
    } finally {
      await standby?.destroy();
      await primary.destroy();
      fs.rmSync(base, { recursive: true, force: true });
    }
  });
});
