// Micro-benchmarks behind pgwal's choices: CRC-32C implementation, how record headers are read, LSN representation.
//
//   tsx bench/primitives.ts          (after `npm run build`; needs the corpus from `npm run bench` for the
//                                     header/LSN benchmarks — without it those are skipped)
//
// Each figure is the median of 7 trials of ≥ 300 ms after a warm-up trial, in one process. Ratios are
// against the first row of each table (what pgwal does): > 1 means faster than pgwal's choice.
import fs from 'node:fs';
import path from 'node:path';
import CRC32C from 'crc-32/crc32c.js';
import * as BufferLayout from 'buffer-layout';
import Long from 'long';
import { MemorySource, STEP_NEED, STEP_RECORD, XLogReader } from '../dist/xlogreader.js';
import { makeCrc32c } from '../src/xlogreader/crc32c.js';
import { makeWasmCrc32c, WASM_CRC_TABLE_BYTES } from '../src/xlogreader/crc32c-wasm.js';
import { cachedCorpus } from './corpus.js';

const crcFns = makeCrc32c();
const ours = crcFns.range;
import { fmt, machine, median, table } from './lib.js';

const TRIALS = 7;
const TRIAL_MS = 300;
let sink = 0;

interface Result {
  name: string;
  /** Calls of `fn` per second. */
  callsPerSec: number;
}

/** Times `fn` (one call = one pass of work) in trials of ≥ TRIAL_MS; returns calls/s (median). */
function measure(name: string, fn: () => number): Result {
  const trial = (): number => {
    let calls = 0;
    const t0 = process.hrtime.bigint();
    let elapsed = 0;
    do {
      sink += fn();
      calls++;
      elapsed = Number(process.hrtime.bigint() - t0) / 1e6;
    } while (elapsed < TRIAL_MS);
    return (calls * 1000) / elapsed;
  };
  trial(); // warm-up: let the JIT settle
  const rates: number[] = [];
  for (let i = 0; i < TRIALS; i++) rates.push(trial());
  return { name, callsPerSec: median(rates) };
}

// ---------------------------------------------------------------------------------------------------------------
// CRC-32C

/** Sarwate's byte-at-a-time table (what a first implementation would write; also fast-crc32c's JS fallback). */
const SARWATE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[n] = c;
  }
  return t;
})();

function crc32cSarwate(buf: Uint8Array, seed = 0): number {
  let c = ~seed;
  for (let i = 0; i < buf.length; i++) c = SARWATE[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

function crcBench(): string {
  const check = new TextEncoder().encode('123456789');
  if ((CRC32C.buf(check, 0) >>> 0) !== 0xe3069283 || crc32cSarwate(check) !== 0xe3069283 || (ours(check, 0, 9, 0) >>> 0) !== 0xe3069283) {
    throw new Error('CRC-32C check value mismatch');
  }
  const rows: (string | number)[][] = [];
  for (const size of [24, 160, 8192]) {
    // Many distinct buffers (as in real WAL), cycled through, so no single buffer stays hot in L1. They lie
    // 8-aligned in one large buffer, as records do in a segment.
    const pool = 256;
    const stride = (size + 7) & ~7;
    const data = new Uint8Array(stride * pool);
    for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 24;
    const bufs = Array.from({ length: pool }, (_, i) => data.subarray(i * stride, i * stride + size));
    for (let i = 0; i < 8; i++) {
      const want = crc32cSarwate(bufs[i]!);
      if ((CRC32C.buf(bufs[i]!, 0) >>> 0) !== want || (ours(data, i * stride, i * stride + size, 0) >>> 0) !== want) throw new Error('CRC-32C implementations disagree');
    }
    const pgwal = measure('pgwal (slice-by-16, word reads, by offsets)', () => {
      let x = 0;
      for (let i = 0; i < pool; i++) x ^= ours(data, i * stride, i * stride + size, 0);
      return x;
    });
    const lib = measure('crc-32/crc32c (a subarray per call)', () => {
      let x = 0;
      for (let i = 0; i < pool; i++) x ^= CRC32C.buf(data.subarray(i * stride, i * stride + size), 0);
      return x;
    });
    const libReady = measure('crc-32/crc32c (subarrays made beforehand)', () => {
      let x = 0;
      for (let i = 0; i < pool; i++) x ^= CRC32C.buf(bufs[i]!, 0);
      return x;
    });
    const simple = measure('table-driven (Sarwate)', () => {
      let x = 0;
      for (let i = 0; i < pool; i++) x ^= crc32cSarwate(bufs[i]!);
      return x;
    });
    // The read-ahead worker's: the same buffers, in WebAssembly memory (where it reads its windows).
    const wasm = makeWasmCrc32c(data.length, crcFns.tables)!;
    new Uint8Array(wasm.memory.buffer).set(data, WASM_CRC_TABLE_BYTES);
    if ((wasm.crc(WASM_CRC_TABLE_BYTES, WASM_CRC_TABLE_BYTES + size, 0) >>> 0) !== crc32cSarwate(bufs[0]!)) throw new Error('CRC-32C implementations disagree');
    const inWasm = measure('pgwal WebAssembly (slice-by-16, the read-ahead worker)', () => {
      let x = 0;
      for (let i = 0; i < pool; i++) x ^= wasm.crc(WASM_CRC_TABLE_BYTES + i * stride, WASM_CRC_TABLE_BYTES + i * stride + size, 0);
      return x;
    });
    for (const r of [pgwal, inWasm, lib, libReady, simple]) {
      const ops = r.callsPerSec * pool;
      rows.push([`${r.name}, ${size} B`, `${fmt(ops / 1e6, 2)} M`, fmt((ops * size) / 1e6), `${(r.callsPerSec / pgwal.callsPerSec).toFixed(2)}×`]);
    }
  }
  return table(['CRC-32C', 'buffers/s', 'MB/s', 'vs pgwal'], rows);
}

// ---------------------------------------------------------------------------------------------------------------
// Record headers over a real segment

interface Segment {
  bytes: Uint8Array;
  start: number;
  /** Offsets (into bytes) of every record that lies wholly in this segment buffer. */
  offsets: Int32Array;
  name: string;
}

function loadSegment(): Segment | undefined {
  const c = cachedCorpus('pgbench', 0);
  if (c === undefined) return undefined;
  // A late segment: past the full-page-image burst that follows the checkpoint, so its records have the run's
  // typical mix (the early segments are mostly 8 KiB images that span pages).
  const name = c.meta.segments[Math.max(0, c.meta.segments.length - 2)]!;
  const bytes = new Uint8Array(fs.readFileSync(path.join(c.walDir, name)));
  const segno = parseInt(name.slice(16), 16) + parseInt(name.slice(8, 16), 16) * (0x1_0000_0000 / c.meta.segmentSize);
  const start = segno * c.meta.segmentSize;
  const source = new MemorySource(c.meta.segmentSize).add(name, bytes);
  const reader = new XLogReader({ segmentSize: c.meta.segmentSize, startLsn: start, findFirst: true, endLsn: start + c.meta.segmentSize });
  const offsets: number[] = [];
  for (;;) {
    const s = reader.step();
    if (s === STEP_NEED) {
      const got = source.read(reader.needPagePtr, reader.needLength);
      if ('missing' in got) reader.supplyMissing(reader.needPagePtr, got.missing);
      else reader.supply(got.start, got.bytes, got.tli);
    } else if (s === STEP_RECORD) {
      const r = reader.record!;
      // Records spanning pages are reassembled copies; the others are views into `bytes`.
      if (r.bytes.buffer === bytes.buffer) offsets.push(r.bytes.byteOffset - bytes.byteOffset);
    } else break;
  }
  return { bytes, start, offsets: Int32Array.from(offsets), name };
}

const maxAlign = (n: number): number => (n + 7) & ~7;

/** What the reader does: one DataView over the buffer, u64 as two u32 joined into a number. */
function headersDataView(seg: Segment): () => number {
  const { bytes, offsets, start } = seg;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = start + bytes.length;
  return () => {
    let ok = 0;
    let sum = 0;
    for (let i = 0; i < offsets.length; i++) {
      const o = offsets[i]!;
      const lsn = start + o;
      const totLen = v.getUint32(o, true);
      const xid = v.getUint32(o + 4, true);
      const prev = v.getUint32(o + 12, true) * 0x1_0000_0000 + v.getUint32(o + 8, true);
      const info = bytes[o + 16]!;
      const rmid = bytes[o + 17]!;
      const crc = v.getUint32(o + 20, true);
      const next = lsn + maxAlign(totLen);
      if (prev < lsn && next <= end) ok++;
      sum += totLen + xid + info + rmid + crc;
    }
    return ok + sum;
  };
}

/** What DecodedRecord's constructor does today: a DataView per record. */
function headersDataViewPerRecord(seg: Segment): () => number {
  const { bytes, offsets, start } = seg;
  const end = start + bytes.length;
  return () => {
    let ok = 0;
    let sum = 0;
    for (let i = 0; i < offsets.length; i++) {
      const o = offsets[i]!;
      const v = new DataView(bytes.buffer, bytes.byteOffset + o, 24);
      const lsn = start + o;
      const totLen = v.getUint32(0, true);
      const xid = v.getUint32(4, true);
      const prev = v.getUint32(12, true) * 0x1_0000_0000 + v.getUint32(8, true);
      const info = v.getUint8(16);
      const rmid = v.getUint8(17);
      const crc = v.getUint32(20, true);
      const next = lsn + maxAlign(totLen);
      if (prev < lsn && next <= end) ok++;
      sum += totLen + xid + info + rmid + crc;
    }
    return ok + sum;
  };
}

/** buffer-layout: a struct decoded into an object per record (nu64 gives xl_prev as a number). */
function headersBufferLayout(seg: Segment): () => number {
  const { bytes, offsets, start } = seg;
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = start + bytes.length;
  const XLogRecord = BufferLayout.struct([
    BufferLayout.u32('totLen'),
    BufferLayout.u32('xid'),
    BufferLayout.nu64('prev'),
    BufferLayout.u8('info'),
    BufferLayout.u8('rmid'),
    BufferLayout.u16('pad'),
    BufferLayout.u32('crc'),
  ]);
  if (XLogRecord.span !== 24) throw new Error('XLogRecord layout is not 24 bytes');
  return () => {
    let ok = 0;
    let sum = 0;
    for (let i = 0; i < offsets.length; i++) {
      const o = offsets[i]!;
      const h = XLogRecord.decode(buf, o) as { totLen: number; xid: number; prev: number; info: number; rmid: number; crc: number };
      const lsn = start + o;
      const next = lsn + maxAlign(h.totLen);
      if (h.prev < lsn && next <= end) ok++;
      sum += h.totLen + h.xid + h.info + h.rmid + h.crc;
    }
    return ok + sum;
  };
}

/** LSNs as `long` Long objects: xl_prev, the record's LSN and its end are Longs. */
function headersLong(seg: Segment): () => number {
  const { bytes, offsets, start } = seg;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const startL = Long.fromNumber(start, true);
  const endL = Long.fromNumber(start + bytes.length, true);
  return () => {
    let ok = 0;
    let sum = 0;
    for (let i = 0; i < offsets.length; i++) {
      const o = offsets[i]!;
      const lsn = startL.add(Long.fromInt(o, true));
      const totLen = v.getUint32(o, true);
      const xid = v.getUint32(o + 4, true);
      const prev = Long.fromBits(v.getUint32(o + 8, true), v.getUint32(o + 12, true), true);
      const info = bytes[o + 16]!;
      const rmid = bytes[o + 17]!;
      const crc = v.getUint32(o + 20, true);
      const next = lsn.add(Long.fromInt(maxAlign(totLen), true));
      if (prev.lessThan(lsn) && next.lessThanOrEqual(endL)) ok++;
      sum += totLen + xid + info + rmid + crc;
    }
    return ok + sum;
  };
}

/** LSNs as bigint: getBigUint64 for xl_prev, bigint LSN arithmetic. */
function headersBigInt(seg: Segment): () => number {
  const { bytes, offsets, start } = seg;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const startB = BigInt(start);
  const endB = BigInt(start + bytes.length);
  return () => {
    let ok = 0;
    let sum = 0;
    for (let i = 0; i < offsets.length; i++) {
      const o = offsets[i]!;
      const lsn = startB + BigInt(o);
      const totLen = v.getUint32(o, true);
      const xid = v.getUint32(o + 4, true);
      const prev = v.getBigUint64(o + 8, true);
      const info = bytes[o + 16]!;
      const rmid = bytes[o + 17]!;
      const crc = v.getUint32(o + 20, true);
      const next = lsn + BigInt(maxAlign(totLen));
      if (prev < lsn && next <= endB) ok++;
      sum += totLen + xid + info + rmid + crc;
    }
    return ok + sum;
  };
}

function headerBench(seg: Segment): string {
  const variants: [string, (s: Segment) => () => number][] = [
    ['one DataView per buffer + numbers (pgwal)', headersDataView],
    ['a DataView per record + numbers', headersDataViewPerRecord],
    ['buffer-layout struct.decode', headersBufferLayout],
    ['DataView + long (Long LSNs)', headersLong],
    ['DataView + bigint (getBigUint64, bigint LSNs)', headersBigInt],
  ];
  const fns = variants.map(([name, make]) => [name, make(seg)] as const);
  const expected = fns[0]![1]();
  for (const [name, fn] of fns) if (fn() !== expected) throw new Error(`header variant "${name}" disagrees with the DataView one`);
  const results = fns.map(([name, fn]) => measure(name, fn));
  const n = seg.offsets.length;
  return table(
    ['XLogRecord header + LSN fields', 'headers/s', 'ns/header', 'vs pgwal'],
    results.map((r) => [r.name, `${fmt((r.callsPerSec * n) / 1e6, 1)} M`, (1e9 / (r.callsPerSec * n)).toFixed(1), `${(r.callsPerSec / results[0]!.callsPerSec).toFixed(2)}×`]),
  );
}

// ---------------------------------------------------------------------------------------------------------------
// LSN arithmetic and comparison: the reader's per-record steps (advance by the aligned length, page offset,
// segment number, compare with the end) over the real record lengths.

function lsnBench(seg: Segment): string {
  const lengths = Int32Array.from(seg.offsets, (o) => seg.bytes[o]! | (seg.bytes[o + 1]! << 8) | (seg.bytes[o + 2]! << 16) | (seg.bytes[o + 3]! << 24));
  const SEG = 16 * 1024 * 1024;
  const base = 0x0000_0123_4560_0000; // above 2^32, so the high word matters
  const span = lengths.reduce((s, l) => s + maxAlign(l), 0);
  const endN = base + span;

  const numbers = (): number => {
    let lsn = base;
    let acc = 0;
    for (let i = 0; i < lengths.length; i++) {
      const next = lsn + maxAlign(lengths[i]!);
      if (next > endN) break;
      const pageOff = lsn % 8192;
      const segno = Math.floor(lsn / SEG);
      if (pageOff + lengths[i]! > 8192) acc++;
      acc += segno & 1;
      lsn = next;
    }
    return acc + (lsn === endN ? 1 : 0);
  };
  const baseL = Long.fromNumber(base, true);
  const endL = Long.fromNumber(endN, true);
  const oneL = Long.fromInt(1, true);
  const longs = (): number => {
    let lsn = baseL;
    let acc = 0;
    for (let i = 0; i < lengths.length; i++) {
      const next = lsn.add(Long.fromInt(maxAlign(lengths[i]!), true));
      if (next.greaterThan(endL)) break;
      const pageOff = lsn.low & 8191;
      const segno = lsn.shiftRightUnsigned(24);
      if (pageOff + lengths[i]! > 8192) acc++;
      acc += segno.and(oneL).low;
      lsn = next;
    }
    return acc + (lsn.equals(endL) ? 1 : 0);
  };
  const baseB = BigInt(base);
  const endB = BigInt(endN);
  const bigints = (): number => {
    let lsn = baseB;
    let acc = 0;
    for (let i = 0; i < lengths.length; i++) {
      const next = lsn + BigInt(maxAlign(lengths[i]!));
      if (next > endB) break;
      const pageOff = Number(lsn & 8191n);
      const segno = lsn >> 24n;
      if (pageOff + lengths[i]! > 8192) acc++;
      acc += Number(segno & 1n);
      lsn = next;
    }
    return acc + (lsn === endB ? 1 : 0);
  };
  const expected = numbers();
  if (longs() !== expected || bigints() !== expected) throw new Error('LSN variants disagree');
  const results = [measure('number (pgwal)', numbers), measure('long (Long)', longs), measure('bigint', bigints)];
  const n = lengths.length;
  return table(
    ['LSN step (advance, page offset, segment, compare)', 'steps/s', 'ns/step', 'vs pgwal'],
    results.map((r) => [r.name, `${fmt((r.callsPerSec * n) / 1e6, 1)} M`, (1e9 / (r.callsPerSec * n)).toFixed(2), `${(r.callsPerSec / results[0]!.callsPerSec).toFixed(2)}×`]),
  );
}

function main(): void {
  console.log(`machine: ${machine()}`);
  console.log(`each figure: median of ${TRIALS} trials of ≥ ${TRIAL_MS} ms after a warm-up trial, in one process\n`);
  console.log('## CRC-32C\n');
  console.log(crcBench());
  const seg = loadSegment();
  if (seg === undefined) {
    console.log('\n(no corpus in bench/.work/pgbench-wal: run `npm run bench` first; header and LSN benchmarks skipped)');
    return;
  }
  console.log(`\n## Record headers — the ${fmt(seg.offsets.length)} single-page records of segment ${seg.name}\n`);
  console.log(headerBench(seg));
  console.log(`\n## LSN arithmetic — the same ${fmt(seg.offsets.length)} record lengths\n`);
  console.log(lsnBench(seg));
  if (sink === 0.5) console.log(sink); // keep results observable
}

main();
