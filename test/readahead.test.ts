// Read-ahead (DirectorySource's worker thread, which reads later segments and checks their records' CRC-32C):
// the records and the end of WAL are exactly those of reading on one thread, and the server's, on the
// committed multi-segment fixtures written out as plain segment files, intact and with a damaged record.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatLsn, parseLsn } from '../src/lsn.js';
import { DirectorySource } from '../src/node/directory.js';
import type { EndOfWal } from '../src/xlogreader/reader.js';
import { XLogReader } from '../src/xlogreader/reader.js';
import { readRecordsSync, type SourceBytes, type SourceMiss, type SyncPageSource } from '../src/xlogreader/source.js';
import { profileForMajor } from '../src/xlogreader/profile.js';
import { walinspectRow } from '../src/xlogreader/describe.js';
import { walinspectContext } from '../src/xlogreader/timestamp.js';
import { listFixtures, readSegment, readTsv, type Fixture } from './support/fixtures.js';

const XLOG_BLCKSZ = 8192;
const fixtures = listFixtures().filter((f) => f.meta.segments.length > 1);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-readahead-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** The fixture's segments as plain files in a fresh folder. */
function writeOut(f: Fixture, name: string): string {
  const dir = path.join(tmp, f.id.replace('/', '-') + '-' + name);
  fs.mkdirSync(dir);
  for (const seg of f.meta.segments) fs.writeFileSync(path.join(dir, seg), readSegment(f, seg));
  return dir;
}

interface Outcome {
  lsns: string[];
  rows: unknown[];
  end: EndOfWal;
  /** Records whose CRC the worker had already checked (the reader skipped it). */
  vouched: number;
}

function read(f: Fixture, dir: string, readAhead: number): Outcome {
  const inner = new DirectorySource({ dirs: [dir], segmentSize: f.meta.walSegmentSize, timeline: f.meta.timeline, readAhead });
  let vouched = 0;
  const source: SyncPageSource = {
    read(pagePtr, minLength): SourceBytes | SourceMiss {
      const got = inner.read(pagePtr, minLength);
      if ('missing' in got || got.crc === undefined) return got;
      const crc = got.crc;
      return { ...got, crc: { verified: (offset) => (crc.verified(offset) ? (vouched++, true) : false) } };
    },
  };
  const reader = new XLogReader({ segmentSize: f.meta.walSegmentSize, startLsn: parseLsn(f.meta.startLsn), findFirst: true, endLsn: parseLsn(f.meta.endLsn) });
  const ctx = walinspectContext(profileForMajor(f.meta.major)!);
  const it = readRecordsSync(reader, source);
  const lsns: string[] = [];
  const rows: unknown[] = [];
  for (;;) {
    const r = it.next();
    if (r.done) return { lsns, rows, end: r.value, vouched };
    lsns.push(formatLsn(r.value.lsn));
    rows.push(walinspectRow(r.value, ctx));
  }
}

describe.each(fixtures.map((f) => [f.id, f] as [string, Fixture]))('%s', (_id, f) => {
  const segStart2 = parseInt(f.meta.segments[1]!.slice(16), 16) * f.meta.walSegmentSize;
  const server = readTsv(f, 'records.tsv');

  it('reads the records pg_get_wal_records_info returned, the worker vouching for those of the later segment', () => {
    const dir = writeOut(f, 'intact');
    const ahead = read(f, dir, 2);
    const alone = read(f, dir, 0);
    expect(ahead.rows).toEqual(server);
    expect(ahead.rows).toEqual(alone.rows);
    expect(ahead.end).toEqual(alone.end);
    expect(alone.vouched).toBe(0);
    // Every record starting in the second segment, but one that began in the first (it spans both).
    const later = server.filter((r) => parseLsn(r.start_lsn!) >= segStart2).length;
    expect(ahead.vouched).toBe(later);
    if (later > 0) expect(ahead.vouched).toBeGreaterThan(0);
  });

  // A byte of a record in the later segment flipped: its CRC no longer matches. Reading must end there with
  // PostgreSQL's message, every record before it delivered, whatever the worker found.
  const victims = server
    .map((r) => ({ lsn: parseLsn(r.start_lsn!), length: Number(r.record_length) }))
    .filter((r) => r.lsn >= segStart2 && (r.lsn % XLOG_BLCKSZ) + 32 <= XLOG_BLCKSZ);
  const picks = [victims[0], victims[Math.floor(victims.length / 2)], victims.find((v) => (v.lsn % XLOG_BLCKSZ) + v.length > XLOG_BLCKSZ)];
  for (const victim of new Set(picks.filter((v) => v !== undefined))) {
    it(`ends at a damaged record at ${formatLsn(victim.lsn)} (${victim.length} bytes) as reading on one thread does`, () => {
      const dir = writeOut(f, `bad-${victim.lsn}`);
      const seg = f.meta.segments[1]!;
      const file = path.join(dir, seg);
      const bytes = fs.readFileSync(file);
      bytes[victim.lsn - segStart2 + 28] ^= 0x5a;
      fs.writeFileSync(file, bytes);
      const ahead = read(f, dir, 2);
      const alone = read(f, dir, 0);
      const before = server.filter((r) => parseLsn(r.start_lsn!) < victim.lsn);
      expect(ahead.rows).toEqual(before);
      expect(ahead.end).toEqual({ reason: 'invalid-record', lsn: victim.lsn, message: `incorrect resource manager data checksum in record at ${formatLsn(victim.lsn)}`, pagePtr: undefined });
      expect(alone.rows).toEqual(before);
      expect(alone.end).toEqual(ahead.end);
      // The worker vouched for the records before the damage in that segment, none at or after it.
      expect(ahead.vouched).toBe(before.filter((r) => parseLsn(r.start_lsn!) >= segStart2).length);
    });
  }
});
