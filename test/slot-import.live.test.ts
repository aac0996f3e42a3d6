// Live, every major: `pgwal slot export` then `pgwal slot import` on another node's WAL. Accepted on the same
// WAL (and decoding from the imported state equals the server slot's output); refused for another database
// system, for a position past the fork point of this node's timeline history (naming the fork point from the
// server's own history file), for a catalog_xmin that this WAL made unsafe (naming the record), and for a
// confirmed_flush this WAL has not reached — unless --wait, which follows the WAL until it gets there.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type pg from 'pg';
import { decodeCommand } from '../src/cli/decode.js';
import { slotCommand } from '../src/cli/slot.js';
import { readSlotStateFile } from '../src/node/slot.js';
import { MAJORS, promoteInPlace, Server, withServer } from './support/pg-server.js';
import { asText, dsnOf, flushedLsn, io } from './support/slot.js';

async function removeCatalogRows(c: pg.Client): Promise<void> {
  const before = Number((await c.query('select pg_snapshot_xmin(pg_current_snapshot())::text as x')).rows[0].x);
  await c.query('create table conflict_test (x int)');
  await c.query('drop table conflict_test');
  for (let i = 0; i < 400 && Number((await c.query('select pg_snapshot_xmin(pg_current_snapshot())::text as x')).rows[0].x) <= before; i++) await new Promise((r) => setTimeout(r, 25));
  await c.query('vacuum pg_class');
}

const copyWal = (from: string, to: string): void => {
  fs.mkdirSync(to, { recursive: true });
  for (const n of fs.readdirSync(from)) if (/^[0-9A-F]{24}$|\.history$/.test(n)) fs.copyFileSync(path.join(from, n), path.join(to, n));
};

describe.each(MAJORS)('PostgreSQL %i', (major) => {
  it('slot export / import: accepted on the same system and history, refused otherwise', async () => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-import-'));
    fs.chmodSync(work, 0o755);
    const a = await Server.create({ major, gucs: { wal_keep_size: "'1GB'" } });
    let fork: Server | undefined;
    try {
      await a.start();
      await a.query('create table t (id int primary key, v text)');
      // A cold copy of A now: later promoted on its own, it forks A's history here.
      await a.stop('fast');
      fs.cpSync(a.dataDir, path.join(work, 'fork'), { recursive: true });
      await a.start();
      const c = await a.connect();
      try {
        const stateA = path.join(work, 'a.state');
        const created = io();
        expect(await slotCommand(['create', '--dsn', dsnOf(a), '--slot', 's', '--state', stateA], created), created.stderr()).toBe(0);
        await flushedLsn(c);
        const early = path.join(work, 'early-wal');
        copyWal(a.pgWalDir, early);
        await c.query(`insert into t select g, 'first ' || g from generate_series(1, 20) g`);
        const mid = await flushedLsn(c);
        await c.query(`insert into t select g, 'second ' || g from generate_series(21, 40) g`);
        const end = await flushedLsn(c);
        // Consume the first batch, so confirmed_flush lies past the fork point and past the early copy.
        const createdAt = readSlotStateFile(stateA).confirmedFlush;
        const consumed = io();
        expect(await decodeCommand(['--state', stateA, '-p', a.pgWalDir, '--end', mid, '--advance'], consumed), consumed.stderr()).toBe(0);
        expect(consumed.stdout()).toContain('first 20');
        expect(readSlotStateFile(stateA).confirmedFlush).not.toBe(createdAt);
        const blob = path.join(work, 'a.slot');
        const exported = io();
        expect(await slotCommand(['export', '--state', stateA, '--out', blob, '-p', a.pgWalDir], exported), exported.stderr()).toBe(0);
        const confirmed = readSlotStateFile(stateA).confirmedFlush;

        // Accepted on the same WAL; decoding from the import equals the server slot's output after confirmed_flush.
        const stateB = path.join(work, 'b.state');
        const ok = io();
        expect(await slotCommand(['import', '--from', blob, '--state', stateB, '-p', a.pgWalDir], ok), ok.stderr()).toBe(0);
        await c.query(`select pg_replication_slot_advance('s', $1)`, [confirmed]);
        const theirs = (await c.query({ text: `select data from pg_logical_slot_peek_changes('s', $1, null)`, values: [end], rowMode: 'array', types: asText })).rows.map((r) => r[0]);
        const ours = io();
        expect(await decodeCommand(['--state', stateB, '-p', a.pgWalDir, '--end', end], ours), ours.stderr()).toBe(0);
        expect(ours.stdout().trimEnd().split('\n')).toEqual(theirs);
        expect(theirs.join('\n')).toContain('second 21');

        // Another database system.
        await withServer({ major }, async (other) => {
          const sysid = (await other.query<{ s: string }>('select system_identifier::text as s from pg_control_system()'))[0]!.s;
          const r = io();
          expect(await slotCommand(['import', '--from', blob, '--state', path.join(work, 'x.state'), '-p', other.pgWalDir], r)).toBe(1);
          expect(r.stderr()).toContain(`this WAL is from database system ${sysid}`);
          const fromServer = io();
          expect(await slotCommand(['import', '--dsn', dsnOf(a), '--slot', 's', '--state', path.join(work, 'y.state'), '-p', other.pgWalDir], fromServer)).toBe(1);
          expect(fromServer.stderr()).toContain(`this WAL is from database system ${sysid}`);
        });

        // A node whose history left timeline 1 before the slot's confirmed_flush.
        fork = await Server.create({ major, dataDir: path.join(work, 'fork') });
        await promoteInPlace(fork);
        await fork.query(`insert into t values (999, 'on the fork')`);
        await fork.query('checkpoint');
        const history = fs.readFileSync(path.join(fork.pgWalDir, '00000002.history'), 'utf8');
        const forkPoint = /^1\t(\S+)\t/m.exec(history)![1]!;
        const diverged = io();
        expect(await slotCommand(['import', '--from', blob, '--state', path.join(work, 'z.state'), '-p', fork.pgWalDir], diverged)).toBe(1);
        expect(diverged.stderr()).toMatch(/is not on this node's history/);
        expect(diverged.stderr()).toContain(`the histories diverge at ${forkPoint} (the fork point)`);

        // WAL that has not reached confirmed_flush yet: refused, or waited for.
        const future = io();
        expect(await slotCommand(['import', '--from', blob, '--state', path.join(work, 'f.state'), '-p', early], future), future.stdout()).toBe(1);
        expect(future.stderr()).toContain(`its confirmed_flush ${confirmed} is past the end of this node's WAL`);
        const waiting = slotCommand(['import', '--from', blob, '--state', path.join(work, 'w.state'), '-p', early, '--wait', '30'], io());
        await new Promise((r) => setTimeout(r, 500));
        copyWal(a.pgWalDir, early); // the WAL arrives
        expect(await waiting).toBe(0);

        // catalog_xmin made unsafe by this WAL: the server slot no longer holds vacuum back.
        await c.query(`select pg_drop_replication_slot('s')`);
        await removeCatalogRows(c);
        await flushedLsn(c);
        const unsafe = io();
        expect(await slotCommand(['import', '--from', blob, '--state', path.join(work, 'u.state'), '-p', a.pgWalDir], unsafe)).toBe(1);
        expect(unsafe.stderr()).toMatch(/its catalog_xmin \d+ precedes or equals the snapshot conflict horizon \d+ of Heap2\/PRUNE\S* at [0-9A-F]+\/[0-9A-F]+ on relation \d+\/\d+\/\d+/);
        expect(fs.existsSync(path.join(work, 'u.state'))).toBe(false);
      } finally {
        await c.end();
      }
    } finally {
      await fork?.destroy();
      await a.destroy();
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
});
