// The historic catalog on the committed fixtures whose schema changes in the range (no server): its pages survive
// serialization; a snapshot exported at the end of the range decodes the whole range again exactly (pages newer
// than the records, dated by the commits read again); a catalog page missing from the snapshot stops decoding
// with a typed error naming the relation and LSN instead of printing a wrong column list.
import { describe, expect, it } from 'vitest';
import { formatLsn, parseLsn } from '../src/index.js';
import { TestDecodingDecoder } from '../src/reorderbuffer/logical.js';
import { HistoricCatalog, PG_ATTRIBUTE, type CatalogSnapshot } from '../src/catalog/historic.js';
import { CatalogError } from '../src/catalog/errors.js';
import { pageToRaw, parsePage } from '../src/catalog/page.js';
import { catalogSnapshotFromJson, catalogSnapshotToJson, fromBase64, toBase64 } from '../src/catalog/snapshot-json.js';
import { profileForMajor } from '../src/xlogreader/profile.js';
import { listFixtures, readFixtureFile, readTsv, type Fixture } from './support/fixtures.js';
import { fixtureRead } from './support/wal.js';

const fixtures = listFixtures().filter((f) => (f.meta.files as Record<string, string>).catalogPages !== undefined);

function snapshotOf(f: Fixture): CatalogSnapshot {
  return catalogSnapshotFromJson(JSON.parse(readFixtureFile(f, 'catalog-pages.json').toString()));
}

function decode(f: Fixture, catalog: HistoricCatalog): string[] {
  const slot = f.meta.slots.find((s) => !s.twoPhase)!;
  const decoder = new TestDecodingDecoder(catalog, profileForMajor(f.meta.major)!.major, { includeXids: true, skipEmptyXacts: true }, parseLsn(slot.confirmedFlushLsn));
  for (const rec of fixtureRead(f, { start: parseLsn(slot.restartLsn) }).records) decoder.process(rec);
  return decoder.output.map((o) => `${formatLsn(o.lsn)}\t${o.xid}\t${o.data}`);
}

const theirs = (f: Fixture): string[] => readTsv(f, 'decoded-xids.tsv').map((r) => `${r.lsn}\t${r.xid}\t${r.data}`);

it('base64 round-trips every byte pattern', () => {
  for (let n = 0; n < 40; n++) {
    const b = Uint8Array.from({ length: n }, (_, i) => (i * 97 + n) & 0xff);
    expect(fromBase64(toBase64(b))).toEqual(b);
    expect(toBase64(b)).toBe(Buffer.from(b).toString('base64'));
  }
});

describe.each(fixtures.map((f) => [f.id, f] as [string, Fixture]))('%s', (_id, f) => {
  it('keeps every page through parse, rebuild and JSON', () => {
    const s = snapshotOf(f);
    expect(s.pages.length).toBeGreaterThan(50);
    // (compared as text: deep equality of thousands of byte arrays is slow)
    const items = (raw: Uint8Array): string =>
      parsePage(raw, 0)
        .items.map((i) => `${i.flags}:${i.redirect}:${i.tuple === undefined ? '' : Buffer.from(i.tuple).toString('hex')}`)
        .join('|');
    for (const p of s.pages) expect(items(pageToRaw(parsePage(p.page, 0)))).toBe(items(p.page));
    const back = catalogSnapshotFromJson(JSON.parse(JSON.stringify(catalogSnapshotToJson(s))));
    expect({ ...back, pages: back.pages.length }).toEqual({ ...s, pages: s.pages.length });
    back.pages.forEach((p, i) => expect(Buffer.compare(p.page, s.pages[i]!.page) === 0 && p.block === s.pages[i]!.block && p.relfilenode === s.pages[i]!.relfilenode).toBe(true));
  });

  it('decodes the range again from a snapshot exported at its end', () => {
    const first = new HistoricCatalog(snapshotOf(f));
    expect(decode(f, first)).toEqual(theirs(f));
    const exported = catalogSnapshotFromJson(JSON.parse(JSON.stringify(catalogSnapshotToJson(first.exportSnapshot(parseLsn(f.meta.slots.find((x) => !x.twoPhase)!.restartLsn))))));
    expect(decode(f, new HistoricCatalog(exported))).toEqual(theirs(f));
  });

  it('stops with a typed error naming the relation and LSN when a catalog page was never seen', () => {
    const s = snapshotOf(f);
    const fn = s.filenodes[PG_ATTRIBUTE]!;
    const holed = { ...s, pages: s.pages.filter((p) => !(p.relfilenode === fn && p.block === 0)) };
    let error: unknown;
    try {
      decode(f, new HistoricCatalog(holed));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CatalogError);
    expect((error as CatalogError).code).toBe('catalog-page-missing');
    expect((error as CatalogError).message).toMatch(/catalog relation pg_attribute \(relfilenode \d+\) block 0 was never seen: its rows as of \w+\/\w+ cannot be known/);
    expect((error as CatalogError).lsn).toBeGreaterThan(0);
  });
});
