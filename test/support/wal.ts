// Reading fixture and live-server WAL with pgwal's reader, for tests.
import { parseLsn, type Lsn } from '../../src/lsn.js';
import { XLogReader, type EndOfWal } from '../../src/xlogreader/reader.js';
import { MemorySource, readRecordsSync } from '../../src/xlogreader/source.js';
import type { DecodedRecord } from '../../src/xlogreader/record.js';
import { DirectorySource, inspectDirectory } from '../../src/node/directory.js';
import { readFixtureFile, readSegment, type Fixture } from './fixtures.js';
import { HistoricCatalog } from '../../src/catalog/historic.js';
import { catalogSnapshotFromJson } from '../../src/catalog/snapshot-json.js';
import type { CatalogView, DecoderCatalog } from '../../src/reorderbuffer/catalog.js';

export { walinspectContext, waldumpContext } from '../../src/xlogreader/timestamp.js';

/** A memory source holding every segment of a fixture. */
export function fixtureSource(f: Fixture): MemorySource {
  const source = new MemorySource(f.meta.walSegmentSize);
  for (const name of f.meta.segments) source.add(name, readSegment(f, name));
  return source;
}

export interface Read {
  records: DecodedRecord[];
  end: EndOfWal;
}

/** Records from `start` (the first at or after it) while they end at or before `end`, like pg_walinspect. */
export function readAll(reader: XLogReader, source: Parameters<typeof readRecordsSync>[1], end?: Lsn): Read {
  const records: DecodedRecord[] = [];
  const it = readRecordsSync(reader, source);
  for (;;) {
    const r = it.next();
    if (r.done) return { records, end: r.value };
    if (end !== undefined && r.value.endLsn > end) return { records, end: { reason: 'end-lsn', lsn: end, message: '' } };
    records.push(r.value);
  }
}

/** The records of a fixture's range [startLsn, endLsn), as pg_get_wal_records_info returns them. */
export function fixtureRecords(f: Fixture): DecodedRecord[] {
  return fixtureRead(f).records;
}

export function fixtureRead(f: Fixture, options: { start?: Lsn; end?: Lsn | null } = {}): Read {
  const start = options.start ?? parseLsn(f.meta.startLsn);
  const end = options.end === null ? undefined : (options.end ?? parseLsn(f.meta.endLsn));
  const reader = new XLogReader({ segmentSize: f.meta.walSegmentSize, startLsn: start, findFirst: true });
  return readAll(reader, fixtureSource(f), end);
}

/** Records of a live server's pg_wal (or any folder) from `start` while they end at or before `end`. */
export function walDirRecords(dir: string, start: Lsn, end: Lsn): DecodedRecord[] {
  const info = inspectDirectory([dir]);
  const source = new DirectorySource({ dirs: [dir], segmentSize: info.segmentSize, timeline: info.timeline });
  const reader = new XLogReader({ segmentSize: info.segmentSize, startLsn: start, findFirst: true });
  return readAll(reader, source, end).records;
}

/** The catalog a fixture's slot decodes with: its historic catalog from the shipped pages, else its catalog.json. */
export function fixtureCatalog(f: Fixture): DecoderCatalog | CatalogView {
  const pages = (f.meta.files as Record<string, string>).catalogPages;
  return pages !== undefined
    ? new HistoricCatalog(catalogSnapshotFromJson(JSON.parse(readFixtureFile(f, pages.replace(/\.gz$/, '')).toString())))
    : (JSON.parse(readFixtureFile(f, 'catalog.json').toString()) as DecoderCatalog);
}
