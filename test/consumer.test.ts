// TransactionConsumer over slot files of the shipped fixtures: batches by size and time, acks that confirm the
// slot (and nothing more), AckError for misuse, backpressure and pause. The transactions, their end LSNs and
// their first LSNs are the server's: the COMMIT and BEGIN rows of its test_decoding output (decoded-xids.tsv).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatLsn, parseLsn } from '../src/index.js';
import { AckError, TransactionConsumer, type TransactionBatch } from '../src/node/consumer.js';
import { openSlotFile, readSlotStateFile } from '../src/node/slot.js';
import { decodeTransactions } from '../src/node/transactions.js';
import { listFixtures, readTsv, type Fixture } from './support/fixtures.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-consumer-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface ServerTxn {
  xid: number;
  firstLsn: number;
  endLsn: number;
}

/** The server's transactions in commit order: xid, BEGIN row's LSN (first_lsn), COMMIT row's LSN (end_lsn). */
function serverTxns(f: Fixture): ServerTxn[] {
  const rows = readTsv(f, 'decoded-xids.tsv');
  const begins = new Map<number, number>();
  const out: ServerTxn[] = [];
  for (const r of rows) {
    const m = /^(BEGIN|COMMIT) (\d+)/.exec(r.data ?? '');
    if (m === null) continue;
    if (m[1] === 'BEGIN') begins.set(Number(m[2]), parseLsn(r.lsn!));
    else out.push({ xid: Number(m[2]), firstLsn: begins.get(Number(m[2]))!, endLsn: parseLsn(r.lsn!) });
  }
  return out;
}

function copySlot(f: Fixture): string {
  const dir = fs.mkdtempSync(path.join(tmp, `${f.meta.major}-${f.meta.scenario}-`));
  for (const n of fs.readdirSync(f.dir)) if (n.startsWith('slot.state')) fs.cpSync(path.join(f.dir, n), path.join(dir, n), { recursive: true });
  return path.join(dir, 'slot.state');
}

const confirmed = (file: string): number => parseLsn(readSlotStateFile(file).confirmedFlush);

const fixtures = (scenario: string): [string, Fixture][] => listFixtures().filter((f) => f.meta.scenario === scenario).map((f) => [f.id, f]);

describe.each(fixtures('types-dml'))('TransactionConsumer on %s', (_id, f) => {
  const end = parseLsn(f.meta.endLsn);
  const txns = serverTxns(f);

  it('run() hands over every transaction in batches of at most batch.maxTransactions, auto-acked to the last commit', async () => {
    expect(txns.length).toBeGreaterThanOrEqual(5);
    const file = copySlot(f);
    const slot = openSlotFile(file);
    const batches: TransactionBatch[] = [];
    try {
      const consumer = new TransactionConsumer({ slot, path: f.dir, end, batch: { maxTransactions: 2 } });
      await consumer.run({ eachBatch: ({ batch }) => void batches.push(batch) });
      expect(consumer.acknowledged).toBe(txns[txns.length - 1]!.endLsn);
    } finally {
      slot.release();
    }
    expect(batches.flatMap((b) => b.transactions.map((t) => ({ xid: t.xid, firstLsn: t.firstLsn, endLsn: t.endLsn })))).toEqual(txns);
    for (const b of batches) {
      expect(b.transactions.length).toBeGreaterThan(0);
      expect(b.transactions.length).toBeLessThanOrEqual(2);
      expect(b.lastLsn).toBe(b.transactions[b.transactions.length - 1]!.endLsn);
      expect(b.changes).toBe(b.transactions.reduce((n, t) => n + t.changes.length, 0));
    }
    expect(confirmed(file)).toBe(txns[txns.length - 1]!.endLsn);
  });

  it('confirms only what was acked: the rest comes again to the next consumer', async () => {
    const file = copySlot(f);
    let slot = openSlotFile(file);
    try {
      const consumer = new TransactionConsumer({ slot, path: f.dir, end, batch: { maxTransactions: 3 } });
      let n = 0;
      for await (const batch of consumer.batches()) {
        if (n++ === 0) expect(consumer.ack(batch.transactions[0]!.endLsn)).toBe(true);
        if (n === 2) break; // the second batch and the first one's rest are never acked
      }
    } finally {
      slot.release();
    }
    expect(confirmed(file)).toBe(txns[0]!.endLsn);

    const again: number[] = [];
    slot = openSlotFile(file);
    try {
      await new TransactionConsumer({ slot, path: f.dir, end }).run({ eachBatch: ({ batch }) => void again.push(...batch.transactions.map((t) => t.xid)) });
    } finally {
      slot.release();
    }
    expect(again).toEqual(txns.slice(1).map((t) => t.xid));
  });

  it('ack of an LSN never delivered or behind the last ack is an AckError; the same ack again is a no-op', async () => {
    const file = copySlot(f);
    const before = confirmed(file);
    const slot = openSlotFile(file);
    try {
      const consumer = new TransactionConsumer({ slot, path: f.dir, end, batch: { maxTransactions: 2 } });
      const it = consumer.batches();
      const first = (await it.next()).value as TransactionBatch;
      expect(first.transactions.map((t) => t.xid)).toEqual(txns.slice(0, 2).map((t) => t.xid));
      // A transaction decoded but not handed over yet.
      const undelivered = txns[3]!.endLsn;
      expect(() => consumer.ack(undelivered)).toThrow(AckError);
      expect(() => consumer.ack(undelivered)).toThrow(/no delivered transaction ends there/);
      // A delivered transaction's commit LSN is not its end.
      const inside = first.transactions[1]!.commitLsn;
      expect(() => consumer.ack(inside)).toThrowError(expect.objectContaining({ code: 'ack-not-delivered', lsn: inside }));
      expect(confirmed(file)).toBe(before);
      // pg_lsn text, as a sink stores it.
      expect(consumer.ack(formatLsn(txns[1]!.endLsn))).toBe(true);
      expect(confirmed(file)).toBe(txns[1]!.endLsn);
      expect(consumer.ack(txns[1]!.endLsn)).toBe(false);
      expect(() => consumer.ack(txns[0]!.endLsn)).toThrowError(expect.objectContaining({ code: 'ack-backwards', name: 'AckError' }));
      expect(consumer.commit()).toBe(false);
      await it.return();
    } finally {
      slot.release();
    }
    expect(confirmed(file)).toBe(txns[1]!.endLsn);
  });

  it('decoding waits while the buffer is full (backpressure), and while paused', async () => {
    const file = copySlot(f);
    const slot = openSlotFile(file);
    try {
      const consumer = new TransactionConsumer({ slot, path: f.dir, end, batch: { maxTransactions: 1 }, buffer: { maxTransactions: 2 } });
      const it = consumer.batches();
      await it.next();
      // Give decoding every chance to run ahead: it stops at the buffer's bound.
      for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 5));
      expect(consumer.buffered.transactions).toBe(2);
      consumer.pause();
      const next = it.next();
      const raced = await Promise.race([next.then(() => 'batch'), new Promise((r) => setTimeout(() => r('paused'), 100))]);
      expect(raced).toBe('paused');
      consumer.resume();
      expect(((await next).value as TransactionBatch).transactions[0]!.xid).toBe(txns[1]!.xid);
      await it.return();
    } finally {
      slot.release();
    }
  });

  it('a batch that is not full is handed over after batch.maxWaitMs while the WAL is followed', async () => {
    const file = copySlot(f);
    const before = confirmed(file);
    const slot = openSlotFile(file);
    try {
      // No end: with follow, the WAL never ends; only the time bound hands the transactions over.
      const consumer = new TransactionConsumer({ slot, path: f.dir, follow: { pollMs: 20 }, batch: { maxTransactions: 1000, maxWaitMs: 50 } });
      const got: number[] = [];
      const lasts: number[] = [];
      await consumer.run({
        eachBatch: ({ batch }) => {
          got.push(...batch.transactions.map((t) => t.xid));
          lasts.push(batch.lastLsn);
          if (got.length === txns.length) consumer.stop();
        },
      });
      expect(got).toEqual(txns.map((t) => t.xid));
      // Batches before are auto-acked; stop() ended the run before the auto-ack of the batch being handled.
      expect(confirmed(file)).toBe(lasts.length > 1 ? lasts[lasts.length - 2] : before);
    } finally {
      slot.release();
    }
  });

  it('an abort ends the batches with its reason, also while paused; an ack after the end still confirms', async () => {
    const file = copySlot(f);
    const slot = openSlotFile(file);
    try {
      const stop = new AbortController();
      const consumer = new TransactionConsumer({ slot, path: f.dir, end, signal: stop.signal, batch: { maxTransactions: 1 } });
      const seen: TransactionBatch[] = [];
      const done = consumer.run({
        autoAck: false,
        eachBatch: ({ batch, pause }) => {
          seen.push(batch);
          pause();
          setTimeout(() => stop.abort(new Error('enough')), 20);
        },
      });
      await expect(done).rejects.toThrow('enough');
      expect(seen.map((b) => b.transactions[0]!.xid)).toEqual([txns[0]!.xid]);
      expect(consumer.ack(seen[0]!.lastLsn)).toBe(true);
    } finally {
      slot.release();
    }
    expect(confirmed(file)).toBe(txns[0]!.endLsn);
  });

  it('values held in the buffer while decoding reads on (recycled WAL windows) are those decodeTransactions hands over at once', async () => {
    const direct: string[] = [];
    for await (const t of decodeTransactions({ state: readSlotStateFile(path.join(f.dir, 'slot.state')), path: f.dir, end })) direct.push(JSON.stringify(t));
    const slot = openSlotFile(copySlot(f));
    const buffered: string[] = [];
    try {
      // One big batch at the end: every transaction sits in the buffer until the WAL has been read to its end.
      await new TransactionConsumer({ slot, path: f.dir, end, batch: { maxWaitMs: 60_000 } }).run({ eachBatch: ({ batch }) => void buffered.push(...batch.transactions.map((t) => JSON.stringify(t))) });
    } finally {
      slot.release();
    }
    expect(buffered.length).toBe(txns.length);
    expect(buffered).toEqual(direct);
  });

  it('refuses bad bounds and a second run', async () => {
    const slot = openSlotFile(copySlot(f));
    try {
      expect(() => new TransactionConsumer({ slot, path: f.dir, batch: { maxTransactions: 0 } })).toThrow(/batch.maxTransactions must be above 0/);
      const consumer = new TransactionConsumer({ slot, path: f.dir, end });
      await consumer.run({ eachBatch: () => undefined });
      await expect(consumer.run({ eachBatch: () => undefined })).rejects.toThrow(/runs once/);
    } finally {
      slot.release();
    }
  });
});

describe.each(fixtures('interleaved'))('TransactionConsumer on %s (transactions open across commits)', (_id, f) => {
  it('an ack moves restart_lsn no further than the first LSN of a transaction not yet acked', async () => {
    const txns = serverTxns(f);
    // Some transaction began before one that committed ahead of it.
    expect(txns.some((t, i) => txns.slice(0, i).some((e) => e.firstLsn > t.firstLsn))).toBe(true);
    const file = copySlot(f);
    const slot = openSlotFile(file);
    try {
      const consumer = new TransactionConsumer({ slot, path: f.dir, end: parseLsn(f.meta.endLsn), batch: { maxTransactions: 1 } });
      let i = 0;
      for await (const batch of consumer.batches()) {
        consumer.ack(batch.lastLsn);
        const state = readSlotStateFile(file);
        expect(parseLsn(state.confirmedFlush)).toBe(txns[i]!.endLsn);
        for (const later of txns.slice(i + 1)) expect(parseLsn(state.restartLsn), `after acking ${txns[i]!.xid}`).toBeLessThanOrEqual(later.firstLsn);
        i++;
      }
      expect(i).toBe(txns.length);
    } finally {
      slot.release();
    }
  });
});

describe('examples/pg-sink.ts (the README example the live test runs)', () => {
  it('type-checks with --strict against the built package, as a consumer imports it', () => {
    const root = path.resolve(import.meta.dirname, '..');
    expect(fs.existsSync(path.join(root, 'dist', 'node.d.ts')), 'dist/ is missing: npm run build').toBe(true);
    const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    const args = ['--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--types', 'node', '--noUnusedLocals', path.join(root, 'examples', 'pg-sink.ts')];
    const r = spawnSync(process.execPath, [tsc, ...args], { cwd: root, encoding: 'utf8' });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  }, 120_000);
});
