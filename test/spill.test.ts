// The spill file store: changes of every size come back as written, per transaction, in order; stale files of
// an earlier run are removed on open; the folder is made at the first spill and removed when left empty.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { FileSpillStore } from '../src/node/spill.js';
import { MemorySpillStore } from '../src/reorderbuffer/spill.js';
import { WalSourceError } from '../src/errors.js';

const dirs: string[] = [];
const tmp = (): string => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-spilltest-'));
  dirs.push(d);
  return path.join(d, 'spill');
};
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

describe('FileSpillStore', () => {
  it('returns what was written, per transaction and in order, across read steps (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 1, max: 3 }), fc.array(fc.uint8Array({ minLength: 0, maxLength: 150_000 }), { maxLength: 4 })), { maxLength: 8 }), (writes) => {
        const store = new FileSpillStore(tmp());
        const memory = new MemorySpillStore();
        for (const [xid, changes] of writes) {
          store.write(xid, changes);
          memory.write(xid, changes);
        }
        expect(store.bytes).toBe(writes.reduce((n, [, cs]) => n + cs.reduce((m, c) => m + 4 + c.length, 0), 0));
        for (const xid of [1, 2, 3]) expect([...store.read(xid)].map((c) => Buffer.from(c).toString('hex'))).toEqual([...memory.read(xid)].map((c) => Buffer.from(c).toString('hex')));
        store.close();
        expect(store.bytes).toBe(0);
        expect(fs.existsSync(store.dir)).toBe(false);
      }),
      { numRuns: 40 },
    );
  });

  it('removes stale spill files of an earlier run when opened, and nothing else', () => {
    const dir = tmp();
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'xid-745.spill'), 'stale');
    fs.writeFileSync(path.join(dir, 'keep.txt'), 'not ours');
    const store = new FileSpillStore(dir);
    expect(fs.readdirSync(dir)).toEqual(['keep.txt']);
    store.write(7, [new Uint8Array([1, 2, 3])]);
    store.remove(7);
    expect(fs.readdirSync(dir)).toEqual(['keep.txt']);
  });

  it('a spill file cut inside a change is a typed error naming the file', () => {
    const store = new FileSpillStore(tmp());
    store.write(9, [new Uint8Array(100)]);
    const file = path.join(store.dir, 'xid-9.spill');
    fs.truncateSync(file, 50);
    expect(() => [...store.read(9)]).toThrow(WalSourceError);
    expect(() => [...store.read(9)]).toThrow(/xid-9\.spill" ends inside a change/);
  });
});
