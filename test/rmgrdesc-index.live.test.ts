// Live: on a real server of each major, a workload that produces nearly every record type of the index rmgrs
// (Btree, Hash, Gin, Gist, SPGist, BRIN); pgwal's identify/describe must equal what pg_walinspect prints for it.
import { describe, expect, it } from 'vitest';
import type pg from 'pg';
import { formatLsn, parseLsn } from '../src/lsn.js';
import { profileForMajor } from '../src/xlogreader/profile.js';
import type { RmgrDescriptor } from '../src/xlogreader/rmgrdesc/types.js';
import { btreeRmgr } from '../src/xlogreader/rmgrdesc/nbtree.js';
import { hashRmgr } from '../src/xlogreader/rmgrdesc/hash.js';
import { ginRmgr } from '../src/xlogreader/rmgrdesc/gin.js';
import { gistRmgr } from '../src/xlogreader/rmgrdesc/gist.js';
import { spgistRmgr } from '../src/xlogreader/rmgrdesc/spgist.js';
import { brinRmgr } from '../src/xlogreader/rmgrdesc/brin.js';
import { MAJORS, withServer } from './support/pg-server.js';
import { walDirRecords, walinspectContext } from './support/wal.js';

const INDEX_RMGRS: readonly RmgrDescriptor[] = [btreeRmgr, hashRmgr, ginRmgr, gistRmgr, spgistRmgr, brinRmgr];
const byName = new Map(INDEX_RMGRS.map((r) => [r.name, r]));
const byId = new Map(INDEX_RMGRS.map((r) => [r.id, r]));

const TEXT = { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function lsn(c: pg.Client, fn: string): Promise<string> {
  return (await c.query<{ l: string }>(`select ${fn}()::text as l`)).rows[0]!.l;
}

/** Forces index scans, so that scans of deleted rows set LP_DEAD (kill_prior_tuple) on index items. */
const INDEX_SCAN = 'set enable_seqscan = off; set enable_bitmapscan = off';
const ANY_SCAN = 'reset enable_seqscan; reset enable_bitmapscan';

/** Each entry is one round trip; comments say which records it is for. */
const WORKLOAD: readonly string[] = [
  // Btree: ascending and random inserts (INSERT_LEAF/UPPER, SPLIT_L/R, NEWROOT), duplicates (DEDUP), a deleted
  // range vacuumed (VACUUM, MARK_PAGE_HALFDEAD, UNLINK_PAGE, META_CLEANUP); after xids move on, a second vacuum
  // puts the deleted pages in the FSM and new splits reuse them (REUSE_PAGE); a reinsert of dead-then-reused heap
  // TIDs inside posting lists (INSERT_POST).
  `create table bt (id int, k int, pad text); create index bt_id on bt (id); create index bt_k on bt (k)`,
  `insert into bt select g, g % 10, repeat('x', 20) from generate_series(1, 20000) g`,
  `insert into bt select (random() * 100000)::int, 5, 'y' from generate_series(1, 5000) g`,
  `delete from bt where id between 2000 and 12000`,
  `vacuum bt`,
  `select txid_current()`,
  `select txid_current()`,
  `vacuum bt`,
  `insert into bt select g, g % 10, repeat('z', 20) from generate_series(20001, 30000) g`,
  // Btree DELETE: bottom-up deletion from non-HOT update churn on an unchanged indexed column.
  `create table churn (id int primary key, a int, b int); create index churn_a on churn (a); create index churn_b on churn (b)`,
  `insert into churn select g, g, g from generate_series(1, 2000) g`,
  ...Array.from({ length: 8 }, () => `update churn set b = b + 1 where id <= 200`),
  // Btree UNLINK_PAGE_META (the leftmost of two leaves goes, the fast root moves down), then INSERT_META.
  `create table bm (id int); create index bm_id on bm (id)`,
  `insert into bm select g from generate_series(1, 500) g`,
  `delete from bm where id < 400`,
  `vacuum bm`,
  `insert into bm select g from generate_series(501, 1500) g`,
  // Hash: build (INIT_META_PAGE, INIT_BITMAP_PAGE), inserts with bucket splits (SPLIT_*), one hot key
  // (ADD_OVFL_PAGE), vacuum (DELETE, SQUEEZE_PAGE, MOVE_PAGE_CONTENTS, SPLIT_CLEANUP, UPDATE_META_PAGE), then dead
  // items marked by an index scan and an insert into the full page (VACUUM_ONE_PAGE).
  `create table hs (k int, v int); create index hs_k on hs using hash (k)`,
  `insert into hs select g, g from generate_series(1, 20000) g`,
  `insert into hs select 7, g from generate_series(1, 3000) g`,
  `delete from hs where k % 3 = 0 or (k = 7 and v % 2 = 0)`,
  `vacuum hs`,
  `delete from hs where k = 7 and v < 2000`,
  INDEX_SCAN,
  `select count(*) from hs where k = 7`,
  ANY_SCAN,
  `insert into hs select 7, g from generate_series(1, 500) g`,
  // Gin: fastupdate off (INSERT on entry and posting trees, CREATE_PTREE, SPLIT) and on (INSERT_LISTPAGE,
  // UPDATE_META_PAGE), pending-list cleanup (DELETE_LISTPAGE), vacuum (VACUUM_PAGE, VACUUM_DATA_LEAF_PAGE,
  // DELETE_PAGE).
  `create table gn (a int[], t tsvector)`,
  `create index gn_a on gn using gin (a) with (fastupdate = off); create index gn_t on gn using gin (t) with (fastupdate = on)`,
  `insert into gn select array[0, g % 5, g % 100, g], to_tsvector('simple', 'word' || (g % 50) || ' other' || (g % 7))
     from generate_series(1, 20000) g`,
  `select gin_clean_pending_list('gn_t')`,
  `delete from gn where a[4] % 4 = 1`,
  `vacuum gn`,
  // Checkpoints, so that vacuum and a later insert take images of the pages they change.
  `checkpoint`,
  `delete from gn where a[4] between 3000 and 16000`,
  `vacuum gn`,
  `checkpoint`,
  `insert into gn select array[0, 2, g], to_tsvector('simple', 'again') from generate_series(1, 20) g`,
  // GiST: inserts (PAGE_UPDATE, PAGE_SPLIT), dead items from an index scan pruned on insert (DELETE), vacuum
  // (PAGE_DELETE), and after xids move on, a second vacuum and inserts reusing the pages (PAGE_REUSE).
  `create table gs (p point, b box); create index gs_p on gs using gist (p); create index gs_b on gs using gist (b)`,
  `insert into gs select point(g % 200, g / 200), box(point(g, g), point(g + 1, g + 1)) from generate_series(1, 20000) g`,
  `delete from gs where p[0] < 100`,
  INDEX_SCAN,
  `select count(*) from gs where p <@ box(point(0, 0), point(300, 300))`,
  ANY_SCAN,
  `insert into gs select point(g % 100, g / 200), box(point(g, g), point(g + 1, g + 1)) from generate_series(1, 5000) g`,
  `delete from gs where p[1] < 50`,
  `vacuum gs`,
  `select txid_current()`,
  `vacuum gs`,
  `insert into gs select point(g % 200, g / 200), box(point(g, g), point(g + 1, g + 1)) from generate_series(1, 10000) g`,
  // SP-GiST: points and texts (ADD_LEAF, MOVE_LEAFS, PICKSPLIT, ADD_NODE, SPLIT_TUPLE), vacuum (VACUUM_LEAF,
  // VACUUM_REDIRECT), NULLs (the nulls tree), and a root that is still a leaf (VACUUM_ROOT).
  `create table sp (p point, t text); create index sp_p on sp using spgist (p); create index sp_t on sp using spgist (t)`,
  `insert into sp select point(g % 300, g / 300), 'prefix' || (g % 1000) || 'x' || g from generate_series(1, 20000) g`,
  `delete from sp where p[0] < 150`,
  `vacuum sp`,
  `select txid_current()`,
  `vacuum sp`,
  `insert into sp select null, null from generate_series(1, 1000)`,
  `insert into sp select point(1, 1), t from unnest(array['pre', 'prefab', 'zzz', 'zzzy', 'prefix1x', 'prefix', 'p', 'abc']) t`,
  `create table sp2 (p point); create index sp2_p on sp2 using spgist (p)`,
  `insert into sp2 values (point(1, 1)), (point(2, 2))`,
  `delete from sp2`,
  `vacuum sp2`,
  // BRIN: build (CREATE_INDEX), summarizing (INSERT, INSERT+INIT, REVMAP_EXTEND), inserts into summarized ranges
  // (SAMEPAGE_UPDATE), summaries that outgrow their page (UPDATE, UPDATE+INIT), DESUMMARIZE.
  `create table br (id int, v int); create index br_id on br using brin (id) with (pages_per_range = 1)`,
  `insert into br select g, g from generate_series(1, 30000) g`,
  `select brin_summarize_new_values('br_id')`,
  `insert into br select g, g from generate_series(1, 300) g`,
  `update br set id = id + 100000 where id < 200`,
  `select brin_desummarize_range('br_id', 0), brin_desummarize_range('br_id', 1)`,
  `create table br2 (t text) with (fillfactor = 50); create index br2_t on br2 using brin (t) with (pages_per_range = 1)`,
  `insert into br2 select 'm' || (g % 10) from generate_series(1, 60000) g`,
  `select brin_summarize_new_values('br2_t')`,
  `update br2 set t = repeat('z', 200) || ctid::text where ctid::text like '(%,1)'`,
  // Images taken for WAL consistency checking (not applied at redo): Gin prints them differently; the
  // XLR_CHECK_CONSISTENCY bit is in xl_info.
  `set wal_consistency_checking = 'all'`,
  `insert into gn select array[0, 1, g], to_tsvector('simple', 'late') from generate_series(1, 50) g`,
  `insert into bt select g, 1, 'w' from generate_series(1, 50) g`,
  `insert into hs select g, g from generate_series(1, 50) g`,
  `insert into gs select point(g, g), box(point(g, g), point(g, g)) from generate_series(1, 50) g`,
  `insert into sp select point(g, g), 'late' || g from generate_series(1, 50) g`,
  `insert into br select g, g from generate_series(1, 50) g`,
  `reset wal_consistency_checking`,
];

/** Record types the workload must produce (all but Gist ASSIGN_LSN, which needs wal_level=minimal). */
const EXPECTED: readonly string[] = [
  ...['INSERT_LEAF', 'INSERT_UPPER', 'INSERT_META', 'SPLIT_L', 'SPLIT_R', 'INSERT_POST', 'DEDUP', 'VACUUM', 'DELETE']
    .concat(['MARK_PAGE_HALFDEAD', 'UNLINK_PAGE', 'UNLINK_PAGE_META', 'NEWROOT', 'REUSE_PAGE', 'META_CLEANUP'])
    .map((t) => `Btree/${t}`),
  ...['INIT_META_PAGE', 'INIT_BITMAP_PAGE', 'INSERT', 'ADD_OVFL_PAGE', 'SPLIT_ALLOCATE_PAGE', 'SPLIT_PAGE']
    .concat(['SPLIT_COMPLETE', 'MOVE_PAGE_CONTENTS', 'SQUEEZE_PAGE', 'DELETE', 'SPLIT_CLEANUP', 'UPDATE_META_PAGE'])
    .concat(['VACUUM_ONE_PAGE'])
    .map((t) => `Hash/${t}`),
  ...['CREATE_PTREE', 'INSERT', 'SPLIT', 'VACUUM_PAGE', 'VACUUM_DATA_LEAF_PAGE', 'DELETE_PAGE', 'UPDATE_META_PAGE']
    .concat(['INSERT_LISTPAGE', 'DELETE_LISTPAGE'])
    .map((t) => `Gin/${t}`),
  ...['PAGE_UPDATE', 'DELETE', 'PAGE_REUSE', 'PAGE_SPLIT', 'PAGE_DELETE'].map((t) => `Gist/${t}`),
  ...['ADD_LEAF', 'MOVE_LEAFS', 'ADD_NODE', 'SPLIT_TUPLE', 'PICKSPLIT', 'VACUUM_LEAF', 'VACUUM_ROOT', 'VACUUM_REDIRECT']
    .map((t) => `SPGist/${t}`),
  ...['CREATE_INDEX', 'INSERT', 'INSERT+INIT', 'UPDATE', 'UPDATE+INIT', 'SAMEPAGE_UPDATE', 'REVMAP_EXTEND', 'DESUMMARIZE']
    .map((t) => `BRIN/${t}`),
];

/** `record_type description` shapes worth seeing at least once (branches of gin_desc, spg_desc, and 16+'s delvacuum_desc). */
const EXPECTED_SHAPES: readonly [string, RegExp][] = [
  ['Gin INSERT into a data leaf', /^INSERT isdata: T isleaf: T \d+ segments:/],
  ['Gin INSERT into a posting-tree internal page', /^INSERT isdata: T isleaf: F children: \d+\/\d+ pitem: /],
  ['Gin INSERT with an applied image', /^INSERT .*\(full page image\)$/],
  ['Gin INSERT with a verification image', /^INSERT .*\(full page image, for WAL verification\)$/],
  ['Gin VACUUM_DATA_LEAF_PAGE with segments', /^VACUUM_DATA_LEAF_PAGE  \d+ segments:/],
  ['Gin VACUUM_DATA_LEAF_PAGE with an applied image', /^VACUUM_DATA_LEAF_PAGE  \(full page image\)$/],
  ['SPGist ADD_LEAF into the nulls tree', /^ADD_LEAF .*\(nulls\)$/],
  ['SPGist PICKSPLIT of the root', /^PICKSPLIT .*\(isRootSplit\)$/],
  ['Btree VACUUM with posting-list updates', /^VACUUM ndeleted: \d+, nupdated: [1-9]\d*, deleted: \[.*\{ off: /],
  ['Btree DELETE with posting-list updates', /^DELETE .*nupdated: [1-9]\d*.*\{ off: \d+, nptids: /],
];

describe.each(MAJORS)('PostgreSQL %i', (major) => {
  it('describes every index-rmgr record as pg_walinspect does', { timeout: 300_000 }, async () => {
    const profile = profileForMajor(major)!;
    const ctx = walinspectContext(profile);
    await withServer({ major }, async (server) => {
      const c = await server.connect();
      try {
        await c.query('create extension pg_walinspect');
        // Keep every segment from the start on, whatever checkpoints happen.
        await c.query(`select pg_create_physical_replication_slot('index_keep', true)`);
        const start = await lsn(c, 'pg_current_wal_insert_lsn');
        // First touches after a checkpoint carry full-page images.
        await c.query('checkpoint');
        for (const sql of WORKLOAD) await c.query(sql);
        const end = await lsn(c, 'pg_current_wal_insert_lsn');
        for (let i = 0; i < 200 && parseLsn(await lsn(c, 'pg_current_wal_flush_lsn')) < parseLsn(end); i++) await sleep(50);

        const rows = (
          await c.query<Record<string, string | null>>({
            text: `select * from pg_get_wal_records_info($1, $2) where resource_manager = any($3)`,
            values: [start, end, INDEX_RMGRS.map((r) => r.name)],
            types: TEXT,
          })
        ).rows;

        const ours = walDirRecords(server.pgWalDir, parseLsn(start), parseLsn(end)).filter((r) => byId.has(r.rmid));
        const oursByLsn = new Map(ours.map((r) => [formatLsn(r.lsn), r]));
        const seen = new Set<string>();
        const descs: string[] = [];
        const mismatches: string[] = [];
        for (const row of rows) {
          const rmgr = byName.get(row.resource_manager!)!;
          const rec = oursByLsn.get(row.start_lsn!);
          if (rec === undefined) {
            mismatches.push(`${row.start_lsn}: not read by pgwal (${row.resource_manager}/${row.record_type})`);
            continue;
          }
          const type = rmgr.identify(rec.info, profile);
          const desc = rmgr.describe(rec, ctx);
          seen.add(`${rmgr.name}/${row.record_type}`);
          if (rmgr.name !== 'Hash') descs.push(`${row.record_type} ${desc}`);
          if (byId.get(rec.rmid) !== rmgr || type !== row.record_type || desc !== (row.description ?? '')) {
            mismatches.push(`${row.start_lsn} ${rmgr.name}/${type}: ${desc.slice(0, 300)}\n   expected ${row.record_type}: ${row.description?.slice(0, 300)}`);
          }
        }
        expect(mismatches.slice(0, 20)).toEqual([]);
        expect(ours.length).toBe(rows.length);
        expect(rows.length).toBeGreaterThan(10_000);
        expect(EXPECTED.filter((t) => !seen.has(t))).toEqual([]);
        const shapes = major >= 16 ? EXPECTED_SHAPES : EXPECTED_SHAPES.filter(([name]) => !name.startsWith('Btree'));
        expect(shapes.filter(([, re]) => !descs.some((d) => re.test(d))).map(([name]) => name)).toEqual([]);
        console.log(`PostgreSQL ${major}: ${rows.length} index-rmgr records compared, ${seen.size} record types`);
      } finally {
        await c.end();
      }
    });
  });
});
