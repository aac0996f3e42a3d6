// Live, every major: `pgwal slot advance` moves the state as pg_replication_slot_advance moves the server's
// slot (confirmed_flush, the error for going backwards), and decoding afterwards prints exactly what the
// server's slot returns after its own advance — a transaction open across the target included. `slot show`
// and `slot drop` (with the server's slot).
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeCommand } from '../src/cli/decode.js';
import { slotCommand } from '../src/cli/slot.js';
import { MAJORS, withServer } from './support/pg-server.js';
import { asText, dsnOf, flushedLsn, io } from './support/slot.js';

describe.each(MAJORS)('PostgreSQL %i', (major) => {
  it('slot advance moves like pg_replication_slot_advance; show; drop', async () => {
    await withServer({ major, gucs: { wal_keep_size: "'1GB'" } }, async (server) => {
      const state = path.join(server.baseDir, 'slot.state');
      const c = await server.connect();
      const open = await server.connect();
      try {
        await c.query('create table t (id int primary key, v text)');
        const created = io();
        expect(await slotCommand(['create', '--dsn', dsnOf(server), '--slot', 'adv', '--state', state], created), created.stderr()).toBe(0);
        await c.query(`insert into t select g, 'before ' || g from generate_series(1, 10) g`);
        await open.query('begin');
        await open.query(`insert into t values (100, 'open across the target')`);
        await c.query(`insert into t values (11, 'committed before the target')`);
        const target = await flushedLsn(c);
        await c.query(`insert into t values (12, 'after the target')`);
        await open.query('commit');
        await c.query(`update t set v = v || '!' where id <= 3`);
        const end = await flushedLsn(c);

        const ours = io();
        expect(await slotCommand(['advance', '--state', state, '--to', target, '-p', server.pgWalDir], ours), ours.stderr()).toBe(0);
        await c.query(`select pg_replication_slot_advance('adv', $1)`, [target]);
        const theirs = (await c.query(`select confirmed_flush_lsn::text as c from pg_replication_slots where slot_name = 'adv'`)).rows[0].c as string;
        const shown = io();
        expect(await slotCommand(['show', '--state', state, '--json'], shown)).toBe(0);
        const s = JSON.parse(shown.stdout());
        expect(s.confirmedFlush).toBe(theirs);
        expect(s.invalidation).toBe(null);
        // catalog_xmin never claims more than the server's: ours precedes or equals its catalog_xmin.
        const serverXmin = Number((await c.query(`select catalog_xmin::text as x from pg_replication_slots where slot_name = 'adv'`)).rows[0].x);
        expect(s.catalogXmin <= serverXmin, `ours ${s.catalogXmin}, server ${serverXmin}`).toBe(true);

        // Going backwards: the server's error, word for word.
        let serverError = '';
        await c.query(`select pg_replication_slot_advance('adv', '0/10')`).catch((e: Error) => (serverError = e.message));
        const back = io();
        expect(await slotCommand(['advance', '--state', state, '--to', '0/10'], back)).toBe(1);
        expect(back.stderr()).toBe(`pgwal slot advance: error: ${serverError}\n`);

        // What remains after the advance is what the server's advanced slot returns.
        const rest = (await c.query({ text: `select data from pg_logical_slot_peek_changes('adv', $1, null, 'skip-empty-xacts', '1')`, values: [end], rowMode: 'array', types: asText })).rows.map((r) => r[0]);
        const decoded = io();
        expect(await decodeCommand(['--state', state, '-p', server.pgWalDir, '-o', 'skip-empty-xacts=1', '--end', end], decoded), decoded.stderr()).toBe(0);
        expect(decoded.stdout().trimEnd().split('\n')).toEqual(rest);
        expect(rest.join('\n')).toContain('open across the target');
        expect(rest.join('\n')).not.toContain('committed before the target');

        const text = io();
        expect(await slotCommand(['show', '--state', state], text)).toBe(0);
        expect(text.stdout()).toMatch(new RegExp(`^confirmed_flush_lsn +\\| ${theirs.replace('/', '\\/')}$`, 'm'));
        expect(text.stdout()).toMatch(/^slot_name +\| adv$/m);

        const dropped = io();
        expect(await slotCommand(['drop', '--state', state, '--dsn', dsnOf(server)], dropped), dropped.stderr()).toBe(0);
        expect(fs.existsSync(state)).toBe(false);
        expect((await c.query(`select count(*)::int as n from pg_replication_slots where slot_name = 'adv'`)).rows[0].n).toBe(0);
        const gone = io();
        expect(await slotCommand(['show', '--state', state], gone)).toBe(1);
        expect(gone.stderr()).toMatch(/slot state file ".*slot\.state" does not exist/);
      } finally {
        await open.end();
        await c.end();
      }
    });
  });
});
