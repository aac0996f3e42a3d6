// Garbage slot state files: damaged bytes, and well-formed files (valid checksum) whose fields hold anything at
// all. Loading answers with a SlotStateError, and a state that loads decodes a fixture to rows or a WalError —
// never another exception. Seeded (fast-check), so a failure prints its replay.
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WalError } from '../src/errors.js';
import { parseLsn } from '../src/lsn.js';
import { TestDecodingDecoder } from '../src/reorderbuffer/logical.js';
import { parseSlotState, serializeSlotState, type SlotState } from '../src/slot/state.js';
import { profileForMajor } from '../src/xlogreader/profile.js';
import { listFixtures } from './support/fixtures.js';
import { fixtureRead } from './support/wal.js';

const SEED = Number(process.env.PGWAL_FUZZ_SEED ?? 20_261_122);
const f = listFixtures().find((x) => x.id === 'pg17/types-dml')!;
const original = fs.readFileSync(path.join(f.dir, 'slot.state'));
const state = parseSlotState(original, 'slot.state');
const v2 = serializeSlotState(state);
const { records } = fixtureRead(f, { start: parseLsn(state.restartLsn) });

function onlyWalErrors(fn: () => void): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof WalError)) throw new Error(`escaped ${e instanceof Error ? `${e.constructor.name}: ${e.message}` : String(e)}`);
  }
}

/** A copy of `value` with the node at a random path replaced by `replacement`. */
function replaceAt(value: unknown, pick: number[], replacement: unknown): unknown {
  if (pick.length === 0 || value === null || typeof value !== 'object') return replacement;
  const keys = Object.keys(value as object);
  if (keys.length === 0) return replacement;
  const k = keys[pick[0]! % keys.length]!;
  const copy: Record<string, unknown> = Array.isArray(value) ? ([...value] as unknown as Record<string, unknown>) : { ...(value as Record<string, unknown>) };
  copy[k] = replaceAt(copy[k], pick.slice(1), replacement);
  return copy;
}

/** A copy of `value` with the node at `where` (keys; numbers pick among an object's keys) replaced. */
function setPath(value: unknown, where: (string | number)[], replacement: unknown): unknown {
  if (where.length === 0 || value === null || typeof value !== 'object') return replacement;
  const keys = Object.keys(value as object);
  const [first, ...rest] = where;
  const k = typeof first === 'string' || Array.isArray(value) ? String(typeof first === 'number' && Array.isArray(value) ? first % Math.max(1, keys.length) : first) : keys[first! % Math.max(1, keys.length)];
  if (k === undefined) return replacement;
  const copy: Record<string, unknown> = Array.isArray(value) ? ([...value] as unknown as Record<string, unknown>) : { ...(value as Record<string, unknown>) };
  copy[k] = setPath(copy[k], rest, replacement);
  return copy;
}

describe('garbage slot state files', () => {
  it('damaged bytes of a v1 and a v2 file: a SlotStateError, never another exception', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }), fc.option(fc.nat()), (useV2, edits, cut) => {
        const b = new Uint8Array(useV2 ? v2 : original);
        for (const [at, val] of edits) b[at % b.length] = val;
        const bytes = cut === null ? b : b.subarray(0, cut % b.length);
        onlyWalErrors(() => {
          parseSlotState(bytes, 'fuzzed.state');
        });
      }),
      { seed: SEED, numRuns: 500 },
    );
  });

  it('well-formed files with any values in any field: refused with a SlotStateError, or they decode to rows or a WalError', () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 64 }), { minLength: 1, maxLength: 6 }), fc.jsonValue({ maxDepth: 2 }), (pick, replacement) => {
        const hostile = replaceAt(state, pick, replacement) as SlotState;
        const bytes = serializeSlotState(hostile);
        onlyWalErrors(() => {
          const loaded = parseSlotState(bytes, 'hostile.state');
          const profile = profileForMajor(loaded.major);
          if (profile === undefined) return;
          const decoder = new TestDecodingDecoder(loaded.catalog, profile.major, { includeXids: true }, parseLsn(loaded.confirmedFlush), { timezone: loaded.timezone });
          for (const rec of records) decoder.process(rec);
        });
      }),
      { seed: SEED, numRuns: 400 },
    );
  });

  it('hostile catalogs (the relations and types the WAL uses): rows or a WalError, never another exception', () => {
    const used = state.catalog.relations.map((r, i) => [r, i] as const).filter(([r]) => r.namespace === 'public').map(([, i]) => i);
    const types = state.catalog.types.length;
    fc.assert(
      fc.property(
        fc.oneof(
          fc.tuple(fc.constantFrom(...used), fc.nat(), fc.array(fc.nat({ max: 64 }), { maxLength: 2 })).map(([rel, att, rest]) => ['catalog', 'relations', rel, 'attributes', att % 40, ...rest]),
          fc.tuple(fc.constantFrom(...used), fc.array(fc.nat({ max: 64 }), { maxLength: 2 })).map(([rel, rest]) => ['catalog', 'relations', rel, ...rest]),
          fc.tuple(fc.nat({ max: types - 1 }), fc.array(fc.nat({ max: 64 }), { maxLength: 2 })).map(([t, rest]) => ['catalog', 'types', t, ...rest]),
        ),
        fc.oneof(fc.jsonValue({ maxDepth: 1 }), fc.integer({ min: -3, max: 70000 }), fc.constantFrom('c', 's', 'i', 'd', 'x', '', 'int4out', 'array_out', 'record_out')),
        (where, replacement) => {
          const hostile = setPath(state, where, replacement) as SlotState;
          onlyWalErrors(() => {
            const loaded = parseSlotState(serializeSlotState(hostile), 'hostile.state');
            const decoder = new TestDecodingDecoder(loaded.catalog, profileForMajor(loaded.major)!.major, { includeXids: true }, parseLsn(loaded.confirmedFlush), { timezone: loaded.timezone });
            for (const rec of records) decoder.process(rec);
          });
        },
      ),
      { seed: SEED, numRuns: 600 },
    );
  });

  it('the intact state decodes (the properties above are not vacuous)', () => {
    const decoder = new TestDecodingDecoder(state.catalog, profileForMajor(state.major)!.major, { includeXids: true }, parseLsn(state.confirmedFlush), { timezone: state.timezone });
    for (const rec of records) decoder.process(rec);
    expect(decoder.output.length).toBeGreaterThan(5);
  });
});
