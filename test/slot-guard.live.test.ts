// Live, every major: for every record that removes or freezes rows (heap prune/freeze/visible, btree, hash,
// gist and spgist deletions), the horizon the catalog_xmin guard takes equals the one pg_walinspect prints,
// and its catalog-relation verdict equals the server's: the isCatalogRel pg_walinspect prints (17+), or, on 15
// and 16 (which do not print it), whether the relation is one of the server's catalog relations.
import { describe, expect, it } from 'vitest';
import { openWal } from '../src/node/wal.js';
import { loadCatalogFilenodes } from '../src/node/slot.js';
import { catalogFileTest, rowRemovalOf } from '../src/slot/guard.js';
import { formatLsn, parseLsn } from '../src/lsn.js';
import { MAJORS, withServer } from './support/pg-server.js';
import { asText, flushedLsn } from './support/slot.js';

describe.each(MAJORS)('PostgreSQL %i', (major) => {
  it('row-removal horizons and catalog verdicts equal the server\'s', async () => {
    await withServer({ major, gucs: { wal_keep_size: "'1GB'" } }, async (server) => {
      const c = await server.connect();
      try {
        await c.query('create extension pg_walinspect');
        await c.query('create table u (id int primary key, v text, p point, r int4range)');
        await c.query('create index u_hash on u using hash (id)');
        await c.query('create index u_gist on u using gist (p)');
        await c.query('create index u_spgist on u using spgist (r)');
        const start = await flushedLsn(c);
        for (let round = 0; round < 3; round++) {
          await c.query(`insert into u select g, repeat('x', 50), point(g, g), int4range(g, g + 10) from generate_series(${round * 3000 + 1}, ${round * 3000 + 3000}) g`);
          await c.query(`delete from u where id % 4 <> 0 and id > ${round * 3000}`);
          // Scans mark dead index entries; later inserts into those pages delete them (simple deletion).
          await c.query('set enable_seqscan = off');
          await c.query(`select count(*) from u where id between ${round * 3000} and ${round * 3000 + 3000}`);
          await c.query('reset enable_seqscan');
          // Back into the same index pages: the dead entries there are deleted to make room.
          await c.query(`insert into u select g, 'again', point(g, g), int4range(g, g + 1) from generate_series(${round * 3000 + 1}, ${round * 3000 + 3000}) g where g % 4 = 1`);
        }
        // Version churn: non-HOT updates fill the primary key's pages with versions of one key, which
        // bottom-up deletion removes (Btree/DELETE with a horizon).
        await c.query('create table w (id int primary key, k int)');
        await c.query('create index w_k on w (k)');
        await c.query('insert into w select g, g from generate_series(1, 2000) g');
        for (let i = 0; i < 25; i++) await c.query('update w set k = k + 1');
        for (let i = 0; i < 20; i++) {
          await c.query(`create table tmp_${i} (a int, b text)`);
          await c.query(`drop table tmp_${i}`);
        }
        await c.query('vacuum u');
        await c.query('vacuum pg_class');
        await c.query('vacuum pg_attribute');
        await c.query('vacuum freeze pg_type');
        await c.query('vacuum freeze u');
        const end = await flushedLsn(c);

        const files = await loadCatalogFilenodes(c);
        const catalogSet = new Set((await c.query(`select pg_relation_filenode(oid)::text as f from pg_class where oid < 12000 and pg_relation_filenode(oid) is not null`)).rows.map((r) => r.f as string));
        const rows = (
          await c.query({ text: `select start_lsn::text, resource_manager, record_type, description, block_ref from pg_get_wal_records_info($1, $2)`, values: [start, end], types: asText })
        ).rows;
        const byLsn = new Map(rows.map((r) => [r.start_lsn as string, r]));
        const test = catalogFileTest(files);
        const seen = new Map<string, number>();
        let catalogs = 0;
        for await (const rec of openWal({ path: server.pgWalDir }).records({ start: parseLsn(start), end: parseLsn(end) })) {
          const row = byLsn.get(formatLsn(rec.lsn));
          expect(row, formatLsn(rec.lsn)).toBeDefined();
          const ours = rowRemovalOf(rec, major, test);
          const h = /(?:snapshotConflictHorizon:? |latestRemovedXid |cutoff xid |newestredirectxid: )(?:\d+:)?(\d+)/.exec(row.description);
          const kind = `${row.resource_manager}/${row.record_type}`;
          if (h === null || Number(h[1]) === 0) {
            expect(ours, `${kind} at ${row.start_lsn}: ${row.description}`).toBeUndefined();
            continue;
          }
          // 15's FREEZE_PAGE conflicts with the xid before its cutoff (heap_xlog_freeze_page).
          const horizon = major === 15 && row.record_type === 'FREEZE_PAGE' ? Number(h[1]) - 1 : Number(h[1]);
          expect(ours, `${kind} at ${row.start_lsn}: ${row.description}`).toBeDefined();
          expect(ours!.horizon, `${kind} at ${row.start_lsn}`).toBe(horizon);
          expect(ours!.record).toBe(kind);
          let serverSays: boolean;
          const printed = /isCatalogRel:? ([TF])/.exec(row.description);
          if (printed !== null) serverSays = printed[1] === 'T';
          else if (major >= 17 && row.record_type === 'VISIBLE') serverSays = (parseInt(/flags: 0x([0-9A-F]+)/i.exec(row.description)![1]!, 16) & 0x04) !== 0;
          else serverSays = catalogSet.has(String(ours!.locator.relNumber));
          expect(ours!.isCatalogRel, `${kind} at ${row.start_lsn} on ${ours!.locator.relNumber}: ${row.description}`).toBe(serverSays);
          seen.set(kind, (seen.get(kind) ?? 0) + 1);
          if (ours!.isCatalogRel) catalogs++;
        }
        console.log(`PostgreSQL ${major}: ${[...seen].map(([k, n]) => `${k} ×${n}`).join(', ')}; ${catalogs} on catalogs`);
        expect(catalogs).toBeGreaterThan(0);
        expect([...seen.values()].reduce((a, b) => a + b, 0) - catalogs).toBeGreaterThan(0);
      } finally {
        await c.end();
      }
    });
  });
});
