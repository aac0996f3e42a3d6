// Messages and exit codes of bad input (issue 14, "Messages" and item 6's slot create): each compared with
// what pg_waldump 15 (Debian's, when installed), test_decoding or initdb say for the same input.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listFixtures, readSegment, type Fixture } from './support/fixtures.js';
import { runCli, runDump } from './support/cli.js';

const PG_WALDUMP = '/usr/lib/postgresql/15/bin/pg_waldump';
const haveWaldump = fs.existsSync(PG_WALDUMP);
beforeAll(() => {
  if (!haveWaldump) throw new Error("Debian's postgresql-15 is not installed (apt-get install -y postgresql-15): this comparison needs its tools");
});
const fx = (id: string): Fixture => listFixtures().find((f) => f.id === id)!;
const dml = fx('pg15/types-dml');
const large = fx('pg15/large-records');
const SEG7 = '000000010000000000000007';
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function folder(f: Fixture, segments: Record<string, Uint8Array>): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-msg-'));
  dirs.push(d);
  fs.copyFileSync(path.join(f.dir, 'slot.state'), path.join(d, 'slot.state'));
  for (const [name, bytes] of Object.entries(segments)) fs.writeFileSync(path.join(d, name), bytes);
  return d;
}

/** pg_waldump's stdout, stderr (its name replaced by ours) and exit code. */
function waldump(args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(PG_WALDUMP, args, { encoding: 'utf8', maxBuffer: 1 << 28 });
  return { code: r.status!, out: r.stdout, err: r.stderr.replace(/^pg_waldump:/gm, 'pgwal dump:') };
}

describe('pgwal dump says what pg_waldump says', () => {
  it('a 6-byte segment', async () => {
    const d = folder(dml, { [SEG7]: readSegment(dml, SEG7).subarray(0, 6) });
    const ours = await runDump(['-p', d, '-s', '0/700000']);
    expect(ours).toEqual({ code: 1, out: '', err: `pgwal dump: error: could not read file "${SEG7}": read 6 of 8192\n` });
    if (haveWaldump) expect(ours).toEqual(waldump(['-p', d, '-s', '0/700000']));
  });

  it('segments truncated mid-page and mid-record: the same records, the same error', async () => {
    for (const cut of [8192, 12000, 16384 + 5]) {
      const d = folder(dml, { [SEG7]: readSegment(dml, SEG7).subarray(0, cut) });
      expect(await runDump(['-p', d, '-s', '0/700000'])).toEqual(waldump(['-p', d, '-s', '0/700000']));
    }
    const [s8, s9] = large.meta.segments as [string, string];
    for (const cut of [100000, 333333, 777777]) {
      const d = folder(large, { [s8]: readSegment(large, s8), [s9]: readSegment(large, s9).subarray(0, cut) });
      const ours = await runDump(['-p', d, '-s', large.meta.startLsn]);
      expect(ours.code).toBe(1);
      expect(ours).toEqual(waldump(['-p', d, '-s', large.meta.startLsn]));
    }
  });

  it('-e before -s: exit 1, no record found', async () => {
    const d = folder(dml, { [SEG7]: readSegment(dml, SEG7) });
    for (const args of [['-s', '0/702000', '-e', '0/700000'], ['-e', '0/700000', '-s', '0/702000']]) {
      const ours = await runDump(['-p', d, ...args]);
      expect(ours).toEqual({ code: 1, out: '', err: 'pgwal dump: error: could not find a valid record after 0/702000\n' });
      if (haveWaldump) expect(ours).toEqual(waldump(['-p', d, ...args]));
    }
  });

  it('-s FFFFFFFF/FFFFFFFF: pgwal\'s 2^53 limit explained', async () => {
    const r = await runDump(['-s', 'FFFFFFFF/FFFFFFFF']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^pgwal dump: error: invalid WAL location: "FFFFFFFF\/FFFFFFFF": beyond 1FFFFF\/FFFFFFFF, the largest LSN pgwal represents exactly\n/);
  });
});

describe('pgwal decode refuses values the server refuses, naming them', () => {
  const d = folder(dml, { [SEG7]: readSegment(dml, SEG7) });
  const decode = (...args: string[]) => runCli(['decode', '--state', path.join(d, 'slot.state'), '-p', d, ...args]);

  it('-o include-xids=maybe (test_decoding\'s parse_bool)', async () => {
    expect(await decode('-o', 'include-xids=maybe')).toEqual({ code: 1, stdout: '', stderr: 'pgwal decode: error: could not parse value "maybe" for parameter "include-xids"\n' });
    // parse_bool's other spellings are taken.
    expect((await decode('-o', 'include-xids=OFF', '-o', 'skip-empty-xacts=y')).code).toBe(0);
  });

  it('--memory-limit 1e20GB (beyond logical_decoding_work_mem\'s range)', async () => {
    const r = await decode('--memory-limit', '1e20GB');
    expect(r).toMatchObject({ code: 1, stdout: '' });
    expect(r.stderr).toMatch(/^pgwal decode: error: invalid value for --memory-limit: "1e20GB": Value exceeds integer range/);
    expect((await decode('--memory-limit', '2147483648kB')).code).toBe(1);
    expect((await decode('--memory-limit', '1.5MB')).code).toBe(0);
  });

  it('--wal-segsize abc (initdb\'s words)', async () => {
    const r = await runCli(['decode', '--state', path.join(d, 'slot.state'), '--restore-command', 'false', '--wal-segsize', 'abc']);
    expect(r).toEqual({ code: 1, stdout: '', stderr: 'pgwal decode: error: argument of --wal-segsize must be a number: "abc"\n' });
    const three = await runCli(['decode', '--state', path.join(d, 'slot.state'), '--restore-command', 'false', '--wal-segsize', '3']);
    expect(three.stderr).toBe('pgwal decode: error: argument of --wal-segsize must be a power of two between 1 and 1024: "3"\n');
  });
});

describe('pgwal slot create: one line, exit 1', () => {
  it('--datadir of a missing folder', async () => {
    const missing = path.join(os.tmpdir(), `pgwal-no-such-${process.pid}`);
    const r = await runCli(['slot', 'create', '--datadir', missing, '--dbname', 'postgres', '--slot', 's', '--state', path.join(os.tmpdir(), `pgwal-x-${process.pid}.state`)]);
    expect(r).toEqual({ code: 1, stdout: '', stderr: `pgwal slot create: error: data directory "${missing}": could not open "${missing}/global/pg_control": No such file or directory\n` });
  });

  it('--dsn of a server that is down', async () => {
    const sock = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-down-'));
    dirs.push(sock);
    const dsn = `postgresql://postgres@localhost/postgres?host=${encodeURIComponent(sock)}&port=5999`;
    const r = await runCli(['slot', 'create', '--dsn', dsn, '--slot', 's', '--state', path.join(sock, 'x.state')]);
    // libpq's words: connection to server on socket "…/.s.PGSQL.5999" failed: No such file or directory
    expect(r).toEqual({ code: 1, stdout: '', stderr: `pgwal slot create: error: connection to server on socket "${sock}/.s.PGSQL.5999" failed: No such file or directory\n` });
  });
});
