// `pgwal dump | head -1` and `pgwal decode | head -1` (issue 14, item 7): the process whose stdout reader went
// away stops at once and quietly, with 141 (what a shell shows for pg_waldump killed by SIGPIPE), and a decode
// with --advance confirms nothing it could not deliver.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cliBundle } from './support/cli-process.js';
import { listFixtures, readSegment } from './support/fixtures.js';
import { fixtureSlotState } from '../scripts/fixture-states.js';
import { serializeSlotState } from '../src/slot/state.js';

const f = listFixtures().find((x) => x.id === 'pg15/large-records')!; // 3.9 MB of dump output, 1.3 MB decoded
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-epipe-'));
for (const name of f.meta.segments) fs.writeFileSync(path.join(dir, name), readSegment(f, name));
fs.copyFileSync(path.join(f.dir, 'slot.state'), path.join(dir, 'slot.state'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
// pgoutput's binary rows go out through the CLI's byte buffer, not as text: a fixture with 0.5 MB of them.
const pf = listFixtures().find((x) => x.id === 'pg15/toast')!;
const pgoDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-epipe-pgo-'));
for (const name of pf.meta.segments) fs.writeFileSync(path.join(pgoDir, name), readSegment(pf, name));
const pgoState = fixtureSlotState(pf.dir, pf.meta.slots.find((s) => s.plugin === 'pgoutput' && !s.twoPhase)!);
if (pgoState.catalogPagesFile !== undefined) pgoState.catalogPagesFile = path.join(pf.dir, pgoState.catalogPagesFile);
fs.writeFileSync(path.join(pgoDir, 'pgo.state'), serializeSlotState(pgoState));
afterAll(() => fs.rmSync(pgoDir, { recursive: true, force: true }));

/** Runs the CLI, closes its stdout after the first chunk, and returns its exit code and stderr. */
function headOne(args: string[]): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string; first: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cliBundle(), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let first = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.once('data', (d: Buffer) => {
      first = d.toString();
      child.stdout.destroy();
    });
    child.on('close', (code, signal) => resolve({ code, signal, stderr, first }));
  });
}

describe('a reader that closes stdout early', () => {
  it('pgwal dump stops quietly, before reading to the end of the WAL', async () => {
    const r = await headOne(['dump', '-p', dir, '-s', f.meta.startLsn]);
    expect(r.first).toMatch(/^rmgr: /);
    // The end-of-WAL error (exit 1) would only come after reading everything.
    expect(r).toMatchObject({ code: 141, signal: null, stderr: '' });
  });

  it('pgwal dump --json too', async () => {
    const r = await headOne(['dump', '-p', dir, '-s', f.meta.startLsn, '--json']);
    expect(r).toMatchObject({ code: 141, stderr: '' });
  });

  it('pgwal decode --advance stops quietly and confirms nothing', async () => {
    const before = fs.readFileSync(path.join(dir, 'slot.state'));
    const r = await headOne(['decode', '--state', path.join(dir, 'slot.state'), '-p', dir, '--advance']);
    expect(r.first.length).toBeGreaterThan(0);
    expect(r).toMatchObject({ code: 141, signal: null, stderr: '' });
    expect(fs.readFileSync(path.join(dir, 'slot.state'))).toEqual(before);
  });

  it('pgwal decode --plugin pgoutput --advance too', async () => {
    const before = fs.readFileSync(path.join(pgoDir, 'pgo.state'));
    const r = await headOne(['decode', '--state', path.join(pgoDir, 'pgo.state'), '-p', pgoDir, '--advance', '--plugin', 'pgoutput', '-o', 'proto_version=1', '-o', 'publication_names=fx_all']);
    expect(r.first).toMatch(/^\\x42/);
    expect(r).toMatchObject({ code: 141, signal: null, stderr: '' });
    expect(fs.readFileSync(path.join(pgoDir, 'pgo.state'))).toEqual(before);
  });

  it('pgwal decode through a restore_command', async () => {
    const r = await headOne(['decode', '--state', path.join(dir, 'slot.state'), '--restore-command', `cp '${dir}/%f' %p`]);
    expect(r).toMatchObject({ code: 141, stderr: '' });
  });
});

/**
 * Runs the CLI with stdout a pipe nobody reads until it has blocked, and returns the flags of its fd 1 then (from
 * /proc) and the whole output. Node's process.stdout puts a pipe into non-blocking mode; the CLI's synchronous
 * writes must then wait in write(2), not in sleeps between EAGAINs (which capped a pipe at 64 KiB per sleep).
 */
function slowReader(args: string[]): Promise<{ flags: number; out: Buffer; code: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliBundle(), ...args], { stdio: ['ignore', 'pipe', 'ignore'] });
    child.stdout.pause();
    const chunks: Buffer[] = [];
    let flags = -1;
    const look = (): void => {
      // Blocked once the pipe is full and the process sleeps in write(2) (or in its EAGAIN loop).
      let info: string;
      try {
        info = fs.readFileSync(`/proc/${child.pid}/fdinfo/1`, 'utf8');
      } catch (e) {
        return reject(e);
      }
      flags = parseInt(/flags:\s+([0-7]+)/.exec(info)![1]!, 8);
      child.stdout.on('data', (d: Buffer) => chunks.push(d));
      child.stdout.resume();
    };
    setTimeout(look, 1500);
    child.on('close', (code) => resolve({ flags, out: Buffer.concat(chunks), code }));
  });
}

describe('a pipe on stdout', () => {
  const O_NONBLOCK = 0o4000;
  it.each([
    ['dump', ['dump', '-p', dir, '-s', f.meta.startLsn, '-e', f.meta.endLsn]],
    ['decode', ['decode', '--state', path.join(dir, 'slot.state'), '-p', dir]],
  ])('pgwal %s leaves it blocking (waits in write(2)) and writes everything', async (_name, args) => {
    const r = await slowReader(args);
    expect(r.flags).toBeGreaterThanOrEqual(0);
    expect(r.flags & O_NONBLOCK).toBe(0);
    expect(r.code).toBe(0);
    expect(r.out.length).toBeGreaterThan(1 << 20); // more than any pipe buffer: the writer did block
  });
});
