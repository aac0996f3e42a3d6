// The fuzzer's CI budget (see fuzz/README.md), the saved inputs replayed as regression tests, and the
// property checker shown to catch what it must.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { WalFormatError } from '../src/errors.js';
import {
  CORPUS_DIR,
  checkProperties,
  DEFAULT_BOUNDS,
  deserialize,
  FAILURES_DIR,
  fuzzLoop,
  generateInput,
  loadPool,
  materialize,
  runInput,
  savedFiles,
  serialize,
  shrink,
  failureClass,
  type WalInput,
} from '../fuzz/engine.js';

// A fixed seed keeps CI deterministic; PGWAL_FUZZ_SEED / PGWAL_FUZZ_INPUTS explore further.
const SEED = Number(process.env.PGWAL_FUZZ_SEED ?? 20_251_121) >>> 0;
const INPUTS = Number(process.env.PGWAL_FUZZ_INPUTS ?? 20_000);

// Smaller windows than `npm run fuzz` uses (3 pages after the segment's first, 4 windows per segment): the same
// mutators and entry points, about a millisecond per input.
const pool = loadPool({ maxPages: 3, windowsPerSegment: 4 });

describe('fuzzing (CI budget)', () => {
  it(`${INPUTS} mutated inputs, seed ${SEED}: only WalErrors escape, time and memory stay bounded, records before the damage are intact`, () => {
    const indices = Array.from({ length: INPUTS }, (_, i) => i);
    const { count, failures } = fuzzLoop(pool, SEED, indices);
    expect(count).toBe(INPUTS);
    const text = failures.slice(0, 20).map((f) => `input ${f.index} (replay: npm run fuzz -- --seed ${SEED} --index ${f.index}): ${f.mutation}\n    ${f.failures.join('\n    ')}`);
    expect(text).toEqual([]);
  }, 600_000);
});

describe('saved inputs replay clean', () => {
  const files = [...savedFiles(CORPUS_DIR), ...savedFiles(FAILURES_DIR)];
  it('the corpus is small', () => {
    const total = savedFiles(CORPUS_DIR).reduce((n, f) => n + fs.statSync(f).size, 0);
    expect(total).toBeLessThanOrEqual(2 * 1024 * 1024);
  });
  for (const file of files) {
    const { input, header } = deserialize(fs.readFileSync(file));
    const name = path.relative(process.cwd(), file);
    // A hang would hang this thread, so it is not run here: a saved hang fails the suite until it is fixed
    // (replay it with `npm run fuzz -- --replay FILE`, whose watchdog reports it).
    const hang = header.failures?.some((f) => f.startsWith('hang')) === true;
    it(`${name} (${input.mutation.slice(0, 100)})`, () => {
      expect(hang, `${name} hung the reader when it was saved; replay it with npm run fuzz -- --replay`).toBe(false);
      expect(runInput(input).failures).toEqual([]);
    });
  }
});

describe('the property checker catches', () => {
  const ok = { records: [], escaped: [], elapsedMs: 1, memGrowth: 0, size: 100 };
  const expect3 = [
    { lsn: 0x100028, endLsn: 0x100060, crc: 1 },
    { lsn: 0x100060, endLsn: 0x1000a0, crc: 2 },
    { lsn: 0x1000a0, endLsn: 0x1000e0, crc: 3 },
  ];
  const recs = (xs: typeof expect3) => xs.map((r) => ({ ...r, totalLength: 40 }));

  it('nothing in a clean outcome', () => {
    expect(checkProperties({ damage: 0x1000b0, expect: expect3 }, { ...ok, records: recs(expect3.slice(0, 2)) })).toEqual([]);
    expect(checkProperties(undefined, { ...ok, escaped: [new WalFormatError('x', 'y')] })).toEqual([]);
  });
  it('an error that is not a WalError', () => {
    expect(checkProperties(undefined, { ...ok, escaped: [new RangeError('Offset is outside the bounds of the DataView')] })).toEqual([expect.stringMatching(/^escaped: RangeError/)]);
  });
  it('a slow input and a memory-hungry one', () => {
    expect(checkProperties(undefined, { ...ok, elapsedMs: DEFAULT_BOUNDS.timeMs + 1 })).toEqual([expect.stringMatching(/^slow/)]);
    expect(checkProperties(undefined, { ...ok, memGrowth: 65 * 1024 * 1024 })).toEqual([expect.stringMatching(/^memory/)]);
  });
  it('a record lost, altered or invented before the damage', () => {
    const wal = { damage: 0x1000b0, expect: expect3 };
    expect(checkProperties(wal, { ...ok, records: recs(expect3.slice(0, 1)) })).toEqual([expect.stringMatching(/^prefix: record 1 .* was not delivered/)]);
    expect(checkProperties(wal, { ...ok, records: recs([expect3[0]!, { ...expect3[1]!, crc: 9 }]) })).toEqual([expect.stringMatching(/^prefix: record 1 is/)]);
    const invented = { lsn: 0x1000a0, endLsn: 0x1000a8, crc: 7 };
    expect(checkProperties(wal, { ...ok, records: recs([...expect3.slice(0, 2), invented]) })).toEqual([expect.stringMatching(/the intact WAL has no such record/)]);
  });
  it('end to end: a run whose intact records are not what the reader delivers fails, and shrinks to a smaller input that still fails', () => {
    // Break the property on purpose: claim the intact window's third record has another CRC.
    const base = pool.bases.find((b) => b.expect.length >= 4)!;
    const broken = { ...base, expect: base.expect.map((r, i) => (i === 2 ? { ...r, crc: r.crc ^ 1 } : r)) };
    const input: WalInput = { kind: 'wal', base: broken, edits: [{ kind: 'patch', lsn: base.expect[3]!.lsn + 1, bytes: Uint8Array.of(0xee, 0xee, 0xee) }], mutation: 'test' };
    const out = runInput(input);
    expect(out.failures).toEqual([expect.stringMatching(/^prefix: record 2 is/)]);
    const small = shrink(input, failureClass(out.failures)) as WalInput;
    expect(failureClass(runInput(small).failures)).toBe(failureClass(out.failures));
    const size = (i: WalInput) => materialize(i).size;
    expect(size(small)).toBeLessThan(size(input));
    // And it survives the file format.
    const again = deserialize(serialize(small)).input;
    expect(failureClass(runInput(again).failures)).toBe(failureClass(out.failures));
  });
  it('inputs are reproducible from (seed, index)', () => {
    for (const i of [0, 1, 17, 999]) {
      const a = generateInput(pool, 42, i);
      const b = generateInput(pool, 42, i);
      expect(a.mutation).toBe(b.mutation);
      expect(serialize(a).equals(serialize(b))).toBe(true);
    }
  });
});
