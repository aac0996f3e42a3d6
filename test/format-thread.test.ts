// `pgwal decode --format-thread on` as a real process (rows formatted on a second thread, written by the first):
// the server's rows on every fixture (test_decoding, two-phase, wal2json's option sets), a value that cannot be
// printed is the same one-line error with the rows before it, a closed stdout is exit 141 with nothing
// confirmed, and --advance moves the slot only after every row is out.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cliBundle } from './support/cli-process.js';
import { listFixtures, readSegment, readTsv, type Fixture } from './support/fixtures.js';
import { parseLsn } from '../src/lsn.js';
import { parseSlotState, serializeSlotState } from '../src/slot/state.js';
import { fixtureSlotState } from '../scripts/fixture-states.js';

const fixtures = listFixtures();

function run(args: string[], closeAfterFirst = false, env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cliBundle(), ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    const out: Buffer[] = [];
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      out.push(d);
      if (closeAfterFirst) child.stdout.destroy();
    });
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr }));
  });
}

const server = (f: Fixture, file: string): string =>
  readTsv(f, file)
    .map((r) => `${r.lsn}\t${r.xid}\t${r.data}\n`)
    .join('');

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-format-thread-'));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

/**
 * A private copy of a fixture's state file (decode locks the state: other test files decode the same fixtures at
 * the same time), its catalog pages named where they are.
 */
function stateCopy(f: Fixture, name: string): string {
  const state = parseSlotState(fs.readFileSync(path.join(f.dir, name)), name);
  if (state.catalogPagesFile !== undefined) state.catalogPagesFile = path.join(f.dir, state.catalogPagesFile);
  const file = path.join(fs.mkdtempSync(path.join(work, 'state-')), name);
  fs.writeFileSync(file, serializeSlotState(state));
  return file;
}

describe.each(fixtures.map((f) => [f.id, f] as [string, Fixture]))('pgwal decode --format-thread on, %s', (_id, f) => {
  for (const slot of f.meta.slots.filter((x) => x.plugin === 'test_decoding')) {
    const [stateFile, answer] = slot.twoPhase ? ['slot-2pc.state', 'decoded-twophase.tsv'] : ['slot.state', 'decoded.tsv'];
    it(`${stateFile} → the server's ${answer}`, async () => {
      const r = await run(['decode', '--state', stateCopy(f, stateFile), '-p', f.dir, '-o', 'include-xids=0', '-o', 'skip-empty-xacts=1', '--with-lsn', '--end', f.meta.endLsn, '--format-thread', 'on']);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const theirs = server(f, answer);
      expect(theirs.length).toBeGreaterThan(0);
      expect(r.stdout).toBe(theirs);
    });
  }
  // auto: the thread starts after some WAL (here 16 kB instead of 8 MB) and takes over once ready, between records
  // (where that falls depends on how soon it is ready; test/ship.test.ts switches at fixed records).
  const slot = f.meta.slots.find((x) => x.plugin === 'test_decoding' && !x.twoPhase);
  if (slot !== undefined) {
    it('auto, switching to the thread midway: the server\'s decoded-xids.tsv', async () => {
      const r = await run(['decode', '--state', stateCopy(f, 'slot.state'), '-p', f.dir, '-o', 'skip-empty-xacts=1', '--with-lsn', '--end', f.meta.endLsn], false, { PGWAL_FORMAT_THREAD_AFTER: '16384' });
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe(server(f, 'decoded-xids.tsv'));
    });
  }
  if (f.meta.wal2jsonOptions !== undefined) {
    for (const [name, options] of Object.entries(f.meta.wal2jsonOptions)) {
      it(`slot-wal2json.state → the server's ${name}.tsv`, async () => {
        const opts: string[] = [];
        for (let i = 0; i < options.length; i += 2) if (options[i] !== 'format-version') opts.push('-o', `${options[i]}=${options[i + 1]}`);
        const r = await run(['decode', '--state', stateCopy(f, 'slot-wal2json.state'), '-p', f.dir, '--with-lsn', '--end', f.meta.endLsn, '--format-thread', 'on', ...opts]);
        expect(r.stderr).toBe('');
        expect(r.code).toBe(0);
        expect(r.stdout).toBe(server(f, `${name}.tsv`));
      });
    }
  }
});

/** A fixture's pgoutput slot state (not committed: made as pgoutput-fixtures.test.ts makes it). */
function pgoutputState(f: Fixture, twoPhase: boolean): string {
  const slot = f.meta.slots.find((s) => s.plugin === 'pgoutput' && s.twoPhase === twoPhase)!;
  const state = fixtureSlotState(f.dir, slot);
  if (state.catalogPagesFile !== undefined) state.catalogPagesFile = path.join(f.dir, state.catalogPagesFile);
  const file = path.join(fs.mkdtempSync(path.join(work, 'pgo-')), 'slot.state');
  fs.writeFileSync(file, serializeSlotState(state));
  return file;
}

const pgoutputArgs = (f: Fixture, name: string, opts: readonly string[]): string[] => {
  const args = ['decode', '--state', pgoutputState(f, name === 'pgoutput-twophase'), '-p', f.dir, '--with-lsn', '--end', f.meta.endLsn];
  for (let i = 0; i < opts.length; i += 2) args.push('-o', `${opts[i]}=${opts[i + 1]}`);
  return args;
};

// pgoutput: the plugin stays on the first thread, its messages (or a stored change's tuple, for the message to be
// written there) go to the second, which prints them in hex.
describe.each(fixtures.filter((f) => f.meta.pgoutputOptions !== undefined).map((f) => [f.id, f] as [string, Fixture]))('pgwal decode --plugin pgoutput --format-thread on, %s', (_id, f) => {
  const answers = Object.entries(f.meta.pgoutputOptions!);
  for (const [name, opts] of answers) {
    it(`${name} → the server's ${name}.tsv`, async () => {
      const r = await run([...pgoutputArgs(f, name, opts), '--format-thread', 'on']);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const theirs = server(f, `${name}.tsv`);
      expect(theirs.length).toBeGreaterThan(0);
      expect(r.stdout).toBe(theirs);
    });
  }
  it('auto, switching to the thread midway: the server\'s pgoutput-v1.tsv', async () => {
    const [name, opts] = answers.find(([n]) => n === 'pgoutput-v1')!;
    const r = await run(pgoutputArgs(f, name, opts), false, { PGWAL_FORMAT_THREAD_AFTER: '16384' });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(server(f, `${name}.tsv`));
  });
});

describe('pgwal decode --format-thread on, when things go wrong', () => {
  const f = fixtures.find((x) => x.id === 'pg15/types-dml')!;

  it('a value that cannot be printed: the same error line, exit code and rows before it as on one thread', async () => {
    // The slot's catalog with a column of the second table given a type it lacks: its rows cannot be printed.
    const state = parseSlotState(fs.readFileSync(stateCopy(f, 'slot.state')), 'slot.state');
    const rel = state.catalog.relations.find((r) => r.namespace === 'public' && r.name === 'types_full')!;
    rel.attributes.find((a) => a.name === 'n')!.typeOid = 424242;
    delete state.catalogPagesFile;
    const file = path.join(work, 'no-numeric.state');
    fs.writeFileSync(file, serializeSlotState(state));
    const args = ['decode', '--state', file, '-p', f.dir, '--end', f.meta.endLsn];
    const one = await run([...args, '--format-thread', 'off']);
    const two = await run([...args, '--format-thread', 'on']);
    expect(one.code).toBe(1);
    expect(one.stderr).toMatch(/^pgwal decode: error: cannot print column n of type 424242 of table public\.types_full in the change at [0-9A-F]+\/[0-9A-F]+: type 424242 of column n is not in the catalog\n$/);
    expect(one.stdout.length, 'rows before the failing one').toBeGreaterThan(0);
    expect(two).toEqual(one);
  });

  it('damaged WAL midway: the same error, exit code and rows (of the records before it) as on one thread', async () => {
    const dir = fs.mkdtempSync(path.join(work, 'damaged-'));
    for (const name of f.meta.segments) fs.writeFileSync(path.join(dir, name), readSegment(f, name));
    fs.copyFileSync(stateCopy(f, 'slot.state'), path.join(dir, 'slot.state'));
    // A byte inside the record after the third COMMIT row (its end): its CRC fails, with valid WAL after it.
    const commits = readTsv(f, 'decoded.tsv').filter((r) => r.data!.startsWith('COMMIT'));
    expect(commits.length).toBeGreaterThan(4);
    const at = parseLsn(commits[2]!.lsn!) + 30;
    const seg = path.join(dir, f.meta.segments.find((n) => parseInt(n.slice(16), 16) === Math.floor(at / f.meta.walSegmentSize))!);
    const bytes = fs.readFileSync(seg);
    bytes[at % f.meta.walSegmentSize] ^= 0xff;
    fs.writeFileSync(seg, bytes);
    const args = ['decode', '--state', path.join(dir, 'slot.state'), '-p', dir, '--end', f.meta.endLsn];
    const one = await run([...args, '--format-thread', 'off']);
    const two = await run([...args, '--format-thread', 'on']);
    expect(one.code).toBe(1);
    expect(one.stderr).toMatch(/^pgwal decode: error: .*incorrect resource manager data checksum in record at /);
    expect(one.stdout.split('\n').filter((l) => l.startsWith('COMMIT')).length).toBe(3);
    expect(two).toEqual(one);
  });

  it('a reader that closes stdout: exit 141, quietly, and --advance confirms nothing', async () => {
    const large = fixtures.find((x) => x.id === 'pg15/large-records')!;
    const state = stateCopy(large, 'slot.state');
    const before = fs.readFileSync(state);
    const r = await run(['decode', '--state', state, '-p', large.dir, '--advance', '--format-thread', 'on'], true);
    expect(r).toMatchObject({ code: 141, stderr: '' });
    expect(fs.readFileSync(state)).toEqual(before);
  });

  it('--advance: the slot moves to the last commit once its rows are written', async () => {
    const state = stateCopy(f, 'slot.state');
    const r = await run(['decode', '--state', state, '-p', f.dir, '--advance', '--end', f.meta.endLsn, '--format-thread', 'on', '-o', 'include-xids=0', '-o', 'skip-empty-xacts=1', '--with-lsn']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(server(f, 'decoded.tsv'));
    const after = parseSlotState(fs.readFileSync(state), 'slot.state');
    const last = readTsv(f, 'decoded.tsv').filter((x) => x.data!.startsWith('COMMIT')).pop()!;
    // confirmed_flush is the end of the last commit printed: the LSN of its COMMIT row.
    expect(after.confirmedFlush).toBe(last.lsn);
    const again = await run(['decode', '--state', state, '-p', f.dir, '--end', f.meta.endLsn, '--format-thread', 'on']);
    expect(again).toMatchObject({ code: 0, stdout: '' });
  });

  it('streamed and spilled transactions, and whole old rows: the same rows as on one thread', async () => {
    const large = fixtures.find((x) => x.id === 'pg15/large-records')!;
    for (const more of [['-o', 'stream-changes=1', '--memory-limit', '0'], ['--memory-limit', '64kB'], ['-o', 'old-rows=full']]) {
      const args = ['decode', '--state', stateCopy(large, 'slot.state'), '-p', large.dir, '--end', large.meta.endLsn, '--with-lsn', '--spill-dir', work, ...more];
      const one = await run([...args, '--format-thread', 'off']);
      expect(one.code, more.join(' ')).toBe(0);
      expect(one.stdout.length).toBeGreaterThan(0);
      expect(await run([...args, '--format-thread', 'on']), more.join(' ')).toEqual(one);
    }
  });

  it('pgoutput streamed (in every block, and at a 64 kB limit) and spilled: the same rows as on one thread', async () => {
    for (const id of ['pg16/large-records', 'pg16/subxacts', 'pg16/toast', 'pg17/two-phase']) {
      const g = fixtures.find((x) => x.id === id)!;
      for (const more of [['-o', 'streaming=on', '--memory-limit', '0'], ['-o', 'streaming=parallel', '--memory-limit', '64kB'], ['--memory-limit', '64kB']]) {
        const args = [...pgoutputArgs(g, 'pgoutput-v4', ['proto_version', '4', 'publication_names', 'fx_all', 'messages', 'true']), '--spill-dir', work, ...more];
        const one = await run([...args, '--format-thread', 'off']);
        expect(one.code, `${id} ${more.join(' ')}: ${one.stderr}`).toBe(0);
        expect(one.stdout.length).toBeGreaterThan(0);
        expect(await run([...args, '--format-thread', 'on']), `${id} ${more.join(' ')}`).toEqual(one);
      }
    }
  });

  it('pgoutput, a value that cannot be written (there or here): the same error line, exit code and rows before it as on one thread', async () => {
    const g = fixtures.find((x) => x.id === 'pg16/types-dml')!;
    const cases: [string, (state: ReturnType<typeof parseSlotState>) => void, RegExp][] = [
      [
        // A json column read as a built-in type whose values it cannot be (pg_snapshot): malformed where the
        // message is written, on the second thread (a built-in type).
        'built-in',
        (state) => {
          const rel = state.catalog.relations.find((r) => r.namespace === 'public' && r.name === 'types_full')!;
          rel.attributes.find((a) => a.name === 'j')!.typeOid = 5038;
          state.catalog.types.push({ oid: 5038, name: 'pg_snapshot', output: 'pg_snapshot_out', len: -1, align: 'd', byval: false, elem: 0, typname: 'pg_snapshot', namespace: 'pg_catalog' });
        },
        /^pgwal decode: error: pg_snapshot value is malformed: .*column j of public\.types_full at [0-9A-F]+\/[0-9A-F]+\)\n$/,
      ],
      [
        // A type the catalog lacks (not a built-in one): its Type message cannot be written, on the first thread.
        'unknown',
        (state) => {
          const rel = state.catalog.relations.find((r) => r.namespace === 'public' && r.name === 'types_full')!;
          rel.attributes.find((a) => a.name === 'n')!.typeOid = 424242;
        },
        /^pgwal decode: error: the catalog lacks the name of type 424242 \(column n of public\.types_full\): make the slot state again with this pgwal\n$/,
      ],
    ];
    for (const [name, change, message] of cases) {
      const state = parseSlotState(fs.readFileSync(pgoutputState(g, false)), 'slot.state');
      delete state.catalogPagesFile;
      change(state);
      const file = path.join(work, `pgo-bad-type-${name}.state`);
      fs.writeFileSync(file, serializeSlotState(state));
      const args = ['decode', '--state', file, '-p', g.dir, '--end', g.meta.endLsn, '-o', 'proto_version=1', '-o', 'publication_names=fx_all'];
      const one = await run([...args, '--format-thread', 'off']);
      const two = await run([...args, '--format-thread', 'on']);
      expect(one.code, name).toBe(1);
      expect(one.stderr, name).toMatch(message);
      expect(one.stdout.length, `${name}: rows before the failing one`).toBeGreaterThan(0);
      expect(two, name).toEqual(one);
    }
  });

  it('pgoutput: a reader that closes stdout is exit 141 with nothing confirmed; --advance moves the slot once the rows are out', async () => {
    // 500 kB of messages: more than a pipe holds.
    const large = fixtures.find((x) => x.id === 'pg16/toast')!;
    const state = pgoutputState(large, false);
    const before = fs.readFileSync(state);
    const o = ['-o', 'proto_version=1', '-o', 'publication_names=fx_all'];
    const closed = await run(['decode', '--state', state, '-p', large.dir, '--advance', '--format-thread', 'on', ...o], true);
    expect(closed).toMatchObject({ code: 141, stderr: '' });
    expect(fs.readFileSync(state)).toEqual(before);
    const r = await run(['decode', '--state', state, '-p', large.dir, '--advance', '--end', large.meta.endLsn, '--with-lsn', '--format-thread', 'on', ...o]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(server(large, 'pgoutput-v1.tsv'));
    const again = await run(['decode', '--state', state, '-p', large.dir, '--end', large.meta.endLsn, '--format-thread', 'on', ...o]);
    expect(again).toMatchObject({ code: 0, stdout: '' });
  });

  it('a bad --format-thread value is one line, exit 1', async () => {
    const r = await run(['decode', '--state', stateCopy(f, 'slot.state'), '-p', f.dir, '--format-thread', 'sometimes']);
    expect(r).toEqual({ code: 1, stdout: '', stderr: 'pgwal decode: error: --format-thread must be auto, on or off, not "sometimes"\n' });
  });
});
