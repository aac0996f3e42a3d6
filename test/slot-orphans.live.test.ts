// Live, every major: the changes of orphaned transactions.
//  A primary archives; a server-side test_decoding slot ("truth") is made on it before any workload, then a
//  pgwal slot. A cold copy becomes a streaming standby and is promoted while a transaction (X) is open on the
//  primary; the old primary goes on: A begins, X commits, a long transaction L begins, A commits, then B (with
//  a subtransaction), C and D begin after L and commit, and E creates a table and fills it. pgwal's slot
//  consumes the old primary's WAL past the switch point (--advance; L still open, so restart_lsn stops at L's
//  first change).
//  - With its kept restart points (the default --orphan-window), `pgwal slot orphans` starts before the switch
//    point and prints every orphan: the truth slot's rows (lsn, xid, data) of exactly those transactions.
//  - With --orphan-window 0 it starts at restart_lsn: the orphans whose BEGIN (first record, the truth slot's
//    BEGIN row LSN) precedes it — X and A — are reported as "changes unavailable", the others printed whole.
//  - `decode --orphans FILE --rewind` writes the same rows, then rewinds to the kept restart point; decoding
//    the new timeline then equals the promoted server's copy of the truth slot after the switch point.
//  The same in wal2json's format on Debian's PostgreSQL 15 (a wal2json truth slot, a wal2json pgwal slot).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type pg from 'pg';
import { decodeCommand } from '../src/cli/decode.js';
import { slotCommand } from '../src/cli/slot.js';
import { readSlotStateFile } from '../src/node/slot.js';
import { parseLsn } from '../src/lsn.js';
import { debianAvailable, MAJORS, Server, type Flavor, type Major } from './support/pg-server.js';
import { asText, dsnOf, flushedLsn, io, waitForReplay } from './support/slot.js';

async function archiveNow(s: Server): Promise<void> {
  const [{ f }] = (await s.query<{ f: string }>('select pg_walfile_name(pg_current_wal_insert_lsn()) as f')) as [{ f: string }];
  await s.query('select pg_switch_wal()');
  for (let i = 0; i < 400; i++) {
    const [r] = await s.query<{ w: string | null }>('select last_archived_wal as w from pg_stat_archiver');
    if (r!.w !== null && r!.w >= f) return;
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error(`${f} was not archived`);
}

const lines = (t: string): string[] => t.trimEnd().split('\n').filter((l) => l !== '');

interface Txn {
  xid: number;
  begin: number;
  commit: number;
  rows: string[];
}

const isBegin = (data: string): boolean => data.startsWith('BEGIN') || data.startsWith('{"action":"B"');
const isCommit = (data: string): boolean => data.startsWith('COMMIT') || data.startsWith('{"action":"C"');

/** The truth slot's rows (lsn, xid, data) grouped into transactions (test_decoding's BEGIN … COMMIT, wal2json's B … C). */
function transactions(rows: string[][]): Txn[] {
  const out: Txn[] = [];
  let cur: Txn | undefined;
  for (const [lsn, xid, data] of rows) {
    const line = `${lsn}\t${xid}\t${data}`;
    if (isBegin(data!)) cur = { xid: Number(xid), begin: parseLsn(lsn!), commit: 0, rows: [] };
    cur!.rows.push(line);
    if (isCommit(data!)) {
      cur!.commit = parseLsn(lsn!);
      out.push(cur!);
      cur = undefined;
    }
  }
  return out;
}

interface Report {
  switchPoint: string;
  confirmedFlush: string;
  start: { lsn: string };
  transactions: { xid: number; firstLsn: string | null; printed: boolean; unavailable?: { code: string; reason: string } }[];
}

/** The peek options of the truth slot: test_decoding with xids, wal2json's format-version 2. */
const peekOptions = (plugin: Plugin): string => (plugin === 'wal2json' ? `'format-version', '2'` : `'include-xids', '1'`);
type Plugin = 'test_decoding' | 'wal2json';

describe.each(MAJORS)('PostgreSQL %i', (major) => {
  it('orphans: their changes as the old primary decoded them; those begun before the start point reported, not printed', async () => {
    await orphanScenario(major, 'npm', 'test_decoding');
  });
});

describe("wal2json 2.5 on Debian's PostgreSQL 15", () => {
  it('orphans in the slot\'s plugin format: wal2json rows equal to the old primary\'s own wal2json slot', async () => {
    // Not skipped when missing: a comparison that did not run must not pass.
    expect(debianAvailable(15), "Debian's PostgreSQL 15 is missing: apt-get install -y postgresql-15").toBe(true);
    expect(fs.existsSync('/usr/lib/postgresql/15/lib/wal2json.so'), 'apt-get install -y postgresql-15-wal2json').toBe(true);
    await orphanScenario(15, 'debian', 'wal2json');
  });
});

async function orphanScenario(major: Major, flavor: Flavor, plugin: Plugin): Promise<void> {
  {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-orphans-'));
    fs.chmodSync(base, 0o755);
    const archive = path.join(base, 'archive');
    fs.mkdirSync(archive);
    const gucs = { wal_keep_size: "'1GB'", archive_mode: 'on', archive_command: `'cp %p ${archive}/%f'`, autovacuum: 'off' };
    const primary = await Server.create({ major, flavor, gucs });
    if (primary.owner) fs.chownSync(archive, primary.owner.uid, primary.owner.gid);
    let standby: Server | undefined;
    try {
      await primary.start();
      await primary.query('create table t (id int primary key, v text)');
      await primary.query(`select pg_create_logical_replication_slot('truth', '${plugin}')`);
      const fresh = path.join(base, 'fresh.state');
      const created = io();
      expect(await slotCommand(['create', '--dsn', dsnOf(primary), '--slot', 'f', '--plugin', plugin, '--state', fresh], created), created.stderr()).toBe(0);
      await primary.query(`insert into t select g, 'before the copy' from generate_series(1, 5) g`);
      await primary.stop('fast');
      fs.cpSync(primary.dataDir, path.join(base, 'standby'), { recursive: true });
      standby = await Server.create({
        major,
        flavor,
        dataDir: path.join(base, 'standby'),
        gucs: { ...gucs, primary_conninfo: `'host=${primary.socketDir} port=${primary.port} user=postgres'` },
      });
      fs.writeFileSync(path.join(standby.dataDir, 'standby.signal'), '');
      if (standby.owner) fs.chownSync(path.join(standby.dataDir, 'standby.signal'), standby.owner.uid, standby.owner.gid);
      await primary.start();
      await standby.start();
      const p = await primary.connect();
      const x = await primary.connect();
      const a = await primary.connect();
      const l = await primary.connect();
      let s: pg.Client | undefined;
      try {
        await p.query(`insert into t values (10, 'streamed')`);
        // X begins before the promotion and commits after it, on the old primary only.
        await x.query('begin');
        await x.query(`insert into t values (20, 'X before the promotion')`);
        await p.query(`insert into t values (11, 'streamed, last')`); // its commit flushes X's insert too
        const sent = await flushedLsn(p);
        await waitForReplay(standby, sent);
        await standby.query('select pg_promote(true, 60)');
        s = await standby.connect();
        await s.query(`insert into t values (100, 'on the new primary')`);
        const newEnd = await flushedLsn(s);

        // The old primary goes on.
        await a.query('begin');
        await a.query(`insert into t values (30, 'A first')`);
        // A new segment and a running_xacts record (the checkpoint's): A's and X's first records lie in earlier
        // segments than the start point, so finding them takes more than the start point's own segment.
        await p.query('select pg_switch_wal()');
        await p.query('checkpoint');
        await x.query(`insert into t values (21, 'X after the promotion')`);
        await x.query('commit');
        await l.query('begin');
        await l.query(`insert into t values (40, 'L, long')`);
        await a.query(`update t set v = 'A second' where id = 30`);
        await a.query('commit');
        await p.query('begin');
        await p.query(`insert into t values (50, 'B')`);
        await p.query('savepoint b1');
        await p.query(`insert into t values (51, 'B in a subtransaction')`);
        await p.query('release savepoint b1');
        await p.query(`update t set v = 'B updated' where id = 50`);
        await p.query('commit');
        await p.query(`insert into t select g, 'C' from generate_series(60, 62) g`);
        await p.query(`delete from t where id = 61`);
        // DDL on the old timeline only: the table is decoded with the historic catalog from the start point.
        await p.query('begin');
        await p.query('create table u (id int primary key, w numeric)');
        await p.query(`insert into u values (1, 6.5)`);
        await p.query('commit');
        const oldEnd = await flushedLsn(p);
        const switchPoint = /^1\t(\S+)\t/m.exec(fs.readFileSync(path.join(standby.pgWalDir, '00000002.history'), 'utf8'))![1]!;

        // pgwal's slot consumes the old primary's WAL past the switch point; L is still open.
        const orphaned = path.join(base, 'orphaned.state');
        fs.copyFileSync(fresh, orphaned);
        const onOld = io();
        expect(await decodeCommand(['--state', orphaned, '-p', primary.pgWalDir, '--end', oldEnd, '--advance'], onOld), onOld.stderr()).toBe(0);
        const consumed = readSlotStateFile(orphaned);
        expect(parseLsn(consumed.confirmedFlush)).toBeGreaterThan(parseLsn(switchPoint));
        const noWindow = path.join(base, 'nowindow.state');
        fs.copyFileSync(fresh, noWindow);
        const onOld0 = io();
        expect(await decodeCommand(['--state', noWindow, '-p', primary.pgWalDir, '--end', oldEnd, '--advance', '--orphan-window', '0'], onOld0), onOld0.stderr()).toBe(0);
        expect(onOld0.stdout()).toBe(onOld.stdout());
        const consumed0 = readSlotStateFile(noWindow);
        expect(consumed0.keptRestarts).toBeUndefined();
        expect(consumed0.confirmedFlush).toBe(consumed.confirmedFlush);
        // Confirming every commit, once with the window and once asking the failover candidate (the promoted
        // standby, which has the WAL up to the switch point) instead: only points it may need are kept.
        const everyWindow = path.join(base, 'every-window.state');
        const everyCandidate = path.join(base, 'every-candidate.state');
        for (const [st, extra] of [
          [everyWindow, []],
          [everyCandidate, ['--failover-standby', dsnOf(standby)]],
        ] as const) {
          fs.copyFileSync(fresh, st);
          const r = io();
          expect(await decodeCommand(['--state', st, '-p', primary.pgWalDir, '--end', oldEnd, '--confirm-every', '1', ...extra], r), r.stderr()).toBe(0);
          expect(r.stdout()).toBe(onOld.stdout());
        }
        const keptByWindow = readSlotStateFile(everyWindow).keptRestarts!;
        const keptByCandidate = readSlotStateFile(everyCandidate).keptRestarts!;
        const standbyHas = parseLsn((await standby.query<{ l: string }>('select pg_last_wal_receive_lsn()::text as l'))[0]!.l);
        expect(keptByWindow.filter((k) => parseLsn(k.confirmedFlush) <= parseLsn(switchPoint)).length).toBeGreaterThan(1);
        expect(parseLsn(keptByCandidate[0]!.confirmedFlush)).toBeLessThanOrEqual(standbyHas);
        expect(keptByCandidate.slice(1).every((k) => parseLsn(k.confirmedFlush) > standbyHas)).toBe(true);
        expect(keptByCandidate.length).toBeLessThan(keptByWindow.length);

        await l.query('commit');
        await archiveNow(standby);
        await archiveNow(primary);

        // The truth: the old primary's own decoding; the orphans are its transactions committed in (switch point,
        // confirmed_flush]. Without skip-empty-xacts, a BEGIN row's LSN is the transaction's first record (first_lsn);
        // with it, test_decoding writes BEGIN at the first change instead (E's first records are catalog changes).
        const truthRows = (
          await p.query({ text: `select lsn, xid, data from pg_logical_slot_peek_changes('truth', null, null, ${peekOptions(plugin)})`, rowMode: 'array', types: asText })
        ).rows as string[][];
        const orphans = transactions(truthRows).filter((t) => t.commit > parseLsn(switchPoint) && t.commit <= parseLsn(consumed.confirmedFlush));
        expect(orphans.map((t) => t.rows.join('\n')).join('\n')).toContain('X before the promotion');
        expect(orphans.length).toBe(6); // X, A, B, C's insert, C's delete, E (DDL)
        expect(orphans.map((t) => t.rows.join('\n')).join('\n')).toContain(plugin === 'wal2json' ? '"table":"u","columns":[{"name":"id","type":"integer","value":1},{"name":"w","type":"numeric","value":6.5}]' : 'table public.u: INSERT: id[integer]:1 w[numeric]:6.5');

        const run = async (state: string): Promise<{ code: number; out: string[]; report: Report }> => {
          const r = io();
          const code = await slotCommand(['orphans', '--state', state, '-p', archive, '--with-lsn', '--json'], r);
          expect(code, r.stderr()).not.toBe(1);
          return { code, out: lines(r.stdout()), report: JSON.parse(r.stderr()) as Report };
        };
        const check = (r: { code: number; out: string[]; report: Report }, start: string): void => {
          expect(r.report.switchPoint).toBe(switchPoint);
          expect(r.report.start.lsn).toBe(start);
            expect(r.report.transactions.map((t) => t.xid)).toEqual(orphans.map((t) => t.xid));
          const before = orphans.filter((t) => t.begin < parseLsn(start));
          const whole = orphans.filter((t) => t.begin >= parseLsn(start));
          expect(r.report.transactions.filter((t) => !t.printed).map((t) => t.xid)).toEqual(before.map((t) => t.xid));
          for (const t of r.report.transactions.filter((t) => !t.printed)) expect(t.unavailable!.code).toBe('began-before-start');
          expect(r.out).toEqual(whole.flatMap((t) => t.rows));
          expect(r.code).toBe(before.length > 0 ? 2 : 0);
          // First records located, printed or not: the BEGIN rows' LSNs (running_xacts records before each orphan
          // began are in the WAL searched, so every first record is proven).
          for (const t of r.report.transactions) {
            const truth = orphans.find((o) => o.xid === t.xid)!;
            expect(t.firstLsn === null ? null : parseLsn(t.firstLsn)).toBe(truth.begin);
            if (!t.printed) expect(t.unavailable!.reason).toContain(`began at ${truth.rows[0]!.split('\t')[0]}, before the start point`);
          }
        };

        // 1. Kept restart points reach back before the switch point: every orphan is printed.
        expect(consumed.keptRestarts?.length).toBeGreaterThan(0);
        const keptStart = consumed.keptRestarts!.filter((k) => parseLsn(k.confirmedFlush) <= parseLsn(switchPoint)).at(-1)!.restartLsn;
        const all = await run(orphaned);
        check(all, keptStart);
        expect(all.out.join('\n')).toContain('X before the promotion');
        expect(all.code).toBe(0);
        // The candidate's points are enough: every orphan, from the one point at or before what it had.
        check(await run(everyCandidate), keptByCandidate[0]!.restartLsn);

        // 2. No kept points: from restart_lsn (L's first change); X and A began before it.
        expect(parseLsn(consumed0.restartLsn)).toBeGreaterThan(parseLsn(switchPoint));
        const some = await run(noWindow);
        check(some, consumed0.restartLsn);
        const unavailable = some.report.transactions.filter((t) => !t.printed).map((t) => t.xid);
        expect(unavailable.length).toBe(2);
        expect(some.out.join('\n')).not.toContain('A first');
        expect(some.out.join('\n')).toContain('B in a subtransaction');
        // The same through a restore_command (the old timeline's segments fetched from the archive), text report.
        const viaRestore = io();
        expect(await slotCommand(['orphans', '--state', noWindow, '--restore-command', `cp ${archive}/%f %p`, '--wal-segsize', '1', '--with-lsn'], viaRestore)).toBe(2);
        expect(lines(viaRestore.stdout())).toEqual(some.out);
        for (const xid of unavailable) expect(viaRestore.stderr()).toMatch(new RegExp(`xid ${xid} committed at \\S+, began at \\S+: changes unavailable \\(began-before-start\\)`));
        expect(viaRestore.stderr()).toContain(`4 printed, 2 not`);

        // 3. decode --orphans FILE --rewind: the rows first, then back to the kept restart point.
        const rewound = path.join(base, 'rewound.state');
        fs.copyFileSync(orphaned, rewound);
        const rows = path.join(base, 'orphans.txt');
        const told = io();
        expect(await decodeCommand(['--state', rewound, '-p', archive, '--with-lsn', '--end', newEnd, '--orphans', rows, '--rewind', '--advance'], told), told.stderr()).toBe(0);
        expect(lines(fs.readFileSync(rows, 'utf8'))).toEqual(orphans.flatMap((t) => t.rows));
        // The promoted server's copy of the truth slot, after the switch point.
        const theirs = transactions(
          (await s.query({ text: `select lsn, xid, data from pg_logical_slot_peek_changes('truth', $1, null, ${peekOptions(plugin)})`, values: [newEnd], rowMode: 'array', types: asText })).rows as string[][],
        ).filter((t) => t.commit > parseLsn(switchPoint));
        expect(theirs.flatMap((t) => t.rows).join('\n')).toContain('on the new primary');
        expect(lines(told.stdout())).toEqual(theirs.flatMap((t) => t.rows));
        expect(readSlotStateFile(rewound).timeline).toBe(2);
      } finally {
        await s?.end();
        for (const c of [p, x, a, l]) await c.end().catch(() => undefined);
      }
    } finally {
      await standby?.destroy();
      await primary.destroy();
      fs.rmSync(base, { recursive: true, force: true });
    }
  }
}
