// Live, every major: a slot created while other transactions were running becomes consistent only after they
// end. pgwal's snapshot builder, reading the WAL from the slot's restart_lsn, reaches its consistent point at
// the same LSN the server reports (the slot's confirmed_flush_lsn); on an idle server, at the first record.
import { describe, expect, it } from 'vitest';
import { formatLsn, parseLsn } from '../src/index.js';
import { SnapshotBuilder, SNAPBUILD_CONSISTENT } from '../src/reorderbuffer/snapbuild.js';
import { MAJORS, withServer } from './support/pg-server.js';
import { loadCatalog } from '../src/node/catalog.js';
import { TestDecodingDecoder } from '../src/reorderbuffer/logical.js';
import { walDirRecords } from './support/wal.js';

describe.each(MAJORS)('PostgreSQL %i', (major) => {
  it('finds the consistent point the server found', async () => {
    await withServer({ major, gucs: { wal_keep_size: "'1GB'" } }, async (server) => {
      await server.query('create table t (id int)');
      const busy = await server.connect();
      const c = await server.connect();
      try {
        // A transaction with an xid is running when the slot is created: the server must wait for it.
        await busy.query('begin');
        await busy.query('insert into t values (1)');
        const creating = c.query(`select pg_create_logical_replication_slot('busy', 'test_decoding')`);
        await new Promise((r) => setTimeout(r, 300));
        await server.query('insert into t values (2)');
        await busy.query('commit');
        await creating;
        const [slot] = await server.query<{ r: string; c: string }>(`select restart_lsn::text as r, confirmed_flush_lsn::text as c from pg_replication_slots where slot_name = 'busy'`);
        const restart = parseLsn(slot!.r);
        const consistent = parseLsn(slot!.c);
        expect(consistent).toBeGreaterThan(restart);
        const b = new SnapshotBuilder();
        for (const rec of walDirRecords(server.pgWalDir, restart, consistent + 8192)) {
          b.process(rec);
          if (b.state === SNAPBUILD_CONSISTENT) break;
        }
        expect(b.consistentAt === undefined ? undefined : formatLsn(b.consistentAt)).toBe(formatLsn(consistent));

        // Decoding with the snapshot builder from restart_lsn alone (no confirmed_flush given) prints what the
        // slot prints: nothing of the transactions that ended before the consistent point.
        const s2 = await server.connect();
        await s2.query('begin');
        await s2.query('insert into t values (3)');
        await server.query('insert into t values (4)');
        await s2.query('commit');
        const end = (await server.query<{ l: string }>('select pg_current_wal_insert_lsn()::text as l'))[0]!.l;
        await s2.end();
        for (let i = 0; i < 200 && (await server.query<{ ok: boolean }>('select pg_current_wal_flush_lsn() >= $1::pg_lsn as ok', [end]))[0]!.ok !== true; i++) await new Promise((r) => setTimeout(r, 25));
        const catalog = await loadCatalog(c);
        const databaseOid = Number((await c.query(`select oid from pg_database where datname = current_database()`)).rows[0].oid);
        const decoder = new TestDecodingDecoder({ databaseOid, ...catalog }, major, { includeXids: true, skipEmptyXacts: true }, 'snapshot');
        for (const rec of walDirRecords(server.pgWalDir, restart, parseLsn(end))) decoder.process(rec);
        const theirs = (await c.query(`select lsn::text, xid::text, data from pg_logical_slot_peek_changes('busy', $1, null, 'skip-empty-xacts', '1')`, [end])).rows.map((r) => `${r.lsn}\t${r.xid}\t${r.data}`);
        expect(decoder.output.map((o) => `${formatLsn(o.lsn)}\t${o.xid}\t${o.data}`)).toEqual(theirs);
        expect(theirs.length).toBeGreaterThanOrEqual(6);
        expect(decoder.consistentAt).toBe(consistent);

        // Idle: consistent at the end of the slot's own running_xacts record.
        await server.query(`select pg_create_logical_replication_slot('idle', 'test_decoding')`);
        const [idle] = await server.query<{ r: string; c: string }>(`select restart_lsn::text as r, confirmed_flush_lsn::text as c from pg_replication_slots where slot_name = 'idle'`);
        const b2 = new SnapshotBuilder();
        for (const rec of walDirRecords(server.pgWalDir, parseLsn(idle!.r), parseLsn(idle!.c) + 8192)) {
          b2.process(rec);
          if (b2.state === SNAPBUILD_CONSISTENT) break;
        }
        expect(formatLsn(b2.consistentAt!)).toBe(idle!.c);
      } finally {
        await busy.end();
        await c.end();
      }
    });
  });
});
