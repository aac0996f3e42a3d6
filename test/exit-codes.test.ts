// The README's "Exit status" table holds: every code it lists is produced, by the real process, for each
// command it lists it for (2, `slot orphans` with orphans it could not print, needs a failover: it is held by
// test/slot-orphans.live.test.ts).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { cliBundle } from './support/cli-process.js';
import { listFixtures, readFixtureFile, readSegment, type Fixture } from './support/fixtures.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
const section = readme.slice(readme.indexOf('### Exit status'), readme.indexOf('\n\n', readme.indexOf('| code |')));
const documented = [...section.matchAll(/^\| (\d+) +\|/gm)].map((m) => Number(m[1]));

const fx = (id: string): Fixture => listFixtures().find((f) => f.id === id)!;
const dml = fx('pg15/types-dml');
/** Where the fixture's WAL ends, as pg_waldump 15 said over its files (waldump-end.txt). */
const END = /invalid record length at (\S+):/.exec(readFixtureFile(dml, 'waldump-end.txt').toString())![1]!;
const END_RE = END.replace('/', '\\/');
const large = fx('pg15/large-records');
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
function folder(f: Fixture, names = f.meta.segments): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-exit-'));
  dirs.push(d);
  fs.copyFileSync(path.join(f.dir, 'slot.state'), path.join(d, 'slot.state'));
  for (const n of names) fs.writeFileSync(path.join(d, n), readSegment(f, n));
  return d;
}
const ok = folder(dml);
const noWal = folder(dml, []);
const big = folder(large);

function run(args: string[], node: string[] = []): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [...node, cliBundle(), ...args], { encoding: 'utf8', maxBuffer: 1 << 26 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** The code when stdout's reader closes the pipe after the first chunk. */
function headOne(args: string[]): Promise<{ code: number | null; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cliBundle(), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout.once('data', () => child.stdout.destroy());
    child.on('close', (code) => resolve({ code, err }));
  });
}

describe('README: exit status', () => {
  it('lists 0, 1, 2, 141 and 70', () => {
    expect(documented.sort((a, b) => a - b)).toEqual([0, 1, 2, 70, 141]);
  });

  it('0: done', () => {
    expect(run(['dump', '-p', ok, '-s', dml.meta.startLsn, '-e', dml.meta.endLsn]).code).toBe(0);
    const decoded = run(['decode', '--state', path.join(ok, 'slot.state'), '-p', ok]);
    expect(decoded.code).toBe(0);
    expect(decoded.err.startsWith(`pgwal decode: end of WAL at ${END}: invalid record length at ${END}`)).toBe(true);
    expect(run(['decode', '--state', path.join(ok, 'slot.state'), '-p', ok, '--end', '0/702000'])).toMatchObject({ code: 0, err: '' });
    expect(run(['slot', 'show', '--state', path.join(ok, 'slot.state')]).code).toBe(0);
    expect(run(['timeline', '-p', ok])).toMatchObject({ code: 0, err: '' });
  });

  it('1: an error, one line', () => {
    const cases = [
      run(['dump', '-p', ok, '-s', dml.meta.startLsn]), // the end of the WAL without -e, as pg_waldump
      run(['dump', '-p', ok, '-s', 'zz']),
      run(['decode', '--state', path.join(noWal, 'slot.state'), '-p', noWal]),
      run(['decode', '--state', path.join(ok, 'slot.state'), '-p', ok, '--end', '0/703000']),
      run(['slot', 'advance', '--state', path.join(ok, 'slot.state')]),
      run(['timeline', '-t', 'x']),
    ];
    for (const c of cases) {
      expect(c.code).toBe(1);
      expect(c.err).toMatch(/^pgwal [a-z ]+: error: [^\n]+\n(pgwal [a-z]+: hint: [^\n]+\n)?$/);
    }
  });

  it('141: stdout\'s reader went away', async () => {
    expect(await headOne(['dump', '-p', big, '-s', large.meta.startLsn])).toEqual({ code: 141, err: '' });
    expect(await headOne(['decode', '--state', path.join(big, 'slot.state'), '-p', big])).toEqual({ code: 141, err: '' });
  });

  it('70: an internal error', () => {
    // A fault no input can cause, injected: the first read of a WAL page throws a plain TypeError (a failing open
    // is a typed error naming the file, so the fault is in the read).
    const inject = path.join(noWal, 'inject.cjs');
    fs.writeFileSync(inject, "const fs = require('fs'); const read = fs.readSync; fs.readSync = (fd, buf, ...a) => { if (buf && buf.length === 8192) throw new TypeError('injected'); return read(fd, buf, ...a); };\n");
    const r = run(['dump', '-p', ok, '-s', dml.meta.startLsn], ['--require', inject]);
    expect(r.code).toBe(70);
    expect(r.err).toMatch(/^pgwal: internal error: TypeError: injected\n/);
  });
});
