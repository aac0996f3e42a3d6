// Live, every major: `pgwal slot create` on a server, a workload, then `pgwal decode` from the server's WAL
// files prints exactly what pg_logical_slot_peek_changes returns for that slot. A damaged state file is refused.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type pg from 'pg';
import { decodeCommand } from '../src/cli/decode.js';
import { slotCommand } from '../src/cli/slot.js';
import type { DumpIo } from '../src/cli/dump.js';
import { MAJORS, withServer } from './support/pg-server.js';

const asText = { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig;

function io(): DumpIo & { stdout: () => string; stderr: () => string } {
  let out = '';
  let err = '';
  return { out: (t) => (out += t), err: (t) => (err += t), errIsTty: false, env: {}, cwd: process.cwd(), sleep: async () => undefined, stdout: () => out, stderr: () => err };
}

describe.each(MAJORS)('PostgreSQL %i', (major) => {
  it('slot create, then decode from WAL files alone, equals the slot\'s own output', async () => {
    await withServer({ major, gucs: { wal_keep_size: "'1GB'" } }, async (server) => {
      const state = path.join(server.baseDir, 'slot.state');
      const c = await server.connect();
      try {
        await c.query('create table acct (id int primary key, owner text, balance numeric(12,2), opened date)');
        const dsn = `postgresql://postgres@localhost/postgres?host=${encodeURIComponent(server.socketDir)}&port=${server.port}`;
        const created = io();
        expect(await slotCommand(['create', '--dsn', dsn, '--slot', 'pgwal_s', '--state', state], created), created.stderr()).toBe(0);
        expect(created.stdout()).toMatch(/^slot "pgwal_s" created: restart_lsn \S+, confirmed_flush_lsn \S+, catalog_xmin \d+\n$/);
        await c.query(`insert into acct select g, 'owner ' || g, g * 1.5, date '2020-01-01' + g from generate_series(1, 50) g`);
        await c.query(`update acct set balance = balance - 10 where id % 4 = 0`);
        await c.query('begin');
        await c.query(`delete from acct where id > 45`);
        await c.query('savepoint s');
        await c.query(`insert into acct values (100, 'rolled back', 0, null)`);
        await c.query('rollback to savepoint s');
        await c.query('commit');
        await c.query(`select pg_logical_emit_message(true, 'audit', 'done')`);
        const end = (await c.query('select pg_current_wal_insert_lsn()::text as l')).rows[0].l as string;
        for (let i = 0; i < 200 && (await c.query('select pg_current_wal_flush_lsn() >= $1::pg_lsn as ok', [end])).rows[0].ok !== true; i++) await new Promise((r) => setTimeout(r, 25));
        for (const xids of ['1', '0']) {
          const theirs = (
            await c.query({ text: `select lsn, xid, data from pg_logical_slot_peek_changes('pgwal_s', $1, null, 'include-xids', $2, 'skip-empty-xacts', '1')`, values: [end, xids], rowMode: 'array', types: asText })
          ).rows.map((r) => r.join('\t'));
          const run = io();
          const code = await decodeCommand(['--state', state, '-p', server.pgWalDir, '-o', `include-xids=${xids}`, '-o', 'skip-empty-xacts=1', '--end', end, '--with-lsn'], run);
          expect(code, run.stderr()).toBe(0);
          expect(run.stdout().trimEnd().split('\n')).toEqual(theirs);
          expect(theirs.length).toBeGreaterThan(60);
        }
      } finally {
        await c.end();
      }
      // Consuming in two steps with --advance, a transaction open across the step included, prints each
      // transaction exactly once: the concatenation equals the slot's output over the whole range.
      const c2 = await server.connect();
      const open = await server.connect();
      try {
        const before = fs.readFileSync(state);
        await open.query('begin');
        await open.query(`insert into acct values (200, 'open across the step', 1, null)`);
        const mid = (await c2.query('select pg_current_wal_insert_lsn()::text as l')).rows[0].l as string;
        await c2.query(`insert into acct values (201, 'committed before the step ends', 2, null)`);
        const step1End = (await c2.query('select pg_current_wal_insert_lsn()::text as l')).rows[0].l as string;
        const first = io();
        expect(await decodeCommand(['--state', state, '-p', server.pgWalDir, '-o', 'skip-empty-xacts=1', '--end', step1End, '--advance'], first), first.stderr()).toBe(0);
        expect(fs.readFileSync(state).equals(before)).toBe(false);
        await open.query('commit');
        await c2.query(`insert into acct values (202, 'after the step', 3, null)`);
        const end2 = (await c2.query('select pg_current_wal_insert_lsn()::text as l')).rows[0].l as string;
        for (let i = 0; i < 200 && (await c2.query('select pg_current_wal_flush_lsn() >= $1::pg_lsn as ok', [end2])).rows[0].ok !== true; i++) await new Promise((r) => setTimeout(r, 25));
        const second = io();
        expect(await decodeCommand(['--state', state, '-p', server.pgWalDir, '-o', 'skip-empty-xacts=1', '--end', end2, '--advance'], second), second.stderr()).toBe(0);
        const whole = (
          await c2.query({ text: `select data from pg_logical_slot_peek_changes('pgwal_s', $1, null, 'skip-empty-xacts', '1')`, values: [end2], rowMode: 'array', types: asText })
        ).rows.map((r) => r[0]);
        const ours = (first.stdout() + second.stdout()).trimEnd().split('\n');
        expect(ours).toEqual(whole);
        expect(second.stdout()).toContain('open across the step');
        void mid;
      } finally {
        await open.end();
        await c2.end();
      }

      // A torn state file is an error naming it, not a fresh start.
      const bytes = fs.readFileSync(state);
      fs.writeFileSync(state, bytes.subarray(0, bytes.length - 40));
      const torn = io();
      expect(await decodeCommand(['--state', state, '-p', server.pgWalDir], torn)).toBe(1);
      expect(torn.stderr()).toMatch(/slot state file ".*slot\.state" is invalid/);
      const edited = io();
      fs.writeFileSync(state, bytes.toString().replace('"databaseOid":5', '"databaseOid":6'));
      expect(await decodeCommand(['--state', state, '-p', server.pgWalDir], edited)).toBe(1);
      expect(edited.stderr()).toMatch(/checksum mismatch/);
    });
  });
});
