// Live: `pgwal decode --dsn --endpos` while a seeded random workload runs and the walsender is terminated 20
// times at random moments (pg_terminate_backend): the output equals what the server's own slot, made at the
// same point, returns from pg_logical_slot_peek_changes — nothing lost, nothing twice.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type pg from 'pg';
import { decodeCommand } from '../src/cli/decode.js';
import { slotCommand } from '../src/cli/slot.js';
import type { DumpIo } from '../src/cli/dump.js';
import { MAJORS, withServer } from './support/pg-server.js';
import { rng } from './support/random-rows.js';

const asText = { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig;
const KILLS = 20;

function io(): DumpIo & { stdout: () => string; stderr: () => string } {
  let out = '';
  let err = '';
  return { out: (t) => (out += t), err: (t) => (err += t), errIsTty: false, env: {}, cwd: process.cwd(), sleep: async () => undefined, stdout: () => out, stderr: () => err };
}

/** One random step of the workload: SQL statements run in order (a transaction where they begin with begin). */
function step(r: () => number, n: number): string[] {
  const int = (lo: number, hi: number): number => Math.floor(lo + r() * (hi - lo + 1));
  const id = 1_000_000 + n * 1000;
  switch (int(0, 6)) {
    case 0:
      return [`insert into acct select g, 'owner ' || g, g * 0.5, repeat(chr(97 + g % 26), ${int(0, 400)}) from generate_series(${id}, ${id + int(1, 400)}) g`];
    case 1:
      return [`update acct set balance = balance + ${int(1, 99)}, note = left(note, ${int(0, 50)}) where id % ${int(5, 40)} = ${int(0, 4)}`];
    case 2:
      return [`delete from acct where id % ${int(50, 200)} = ${int(0, 10)}`];
    case 3:
      // A large value: TOAST chunks over several pages.
      return [`insert into acct values (${id}, 'large', 1, (select string_agg(md5(g::text), '') from generate_series(1, ${int(100, 2000)}) g))`];
    case 4:
      return ['begin', `insert into acct values (${id}, 'kept', 1, null)`, 'savepoint s', `insert into acct values (${id + 1}, 'rolled back', 2, null)`, 'rollback to savepoint s', `update acct set owner = 'kept too' where id = ${id}`, 'commit'];
    case 5:
      return [`select pg_logical_emit_message(${r() < 0.5}, 'audit', 'step ${n}')`];
    default:
      return ['begin', `insert into acct select g, 'aborted', 0, null from generate_series(${id}, ${id + int(1, 50)}) g`, 'rollback'];
  }
}

describe.each(MAJORS)('PostgreSQL %i', (major) => {
  it(`decode --dsn --endpos through ${KILLS} walsender kills during a seeded random workload equals the server slot`, async () => {
    await withServer({ major, gucs: { wal_keep_size: "'1GB'" } }, async (server) => {
      const state = path.join(server.baseDir, 'slot.state');
      const dsn = `host=${server.socketDir} port=${server.port} user=postgres dbname=postgres`;
      const c = await server.connect();
      try {
        await c.query('create table acct (id int primary key, owner text, balance numeric(12,2), note text)');
        await c.query(`insert into acct select g, 'owner ' || g, g, null from generate_series(1, 2000) g`);
        const created = io();
        expect(await slotCommand(['create', '--dsn', `postgresql://postgres@localhost/postgres?host=${encodeURIComponent(server.socketDir)}&port=${server.port}`, '--slot', 'pgwal_s', '--state', state], created), created.stderr()).toBe(0);
        const end = (await c.query(`select (pg_current_wal_insert_lsn() + 3000000)::text as l`)).rows[0].l as string;
        const opts = ['-o', 'include-xids=1', '-o', 'skip-empty-xacts=1', '--with-lsn'];
        const live = io();
        const running = decodeCommand(['--state', state, '--dsn', dsn, ...opts, '--endpos', end], live);
        const r = rng(major * 1000 + 18);
        let n = 0;
        let kills = 0;
        const killed: number[] = [];
        for (let round = 0; kills < KILLS && round < KILLS * 3; round++) {
          let pid: number | undefined;
          for (let i = 0; i < 400 && pid === undefined; i++) {
            pid = (await c.query(`select pid from pg_stat_replication where application_name = 'pgwal decode' and not pid = any($1::int[])`, [killed])).rows[0]?.pid as number | undefined;
            if (pid === undefined) await new Promise((res) => setTimeout(res, 10));
          }
          expect(pid, live.stderr()).toBeDefined();
          killed.push(pid!);
          // A random amount of work, and a random pause, before the kill: it lands anywhere in the stream.
          for (let k = Math.floor(r() * 6); k >= 0; k--) for (const sql of step(r, n++)) await c.query(sql);
          await new Promise((res) => setTimeout(res, Math.floor(r() * 40)));
          if ((await c.query('select pg_terminate_backend($1) as ok', [pid])).rows[0].ok === true) kills++;
        }
        expect(kills).toBe(KILLS);
        while ((await c.query('select pg_current_wal_insert_lsn() > $1::pg_lsn as past', [end])).rows[0].past !== true) {
          for (const sql of step(r, n++)) await c.query(sql);
        }
        // A commit after the end flushes the WAL up to it.
        await c.query(`insert into acct values (999999999, 'after the end', 0, null)`);
        expect(await running, live.stderr()).toBe(0);
        expect(live.stderr().match(/connecting again in \d+ ms at /g)?.length ?? 0).toBeGreaterThanOrEqual(KILLS);

        const theirs = (
          await c.query({ text: `select lsn, xid, data from pg_logical_slot_peek_changes('pgwal_s', $1, null, 'include-xids', '1', 'skip-empty-xacts', '1')`, values: [end], rowMode: 'array', types: asText })
        ).rows.map((row) => row.join('\t'));
        expect(theirs.length).toBeGreaterThan(1000);
        expect(live.stdout().trimEnd().split('\n')).toEqual(theirs);
      } finally {
        await c.end();
      }
    });
  });
});
