// Segment names that are there but are no readable file (a folder, a symlink loop): the records before them are
// printed and the error names the file in pg_waldump's words (checked against Debian's pg_waldump 15).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WalSourceError } from '../src/index.js';
import { openWal } from '../src/node/wal.js';
import { listFixtures, readSegment } from './support/fixtures.js';
import { runDump } from './support/cli.js';

const PG_WALDUMP = '/usr/lib/postgresql/15/bin/pg_waldump';
beforeAll(() => {
  if (!fs.existsSync(PG_WALDUMP)) throw new Error("Debian's postgresql-15 is not installed (apt-get install -y postgresql-15): this comparison needs its pg_waldump");
});
const tmp: string[] = [];
afterAll(() => tmp.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
const f = listFixtures().find((x) => x.id === 'pg15/large-records')!;
const [first, second] = f.meta.segments as [string, string];

function folderWith(kind: 'folder' | 'loop'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-badseg-'));
  tmp.push(dir);
  fs.writeFileSync(path.join(dir, first), readSegment(f, first));
  if (kind === 'folder') fs.mkdirSync(path.join(dir, second));
  else {
    fs.symlinkSync(`${second}.other`, path.join(dir, second));
    fs.symlinkSync(second, path.join(dir, `${second}.other`));
  }
  return dir;
}

describe('a segment that is a folder or a symlink loop', () => {
  // pg_waldump reading from the first segment into the second (start and end segment given, no directory scan).
  const theirs = (dir: string): { out: string; err: string } => {
    const r = spawnSync(PG_WALDUMP, ['-p', dir, first, second], { encoding: 'utf8' });
    return { out: r.stdout, err: r.stderr.replace(/^pg_waldump: error: /, '').trimEnd() };
  };
  const folderRun = theirs(folderWith('folder'));

  it.each(['folder', 'loop'] as const)('%s: the records before it, then one line naming it', async (kind) => {
    const dir = folderWith(kind);
    const ours = await runDump(['-p', dir, '-s', f.meta.startLsn]);
    expect(ours.code).toBe(1);
    // The records pg_waldump prints before it reaches the second segment.
    expect(folderRun.out.split('\n').length).toBeGreaterThan(2);
    expect(ours.out).toBe(folderRun.out);
    const message = kind === 'folder' ? folderRun.err : theirs(dir).err;
    expect(message).toMatch(kind === 'folder' ? /Is a directory/ : /Too many levels of symbolic links/);
    expect(ours.err).toBe(`pgwal dump: error: ${message}\n`);
    let err: unknown;
    let n = 0;
    try {
      for (const _ of openWal({ path: dir }).recordsSync()) n++;
    } catch (e) {
      err = e;
    }
    expect(n).toBe(folderRun.out.trimEnd().split('\n').length);
    expect(err).toBeInstanceOf(WalSourceError);
    expect((err as WalSourceError).file).toBe(path.join(dir, second));
  });
});

describe('the only segment name a folder or a symlink loop', () => {
  it.each(['folder', 'loop'] as const)('%s: one line naming it, as pg_waldump says', async (kind) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-badseg-'));
    tmp.push(dir);
    if (kind === 'folder') fs.mkdirSync(path.join(dir, first));
    else {
      fs.symlinkSync(`${first}.other`, path.join(dir, first));
      fs.symlinkSync(first, path.join(dir, `${first}.other`));
    }
    const theirs = spawnSync(PG_WALDUMP, ['-p', dir, '-s', f.meta.startLsn], { encoding: 'utf8' });
    expect(theirs.status).toBe(1);
    const message = theirs.stderr.replace(/^pg_waldump: error: /, '').trimEnd();
    expect(message).toMatch(kind === 'folder' ? /Is a directory/ : /Too many levels of symbolic links/);
    const ours = await runDump(['-p', dir, '-s', f.meta.startLsn]);
    expect(ours.code).toBe(1);
    expect(ours.err).toBe(`pgwal dump: error: ${message}\n`);
    expect(() => openWal({ path: dir })).toThrow(WalSourceError);
  });
});
