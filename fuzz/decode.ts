// Fuzzing the logical decoder: real fixture WAL whose records are mutated *after* the CRC check — hostile records
// a reader accepts (the CRC was forged), fed to the decoder with random options (spilling, streaming, two-phase).
// Properties: only WalErrors escape; time and heap growth stay bounded; rows emitted before the first hostile
// record equal the intact run's. `npm run fuzz:decode -- [--seed N] [--inputs N] [--index I]`.
import { WalError } from '../src/errors.js';
import { parseLsn } from '../src/lsn.js';
import { TestDecodingDecoder, type DecoderCatalog, type OutputRow } from '../src/reorderbuffer/logical.js';
import { MemorySpillStore } from '../src/reorderbuffer/spill.js';
import { decodeRecordBody } from '../src/xlogreader/decode-record.js';
import { profileForMajor, type Major } from '../src/xlogreader/profile.js';
import { DecodedRecord } from '../src/xlogreader/record.js';
import { listFixtures, readFixtureFile } from '../test/support/fixtures.js';
import { fixtureRead } from '../test/support/wal.js';
import { inputRng, type Rng } from './engine.js';

export interface DecodeCase {
  id: string;
  major: Major;
  catalog: DecoderCatalog;
  confirmedFlush: number;
  twoPhaseAt: number | undefined;
  /** Records from the slot's restart_lsn: their bytes copied, so mutations never touch the originals. */
  records: DecodedRecord[];
  bytes: number;
}

const DECODED_RMGRS = [1, 8, 9, 10, 21];

export function loadDecodeCases(): DecodeCase[] {
  const cases: DecodeCase[] = [];
  for (const f of listFixtures()) {
    for (const slot of f.meta.slots) {
      const { records } = fixtureRead(f, { start: parseLsn(slot.restartLsn) });
      const copies = records.map((r) => rebuild(r, copy(r.bytes)));
      cases.push({
        id: `${f.id}${slot.twoPhase ? ' (two_phase)' : ''}`,
        major: profileForMajor(f.meta.major)!.major,
        catalog: JSON.parse(readFixtureFile(f, 'catalog.json').toString()) as DecoderCatalog,
        confirmedFlush: parseLsn(slot.confirmedFlushLsn),
        twoPhaseAt: slot.twoPhase ? parseLsn(slot.confirmedFlushLsn) : undefined,
        records: copies.filter((r): r is DecodedRecord => r !== undefined),
        bytes: copies.reduce((n, r) => n + (r?.totalLength ?? 0), 0),
      });
    }
  }
  return cases;
}

/** A record from its bytes as the reader would make it (header fields, then DecodeXLogRecord); undefined if refused. xl_prev and xl_crc are read from the bytes. */
function rebuild(like: DecodedRecord, bytes: Uint8Array): DecodedRecord | undefined {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const rec = new DecodedRecord(bytes);
  rec.lsn = like.lsn;
  rec.endLsn = like.endLsn;
  rec.timeline = like.timeline;
  rec.totalLength = Math.min(v.getUint32(0, true), bytes.length);
  rec.xid = v.getUint32(4, true);
  rec.info = bytes[16]!;
  rec.rmid = bytes[17]!;
  return decodeRecordBody(rec, rec.lsn) === undefined ? rec : undefined;
}

const int = (rng: Rng, n: number): number => Math.floor(rng() * n);
/** A real copy (Buffer#slice would share memory with the fixture's pages). */
const copy = (b: Uint8Array): Uint8Array => new Uint8Array(b);
const EXTREMES = [0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff];

/** One mutation of a record's bytes past its header (or of its xid/info), described for the report. */
function mutate(rng: Rng, src: Uint8Array): { bytes: Uint8Array; what: string } {
  const b = copy(src);
  const v = new DataView(b.buffer);
  const body = (): number => 24 + int(rng, Math.max(1, b.length - 24));
  switch (int(rng, 7)) {
    case 0: {
      const n = 1 + int(rng, 4);
      for (let i = 0; i < n; i++) b[body()]! ^= 1 << int(rng, 8);
      return { bytes: b, what: `${n} bit flips` };
    }
    case 1: {
      const at = body();
      const len = 1 + int(rng, 16);
      const val = int(rng, 256);
      for (let i = at; i < Math.min(b.length, at + len); i++) b[i] = val;
      return { bytes: b, what: `run of ${len} × 0x${val.toString(16)} at +${at}` };
    }
    case 2: {
      const at = body();
      const val = EXTREMES[int(rng, EXTREMES.length)]!;
      if (at + 4 <= b.length && rng() < 0.5) v.setUint32(at, val >>> 0, true);
      else if (at + 2 <= b.length) v.setUint16(at, val & 0xffff, true);
      return { bytes: b, what: `field at +${at} = 0x${val.toString(16)}` };
    }
    case 3: {
      // The last bytes hold tuple data and main data: hit them harder.
      const at = Math.max(24, b.length - 1 - int(rng, Math.min(64, b.length - 24)));
      b[at] = int(rng, 256);
      return { bytes: b, what: `tail byte at +${at}` };
    }
    case 4:
      v.setUint32(4, rng() < 0.5 ? int(rng, 2000) : EXTREMES[int(rng, EXTREMES.length)]! >>> 0, true);
      return { bytes: b, what: `xid = ${v.getUint32(4, true)}` };
    case 5:
      b[16] = (b[16]! & 0x0f) | (int(rng, 16) << 4);
      return { bytes: b, what: `info = 0x${b[16]!.toString(16)}` };
    default: {
      const keep = 24 + int(rng, Math.max(1, b.length - 24));
      const cut = copy(b.subarray(0, keep));
      new DataView(cut.buffer).setUint32(0, keep, true);
      return { bytes: cut, what: `cut to ${keep} bytes` };
    }
  }
}

export interface DecodeBounds {
  timeMs: number;
  /** Heap growth allowed: fixed + per byte of the case's WAL. */
  memFixed: number;
  memPerByte: number;
}

export const DECODE_BOUNDS: DecodeBounds = { timeMs: 3000, memFixed: 96 * 1024 * 1024, memPerByte: 32 };

export interface DecodeOutcome {
  index: number;
  caseId: string;
  mutations: string[];
  failures: string[];
  escaped: string | undefined;
  /** For a failing input: the fewest of its hostile records that still fail the same way. */
  minimized?: string[];
}

const baselines = new Map<string, { intact: OutputRow[]; rowsBefore: number[] }>();

/** The intact run's rows, and how many were out before each record: one run per case and option set. */
function baselineOf(c: DecodeCase, options: object, more: { memoryLimit?: number; twoPhaseAt?: number }): { intact: OutputRow[]; rowsBefore: number[] } {
  const key = `${c.id} ${JSON.stringify(options)} ${more.memoryLimit}`;
  let b = baselines.get(key);
  if (b === undefined) {
    const intact: OutputRow[] = [];
    const rowsBefore: number[] = [];
    const decoder = new TestDecodingDecoder(c.catalog, c.major, options, c.confirmedFlush, { ...more, spill: new MemorySpillStore(), sink: (r) => intact.push(r) });
    for (const rec of c.records) {
      rowsBefore.push(intact.length);
      decoder.process(rec);
    }
    b = { intact, rowsBefore };
    if (baselines.size > 2000) baselines.clear();
    baselines.set(key, b);
  }
  return b;
}

function heap(): number {
  return process.memoryUsage().heapUsed;
}

/** Input `index` of run `seed`: a case, options, 1–3 hostile records; run, then check the properties. */
interface DecodeInput {
  c: DecodeCase;
  options: { includeXids: boolean; skipEmptyXacts: boolean; includeTimestamp: boolean; streamChanges: boolean };
  more: { memoryLimit: number | undefined; twoPhaseAt?: number };
  /** Record index → its hostile version (undefined: refused by DecodeXLogRecord, the WAL ends there). */
  hostile: Map<number, DecodedRecord | undefined>;
  /** Record index → what was done to it. */
  what: Map<number, string[]>;
}

/** Input `index` of run `seed`: a case, options, 1–3 hostile records. */
function generateDecodeInput(cases: DecodeCase[], seed: number, index: number): DecodeInput {
  const rng = inputRng(seed, index);
  const c = cases[int(rng, cases.length)]!;
  const options = { includeXids: rng() < 0.5, skipEmptyXacts: rng() < 0.5, includeTimestamp: rng() < 0.3, streamChanges: rng() < 0.3 };
  const more = { memoryLimit: rng() < 0.5 ? int(rng, 3) * 4096 : undefined, ...(c.twoPhaseAt !== undefined ? { twoPhaseAt: c.twoPhaseAt } : {}) };
  const candidates = c.records.map((r, i) => [r, i] as const).filter(([r]) => DECODED_RMGRS.includes(r.rmid));
  const hostile = new Map<number, DecodedRecord | undefined>();
  const what = new Map<number, string[]>();
  for (let k = 1 + int(rng, 3); k > 0 && candidates.length > 0; k--) {
    const [rec, i] = candidates[int(rng, candidates.length)]!;
    const m = mutate(rng, (hostile.get(i) ?? rec).bytes);
    hostile.set(i, rebuild(rec, m.bytes));
    what.set(i, [...(what.get(i) ?? []), `${m.what}${hostile.get(i) === undefined ? ' (refused by DecodeXLogRecord: end of WAL there)' : ''}`]);
  }
  return { c, options, more, hostile, what };
}

function describeMutations(input: DecodeInput): string[] {
  return [...input.what].map(([i, w]) => `record ${i} at ${input.c.records[i]!.lsn.toString(16)} (rmgr ${input.c.records[i]!.rmid}): ${w.join(', then ')}`);
}

/** Runs an input and checks the properties. */
function checkDecodeInput(input: DecodeInput, bounds: DecodeBounds): { failures: string[]; escaped: string | undefined } {
  const { c, options, more, hostile } = input;
  const firstHostile = Math.min(...hostile.keys());
  const { intact, rowsBefore } = baselineOf(c, options, more);
  const intactBefore = rowsBefore[firstHostile] ?? intact.length;
  const rows: OutputRow[] = [];
  const failures: string[] = [];
  let escaped: string | undefined;
  const m0 = heap();
  const t0 = performance.now();
  try {
    const decoder = new TestDecodingDecoder(c.catalog, c.major, options, c.confirmedFlush, { ...more, spill: new MemorySpillStore(), sink: (r) => rows.push(r) });
    for (let i = 0; i < c.records.length; i++) {
      const rec = hostile.has(i) ? hostile.get(i) : c.records[i]!;
      if (rec === undefined) break; // the reader ends the WAL at a record it refuses
      decoder.process(rec);
    }
    decoder.close();
  } catch (e) {
    escaped = e instanceof Error ? `${e.constructor.name}: ${e.message}` : String(e);
    if (!(e instanceof WalError)) failures.push(`escaped: ${escaped}`);
  }
  const ms = performance.now() - t0;
  const grew = heap() - m0;
  if (ms > bounds.timeMs) failures.push(`slow: ${ms.toFixed(0)} ms`);
  if (grew > bounds.memFixed + bounds.memPerByte * c.bytes) failures.push(`memory: heap grew ${(grew / 1048576).toFixed(1)} MB`);
  for (let i = 0; i < intactBefore; i++) {
    const a = rows[i];
    const b = intact[i]!;
    if (a === undefined || a.lsn !== b.lsn || a.xid !== b.xid || a.data !== b.data) {
      failures.push(`prefix: row ${i} before the first hostile record differs from the intact run's`);
      break;
    }
  }
  return { failures, escaped };
}

const failureKind = (failures: string[]): string => failures.map((f) => f.split(':')[0]).sort().join(' ');

/** Fewer hostile records, as long as the input fails the same way: what is printed for a failing input. */
function minimizeDecodeInput(input: DecodeInput, bounds: DecodeBounds, kind: string): DecodeInput {
  let cur = input;
  for (const i of [...input.hostile.keys()]) {
    if (cur.hostile.size <= 1) break;
    const hostile = new Map(cur.hostile);
    const what = new Map(cur.what);
    hostile.delete(i);
    what.delete(i);
    const smaller = { ...cur, hostile, what };
    if (failureKind(checkDecodeInput(smaller, bounds).failures) === kind) cur = smaller;
  }
  return cur;
}

/** Input `index` of run `seed`: run, check the properties, and for a failing input the minimized mutations. */
export function runDecodeInput(cases: DecodeCase[], seed: number, index: number, bounds = DECODE_BOUNDS, before?: (what: string) => void): DecodeOutcome {
  const input = generateDecodeInput(cases, seed, index);
  const mutations = describeMutations(input);
  before?.(`${input.c.id} ${JSON.stringify(input.options)} ${JSON.stringify(input.more)}\n  ${mutations.join('\n  ')}`);
  const { failures, escaped } = checkDecodeInput(input, bounds);
  const out: DecodeOutcome = { index, caseId: input.c.id, mutations, failures, escaped };
  if (failures.length > 0) out.minimized = describeMutations(minimizeDecodeInput(input, bounds, failureKind(failures)));
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const arg = (name: string): string | undefined => {
    const i = process.argv.indexOf(`--${name}`);
    return i < 0 ? undefined : process.argv[i + 1];
  };
  const seed = Number(arg('seed') ?? Date.now() % 1_000_000) >>> 0;
  const inputs = Number(arg('inputs') ?? 20_000);
  const only = arg('index');
  const cases = loadDecodeCases();
  console.log(`decode fuzzing: seed ${seed}, ${only === undefined ? inputs : 1} inputs over ${cases.length} fixture slots`);
  let failed = 0;
  const typed = new Map<string, number>();
  const indices = only === undefined ? Array.from({ length: inputs }, (_, i) => i) : [Number(only)];
  const t0 = Date.now();
  for (const i of indices) {
    const out = runDecodeInput(cases, seed, i, DECODE_BOUNDS, only === undefined ? undefined : (w) => console.log(w));
    if (out.escaped !== undefined) typed.set(out.escaped.split(':')[0]!, (typed.get(out.escaped.split(':')[0]!) ?? 0) + 1);
    if (out.failures.length > 0 || only !== undefined) {
      if (out.failures.length > 0) failed++;
      console.log(`input ${i} (${out.caseId}; replay: npm run fuzz:decode -- --seed ${seed} --index ${i})\n  ${out.mutations.join('\n  ')}\n  ${out.failures.join('\n  ') || 'ok'}${out.escaped ? `\n  ${out.escaped}` : ''}${out.minimized ? `\n  minimized: ${out.minimized.join('; ')}` : ''}`);
    }
    if (only === undefined && (i + 1) % 5000 === 0) console.log(`  ${i + 1} inputs, ${failed} failing, ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  }
  console.log(`done: ${indices.length} inputs, ${failed} failing; typed errors: ${[...typed].map(([k, n]) => `${k} ${n}`).join(', ') || 'none'}`);
  process.exit(failed > 0 ? 1 : 0);
}
