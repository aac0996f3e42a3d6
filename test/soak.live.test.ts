// The soak at CI length (2 minutes; PGWAL_SOAK_MINUTES to change, scripts/soak.ts for an hour): pgwal follows a
// live server's archive through restore_command while a mixed workload runs, confirms as it goes, restarts from
// its state half way, and ends with exactly the server slot's rows; its RSS does not grow.
import { describe, expect, it } from 'vitest';
import { soak } from '../scripts/soak.js';

const MINUTES = Number(process.env.PGWAL_SOAK_MINUTES ?? 2);
const SEED = Number(process.env.PGWAL_SEED ?? Date.now() % 100000);

describe('soak', () => {
  it(`${MINUTES} minutes on PostgreSQL 17 (seed ${SEED}): equal to the server slot, RSS flat`, async () => {
    const r = await soak({ minutes: MINUTES, major: 17, seed: SEED, log: () => undefined });
    expect(r.firstDifference, `seed ${SEED}`).toBeUndefined();
    expect(r.equal).toBe(true);
    expect(r.transactions).toBeGreaterThan(100);
    expect(r.rows).toBeGreaterThan(1000);
    expect(r.restarts).toBe(1);
    expect(r.confirms).toBeGreaterThan(5);
    expect(r.rssMiB.end - r.rssMiB.early, `RSS ${JSON.stringify(r.rssMiB)}`).toBeLessThan(64);
  }, (MINUTES * 60 + 240) * 1000);
});
