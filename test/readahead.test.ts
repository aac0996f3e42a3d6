// Read-ahead (DirectorySource's worker thread, which reads later segments and checks their records' CRC-32C):
// the records and the end of WAL are exactly those of reading on one thread, and the server's, on the
// committed multi-segment fixtures written out as plain segment files, intact and with a damaged record.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatLsn, parseLsn } from '../src/lsn.js';
import { DirectorySource } from '../src/node/directory.js';
import { readWindowInRing, releaseWindow, waitForReadAhead, WINDOW_MAX } from '../src/node/readahead.js';
import type { EndOfWal } from '../src/xlogreader/reader.js';
import { XLogReader } from '../src/xlogreader/reader.js';
import { readRecordsSync, type SourceBytes, type SourceMiss, type SyncPageSource } from '../src/xlogreader/source.js';
import { profileForMajor } from '../src/xlogreader/profile.js';
import { walinspectRow } from '../src/xlogreader/describe.js';
import { walinspectContext } from '../src/xlogreader/timestamp.js';
import { listFixtures, readSegment, readTsv, type Fixture } from './support/fixtures.js';
import { filler, WalBuilder } from './support/walbuilder.js';

const XLOG_BLCKSZ = 8192;
const fixtures = listFixtures().filter((f) => f.meta.segments.length > 1);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-readahead-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
// Which records the worker vouches for depends on timing unless the reader always waits for it.
waitForReadAhead(true);
afterAll(() => waitForReadAhead(false));

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
  /** Records whose bytes had changed or gone by the end: their window was reused (recycling). */
  reused: number;
  /** Records read from the memory shared with the worker (its ring of windows, when recycling). */
  shared: number;
  /** Every record's fields as read (the reused record object changes afterwards). */
  fields: unknown[];
}

/** `recycle`: windows and assembly blocks reused once left (recycleWindows, reuseBuffers), as `pgwal dump` reads. */
function read(f: Fixture, dir: string, readAhead: number, recycle = false): Outcome {
  const inner = new DirectorySource({ dirs: [dir], segmentSize: f.meta.walSegmentSize, timeline: f.meta.timeline, readAhead, recycleWindows: recycle });
  let vouched = 0;
  const source: SyncPageSource = {
    read(pagePtr, minLength): SourceBytes | SourceMiss {
      const got = inner.read(pagePtr, minLength);
      if ('missing' in got || got.crc === undefined) return got;
      const crc = got.crc;
      return { ...got, crc: { verified: (offset) => (crc.verified(offset) ? (vouched++, true) : false) } };
    },
  };
  const reader = new XLogReader({ segmentSize: f.meta.walSegmentSize, startLsn: parseLsn(f.meta.startLsn), findFirst: true, endLsn: parseLsn(f.meta.endLsn), reuseBuffers: recycle });
  const ctx = walinspectContext(profileForMajor(f.meta.major)!);
  const it = readRecordsSync(reader, source);
  const lsns: string[] = [];
  const rows: unknown[] = [];
  // Where each record's header lay and what it was, to see afterwards whether its bytes are still there (with
  // recycling the record object itself is reused: its fields are taken now).
  const kept: { source: Uint8Array; at: number; header: Uint8Array }[] = [];
  let shared = 0;
  const fields: unknown[] = [];
  for (;;) {
    const r = it.next();
    if (r.done) {
      inner.close();
      const reused = kept.filter(({ source, at, header }) => source.buffer.byteLength === 0 || !source.subarray(at, at + 24).every((b, i) => b === header[i])).length;
      return { lsns, rows, end: r.value, vouched, reused, shared, fields };
    }
    kept.push({ source: r.value.source, at: r.value.sourceOffset, header: r.value.source.slice(r.value.sourceOffset, r.value.sourceOffset + 24) });
    if (r.value.source.buffer instanceof SharedArrayBuffer) shared++;
    const x = r.value;
    fields.push([x.lsn, x.endLsn, x.prevLsn, x.totalLength, x.xid, x.info, x.rmid, x.crc, x.origin, x.toplevelXid, x.mainDataOffset, x.mainDataLength, x.maxBlockId, x.fpiLength, x.timeline, x.blocks.length, Array.from(x.bytes.subarray(0, 64))]);
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
    const recycled = read(f, dir, 2, true);
    expect(recycled.rows).toEqual(server);
    expect(recycled.end).toEqual(alone.end);
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

// Recycling (what `pgwal dump` does) reuses windows, assembly blocks and the record object itself: every record's
// fields must still be those of reading without it, on every fixture (origins, subtransactions, images, switches).
describe.each(listFixtures().map((f) => [f.id, f] as [string, Fixture]))('%s, recycling', (_id, f) => {
  it('gives every record with the fields reading without recycling gives', () => {
    const dir = writeOut(f, 'recycling');
    const alone = read(f, dir, 0);
    const recycled = read(f, dir, 2, true);
    expect(recycled.fields.length).toBeGreaterThan(0);
    expect(recycled.fields).toEqual(alone.fields);
    expect(recycled.end).toEqual(alone.end);
  });
});

// Segments of four windows, so windows end inside segments: records that start right after a window boundary, that
// run across one, and a record longer than a window. Built WAL, compared with reading on one thread.
describe('windows inside a segment', () => {
  const WINDOW = WINDOW_MAX;
  const SEG = 4 * WINDOW;
  const b = new WalBuilder({ segmentSize: SEG, startSegno: 2 });
  let seed = 1;
  while (b.pos < b.startLsn + 2 * SEG - 64 * 1024) {
    const size = seed % 97 === 0 ? 20000 : seed === 300 ? 1.5 * WINDOW : 40 + ((seed * 7919) % 700);
    b.add(filler(size, seed++));
  }
  const lsns = b.lsns;
  const lengthAt = (i: number): number => (i + 1 < lsns.length ? lsns[i + 1]! : b.pos) - lsns[i]!;
  const start = lsns[0]!;
  const end = lsns[lsns.length - 1]!;

  function readBuilt(dir: string, readAhead: number, recycle = false): Outcome {
    const f = { meta: { walSegmentSize: SEG, timeline: 1, startLsn: formatLsn(start), endLsn: formatLsn(end), major: 16 } } as unknown as Fixture;
    return read(f, dir, readAhead, recycle);
  }

  function writeBuilt(name: string, damage?: number): string {
    const dir = path.join(tmp, `built-${name}`);
    fs.mkdirSync(dir);
    for (const [file, bytes] of b.segments()) {
      const copy = Uint8Array.from(bytes);
      const segStart = parseInt(file.slice(16), 16) * SEG;
      if (damage !== undefined && damage >= segStart && damage < segStart + SEG) copy[damage - segStart] ^= 0x5a;
      fs.writeFileSync(path.join(dir, file), copy);
    }
    return dir;
  }

  it('reads the same records, the worker vouching for nearly all', () => {
    const dir = writeBuilt('intact');
    const ahead = readBuilt(dir, 8);
    const alone = readBuilt(dir, 0);
    expect(ahead.lsns).toEqual(alone.lsns);
    expect(ahead.lsns).toEqual(lsns.slice(0, -1).map(formatLsn));
    expect(ahead.end).toEqual(alone.end);
    // All but the first window's records and those running past a window's end.
    expect(ahead.vouched).toBeGreaterThan(lsns.length * 0.6);
  });

  it('reads the same records when windows and assembly blocks are reused once left', () => {
    const dir = writeBuilt('recycled');
    const alone = readBuilt(dir, 0);
    // Two windows ahead, so windows left are handed out again while reading goes on.
    const recycled = readBuilt(dir, 2, true);
    expect(recycled.rows).toEqual(alone.rows);
    expect(recycled.end).toEqual(alone.end);
    // Windows were read in the worker's shared ring and reused: records kept from them lost their bytes (the
    // contract: nothing is kept past the next record).
    expect(recycled.shared).toBeGreaterThan(lsns.length / 2);
    expect(recycled.reused).toBeGreaterThan(lsns.length / 4);
    expect(alone.reused).toBe(0);
    expect(alone.shared).toBe(0);
  });

  it('a window the calling thread reads into the ring vouches for what the worker would, the damaged record not', () => {
    const victim = 5;
    const dir = writeBuilt('own-window', lsns[victim]! + 30);
    const [name] = [...b.segments().keys()];
    const segStart = parseInt(name.slice(16), 16) * SEG;
    const winLsn = start - (start % WINDOW);
    const own = readWindowInRing(path.join(dir, name), winLsn - segStart, WINDOW);
    expect(own).toBeDefined();
    try {
      expect(own!.bytes.buffer).toBeInstanceOf(SharedArrayBuffer);
      for (let i = 0; i < victim; i++) expect(own!.crc.verified(lsns[i]! - winLsn), `record ${i}`).toBe(true);
      expect(own!.crc.verified(lsns[victim]! - winLsn)).toBe(false);
      expect(own!.crc.verified(lsns[victim + 1]! - winLsn)).toBe(false);
    } finally {
      releaseWindow(own!.bytes);
    }
  });

  const after = lsns.findIndex((l) => l % WINDOW > 64 && Math.floor(l / WINDOW) > Math.floor(start / WINDOW) + 1);
  const across = lsns.findIndex((l, i) => l > start + 2 * WINDOW && Math.floor(l / WINDOW) !== Math.floor((l + lengthAt(i) - 1) / WINDOW));
  const long = lsns.findIndex((_l, i) => lengthAt(i) > WINDOW);
  const middle = lsns.findIndex((l) => l > start + SEG + WINDOW / 2);
  for (const [what, i] of [['just after a window boundary', after], ['across a window boundary', across], ['longer than a window', long], ['in the second segment', middle]] as const) {
    it(`ends at a damaged record ${what} as reading on one thread does`, () => {
      expect(i).toBeGreaterThan(0);
      const lsn = lsns[i]!;
      const dir = writeBuilt(`bad-${i}`, lsn + 30);
      const ahead = readBuilt(dir, 8);
      const alone = readBuilt(dir, 0);
      expect(ahead.lsns).toEqual(lsns.slice(0, i).map(formatLsn));
      expect(ahead.end).toEqual({ reason: 'invalid-record', lsn, message: `incorrect resource manager data checksum in record at ${formatLsn(lsn)}`, pagePtr: undefined });
      expect(alone.lsns).toEqual(ahead.lsns);
      expect(alone.end).toEqual(ahead.end);
      const recycled = readBuilt(dir, 8, true);
      expect(recycled.lsns).toEqual(ahead.lsns);
      expect(recycled.end).toEqual(ahead.end);
      // Not waiting for the worker (some windows read here, some there, as under load): the same again.
      waitForReadAhead(false);
      try {
        const mixed = readBuilt(dir, 8);
        expect(mixed.lsns).toEqual(ahead.lsns);
        expect(mixed.end).toEqual(ahead.end);
        const mixedRecycled = readBuilt(dir, 8, true);
        expect(mixedRecycled.lsns).toEqual(ahead.lsns);
        expect(mixedRecycled.end).toEqual(ahead.end);
      } finally {
        waitForReadAhead(true);
      }
    });
  }
});
