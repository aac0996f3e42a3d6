// The decoder's fuzzing at a CI budget: hostile records (mutated after the CRC check) in real fixture WAL, with
// random options; only WalErrors escape, time and heap stay bounded, rows before the first hostile record are the
// intact run's. `npm run fuzz:decode` runs more.
import { describe, expect, it } from 'vitest';
import { loadDecodeCases, runDecodeInput } from '../fuzz/decode.js';

const SEED = Number(process.env.PGWAL_FUZZ_SEED ?? 20_261_122) >>> 0;
const INPUTS = Number(process.env.PGWAL_FUZZ_DECODE_INPUTS ?? 1000);

describe('decode fuzzing (CI budget)', () => {
  const cases = loadDecodeCases();
  it(`${INPUTS} inputs, seed ${SEED}: only WalErrors escape, bounded, intact prefix`, () => {
    const failing: string[] = [];
    let typed = 0;
    for (let i = 0; i < INPUTS; i++) {
      const out = runDecodeInput(cases, SEED, i);
      if (out.escaped !== undefined) typed++;
      if (out.failures.length > 0) failing.push(`input ${i} (${out.caseId}; npm run fuzz:decode -- --seed ${SEED} --index ${i}): ${out.mutations.join('; ')} → ${out.failures.join('; ')}`);
    }
    expect(failing.slice(0, 10)).toEqual([]);
    // The mutations do reach the decoder's checks: a good share of inputs end in a typed error.
    expect(typed).toBeGreaterThan(INPUTS / 20);
  }, 600_000);
});
