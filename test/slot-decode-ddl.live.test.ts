// Live, every major, through the CLI: decoding across DDL with the historic catalog the state file carries.
// (1) `pgwal slot create --dsn` (exported snapshot, raw catalog pages), DDL and DML, `pgwal decode --advance` in
// two steps with a transaction doing DDL open across the step: the two outputs together equal the slot's.
// (2) `pgwal slot create --datadir` on a cold copy of a stopped server's data directory (no server), then the
// server restarted on the original writes DDL and DML: the output equals a server slot created at that point.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type pg from 'pg';
import { decodeCommand } from '../src/cli/decode.js';
import { slotCommand } from '../src/cli/slot.js';
import type { DumpIo } from '../src/cli/dump.js';
import { MAJORS, withServer, type Server } from './support/pg-server.js';
import { FIXED_DDL_SCRIPT } from './support/ddl-workload.js';

const asText = { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig;

function io(): DumpIo & { stdout: () => string; stderr: () => string } {
  let out = '';
  let err = '';
  return { out: (t) => (out += t), err: (t) => (err += t), errIsTty: false, env: {}, cwd: process.cwd(), sleep: async () => undefined, stdout: () => out, stderr: () => err };
}

async function endLsn(c: pg.Client): Promise<string> {
  const end = (await c.query('select pg_current_wal_insert_lsn()::text as l')).rows[0].l as string;
  // The WAL writer leaves a partly filled page unflushed while a transaction stays open: a commit after `end`
  // (an xid of its own, so a commit record, flushed at once) puts everything up to `end` on disk. Decoding must
  // reach `end`: stopping short of it is an error.
  await c.query('select txid_current()');
  for (let i = 0; i < 400 && (await c.query('select pg_current_wal_flush_lsn() >= $1::pg_lsn as ok', [end])).rows[0].ok !== true; i++) await new Promise((r) => setTimeout(r, 25));
  return end;
}

async function peek(c: pg.Client, slot: string, end: string): Promise<string[]> {
  return (
    await c.query({ text: `select lsn, xid, data from pg_logical_slot_peek_changes($1, $2, null, 'include-xids', '1', 'skip-empty-xacts', '1')`, values: [slot, end], rowMode: 'array', types: asText })
  ).rows.map((r) => r.join('\t'));
}

async function decode(state: string, server: Server, end: string, advance: boolean): Promise<string[]> {
  const run = io();
  const args = ['--state', state, '-p', server.pgWalDir, '-o', 'include-xids=1', '-o', 'skip-empty-xacts=1', '--end', end, '--with-lsn', ...(advance ? ['--advance'] : [])];
  expect(await decodeCommand(args, run), run.stderr()).toBe(0);
  return run.stdout() === '' ? [] : run.stdout().trimEnd().split('\n');
}

const dsnOf = (server: Server): string => `postgresql://postgres@localhost/postgres?host=${encodeURIComponent(server.socketDir)}&port=${server.port}`;

describe.each(MAJORS)('PostgreSQL %i', (major) => {
  it('slot create, DDL and DML, decode --advance in two steps: equal to the slot, DDL open across the step included', async () => {
    await withServer({ major, gucs: { wal_keep_size: "'1GB'", max_prepared_transactions: 4 } }, async (server) => {
      const state = path.join(server.baseDir, 'slot.state');
      const c = await server.connect();
      const open = await server.connect();
      try {
        await c.query('create table pre (id int primary key, v text)');
        const created = io();
        expect(await slotCommand(['create', '--dsn', dsnOf(server), '--slot', 'pgwal_s', '--state', state], created), created.stderr()).toBe(0);
        const half = Math.floor(FIXED_DDL_SCRIPT.length / 2);
        for (const sql of FIXED_DDL_SCRIPT.slice(0, half)) await c.query(sql);
        // A transaction that changes a table and writes rows, open across the --advance step.
        await open.query('begin');
        await open.query('alter table pre add column late int');
        await open.query(`insert into pre values (1, 'open across the step', 1)`);
        const mid = await endLsn(c);
        const first = await decode(state, server, mid, true);
        await open.query(`insert into pre values (2, 'still open', 2)`);
        await open.query('commit');
        for (const sql of FIXED_DDL_SCRIPT.slice(half)) await c.query(sql);
        const end = await endLsn(c);
        const second = await decode(state, server, end, true);
        const theirs = await peek(c, 'pgwal_s', end);
        expect([...first, ...second]).toEqual(theirs);
        expect(theirs.length).toBeGreaterThan(60);
        expect(first.length).toBeGreaterThan(10);
      } finally {
        await open.end();
        await c.end();
      }
    });
  });

  it('slot create --datadir on a cold copy (no server), then DDL and DML: equal to a slot created at that point', async () => {
    await withServer({ major, gucs: { wal_keep_size: "'1GB'", max_prepared_transactions: 4 } }, async (server) => {
      const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-datadir-'));
      const state = path.join(server.baseDir, 'datadir.state');
      let c = await server.connect();
      try {
        await c.query('create table pre (id int primary key, v text)');
        await c.query(`insert into pre values (1, 'before the copy')`);
        await c.end();
        await server.stop();
        fs.cpSync(server.dataDir, copy, { recursive: true });
        await server.start();
        c = await server.connect();
        await c.query(`select pg_create_logical_replication_slot('s', 'test_decoding')`);
        const created = io();
        expect(await slotCommand(['create', '--datadir', copy, '--dbname', 'postgres', '--slot', 'cold', '--state', state], created), created.stderr()).toBe(0);
        await c.query(`insert into pre values (2, 'after the copy')`);
        for (const sql of FIXED_DDL_SCRIPT) await c.query(sql);
        const end = await endLsn(c);
        const ours = await decode(state, server, end, false);
        const theirs = await peek(c, 's', end);
        expect(ours).toEqual(theirs);
        expect(theirs.length).toBeGreaterThan(60);
      } finally {
        await c.end().catch(() => undefined);
        fs.rmSync(copy, { recursive: true, force: true });
      }
    });
  });

  it('refuses a data directory that was not shut down cleanly', async () => {
    await withServer({ major }, async (server) => {
      const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-datadir-'));
      try {
        // A copy of a running server's data directory is not a clean one; a copy after a clean stop is.
        const running = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-datadir-running-'));
        fs.cpSync(server.dataDir, running, { recursive: true });
        const r = io();
        expect(await slotCommand(['create', '--datadir', running, '--dbname', 'postgres', '--slot', 'x', '--state', path.join(running, 'x.state')], r)).toBe(1);
        expect(r.stderr()).toMatch(/was not shut down cleanly/);
        fs.rmSync(running, { recursive: true, force: true });
        await server.stop();
        fs.cpSync(server.dataDir, copy, { recursive: true });
        const ok = io();
        expect(await slotCommand(['create', '--datadir', copy, '--dbname', 'nosuchdb', '--slot', 'x', '--state', path.join(copy, 'x.state')], ok)).toBe(1);
        expect(ok.stderr()).toMatch(/database "nosuchdb" does not exist/);
      } finally {
        fs.rmSync(copy, { recursive: true, force: true });
      }
    });
  });
});
