// `pgwal dump` against a real pg_waldump (Debian's postgresql-15; .ci/run installs it): the same arguments on
// the same files give the same stdout, stderr and exit code, for every PostgreSQL 15 fixture.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseLsn, formatLsn } from '../src/index.js';
import { listFixtures, type Fixture } from './support/fixtures.js';
import { extractSegments, runDump } from './support/cli.js';

const PG_WALDUMP = '/usr/lib/postgresql/15/bin/pg_waldump';
const fixtures = listFixtures().filter((f) => f.meta.major === 15);
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function waldump(argv: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(PG_WALDUMP, argv, { encoding: 'utf8', maxBuffer: 1 << 28, env: { ...process.env, TZ: 'UTC', LC_ALL: 'C' } });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr.replace(/^pg_waldump:/gm, 'pgwal dump:').replace(/"pg_waldump --help"/g, '"pgwal dump --help"') };
}

it('has a real pg_waldump to compare with', () => {
  expect(fs.existsSync(PG_WALDUMP), `${PG_WALDUMP} is missing: apt-get install -y postgresql-15`).toBe(true);
});

describe.each(fixtures.map((f) => [f.id, f] as [string, Fixture]))('%s', (_id, f) => {
  it('prints what pg_waldump prints for a matrix of options', async () => {
    const dir = extractSegments(f);
    dirs.push(dir);
    const start = f.meta.startLsn;
    const end = f.meta.endLsn;
    const mid = formatLsn(parseLsn(start) + Math.floor((parseLsn(end) - parseLsn(start)) / 2));
    const firstSeg = f.meta.segments[0]!;
    const lastSeg = f.meta.segments[f.meta.segments.length - 1]!;
    const cases: string[][] = [
      ['-p', dir, '-s', start],
      ['-p', dir, '-s', mid, '-n', '5'],
      ['-p', dir, '-s', start, '-e', end, '-r', 'Heap'],
      ['-p', dir, '-s', start, '-e', end, '-r', 'transaction', '-r', 'XLOG'],
      ['-p', dir, '-s', start, '-e', end, '-x', '735'],
      ['-p', dir, '-s', start, '-e', end, '-w', '-b'],
      ['-p', dir, '-s', start, '-e', end, '-R', '1663/5/1259', '-F', 'main'],
      ['-p', dir, '-s', start, '-e', end, '-R', '1663/5/16390', '-B', '0'],
      ['-p', dir, '-s', start, '-e', end, '-z'],
      ['-p', dir, '-s', start, '-e', end, '--stats=record', '-r', 'Heap2'],
      ['-p', dir, '-s', start, '-q'],
      ['-p', dir, firstSeg],
      ['-p', dir, firstSeg, lastSeg],
      [path.join(dir, firstSeg), '-n', '3'],
      ['-p', dir, '-s', start, lastSeg === firstSeg ? firstSeg : lastSeg],
      // pg_waldump waits 5 s for a missing file: try that once.
      ...(f === fixtures[0] ? [['-p', dir, '-s', start, '-e', end, '-t', '2']] : []),
      ['-p', dir, '-s', 'zz'],
      ['-p', dir, '-s', start, '-e', end, '-B', '4'],
      ['-p', dir, '-s', start, '--rmgr=list'],
    ];
    for (const argv of cases) {
      const theirs = waldump(argv);
      const ours = await runDump(argv);
      expect(ours, argv.join(' ')).toEqual(theirs);
    }
  });
});
