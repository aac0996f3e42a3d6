// The committed fixtures decoded by pgwal equal the server's test_decoding output for the same slot
// (decoded.tsv / decoded-xids.tsv, and decoded-twophase.tsv from a two_phase slot), for every scenario whose
// schema does not change inside its range — also when every change goes through the spill store. Scenarios
// whose schema changes in the range carry the catalog's raw pages (catalog-pages.json.gz) and decode with the
// historic catalog.
import { describe, expect, it } from 'vitest';
import { formatLsn, parseLsn } from '../src/index.js';
import { TestDecodingDecoder, type DecoderCatalog } from '../src/reorderbuffer/decoder.js';
import type { CatalogView } from '../src/reorderbuffer/catalog.js';
import { HistoricCatalog } from '../src/catalog/historic.js';
import { catalogSnapshotFromJson } from '../src/catalog/snapshot-json.js';
import { MemorySpillStore } from '../src/reorderbuffer/spill.js';
import { profileForMajor } from '../src/xlogreader/profile.js';
import { listFixtures, readFixtureFile, readTsv, type Fixture } from './support/fixtures.js';
import { fixtureRead } from './support/wal.js';

const fixtures = listFixtures();

function expectRows(f: Fixture, file: string, rows: { lsn: number; xid: number; data: string }[]): void {
  const theirs = readTsv(f, file).map((r) => `${r.lsn}\t${r.xid}\t${r.data}`);
  const ours = rows.map((o) => `${formatLsn(o.lsn)}\t${o.xid}\t${o.data}`);
  expect(ours.length, file).toBe(theirs.length);
  ours.forEach((row, i) => expect(row, `${file} row ${i}`).toBe(theirs[i]));
}

describe.each(fixtures.map((f) => [f.id, f] as [string, Fixture]))('%s', (_id, f) => {
  const pages = (f.meta.files as Record<string, string>).catalogPages;
  const catalog = (): DecoderCatalog | CatalogView =>
    pages !== undefined
      ? new HistoricCatalog(catalogSnapshotFromJson(JSON.parse(readFixtureFile(f, pages.replace(/\.gz$/, '')).toString())))
      : (JSON.parse(readFixtureFile(f, 'catalog.json').toString()) as DecoderCatalog);
  const major = profileForMajor(f.meta.major)!.major;

  it('prints what test_decoding printed for the slot, with include-xids on and off', () => {
    const slot = f.meta.slots.find((s) => !s.twoPhase)!;
    const { records } = fixtureRead(f, { start: parseLsn(slot.restartLsn) });
    for (const [file, includeXids] of [['decoded-xids.tsv', true], ['decoded.tsv', false]] as const) {
      const decoder = new TestDecodingDecoder(catalog(), major, { includeXids, skipEmptyXacts: true }, parseLsn(slot.confirmedFlushLsn));
      for (const rec of records) decoder.process(rec);
      expectRows(f, file, decoder.output);
    }
  });

  it('prints the same when every change is spilled and read back', () => {
    const slot = f.meta.slots.find((s) => !s.twoPhase)!;
    const { records } = fixtureRead(f, { start: parseLsn(slot.restartLsn) });
    const spill = new MemorySpillStore();
    const decoder = new TestDecodingDecoder(catalog(), major, { includeXids: true, skipEmptyXacts: true }, parseLsn(slot.confirmedFlushLsn), { memoryLimit: 1, spill });
    for (const rec of records) decoder.process(rec);
    expectRows(f, 'decoded-xids.tsv', decoder.output);
    if (decoder.output.length > 0) expect(spill.writes).toBeGreaterThan(0);
    expect(spill.bytes, 'spilled changes are dropped at commit/abort').toBe(0);
    expect(decoder.memoryUsed).toBe(0);
  });

  const twoPhase = f.meta.slots.find((s) => s.twoPhase);
  if (twoPhase !== undefined) it('prints what a two_phase slot printed (PREPARE TRANSACTION, COMMIT/ROLLBACK PREPARED)', () => {
    const { records } = fixtureRead(f, { start: parseLsn(twoPhase!.restartLsn) });
    const start = parseLsn(twoPhase!.confirmedFlushLsn);
    // A slot created with two_phase has two_phase_at = its consistent point, here its confirmed_flush.
    const decoder = new TestDecodingDecoder(catalog(), major, { includeXids: false, skipEmptyXacts: true }, start, { twoPhaseAt: start });
    for (const rec of records) decoder.process(rec);
    expectRows(f, 'decoded-twophase.tsv', decoder.output);
  });
});
