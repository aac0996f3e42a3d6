// restore_command and archive input a hostile user (or an unlucky TMPDIR) can shape: %p quoted for the shell,
// compressed members inflated within a bound, the command's failures reported and its temp folder removed.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
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

describe('the restore_command process', () => {
  const pgrep = (pattern: string): string[] => {
    const r = spawnSync('pgrep', ['-f', pattern], { encoding: 'utf8' });
    return r.stdout.split('\n').filter((l) => l !== '');
  };
  const waitFor = async (ok: () => boolean, ms = 10000): Promise<boolean> => {
    for (let t = 0; t < ms; t += 50) {
      if (ok()) return true;
      await new Promise((r) => setTimeout(r, 50));
    }
    return ok();
  };

  it.each(['SIGTERM', 'SIGINT'] as const)('%s (once) ends pgwal, the command and its temp folder', async (sig) => {
    const { cliBundle } = await import('./support/cli-process.js');
    const own = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-sig-'));
    tmp.push(own);
    const marker = `${Math.floor(Math.random() * 1e9) + 100}`;
    const child = spawn(process.execPath, [cliBundle(), 'timeline', '--restore-command', `sleep ${marker}.5; cp ${archive}/%f %p`], {
      env: { ...process.env, TMPDIR: own },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
    const sleeping = (): boolean => pgrep(`^sleep ${marker}\\.5`).length > 0;
    expect(await waitFor(sleeping)).toBe(true);
    expect(fs.readdirSync(own).filter((n) => n.startsWith('pgwal-restore-'))).toHaveLength(1);
    child.kill(sig); // pgwal alone, not its process group: pgwal must pass it on
    const how = await Promise.race([exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 10000))]);
    expect(how, err).not.toBe('hung');
    if (sig === 'SIGTERM') expect(how).toEqual({ code: null, signal: 'SIGTERM' });
    else expect(err).toMatch(/interrupted by SIGINT/);
    expect(await waitFor(() => !sleeping())).toBe(true);
    expect(fs.readdirSync(own)).toEqual([]);
  }, 30000);

  it.each([
    ['a killed command', 'kill -9 $$', /terminated by signal SIGKILL/],
    ['exit 127', 'exit 127', /exit code 127/],
    ['a history syntax error', `printf 'nonsense\\n' > %p`, /syntax error in history file/],
    ['a huge history', 'truncate -s 100M %p', /has 104857600 bytes/],
  ])('a failed open (%s) leaves no temp folder behind', async (_what, cmd, message) => {
    const own = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-open-'));
    tmp.push(own);
    const { ArchiveWal } = await import('../src/node/restore.js');
    await expect(withTmpdir(own, () => ArchiveWal.open({ restoreCommand: cmd }))).rejects.toThrow(message);
    expect(fs.readdirSync(own)).toEqual([]);
  });

  it('shows what the command said on stderr, bounded', async () => {
    const r = new RestoreCommand(`echo "archive offline: $(head -c 5000 /dev/zero | tr '\\0' x)" >&2; exit 130`);
    try {
      const err = await r.fetch(seg).catch((e: Error) => e);
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).message).toMatch(/exit code 130; restore_command said: archive offline: x{2000,2048} … \(\d+ more characters\)$/);
      expect((err as Error).message.length).toBeLessThan(2400);
    } finally {
      r.close();
    }
    const { ArchiveSource } = await import('../src/node/restore.js');
    const quiet = new RestoreCommand(`cp /nonexistent-pgwal/%f %p`);
    try {
      const src = new ArchiveSource({ fetchers: [quiet], segmentSize: f.meta.walSegmentSize, timeline: 1, prefetch: 0 });
      const got = await src.read(7 * f.meta.walSegmentSize);
      expect('missing' in got && got.missing).toMatch(/not found \(needed for 0\/700000\); restore_command said: cp: cannot stat .*nonexistent-pgwal\/000000010000000000000007/);
    } finally {
      quiet.close();
    }
  });

  it.each([
    ['leaves an empty file for every name', 'touch %p', /names no parent timeline/],
    ['copies one file whatever %f says', `cp HIST %p`, /"00000003\.history" is the same as "00000002\.history"/],
  ])('a command that %s does not make the history probe run for ever', async (_what, cmd, message) => {
    const { ArchiveWal } = await import('../src/node/restore.js');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-probe-'));
    tmp.push(dir);
    fs.writeFileSync(path.join(dir, 'h'), '1\t0/7000000\tno recovery target specified\n');
    const open = ArchiveWal.open({ restoreCommand: cmd.replace('HIST', path.join(dir, 'h')), segmentSize: f.meta.walSegmentSize });
    const outcome = await Promise.race([open.then(() => 'opened', (e: Error) => e.message), new Promise<string>((r) => setTimeout(() => r('still probing'), 5000))]);
    expect(outcome).toMatch(message);
  }, 20000);
});

describe('--restore-timeout', () => {
  it('stops a restore_command that runs longer, as an error (decode and timeline)', async () => {
    const { runCli } = await import('./support/cli.js');
    const state = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-rt-')), 'slot.state');
    tmp.push(path.dirname(state));
    fs.copyFileSync(path.join(f.dir, 'slot.state'), state);
    const started = Date.now();
    const run = await runCli(['decode', '--state', state, '--restore-command', 'sleep 20', '--restore-timeout', '0.3', '--wal-segsize', '1']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^pgwal decode: error: could not restore file "00000002\.history" from archive: restore_command did not finish within 300 ms\n$/);
    expect(Date.now() - started).toBeLessThan(15000);
    const { timeline } = await import('../src/cli/timeline.js');
    let err = '';
    const io = { out: () => undefined, err: (t: string) => void (err += t), errIsTty: false, env: {}, cwd: process.cwd(), sleep: async () => undefined };
    expect(await timeline(['--restore-command', 'sleep 20', '--restore-timeout', '0.3'], io)).toBe(1);
    expect(err).toMatch(/did not finish within 300 ms/);
    err = '';
    expect(await timeline(['--restore-command', 'sleep 20', '--restore-timeout', 'soon'], io)).toBe(1);
    expect(err).toBe('pgwal timeline: error: invalid value "soon" for option --restore-timeout: a number of seconds above 0\n');
  }, 30000);
});
