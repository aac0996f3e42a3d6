// A transaction's own change queue (src/reorderbuffer/queue.ts): what goes in comes out in order, its chunks are
// a spill file's bytes, and after a spill its chunks are reused rather than left to the garbage collector. And the
// decoder with a small limit: the server's output, the queued and pooled bytes within the limit after every record.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ChangeQueue, ChunkPool } from '../src/reorderbuffer/queue.js';
import { MemorySpillStore } from '../src/reorderbuffer/spill.js';
import { FileSpillStore } from '../src/node/spill.js';
import { formatLsn, parseLsn } from '../src/index.js';
import { TestDecodingDecoder, type DecoderCatalog } from '../src/reorderbuffer/logical.js';
import { profileForMajor } from '../src/xlogreader/profile.js';
import { listFixtures, readFixtureFile, readTsv } from './support/fixtures.js';
import { fixtureRead } from './support/wal.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
const spillDir = (): string => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-queuetest-'));
  dirs.push(d);
  return path.join(d, 'spill');
};
const hex = (cs: Iterable<Uint8Array>): string[] => [...cs].map((c) => Buffer.from(c).toString('hex'));

describe('ChangeQueue', () => {
  it('gives back what was pushed, in order, whether allocated in place, copied in or allocated and dropped (property)', () => {
    const op = fc.record({ bytes: fc.uint8Array({ minLength: 0, maxLength: 6000 }), how: fc.constantFrom('alloc', 'copy', 'dropped') });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const q = new ChangeQueue();
        const pushed: Uint8Array[] = [];
        for (const { bytes, how } of ops) {
          if (how === 'copy') q.push(bytes);
          else {
            const room = q.alloc(bytes.length);
            room.set(bytes);
            if (how === 'dropped') continue;
            q.push(room);
          }
          pushed.push(bytes);
        }
        expect(q.length).toBe(pushed.length);
        expect(hex(q)).toEqual(hex(pushed));
        // Its frames are spill-file bytes: both stores read them back as the changes.
        const file = new FileSpillStore(spillDir());
        const memory = new MemorySpillStore();
        file.writeFrames(1, q.frames());
        memory.writeFrames(1, q.frames());
        expect(file.bytes).toBe(pushed.reduce((n, c) => n + 4 + c.length, 0));
        expect(hex(file.read(1))).toEqual(hex(pushed));
        expect(hex(memory.read(1))).toEqual(hex(pushed));
        file.close();
      }),
      { numRuns: 60 },
    );
  });

  it('holds a change larger than its chunks in one chunk', () => {
    const q = new ChangeQueue();
    const big = new Uint8Array(3 << 20).map((_, i) => i % 251);
    q.push(new Uint8Array([1, 2]));
    q.push(big);
    q.push(new Uint8Array([3]));
    expect(hex(q)).toEqual(hex([new Uint8Array([1, 2]), big, new Uint8Array([3])]));
  });

  it('after a spill, its next changes go into the chunks it gave back; a store that keeps changes copies them', () => {
    const pool = new ChunkPool();
    const q = new ChangeQueue(pool);
    const change = (i: number): Uint8Array => new Uint8Array(200).fill(i);
    for (let i = 0; i < 100; i++) q.push(change(i));
    const held = new Set(q.frames().map((f) => f.buffer));
    const capacity = q.capacity;
    const memory = new MemorySpillStore();
    memory.writeFrames(7, q.frames());
    q.clear(Infinity);
    expect(q.length).toBe(0);
    expect(pool.bytes).toBe(capacity);
    for (let i = 100; i < 200; i++) q.push(change(i));
    expect(q.frames().every((f) => held.has(f.buffer)), 'no new chunk: the old ones were reused').toBe(true);
    expect(pool.bytes).toBeLessThan(capacity);
    // The spilled copies are untouched by the reuse.
    expect(hex(memory.read(7))).toEqual(hex(Array.from({ length: 100 }, (_, i) => change(i))));
    expect(hex(q)).toEqual(hex(Array.from({ length: 100 }, (_, i) => change(100 + i))));
  });

  it('gives back no more than the pool may hold', () => {
    const pool = new ChunkPool();
    const q = new ChangeQueue(pool);
    for (let i = 0; i < 100; i++) q.push(new Uint8Array(200));
    q.clear(0);
    expect(pool.bytes).toBe(0);
    const r = new ChangeQueue(pool);
    for (let i = 0; i < 100; i++) r.push(new Uint8Array(200));
    r.clear(4096);
    expect(pool.bytes).toBeGreaterThan(0);
    expect(pool.bytes).toBeLessThanOrEqual(4096);
    pool.trim(0);
    expect(pool.bytes).toBe(0);
  });
});

describe.each(listFixtures().filter((f) => f.meta.scenario === 'copy').map((f) => [f.id, f] as const))('%s, a 16 kB memory limit', (_id, f) => {
  it("prints the server's output; queued and pooled bytes stay within the limit after every record, and spilled chunks are reused", () => {
    const limit = 16 * 1024;
    const slot = f.meta.slots.find((s) => !s.twoPhase)!;
    const { records } = fixtureRead(f, { start: parseLsn(slot.restartLsn) });
    const spill = new MemorySpillStore();
    const catalog = JSON.parse(readFixtureFile(f, 'catalog.json').toString()) as DecoderCatalog;
    const decoder = new TestDecodingDecoder(catalog, profileForMajor(f.meta.major)!.major, { includeXids: true, skipEmptyXacts: true }, parseLsn(slot.confirmedFlushLsn), { memoryLimit: limit, spill });
    let pooled = 0;
    for (const rec of records) {
      decoder.process(rec);
      expect(decoder.memoryUsed).toBeLessThan(limit);
      expect(decoder.memoryUsed + decoder.memoryPooled).toBeLessThanOrEqual(limit);
      pooled = Math.max(pooled, decoder.memoryPooled);
    }
    expect(decoder.spills).toBeGreaterThan(3);
    expect(pooled, 'a spilled queue gave its chunks back').toBeGreaterThan(0);
    const theirs = readTsv(f, 'decoded-xids.tsv').map((r) => `${r.lsn}\t${r.xid}\t${r.data}`);
    expect(decoder.output.map((o) => `${formatLsn(o.lsn)}\t${o.xid}\t${o.data}`)).toEqual(theirs);
    expect(spill.bytes).toBe(0);
  });
});
