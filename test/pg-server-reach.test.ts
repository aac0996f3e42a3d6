// The live-test harness runs servers as `nobody` when run as root; a checkout in a private folder (root's home
// is 0700) must still work: the server build is copied where `nobody` can reach it.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { reachableByOthers, reachableNative, runAs } from './support/pg-server.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-reach-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('server binaries from a private checkout', () => {
  it('tells a folder behind a 0700 parent from a reachable one', () => {
    const priv = path.join(tmp, 'home');
    fs.mkdirSync(path.join(priv, 'x'), { recursive: true, mode: 0o700 });
    fs.chmodSync(priv, 0o700);
    fs.chmodSync(tmp, 0o755);
    expect(reachableByOthers(path.join(priv, 'x'))).toBe(false);
    fs.chmodSync(priv, 0o755);
    fs.chmodSync(path.join(priv, 'x'), 0o755);
    expect(reachableByOthers(path.join(priv, 'x'))).toBe(true);
  });

  it('copies a build behind a private folder to a shared one, once, with its symlinks', () => {
    const native = path.join(tmp, 'private', 'checkout', 'native');
    fs.mkdirSync(path.join(native, 'bin'), { recursive: true });
    fs.mkdirSync(path.join(native, 'lib'), { recursive: true });
    fs.writeFileSync(path.join(native, 'bin', 'postgres'), '#!/bin/sh\necho ran\n', { mode: 0o755 });
    fs.writeFileSync(path.join(native, 'lib', 'libpq.so.5.15'), 'lib');
    fs.symlinkSync('libpq.so.5.15', path.join(native, 'lib', 'libpq.so.5'));
    fs.chmodSync(path.join(tmp, 'private'), 0o700);
    const shared = path.join(tmp, 'shared');
    fs.mkdirSync(shared, { mode: 0o755 });
    fs.chmodSync(shared, 0o755);
    const who = { uid: 65534, gid: 65534 };
    const got = reachableNative(native, 'pg-test-1', who, shared);
    expect(got).toBe(path.join(shared, 'pgwal-pg-test-1', 'native'));
    expect(reachableByOthers(got)).toBe(true);
    expect(fs.readlinkSync(path.join(got, 'lib', 'libpq.so.5'))).toBe('libpq.so.5.15');
    expect(fs.statSync(path.join(got, 'bin', 'postgres')).mode & 0o777).toBe(0o755);
    // Not for a user who needs no other uid, nor when the build is reachable already; and only once.
    expect(reachableNative(native, 'pg-test-1', undefined, shared)).toBe(native);
    fs.writeFileSync(path.join(native, 'bin', 'postgres'), 'changed');
    expect(fs.readFileSync(path.join(reachableNative(native, 'pg-test-1', who, shared), 'bin', 'postgres'), 'utf8')).toContain('echo ran');
    expect(fs.readdirSync(shared)).toEqual(['pgwal-pg-test-1']);
  });

  it('as root, the copied build runs as nobody', () => {
    const who = runAs();
    // Only root runs servers as another user; for anyone else the harness uses the build where it is.
    if (who === undefined) {
      expect(reachableNative('/nonexistent', 'x', who)).toBe('/nonexistent');
      return;
    }
    const native = path.join(tmp, 'private2', 'native');
    fs.mkdirSync(path.join(native, 'bin'), { recursive: true });
    fs.writeFileSync(path.join(native, 'bin', 'hello'), '#!/bin/sh\necho hello\n', { mode: 0o755 });
    fs.chmodSync(path.join(tmp, 'private2'), 0o700);
    const direct = spawnSync(path.join(native, 'bin', 'hello'), { uid: who.uid, gid: who.gid, encoding: 'utf8' });
    expect(direct.error ?? direct.status).not.toBe(0);
    const got = reachableNative(native, 'pg-test-2', who, tmp);
    const r = spawnSync(path.join(got, 'bin', 'hello'), { uid: who.uid, gid: who.gid, encoding: 'utf8' });
    expect(r.stdout).toBe('hello\n');
  });
});
