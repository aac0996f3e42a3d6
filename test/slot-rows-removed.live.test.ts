// Live: a slot whose catalog_xmin the WAL makes unsafe is refused at the record that removes the catalog rows.
//  - 16–18, the oracle: a logical slot on a standby; the primary vacuums pg_class rows the slot needs; the
//    server invalidates its slot with rows_removed while replaying one record (its log names the record and the
//    horizon). pgwal, given that slot's state (imported from pg_replication_slots) and the standby's WAL,
//    refuses at the same record with the same horizon, persists the invalidation, and printed nothing after it.
//  - 15–18 on a primary whose server slot was dropped (15 has no standby slots and never invalidates): pgwal
//    refuses at the first record that pg_walinspect describes as removing catalog rows under a horizon
//    catalog_xmin precedes or equals.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type pg from 'pg';
import { decodeCommand } from '../src/cli/decode.js';
import { slotCommand } from '../src/cli/slot.js';
import { readSlotStateFile } from '../src/node/slot.js';
import { parseLsn } from '../src/lsn.js';
import { MAJORS, Server, withServer } from './support/pg-server.js';
import { asText, dsnOf, flushedLsn, io, waitForReplay } from './support/slot.js';

/** The test's own reading of TransactionIdPrecedesOrEquals (transam.c). */
const precedesOrEquals = (a: number, b: number): boolean => (a < 3 || b < 3 ? a <= b : ((a - b) | 0) <= 0);

/** Creates and drops a table, waits until vacuum may remove its catalog rows, vacuums pg_class (035_standby_logical_decoding.pl). */
async function removeCatalogRows(c: pg.Client): Promise<void> {
  const before = Number((await c.query('select pg_snapshot_xmin(pg_current_snapshot())::text as x')).rows[0].x);
  await c.query('create table conflict_test (x int, y text)');
  await c.query('drop table conflict_test');
  for (let i = 0; i < 400; i++) {
    const now = Number((await c.query('select pg_snapshot_xmin(pg_current_snapshot())::text as x')).rows[0].x);
    if (now > before) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  await c.query('vacuum pg_class');
  await c.query(`insert into t values (1000, 'after the vacuum')`);
}

describe.each(MAJORS.filter((m) => m >= 16))('PostgreSQL %i: a logical slot on a standby, invalidated by the server', (major) => {
  it('pgwal refuses at the record the server invalidated its slot at, with the same horizon', async () => {
    const primary = await Server.create({ major, gucs: { wal_keep_size: "'1GB'" } });
    const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-standby-'));
    fs.chmodSync(copy, 0o755);
    let standby: Server | undefined;
    try {
      await primary.start();
      await primary.query('create table t (id int primary key, v text)');
      await primary.stop('fast');
      fs.cpSync(primary.dataDir, path.join(copy, 'data'), { recursive: true });
      standby = await Server.create({
        major,
        dataDir: path.join(copy, 'data'),
        gucs: { primary_conninfo: `'host=${primary.socketDir} port=${primary.port} user=postgres'`, hot_standby_feedback: 'off', wal_keep_size: "'1GB'" },
      });
      fs.writeFileSync(path.join(standby.dataDir, 'standby.signal'), '');
      if (standby.owner) fs.chownSync(path.join(standby.dataDir, 'standby.signal'), standby.owner.uid, standby.owner.gid);
      await primary.start();
      await standby.start();
      const p = await primary.connect();
      const s = await standby.connect();
      try {
        // A standby slot becomes consistent at a running_xacts the primary logs.
        let created = false;
        const creating = s.query(`select pg_create_logical_replication_slot('sb', 'test_decoding')`).then(() => (created = true));
        while (!created) {
          await p.query('select pg_log_standby_snapshot()');
          await Promise.race([creating, new Promise((r) => setTimeout(r, 100))]);
        }
        const state = path.join(copy, 'sb.state');
        const imported = io();
        expect(await slotCommand(['import', '--dsn', dsnOf(standby), '--slot', 'sb', '--state', state, '-p', standby.pgWalDir], imported), imported.stderr()).toBe(0);
        const catalogXmin = readSlotStateFile(state).catalogXmin;

        await p.query(`insert into t values (1, 'before the vacuum')`);
        await removeCatalogRows(p);
        const end = await flushedLsn(p);
        await waitForReplay(s, end);
        // The server's verdict: rows_removed, logged while replaying one record.
        const slotRow = (await s.query(`select * from pg_replication_slots where slot_name = 'sb'`)).rows[0];
        if (major >= 17) expect(slotRow.invalidation_reason).toBe('rows_removed');
        else expect(slotRow.conflicting).toBe(true);
        const log = fs.readFileSync(standby.logFile, 'utf8');
        const m = /invalidating obsolete replication slot "sb"\n.*DETAIL:\s+The slot conflicted with xid horizon (\d+)\.\n.*CONTEXT:\s+WAL redo at ([0-9A-F]+\/[0-9A-F]+) for ([^\s:]+)/.exec(log);
        expect(m, log.slice(-3000)).not.toBe(null);
        const [, serverHorizon, serverLsn, serverRecord] = m!;

        const run = io();
        expect(await decodeCommand(['--state', state, '-p', standby.pgWalDir, '--with-lsn', '-o', 'skip-empty-xacts=1', '--end', end], run)).toBe(1);
        expect(run.stderr()).toMatch(/invalidated \(rows_removed\)/);
        expect(run.stderr()).toContain(`catalog_xmin ${catalogXmin} precedes or equals the snapshot conflict horizon ${serverHorizon} of ${serverRecord} at ${serverLsn}`);
        const after = readSlotStateFile(state);
        expect(after.invalidation).toMatchObject({ reason: 'rows_removed', lsn: serverLsn });
        // Nothing committed at or after the record was printed; what came before was.
        const printed = run.stdout().trimEnd().split('\n').filter((l) => l !== '');
        expect(printed.every((l) => parseLsn(l.split('\t')[0]!) < parseLsn(serverLsn))).toBe(true);
        expect(run.stdout()).toContain('before the vacuum');
        expect(run.stdout()).not.toContain('after the vacuum');
        // Invalidation is final, as the server's.
        const again = io();
        expect(await decodeCommand(['--state', state, '-p', standby.pgWalDir], again)).toBe(1);
        expect(again.stderr()).toMatch(/can no longer get changes from replication slot "sb"/);
        let serverError = '';
        await s.query(`select * from pg_logical_slot_peek_changes('sb', null, null)`).catch((e: Error) => (serverError = e.message));
        expect(serverError).toMatch(/can no longer (get changes from|access) replication slot "sb"/); // 18: "access"
      } finally {
        await s.end();
        await p.end();
      }
    } finally {
      await standby?.destroy();
      await primary.destroy();
      fs.rmSync(copy, { recursive: true, force: true });
    }
  });
});

describe.each(MAJORS)('PostgreSQL %i: a primary whose server slot is gone', (major) => {
  it('pgwal refuses at the first record that removes catalog rows under catalog_xmin', async () => {
    await withServer({ major, gucs: { wal_keep_size: "'1GB'" } }, async (server) => {
      const c = await server.connect();
      try {
        await c.query('create extension pg_walinspect');
        await c.query('create table t (id int primary key, v text)');
        const state = path.join(server.baseDir, 'slot.state');
        const created = io();
        expect(await slotCommand(['create', '--dsn', dsnOf(server), '--slot', 'gone', '--state', state], created), created.stderr()).toBe(0);
        const { catalogXmin, restartLsn, databaseOid } = readSlotStateFile(state);
        // Without the server slot nothing holds vacuum back: the state's catalog_xmin is on its own.
        await c.query(`select pg_drop_replication_slot('gone')`);
        await c.query(`insert into t values (1, 'before the vacuum')`);
        await removeCatalogRows(c);
        const end = await flushedLsn(c);

        // The expected record, from the server's descriptions: catalog files (oid below FirstUnpinnedObjectId),
        // and the horizon each record type's redo resolves conflicts with.
        const catalogFiles = new Set(
          (await c.query(`select pg_relation_filenode(oid)::text as f from pg_class where oid < 12000 and pg_relation_filenode(oid) is not null`)).rows.map((r) => r.f as string),
        );
        const rows = (
          await c.query({ text: `select start_lsn::text, resource_manager, record_type, description, block_ref from pg_get_wal_records_info($1, $2)`, values: [restartLsn, end], types: asText })
        ).rows;
        let expected: { lsn: string; record: string; horizon: number } | undefined;
        for (const r of rows) {
          if (!['Heap2', 'Btree', 'Hash', 'Gist', 'SPGist'].includes(r.resource_manager)) continue;
          const h = /(?:snapshotConflictHorizon:? |latestRemovedXid |cutoff xid )(?:\d+:)?(\d+)/.exec(r.description);
          const rel = /rel (\d+)\/(\d+)\/(\d+)/.exec(r.block_ref ?? '') ?? /rel:? (\d+)\/(\d+)\/(\d+)/.exec(r.description);
          if (h === null || rel === null || Number(h[1]) === 0) continue;
          let horizon = Number(h[1]);
          if (major === 15 && r.record_type === 'FREEZE_PAGE') horizon -= 1;
          if (!catalogFiles.has(rel[3]!) || !(rel[2] === '0' || Number(rel[2]) === databaseOid)) continue;
          if (precedesOrEquals(catalogXmin, horizon)) {
            expected = { lsn: r.start_lsn, record: `${r.resource_manager}/${r.record_type}`, horizon };
            break;
          }
        }
        expect(expected, 'the vacuum logged no catalog row removal past catalog_xmin').toBeDefined();

        const run = io();
        expect(await decodeCommand(['--state', state, '-p', server.pgWalDir, '-o', 'skip-empty-xacts=1', '--end', end], run)).toBe(1);
        expect(run.stderr()).toContain(`catalog_xmin ${catalogXmin} precedes or equals the snapshot conflict horizon ${expected!.horizon} of ${expected!.record} at ${expected!.lsn}`);
        expect(readSlotStateFile(state).invalidation).toMatchObject({ reason: 'rows_removed', lsn: expected!.lsn });
        expect(run.stdout()).toContain('before the vacuum');
        expect(run.stdout()).not.toContain('after the vacuum');
      } finally {
        await c.end();
      }
    });
  });
});
