// The fuzzer's core, shared by `npm run fuzz` and test/fuzz.test.ts: seed material from the fixtures, seeded
// mutators that record what they changed, one run of an input through every entry point, the properties, the
// coverage signal, shrinking, and the on-disk format of saved inputs.
//
//   base window (fixture pages) ──mutate(seed, index)──▶ edits ──materialize──▶ input ──run──▶ outcome ──check──▶ failures
//                                                                                               └──keys──▶ coverage
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';
import v8 from 'node:v8';
import zlib from 'node:zlib';
import { WalError } from '../src/errors.js';
import { parseLsn } from '../src/lsn.js';
import { decompressMember } from '../src/node/restore.js';
import { parseTimelineHistory, timelineOfLsn, timelinesForSegment } from '../src/timeline/history.js';
import { crc32c } from '../src/xlogreader/crc32c.js';
import { walinspectBlockRows, waldumpLine, walinspectRow } from '../src/xlogreader/describe.js';
import { restoreBlockImage } from '../src/xlogreader/fpi.js';
import { profileForMajor, type Major } from '../src/xlogreader/profile.js';
import { XLogReader, type EndOfWal } from '../src/xlogreader/reader.js';
import { MemorySource, readRecordsSync } from '../src/xlogreader/source.js';
import { waldumpContext, walinspectContext } from '../src/xlogreader/timestamp.js';
import { listFixtures, readSegment } from '../test/support/fixtures.js';

export const FUZZ_DIR = path.dirname(fileURLToPath(import.meta.url));
export const CORPUS_DIR = path.resolve(FUZZ_DIR, '../test/fuzz-corpus');
export const FAILURES_DIR = path.join(FUZZ_DIR, 'failures');
const BLCKSZ = 8192;

// ---------------------------------------------------------------------------------------------------------------
// Randomness: one small PRNG per input, seeded from (run seed, input index), so any input is re-made alone.

export type Rng = () => number;

export function mulberry32(a: number): Rng {
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function inputRng(seed: number, index: number): Rng {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 0x632be5ab, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  return mulberry32(h ^ (h >>> 15));
}

const int = (rng: Rng, n: number): number => Math.floor(rng() * n);
const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[int(rng, xs.length)]!;

// ---------------------------------------------------------------------------------------------------------------
// Inputs

export interface RecKey {
  lsn: number;
  endLsn: number;
  crc: number;
}

/** A window of WAL: a few pages of real segments (the segment's first page always included), zeros elsewhere. */
export interface WalBase {
  kind: 'wal';
  id: string;
  major: Major;
  segmentSize: number;
  startLsn: number;
  findFirst: boolean;
  segments: { segno: number; length: number; pages: Map<number, Uint8Array> }[];
  /** Records the reader delivers from the window as it is, up to `damage`. */
  expect: RecKey[];
  /** The first byte already damaged (corpus entries are mutated windows); Infinity for intact windows. */
  damage: number;
  /** Records to aim field forgeries at. */
  targets: { lsn: number; totalLength: number }[];
}

export type Edit = { kind: 'patch'; lsn: number; bytes: Uint8Array } | { kind: 'truncate'; lsn: number };

export interface WalInput {
  kind: 'wal';
  base: WalBase;
  edits: Edit[];
  mutation: string;
}

export interface HistoryInput {
  kind: 'history';
  text: string;
  targetTli: number;
  mutation: string;
}

export interface MemberInput {
  kind: 'member';
  bytes: Uint8Array;
  maxSize: number;
  mutation: string;
}

export type Input = WalInput | HistoryInput | MemberInput;

/** A WAL input's bytes: segments from their start (a short one ends early), and where damage begins. */
export interface Materialized {
  segments: Map<number, Uint8Array>;
  damage: number;
  size: number;
}

function baseByte(base: WalBase, lsn: number): number | undefined {
  const segno = Math.floor(lsn / base.segmentSize);
  const seg = base.segments.find((s) => s.segno === segno);
  if (seg === undefined) return undefined;
  const off = lsn - segno * base.segmentSize;
  if (off >= seg.length) return undefined;
  const page = seg.pages.get(Math.floor(off / BLCKSZ));
  if (page === undefined) return 0;
  const b = page[off % BLCKSZ];
  return b ?? 0;
}

export function materialize(input: WalInput): Materialized {
  const { base } = input;
  let cut = Infinity;
  for (const e of input.edits) if (e.kind === 'truncate') cut = Math.min(cut, e.lsn);
  let damage = Math.min(base.damage, cut);
  const segments = new Map<number, Uint8Array>();
  let size = 0;
  for (const s of base.segments) {
    const segStart = s.segno * base.segmentSize;
    if (segStart >= cut) continue;
    const len = Math.min(s.length, cut - segStart);
    const buf = new Uint8Array(len);
    for (const [idx, page] of s.pages) {
      const off = idx * BLCKSZ;
      if (off < len) buf.set(page.subarray(0, Math.min(page.length, len - off)), off);
    }
    segments.set(s.segno, buf);
    size += len;
  }
  for (const e of input.edits) {
    if (e.kind !== 'patch') continue;
    for (let i = 0; i < e.bytes.length; i++) {
      const lsn = e.lsn + i;
      const segno = Math.floor(lsn / base.segmentSize);
      const buf = segments.get(segno);
      const off = lsn - segno * base.segmentSize;
      if (buf === undefined || off >= buf.length) continue;
      if (buf[off] !== e.bytes[i]) {
        if (lsn < damage) damage = lsn;
        buf[off] = e.bytes[i]!;
      }
    }
  }
  return { segments, damage, size };
}

/** Collects byte changes over a base (reads see earlier changes), then turns them into edits. */
class Mutator {
  private readonly changes = new Map<number, number>();
  cut = Infinity;
  readonly what: string[] = [];

  constructor(
    readonly base: WalBase,
    readonly rng: Rng,
  ) {}

  get(lsn: number): number {
    return this.changes.get(lsn) ?? baseByte(this.base, lsn) ?? 0;
  }

  has(lsn: number): boolean {
    return lsn < this.cut && baseByte(this.base, lsn) !== undefined;
  }

  set(lsn: number, v: number): void {
    this.changes.set(lsn, v & 0xff);
  }

  u32(lsn: number): number {
    return (this.get(lsn) | (this.get(lsn + 1) << 8) | (this.get(lsn + 2) << 16)) + this.get(lsn + 3) * 0x1000000;
  }

  setN(lsn: number, v: number, n: number): void {
    for (let i = 0; i < n; i++) this.set(lsn + i, Math.floor(v / 2 ** (8 * i)) & 0xff);
  }

  /** Present pages as [pageLsn, length]. */
  pages(): [number, number][] {
    const out: [number, number][] = [];
    for (const s of this.base.segments) {
      for (const [idx, page] of s.pages) out.push([s.segno * this.base.segmentSize + idx * BLCKSZ, Math.min(page.length, s.length - idx * BLCKSZ)]);
    }
    return out.filter(([, n]) => n > 0).sort((a, b) => a[0] - b[0]);
  }

  randomPos(): number {
    const [p, n] = pick(this.rng, this.pages());
    return p + int(this.rng, n);
  }

  edits(): Edit[] {
    const out: Edit[] = [];
    const keys = [...this.changes.keys()].sort((a, b) => a - b);
    for (let i = 0; i < keys.length; ) {
      let j = i;
      while (j + 1 < keys.length && keys[j + 1] === keys[j]! + 1) j++;
      out.push({ kind: 'patch', lsn: keys[i]!, bytes: Uint8Array.from(keys.slice(i, j + 1).map((k) => this.changes.get(k)!)) });
      i = j + 1;
    }
    if (this.cut !== Infinity) out.push({ kind: 'truncate', lsn: this.cut });
    return out;
  }

  /** The LSN of byte `i` of the record at `recLsn`, skipping page headers. */
  recByte(recLsn: number, i: number): number {
    let lsn = recLsn;
    for (;;) {
      const pageEnd = lsn - (lsn % BLCKSZ) + BLCKSZ;
      if (i < pageEnd - lsn) return lsn + i;
      i -= pageEnd - lsn;
      lsn = pageEnd + (pageEnd % this.base.segmentSize === 0 ? 40 : 24);
    }
  }

  recGet(rec: number, i: number): number {
    return this.get(this.recByte(rec, i));
  }

  recSetN(rec: number, i: number, v: number, n: number): void {
    for (let k = 0; k < n; k++) this.set(this.recByte(rec, i + k), Math.floor(v / 2 ** (8 * k)) & 0xff);
  }

  /** Recomputes xl_crc after a forgery, when the whole (possibly re-lengthed) record is in the window. */
  fixCrc(rec: number): boolean {
    const tot = this.recGet(rec, 0) | (this.recGet(rec, 1) << 8) | (this.recGet(rec, 2) << 16) | (this.recGet(rec, 3) << 24);
    if (tot >>> 0 < 24 || tot >>> 0 > 256 * 1024) return false;
    const bytes = new Uint8Array(tot >>> 0);
    for (let i = 0; i < bytes.length; i++) {
      const lsn = this.recByte(rec, i);
      if (!this.has(lsn)) return false;
      bytes[i] = this.get(lsn);
    }
    const crc = crc32c(bytes.subarray(0, 20), crc32c(bytes.subarray(24)));
    this.recSetN(rec, 20, crc, 4);
    return true;
  }
}

interface Field {
  name: string;
  off: number;
  size: number;
}

/** The header fields of the record at `rec` as DecodeXLogRecord walks them, and its payload ranges. */
function recordFields(m: Mutator, rec: number, total: number): { fields: Field[]; payloads: Field[] } {
  const fields: Field[] = [
    { name: 'xl_tot_len', off: 0, size: 4 },
    { name: 'xl_xid', off: 4, size: 4 },
    { name: 'xl_prev', off: 8, size: 4 },
    { name: 'xl_info', off: 16, size: 1 },
    { name: 'xl_rmid', off: 17, size: 1 },
  ];
  const payloads: Field[] = [];
  const blocks: { image: number; imageName: string; data: number }[] = [];
  let ptr = 24;
  let mainLen = 0;
  for (let guard = 0; ptr < total && guard < 40; guard++) {
    const id = m.recGet(rec, ptr);
    if (id === 255 || id === 254) {
      fields.push({ name: 'main data length', off: ptr + 1, size: id === 255 ? 1 : 4 });
      mainLen = id === 255 ? m.recGet(rec, ptr + 1) : m.recGet(rec, ptr + 1) | (m.recGet(rec, ptr + 2) << 8);
      ptr += id === 255 ? 2 : 5;
      break;
    }
    if (id === 253) {
      fields.push({ name: 'origin', off: ptr + 1, size: 2 });
      ptr += 3;
      continue;
    }
    if (id === 252) {
      fields.push({ name: 'toplevel xid', off: ptr + 1, size: 4 });
      ptr += 5;
      continue;
    }
    if (id > 32) break;
    const flags = m.recGet(rec, ptr + 1);
    const dataLen = m.recGet(rec, ptr + 2) | (m.recGet(rec, ptr + 3) << 8);
    fields.push({ name: `block ${id} id`, off: ptr, size: 1 }, { name: `block ${id} fork_flags`, off: ptr + 1, size: 1 }, { name: `block ${id} data_length`, off: ptr + 2, size: 2 });
    ptr += 4;
    let imageLen = 0;
    let imageName = 'image';
    if (flags & 0x10) {
      imageLen = m.recGet(rec, ptr) | (m.recGet(rec, ptr + 1) << 8);
      const bimg = m.recGet(rec, ptr + 4);
      imageName = bimg & 0x1c ? 'compressed image' : 'image';
      fields.push({ name: `block ${id} bimg_len`, off: ptr, size: 2 }, { name: `block ${id} hole_offset`, off: ptr + 2, size: 2 }, { name: `block ${id} bimg_info`, off: ptr + 4, size: 1 });
      ptr += 5;
      if (bimg & 0x1c && bimg & 0x01) {
        fields.push({ name: `block ${id} hole_length`, off: ptr, size: 2 });
        ptr += 2;
      }
    }
    if (!(flags & 0x80)) {
      fields.push({ name: `block ${id} locator`, off: ptr, size: 4 });
      ptr += 12;
    }
    fields.push({ name: `block ${id} blkno`, off: ptr, size: 4 });
    ptr += 4;
    blocks.push({ image: imageLen, imageName, data: flags & 0x20 ? dataLen : 0 });
  }
  for (const b of blocks) {
    if (b.image > 0) payloads.push({ name: b.imageName, off: ptr, size: b.image });
    ptr += b.image;
    if (b.data > 0) payloads.push({ name: 'block data', off: ptr, size: b.data });
    ptr += b.data;
  }
  if (mainLen > 0) payloads.push({ name: 'main data', off: ptr, size: Math.min(mainLen, total - ptr) });
  return { fields, payloads: payloads.filter((p) => p.off < total && p.size > 0) };
}

const INTERESTING = [0, 1, 2, 7, 8, 23, 24, 25, 255, 256, 4095, 4096, 8191, 8192, 8193, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff];

function interesting(rng: Rng, old: number, size: number): number {
  const max = 2 ** (8 * size);
  const r = rng();
  let v: number;
  if (r < 0.4) v = pick(rng, INTERESTING);
  else if (r < 0.7) v = old + pick(rng, [-8, -4, -2, -1, 1, 2, 4, 8, 24, 40, 8192, -8192]);
  else if (r < 0.85) v = old * 2;
  else v = Math.floor(rng() * max);
  return ((v % max) + max) % max;
}

type WalMutation = (m: Mutator) => void;

const PAGE_HEADER_FIELDS: [string, number, number][] = [
  ['xlp_magic', 0, 2],
  ['xlp_info', 2, 2],
  ['xlp_tli', 4, 4],
  ['xlp_pageaddr', 8, 4],
  ['xlp_pageaddr hi', 12, 4],
  ['xlp_rem_len', 16, 4],
  ['xlp_sysid', 24, 8],
  ['xlp_seg_size', 32, 4],
  ['xlp_xlog_blcksz', 36, 4],
];

function targetRecord(m: Mutator): { lsn: number; totalLength: number } | undefined {
  const ts = m.base.targets.filter((t) => m.has(t.lsn));
  return ts.length === 0 ? undefined : pick(m.rng, ts);
}

const WAL_MUTATIONS: [string, number, WalMutation][] = [
  [
    'bit flips',
    3,
    (m) => {
      const n = 1 + int(m.rng, 8);
      const at: string[] = [];
      for (let i = 0; i < n; i++) {
        const p = m.randomPos();
        m.set(p, m.get(p) ^ (1 << int(m.rng, 8)));
        at.push(p.toString(16));
      }
      m.what.push(`bit flips at ${at.join(',')}`);
    },
  ],
  [
    'byte run',
    2,
    (m) => {
      const p = m.randomPos();
      const n = 1 + int(m.rng, m.rng() < 0.8 ? 16 : 512);
      const style = int(m.rng, 4);
      for (let i = 0; i < n; i++) m.set(p + i, style === 0 ? 0 : style === 1 ? 0xff : style === 2 ? int(m.rng, 256) : m.get(p + i) ^ 0x80);
      m.what.push(`byte run ${['zeros', 'ones', 'random', 'high bit'][style]} of ${n} at ${p.toString(16)}`);
    },
  ],
  [
    'truncation',
    3,
    (m) => {
      const pages = m.pages();
      const [page] = pick(m.rng, pages);
      const rec = targetRecord(m);
      const klass = int(m.rng, 7);
      let at: number;
      let what: string;
      if (klass === 0) {
        at = page + int(m.rng, page % m.base.segmentSize === 0 ? 40 : 24);
        what = 'inside a page header';
      } else if (klass === 1 && rec) {
        at = m.recByte(rec.lsn, int(m.rng, 24));
        what = 'inside a record header';
      } else if (klass === 2 && rec) {
        at = m.recByte(rec.lsn, 24 + int(m.rng, Math.max(1, Math.min(60, rec.totalLength - 24))));
        what = 'inside block headers';
      } else if (klass === 3 && rec) {
        at = m.recByte(rec.lsn, int(m.rng, rec.totalLength));
        what = 'inside a record';
      } else if (klass === 4) {
        at = page + pick(m.rng, [0, BLCKSZ]) + pick(m.rng, [-8, -1, 0, 0, 1, 8]);
        what = 'at a page boundary';
      } else if (klass === 5) {
        const seg = pick(m.rng, m.base.segments);
        at = seg.segno * m.base.segmentSize + pick(m.rng, [0, seg.length, seg.length - 1, BLCKSZ, 1]);
        what = 'at a segment boundary';
      } else {
        at = m.randomPos();
        what = 'anywhere';
      }
      m.cut = Math.min(m.cut, Math.max(at, 1));
      m.what.push(`truncation ${what} at ${m.cut.toString(16)}`);
    },
  ],
  [
    'swapped pages',
    1,
    (m) => {
      const pages = m.pages().filter(([, n]) => n === BLCKSZ);
      if (pages.length < 2) return;
      const a = pick(m.rng, pages)[0];
      const b = pick(m.rng, pages)[0];
      const pa = Array.from({ length: BLCKSZ }, (_, i) => m.get(a + i));
      for (let i = 0; i < BLCKSZ; i++) m.set(a + i, m.get(b + i));
      for (let i = 0; i < BLCKSZ; i++) m.set(b + i, pa[i]!);
      m.what.push(`swapped pages ${a.toString(16)} and ${b.toString(16)}`);
    },
  ],
  [
    'copied page header',
    1,
    (m) => {
      const pages = m.pages();
      const a = pick(m.rng, pages)[0];
      const b = pick(m.rng, pages)[0];
      const n = m.rng() < 0.5 ? 24 : 40;
      for (let i = 0; i < n; i++) m.set(b + i, m.get(a + i));
      m.what.push(`page header (${n} bytes) of ${a.toString(16)} copied to ${b.toString(16)}`);
    },
  ],
  [
    'page header field',
    2,
    (m) => {
      const [page] = pick(m.rng, m.pages());
      const long = page % m.base.segmentSize === 0;
      const fields = PAGE_HEADER_FIELDS.filter(([, off]) => long || off < 24);
      const [name, off, size] = m.rng() < 0.4 ? PAGE_HEADER_FIELDS[5]! : pick(m.rng, fields);
      const old = size === 2 ? m.get(page + off) | (m.get(page + off + 1) << 8) : m.u32(page + off);
      const v = name === 'xlp_info' ? old ^ pick(m.rng, [1, 2, 4, 8, 16, 0x100]) : interesting(m.rng, old, Math.min(size, 4));
      m.setN(page + off, v, Math.min(size, 4));
      m.what.push(`${name} of page ${page.toString(16)} forged to ${v}`);
    },
  ],
  [
    'xl_tot_len',
    2,
    (m) => {
      const rec = targetRecord(m);
      if (!rec) return;
      const v = interesting(m.rng, rec.totalLength, 4);
      m.recSetN(rec.lsn, 0, v, 4);
      const fixed = m.rng() < 0.5 && m.fixCrc(rec.lsn);
      m.what.push(`xl_tot_len of ${rec.lsn.toString(16)} forged to ${v}${fixed ? ', CRC fixed' : ''}`);
    },
  ],
  [
    'record field',
    6,
    (m) => {
      const rec = targetRecord(m);
      if (!rec) return;
      const { fields } = recordFields(m, rec.lsn, rec.totalLength);
      // Prefer the block and main-data headers the brief names; the fixed header's fields are rarer.
      const f = m.rng() < 0.8 && fields.length > 5 ? pick(m.rng, fields.slice(5)) : pick(m.rng, fields);
      const old = Array.from({ length: f.size }, (_, i) => m.recGet(rec.lsn, f.off + i)).reduce((a, b, i) => a + b * 2 ** (8 * i), 0);
      const v = f.name.endsWith('bimg_info') || f.name.endsWith('fork_flags') ? (m.rng() < 0.5 ? old ^ (1 << int(m.rng, 8)) : int(m.rng, 256)) : interesting(m.rng, old, f.size);
      m.recSetN(rec.lsn, f.off, v, f.size);
      const fixed = m.rng() < 0.9 && m.fixCrc(rec.lsn);
      m.what.push(`${f.name} of ${rec.lsn.toString(16)} forged ${old} -> ${v}${fixed ? ', CRC fixed' : ''}`);
    },
  ],
  [
    'payload bytes',
    4,
    (m) => {
      const rec = targetRecord(m);
      if (!rec) return;
      const { payloads } = recordFields(m, rec.lsn, rec.totalLength);
      if (payloads.length === 0) return;
      const compressed = payloads.filter((p) => p.name === 'compressed image');
      const p = compressed.length > 0 && m.rng() < 0.5 ? pick(m.rng, compressed) : pick(m.rng, payloads);
      const n = 1 + int(m.rng, 6);
      for (let i = 0; i < n; i++) {
        const off = p.off + int(m.rng, p.size);
        m.recSetN(rec.lsn, off, m.rng() < 0.5 ? m.recGet(rec.lsn, off) ^ (1 << int(m.rng, 8)) : pick(m.rng, [0, 0xff, 0x7f, 0x80, int(m.rng, 256)]), 1);
      }
      const fixed = m.fixCrc(rec.lsn);
      m.what.push(`${n} bytes of ${p.name} of ${rec.lsn.toString(16)} changed${fixed ? ', CRC fixed' : ''}`);
    },
  ],
  [
    'rmgr and info',
    2,
    (m) => {
      const rec = targetRecord(m);
      if (!rec) return;
      const rmid = m.rng() < 0.7 ? int(m.rng, 22) : m.recGet(rec.lsn, 17);
      const info = m.rng() < 0.8 ? int(m.rng, 16) << 4 | (m.recGet(rec.lsn, 16) & 0x0f) : int(m.rng, 256);
      m.recSetN(rec.lsn, 16, info, 1);
      m.recSetN(rec.lsn, 17, rmid, 1);
      const fixed = m.fixCrc(rec.lsn);
      m.what.push(`record ${rec.lsn.toString(16)} relabelled rmid ${rmid} info ${info.toString(16)}${fixed ? ', CRC fixed' : ''}`);
    },
  ],
];
const WAL_WEIGHT = WAL_MUTATIONS.reduce((a, [, w]) => a + w, 0);

function mutateWal(base: WalBase, rng: Rng): WalInput {
  const m = new Mutator(base, rng);
  // A corpus entry may have been truncated to nothing: nothing to mutate.
  if (m.pages().length === 0) return { kind: 'wal', base, edits: [], mutation: `${base.id}: none (no pages)` };
  const n = rng() < 0.75 ? 1 : 2 + int(rng, 2);
  for (let i = 0; i < n; i++) {
    let r = rng() * WAL_WEIGHT;
    for (const [, w, f] of WAL_MUTATIONS) {
      if ((r -= w) < 0) {
        f(m);
        break;
      }
    }
  }
  return { kind: 'wal', base, edits: m.edits(), mutation: `${base.id}: ${m.what.join('; ') || 'none'}` };
}

// ---------------------------------------------------------------------------------------------------------------
// Timeline history files and archive members.

const HISTORY_SEED = '1\t0/3000028\tno recovery target specified\n\n2\t0/5000000\tat restore point "x"\n# comment\n3\t1/A0000D8\tbefore 2000-01-01 00:00:00+00\n';
const HISTORY_PIECES = ['\t', ' ', '\n', '\r\n', '/', '#', '0x', '+', '-', '4294967296', '99999999999999999999', 'FFFFFFFF/FFFFFFFF', '0/0', '\0', 'é', '1\t', '\t0/1\t', 'X/Y', '00000000000000000001/1'];

function mutateHistory(rng: Rng): HistoryInput {
  let text = HISTORY_SEED;
  const what: string[] = [];
  const n = 1 + int(rng, 4);
  for (let i = 0; i < n; i++) {
    const at = int(rng, text.length + 1);
    const k = int(rng, 6);
    if (k === 0) {
      text = text.slice(0, at) + pick(rng, HISTORY_PIECES) + text.slice(at);
      what.push('insert');
    } else if (k === 1) {
      text = text.slice(0, at) + text.slice(at + 1 + int(rng, 8));
      what.push('delete');
    } else if (k === 2) {
      text = text.slice(0, at) + String.fromCharCode(int(rng, 256)) + text.slice(at + 1);
      what.push('replace');
    } else if (k === 3) {
      const lines = Array.from({ length: 1 + int(rng, 3000) }, (_, j) => `${j + 1}\t${j.toString(16)}/${(j * 8).toString(16)}\treason ${j}`);
      text = lines.join(rng() < 0.5 ? '\n' : '\r\n');
      what.push(`${lines.length} lines`);
    } else if (k === 4) {
      text = Array.from({ length: int(rng, 4096) }, () => String.fromCharCode(int(rng, 128))).join('');
      what.push('garbage');
    } else {
      text = text.slice(0, at);
      what.push('truncate');
    }
  }
  const targetTli = pick(rng, [0, 1, 2, 3, 4, 5, 1000, 0xffffffff, int(rng, 2 ** 32)]);
  return { kind: 'history', text, targetTli, mutation: `history: ${what.join(', ')}; target ${targetTli}` };
}

let memberSeeds: [string, Uint8Array][] | undefined;
function loadMemberSeeds(): [string, Uint8Array][] {
  if (memberSeeds) return memberSeeds;
  const dir = path.join(FUZZ_DIR, 'seeds');
  memberSeeds = fs.readdirSync(dir).sort().map((n) => [n, new Uint8Array(fs.readFileSync(path.join(dir, n)))]);
  return memberSeeds;
}

function mutateMember(rng: Rng): MemberInput {
  const [name, seed] = pick(rng, loadMemberSeeds());
  let bytes = seed.slice();
  const what: string[] = [name];
  const n = 1 + int(rng, 3);
  for (let i = 0; i < n; i++) {
    const k = int(rng, 5);
    const at = int(rng, bytes.length);
    if (k === 0) {
      bytes[at] ^= 1 << int(rng, 8);
      what.push(`bit flip at ${at}`);
    } else if (k === 1) {
      const len = 1 + int(rng, 32);
      for (let j = 0; j < len && at + j < bytes.length; j++) bytes[at + j] = pick(rng, [0, 0xff, int(rng, 256)]);
      what.push(`byte run at ${at}`);
    } else if (k === 2) {
      bytes = bytes.slice(0, at);
      what.push(`truncated at ${at}`);
    } else if (k === 3) {
      // An LZ4 frame's first block size word, or a zstd frame's header, forged.
      const off = name.endsWith('.lz4') ? 7 : 4 + int(rng, 8);
      const v = pick(rng, INTERESTING);
      for (let j = 0; j < 4 && off + j < bytes.length; j++) bytes[off + j] = Math.floor(v / 2 ** (8 * j)) & 0xff;
      what.push(`header word at ${off} forged to ${v}`);
    } else {
      const extra = Uint8Array.from({ length: int(rng, 64) }, () => int(rng, 256));
      const joined = new Uint8Array(bytes.length + extra.length);
      joined.set(bytes);
      joined.set(extra, bytes.length);
      bytes = joined;
      what.push(`${extra.length} bytes appended`);
    }
  }
  const maxSize = pick(rng, [24576, 24576, 1 << 20, 4096, 24575, 1 + int(rng, 65536)]);
  return { kind: 'member', bytes, maxSize, mutation: `member: ${what.join(', ')}; max ${maxSize}` };
}

// ---------------------------------------------------------------------------------------------------------------
// Seed material: windows of the fixtures' segments.

export interface PoolOptions {
  /** Pages per window besides the segment's first page (default 4). */
  maxPages?: number;
  /** Windows per fixture segment (default 6). */
  windowsPerSegment?: number;
  /** Only fixtures whose id matches. */
  filter?: RegExp;
}

export interface Pool {
  bases: WalBase[];
  corpus: WalBase[];
}

export function loadPool(options: PoolOptions = {}): Pool {
  const maxPages = options.maxPages ?? 4;
  const perSeg = options.windowsPerSegment ?? 6;
  const rng = mulberry32(12345);
  const bases: WalBase[] = [];
  for (const f of listFixtures()) {
    if (options.filter && !options.filter.test(f.id)) continue;
    const segSize = f.meta.walSegmentSize;
    const major = f.meta.major as Major;
    const segs = f.meta.segments.map((name) => ({ segno: parseInt(name.slice(8, 16), 16) * (0x100000000 / segSize) + parseInt(name.slice(16), 16), bytes: readSegment(f, name) }));
    const end = parseLsn(f.meta.endLsn);
    const makeWindow = (parts: { segno: number; from: number; to: number }[], startLsn: number, label: string): void => {
      const segments = parts.map((p) => {
        const s = segs.find((x) => x.segno === p.segno)!;
        const pages = new Map<number, Uint8Array>();
        pages.set(0, s.bytes.slice(0, BLCKSZ));
        for (let i = p.from; i < p.to; i++) pages.set(i, s.bytes.slice(i * BLCKSZ, (i + 1) * BLCKSZ));
        return { segno: p.segno, length: p.to * BLCKSZ, pages };
      });
      bases.push(finishBase({ kind: 'wal', id: `${f.id} ${label}`, major, segmentSize: segSize, startLsn, findFirst: true, segments, expect: [], damage: Infinity, targets: [] }));
    };
    for (const s of segs) {
      const segStart = s.segno * segSize;
      const used = Math.max(1, Math.min(segSize / BLCKSZ, Math.ceil((Math.min(end, segStart + segSize) - segStart) / BLCKSZ) + 1));
      for (let w = 0; w < perSeg; w++) {
        const k = 1 + int(rng, maxPages);
        const from = w === 0 ? 0 : int(rng, Math.max(1, used - 1));
        const to = Math.min(segSize / BLCKSZ, from + k);
        makeWindow([{ segno: s.segno, from, to }], segStart + from * BLCKSZ, `pages ${from}-${to - 1} of segment ${s.segno.toString(16)}`);
      }
    }
    // Records and switches that cross a segment boundary.
    for (let i = 0; i + 1 < segs.length; i++) {
      const last = segSize / BLCKSZ;
      const tail = Math.max(1, Math.min(2, maxPages - 1));
      const a = segs[i]!;
      const b = segs[i + 1]!;
      makeWindow([{ segno: a.segno, from: last - tail, to: last }, { segno: b.segno, from: 0, to: Math.min(maxPages, 3) }], a.segno * segSize + (last - tail) * BLCKSZ, `segment boundary ${a.segno.toString(16)}/${b.segno.toString(16)}`);
    }
  }
  if (bases.length > 0 && bases.every((b) => b.expect.length === 0)) throw new Error('no fixture window yields records: the seed material is broken');
  return { bases, corpus: [] };
}

/** Fills a base's expectations (its records as read intact) and targets. */
export function finishBase(base: WalBase): WalBase {
  const out = runWal({ kind: 'wal', base, edits: [], mutation: 'none' }, materialize({ kind: 'wal', base, edits: [], mutation: 'none' }), false);
  if (out.failures.length > 0) throw new Error(`${base.id}: the unmutated window fails: ${out.failures.join('; ')}`);
  if (base.damage === Infinity) base.expect = out.records.map(({ lsn, endLsn, crc }) => ({ lsn, endLsn, crc }));
  base.targets = out.records.map((r) => ({ lsn: r.lsn, totalLength: r.totalLength }));
  return base;
}

export function generateInput(pool: Pool, seed: number, index: number): Input {
  const rng = inputRng(seed, index);
  const r = rng();
  if (r < 0.07) return mutateHistory(rng);
  if (r < 0.14) return mutateMember(rng);
  const from = pool.corpus.length > 0 && rng() < 0.5 ? pool.corpus : pool.bases;
  return mutateWal(pick(rng, from), rng);
}

// ---------------------------------------------------------------------------------------------------------------
// Running an input, and the properties.

export interface Bounds {
  /** An input that takes longer than this is a failure (default 2000 ms). */
  timeMs: number;
  /** Heap + ArrayBuffer growth over one input: fixed part (default 64 MB) … */
  memFixed: number;
  /** … plus this many times the input's size (default 8). */
  memPerByte: number;
}

export const DEFAULT_BOUNDS: Bounds = { timeMs: 2000, memFixed: 64 * 1024 * 1024, memPerByte: 8 };

export interface Outcome {
  records: (RecKey & { totalLength: number })[];
  end: EndOfWal | undefined;
  /** What escaped the entry points: a WalError is expected; anything else is a failure. */
  escaped: unknown[];
  /** Coverage keys (see outcomeKey). */
  keys: Set<string>;
  failures: string[];
  elapsedMs: number;
  memGrowth: number;
  size: number;
}

/** The shape of a message, numbers and positions blanked: `invalid record length at L: expected at least N, got N`. */
export function template(message: string): string {
  return message
    .replace(/history file: [\s\S]*; (?=expected|timeline IDs)/, 'history file: …; ')
    .replace(/history file "[^"]*"/, 'history file "F"')
    .replace(/\([^()]*\.history(, line \d+)?\)$/, '(F)')
    .replace(/\b[0-9A-F]{24}\b/g, 'F')
    .replace(/\b[0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}\b/g, 'L')
    .replace(/\b0x[0-9a-f]+\b/gi, 'N')
    .replace(/\b[0-9A-F]{4}\b/g, 'N')
    .replace(/-?\d+/g, 'N')
    .slice(0, 160);
}

function escapeKey(e: unknown): string {
  return e instanceof WalError ? `throw ${e.name} ${e.code} ${template(e.message)}` : `CRASH ${(e as Error)?.name} ${template(String((e as Error)?.message))}`;
}

function guard(out: Outcome, where: string, f: () => void): void {
  try {
    f();
  } catch (e) {
    out.escaped.push(e);
    out.keys.add(`${where}: ${escapeKey(e)}`);
    if (!(e instanceof WalError)) out.failures.push(`${where} threw ${describeError(e)}`);
  }
}

export function describeError(e: unknown): string {
  if (!(e instanceof Error)) return `a non-error ${String(e)}`;
  const frame = (e.stack ?? '').split('\n').slice(1, 4).map((l) => l.trim()).join(' < ');
  return `${e.name}: ${e.message} (${frame})`;
}

function newOutcome(size: number): Outcome {
  return { records: [], end: undefined, escaped: [], keys: new Set(), failures: [], elapsedMs: 0, memGrowth: 0, size };
}

/** Reads every record of a WAL input and describes each in every way the tools do. */
function runWal(input: WalInput, mat: Materialized, describe = true): Outcome {
  const { base } = input;
  const out = newOutcome(mat.size);
  const deadline = performance.now() + 10 * DEFAULT_BOUNDS.timeMs;
  guard(out, 'read', () => {
    const source = new MemorySource(base.segmentSize);
    for (const [segno, bytes] of mat.segments) if (bytes.length > 0) source.add(segno, bytes);
    const reader = new XLogReader({ segmentSize: base.segmentSize, startLsn: base.startLsn, findFirst: base.findFirst });
    const it = readRecordsSync(reader, source);
    for (;;) {
      const r = it.next();
      if (r.done) {
        out.end = r.value;
        out.keys.add(`end ${r.value.reason} ${template(r.value.message)}`);
        return;
      }
      const rec = r.value;
      out.records.push({ lsn: rec.lsn, endLsn: rec.endLsn, crc: rec.crc, totalLength: rec.totalLength });
      // A reader that delivers records forever is a hang even though each step returns.
      if (out.records.length > 1_000_000 || performance.now() > deadline) {
        out.failures.push(`runaway: ${out.records.length} records and still reading`);
        return;
      }
      if (!describe) continue;
      const profile = reader.profile ?? profileForMajor(base.major)!;
      const inspect = walinspectContext(profile);
      const dump = waldumpContext(profile);
      guard(out, 'walinspectRow', () => {
        const row = walinspectRow(rec, inspect);
        out.keys.add(`desc ${row.resource_manager} ${row.record_type.replace(/[0-9a-f]+\)$/, 'N)')}`);
      });
      guard(out, 'waldumpLine(waldump)', () => void waldumpLine(rec, dump, true));
      guard(out, 'waldumpLine(walinspect)', () => void waldumpLine(rec, inspect, false));
      guard(out, 'walinspectBlockRows', () => {
        const rows = walinspectBlockRows(rec, inspect, restoreBlockImage);
        for (const row of rows) if (row[16] !== null) out.keys.add(`fpi ${row[16]}`);
      });
    }
  });
  return out;
}

function runHistory(input: HistoryInput): Outcome {
  const out = newOutcome(input.text.length * 2);
  guard(out, 'parseTimelineHistory', () => {
    const h = parseTimelineHistory(input.text, input.targetTli);
    out.keys.add(`history ok ${Math.min(h.length, 5)} entries`);
    guard(out, 'timelinesForSegment', () => void timelinesForSegment(3, h, 16 * 1024 * 1024));
    guard(out, 'timelineOfLsn', () => void timelineOfLsn(0x5000000, h));
  });
  return out;
}

function runMember(input: MemberInput): Outcome {
  const out = newOutcome(input.bytes.length + input.maxSize);
  guard(out, 'decompressMember', () => {
    const got = decompressMember(input.bytes, input.maxSize, '000000010000000000000001');
    if (got.length > input.maxSize && !(got === input.bytes)) out.failures.push(`decompressMember returned ${got.length} bytes, more than the ${input.maxSize} allowed`);
    out.keys.add(`member ok ${got === input.bytes ? 'as is' : 'decompressed'}`);
  });
  return out;
}

let gcFn: (() => void) | undefined;
function gc(): (() => void) | undefined {
  if (gcFn === undefined) {
    try {
      v8.setFlagsFromString('--expose-gc');
      gcFn = vm.runInNewContext('gc') as () => void;
    } catch {
      gcFn = undefined;
    }
  }
  return gcFn;
}

function memNow(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

function runOnce(input: Input, mat: Materialized | undefined): Outcome {
  const t0 = performance.now();
  const m0 = memNow();
  const out = input.kind === 'wal' ? runWal(input, mat!) : input.kind === 'history' ? runHistory(input) : runMember(input);
  out.memGrowth = memNow() - m0;
  out.elapsedMs = performance.now() - t0;
  return out;
}

/** Runs one input through its entry points and checks every property. */
export function runInput(input: Input, bounds: Bounds = DEFAULT_BOUNDS): Outcome {
  const mat = input.kind === 'wal' ? materialize(input) : undefined;
  let out = runOnce(input, mat);
  // Growth without a collection counts garbage too: when it looks too high, collect and measure once more.
  if (out.memGrowth > memBound(out.size, bounds) && gc()) {
    gc()!();
    out = runOnce(input, input.kind === 'wal' ? materialize(input) : undefined);
  }
  out.failures.push(...checkProperties(input.kind === 'wal' ? { damage: mat!.damage, expect: input.base.expect } : undefined, out, bounds));
  return out;
}

export function memBound(size: number, bounds: Bounds): number {
  return bounds.memFixed + bounds.memPerByte * size;
}

/**
 * The properties, on an outcome: only WalErrors escape, the time and memory bounds hold, and the records before
 * the first damaged byte are exactly those of the intact WAL (none lost, none altered, none invented).
 */
export function checkProperties(wal: { damage: number; expect: RecKey[] } | undefined, out: Pick<Outcome, 'records' | 'escaped' | 'elapsedMs' | 'memGrowth' | 'size'>, bounds: Bounds = DEFAULT_BOUNDS): string[] {
  const failures: string[] = [];
  for (const e of out.escaped) if (!(e instanceof WalError)) failures.push(`escaped: ${describeError(e)}`);
  if (out.elapsedMs > bounds.timeMs) failures.push(`slow: ${out.elapsedMs.toFixed(0)} ms, bound ${bounds.timeMs} ms`);
  if (out.memGrowth > memBound(out.size, bounds)) failures.push(`memory: grew ${(out.memGrowth / 1048576).toFixed(1)} MB on a ${out.size}-byte input`);
  if (wal !== undefined) {
    const before = wal.expect.filter((r) => r.endLsn <= wal.damage);
    const hex = (n: number): string => n.toString(16).toUpperCase();
    for (let i = 0; i < before.length; i++) {
      const want = before[i]!;
      const got = out.records[i];
      if (got === undefined) {
        failures.push(`prefix: record ${i} at ${hex(want.lsn)} (before the damage at ${hex(wal.damage)}) was not delivered`);
        break;
      }
      if (got.lsn !== want.lsn || got.endLsn !== want.endLsn || got.crc >>> 0 !== want.crc >>> 0) {
        failures.push(`prefix: record ${i} is ${hex(got.lsn)}-${hex(got.endLsn)} crc ${hex(got.crc >>> 0)}, the intact WAL has ${hex(want.lsn)}-${hex(want.endLsn)} crc ${hex(want.crc >>> 0)}`);
        break;
      }
    }
    for (let i = before.length; i < out.records.length; i++) {
      const r = out.records[i]!;
      if (r.endLsn <= wal.damage) {
        failures.push(`prefix: record ${i} at ${hex(r.lsn)}-${hex(r.endLsn)} ends before the damage at ${hex(wal.damage)} but the intact WAL has no such record`);
        break;
      }
    }
  }
  return failures;
}

/** The failure's kind, for shrinking: a smaller input must fail the same way. */
export function failureClass(failures: string[]): string {
  return failures.map((f) => f.replace(/\(.*$/, '').split(':').slice(0, 2).join(':')).sort().join(' | ');
}

// ---------------------------------------------------------------------------------------------------------------
// Shrinking: fewer edits, fewer changed bytes, an earlier truncation, fewer pages.

export function shrink(input: Input, cls: string, budget = 400, bounds = DEFAULT_BOUNDS): Input {
  let tries = 0;
  const fails = (c: Input): boolean => {
    tries++;
    return failureClass(runInput(c, bounds).failures) === cls;
  };
  if (input.kind === 'history') {
    let text = input.text;
    for (let chunk = Math.max(1, text.length >> 1); chunk >= 1 && tries < budget; chunk >>= 1) {
      for (let at = 0; at < text.length && tries < budget; ) {
        const t = text.slice(0, at) + text.slice(at + chunk);
        if (fails({ ...input, text: t })) text = t;
        else at += chunk;
      }
    }
    return { ...input, text };
  }
  if (input.kind === 'member') {
    let bytes = input.bytes;
    for (let len = bytes.length >> 1; len >= 1 && tries < budget; len >>= 1) {
      const t = bytes.slice(0, bytes.length - len);
      if (fails({ ...input, bytes: t })) bytes = t;
    }
    return { ...input, bytes };
  }
  let edits = input.edits;
  const tryEdits = (e: Edit[]): boolean => {
    if (tries >= budget) return false;
    if (fails({ ...input, edits: e })) {
      edits = e;
      return true;
    }
    return false;
  };
  for (let i = 0; i < edits.length; ) if (!tryEdits(edits.filter((_, j) => j !== i))) i++;
  // Split each patch and drop halves while the failure stays.
  for (let changed = true; changed && tries < budget; ) {
    changed = false;
    for (let i = 0; i < edits.length && tries < budget; i++) {
      const e = edits[i]!;
      if (e.kind !== 'patch' || e.bytes.length < 2) continue;
      const h = e.bytes.length >> 1;
      const a: Edit = { kind: 'patch', lsn: e.lsn, bytes: e.bytes.subarray(0, h) };
      const b: Edit = { kind: 'patch', lsn: e.lsn + h, bytes: e.bytes.subarray(h) };
      if (tryEdits([...edits.slice(0, i), a, ...edits.slice(i + 1)]) || tryEdits([...edits.slice(0, i), b, ...edits.slice(i + 1)])) changed = true;
      else if (tryEdits([...edits.slice(0, i), a, b, ...edits.slice(i + 1)])) changed = false;
    }
  }
  // A shorter input: cut it as early as the failure allows (whole pages first, then bytes).
  const mat = materialize({ ...input, edits });
  const last = Math.max(...[...mat.segments].map(([segno, b]) => segno * input.base.segmentSize + b.length));
  const cutAt = (lsn: number): Edit[] => [...edits.filter((e) => e.kind !== 'truncate'), { kind: 'truncate', lsn }, ...edits.filter((e) => e.kind === 'truncate')];
  let hi = last;
  for (let step = BLCKSZ * 64; step >= 1 && tries < budget; step = Math.floor(step / 2)) {
    while (hi - step > input.base.startLsn && tries < budget && tryEdits(cutAt(hi - step))) hi -= step;
  }
  return { ...input, edits };
}

// ---------------------------------------------------------------------------------------------------------------
// Saved inputs: gzip of one JSON line, then the non-zero pages of each segment.

interface SavedHeader {
  format: 'pgwal-fuzz/1';
  kind: Input['kind'];
  mutation: string;
  seed?: number;
  index?: number;
  failures?: string[];
  // wal
  id?: string;
  major?: number;
  segmentSize?: number;
  startLsn?: number;
  findFirst?: boolean;
  damage?: number | null;
  expect?: [number, number, number][];
  segments?: { segno: number; length: number; pages: number[] }[];
  // history
  targetTli?: number;
  // member
  maxSize?: number;
}

export function serialize(input: Input, extra: Partial<SavedHeader> = {}): Buffer {
  const h: SavedHeader = { format: 'pgwal-fuzz/1', kind: input.kind, mutation: input.mutation, ...extra };
  const chunks: Uint8Array[] = [];
  if (input.kind === 'wal') {
    const mat = materialize(input);
    h.id = input.base.id;
    h.major = input.base.major;
    h.segmentSize = input.base.segmentSize;
    h.startLsn = input.base.startLsn;
    h.findFirst = input.base.findFirst;
    h.damage = Number.isFinite(mat.damage) ? mat.damage : null;
    h.expect = input.base.expect.filter((r) => r.endLsn <= mat.damage).map((r) => [r.lsn, r.endLsn, r.crc >>> 0]);
    h.segments = [];
    for (const [segno, bytes] of mat.segments) {
      const pages: number[] = [];
      for (let off = 0; off < bytes.length; off += BLCKSZ) {
        const p = bytes.subarray(off, off + BLCKSZ);
        if (p.some((b) => b !== 0)) {
          pages.push(off / BLCKSZ);
          chunks.push(p);
        }
      }
      h.segments.push({ segno, length: bytes.length, pages });
    }
  } else if (input.kind === 'history') {
    h.targetTli = input.targetTli;
    chunks.push(Buffer.from(input.text, 'utf8'));
  } else {
    h.maxSize = input.maxSize;
    chunks.push(input.bytes);
  }
  return zlib.gzipSync(Buffer.concat([Buffer.from(JSON.stringify(h) + '\n'), ...chunks]), { level: 9 });
}

export function deserialize(file: Buffer): { input: Input; header: SavedHeader } {
  const raw = zlib.gunzipSync(file);
  const nl = raw.indexOf(10);
  const h = JSON.parse(raw.subarray(0, nl).toString('utf8')) as SavedHeader;
  if (h.format !== 'pgwal-fuzz/1') throw new Error(`not a saved fuzz input: ${h.format}`);
  const body = new Uint8Array(raw.subarray(nl + 1));
  if (h.kind === 'history') return { header: h, input: { kind: 'history', text: Buffer.from(body).toString('utf8'), targetTli: h.targetTli!, mutation: h.mutation } };
  if (h.kind === 'member') return { header: h, input: { kind: 'member', bytes: body, maxSize: h.maxSize!, mutation: h.mutation } };
  let at = 0;
  const segments = h.segments!.map((s) => {
    const pages = new Map<number, Uint8Array>();
    for (const p of s.pages) {
      const n = Math.min(BLCKSZ, s.length - p * BLCKSZ);
      pages.set(p, body.subarray(at, at + n));
      at += n;
    }
    return { segno: s.segno, length: s.length, pages };
  });
  const base: WalBase = {
    kind: 'wal',
    id: h.id!,
    major: h.major as Major,
    segmentSize: h.segmentSize!,
    startLsn: h.startLsn!,
    findFirst: h.findFirst!,
    segments,
    expect: h.expect!.map(([lsn, endLsn, crc]) => ({ lsn, endLsn, crc })),
    damage: h.damage ?? Infinity,
    targets: [],
  };
  return { header: h, input: { kind: 'wal', base, edits: [], mutation: h.mutation } };
}

/** A saved WAL input as seed material for further mutation (coverage mode). */
export function corpusBase(input: WalInput): WalBase {
  const base = input.base;
  const out = runWal(input, materialize(input), false);
  base.targets = out.records.map((r) => ({ lsn: r.lsn, totalLength: r.totalLength }));
  return base;
}

export function savedFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir).filter((n) => n.endsWith('.bin.gz')).sort().map((n) => path.join(dir, n));
}

/** Drops a corpus entry's window to the pages that matter: the segment's first page and those around the damage. */
export function trimForCorpus(input: WalInput): WalInput {
  const mat = materialize(input);
  const { base } = input;
  if (!Number.isFinite(mat.damage)) return input;
  const dPage = Math.floor(mat.damage / BLCKSZ) * BLCKSZ;
  const keepFrom = Math.max(base.startLsn, dPage - BLCKSZ);
  const segments = [...mat.segments].map(([segno, bytes]) => {
    const pages = new Map<number, Uint8Array>();
    const segStart = segno * base.segmentSize;
    let length = 0;
    for (let off = 0; off < bytes.length; off += BLCKSZ) {
      const lsn = segStart + off;
      if (off === 0 || (lsn >= keepFrom && lsn <= dPage + BLCKSZ)) {
        pages.set(off / BLCKSZ, bytes.slice(off, off + BLCKSZ));
        length = Math.min(bytes.length, off + BLCKSZ);
      }
    }
    return { segno, length, pages };
  });
  const startLsn = keepFrom - (keepFrom % BLCKSZ);
  const trimmed: WalBase = { ...base, segments, startLsn, damage: mat.damage, expect: base.expect.filter((r) => r.lsn >= startLsn && r.endLsn <= mat.damage) };
  return { kind: 'wal', base: trimmed, edits: [], mutation: input.mutation };
}

// ---------------------------------------------------------------------------------------------------------------
// The loop shared by the CLI's workers and the test.

export interface FailureReport {
  seed: number;
  index: number;
  mutation: string;
  failures: string[];
  input: Input;
}

export interface LoopOptions {
  bounds?: Bounds;
  /** Coverage mode: keys seen so far; an input that adds one is reported through onNewKeys. */
  coverage?: Set<string>;
  onNewKeys?: (keys: string[], input: Input, index: number) => void;
  onFailure?: (report: FailureReport) => void;
  /** Written before each input: the index being run (the watchdog reads it). */
  progress?: Int32Array;
  progressSlot?: number;
  /** Self-test of the harness (PGWAL_FUZZ_INJECT=hang@N or crash@N): misbehave at input N. */
  inject?: { kind: string; index: number };
}

export function parseInject(text: string | undefined): { kind: string; index: number } | undefined {
  const m = /^(hang|crash)@(\d+)$/.exec(text ?? '');
  return m ? { kind: m[1]!, index: Number(m[2]) } : undefined;
}

function injectFault(kind: string): void {
  if (kind === 'hang') for (;;);
  // A worker that dies outright (as on running out of memory).
  process.exit(3);
}

export function fuzzLoop(pool: Pool, seed: number, indices: Iterable<number>, options: LoopOptions = {}): { count: number; failures: FailureReport[] } {
  const failures: FailureReport[] = [];
  let count = 0;
  for (const index of indices) {
    if (options.progress) Atomics.store(options.progress, options.progressSlot ?? 0, index);
    const input = generateInput(pool, seed, index);
    if (options.inject?.index === index) injectFault(options.inject.kind);
    const out = runInput(input, options.bounds);
    count++;
    if (out.failures.length > 0) {
      const report = { seed, index, mutation: input.mutation, failures: out.failures, input };
      failures.push(report);
      options.onFailure?.(report);
      continue;
    }
    if (options.coverage) {
      const fresh = [...out.keys].filter((k) => !options.coverage!.has(k));
      if (fresh.length > 0) {
        for (const k of fresh) options.coverage.add(k);
        options.onNewKeys?.(fresh, input, index);
      }
    }
  }
  return { count, failures };
}
