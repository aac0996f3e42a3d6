// The reader's vouched runs (XLogReader.readVouched): records of a run the read-ahead's window check vouched for
// are framed without the reader's own checks. Whatever the bytes, reading must give exactly what reading without
// the check gives: every record's fields and bytes, and where and how reading ends (reason, LSN, message). On every
// fixture cut into windows of several sizes, from a record inside a window, up to an end LSN inside a run, and on
// windows changed where the checks look (record headers with their CRC made right, page headers, any byte).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DirectorySource } from '../src/node/directory.js';
import { formatLsn, parseLsn } from '../src/lsn.js';
import { checkWindow, waitForReadAhead } from '../src/node/readahead.js';
import { makeCrc32c } from '../src/xlogreader/crc32c.js';
import { XLogReader, type CrcVerified } from '../src/xlogreader/reader.js';
import { readRecordsSync, type SourceBytes, type SourceMiss, type SyncPageSource } from '../src/xlogreader/source.js';
import { listFixtures, readSegment, type Fixture } from './support/fixtures.js';
import { xorshift } from './support/random-rows.js';

const BLCKSZ = 8192;
const crc = makeCrc32c();
const fixtures = listFixtures();

interface Wal {
  f: Fixture;
  /** segment number → its bytes (changed in place by the mutation test, and put back) */
  segments: Map<number, Uint8Array>;
  start: number;
  end: number;
}

function loadWal(f: Fixture): Wal {
  const segments = new Map<number, Uint8Array>();
  for (const seg of f.meta.segments) {
    const segno = parseInt(seg.slice(8, 16), 16) * (0x1_0000_0000 / f.meta.walSegmentSize) + parseInt(seg.slice(16), 16);
    segments.set(segno, new Uint8Array(readSegment(f, seg)));
  }
  return { f, segments, start: parseLsn(f.meta.startLsn), end: parseLsn(f.meta.endLsn) };
}

/** The WAL in windows of `window` bytes, as DirectorySource cuts segments; each checked (checkWindow) when `vouch`. */
function windowSource(w: Wal, window: number, vouch: boolean): SyncPageSource {
  const size = w.f.meta.walSegmentSize;
  return {
    read(pagePtr): SourceBytes | SourceMiss {
      const segno = Math.floor(pagePtr / size);
      const seg = w.segments.get(segno);
      if (seg === undefined) return { missing: `no segment ${segno}` };
      const inSeg = pagePtr - segno * size;
      const from = inSeg - (inSeg % window);
      const bytes = seg.subarray(from, Math.min(seg.length, from + window));
      const start = segno * size + from;
      const crc: CrcVerified | undefined = vouch ? checkWindow(bytes, start, from) : undefined;
      return { start, bytes, tli: w.f.meta.timeline, crc };
    },
  };
}

interface Outcome {
  fields: unknown[];
  end: unknown;
  vouched: number;
}

function read(w: Wal, window: number | SyncPageSource, vouch: boolean, opts: { start?: number; findFirst?: boolean; end?: number; reuse?: boolean } = {}): Outcome {
  const reader = new XLogReader({
    segmentSize: w.f.meta.walSegmentSize,
    startLsn: opts.start ?? w.start,
    findFirst: opts.findFirst ?? opts.start === undefined,
    endLsn: opts.end ?? w.end,
    reuseBuffers: opts.reuse === true,
    timeline: w.f.meta.timeline,
  });
  const fields: unknown[] = [];
  const it = readRecordsSync(reader, typeof window === 'number' ? windowSource(w, window, vouch) : window);
  try {
    for (;;) {
      const r = it.next();
      if (r.done) {
        const s = [reader.lastRecordLsn, reader.nextLsn, reader.abortedRecPtr, reader.missingContrecPtr, reader.overwrittenRecPtr];
        return { fields, end: [r.value, ...s], vouched: reader.vouchedRecords };
      }
      const x = r.value;
      const bytes = x.bytes;
      fields.push([x.lsn, x.endLsn, x.prevLsn, x.totalLength, x.xid, x.info, x.rmid, x.crc, x.origin, x.toplevelXid, x.mainDataOffset, x.mainDataLength, x.maxBlockId, x.fpiLength, x.timeline, x.blocks.length, crc.range(bytes, 0, bytes.length, 0)]);
    }
  } catch (e) {
    return { fields, end: ['thrown', String(e)], vouched: reader.vouchedRecords };
  }
}

describe.each(fixtures.map((f) => [f.id, f] as [string, Fixture]))('%s', (_id, f) => {
  it('gives the records and the end reading without the window check gives, windows of 2 MB, 64 kB and 16 kB, the run framed without checks', () => {
    const w = loadWal(f);
    const plain = read(w, 1 << 21, false);
    expect(plain.fields.length).toBeGreaterThan(0);
    expect(plain.vouched).toBe(0);
    for (const window of [1 << 21, 1 << 16, 1 << 14]) {
      for (const reuse of [false, true]) {
        const v = read(w, window, true, { reuse });
        expect(v.fields, `window ${window}`).toEqual(plain.fields);
        expect(v.end, `window ${window}`).toEqual(plain.end);
        // all but a window's first records (and those running past its end, or reached before a run)
        if (window === 1 << 21 && plain.fields.length > 50) expect(v.vouched, `window ${window}`).toBeGreaterThan(plain.fields.length / 2);
      }
    }
  });

  it('gives the same from a record inside a window and up to an end LSN inside a run', () => {
    const w = loadWal(f);
    const plain = read(w, 1 << 16, false);
    const lsns = plain.fields.map((x) => (x as number[])[0]!);
    if (lsns.length < 10) return;
    const rand = xorshift(lsns.length);
    for (let t = 0; t < 6; t++) {
      const start = lsns[rand(lsns.length - 1)]!;
      const end = start + rand(w.end - start) + 1;
      const a = read(w, 1 << 16, false, { start, end });
      const b = read(w, 1 << 16, true, { start, end });
      expect(b, `${formatLsn(start)}..${formatLsn(end)}`).toEqual({ ...a, vouched: b.vouched });
    }
  });
});

describe('windows changed where the checks look', () => {
  // Fixtures with records enough to have runs in 64 kB windows.
  const wals = fixtures.filter((f) => f.meta.major === 15 || f.meta.major === 18).map(loadWal);
  const WINDOW = 1 << 16;
  const plains = new Map(wals.map((w) => [w, read(w, WINDOW, false)] as const));

  /** The pieces of the record at segment offset `at` ([segment offset, length]). */
  function pieces(seg: Uint8Array, at: number): [number, number][] {
    const tot = (seg[at]! | (seg[at + 1]! << 8) | (seg[at + 2]! << 16)) + seg[at + 3]! * 0x1000000;
    const out: [number, number][] = [[at, Math.min(tot, BLCKSZ - (at % BLCKSZ))]];
    for (let got = out[0]![1], page = at - (at % BLCKSZ) + BLCKSZ; got < tot && page < seg.length; page += BLCKSZ) {
      const n = Math.min(tot - got, BLCKSZ - 24);
      out.push([page + 24, n]);
      got += n;
    }
    return out;
  }

  it('a window\'s first record with another prev-link (its CRC made right): the run is entered only where the reader\'s last record is its prev-link', () => {
    // The window check takes its first record's prev-link as the run's start; the reader must compare it.
    const W16 = 1 << 14;
    let tried = 0;
    for (const w of wals) {
      const plain = read(w, W16, false);
      const lsns = plain.fields.map((x) => (x as number[])[0]!);
      const size = w.f.meta.walSegmentSize;
      for (let i = 1; i < lsns.length && tried < 400; i++) {
        const lsn = lsns[i]!;
        if (Math.floor(lsn / W16) === Math.floor(lsns[i - 1]! / W16) || lsn % W16 < 24) continue;
        const segno = Math.floor(lsn / size);
        const seg = w.segments.get(segno)!;
        const at = lsn - segno * size;
        const ps = pieces(seg, at);
        const saved = seg.slice(at, at + 24);
        seg[at + 8 + (tried % 8)] ^= 1 << (tried % 3);
        let c = 0;
        for (const [j, [o, n]] of ps.entries()) c = crc.range(seg, j === 0 ? o + 24 : o, o + n, c);
        new DataView(seg.buffer, seg.byteOffset).setUint32(at + 20, crc.range(seg, at, at + 20, c) >>> 0, true);
        try {
          const start = lsns[Math.max(0, i - 3)]!;
          const a = read(w, W16, false, { start, end: Math.min(w.end, lsn + W16) });
          const b = read(w, W16, true, { start, end: Math.min(w.end, lsn + W16) });
          expect(b, `${w.f.id} ${formatLsn(lsn)}`).toEqual({ ...a, vouched: b.vouched });
          expect(a.fields.length).toBeLessThan(i - Math.max(0, i - 3) + 1);
          tried++;
        } finally {
          seg.set(saved, at);
        }
      }
    }
    expect(tried).toBeGreaterThan(200);
  });

  it('3000 times: a record header or block header (its CRC made right), a page header, or any byte of a record', () => {
    const rand = xorshift(4242);
    let differentEnds = 0;
    let vouchedSome = 0;
    const kinds = [0, 0, 0, 0];
    for (let t = 0; t < 3000; t++) {
      const w = wals[rand(wals.length)]!;
      const plain = plains.get(w)!;
      if (plain.fields.length < 20) continue;
      const size = w.f.meta.walSegmentSize;
      // a record past the first few, whose segment we hold
      const i = 5 + rand(plain.fields.length - 5);
      const lsn = (plain.fields[i] as number[])[0]!;
      const segno = Math.floor(lsn / size);
      const seg = w.segments.get(segno);
      if (seg === undefined || Math.floor((plain.fields[i - 5] as number[])[0]! / size) !== segno) continue;
      const at = lsn - segno * size;
      const ps = pieces(seg, at);
      const tot = ps.reduce((s, [, n]) => s + n, 0);
      const saved = new Map<number, number>();
      const set = (p: number, v: number): void => {
        if (!saved.has(p)) saved.set(p, seg[p]!);
        seg[p] = v & 255;
      };
      // the record's byte at record offset k
      const recByte = (k: number): number => {
        for (const [o, n] of ps) {
          if (k < n) return o + k;
          k -= n;
        }
        return -1;
      };
      const kind = rand(4);
      kinds[kind]!++;
      if (kind === 0 || kind === 1) {
        // 0: xl_tot_len, xl_prev, xl_info, xl_rmid; 1: a byte among the block headers DecodeXLogRecord reads
        const k = kind === 0 ? [0, 1, 2, 3, 8, 9, 12, 16, 17][rand(9)]! : 24 + rand(Math.min(tot - 24, 48));
        const p = recByte(k);
        if (p < 0) continue;
        const r = rand(3);
        set(p, r === 0 ? rand(256) : r === 1 ? seg[p]! ^ (1 << rand(8)) : [0, 0xfc, 0xfd, 0xfe, 0xff, 32, 33][rand(7)]!);
        if (k >= 4) {
          // its CRC made right over the pieces (the body after xl_crc, then the header up to it)
          let c = 0;
          for (const [j, [o, n]] of ps.entries()) c = crc.range(seg, j === 0 ? o + 24 : o, o + n, c);
          const v = crc.range(seg, at, at + 20, c) >>> 0;
          for (let b = 0; b < 4; b++) set(at + 20 + b, (v >>> (8 * b)) & 255);
        }
      } else if (kind === 2) {
        // the header of the record's page or of a page it continues on: magic, info, timeline, address, rem_len
        const piece = ps[rand(ps.length)]![0];
        const p0 = piece - (piece % BLCKSZ);
        const field = [0, 1, 2, 2, 4, 8, 12, 16, 17][rand(9)]!;
        set(p0 + field, field === 2 ? [0, 1, 2, 3, 4, 5, 8, 9, 0x11][rand(9)]! : seg[p0 + field]! ^ (1 << rand(8)));
      } else {
        // any byte of the record (its CRC then fails)
        const p = recByte(rand(tot));
        if (p < 0) continue;
        set(p, seg[p]! ^ (1 + rand(255)));
      }
      try {
        // from a record a few before it (often in the window before), to a little past its window
        const start = (plain.fields[i - 1 - rand(5)] as number[])[0]!;
        const end = Math.min(w.end, lsn - (lsn % WINDOW) + 2 * WINDOW);
        const a = read(w, WINDOW, false, { start, end });
        const b = read(w, WINDOW, true, { start, end, reuse: rand(2) === 0 });
        expect(b, `${w.f.id} try ${t} kind ${kind} record ${formatLsn(lsn)}`).toEqual({ ...a, vouched: b.vouched });
        const full = plain.fields.filter((x) => (x as number[])[0]! >= start && (x as number[])[0]! + (x as number[])[3]! <= end).length;
        if (a.fields.length < full) differentEnds++;
        if (b.vouched > 0) vouchedSome++;
      } finally {
        for (const [p, v] of saved) seg[p] = v;
      }
    }
    // the changes made reading end early often, and the runs were framed without checks often
    expect(differentEnds).toBeGreaterThan(1000);
    expect(vouchedSome).toBeGreaterThan(1500);
    expect(Math.min(...kinds)).toBeGreaterThan(500);
  });
});

describe('read-ahead (DirectorySource, its worker and ring)', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-vouched-'));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
  waitForReadAhead(true);
  afterAll(() => waitForReadAhead(false));
  for (const f of fixtures.filter((x) => x.meta.segments.length > 1 && (x.meta.major === 15 || x.meta.major === 18))) {
    it(`${f.id}: the windows the worker checked are framed without checks, the records and end those of reading alone`, () => {
      const dir = path.join(tmp, f.id.replace('/', '-'));
      fs.mkdirSync(dir);
      for (const seg of f.meta.segments) fs.writeFileSync(path.join(dir, seg), readSegment(f, seg));
      const w = loadWal(f);
      const alone = read(w, 1 << 21, false);
      for (const recycle of [false, true]) {
        const src = new DirectorySource({ dirs: [dir], segmentSize: f.meta.walSegmentSize, timeline: f.meta.timeline, readAhead: 2, recycleWindows: recycle });
        try {
          const ahead = read(w, src, true, { reuse: recycle });
          expect(ahead.fields).toEqual(alone.fields);
          expect(ahead.end).toEqual(alone.end);
          expect(ahead.vouched).toBeGreaterThan(0);
        } finally {
          src.close();
        }
      }
    });
  }
});
