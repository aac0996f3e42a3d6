// The state file on disk: one process at a time (the server's "is active for PID"), a lock left by a killed
// process taken over, temp files of interrupted writes removed, and writes that replace the file whole.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openSlotFile, readSlotStateFile, writeSlotStateFile } from '../src/node/slot.js';
import { parseLsn } from '../src/lsn.js';
import { SLOT_STATE_VERSION, type SlotState } from '../src/slot/state.js';

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
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

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
});
