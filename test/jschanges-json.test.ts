// The JSON form of decoded transactions: JSON.stringify(txn) works (int8 is a bigint) and what a round trip
// gives back equals the server's own text — test_decoding's rows of each major's types-dml fixture
// (decoded.tsv): int8 digits, NaN/±Infinity, bytea hex, timestamps, and each change's LSN.
import { describe, expect, it } from 'vitest';
import { parseLsn } from '../src/index.js';
import { decodeTransactions } from '../src/node/transactions.js';
import { readSlotStateFile } from '../src/node/slot.js';
import type { JsonTransaction } from '../src/reorderbuffer/jschanges.js';
import { listFixtures, readTsv, type Fixture } from './support/fixtures.js';
import path from 'node:path';
import { inspect } from 'node:util';

const fixtures = listFixtures().filter((f) => f.meta.scenario === 'types-dml');

/** name[type]:value of one column in a test_decoding row (unquoted, '' undoubled), or undefined. */
function column(row: string, name: string, type: string): string | undefined {
  const head = `${name}[${type}]:`;
  const at = row.indexOf(` ${head}`);
  if (at < 0) return undefined;
  const rest = row.slice(at + head.length + 1);
  if (rest.startsWith("'")) {
    let out = '';
    for (let i = 1; i < rest.length; i++) {
      if (rest[i] === "'") {
        if (rest[i + 1] === "'") {
          out += "'";
          i++;
          continue;
        }
        return out;
      }
      out += rest[i];
    }
    throw new Error(`unterminated value of ${name} in ${row}`);
  }
  return rest.split(' ')[0];
}

describe.each(fixtures.map((f) => [f.id, f] as [string, Fixture]))('JSON.stringify of decoded transactions on %s', (_id, f) => {
  it('round-trips to the server text of int8, floats, bytea, timestamptz and LSNs', async () => {
    const state = readSlotStateFile(path.join(f.dir, 'slot.state'));
    const txns: JsonTransaction[] = [];
    const shown: string[] = [];
    for await (const txn of decodeTransactions({ state, path: f.dir, end: parseLsn(f.meta.endLsn) })) {
      txns.push(JSON.parse(JSON.stringify(txn)) as JsonTransaction);
      shown.push(inspect(txn, { depth: 4 }));
    }
    const rows = readTsv(f, 'decoded.tsv');
    const inserts = rows.filter((r) => r.data!.startsWith('table public.types_default: INSERT:'));
    expect(inserts.length).toBeGreaterThanOrEqual(3);
    const changes = txns.flatMap((t) => t.changes).filter((c) => c.kind === 'insert' && c.table === 'types_default');
    expect(changes.length).toBe(inserts.length);
    let checked = 0;
    inserts.forEach((r, i) => {
      const c = changes[i]! as unknown as { lsn: string; new: Record<string, unknown> };
      expect(c.lsn).toBe(r.lsn);
      const row = r.data!;
      const i8 = column(row, 'i8', 'bigint')!;
      expect(c.new.i8).toBe(i8 === 'null' ? null : i8);
      const by = column(row, 'by', 'bytea')!;
      expect(c.new.by).toBe(by === 'null' ? null : by);
      for (const [name, type, round] of [['f4', 'real', Math.fround], ['f8', 'double precision', (x: number) => x]] as const) {
        const text = column(row, name, type)!;
        const v = c.new[name];
        if (text === 'null') expect(v).toBeNull();
        else if (/^-?Infinity$|^NaN$/.test(text)) expect(v).toBe(text);
        else expect(v).toBe(round(Number(text)));
      }
      const tstz = column(row, 'tstz', 'timestamp with time zone')!;
      expect(c.new.tstz).toBe(tstz === 'null' ? null : tstz);
      checked++;
    });
    expect(checked).toBe(inserts.length);
    // Each transaction's end LSN is the lsn of the server's COMMIT row (include-xids: COMMIT xid).
    const commits = readTsv(f, 'decoded-xids.tsv').filter((r) => /^COMMIT \d+/.test(r.data ?? ''));
    expect(txns.map((t) => [t.xid, t.endLsn])).toEqual(commits.map((r) => [Number(r.data!.split(' ')[1]), r.lsn]));
    // console.log shows the same LSN text, unquoted, as the server prints pg_lsn.
    shown.forEach((s, i) => expect(s).toContain(`endLsn: ${commits[i]!.lsn}`));
  });
});
