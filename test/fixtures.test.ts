// The committed fixtures are complete and consistent: every scenario for every major, every file the
// meta names, segments of the right size with the right page magic, and server answers inside the range.
import { describe, expect, it } from 'vitest';
import { parseLsn, segmentOf, parseSegmentFileName } from '../src/index.js';
import { hasFixtureFile, listFixtures, readSegment, readTsv, type Fixture } from './support/fixtures.js';
import { scenarios } from '../scripts/fixture-scenarios.js';

// XLOG_PAGE_MAGIC per major, from each version's src/include/access/xlog_internal.h.
const PAGE_MAGIC: Record<number, number> = { 15: 0xd110, 16: 0xd113, 17: 0xd116, 18: 0xd118 };
const XLP_LONG_HEADER = 0x0002;

const fixtures = listFixtures();

describe('fixture set', () => {
  it('holds every scenario for every major', () => {
    const have = new Set(fixtures.map((f) => f.id));
    const missing: string[] = [];
    for (const major of [15, 16, 17, 18]) {
      for (const s of scenarios) {
        if (s.flavor === 'debian' && major !== 15) continue;
        if (!have.has(`pg${major}/${s.name}`)) missing.push(`pg${major}/${s.name}`);
      }
    }
    expect(missing).toEqual([]);
    expect(fixtures.length).toBe(scenarios.filter((s) => s.flavor !== 'debian').length * 4 + scenarios.filter((s) => s.flavor === 'debian').length);
  });
});

describe.each(fixtures.map((f) => [f.id, f] as [string, Fixture]))('%s', (_id, f) => {
  const m = f.meta;

  it('has a complete meta.json and every file it names', () => {
    expect(m.major).toBe(Number(f.id.slice(2, 4)));
    expect(m.version.startsWith(String(m.major))).toBe(true);
    expect(m.walSegmentSize).toBe(1024 * 1024);
    expect(m.blockSize).toBe(8192);
    expect(parseLsn(m.startLsn)).toBeLessThan(parseLsn(m.endLsn));
    expect(m.slots.length).toBeGreaterThan(0);
    for (const slot of m.slots) {
      expect(slot.plugin).toBe(m.wal2jsonOptions !== undefined && slot.name.endsWith('_w2j') ? 'wal2json' : /_pgo(2pc)?$/.test(slot.name) ? 'pgoutput' : 'test_decoding');
      expect(parseLsn(slot.restartLsn)).toBeGreaterThanOrEqual(parseLsn(m.startLsn));
      expect(Number(slot.catalogXmin)).toBeGreaterThan(0);
    }
    const expected = ['records.tsv', 'stats.tsv', 'stats-record.tsv', 'decoded.tsv', 'decoded-xids.tsv'];
    if (m.major >= 16) expected.push('blocks.tsv');
    if (m.slots.some((s) => s.twoPhase)) expected.push('decoded-twophase.tsv');
    if (m.slots.some((s) => s.plugin === 'wal2json')) expected.push(...Object.keys(m.wal2jsonOptions ?? {}).map((n) => `${n}.tsv`));
    // pg15/types-dml and pg15/torn-record predate the pgoutput answers (see pgoutput-fixtures.test.ts).
    if (m.pgoutputOptions !== undefined) expect(m.slots.filter((s) => s.plugin === 'pgoutput').length).toBe(m.slots.some((s) => s.twoPhase) ? 2 : 1);
    expected.push(...Object.keys(m.pgoutputOptions ?? {}).map((n) => `${n}.tsv`));
    for (const name of expected) expect(hasFixtureFile(f, name), name).toBe(true);
    for (const stored of Object.values(m.files)) expect(hasFixtureFile(f, stored.replace(/\.gz$/, '')), stored).toBe(true);
  });

  it('ships whole segments covering the range, with the major\'s page magic and system identifier', () => {
    const segSize = m.walSegmentSize;
    const segnos = m.segments.map((name) => parseSegmentFileName(name, segSize).segno);
    expect(segnos[0]).toBe(segmentOf(parseLsn(m.startLsn), segSize));
    expect(segnos[segnos.length - 1]).toBe(segmentOf(parseLsn(m.endLsn), segSize));
    segnos.forEach((n, i) => expect(n).toBe(segnos[0]! + i));
    for (const name of m.segments) {
      const bytes = readSegment(f, name);
      expect(bytes.length).toBe(segSize);
      const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      expect(v.getUint16(0, true).toString(16)).toBe(PAGE_MAGIC[m.major]!.toString(16));
      expect(v.getUint16(2, true) & XLP_LONG_HEADER).toBe(XLP_LONG_HEADER);
      expect(v.getBigUint64(24, true).toString()).toBe(m.systemIdentifier);
      expect(v.getUint32(32, true)).toBe(segSize);
      expect(v.getUint32(36, true)).toBe(8192);
    }
  });

  it('has server answers that lie inside the shipped range', () => {
    const start = parseLsn(m.startLsn);
    const end = parseLsn(m.endLsn);
    const records = readTsv(f, 'records.tsv');
    expect(records.length).toBeGreaterThan(0);
    let prev = 0;
    for (const r of records) {
      const lsn = parseLsn(r.start_lsn!);
      expect(lsn).toBeGreaterThanOrEqual(start);
      expect(lsn).toBeLessThan(end);
      expect(parseLsn(r.end_lsn!)).toBeLessThanOrEqual(end);
      expect(lsn).toBeGreaterThan(prev);
      prev = lsn;
    }
    const stats = readTsv(f, 'stats.tsv');
    const counted = stats.reduce((n, s) => n + Number(s.count), 0);
    expect(counted).toBe(records.length);
    if (m.major >= 16) {
      const starts = new Set(records.map((r) => r.start_lsn));
      for (const b of readTsv(f, 'blocks.tsv')) expect(starts.has(b.start_lsn)).toBe(true);
    }
    for (const name of ['decoded.tsv', 'decoded-xids.tsv']) {
      const rows = readTsv(f, name);
      for (const row of rows) expect(parseLsn(row.lsn!)).toBeLessThanOrEqual(end);
      // skip-empty-xacts is on: every transaction that shows up has BEGIN/COMMIT pairs.
      const begins = rows.filter((r) => r.data!.startsWith('BEGIN')).length;
      expect(rows.filter((r) => r.data!.startsWith('COMMIT')).length).toBe(begins);
    }
  });
});
