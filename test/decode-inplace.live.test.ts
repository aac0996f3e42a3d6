// Live, every major: a transaction whose only change to the database is a catalog row updated in place (VACUUM
// that truncates a table: a lock, the truncation, pg_class's relpages in place, invalidations) has a base snapshot
// in the server's decoding (heap_decode's XLOG_HEAP_INPLACE with an xid), so test_decoding prints it, empty.
// pgwal decode prints the same rows as the server's slot.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeCommand } from '../src/cli/decode.js';
import { slotCommand } from '../src/cli/slot.js';
import type { DumpIo } from '../src/cli/dump.js';
import { MAJORS, withServer } from './support/pg-server.js';
import { dsnOf } from './support/cli.js';

function io(): DumpIo & { stdout: () => string; stderr: () => string } {
  let out = '';
  let err = '';
  return { out: (t) => (out += t), err: (t) => (err += t), errIsTty: false, env: {}, cwd: process.cwd(), sleep: async () => undefined, stdout: () => out, stderr: () => err };
}

describe.each(MAJORS)('PostgreSQL %i: in-place catalog updates', (major) => {
  it('a VACUUM that truncates is printed as the server prints it (an empty transaction)', async () => {
    await withServer({ major, gucs: { autovacuum: 'off' } }, async (server) => {
      const c = await server.connect();
      try {
        await c.query('create table w (id int primary key, a int)');
        await c.query('insert into w select g, g from generate_series(1, 2000) g');
        const state = path.join(server.baseDir, 's.state');
        const made = io();
        expect(await slotCommand(['create', '--dsn', dsnOf(server), '--slot', 's', '--state', state], made), made.stderr()).toBe(0);
        await c.query('delete from w where id > 10');
        // Truncates w (an xid for its lock), then without truncation (no xid, nothing printed).
        await c.query('vacuum w');
        await c.query('vacuum (freeze) w');
        await c.query('insert into w values (0, 0)');
        const end = (await c.query('select pg_current_wal_insert_lsn()::text as l')).rows[0].l as string;
        await c.query('select pg_switch_wal()');
        const theirs = (await c.query(`select data from pg_logical_slot_peek_changes('s', $1, null)`, [end])).rows.map((r: { data: string }) => r.data);
        // The VACUUM's transaction: BEGIN and COMMIT with nothing between.
        expect(theirs.filter((r, i) => r.startsWith('BEGIN') && theirs[i + 1]?.startsWith('COMMIT')).length).toBe(1);
        const run = io();
        expect(await decodeCommand(['--state', state, '-p', server.pgWalDir, '--end', end], run), run.stderr()).toBe(0);
        expect(run.stdout().replace(/\n$/, '').split('\n')).toEqual(theirs);
      } finally {
        await c.end();
      }
    });
  }, 120_000);
});
