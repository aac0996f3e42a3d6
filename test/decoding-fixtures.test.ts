// The committed fixtures decoded by pgwal equal the server's test_decoding output for the same slot
// (decoded.tsv / decoded-xids.tsv), for every scenario whose schema does not change inside its range.
import { describe, expect, it } from 'vitest';
import { formatLsn, parseLsn } from '../src/index.js';
import { TestDecodingDecoder, type DecoderCatalog } from '../src/reorderbuffer/decoder.js';
import { profileForMajor } from '../src/xlogreader/profile.js';
import { listFixtures, readFixtureFile, readTsv, type Fixture } from './support/fixtures.js';
import { fixtureRead } from './support/wal.js';

// DDL inside the range needs the historic catalog (not built yet): these scenarios change relfilenodes or columns.
const NEEDS_HISTORIC_CATALOG = new Set(['ddl-between-dml', 'truncate']);

const fixtures = listFixtures().filter((f) => !NEEDS_HISTORIC_CATALOG.has(f.meta.scenario));

describe.each(fixtures.map((f) => [f.id, f] as [string, Fixture]))('%s', (_id, f) => {
  it('prints what test_decoding printed for the slot, with include-xids on and off', () => {
    const catalog = JSON.parse(readFixtureFile(f, 'catalog.json').toString()) as DecoderCatalog;
    const slot = f.meta.slots.find((s) => !s.twoPhase)!;
    const { records } = fixtureRead(f, { start: parseLsn(slot.restartLsn) });
    for (const [file, includeXids] of [['decoded-xids.tsv', true], ['decoded.tsv', false]] as const) {
      const decoder = new TestDecodingDecoder(catalog, profileForMajor(f.meta.major)!.major, { includeXids, skipEmptyXacts: true }, parseLsn(slot.confirmedFlushLsn));
      for (const rec of records) decoder.process(rec);
      const theirs = readTsv(f, file).map((r) => `${r.lsn}\t${r.xid}\t${r.data}`);
      const ours = decoder.output.map((o) => `${formatLsn(o.lsn)}\t${o.xid}\t${o.data}`);
      expect(ours.length, file).toBe(theirs.length);
      ours.forEach((row, i) => expect(row, `${file} row ${i}`).toBe(theirs[i]));
    }
  });
});
