// One test per validation the reader makes (xlogreader.c's checks, in PostgreSQL's words), on synthetic WAL
// that is valid but for the one thing each test breaks; and the framing core at every split point.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { formatLsn, WalFormatError } from '../src/index.js';
import { XLogReader, type EndOfWal } from '../src/xlogreader/reader.js';
import { ChunkedSource, MemorySource, readRecordsSync, type SyncPageSource } from '../src/xlogreader/source.js';
import type { DecodedRecord } from '../src/xlogreader/record.js';
import { readWalSegments } from '../src/xlogreader/memory.js';
import { listFixtures } from './support/fixtures.js';
import { fixtureSource } from './support/wal.js';
import { WalBuilder, filler } from './support/walbuilder.js';

function readAll(b: WalBuilder, source?: SyncPageSource, start = b.startLsn): { records: DecodedRecord[]; end: EndOfWal } {
  const src = source ?? memory(b);
  const reader = new XLogReader({ segmentSize: b.segmentSize, startLsn: start, findFirst: true });
  const records: DecodedRecord[] = [];
  const it = readRecordsSync(reader, src);
  for (;;) {
    const r = it.next();
    if (r.done) return { records, end: r.value };
    records.push(r.value);
  }
}

function memory(b: WalBuilder): MemorySource {
  const m = new MemorySource(b.segmentSize);
  for (const [name, bytes] of b.segments()) m.add(name, bytes);
  return m;
}

/** Three small records, a page-spanning one, a segment-spanning one, then one more. */
function sample(): WalBuilder {
  const b = new WalBuilder();
  b.add(filler(100));
  b.add(filler(200, 2));
  b.add(filler(300, 3));
  b.add(filler(20000, 4));
  b.pos = b.startLsn + b.segmentSize - 5000; // jump close to the segment end (pages in between stay valid)
  return b;
}

function build(breakIt?: (b: WalBuilder) => void): WalBuilder {
  const b = new WalBuilder();
  b.add(filler(100));
  b.add(filler(200, 2));
  b.add(filler(20000, 4)); // spans three pages
  b.add(filler(50, 5));
  breakIt?.(b);
  return b;
}

describe('a valid synthetic stream', () => {
  it('reads back every record, across pages, and ends at the zeroed tail', () => {
    const b = build();
    const { records, end } = readAll(b);
    expect(records.map((r) => r.lsn)).toEqual(b.lsns);
    expect(records[2]!.mainDataLength).toBe(20000);
    expect(end.reason).toBe('invalid-record');
    expect(end.message).toBe(`invalid record length at ${formatLsn(b.pos)}: expected at least 24, got 0`);
  });

  it('reads a record that spans into the next segment', () => {
    const b = new WalBuilder();
    b.add(filler(100));
    while (b.pos < b.startLsn + b.segmentSize - 3 * 8192) b.add(filler(8000, b.lsns.length));
    b.add(filler(40000, 9));
    b.add(filler(10, 10));
    const { records } = readAll(b);
    expect(records.map((r) => r.lsn)).toEqual(b.lsns);
    expect(records[records.length - 2]!.endLsn).toBeGreaterThan(b.startLsn + b.segmentSize);
  });
});

describe('page header validation', () => {
  const page2 = (b: WalBuilder): number => b.at(b.startLsn + 8192);

  it('ends at an invalid magic number', () => {
    const b = build((b) => (b.raw[page2(b)] = 0x99));
    const { records, end } = readAll(b);
    expect(records.length).toBe(2);
    expect(end.message).toBe(`invalid magic number D199 in WAL segment ${walName(b)}, LSN ${formatLsn(b.startLsn + 8192)}, offset 8192`);
  });

  it('ends at invalid info bits', () => {
    const b = build((b) => (b.raw[page2(b) + 2] |= 0x40));
    expect(readAll(b).end.message).toBe(`invalid info bits 0045 in WAL segment ${walName(b)}, LSN ${formatLsn(b.startLsn + 8192)}, offset 8192`);
  });

  it('ends at an unexpected pageaddr (a recycled page)', () => {
    const b = build((b) => (b.raw[page2(b) + 9] ^= 0x01));
    expect(readAll(b).end.message).toBe(
      `unexpected pageaddr ${formatLsn(b.startLsn + 8192 + 256)} in WAL segment ${walName(b)}, LSN ${formatLsn(b.startLsn + 8192)}, offset 8192`,
    );
  });

  it('ends at a timeline that goes backwards', () => {
    const b = build((b) => {
      new DataView(b.raw.buffer).setUint32(b.at(b.startLsn) + 4, 5, true);
    });
    expect(readAll(b).end.message).toBe(`out-of-sequence timeline ID 1 (after 5) in WAL segment ${walName(b, 1)}, LSN ${formatLsn(b.startLsn + 8192)}, offset 8192`);
  });

  it('refuses an unknown version with a typed error naming the magic', () => {
    const b = build();
    b.raw[0] = 0x0d; // D10D: PostgreSQL 14
    expect(() => readAll(b)).toThrow(WalFormatError);
    expect(() => readAll(b)).toThrow(/WAL page magic D10D/);
  });

  it('refuses a segment from another system with a typed error', () => {
    const b = new WalBuilder();
    b.add(filler(100));
    while (b.pos < b.startLsn + b.segmentSize + 100) b.add(filler(8000, b.lsns.length));
    new DataView(b.raw.buffer).setBigUint64(b.at(b.startLsn + b.segmentSize) + 24, 42n, true);
    expect(() => readAll(b)).toThrow(/different database system: WAL file database system identifier is 42/);
  });
});

describe('record validation', () => {
  it('ends at a bad CRC', () => {
    const b = build((b) => (b.raw[b.at(b.lsns[1]!) + 30] ^= 0xff));
    const { records, end } = readAll(b);
    expect(records.length).toBe(1);
    expect(end.message).toBe(`incorrect resource manager data checksum in record at ${formatLsn(b.lsns[1]!)}`);
  });

  it('ends at a wrong prev-link', () => {
    const b = build((b) => (b.raw[b.at(b.lsns[1]!) + 8] ^= 0x08));
    expect(readAll(b).end.message).toMatch(new RegExp(`^record with incorrect prev-link 0/[0-9A-F]+ at ${formatLsn(b.lsns[1]!)}$`));
  });

  it('ends at an invalid resource manager id', () => {
    const b = new WalBuilder();
    b.add(filler(100));
    b.add({ rmid: 60, info: 0, main: new Uint8Array(4) });
    expect(readAll(b).end.message).toBe(`invalid resource manager ID 60 at ${formatLsn(b.lsns[1]!)}`);
  });

  it('ends at a zero-length record', () => {
    const b = build();
    expect(readAll(b).end.message).toMatch(/expected at least 24, got 0$/);
  });

  it('ends when a continuation page lacks the contrecord flag', () => {
    const b = build((b) => (b.raw[b.at(b.lsns[2]! - (b.lsns[2]! % 8192) + 8192) + 2] &= ~0x01));
    expect(readAll(b).end.message).toBe(`there is no contrecord flag at ${formatLsn(b.lsns[2]!)}`);
  });

  it('ends when xlp_rem_len disagrees with the record', () => {
    const b = build((b) => {
      const pageOff = b.at(b.lsns[2]! - (b.lsns[2]! % 8192) + 8192);
      const v = new DataView(b.raw.buffer);
      v.setUint32(pageOff + 16, v.getUint32(pageOff + 16, true) + 8, true);
    });
    expect(readAll(b).end.message).toMatch(new RegExp(`^invalid contrecord length \\d+ \\(expected \\d+\\) at ${formatLsn(b.lsns[2]!)}$`));
  });

  it('does not allocate for a forged 4 GB xl_tot_len: it ends at the first continuation page', () => {
    const b = build((b) => new DataView(b.raw.buffer).setUint32(b.at(b.lsns[1]!), 0xffff_fff0, true));
    const before = process.memoryUsage().arrayBuffers;
    const { end } = readAll(b);
    expect(end.message).toMatch(/^invalid contrecord length \d+ \(expected 429\d{7}\)/);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * 1024 * 1024);
  });

  it('ends at a malformed block header, with the server\'s messages', () => {
    const cases: [Parameters<WalBuilder['add']>[0], RegExp][] = [
      [{ rmid: 10, info: 0, blocks: [{ id: 1, blockNumber: 0 }, { id: 0, blockNumber: 1 }] }, /^out-of-order block_id 0 at /],
      [{ rmid: 10, info: 0, blocks: [{ id: 0, blockNumber: 0, sameRel: true }] }, /^BKPBLOCK_SAME_REL set but no previous rel at /],
      [{ rmid: 10, info: 0, blocks: [{ id: 40, blockNumber: 0 }] }, /^invalid block_id 40 at /],
      [{ rmid: 10, info: 0, blocks: [{ id: 0, blockNumber: 0, image: { bytes: new Uint8Array(100), holeOffset: 0, bimgInfo: 0x02 } }] }, /^BKPIMAGE_HAS_HOLE not set, but hole offset 0 length 8092 at /],
      [{ rmid: 10, info: 0, blocks: [{ id: 0, blockNumber: 0, image: { bytes: new Uint8Array(8192), holeOffset: 0, bimgInfo: 0x06 } }] }, /^BKPIMAGE_COMPRESSED set, but block image length 8192 at /],
      [{ rmid: 10, info: 0, blocks: [{ id: 0, blockNumber: 0, image: { bytes: new Uint8Array(100), holeOffset: 0, bimgInfo: 0x03 } }] }, /^BKPIMAGE_HAS_HOLE set, but hole offset 0 length 8092 block image length 100 at /],
    ];
    for (const [spec, message] of cases) {
      const b = new WalBuilder();
      b.add(filler(100));
      b.add(spec);
      const { records, end } = readAll(b);
      expect(records.length).toBe(1);
      expect(end.message).toMatch(message);
    }
    // BKPBLOCK_HAS_DATA with no data: set the flag by hand.
    const b = new WalBuilder();
    b.add(filler(100));
    b.add({ rmid: 10, info: 0, blocks: [{ id: 0, blockNumber: 0 }] }, (rec) => {
      rec[25] |= 0x20;
      const crc = new DataView(rec.buffer);
      crc.setUint32(20, 0, true);
    });
    expect(readAll(b).end.reason).toBe('invalid-record');
  });

  it('ends cleanly at a truncated segment, naming what is missing', () => {
    const b = build();
    const m = new MemorySource(b.segmentSize);
    const [name, bytes] = [...b.segments()][0]!;
    m.add(name, bytes.subarray(0, 8192 + 100));
    const { records, end } = readAll(b, m);
    expect(records.length).toBe(2);
    expect(end.reason).toBe('no-more-wal');
    expect(end.message).toContain(name);
  });

  it('follows an overwrite-contrecord: the torn record is dropped and reading goes on', () => {
    const b = new WalBuilder();
    b.add(filler(100));
    const torn = b.add(filler(20000, 7));
    // Rewrite the page where the torn record continued as the server does after crash recovery.
    const page = torn - (torn % 8192) + 8192;
    b.raw.fill(0, b.at(page));
    b.pos = page;
    b.prevLsn = b.lsns[0]!;
    const next = b.add({ rmid: 0, info: 0xd0, main: new Uint8Array(16) });
    // That page must carry XLP_FIRST_IS_OVERWRITE_CONTRECORD and no contrecord flag.
    b.raw[b.at(page) + 2] = (b.raw[b.at(page) + 2]! & ~0x01) | 0x08;
    new DataView(b.raw.buffer).setUint32(b.at(page) + 16, 0, true);
    // Its prev-link points at the last complete record: rewrite it and the CRC.
    const { records } = readAll(b);
    expect(records.map((r) => r.lsn)).toEqual([b.lsns[0], next]);
  });
});

function walName(b: WalBuilder, offsetSegs = 0): string {
  return [...b.segments().keys()][offsetSegs === 1 ? 0 : 0]!;
}

describe('framing at every split point', () => {
  const f = listFixtures().find((x) => x.id === 'pg17/large-records')!;
  const expected = (() => {
    const r = new XLogReader({ segmentSize: f.meta.walSegmentSize, startLsn: 0x800000, findFirst: true });
    return [...readRecordsSync(r, fixtureSource(f))].map((x) => [x.lsn, x.endLsn, x.crc]);
  })();

  it.each([1, 7, 50, 8192])('gives the same records when bytes arrive in %i-byte pieces', (size) => {
    const r = new XLogReader({ segmentSize: f.meta.walSegmentSize, startLsn: 0x800000, findFirst: true });
    const got = [...readRecordsSync(r, new ChunkedSource(fixtureSource(f), size))].map((x) => [x.lsn, x.endLsn, x.crc]);
    expect(got).toEqual(expected);
    expect(got.length).toBeGreaterThan(5);
  });

  it('finds the same first record from any start position inside the range (XLogFindNextRecord)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0x800000, max: 0x93ffff }), (start) => {
        const r = new XLogReader({ segmentSize: f.meta.walSegmentSize, startLsn: start, findFirst: true });
        const it = readRecordsSync(r, fixtureSource(f));
        const first = it.next();
        const want = expected.find((e) => (e[0] as number) >= start);
        if (want === undefined) expect(first.done).toBe(true);
        else expect(first.value && (first.value as DecodedRecord).lsn).toBe(want[0]);
      }),
      { numRuns: 300, seed: 17 },
    );
  });

  it('reads in-memory segments through the public helper', () => {
    const b = sample();
    const got = [...readWalSegments(b.segments())].map((r) => r.lsn);
    expect(got).toEqual(b.lsns);
  });
});

describe('payloads that do not parse', () => {
  it('give a typed error naming the record, not a crash, when described', async () => {
    const { walinspectRow } = await import('../src/xlogreader/describe.js');
    const { walinspectContext } = await import('../src/xlogreader/timestamp.js');
    const { profileForMajor } = await import('../src/xlogreader/profile.js');
    const b = new WalBuilder();
    // A LogicalMessage whose prefix/message sizes claim far more bytes than the record has.
    const main = new Uint8Array(40).fill(0xff);
    const lsn = b.add({ rmid: 21, info: 0, main });
    const { records } = readAll(b);
    expect(records[0]!.lsn).toBe(lsn);
    const ctx = walinspectContext(profileForMajor(16)!);
    expect(() => walinspectRow(records[0]!, ctx)).toThrow(WalFormatError);
    expect(() => walinspectRow(records[0]!, ctx)).toThrow(new RegExp(`at ${formatLsn(lsn)}`));
  });
});
