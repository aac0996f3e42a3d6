// Live: a workload that makes every kind of Heap and Heap2 record it can, on each major; our identify and
// describe must print what the server's pg_walinspect prints for the same WAL.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatLsn, parseLsn } from '../src/lsn.js';
import { profileForMajor } from '../src/xlogreader/profile.js';
import type { DecodedRecord } from '../src/xlogreader/record.js';
import { heap2Rmgr, heapRmgr } from '../src/xlogreader/rmgrdesc/heap.js';
import { MAJORS, type Server, withServer } from './support/pg-server.js';
import { walDirRecords, walinspectContext } from './support/wal.js';

const RMGRS = { 9: heap2Rmgr, 10: heapRmgr } as const;
const asText = { getTypeParser: () => (v: string) => v };

/** What the workload below must produce, per major. HOT_UPDATE+INIT cannot happen (HOT stays on its page). */
function expectedTypes(major: number): string[] {
  const common = [
    'Heap/INSERT',
    'Heap/INSERT+INIT',
    'Heap/UPDATE',
    'Heap/UPDATE+INIT',
    'Heap/HOT_UPDATE',
    'Heap/DELETE',
    'Heap/LOCK',
    'Heap/HEAP_CONFIRM',
    'Heap/TRUNCATE',
    'Heap/INPLACE',
    'Heap2/MULTI_INSERT',
    'Heap2/MULTI_INSERT+INIT',
    'Heap2/NEW_CID',
    'Heap2/LOCK_UPDATED',
    'Heap2/VISIBLE',
    'Heap2/REWRITE',
  ];
  const prune = major >= 17 ? ['Heap2/PRUNE_ON_ACCESS', 'Heap2/PRUNE_VACUUM_SCAN', 'Heap2/PRUNE_VACUUM_CLEANUP'] : ['Heap2/PRUNE', 'Heap2/VACUUM', 'Heap2/FREEZE_PAGE'];
  return [...common, ...prune];
}

async function workload(server: Server): Promise<void> {
  const a = await server.connect();
  const b = await server.connect();
  try {
    // A slot before the catalog churn, so VACUUM FULL of a catalog writes logical rewrite mappings (REWRITE).
    await a.query(`select pg_create_logical_replication_slot('heap_live', 'test_decoding')`);
    await a.query('checkpoint'); // full-page images on the first touch of each page below
    await a.query(`create table h (id int primary key, k int, v text) with (fillfactor = 100)`);
    await a.query(`create table c (id int, v text)`);
    await a.query(`create table f (id int primary key, v text)`);
    await a.query(`alter table f replica identity full`);
    await a.query(`insert into h select g, g, repeat('x', 20) from generate_series(1, 400) g`);
    await a.query(`insert into f select g, 'f' || g from generate_series(1, 300) g`);
    await a.query(`update h set v = 'hot' where id = 1`); // HOT
    await a.query(`update h set id = 100000 where id = 2`); // key change: not HOT
    await a.query(`update h set k = -k where id between 10 and 20`);
    await a.query(`update f set v = 'full' where id = 5`); // old tuple logged (replica identity full)
    await a.query(`delete from h where id = 3`);
    await a.query(`delete from f where id = 6`);
    // The first page of h is full: a wide new version moves to a new, empty page (UPDATE+INIT).
    await a.query(`update h set v = repeat('w', 3000) where id = 4`);
    // Row locks: exclusive, shared, key-share, and a multixact from two sharers.
    await a.query(`select * from h where id = 30 for update`);
    await a.query(`select * from h where id = 31 for no key update`);
    await a.query(`select * from h where id = 32 for share`);
    await a.query(`select * from h where id = 33 for key share`);
    await a.query('begin');
    await a.query(`select * from h where id = 34 for share`);
    await b.query(`select * from h where id = 34 for share`);
    await a.query('commit');
    // An in-progress non-key update, then a key-share lock that follows the update chain (LOCK_UPDATED).
    await a.query('begin');
    await a.query(`update h set v = 'chain' where id = 40`);
    await b.query(`select * from h where id = 40 for key share`);
    await a.query('commit');
    // Speculative insertion (INSERT + HEAP_CONFIRM), and the ON CONFLICT DO UPDATE path (LOCK + UPDATE).
    await a.query(`insert into h values (200000, 0, 'spec') on conflict do nothing`);
    await a.query(`insert into h values (200001, 0, 'spec') on conflict (id) do update set v = 'upd'`);
    await a.query(`insert into h values (200001, 0, 'spec') on conflict (id) do update set v = 'upd'`);
    await a.query(`insert into h values (5, 0, 'dup') on conflict do nothing`);
    // COPY: a full page at a time (MULTI_INSERT+INIT), then a few rows onto a page in use (MULTI_INSERT).
    const file = path.join(server.baseDir, 'heap-copy.txt');
    const rows: string[] = [];
    for (let i = 1; i <= 2000; i++) rows.push(`${i}\tcopy row ${i}`);
    fs.writeFileSync(file, rows.join('\n') + '\n');
    const small = path.join(server.baseDir, 'heap-copy-small.txt');
    fs.writeFileSync(small, '1\tone\n2\ttwo\n3\tthree\n');
    if (server.owner !== undefined) {
      fs.chownSync(file, server.owner.uid, server.owner.gid);
      fs.chownSync(small, server.owner.uid, server.owner.gid);
    }
    await a.query(`copy c from '${file}'`);
    await a.query(`insert into c values (0, 'zero')`);
    await a.query(`create table c2 (id int, v text)`);
    await a.query(`insert into c2 values (0, 'zero')`);
    await a.query(`copy c2 from '${small}'`);
    // On-access pruning: a single wide row HOT-updated until its page is nearly full.
    await a.query(`create table p (id int primary key, v text) with (fillfactor = 100)`);
    await a.query(`insert into p values (1, repeat('p', 600))`);
    for (let i = 0; i < 30; i++) {
      await a.query(`update p set v = repeat('${String.fromCharCode(97 + (i % 26))}', 600) where id = 1`);
    }
    await a.query(`select * from p`);
    // VACUUM with an index: pruning (first pass), setting dead items unused (second pass), visibility map.
    await a.query(`delete from h where id % 7 = 0`);
    await a.query(`vacuum h`);
    await a.query(`vacuum f`);
    // Freezing on pages already logged since the checkpoint: block data carries the freeze plans.
    await a.query(`create table z (id int, v text)`);
    await a.query(`insert into z select g, 'z' || g from generate_series(1, 500) g`);
    await a.query(`update z set v = 'zz' where id % 50 = 0`);
    await a.query(`vacuum freeze z`);
    // VACUUM FREEZE after a checkpoint: records whose block data gives way to a full-page image.
    await a.query('checkpoint');
    await a.query(`vacuum freeze c`);
    await a.query(`vacuum (freeze, disable_page_skipping) h`);
    await a.query(`analyze h`);
    // A catalog rewrite while a logical slot exists.
    await a.query(`vacuum full pg_attribute`);
    await a.query(`vacuum full pg_class`);
    // TRUNCATE (logical wal_level logs it), with CASCADE and RESTART IDENTITY.
    await a.query(`create table t1 (id serial primary key)`);
    await a.query(`create table t2 (id int references t1)`);
    await a.query(`insert into t1 default values`);
    await a.query(`truncate c2`);
    await a.query(`truncate t1 restart identity cascade`);
  } finally {
    await a.end();
    await b.end();
  }
}

async function waitForFlush(server: Server, end: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const [r] = await server.query<{ ok: boolean }>(`select pg_current_wal_flush_lsn() >= $1::pg_lsn as ok`, [end]);
    if (r!.ok) return;
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error(`WAL not flushed up to ${end}`);
}

describe.each(MAJORS)('Heap/Heap2 descriptions against a live PostgreSQL %i', (major) => {
  it('match pg_walinspect for a workload of every heap record kind', async () => {
    await withServer({ major }, async (server) => {
      await server.query('create extension pg_walinspect');
      const [s] = await server.query<{ lsn: string }>(`select pg_current_wal_insert_lsn()::text as lsn`);
      await workload(server);
      const [e] = await server.query<{ lsn: string }>(`select pg_current_wal_insert_lsn()::text as lsn`);
      const start = s!.lsn;
      const end = e!.lsn;
      await waitForFlush(server, end);

      const c = await server.connect();
      let rows: Record<string, string | null>[];
      try {
        rows = (await c.query({ text: `select * from pg_get_wal_records_info($1, $2)`, values: [start, end], types: asText })).rows;
      } finally {
        await c.end();
      }

      const profile = profileForMajor(major)!;
      const ctx = walinspectContext(profile);
      const byLsn = new Map<string, DecodedRecord>();
      for (const r of walDirRecords(server.pgWalDir, parseLsn(start), parseLsn(end))) byLsn.set(formatLsn(r.lsn), r);

      const seen = new Set<string>();
      const mismatches: string[] = [];
      let compared = 0;
      for (const row of rows) {
        if (row.resource_manager !== 'Heap' && row.resource_manager !== 'Heap2') continue;
        const rec = byLsn.get(row.start_lsn!);
        expect(rec, `no record read at ${row.start_lsn}`).toBeDefined();
        const rmgr = RMGRS[rec!.rmid as 9 | 10];
        expect(rmgr?.name).toBe(row.resource_manager);
        const type = rmgr.identify(rec!.info, profile);
        const desc = rmgr.describe(rec!, ctx);
        if (type !== row.record_type || desc !== (row.description ?? '')) {
          mismatches.push(`${row.start_lsn} ${row.record_type}: server «${row.description}» ours ${type} «${desc}»`);
        }
        seen.add(`${row.resource_manager}/${row.record_type}`);
        compared++;
      }
      console.log(`PostgreSQL ${major}: ${compared} Heap/Heap2 records compared, ${seen.size} kinds`);
      expect(mismatches.slice(0, 20)).toEqual([]);
      expect(compared).toBeGreaterThan(500);
      const missing = expectedTypes(major).filter((t) => !seen.has(t));
      expect(missing, `seen: ${[...seen].sort().join(' ')}`).toEqual([]);
    });
  });
});
