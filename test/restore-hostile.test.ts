// restore_command and archive input a hostile user (or an unlucky TMPDIR) can shape: %p quoted for the shell,
// compressed members inflated within a bound, the command's failures reported and its temp folder removed.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { decompressMember, RestoreCommand } from '../src/node/restore.js';
import { listFixtures } from './support/fixtures.js';
import { extractSegments } from './support/cli.js';

const tmp: string[] = [];
afterAll(() => tmp.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
const f = listFixtures().find((x) => x.id === 'pg15/types-dml')!;
const archive = extractSegments(f);
tmp.push(archive);
const seg = f.meta.segments[0]!;

function withTmpdir<T>(dir: string, fn: () => T): T {
  const saved = process.env.TMPDIR;
  process.env.TMPDIR = dir;
  try {
    return fn();
  } finally {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
  }
}

describe('%p in restore_command', () => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-hostile-'));
  tmp.push(base);
  it.each([
    ['a space', 't x'],
    ['$(…)', 't$(touch INJECTED)'],
    ['quotes and backquotes', `t'"\`touch INJECTED\`"'`],
  ])('works and runs nothing else with %s in the temp folder, the placeholder bare or quoted', async (_what, name) => {
    const dir = path.join(base, name);
    fs.mkdirSync(dir, { recursive: true });
    for (const cmd of [`cp ${archive}/%f %p`, `cp ${archive}/%f "%p"`, `cp ${archive}/%f '%p'`, `cat ${archive}/%f > %p`]) {
      const r = withTmpdir(dir, () => new RestoreCommand(cmd, { cwd: base }));
      try {
        expect((r as unknown as { dir: string }).dir.startsWith(dir)).toBe(true);
        const got = await r.fetch(seg);
        expect(got?.length, cmd).toBe(f.meta.walSegmentSize);
      } finally {
        r.close();
      }
      expect(fs.existsSync(path.join(base, 'INJECTED')), cmd).toBe(false);
      expect(fs.readdirSync(dir), cmd).toEqual([]);
    }
  });
});

describe('compressed WAL that inflates past a segment', () => {
  const big = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-bomb-'));
  tmp.push(big);
  const zeros = path.join(big, 'zeros');
  fs.writeFileSync(zeros, Buffer.alloc(64 << 20));
  const lr = listFixtures().find((x) => x.id === 'pg15/large-records')!;

  it('a gzip bomb in a -p folder is a typed error naming the file, after the records before it', async () => {
    const { openWal } = await import('../src/node/wal.js');
    const { WalSourceError } = await import('../src/index.js');
    const { runDump } = await import('./support/cli.js');
    const { readSegment } = await import('./support/fixtures.js');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-bomb-'));
    tmp.push(dir);
    fs.writeFileSync(path.join(dir, lr.meta.segments[0]!), readSegment(lr, lr.meta.segments[0]!));
    const bomb = path.join(dir, `${lr.meta.segments[1]!}.gz`);
    fs.writeFileSync(bomb, zlib.gzipSync(fs.readFileSync(zeros)));
    expect(fs.statSync(bomb).size).toBeLessThan(lr.meta.walSegmentSize);
    let n = 0;
    let err: unknown;
    try {
      for (const _ of openWal({ path: dir }).recordsSync()) n++;
    } catch (e) {
      err = e;
    }
    expect(n).toBeGreaterThan(0);
    expect(err).toBeInstanceOf(WalSourceError);
    expect((err as Error).message).toContain(bomb);
    expect((err as Error).message).toMatch(/at most 1048576 bytes/);
    const run = await runDump(['-p', dir, '-q', '-s', lr.meta.startLsn]);
    expect(run.code).toBe(1);
    expect(run.err.trimEnd().split('\n')).toHaveLength(1);
    expect(run.err).toContain(bomb);
  });

  it('a .gz segment larger than any compressed segment is refused before it is read', async () => {
    const { openWal } = await import('../src/node/wal.js');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-bomb-'));
    tmp.push(dir);
    const { readSegment } = await import('./support/fixtures.js');
    fs.writeFileSync(path.join(dir, lr.meta.segments[0]!), readSegment(lr, lr.meta.segments[0]!));
    const huge = path.join(dir, `${lr.meta.segments[1]!}.gz`);
    fs.writeFileSync(huge, zlib.gzipSync(Buffer.alloc(10)));
    fs.truncateSync(huge, 64 << 20); // sparse
    expect(() => {
      for (const _ of openWal({ path: dir }).recordsSync());
    }).toThrow(/has 67108864 bytes, more than a compressed segment/);
  });

  it.each([
    ['gzip', ['gzip', '-c']],
    ['zstd', ['zstd', '-q', '-c']],
    ['lz4', ['lz4', '-q', '-c']],
  ])('an archived %s bomb is refused within the segment size', (_name, [cmd, ...args]) => {
    const packed = execFileSync(cmd!, [...args, zeros], { maxBuffer: 1 << 26 });
    expect(() => decompressMember(packed, 1 << 20, 'x')).toThrow(/not a valid .* stream of at most 1048576 bytes/);
  });
});
