// The state file on disk: one process at a time (the server's "is active for PID"), a lock left by a killed
// process taken over, temp files of interrupted writes removed, and writes that replace the file whole.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { openSlotFile, readSlotStateFile, writeSlotStateFile } from '../src/node/slot.js';
import { processStartedAt, processStartTime } from '../src/node/process-identity.js';
import { parseLsn } from '../src/lsn.js';
import { SlotStateError } from '../src/slot/errors.js';
import { SLOT_STATE_VERSION, type SlotState } from '../src/slot/state.js';
import { listFixtures, readTsv } from './support/fixtures.js';
import { runCli } from './support/cli.js';
import { cliBundle } from './support/cli-process.js';

const state: SlotState = {
  version: SLOT_STATE_VERSION,
  name: 'locked',
  plugin: 'test_decoding',
  pluginOptions: {},
  systemIdentifier: '1',
  databaseOid: 5,
  database: 'postgres',
  major: 16,
  timeline: 1,
  restartLsn: '0/10',
  confirmedFlush: '0/20',
  catalogXmin: 750,
  twoPhase: false,
  invalidation: null,
  catalogRef: { kind: 'embedded', asOf: '0/20', crc32c: 0 },
  catalogFilenodes: [],
  timezone: 'UTC',
  catalog: { databaseOid: 5, relations: [], types: [] },
};

let dir = '';
afterEach(() => {
  vi.restoreAllMocks();
  if (dir !== '') fs.chmodSync(dir, 0o700);
  fs.rmSync(dir, { recursive: true, force: true });
});

afterAll(() => fs.rmSync(cliBundle(), { force: true }));
const errno = (code: string, syscall: string): NodeJS.ErrnoException => Object.assign(new Error(`${code}: failed, ${syscall}`), { code, syscall });

describe('slot state file', () => {
  it('is used by one holder at a time; a dead holder\'s lock and temp files are cleared', () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-slotfile-'));
    const file = path.join(dir, 's.state');
    writeSlotStateFile(file, state);
    const a = openSlotFile(file);
    expect(() => openSlotFile(file)).toThrow(`replication slot "locked" is active for PID ${process.pid}`);
    a.confirm(parseLsn('0/30'));
    expect(readSlotStateFile(file).confirmedFlush).toBe('0/30');
    a.release();
    // A process that died holding the slot (SIGKILL): its lock names a pid that is gone.
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    fs.writeFileSync(path.join(dir, '.s.state.lock'), `${dead}\n`);
    fs.writeFileSync(path.join(dir, `.s.state.${dead}.tmp`), 'half a write');
    const b = openSlotFile(file);
    expect(fs.readdirSync(dir).sort()).toEqual(['.s.state.lock', 's.state']);
    b.release();
    expect(fs.readdirSync(dir)).toEqual(['s.state']);
  });

  it('a live holder\'s refusal names the lock file', () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-slotfile-'));
    const file = path.join(dir, 's.state');
    const lock = path.join(dir, '.s.state.lock');
    writeSlotStateFile(file, state);
    const a = openSlotFile(file);
    expect(() => openSlotFile(file)).toThrow(`replication slot "locked" is active for PID ${process.pid} (lock file "${lock}")`);
    a.release();
  });

  it('a lock whose PID was reused by another process is taken over', () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-slotfile-'));
    const file = path.join(dir, 's.state');
    const lock = path.join(dir, '.s.state.lock');
    writeSlotStateFile(file, state);
    // This PID, recorded with another start time: the holder died and the PID now names this process.
    const own = processStartTime(process.pid);
    if (own !== undefined) {
      fs.writeFileSync(lock, `${process.pid} ${own + 1}\n`);
      openSlotFile(file).release();
    }
    // An older lock holding a PID only: PID 1 lives (a container's init), but it started after the lock was written.
    const init = processStartedAt(1);
    if (init !== undefined) {
      fs.writeFileSync(lock, '1\n');
      fs.utimesSync(lock, new Date(init - 3_600_000), new Date(init - 3_600_000));
      const b = openSlotFile(file);
      expect(fs.readFileSync(lock, 'utf8')).toBe(`${process.pid} ${own}\n`);
      b.release();
      // The same lock written after PID 1 started: it may be PID 1's, which is refused.
      fs.writeFileSync(lock, '1\n');
      expect(() => openSlotFile(file)).toThrow(`replication slot "locked" is active for PID 1 (lock file "${lock}")`);
      fs.rmSync(lock);
    }
  });

  it('a state write that fails (ENOSPC, EACCES, EPERM) is one typed error naming the state file: no temp file, nothing moved', () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-slotfile-'));
    const file = path.join(dir, 's.state');
    writeSlotStateFile(file, state);
    const slot = openSlotFile(file);
    const failures: [keyof typeof fs, NodeJS.ErrnoException][] = [
      ['writeSync', errno('ENOSPC', 'write')],
      ['openSync', errno('EACCES', 'open')],
      ['renameSync', errno('EPERM', 'rename')],
      ['fsyncSync', errno('EIO', 'fsync')],
    ];
    for (const [call, err] of failures) {
      const real = fs[call] as (...a: unknown[]) => unknown;
      vi.spyOn(fs, call as 'openSync').mockImplementation(((...a: unknown[]) => {
        if (String(a[0]).endsWith('.tmp') || typeof a[0] === 'number') throw err;
        return real(...a);
      }) as typeof fs.openSync);
      let thrown: unknown;
      try {
        slot.confirm(parseLsn('0/30'));
      } catch (e) {
        thrown = e;
      }
      vi.restoreAllMocks();
      expect(thrown, call).toBeInstanceOf(SlotStateError);
      expect((thrown as Error).message).toBe(`could not write slot state file "${file}": ${err.message}`);
      expect(fs.readdirSync(dir).sort(), call).toEqual(['.s.state.lock', 's.state']);
      expect(slot.confirmedFlush, call).toBe(parseLsn('0/20'));
      expect(readSlotStateFile(file).confirmedFlush, call).toBe('0/20');
    }
    expect(slot.confirm(parseLsn('0/30'))).toBe(true);
    expect(readSlotStateFile(file).confirmedFlush).toBe('0/30');
    slot.release();
  });

  const torn = listFixtures().find((f) => f.id === 'pg15/torn-record');
  it('decode --advance whose state write fails: exit 1, one line naming the state file, nothing confirmed', async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-slotfile-'));
    const file = path.join(dir, 's.state');
    fs.copyFileSync(path.join(torn!.dir, 'slot.state'), file);
    const before = fs.readFileSync(file);
    const real = fs.renameSync;
    vi.spyOn(fs, 'renameSync').mockImplementation((from, to) => {
      if (String(to) === file) throw errno('ENOSPC', 'rename');
      return real(from, to);
    });
    const run = await runCli(['decode', '--state', file, '-p', torn!.dir, '--end', torn!.meta.endLsn, '--advance']);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(`pgwal decode: error: could not write slot state file "${file}": ENOSPC: failed, rename\n`);
    expect(fs.readFileSync(file)).toEqual(before);
    expect(fs.readdirSync(dir)).toEqual(['s.state']);
  });

  // As root, a folder's mode does not stop writes: the CLI runs as nobody there.
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  it('a peek of a state in a read-only folder works (spilling to the temp folder); --advance there is one line naming the lock file', () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-slotfile-'));
    const file = path.join(dir, 's.state');
    fs.copyFileSync(path.join(torn!.dir, 'slot.state'), file);
    fs.chmodSync(file, 0o644);
    fs.chmodSync(dir, 0o555);
    const who = asRoot ? { uid: 65534, gid: 65534 } : {};
    const args = [cliBundle(), 'decode', '--state', file, '-p', torn!.dir, '-o', 'include-xids=0', '-o', 'skip-empty-xacts=1', '--with-lsn', '--end', torn!.meta.endLsn, '--memory-limit', '1kB'];
    const peek = spawnSync(process.execPath, args, { ...who, encoding: 'utf8', timeout: 60_000 });
    expect(peek.stderr).toBe('');
    expect(peek.status).toBe(0);
    expect(peek.stdout).toBe(readTsv(torn!, 'decoded.tsv').map((r) => `${r.lsn}\t${r.xid}\t${r.data}\n`).join(''));
    const advance = spawnSync(process.execPath, [...args, '--advance'], { ...who, encoding: 'utf8', timeout: 60_000 });
    expect(advance.status).toBe(1);
    expect(advance.stderr).toMatch(new RegExp(`^pgwal decode: error: could not create lock file "${path.join(dir, '.s.state.lock')}" of replication slot "fx_torn_record": EACCES: permission denied, [^\n]*\n$`));
    expect(fs.readdirSync(dir)).toEqual(['s.state']);
  });
});
