// Every record of every fixture, read by pgwal, equals what the server said about it: pg_walinspect's record,
// block and stats rows (all majors), and pg_waldump's text (PostgreSQL 15, from Debian's pg_waldump).
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { formatLsn, parseLsn } from '../src/index.js';
import { blockRefInfo, walinspectBlockRows, walinspectRow, waldumpLine } from '../src/xlogreader/describe.js';
import { restoreBlockImage } from '../src/xlogreader/fpi.js';
import { profileForMajor } from '../src/xlogreader/profile.js';
import { WalStats, walinspectStatsRows, waldumpStatsText } from '../src/xlogreader/stats.js';
import { hasFixtureFile, listFixtures, readFixtureFile, readTsv, type Fixture } from './support/fixtures.js';
import { fixtureRead, walinspectContext, waldumpContext } from './support/wal.js';

const fixtures = listFixtures();

describe.each(fixtures.map((f) => [f.id, f] as [string, Fixture]))('%s', (_id, f) => {
  const profile = profileForMajor(f.meta.major)!;
  const ctx = walinspectContext(profile);
  const read = fixtureRead(f);

  it('reads exactly the records pg_get_wal_records_info returned, equal in every column', () => {
    const rows = readTsv(f, 'records.tsv');
    expect(read.records.length).toBe(rows.length);
    const ours = read.records.map((r) => walinspectRow(r, ctx));
    // Compare the structural columns for all rows first: a framing error shows here, not as a description diff.
    expect(ours.map((r) => [r.start_lsn, r.end_lsn, r.prev_lsn, r.xid, r.record_length, r.main_data_length, r.fpi_length, r.block_ref])).toEqual(
      rows.map((r) => [r.start_lsn, r.end_lsn, r.prev_lsn, r.xid, r.record_length, r.main_data_length, r.fpi_length, r.block_ref]),
    );
    expect(ours).toEqual(rows);
  });

  if (f.meta.major >= 16) it('equals pg_get_wal_block_info, block data and restored page bytes included', () => {
    const rows = readTsv(f, 'blocks.tsv');
    const ours = read.records.flatMap((r) => walinspectBlockRows(r, ctx, (rec, id) => restoreBlockImage(rec, id)));
    expect(ours.length).toBe(rows.length);
    ours.forEach((row, i) => expect(row, `block row ${i}`).toEqual(Object.values(rows[i]!)));
  });

  it('equals pg_get_wal_stats per rmgr and per record type', () => {
    const stats = new WalStats();
    for (const r of read.records) stats.add(r);
    expect(walinspectStatsRows(stats, false, profile)).toEqual(readTsv(f, 'stats.tsv').map((r) => Object.values(r)));
    expect(walinspectStatsRows(stats, true, profile)).toEqual(readTsv(f, 'stats-record.tsv').map((r) => Object.values(r)));
  });

  it('restores every full-page image to a page whose header agrees with the image\'s hole', () => {
    let images = 0;
    for (const rec of read.records) {
      for (const b of rec.blocks) {
        if (b === undefined || !b.hasImage) continue;
        const page = restoreBlockImage(rec, b.id);
        images++;
        if (b.holeLength > 0) {
          // A standard page: pd_lower and pd_upper bound the hole that was left out.
          const v = new DataView(page.buffer);
          expect(v.getUint16(12, true)).toBe(b.holeOffset);
          expect(v.getUint16(14, true)).toBe(b.holeOffset + b.holeLength);
        }
      }
    }
    if (f.meta.scenario.startsWith('fpi-')) expect(images).toBeGreaterThan(20);
  });

  if (hasFixtureFile(f, 'fpi-pages.tsv')) it('restores lz4/zstd images to the pages liblz4/libzstd produce', () => {
    const expected = readTsv(f, 'fpi-pages.tsv');
    const byLsn = new Map(read.records.map((r) => [formatLsn(r.lsn), r]));
    expect(expected.length).toBeGreaterThan(20);
    for (const e of expected) {
      const page = restoreBlockImage(byLsn.get(e.start_lsn!)!, Number(e.block_id));
      expect(createHash('sha256').update(page).digest('hex'), `${e.start_lsn} #${e.block_id}`).toBe(e.sha256);
    }
  });

  if (hasFixtureFile(f, 'waldump.txt')) it('prints pg_waldump\'s text, block details and stats byte for byte', () => {
    const dctx = waldumpContext(profile);
    const end = parseLsn(f.meta.endLsn);
    // pg_waldump -e stops before a record whose bytes reach past the end, as our end option does.
    const recs = fixtureRead(f, { end: null }).records.filter((r) => r.lsn + r.totalLength <= end || r.endLsn <= end);
    const text = recs.map((r) => waldumpLine(r, dctx, false)).join('');
    expect(text).toBe(readFixtureFile(f, 'waldump.txt').toString());
    const bkp = recs.map((r) => waldumpLine(r, dctx, true)).join('');
    expect(bkp).toBe(readFixtureFile(f, 'waldump-bkp.txt').toString());
    const stats = new WalStats();
    for (const r of recs) stats.add(r);
    expect(waldumpStatsText(stats, true, profile)).toBe(readFixtureFile(f, 'waldump-stats.txt').toString());
  });

  if (hasFixtureFile(f, 'waldump-end.txt')) it('ends where pg_waldump ends, with its message', () => {
    const tail = fixtureRead(f, { end: null });
    const expected = readFixtureFile(f, 'waldump-end.txt').toString();
    const last = tail.records[tail.records.length - 1]!;
    expect(tail.end.reason).toBe('invalid-record');
    expect(`exit 1\npg_waldump: error: error in WAL record at ${formatLsn(last.lsn)}: ${tail.end.message}\n`).toBe(expected);
  });

  it('gives block references in pg_walinspect\'s format for records with blocks', () => {
    const withBlocks = read.records.filter((r) => r.maxBlockId >= 0);
    for (const r of withBlocks) expect(blockRefInfo(r, false, true)).toMatch(/^blkref #\d+: rel \d+\/\d+\/\d+ fork \w+ blk \d+/);
  });
});
