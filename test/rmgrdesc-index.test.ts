// The index rmgr descriptions (Btree, Hash, Gin, Gist, SPGist, BRIN) print exactly what pg_walinspect printed for
// every committed fixture record of theirs (only Btree occurs there), for every major; plus unit checks of
// the pieces the live test cannot pin down (%g, conflict horizons).
import { describe, expect, it } from 'vitest';
import { formatLsn } from '../src/lsn.js';
import { profileForMajor } from '../src/xlogreader/profile.js';
import { DecodedRecord } from '../src/xlogreader/record.js';
import type { RmgrDescriptor } from '../src/xlogreader/rmgrdesc/types.js';
import { btreeConflictHorizon, btreeRmgr } from '../src/xlogreader/rmgrdesc/nbtree.js';
import { formatG, hashConflictHorizon, hashRmgr } from '../src/xlogreader/rmgrdesc/hash.js';
import { ginRmgr } from '../src/xlogreader/rmgrdesc/gin.js';
import { gistConflictHorizon, gistRmgr } from '../src/xlogreader/rmgrdesc/gist.js';
import { spgistConflictHorizon, spgistRmgr } from '../src/xlogreader/rmgrdesc/spgist.js';
import { brinRmgr } from '../src/xlogreader/rmgrdesc/brin.js';
import { listFixtures, readTsv, type Fixture } from './support/fixtures.js';
import { fixtureRecords, walinspectContext } from './support/wal.js';

const INDEX_RMGRS: readonly RmgrDescriptor[] = [btreeRmgr, hashRmgr, ginRmgr, gistRmgr, spgistRmgr, brinRmgr];
const byId = new Map(INDEX_RMGRS.map((r) => [r.id, r]));

const fixtures = listFixtures();
const comparedByMajor = new Map<number, number>();

describe.each(fixtures.map((f) => [f.id, f] as [string, Fixture]))('%s', (_id, f) => {
  it('identifies and describes every index-rmgr record as pg_walinspect did', () => {
    const profile = profileForMajor(f.meta.major)!;
    const ctx = walinspectContext(profile);
    const rows = new Map(readTsv(f, 'records.tsv').map((r) => [r.start_lsn!, r]));
    let compared = 0;
    const mismatches: string[] = [];
    for (const rec of fixtureRecords(f)) {
      const rmgr = byId.get(rec.rmid);
      if (rmgr === undefined) continue;
      const row = rows.get(formatLsn(rec.lsn));
      expect(row, `no pg_walinspect row at ${formatLsn(rec.lsn)}`).toBeDefined();
      expect(row!.resource_manager).toBe(rmgr.name);
      compared++;
      const type = rmgr.identify(rec.info, profile);
      const desc = rmgr.describe(rec, ctx);
      if (type !== row!.record_type || desc !== (row!.description ?? '')) {
        mismatches.push(`${formatLsn(rec.lsn)} ${rmgr.name}: ${type} «${desc}» ≠ ${row!.record_type} «${row!.description}»`);
      }
    }
    expect(mismatches.slice(0, 10)).toEqual([]);
    comparedByMajor.set(f.meta.major, (comparedByMajor.get(f.meta.major) ?? 0) + compared);
  });
});

describe('fixture coverage', () => {
  it('compared a reasonable number of Btree records in every major', () => {
    for (const major of [15, 16, 17, 18]) {
      if (!fixtures.some((f) => f.meta.major === major)) continue;
      expect(comparedByMajor.get(major) ?? 0, `PostgreSQL ${major}`).toBeGreaterThan(500);
    }
  });
});

describe('formatG (printf %g)', () => {
  it('prints like glibc', () => {
    // Expectations checked against printf(1), which uses the C library's %g.
    const cases: [number, string][] = [
      [0, '0'],
      [1, '1'],
      [2260, '2260'],
      [123456, '123456'],
      [1234567, '1.23457e+06'],
      [1e6, '1e+06'],
      [999999.5, '1e+06'],
      [0.0001, '0.0001'],
      [0.00001, '1e-05'],
      [1.5, '1.5'],
      [-3.25, '-3.25'],
      [1e100, '1e+100'],
    ];
    for (const [x, s] of cases) expect(formatG(x), String(x)).toBe(s);
  });
});

/** A record with only main data, enough for the parse functions. */
function synthetic(info: number, main: number[]): DecodedRecord {
  const rec = new DecodedRecord(Uint8Array.from(main));
  rec.info = info;
  rec.mainDataOffset = 0;
  rec.mainDataLength = main.length;
  return rec;
}
const u32 = (n: number): number[] => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24];
const u16 = (n: number): number[] => [n & 0xff, n >>> 8];

describe('conflict horizons', () => {
  it('reads horizon and isCatalogRel where each major stores them', () => {
    // xl_btree_delete: horizon, ndeleted, nupdated, isCatalogRel (16+)
    const del = synthetic(0x70, [...u32(745), ...u16(3), ...u16(0), 1, 0]);
    expect(btreeConflictHorizon(del, 15)).toEqual({ horizon: 745, isCatalogRel: false });
    expect(btreeConflictHorizon(del, 16)).toEqual({ horizon: 745, isCatalogRel: true });
    // xl_btree_reuse_page: locator, block, padding, FullTransactionId, isCatalogRel (16+)
    const reuse = synthetic(0xd0, [...u32(1663), ...u32(5), ...u32(16384), ...u32(7), ...u32(900), ...u32(2), 1, 0, 0, 0]);
    expect(btreeConflictHorizon(reuse, 17)).toEqual({ horizon: 900, epoch: 2, isCatalogRel: true });
    expect(btreeConflictHorizon(synthetic(0x00, u16(1)), 17)).toBeUndefined();
    // xl_hash_vacuum_one_page: 15 has an int ntuples and no flag
    const hash = synthetic(0xc0, [...u32(800), ...u16(4), 1, 0]);
    expect(hashConflictHorizon(hash, 15)).toEqual({ horizon: 800, isCatalogRel: false });
    expect(hashConflictHorizon(hash, 18)).toEqual({ horizon: 800, isCatalogRel: true });
    // gistxlogDelete: horizon, ntodelete, isCatalogRel
    expect(gistConflictHorizon(synthetic(0x10, [...u32(801), ...u16(2), 1, 0]), 16)).toEqual({ horizon: 801, isCatalogRel: true });
    // spgxlogVacuumRedirect: nToPlaceholder, firstPlaceholder, horizon, isCatalogRel
    const redirect = synthetic(0x80, [...u16(1), ...u16(9), ...u32(802), 0, 0, 0, 0]);
    expect(spgistConflictHorizon(redirect, 17)).toEqual({ horizon: 802, isCatalogRel: false });
  });
});
