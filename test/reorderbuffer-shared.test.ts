// Row changes the reorder buffer keeps by offset in its shared chunks (queueRowChange) come back exactly as those
// encoded one by one (queue of encodeRowChange): the same rows in the same order, the same memory counted and the
// same spills — across a long transaction's move to a queue of its own, spilling and streaming.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ReorderBuffer, type CallbackContext } from '../src/reorderbuffer/reorderbuffer.js';
import { StaticCatalog, type DecoderRelation } from '../src/reorderbuffer/catalog.js';
import { CHANGE_DELETE, CHANGE_INSERT, CHANGE_UPDATE, CF_CLEAR_TOAST, encodeRowChange } from '../src/reorderbuffer/change.js';
import type { OutputPlugin, RowChange } from '../src/reorderbuffer/plugin.js';

const REL: DecoderRelation = {
  oid: 16384,
  relfilenode: 16385,
  namespace: 'public',
  name: 't',
  kind: 'r',
  toastRelid: 0,
  attributes: [{ attnum: 1, name: 'v', typeOid: 25, len: -1, align: 'i', byval: false, dropped: false }],
};

/** A WAL tuple of one text column (xl_heap_header, then the bytes from t_bits on: a pad byte and a 4-byte varlena). */
function walTuple(n: number, seed: number): Uint8Array {
  const t = new Uint8Array(5 + 1 + 4 + n);
  t.set([1, 0, 2, 0, 24], 0);
  const h = (n + 4) << 2;
  t.set([h & 0xff, (h >>> 8) & 0xff, (h >>> 16) & 0xff, h >>> 24], 6);
  for (let i = 0; i < n; i++) t[10 + i] = (seed + i * 7) & 0xff;
  return t;
}

/** One step of a workload: a change of `bytes` bytes under `xid`, or the commit of `xid`. */
type Step = { op: 'change'; xid: number; kind: number; bytes: number } | { op: 'commit'; xid: number };

function run(steps: readonly Step[], byOffset: boolean, memoryLimit: number, streaming: boolean, transient = false): { rows: string[]; used: number[]; spills: number; chunks: number } {
  const rows: string[] = [];
  const row = (xid: number, c: RowChange, how: string): void => {
    // A value as its length and a digest of its bytes (whole values would make failures unreadable).
    const digest = (b: Uint8Array): string => `${b.length}:${createHash('sha1').update(b).digest('hex').slice(0, 12)}`;
    const v = (t: RowChange['newTuple']): string => (t === undefined ? '-' : t.map((x) => (x.kind === 'bytes' ? digest(x.bytes) : x.kind)).join(','));
    rows.push(`${how} ${xid} ${c.lsn} ${c.action} ${v(c.newTuple)} ${v(c.oldTuple)}`);
  };
  const plugin: OutputPlugin = {
    transientRowChanges: transient,
    begin: (_ctx, txn) => rows.push(`begin ${txn.xid}`),
    change: (_ctx, txn, c) => row(txn.xid, c, 'change'),
    truncate: () => {},
    message: () => {},
    commit: (_ctx, txn) => rows.push(`commit ${txn.xid}`),
    streamStart: (_ctx, txn) => rows.push(`stream-start ${txn.xid}`),
    streamStop: (_ctx, txn) => rows.push(`stream-stop ${txn.xid}`),
    streamChange: (_ctx, txn, c) => row(txn.xid, c, 'stream-change'),
    streamCommit: (_ctx, txn) => rows.push(`stream-commit ${txn.xid}`),
    streamAbort: () => {},
    streamTruncate: () => {},
    streamMessage: () => {},
  };
  const ctx: CallbackContext = { major: 15, lsn: 0, xid: 0, changeXid: 0, at: undefined, write: () => {}, type: () => undefined };
  const catalog = new StaticCatalog({ databaseOid: 5, relations: [REL], types: [] });
  const rb = new ReorderBuffer({ startAt: 0, memoryLimit, streaming }, catalog, plugin, undefined, ctx);
  const used: number[] = [];
  let lsn = 0x1000000;
  let seed = 0;
  for (const s of steps) {
    lsn += 64;
    rb.recordLsn = lsn;
    rb.processXid(s.xid, 0, lsn, 0);
    if (s.op === 'commit') {
      rb.commit(s.xid, [], lsn, lsn + 32, 0n, 0, undefined);
    } else {
      const t = walTuple(s.bytes, seed++);
      const hasNew = s.kind !== CHANGE_DELETE;
      const hasOld = s.kind !== CHANGE_INSERT;
      // The tuple sits inside a larger record-like buffer, as in a page: offsets, not a buffer of its own.
      const src = new Uint8Array(t.length * 2 + 16);
      src.set(t, 8);
      src.set(t, 8 + t.length);
      const tuples = [src, hasNew ? 8 : -1, hasNew ? t.length : 0, hasOld ? 8 + t.length : -1, hasOld ? t.length : 0] as const;
      if (byOffset) rb.queueRowChange(s.xid, lsn, s.kind, CF_CLEAR_TOAST, 1663, REL.relfilenode, ...tuples);
      else rb.queue(s.xid, lsn, encodeRowChange(s.kind, CF_CLEAR_TOAST, lsn, 1663, REL.relfilenode, ...tuples, rb.arenaOf(s.xid)));
    }
    used.push(rb.memoryUsed);
  }
  return { rows, used, spills: rb.spills, chunks: rb.sharedChunksAllocated };
}

/** A long transaction (xid 100) open while `others` transactions of one change each pass by. */
function longAndShort(others: number, bytes: number): Step[] {
  const steps: Step[] = [{ op: 'change', xid: 100, kind: CHANGE_INSERT, bytes: 40 }];
  for (let i = 0; i < others; i++) {
    steps.push({ op: 'change', xid: 200 + i, kind: [CHANGE_INSERT, CHANGE_UPDATE, CHANGE_DELETE][i % 3]!, bytes });
    if (i % 50 === 0) steps.push({ op: 'change', xid: 100, kind: CHANGE_UPDATE, bytes: 100 + i });
    steps.push({ op: 'commit', xid: 200 + i });
  }
  steps.push({ op: 'change', xid: 100, kind: CHANGE_DELETE, bytes: 30 }, { op: 'commit', xid: 100 });
  return steps;
}

describe('row changes kept by offset in shared chunks', () => {
  it('come back as changes encoded one by one, after a long transaction moved to a queue of its own', () => {
    // 2400 changes of 4-8 KiB: some 16 MiB, past the 8 shared chunks a transaction may stay in.
    const steps = longAndShort(2400, 4000);
    const byOffset = run(steps, true, 1 << 30, false);
    const each = run(steps, false, 1 << 30, false);
    expect(byOffset.rows.filter((r) => r.startsWith('change 100 ')).length).toBe(50);
    expect(byOffset.rows.length).toBe(each.rows.length);
    expect(byOffset).toEqual(each);
  });

  it('the same under a memory limit (spills), and streamed, for random workloads (property)', () => {
    const step = fc.oneof(
      fc.record({ op: fc.constant('change' as const), xid: fc.integer({ min: 1, max: 6 }), kind: fc.constantFrom(CHANGE_INSERT, CHANGE_UPDATE, CHANGE_DELETE), bytes: fc.integer({ min: 0, max: 20_000 }) }),
      fc.record({ op: fc.constant('commit' as const), xid: fc.integer({ min: 1, max: 6 }) }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 120 }), fc.constantFrom(0, 4096, 65536), fc.boolean(), (steps, limit, streaming) => {
        expect(run(steps, true, limit, streaming)).toEqual(run(steps, false, limit, streaming));
      }),
      { numRuns: 150 },
    );
  });
});

describe('transactions one after another', () => {
  it('a transaction after one that ended starts empty: no changes, no base snapshot of the one before', () => {
    const steps: Step[] = [
      { op: 'change', xid: 1, kind: CHANGE_INSERT, bytes: 10 },
      { op: 'change', xid: 1, kind: CHANGE_UPDATE, bytes: 20 },
      { op: 'commit', xid: 1 },
      // Seen (processXid), no change: forgotten at its commit, never emitted.
      { op: 'commit', xid: 2 },
      { op: 'change', xid: 3, kind: CHANGE_DELETE, bytes: 30 },
      { op: 'commit', xid: 3 },
    ];
    const rows = run(steps, true, 1 << 30, false).rows.map((r) => r.split(' ').slice(0, 2).join(' '));
    expect(rows).toEqual(['begin 1', 'change 1', 'change 1', 'commit 1', 'begin 3', 'change 3', 'commit 3']);
  });

  it('a plugin with transientRowChanges gets the same rows (one object refilled per change)', () => {
    const step = fc.oneof(
      fc.record({ op: fc.constant('change' as const), xid: fc.integer({ min: 1, max: 4 }), kind: fc.constantFrom(CHANGE_INSERT, CHANGE_UPDATE, CHANGE_DELETE), bytes: fc.integer({ min: 0, max: 3000 }) }),
      fc.record({ op: fc.constant('commit' as const), xid: fc.integer({ min: 1, max: 4 }) }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 80 }), fc.constantFrom(0, 65536, 1 << 30), fc.boolean(), (steps, limit, streaming) => {
        expect(run(steps, true, limit, streaming, true)).toEqual(run(steps, true, limit, streaming, false));
      }),
      { numRuns: 100 },
    );
  });
});

/** Steps without the count of chunks allocated (which reuse changes), for comparing rows. */
const rowsOf = (r: ReturnType<typeof run>): Omit<ReturnType<typeof run>, 'chunks'> => ({ rows: r.rows, used: r.used, spills: r.spills });

describe('shared chunks reused once no queued change is in them', () => {
  it('with a plugin that keeps no row change: a few chunks over and over, the rows as without reuse', () => {
    // Some 16 MiB of changes of one-change transactions, and one transaction open across 5-6 chunks, committed
    // while the chunks before it are reused.
    const steps: Step[] = [];
    for (let i = 0; i < 6000; i++) {
      steps.push({ op: 'change', xid: 10000 + i, kind: [CHANGE_INSERT, CHANGE_UPDATE, CHANGE_DELETE][i % 3]!, bytes: 2000 });
      if (i >= 1000 && i < 3000 && i % 50 === 0) steps.push({ op: 'change', xid: 100, kind: CHANGE_UPDATE, bytes: 300 + i });
      if (i === 3000) steps.push({ op: 'commit', xid: 100 });
      steps.push({ op: 'commit', xid: 10000 + i });
    }
    const reused = run(steps, true, 1 << 30, false, true);
    // A plugin that may keep its row changes: no chunk is reused.
    const kept = run(steps, true, 1 << 30, false, false);
    expect(reused.rows.filter((r) => r.startsWith('change 100 ')).length).toBe(40);
    expect(rowsOf(reused)).toEqual(rowsOf(kept));
    expect(rowsOf(reused)).toEqual(rowsOf(run(steps, false, 1 << 30, false, true)));
    expect(kept.chunks).toBeGreaterThan(15);
    // The open transaction holds up to 6 chunks at once, 4 are kept spare: never many more are allocated.
    expect(reused.chunks).toBeLessThanOrEqual(12);
  });

  it('random workloads across chunk boundaries, spilled and streamed, give the rows of a plugin that keeps its changes (property)', () => {
    const step = fc.oneof(
      { weight: 5, arbitrary: fc.record({ op: fc.constant('change' as const), xid: fc.integer({ min: 1, max: 5 }), kind: fc.constantFrom(CHANGE_INSERT, CHANGE_UPDATE, CHANGE_DELETE), bytes: fc.integer({ min: 0, max: 16000 }) }) },
      { weight: 1, arbitrary: fc.record({ op: fc.constant('commit' as const), xid: fc.integer({ min: 1, max: 5 }) }) },
    );
    fc.assert(
      fc.property(fc.array(step, { minLength: 200, maxLength: 600 }), fc.constantFrom(1 << 20, 3 << 20, 1 << 30), fc.boolean(), (steps, limit, streaming) => {
        expect(rowsOf(run(steps, true, limit, streaming, true))).toEqual(rowsOf(run(steps, true, limit, streaming, false)));
      }),
      { numRuns: 25 },
    );
  });
});
