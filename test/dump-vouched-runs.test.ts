// `pgwal dump -q` and `--stats` step over runs of records the read-ahead worker checked in full (XLogReader.skipVouched): a
// record or page that fails any check must still end the dump where pg_waldump ends it, with its message and exit
// code. Built WAL of PostgreSQL 15 in segments of four windows (windows end inside segments), each with one thing
// broken and every CRC correct, checked against Debian's pg_waldump 15.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatLsn } from '../src/lsn.js';
import { DirectorySource } from '../src/node/directory.js';
import { waitForReadAhead, WINDOW_MAX } from '../src/node/readahead.js';
import { crc32c } from '../src/xlogreader/crc32c.js';
import { STEP_END, STEP_NEED, XLogReader } from '../src/xlogreader/reader.js';
import { runDump } from './support/cli.js';
import { filler, WalBuilder } from './support/walbuilder.js';

const PG_WALDUMP = '/usr/lib/postgresql/15/bin/pg_waldump';
const WINDOW = WINDOW_MAX;
const SEG = 4 * WINDOW;
const BLCKSZ = 8192;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-vouched-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
// Which windows the worker checks depends on timing unless the reader always waits for it.
waitForReadAhead(true);
afterAll(() => waitForReadAhead(false));

/** Sets a record's CRC again after a change to it, so only the change is wrong. */
function recrc(rec: Uint8Array): void {
  const crc = crc32c(rec.subarray(0, 20), crc32c(rec.subarray(24)));
  new DataView(rec.buffer, rec.byteOffset).setUint32(20, crc, true);
}

type Damage = { what: string; build: (b: WalBuilder, seed: number) => void; after?: (b: WalBuilder) => void };

/** Where the record ending at a window's end ends (the 'a record ending at a window's end' case). */
let windowEnd = 0;

/** Records of assorted sizes (some spanning pages, some longer than a page) over two segments, one of them `damage`d. */
function build(damage: Damage): { dir: string; start: number; end: number } {
  const b = new WalBuilder({ segmentSize: SEG, startSegno: 2, magic: 0xd110 });
  let seed = 1;
  const target = b.startLsn + 2 * WINDOW + WINDOW / 2;
  let done = false;
  while (b.pos < b.startLsn + 2 * SEG - 64 * 1024) {
    if (!done && b.pos >= target) {
      damage.build(b, seed++);
      done = true;
      continue;
    }
    b.add(filler(seed % 31 === 0 ? 9000 : 40 + ((seed * 7919) % 700), seed++));
  }
  damage.after?.(b);
  const dir = path.join(tmp, damage.what.replace(/\W+/g, '-'));
  fs.mkdirSync(dir);
  for (const [file, bytes] of b.segments()) fs.writeFileSync(path.join(dir, file), bytes);
  return { dir, start: b.lsns[0]!, end: b.lsns[b.lsns.length - 1]! };
}

function pgWaldump(args: string[]): { code: number; out: string; err: string } {
  try {
    const out = execFileSync(PG_WALDUMP, args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
    return { code: 0, out, err: '' };
  } catch (e) {
    const x = e as { status: number; stdout: Buffer; stderr: Buffer };
    return { code: x.status, out: x.stdout.toString(), err: x.stderr.toString().replace(/^pg_waldump:/gm, 'pgwal dump:') };
  }
}

/**
 * Records the reader stepped over in runs, reading as `dump -q` (or, `withStats`, `dump --stats`) does, and the LSNs
 * of those it read one by one.
 */
function skipped(dir: string, start: number, end: number, withStats = false): { n: number; stepped: number[] } {
  const source = new DirectorySource({ dirs: [dir], segmentSize: SEG, timeline: 1, recycleWindows: true });
  const reader = new XLogReader({ segmentSize: SEG, startLsn: start, findFirst: true, endLsn: end, reuseBuffers: true });
  let n = 0;
  let first = true;
  const stepped: number[] = [];
  try {
    for (;;) {
      if (!first) {
        const run = reader.skipVouched(withStats);
        if (run !== undefined) {
          n += run.count;
          continue;
        }
      }
      const s = reader.step();
      if (s === STEP_END) return { n, stepped };
      if (s === STEP_NEED) {
        const got = source.read(reader.needPagePtr, Math.max(reader.needLength, BLCKSZ));
        if ('missing' in got) reader.supplyMissing(reader.needPagePtr, got.missing);
        else reader.supply(got.start, got.bytes, got.tli, got.crc);
      } else {
        first = false;
        stepped.push(reader.record!.lsn);
      }
    }
  } finally {
    source.close();
  }
}

const damages: Damage[] = [
  { what: 'intact', build: (b, seed) => void b.add(filler(100, seed)) },
  {
    what: 'a prev-link pointing elsewhere',
    build: (b, seed) =>
      void b.add(filler(100, seed), (rec) => {
        rec[8] ^= 0x08;
        recrc(rec);
      }),
  },
  {
    what: 'an unknown resource manager',
    build: (b, seed) =>
      void b.add({ ...filler(100, seed), rmid: 50 }),
  },
  {
    what: 'BKPBLOCK_HAS_DATA without data',
    build: (b) => void b.add({ rmid: 10, info: 0, blocks: [{ id: 0, blockNumber: 7, data: new Uint8Array(0) }], main: new Uint8Array(8) }),
  },
  {
    what: 'block ids out of order',
    build: (b) =>
      void b.add({
        rmid: 10,
        info: 0,
        blocks: [
          { id: 1, blockNumber: 7, data: new Uint8Array(4) },
          { id: 1, blockNumber: 8, data: new Uint8Array(4), sameRel: true },
        ],
      }),
  },
  {
    what: 'an image with a hole of length 0',
    build: (b) => void b.add({ rmid: 10, info: 0, blocks: [{ id: 0, blockNumber: 7, image: { bytes: new Uint8Array(100), holeOffset: 0, bimgInfo: 0 } }] }),
  },
  {
    what: 'a wrong page address',
    build: (b, seed) => {
      b.add(filler(100, seed));
      const page = b.pos - (b.pos % BLCKSZ) + BLCKSZ;
      b.add(filler(9000, seed + 1));
      b.raw[b.at(page) + 9] ^= 0x01;
    },
  },
  {
    what: 'a continuation page without XLP_FIRST_IS_CONTRECORD',
    build: (b, seed) => {
      b.add(filler(100, seed));
      const page = b.pos - (b.pos % BLCKSZ) + BLCKSZ;
      b.add(filler(9000, seed + 1));
      b.raw[b.at(page) + 2] &= ~0x01;
    },
  },
  {
    what: 'a page of a later timeline, then one of the earlier',
    build: (b, seed) => {
      b.add(filler(100, seed));
      const page = b.pos - (b.pos % BLCKSZ) + BLCKSZ;
      b.add(filler(9000, seed + 1));
      b.add(filler(9000, seed + 2));
      b.raw[b.at(page) + 4] = 2;
    },
  },
  {
    what: "a record ending at a window's end",
    build: (b, seed) => {
      windowEnd = Math.ceil(b.pos / WINDOW) * WINDOW;
      while (b.pos < windowEnd - 1200) b.add(filler(40 + ((seed * 7919) % 700), seed++));
      // xl_tot_len = 24 + 5 (XLR_BLOCK_ID_DATA_LONG and its length) + the main data
      b.add(filler(windowEnd - b.pos - 29, seed));
      expect(b.pos).toBe(windowEnd);
    },
  },
  {
    what: 'an XLOG_SWITCH record',
    build: (b) => {
      b.add({ rmid: 0, info: 0x40 });
      b.pos = b.pos - (b.pos % SEG) + SEG;
    },
  },
];

describe('dump -q over runs the read-ahead checked', () => {
  it.each(damages.map((d) => [d.what, d] as const))('%s: ends where pg_waldump -q ends, with its message and exit code', async (_what, damage) => {
    const { dir, start, end } = build(damage);
    for (const range of [['-s', formatLsn(start), '-e', formatLsn(end)], ['-s', formatLsn(start)]]) {
      const theirs = pgWaldump(['-q', '-p', dir, ...range]);
      const ours = await runDump(['-q', '-p', dir, ...range]);
      expect(ours).toEqual(theirs);
      // The same as reading every record (no -q).
      const each = await runDump(['-p', dir, ...range]);
      expect({ code: each.code, err: each.err }).toEqual({ code: theirs.code, err: theirs.err });
      // --stats counts the runs' records from what the worker gathered: the same figures.
      for (const stats of ['--stats', '--stats=record']) expect(await runDump([stats, '-p', dir, ...range])).toEqual(pgWaldump([stats, '-p', dir, ...range]));
    }
    if (damage.what === 'intact') expect(pgWaldump(['-q', '-p', dir, '-s', formatLsn(start), '-e', formatLsn(end)]).code).toBe(0);
    // Runs were stepped over: in the windows before the damage at least.
    const q = skipped(dir, start, end);
    expect(q.n).toBeGreaterThan(1000);
    expect(skipped(dir, start, end, true).n).toBeGreaterThan(1000);
    // After a record that ends where a window ends, the next window's run is stepped over from its first record.
    if (damage.what === "a record ending at a window's end") expect(q.stepped.filter((l) => l >= windowEnd && l < windowEnd + WINDOW / 2)).toEqual([]);
  });
});
