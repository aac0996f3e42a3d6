// decodeTransactions over a slot file (the shipped slot.state of each major's types-dml fixture): the loop body's
// end confirms the transaction, so what a consumer broke off in comes again, and the state ends at the last
// commit. The transactions and their end LSNs are the server's: the COMMIT rows of its test_decoding output
// (decoded-xids.tsv, include-xids, every transaction).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseLsn } from '../src/index.js';
import { decodeTransactions } from '../src/node/transactions.js';
import { openSlotFile, readSlotStateFile } from '../src/node/slot.js';
import { SlotInvalidatedError } from '../src/slot/errors.js';
import { listFixtures, readTsv, type Fixture } from './support/fixtures.js';

const fixtures = listFixtures().filter((f) => f.meta.scenario === 'types-dml');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-dtslot-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** The server's transactions: (xid, end LSN) of each COMMIT row. */
function serverCommits(f: Fixture): { xid: number; endLsn: number }[] {
  return readTsv(f, 'decoded-xids.tsv')
    .filter((r) => r.data !== null && /^COMMIT \d+/.test(r.data))
    .map((r) => ({ xid: Number(r.data!.split(' ')[1]), endLsn: parseLsn(r.lsn!) }));
}

describe.each(fixtures.map((f) => [f.id, f] as [string, Fixture]))('decodeTransactions({ slot }) on %s', (_id, f) => {
  const copy = (name: string): string => {
    const dir = fs.mkdtempSync(path.join(tmp, `${f.meta.major}-`));
    for (const n of fs.readdirSync(f.dir)) if (n.startsWith('slot.state')) fs.cpSync(path.join(f.dir, n), path.join(dir, n), { recursive: true });
    return path.join(dir, name);
  };

  it('confirms each transaction when the next is asked for; a broken-off one comes again', async () => {
    const commits = serverCommits(f);
    expect(commits.length).toBeGreaterThanOrEqual(3);
    const file = copy('slot.state');
    const end = parseLsn(f.meta.endLsn);

    const first: number[] = [];
    let slot = openSlotFile(file);
    try {
      for await (const txn of decodeTransactions({ slot, path: f.dir, end })) {
        first.push(txn.xid);
        if (first.length === 2) break; // the second transaction's body does not finish
      }
    } finally {
      slot.release();
    }
    expect(first).toEqual(commits.slice(0, 2).map((c) => c.xid));
    expect(parseLsn(readSlotStateFile(file).confirmedFlush)).toBe(commits[0]!.endLsn);

    const rest: { xid: number; endLsn: number }[] = [];
    slot = openSlotFile(file);
    try {
      for await (const txn of decodeTransactions({ slot, path: f.dir, end })) rest.push({ xid: txn.xid, endLsn: txn.endLsn });
    } finally {
      slot.release();
    }
    expect(rest).toEqual(commits.slice(1));
    expect(parseLsn(readSlotStateFile(file).confirmedFlush)).toBe(commits[commits.length - 1]!.endLsn);
  });

  it('refuses an invalidated slot before reading anything', async () => {
    const file = copy('slot.state');
    const slot = openSlotFile(file);
    try {
      slot.invalidate('rows_removed', parseLsn(f.meta.endLsn), 'test');
      const it = decodeTransactions({ slot, path: f.dir });
      await expect(it.next()).rejects.toBeInstanceOf(SlotInvalidatedError);
    } finally {
      slot.release();
    }
  });
});
