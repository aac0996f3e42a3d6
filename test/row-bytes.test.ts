// ByteRows.int writes what the server's int4out / int8out / xid output writes: the decimal digits, '-' for
// negatives; checked against JavaScript's own decimal text for edges of every digit count and random safe integers.
import { describe, expect, it } from 'vitest';
import { ByteRows } from '../src/reorderbuffer/row-bytes.js';
import { rng } from './support/random-rows.js';

describe('ByteRows.int', () => {
  it('writes the decimal text of edges and random safe integers, after other bytes and across growth', () => {
    const values: number[] = [0, -0, 2 ** 31 - 1, -(2 ** 31), 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER];
    for (let p = 1; p <= 1e15; p *= 10) values.push(p - 1, p, p + 1, -(p - 1), -p, -(p + 1));
    const r = rng(7);
    for (let i = 0; i < 20000; i++) {
      const magnitude = Math.floor(r() * 2 ** Math.floor(r() * 54));
      values.push(r() < 0.3 ? -magnitude : magnitude);
    }
    const out = new ByteRows(4);
    let expected = '';
    for (const v of values) {
      out.int(v);
      out.ensure(1)[out.length++] = 0x2c;
      expected += `${v === 0 ? 0 : v},`;
    }
    expect(Buffer.from(out.buf.subarray(0, out.length)).toString('latin1')).toBe(expected);
  });
});
