// `pgwal receive` without a server: its help, and one-line errors for bad arguments and a refused connection.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { receiveCommand, RECEIVE_HELP } from '../src/cli/receive.js';
import type { DumpIo } from '../src/cli/dump.js';

function io(): DumpIo & { stderr(): string; stdout(): string } {
  let out = '';
  let err = '';
  return {
    out: (t) => void (out += t),
    err: (t) => void (err += t),
    errIsTty: false,
    env: {},
    cwd: process.cwd(),
    sleep: async () => {},
    stderr: () => err,
    stdout: () => out,
  };
}

describe('pgwal receive', () => {
  it('--help lists pg_receivewal flags', async () => {
    const r = io();
    expect(await receiveCommand(['--help'], r)).toBe(0);
    expect(r.stdout()).toBe(RECEIVE_HELP);
    for (const flag of ['--directory', '--dbname', '--slot', '--create-slot', '--if-not-exists', '--endpos', '--no-loop', '--status-interval', '--synchronous', '--compress']) {
      expect(RECEIVE_HELP).toContain(flag);
    }
  });

  it('bad arguments are one line and a hint', async () => {
    const cases: [string[], string][] = [
      [['-d', 'host=/tmp'], 'pgwal receive: error: no target directory specified\n'],
      [['-D', '/tmp', '-E', 'zz'], 'pgwal receive: error: invalid input syntax for type pg_lsn: "zz"\n'],
      [['-D', '/tmp', '-Z', 'lz4'], 'pgwal receive: error: compression method lz4 is not supported by pgwal receive (gzip is)\n'],
      [['-D', '/tmp', '-Z', 'gzip:12'], 'pgwal receive: error: compression algorithm "gzip" expects a compression level between 1 and 9 (got 12)\n'],
      [['-D', '/tmp', '-s', '-1'], 'pgwal receive: error: -s/--status-interval must be in range 0..2147483\n'],
      [['--create-slot'], 'pgwal receive: error: --create-slot needs a slot to be specified using --slot\n'],
      [['-D', '/tmp', '-d', 'hots=x'], 'pgwal receive: error: invalid connection string "hots=x": invalid connection option "hots"\n'],
      [['--bogus'], "pgwal receive: error: unrecognized option '--bogus'\n"],
    ];
    for (const [argv, first] of cases) {
      const r = io();
      expect(await receiveCommand(argv, r), argv.join(' ')).toBe(1);
      expect(r.stderr().split('\n')[0] + '\n').toBe(first);
    }
  });

  it("a refused first connection names the socket and ends it, with or without -n", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-receive-'));
    try {
      const r = io();
      expect(await receiveCommand(['-D', dir, '-d', `host=${dir} port=1`, '-n'], r)).toBe(1);
      expect(r.stderr()).toBe(`pgwal receive: error: connection to socket "${dir}/.s.PGSQL.1" failed: No such file or directory\n`);
      const again = io();
      expect(await receiveCommand(['-D', dir, '-d', `host=${dir} port=1`], again)).toBe(1);
      expect(again.stderr()).toBe(r.stderr());
    } finally {
      fs.rmSync(dir, { recursive: true });
    }
  });
});
