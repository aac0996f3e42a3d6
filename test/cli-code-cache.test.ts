// The built CLI (dist/cli/, `npm test` builds it first) starts from the V8 code cache the build made: V8 accepts
// it for the bundle beside it, and the CLI prints the same with it, without it, and with a damaged one (V8 rejects
// that and the bundle is compiled as usual), namely pg_waldump's text for the fixture.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import Module from 'node:module';
import os from 'node:os';
import path from 'node:path';
import vm from 'node:vm';
import { afterAll, describe, expect, it } from 'vitest';
import { listFixtures, readFixtureFile } from './support/fixtures.js';
import { extractSegments } from './support/cli.js';
import { readCodeCache } from '../src/cli/bin.js';

const DIST = path.resolve('dist', 'cli');
const fixture = listFixtures().find((f) => f.id === 'pg15/types-dml')!;
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

/** A copy of dist/cli/ in a temp folder beside a link to the package.json, with its cache as `cache` says. */
function cliCopy(cache: 'kept' | 'removed' | 'damaged'): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-code-cache-'));
  dirs.push(root);
  fs.mkdirSync(path.join(root, 'dist'));
  fs.cpSync(DIST, path.join(root, 'dist', 'cli'), { recursive: true });
  fs.copyFileSync('package.json', path.join(root, 'package.json'));
  fs.symlinkSync(path.resolve('node_modules'), path.join(root, 'node_modules'));
  const file = path.join(root, 'dist', 'cli', 'pgwal.js.cache');
  if (cache === 'removed') fs.rmSync(file);
  if (cache === 'damaged') {
    // One byte: V8 itself accepts that (it checks the source and its version, not the bytes).
    const bytes = fs.readFileSync(file);
    bytes[bytes.length >> 1] ^= 0x5a;
    fs.writeFileSync(file, bytes);
  }
  return path.join(root, 'dist', 'cli', 'main.js');
}

describe('the CLI code cache', () => {
  it('is accepted by this Node for the bundle it was made from, and rejected for another source', () => {
    const source = fs.readFileSync(path.join(DIST, 'pgwal.js'), 'utf8');
    const cachedData = readCodeCache(path.join(DIST, 'pgwal.js.cache'))!;
    expect(cachedData.length).toBeGreaterThan(100_000);
    const same = new vm.Script(Module.wrap(source), { filename: 'pgwal.js', cachedData });
    expect(same.cachedDataRejected).toBe(false);
    const other = new vm.Script(Module.wrap(`${source}\n;0`), { filename: 'pgwal.js', cachedData });
    expect(other.cachedDataRejected).toBe(true);
  });

  it('the bundle is ASCII and under 1 MiB (tsup.config.ts: what it frees after loading must stay under the reorder buffer chunks)', () => {
    const bytes = fs.readFileSync(path.join(DIST, 'pgwal.js'));
    expect(bytes.length).toBeLessThan(1 << 20);
    expect(bytes.findIndex((b) => b > 0x7f)).toBe(-1);
  });

  it('a cache file with one byte changed is not used', () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-code-cache-')), 'pgwal.js.cache');
    dirs.push(path.dirname(file));
    const bytes = fs.readFileSync(path.join(DIST, 'pgwal.js.cache'));
    fs.writeFileSync(file, bytes);
    expect(readCodeCache(file)?.equals(bytes.subarray(4))).toBe(true);
    for (const at of [0, 4, bytes.length >> 1, bytes.length - 1]) {
      const damaged = Buffer.from(bytes);
      damaged[at] ^= 1;
      fs.writeFileSync(file, damaged);
      expect(readCodeCache(file)).toBeUndefined();
    }
    fs.writeFileSync(file, bytes.subarray(0, 3));
    expect(readCodeCache(file)).toBeUndefined();
  });

  it.each(['kept', 'removed', 'damaged'] as const)('cache %s: pgwal dump prints pg_waldump\'s text, pgwal --version the version', (cache) => {
    const main = cliCopy(cache);
    const wal = extractSegments(fixture);
    dirs.push(wal);
    const r = spawnSync(process.execPath, [main, 'dump', '-p', wal, '-s', fixture.meta.startLsn, '-e', fixture.meta.endLsn], { encoding: 'utf8' });
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
    expect(r.stdout).toBe(readFixtureFile(fixture, 'waldump.txt').toString());
    const version = spawnSync(process.execPath, [main, '--version'], { encoding: 'utf8' });
    expect(version.stdout).toBe(`pgwal ${(JSON.parse(fs.readFileSync('package.json', 'utf8')) as { version: string }).version}\n`);
  });
});
