// History files a hostile or broken archive can hold: a huge one is refused unread, a long one parses in linear
// time, and `pgwal timeline` without a pg_wal folder says so in one line.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatLsn, WalError } from '../src/index.js';
import { HistoryTooLargeError, parseTimelineHistory } from '../src/timeline/index.js';
import { openWal } from '../src/node/wal.js';
import { ArchiveWal, RestoreCommand } from '../src/node/restore.js';
import type { DumpIo } from '../src/cli/dump.js';

const tmp: string[] = [];
afterAll(() => tmp.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
const mkdir = (): string => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-hist-'));
  tmp.push(d);
  return d;
};

async function timelineCli(argv: string[], cwd: string): Promise<{ code: number; out: string; err: string }> {
  const { timeline } = await import('../src/cli/timeline.js');
  let out = '';
  let err = '';
  const io: DumpIo = { out: (t) => void (out += t), err: (t) => void (err += t), errIsTty: false, env: {}, cwd, sleep: async () => undefined };
  const code = await timeline(argv, io);
  return { code, out, err };
}

describe('a 1.5 GB history file', () => {
  const dir = mkdir();
  const huge = path.join(dir, '00000002.history');
  fs.writeFileSync(huge, '1\t0/1000000\tx\n');
  fs.truncateSync(huge, 1536 * 1024 * 1024); // sparse: no disk, no memory unless read

  it('in a folder: a typed error naming it, one line from pgwal timeline', async () => {
    expect(() => openWal({ path: dir, timeline: 'latest' })).toThrow(HistoryTooLargeError);
    expect(() => openWal({ path: dir, timeline: 'latest' })).toThrow(huge);
    const r = await timelineCli(['-p', dir], dir);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^pgwal timeline: error: timeline history file ".*00000002\.history" has 1610612736 bytes, more than/);
    expect(r.err.trimEnd().split('\n')).toHaveLength(1);
  });

  it('through restore_command: refused before it is read, the temp folder removed', async () => {
    await expect(ArchiveWal.open({ restoreCommand: `cp --sparse=always '${dir}'/%f %p` })).rejects.toThrow(HistoryTooLargeError);
    const r = await timelineCli(['--restore-command', `cp --sparse=always '${dir}'/%f %p`], dir);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/00000002\.history" has 1610612736 bytes/);
  });

  it('a restored segment larger than the segment size is refused unread', async () => {
    const r = new RestoreCommand('truncate -s 3M %p', { segmentSize: 1 << 20 });
    try {
      await expect(r.fetch('000000010000000000000001')).rejects.toThrow(/has 3145728 bytes, more than a WAL segment of 1048576 bytes/);
    } finally {
      r.close();
    }
  });
});

describe('a 200,000-line history', () => {
  // No timed assertion (house rule): this run took 51 s before the parse stopped putting each line in front of the others, 1.4 s after.
  it('parses, newest first', () => {
    const lines: string[] = [];
    for (let t = 1; t <= 200_000; t++) lines.push(`${t}\t${formatLsn(t * 0x1000)}\tno recovery target specified`);
    const h = parseTimelineHistory(lines.join('\n') + '\n', 200_001);
    expect(h).toHaveLength(200_001);
    expect(h[0]).toEqual({ tli: 200_001, begin: 200_000 * 0x1000, end: undefined, reason: '' });
    expect(h[200_000]).toEqual({ tli: 1, begin: 0, end: 0x1000, reason: 'no recovery target specified' });
    expect(h[1]!.end).toBe(200_000 * 0x1000);
  });
});

describe('pgwal timeline without ./pg_wal', () => {
  it('says so in one line', async () => {
    const cwd = mkdir();
    const r = await timelineCli([], cwd);
    expect(r.code).toBe(1);
    expect(r.err).toBe(`pgwal timeline: error: could not open directory "${path.join(cwd, 'pg_wal')}": No such file or directory\n`);
  });

  it('reads the current folder when it holds the history files itself', async () => {
    const cwd = mkdir();
    fs.writeFileSync(path.join(cwd, '00000002.history'), '1\t0/D00788\tno recovery target specified\n');
    const r = await timelineCli(['--json'], cwd);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).map((e: { timeline: number }) => e.timeline)).toEqual([1, 2]);
  });
});
