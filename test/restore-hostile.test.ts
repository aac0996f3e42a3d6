// restore_command and archive input a hostile user (or an unlucky TMPDIR) can shape: %p quoted for the shell,
// compressed members inflated within a bound, the command's failures reported and its temp folder removed.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RestoreCommand } from '../src/node/restore.js';
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
