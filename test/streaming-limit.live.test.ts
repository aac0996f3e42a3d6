// Live, 15–18: streaming at a memory limit. At logical_decoding_work_mem = 64kB (the least the server takes) the
// server streams the largest transaction each time its changes pass the limit, counted as ReorderBufferChangeSize
// counts them; `pgwal decode --memory-limit 64kB` must count and choose the same, or its Stream Start/Stop fall at
// other changes. Large transactions interleaved, with savepoints, TOAST values and a catalog change in one of them
// (whose commit hands a new snapshot and its invalidations to the others), through test_decoding's stream-changes
// and pgoutput's streaming=on, byte for byte; probes that place a message at the limit to the byte by pgwal's count,
// which the server must cross at the same change; and a tie between two transactions of one size.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type pg from 'pg';
import { withServer, type Server } from './support/pg-server.js';
import { dsnOf, runCli } from './support/cli.js';
import { parseLsn } from '../src/index.js';
import { loadCatalog } from '../src/node/catalog.js';
import { openWal } from '../src/node/wal.js';
import { TestDecodingDecoder } from '../src/reorderbuffer/logical.js';
import { profileForMajor } from '../src/xlogreader/profile.js';

const asText = { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig;

async function workload(server: Server): Promise<void> {
  const [a, b, c] = [await server.connect(), await server.connect(), await server.connect()];
  const rows = (from: number, n: number, width: number): string =>
    `select g, repeat(md5(g::text), ${width}) from generate_series(${from}, ${from + n - 1}) g`;
  try {
    await a.query('begin');
    await b.query('begin');
    await c.query('begin');
    await a.query(`insert into t ${rows(1, 150, 3)}`);
    await b.query(`insert into t ${rows(1000, 40, 1)}`);
    await b.query('savepoint s1');
    await b.query(`insert into t ${rows(2000, 200, 2)}`);
    await c.query(`insert into u values (1, 'x')`);
    // A TOAST value: its chunks are a partial change until the row that uses them.
    await a.query(`insert into t values (-1, (select string_agg(md5(g::text), '') from generate_series(1, 400) g))`);
    await b.query('release savepoint s1');
    await c.query('alter table u add column extra int');
    await c.query(`insert into u select g, md5(g::text), g from generate_series(2, 300) g`);
    await a.query('savepoint s2');
    await a.query(`update t set pad = pad || 'x' where id between 1 and 120`);
    await b.query(`insert into t ${rows(3000, 100, 4)}`);
    await c.query('commit');
    await a.query(`select pg_logical_emit_message(true, 'big', repeat('m', 3000))`);
    await a.query(`insert into t ${rows(4000, 200, 1)}`);
    await b.query(`delete from t where id between 1000 and 1030`);
    await b.query('commit');
    await a.query(`insert into t values (-2, (select string_agg(md5((g * 7)::text), '') from generate_series(1, 300) g))`);
    await a.query('commit');
    await a.query(`insert into t ${rows(5000, 600, 1)}`);
  } finally {
    await a.end();
    await b.end();
    await c.end();
  }
}

const LIMIT = 64 * 1024;

/**
 * One transaction, alone: another session's DDL commit hands it a catalog snapshot and that commit's invalidations,
 * then it writes rows, then a transactional message sized by pgwal's count (`counted`, read after a commit of a
 * third table flushed the WAL) to bring the count to LIMIT + offset, then one more row. The server streams at the
 * message only if its own count reaches the limit there: offsets -1 and 0 on successive probes hold the two counts
 * equal to the byte, each probe with one more committed catalog change in the snapshot.
 */
async function probes(server: Server, offsets: readonly number[], counted: (end: string) => Promise<number>): Promise<void> {
  const [a, b] = [await server.connect(), await server.connect()];
  const pad = 200;
  try {
    await a.query('begin');
    // A base snapshot first: only transactions with one are handed the next catalog snapshot.
    await a.query(`insert into w values (0, repeat('w', ${pad}))`);
    for (const [i, offset] of offsets.entries()) {
      // The DDL's own changes are gone at its commit, before the rows: what it handed out stays.
      await b.query(`create table ddl${i} (x int)`);
      await a.query(`insert into w select g, repeat('w', ${pad}) from generate_series(1, 170) g`);
      await b.query('insert into z values (1)');
      const used = await counted((await b.query('select pg_current_wal_flush_lsn()::text as l')).rows[0].l as string);
      // ReorderBufferChangeSize of a message: the change, the prefix with its NUL, the content and two Size fields.
      const content = LIMIT + offset - used - (80 + 'p'.length + 1 + 16);
      expect(content).toBeGreaterThan(0);
      await a.query(`select pg_logical_emit_message(true, 'p', repeat('m', ${content}))`);
      await a.query(`insert into w values (0, repeat('w', ${pad}))`);
    }
    await a.query('commit');
  } finally {
    await a.end();
    await b.end();
  }
}

describe.each([15, 16, 17, 18] as const)('PostgreSQL %i', (major) => {
  it('of two transactions of the same size, the one with the earlier base snapshot is streamed', async () => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-stream-limit-'));
    try {
      await withServer({ major, gucs: { wal_keep_size: "'1GB'", logical_decoding_work_mem: "'64kB'" } }, async (server) => {
        const c = await server.connect();
        const [a, b] = [await server.connect(), await server.connect()];
        try {
          await c.query('create table w (id int, pad text)');
          await c.query('create table z (x int)');
          const state = path.join(work, 'td.state');
          expect((await runCli(['slot', 'create', '--dsn', dsnOf(server), '--slot', 'td', '--state', state])).code).toBe(0);
          await a.query('begin');
          await b.query('begin');
          // A's transaction is known first (its lock is logged) but B's first change gives B the earlier base snapshot.
          await a.query('lock table z in access exclusive mode');
          // Rows of one size, B then A: after each of A's rows the two are equal, and 196 rows pass 64kB after A's.
          for (let i = 0; i < 300; i++) {
            await b.query(`insert into w values (${i}, repeat('b', 200))`);
            await a.query(`insert into w values (${i}, repeat('a', 200))`);
          }
          await b.query('commit');
          await a.query('commit');
          const end = (await c.query('select pg_current_wal_insert_lsn()::text as l')).rows[0].l as string;
          const opts = ['stream-changes', '1', 'include-xids', '1', 'skip-empty-xacts', '1'];
          const theirs = (
            await c.query({
              text: `select lsn, xid, data from pg_logical_slot_peek_changes('td', $1, null${opts.map((_, i) => `, $${i + 2}`).join('')})`,
              values: [end, ...opts],
              rowMode: 'array',
              types: asText,
            })
          ).rows.map((r) => r.join('\t'));
          const args = ['decode', '--state', state, '-p', server.pgWalDir, '--end', end, '--memory-limit', '64kB', '--with-lsn'];
          for (let i = 0; i < opts.length; i += 2) args.push('-o', `${opts[i]}=${opts[i + 1]}`);
          const ours = await runCli(args);
          expect(ours.stderr).toBe('');
          expect(ours.stdout.replace(/\n$/, '').split('\n')).toEqual(theirs);
        } finally {
          await a.end();
          await b.end();
          await c.end();
        }
      });
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });

  it('a block ends at the change the server counts to the limit, to the byte (tuples, messages, snapshots, invalidations)', async () => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-stream-limit-'));
    try {
      await withServer({ major, gucs: { wal_keep_size: "'1GB'", logical_decoding_work_mem: "'64kB'" } }, async (server) => {
        const c = await server.connect();
        try {
          await c.query('create table w (id int, pad text)');
          await c.query('create table z (x int)');
          const state = path.join(work, 'td.state');
          expect((await runCli(['slot', 'create', '--dsn', dsnOf(server), '--slot', 'td', '--state', state])).code).toBe(0);
          const catalog = await loadCatalog(c);
          const databaseOid = Number((await c.query('select oid from pg_database where datname = current_database()')).rows[0].oid);
          const slot = (await c.query(`select restart_lsn::text, confirmed_flush_lsn::text from pg_replication_slots where slot_name = 'td'`)).rows[0];
          // pgwal's count (rb->size) at `end`, decoding from the slot's start as the server does.
          const counted = async (end: string): Promise<number> => {
            const decoder = new TestDecodingDecoder({ databaseOid, ...catalog }, profileForMajor(major)!.major, { streamChanges: true }, parseLsn(slot.confirmed_flush_lsn), { memoryLimit: LIMIT });
            for await (const rec of openWal({ path: server.pgWalDir }).records({ start: parseLsn(slot.restart_lsn), end: parseLsn(end) })) decoder.process(rec);
            return decoder.memoryUsed;
          };
          await probes(server, [-1, 0, -1, 0], counted);
          const end = (await c.query('select pg_current_wal_insert_lsn()::text as l')).rows[0].l as string;
          const opts = ['stream-changes', '1', 'include-xids', '0', 'skip-empty-xacts', '1'];
          const theirs = (
            await c.query({
              text: `select lsn, xid, data from pg_logical_slot_peek_changes('td', $1, null${opts.map((_, i) => `, $${i + 2}`).join('')})`,
              values: [end, ...opts],
              rowMode: 'array',
              types: asText,
            })
          ).rows.map((r) => r.join('\t'));
          // The probes at -1 stream at the row after the message, those at 0 at the message.
          const closes = theirs.flatMap((r, i) => (/closing a streamed block/.test(r) ? [theirs[i - 1]!] : []));
          expect(closes.slice(0, 4).map((r) => /streaming message/.test(r))).toEqual([false, true, false, true]);
          const args = ['decode', '--state', state, '-p', server.pgWalDir, '--end', end, '--memory-limit', '64kB', '--with-lsn'];
          for (let i = 0; i < opts.length; i += 2) args.push('-o', `${opts[i]}=${opts[i + 1]}`);
          const ours = await runCli(args);
          expect(ours.stderr).toBe('');
          expect(ours.stdout.replace(/\n$/, '').split('\n')).toEqual(theirs);
        } finally {
          await c.end();
        }
      });
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });

  it('streamed blocks at logical_decoding_work_mem = 64kB equal the server, test_decoding and pgoutput', async () => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-stream-limit-'));
    try {
      await withServer({ major, gucs: { wal_keep_size: "'1GB'", logical_decoding_work_mem: "'64kB'" } }, async (server) => {
        const c = await server.connect();
        try {
          await c.query('create table t (id int, pad text)');
          await c.query('alter table t replica identity full');
          await c.query('alter table t alter column pad set storage external');
          await c.query('create table u (id int primary key, note text)');
          await c.query('create publication p for all tables');
          const td = path.join(work, 'td.state');
          const po = path.join(work, 'po.state');
          expect((await runCli(['slot', 'create', '--dsn', dsnOf(server), '--slot', 'td', '--state', td])).code).toBe(0);
          expect((await runCli(['slot', 'create', '--dsn', dsnOf(server), '--slot', 'po', '--plugin', 'pgoutput', '--state', po])).code).toBe(0);
          await workload(server);
          const end = (await c.query('select pg_current_wal_insert_lsn()::text as l')).rows[0].l as string;
          await c.query('checkpoint');
          const cases: { slot: string; state: string; fn: string; opts: [string, string][] }[] = [
            { slot: 'td', state: td, fn: 'pg_logical_slot_peek_changes', opts: [['stream-changes', '1'], ['include-xids', '1'], ['skip-empty-xacts', '0']] },
            { slot: 'po', state: po, fn: 'pg_logical_slot_peek_binary_changes', opts: [['proto_version', '2'], ['publication_names', 'p'], ['streaming', 'on'], ['messages', 'on']] },
          ];
          for (const k of cases) {
            const args = k.opts.flat();
            const theirs = (
              await c.query({
                text: `select lsn, xid, data from ${k.fn}($1, $2, null${args.map((_, i) => `, $${i + 3}`).join('')})`,
                values: [k.slot, end, ...args],
                rowMode: 'array',
                types: asText,
              })
            ).rows.map((r) => r.join('\t'));
            const ours = await runCli(['decode', '--state', k.state, '-p', server.pgWalDir, '--end', end, '--memory-limit', '64kB', '--with-lsn', ...k.opts.flatMap(([n, v]) => ['-o', `${n}=${v}`])]);
            expect(ours.stderr).toBe('');
            // Several streamed blocks, and not everything streamed: the limit decides.
            const starts = theirs.filter((r) => (k.slot === 'td' ? /\topening a streamed block/.test(r) : /\t\\x53/.test(r))).length;
            expect(starts, k.slot).toBeGreaterThan(3);
            expect(ours.stdout.replace(/\n$/, '').split('\n'), `${major} ${k.slot}`).toEqual(theirs);
          }
        } finally {
          await c.end();
        }
      });
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
});
