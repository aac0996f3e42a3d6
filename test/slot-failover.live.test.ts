// Live, every major: a failover with a slot.
//  - A primary archives; pgwal creates a slot on it; a cold copy (slot included) becomes a streaming
//    standby, which is promoted while the old primary writes on. pgwal decoding the slot's state from the
//    archive across the promotion prints exactly what the promoted server's own copy of the slot returns.
//  - The same state advanced on the old primary's WAL past the switch point has consumed orphaned
//    transactions: decoding from the archive refuses, listing exactly the commits (xid, commit LSN) that
//    pg_walinspect shows on the old primary between the switch point and confirmed_flush. --rewind and
//    --accept-orphans then go on from the switch point: what follows equals the promoted server's output.
//  - --hold-back-archive: only commits inside complete archived segments are printed and confirmed.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type pg from 'pg';
import { decodeCommand } from '../src/cli/decode.js';
import { slotCommand } from '../src/cli/slot.js';
import { readSlotStateFile } from '../src/node/slot.js';
import { parseLsn } from '../src/lsn.js';
import { MAJORS, Server } from './support/pg-server.js';
import { asText, dsnOf, flushedLsn, io, waitForReplay } from './support/slot.js';

async function archived(server: Server, name: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const [r] = await server.query<{ w: string | null }>('select last_archived_wal as w from pg_stat_archiver');
    if (r!.w !== null && r!.w >= name) return;
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error(`${name} was not archived`);
}

/** Switches to a new segment and waits until the finished one is in the archive. */
async function archiveNow(s: Server): Promise<void> {
  const [{ f }] = (await s.query<{ f: string }>('select pg_walfile_name(pg_current_wal_insert_lsn()) as f')) as [{ f: string }];
  await s.query('select pg_switch_wal()');
  await archived(s, f);
}

const lines = (t: string): string[] => t.trimEnd().split('\n').filter((l) => l !== '');

describe.each(MAJORS)('PostgreSQL %i', (major) => {
  it('decoding from the archive follows the promotion; orphaned transactions are listed exactly; hold-back', async () => {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-failover-'));
    fs.chmodSync(base, 0o755);
    const archive = path.join(base, 'archive');
    fs.mkdirSync(archive);
    const archiving = { archive_mode: 'on', archive_command: `'cp %p ${archive}/%f'` };
    const primary = await Server.create({ major, gucs: { wal_keep_size: "'1GB'", ...archiving } });
    if (primary.owner) fs.chownSync(archive, primary.owner.uid, primary.owner.gid);
    let standby: Server | undefined;
    try {
      await primary.start();
      await primary.query('create extension pg_walinspect');
      await primary.query('create table t (id int primary key, v text)');
      const fresh = path.join(base, 'fresh.state');
      const created = io();
      expect(await slotCommand(['create', '--dsn', dsnOf(primary), '--slot', 'f', '--state', fresh], created), created.stderr()).toBe(0);
      await primary.query(`insert into t select g, 'W1 on the primary' from generate_series(1, 5) g`);
      // An archive as it was now: W1's segment complete, nothing after it.
      await archiveNow(primary);
      const partial = path.join(base, 'partial-archive');
      fs.cpSync(archive, partial, { recursive: true });
      // The standby: a cold copy, the slot's files with it.
      await primary.stop('fast');
      fs.cpSync(primary.dataDir, path.join(base, 'standby'), { recursive: true });
      standby = await Server.create({
        major,
        dataDir: path.join(base, 'standby'),
        gucs: { primary_conninfo: `'host=${primary.socketDir} port=${primary.port} user=postgres'`, wal_keep_size: "'1GB'", ...archiving },
      });
      fs.writeFileSync(path.join(standby.dataDir, 'standby.signal'), '');
      if (standby.owner) fs.chownSync(path.join(standby.dataDir, 'standby.signal'), standby.owner.uid, standby.owner.gid);
      await primary.start();
      await standby.start();
      const p = await primary.connect();
      let s: pg.Client | undefined;
      try {
        await p.query(`insert into t select g, 'W2 streamed' from generate_series(6, 10) g`);
        await p.query(`insert into t values (11, 'W2 streamed, last')`);
        const sent = await flushedLsn(p);
        await waitForReplay(standby, sent);
        await standby.query('select pg_promote(true, 60)');
        s = await standby.connect();
        await s.query(`insert into t select g, 'W3 on the new primary' from generate_series(100, 104) g`);
        await s.query(`insert into t values (105, 'W3, last')`);
        const end = await flushedLsn(s);
        // The old primary does not know and commits on: timeline 1 past the switch point.
        await p.query(`insert into t values (200, 'W4 lost')`);
        await p.query('begin');
        await p.query(`insert into t values (201, 'W4 lost too')`);
        await p.query(`update t set v = 'W4 lost, updated' where id = 1`);
        await p.query('commit');
        await p.query(`insert into t values (202, 'W4 lost, last')`);
        const oldEnd = await flushedLsn(p);
        const history = fs.readFileSync(path.join(standby.pgWalDir, '00000002.history'), 'utf8');
        const switchPoint = /^1\t(\S+)\t/m.exec(history)![1]!;
        await archiveNow(standby);
        await archiveNow(primary);

        // The promoted server's own decoding of the cold-copied slot.
        const theirs = (
          await s.query({ text: `select lsn, xid, data from pg_logical_slot_peek_changes('f', $1, null, 'skip-empty-xacts', '1')`, values: [end], rowMode: 'array', types: asText })
        ).rows.map((r) => r.join('\t'));
        expect(theirs.join('\n')).toContain('W2 streamed, last');
        expect(theirs.join('\n')).toContain('W3, last');
        expect(theirs.join('\n')).not.toContain('W4');

        // 1. From the archive alone, across the promotion.
        const acrossState = path.join(base, 'across.state');
        fs.copyFileSync(fresh, acrossState);
        const across = io();
        expect(await decodeCommand(['--state', acrossState, '-p', archive, '--with-lsn', '-o', 'skip-empty-xacts=1', '--end', end], across), across.stderr()).toBe(0);
        expect(lines(across.stdout())).toEqual(theirs);

        // 2. A slot that consumed the old primary's WAL past the switch point.
        const orphaned = path.join(base, 'orphaned.state');
        fs.copyFileSync(fresh, orphaned);
        const onOld = io();
        expect(await decodeCommand(['--state', orphaned, '-p', primary.pgWalDir, '-o', 'skip-empty-xacts=1', '--end', oldEnd, '--advance'], onOld), onOld.stderr()).toBe(0);
        expect(onOld.stdout()).toContain('W4 lost, last');
        const consumed = readSlotStateFile(orphaned).confirmedFlush;
        expect(parseLsn(consumed)).toBeGreaterThan(parseLsn(switchPoint));
        // The old primary's own record of its commits past the switch point, up to what the slot confirmed.
        const commits = (
          await p.query({
            text: `select xid::text, start_lsn::text from pg_get_wal_records_info($1, $2) where resource_manager = 'Transaction' and record_type = 'COMMIT' and end_lsn <= $2 order by start_lsn`,
            values: [switchPoint, consumed],
            types: asText,
          })
        ).rows.map((r) => `xid ${r.xid} committed at ${r.start_lsn}`);
        expect(commits.length).toBe(3); // W4: three transactions
        const refused = io();
        expect(await decodeCommand(['--state', orphaned, '-p', archive, '-o', 'skip-empty-xacts=1', '--end', end], refused)).toBe(1);
        expect(refused.stdout()).toBe('');
        const listed = /transaction\(s\) consumed that the new timeline never had \((.*)\); rewind/.exec(refused.stderr());
        expect(listed, refused.stderr()).not.toBe(null);
        expect(listed![1]!.split(', ')).toEqual(commits);
        expect(refused.stderr()).toContain(`past its switch point ${switchPoint}`);
        expect(readSlotStateFile(orphaned).confirmedFlush).toBe(consumed); // refused: nothing moved
        // The same through a restore_command: the old timeline's segments fetched from the archive.
        const viaRestore = io();
        expect(await decodeCommand(['--state', orphaned, '--restore-command', `cp ${archive}/%f %p`, '--wal-segsize', '1', '--end', end], viaRestore)).toBe(1);
        expect(/consumed that the new timeline never had \((.*)\); rewind/.exec(viaRestore.stderr())?.[1]?.split(', '), viaRestore.stderr()).toEqual(commits);

        // 3. Told how: both go on from the switch point on timeline 2 — what the promoted server has after it.
        const afterSwitch = theirs.filter((_, i) => {
          // whole transactions whose COMMIT lies past the switch point
          const commitAt = theirs.slice(i).find((l) => l.split('\t')[2]!.startsWith('COMMIT'))!;
          return parseLsn(commitAt.split('\t')[0]!) > parseLsn(switchPoint);
        });
        expect(afterSwitch.join('\n')).toContain('W3, last');
        for (const flag of ['--rewind', '--accept-orphans']) {
          const st = path.join(base, `told${flag}.state`);
          fs.copyFileSync(orphaned, st);
          const told = io();
          expect(await decodeCommand(['--state', st, '-p', archive, '--with-lsn', '-o', 'skip-empty-xacts=1', '--end', end, flag, '--advance'], told), told.stderr()).toBe(0);
          expect(lines(told.stdout())).toEqual(afterSwitch);
          expect(told.stderr()).toContain(commits[0]!);
          expect(readSlotStateFile(st).timeline).toBe(2);
        }

        // 4. Hold-back: only what complete archived segments hold is printed (and confirmed).
        const segSize = 1024 * 1024;
        const covered = Math.max(0, ...fs.readdirSync(partial).map((n) => (parseInt(n.slice(8, 16), 16) * 4096 + parseInt(n.slice(16), 16) + 1) * segSize));
        const heldState = path.join(base, 'held.state');
        fs.copyFileSync(fresh, heldState);
        const held = io();
        expect(await decodeCommand(['--state', heldState, '-p', archive, '--with-lsn', '-o', 'skip-empty-xacts=1', '--end', end, '--hold-back-archive', partial, '--advance'], held), held.stderr()).toBe(0);
        const expectHeld = theirs.filter((_, i) => {
          const commitAt = theirs.slice(i).find((l) => l.split('\t')[2]!.startsWith('COMMIT'))!;
          return parseLsn(commitAt.split('\t')[0]!) <= covered;
        });
        expect(lines(held.stdout())).toEqual(expectHeld);
        expect(expectHeld.length).toBeLessThan(theirs.length);
        expect(expectHeld.join('\n')).toContain('W1 on the primary');
        expect(expectHeld.join('\n')).not.toContain('W2');
        expect(held.stderr()).toMatch(/held back: the archive .* covers only/);
        expect(parseLsn(readSlotStateFile(heldState).confirmedFlush)).toBeLessThanOrEqual(covered);
      } finally {
        await s?.end();
        await p.end();
      }
    } finally {
      await standby?.destroy();
      await primary.destroy();
      fs.rmSync(base, { recursive: true, force: true });
    }
  });
});
