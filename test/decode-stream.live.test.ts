// Live: `pgwal decode --dsn` decodes from the server's physical replication stream exactly what decoding the
// same WAL from pg_wal prints, and what the server's own slot (made at the same point) returns. With
// --physical-slot, the server's physical slot ends at the pgwal slot's restart_lsn and catalog_xmin.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type pg from 'pg';
import { decodeCommand } from '../src/cli/decode.js';
import { slotCommand } from '../src/cli/slot.js';
import type { DumpIo } from '../src/cli/dump.js';
import { openSlotFile } from '../src/node/slot.js';
import { formatLsn } from '../src/lsn.js';
import { MAJORS, withServer } from './support/pg-server.js';

const asText = { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig;

function io(): DumpIo & { stdout: () => string; stderr: () => string } {
  let out = '';
  let err = '';
  return { out: (t) => (out += t), err: (t) => (err += t), errIsTty: false, env: {}, cwd: process.cwd(), sleep: async () => undefined, stdout: () => out, stderr: () => err };
}

describe('decode --dsn arguments', () => {
  it('refuses --dsn with -p, and --physical-slot without --dsn', async () => {
    const a = io();
    expect(await decodeCommand(['--state', '/nonexistent/x.state', '--dsn', 'host=/tmp', '-p', '/tmp'], a)).toBe(1);
    expect(a.stderr()).toBe("pgwal decode: error: --dsn and --path cannot be used together: the WAL comes from the server's stream\n");
    const b = io();
    expect(await decodeCommand(['--state', '/nonexistent/x.state', '--physical-slot', 'phys', '-p', '/tmp'], b)).toBe(1);
    expect(b.stderr()).toBe('pgwal decode: error: --physical-slot needs --dsn\n');
  });
});

describe.each(MAJORS)('PostgreSQL %i', (major) => {
  it('decode --dsn --endpos equals decode -p pg_wal --end and the server slot; --physical-slot holds restart_lsn and catalog_xmin; walsenders killed mid-stream lose nothing', async () => {
    await withServer({ major, gucs: { wal_keep_size: "'1GB'" } }, async (server) => {
      const state = path.join(server.baseDir, 'slot.state');
      const c = await server.connect();
      try {
        await c.query('create table acct (id int primary key, owner text, balance numeric(12,2), note text)');
        const dsn = `postgresql://postgres@localhost/postgres?host=${encodeURIComponent(server.socketDir)}&port=${server.port}`;
        const created = io();
        expect(await slotCommand(['create', '--dsn', dsn, '--slot', 'pgwal_s', '--state', state], created), created.stderr()).toBe(0);
        await c.query(`select pg_create_physical_replication_slot('phys')`);
        // A workload crossing pages and a segment: rows, a large value, updates, a savepoint rolled back, a message.
        await c.query(`insert into acct select g, 'owner ' || g, g * 1.5, repeat('x', 300) from generate_series(1, 3000) g`);
        await c.query(`update acct set balance = balance - 10 where id % 7 = 0`);
        await c.query('begin');
        await c.query(`delete from acct where id > 2990`);
        await c.query('savepoint s');
        await c.query(`insert into acct values (100000, 'rolled back', 0, null)`);
        await c.query('rollback to savepoint s');
        await c.query('commit');
        await c.query(`select pg_switch_wal()`);
        await c.query(`insert into acct values (100001, 'next segment', 1, repeat('y', 5000))`);
        await c.query(`select pg_logical_emit_message(true, 'audit', 'done')`);
        const end = (await c.query('select pg_current_wal_insert_lsn()::text as l')).rows[0].l as string;
        // A commit after the end flushes the WAL up to it.
        await c.query(`insert into acct values (100002, 'after the end', 2, null)`);
        for (let i = 0; i < 200 && (await c.query('select pg_current_wal_flush_lsn() >= $1::pg_lsn as ok', [end])).rows[0].ok !== true; i++) await new Promise((r) => setTimeout(r, 25));

        const opts = ['-o', 'include-xids=1', '-o', 'skip-empty-xacts=1', '--with-lsn'];
        const theirs = (
          await c.query({ text: `select lsn, xid, data from pg_logical_slot_peek_changes('pgwal_s', $1, null, 'include-xids', '1', 'skip-empty-xacts', '1')`, values: [end], rowMode: 'array', types: asText })
        ).rows.map((r) => r.join('\t'));
        expect(theirs.length).toBeGreaterThan(3000);

        const files = io();
        expect(await decodeCommand(['--state', state, '-p', server.pgWalDir, ...opts, '--end', end], files), files.stderr()).toBe(0);
        expect(files.stdout().trimEnd().split('\n')).toEqual(theirs);

        const streamed = io();
        expect(await decodeCommand(['--state', state, '--dsn', dsn, ...opts, '--endpos', end], streamed), streamed.stderr()).toBe(0);
        expect(streamed.stdout()).toBe(files.stdout());

        const viaSlot = io();
        expect(await decodeCommand(['--state', state, '--dsn', dsn, '--physical-slot', 'phys', ...opts, '--end', end], viaSlot), viaSlot.stderr()).toBe(0);
        expect(viaSlot.stdout()).toBe(files.stdout());

        const slot = openSlotFile(state, { peek: true });
        const want = { restart: formatLsn(slot.restartLsn), catalogXmin: String(slot.catalogXmin) };
        slot.release();
        let got: { restart_lsn: string | null; catalog_xmin: string | null } | undefined;
        for (let i = 0; i < 200; i++) {
          got = (await c.query(`select restart_lsn::text, catalog_xmin::text from pg_replication_slots where slot_name = 'phys'`)).rows[0];
          if (got?.restart_lsn === want.restart && got?.catalog_xmin === want.catalogXmin) break;
          await new Promise((r) => setTimeout(r, 25));
        }
        expect(got).toEqual({ restart_lsn: want.restart, catalog_xmin: want.catalogXmin });
        // The server's own logical slot was made at the same point: the same catalog_xmin.
        const logical = (await c.query(`select catalog_xmin::text from pg_replication_slots where slot_name = 'pgwal_s'`)).rows[0].catalog_xmin as string;
        expect(logical).toBe(want.catalogXmin);

        // A server that does not have the physical slot: one line naming it.
        const missing = io();
        expect(await decodeCommand(['--state', state, '--dsn', dsn, '--physical-slot', 'nope', '--end', end], missing)).toBe(1);
        expect(missing.stderr()).toMatch(/^pgwal decode: error: physical replication slot "nope" does not exist on the server\n$/);

        // Without --endpos: up to the server's flush position at connect, as decoding pg_wal to its end.
        const allFiles = io();
        expect(await decodeCommand(['--state', state, '-p', server.pgWalDir, ...opts], allFiles), allFiles.stderr()).toBe(0);
        const allStream = io();
        expect(await decodeCommand(['--state', state, '--dsn', dsn, ...opts], allStream), allStream.stderr()).toBe(0);
        expect(allStream.stdout()).toBe(allFiles.stdout());
        expect(allStream.stdout()).toContain('after the end');

        // --advance: the physical slot ends at the restart_lsn and catalog_xmin the slot moved to.
        const adv = io();
        expect(await decodeCommand(['--state', state, '--dsn', dsn, '--physical-slot', 'phys', ...opts, '--endpos', end, '--advance'], adv), adv.stderr()).toBe(0);
        expect(adv.stdout()).toBe(files.stdout());
        const moved = openSlotFile(state, { peek: true });
        const want2 = { restart: formatLsn(moved.restartLsn), catalogXmin: String(moved.catalogXmin) };
        moved.release();
        expect(want2.restart).not.toBe(want.restart);
        let got2: { restart_lsn: string | null; catalog_xmin: string | null } | undefined;
        for (let i = 0; i < 200; i++) {
          got2 = (await c.query(`select restart_lsn::text, catalog_xmin::text from pg_replication_slots where slot_name = 'phys'`)).rows[0];
          if (got2?.restart_lsn === want2.restart && got2?.catalog_xmin === want2.catalogXmin) break;
          await new Promise((r) => setTimeout(r, 25));
        }
        expect(got2).toEqual({ restart_lsn: want2.restart, catalog_xmin: want2.catalogXmin });

        // Walsenders terminated while pgwal waits for --endpos: it connects again where it stopped, nothing lost
        // or twice (the same output as from files).
        const from = (await c.query(`select (pg_current_wal_insert_lsn() + 1500000)::text as l`)).rows[0].l as string;
        const live = io();
        const running = decodeCommand(['--state', state, '--dsn', dsn, ...opts, '--endpos', from], live);
        let kills = 0;
        const killed: number[] = [];
        // A walsender can be gone before it is terminated (pg_terminate_backend is then false): rounds go on until
        // four were killed.
        for (let round = 0; kills < 4 && round < 12; round++) {
          // The walsender of the connection made after the last kill, once streaming: killing the connection that
          // StreamWal.open makes first (IDENTIFY_SYSTEM, SHOW) ends the run, a failed start as pg_recvlogical's.
          let pid: number | undefined;
          for (let i = 0; i < 400 && pid === undefined; i++) {
            pid = (await c.query(`select pid from pg_stat_replication where application_name = 'pgwal decode' and state in ('catchup', 'streaming') and not pid = any($1::int[])`, [killed])).rows[0]?.pid as number | undefined;
            if (pid === undefined) await new Promise((r) => setTimeout(r, 25));
          }
          killed.push(pid!);
          expect(pid, live.stderr()).toBeDefined();
          await c.query(`insert into acct select g, 'round ${round} ' || g, g, repeat('z', 200) from generate_series(200000 + ${round} * 1000, 200000 + ${round} * 1000 + 999) g`);
          if ((await c.query('select pg_terminate_backend($1) as ok', [pid])).rows[0].ok === true) kills++;
        }
        for (let n = 300000; (await c.query('select pg_current_wal_insert_lsn() > $1::pg_lsn as past', [from])).rows[0].past !== true; n += 1000) {
          await c.query(`insert into acct select g, 'filler', g, repeat('f', 200) from generate_series($1::int, $1::int + 999) g`, [n]);
        }
        await c.query(`insert into acct values (100003, 'after the second end', 2, null)`);
        expect(await running, live.stderr()).toBe(0);
        expect(kills).toBe(4);
        expect(live.stderr()).toMatch(/connecting again in \d+ ms at /);
        const liveFiles = io();
        expect(await decodeCommand(['--state', state, '-p', server.pgWalDir, ...opts, '--end', from], liveFiles), liveFiles.stderr()).toBe(0);
        expect(live.stdout()).toBe(liveFiles.stdout());
        expect(live.stdout()).toContain("'round 3 203999'");
      } finally {
        await c.end();
      }
    });
  });
});
