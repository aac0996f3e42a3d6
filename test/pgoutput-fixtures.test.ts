// The committed fixtures decoded by `pgwal decode --plugin pgoutput` (the shipped pgoutput slot states, gzipped
// segments, no server) equal pg_logical_slot_peek_binary_changes of the server's pgoutput slot made beside the
// test_decoding one, byte for byte: proto_version 1 and the major's newest, text and binary, messages on, and
// the two_phase slot's answer (pgoutput-*.tsv; fixtures/README.md says how they were made).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { listFixtures, readTsv, type Fixture } from './support/fixtures.js';
import { runCli } from './support/cli.js';
import { fixtureSlotState } from '../scripts/fixture-states.js';
import { serializeSlotState } from '../src/slot/state.js';

const fixtures = listFixtures();
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-pgo-fixtures-'));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

/** The pgoutput slot's state file (what `pgwal slot create --plugin pgoutput` wrote), made from the fixture. */
function stateFile(f: Fixture, twoPhase: boolean): string {
  const slot = f.meta.slots.find((s) => s.plugin === 'pgoutput' && s.twoPhase === twoPhase)!;
  const state = fixtureSlotState(f.dir, slot);
  const file = path.join(work, `${f.id.replace('/', '-')}-${slot.name}.state`);
  if (state.catalogPagesFile !== undefined) state.catalogPagesFile = path.join(f.dir, state.catalogPagesFile);
  fs.writeFileSync(file, serializeSlotState(state));
  return file;
}

/**
 * Answers pgwal cannot reproduce: a typed error naming the column and type, never other bytes. Keyed by
 * `<fixture id> <answer>`; the value is what stderr must contain.
 */
const EXPECTED_ERRORS: Record<string, RegExp> = {};

/**
 * Fixtures kept as made before the pgoutput answers: decode-stops.test.ts and timeline-end.test.ts name their
 * records' LSNs, which a regeneration moves.
 */
const WITHOUT_PGOUTPUT = ['pg15/types-dml', 'pg15/torn-record'];

describe.each(fixtures.map((f) => [f.id, f] as [string, Fixture]))('%s', (_id, f) => {
  const answers = Object.entries(f.meta.pgoutputOptions ?? {});
  it('has pgoutput answers', () => {
    const has = f.meta.slots.some((s) => s.plugin === 'pgoutput');
    expect(has).toBe(!WITHOUT_PGOUTPUT.includes(f.id));
    if (has) expect(answers.map(([name]) => name)).toContain('pgoutput-v1');
  });
  for (const [name, opts] of answers) {
    it(`${name}: ${opts.join(' ')}`, async () => {
      const args = ['decode', '--state', stateFile(f, name === 'pgoutput-twophase'), '-p', f.dir, '--with-lsn', '--end', f.meta.endLsn];
      for (let i = 0; i < opts.length; i += 2) args.push('-o', `${opts[i]}=${opts[i + 1]}`);
      const run = await runCli(args);
      const expectedError = EXPECTED_ERRORS[`${f.id} ${name}`];
      if (expectedError !== undefined) {
        expect(run.code).toBe(1);
        expect(run.stderr).toMatch(expectedError);
        return;
      }
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      const theirs = readTsv(f, `${name}.tsv`).map((r) => `${r.lsn}\t${r.xid}\t${r.data}\n`);
      const ours = run.stdout === '' ? [] : run.stdout.replace(/\n$/, '').split('\n').map((l) => `${l}\n`);
      // Row by row first (a readable first difference), then the whole output.
      for (let i = 0; i < Math.max(ours.length, theirs.length); i++) expect(ours[i], `${name} row ${i}`).toBe(theirs[i]);
      expect(run.stdout).toBe(theirs.join(''));
    });
  }
});
