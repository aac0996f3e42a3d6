// Live, 16–18: test_decoding's stream-changes output. With debug_logical_replication_streaming = immediate the
// server streams every change as soon as it can; `pgwal decode --memory-limit 0 -o stream-changes=1` does the
// same, and prints the same rows: streamed blocks, TOAST and speculative insertions held back until whole,
// savepoints committed, interleaved sessions, transactional messages, two-phase with a streamed prepare.
// (15 has no immediate mode; its block boundaries depend on the server's byte accounting.)
// No transaction here aborts: a server decoding after the fact notices some aborts through its catalog cache
// or clog (concurrent-abort handling) and cuts their streams short, which no WAL record shows.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type pg from 'pg';
import { withServer, type Server } from './support/pg-server.js';
import { dsnOf, runCli } from './support/cli.js';

const asText = { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig;

async function workload(server: Server, c: pg.Client): Promise<void> {
  const q = (s: string): Promise<unknown> => c.query(s);
  await q(`insert into f values (1, 'one'), (2, 'two')`);
  await q('begin');
  await q(`insert into f values (3, 'three')`);
  await q('savepoint a');
  await q(`insert into f values (4, 'in a savepoint')`);
  await q('release savepoint a');
  await q(`update f set note = 'updated' where id = 1`);
  await q(`select pg_logical_emit_message(true, 'tx', 'inside')`);
  await q(`select pg_logical_emit_message(false, 'nontx', 'outside')`);
  await q('commit');
  // TOAST chunks are a partial change: the block waits for the row that uses them.
  await q(`insert into big values (1, (select string_agg(md5(g::text), '') from generate_series(1, 300) g))`);
  await q(`insert into f values (5, 'upsert') on conflict (id) do update set note = 'conflict'`);
  await q(`insert into f values (5, 'upsert') on conflict (id) do update set note = 'conflict'`);
  const [a, b] = [await server.connect(), await server.connect()];
  try {
    await a.query('begin');
    await b.query('begin');
    await a.query(`insert into f values (10, 'a')`);
    await b.query(`insert into f values (11, 'b')`);
    await a.query(`insert into f values (12, 'a again')`);
    await b.query('commit');
    await a.query('commit');
    await a.query('begin');
    await a.query(`insert into f values (20, 'prepared')`);
    await a.query(`prepare transaction 'gs'`);
    await q(`commit prepared 'gs'`);
  } finally {
    await a.end();
    await b.end();
  }
  await q(`copy f from program 'printf "30,c1\\n31,c2\\n32,c3\\n"' with (format csv)`);
  await q('delete from f where id > 30');
}

describe.each([16, 17, 18] as const)('PostgreSQL %i', (major) => {
  it('stream-changes with every change streamed equals the server in immediate mode', async () => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-stream-'));
    try {
      await withServer({ major, gucs: { wal_keep_size: "'1GB'", debug_logical_replication_streaming: 'immediate' } }, async (server) => {
        const c = await server.connect();
        try {
          await c.query('create table f (id int primary key, note text)');
          await c.query('create table big (id int primary key, payload text)');
          const state = path.join(work, 'slot.state');
          const state2pc = path.join(work, 'slot2pc.state');
          expect((await runCli(['slot', 'create', '--dsn', dsnOf(server), '--slot', 's', '--state', state])).code).toBe(0);
          expect((await runCli(['slot', 'create', '--dsn', dsnOf(server), '--slot', 's2', '--state', state2pc, '--two-phase'])).code).toBe(0);
          await workload(server, c);
          const end = (await c.query('select pg_current_wal_insert_lsn()::text as l')).rows[0].l as string;
          await c.query('checkpoint');
          for (const [slot, file] of [['s', state], ['s2', state2pc]] as const) {
            for (const opts of [['include-xids', '1', 'skip-empty-xacts', '0'], ['include-xids', '0', 'skip-empty-xacts', '1']]) {
              const all = ['stream-changes', '1', ...opts];
              const theirs = (
                await c.query({
                  text: `select lsn, xid, data from pg_logical_slot_peek_changes($1, $2, null${all.map((_, i) => `, $${i + 3}`).join('')})`,
                  values: [slot, end, ...all],
                  rowMode: 'array',
                  types: asText,
                })
              ).rows.map((r) => `${r.join('\t')}\n`);
              const args = ['decode', '--state', file, '-p', server.pgWalDir, '--end', end, '--memory-limit', '0', '--with-lsn'];
              for (let i = 0; i < all.length; i += 2) args.push('-o', `${all[i]}=${all[i + 1]}`);
              const ours = await runCli(args);
              expect(ours.stderr).toBe('');
              expect(theirs.join('')).toMatch(/streaming change/);
              expect(ours.stdout.split('\n'), `${slot} ${all.join(' ')}`).toEqual(theirs.join('').split('\n'));
            }
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
