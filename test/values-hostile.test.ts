// Output functions over bytes that lie (counts, offsets, lengths, nesting): only WalErrors escape, quickly.
// Random and mutated datums for the types whose output reads counts and offsets from the value itself.
import { describe, expect, it } from 'vitest';
import { WalError } from '../src/errors.js';
import { outputValue, type TypeInfo } from '../src/reorderbuffer/values.js';
import { rng } from './support/random-rows.js';

const t = (oid: number, name: string, output: string, len: number, align = 'i', extra: Partial<TypeInfo> = {}): TypeInfo => ({ oid, name, output, len, align, byval: false, elem: 0, ...extra });
const TYPES: TypeInfo[] = [
  t(23, 'integer', 'int4out', 4),
  t(25, 'text', 'textout', -1),
  t(1700, 'numeric', 'numeric_out', 8, 's'),
  t(3904, 'int4range', 'range_out', -1, 'i', { rangeSubtype: 23 }),
  t(3906, 'numrange', 'range_out', -1, 'i', { rangeSubtype: 1700 }),
  t(4451, 'int4multirange', 'multirange_out', -1, 'i', { rangeType: 3904 }),
  t(4532, 'nummultirange', 'multirange_out', -1, 'i', { rangeType: 3906 }),
  t(16400, 'comp', 'record_out', -1, 'd', {
    fields: [
      { attnum: 1, name: 'a', typeOid: 23, len: 4, align: 'i', byval: true, dropped: false },
      { attnum: 2, name: 'b', typeOid: 25, len: -1, align: 'i', byval: false, dropped: false },
      { attnum: 3, name: 'c', typeOid: 4451, len: -1, align: 'i', byval: false, dropped: false },
    ],
  }),
  t(3614, 'tsvector', 'tsvectorout', -1),
  t(3615, 'tsquery', 'tsqueryout', -1),
  t(4072, 'jsonpath', 'jsonpath_out', -1),
  t(22, 'int2vector', 'int2vectorout', -1),
  t(30, 'oidvector', 'oidvectorout', -1),
  t(5038, 'pg_snapshot', 'pg_snapshot_out', -1, 'd'),
  t(602, 'path', 'path_out', -1, 'd'),
  t(604, 'polygon', 'poly_out', -1, 'd'),
  t(142, 'xml', 'xml_out', -1),
];
const byOid = new Map(TYPES.map((x) => [x.oid, x]));
const types = (oid: number): TypeInfo | undefined => byOid.get(oid);

describe('output functions over hostile bytes', () => {
  // A hang would show as the test's timeout (no timed assertions).
  it.each(TYPES.filter((x) => x.len === -1 && x.oid >= 100).map((x) => [x.name, x] as const))('%s: a string or a WalError, never a hang or a crash', (_name, type) => {
    const r = rng(type.oid);
    let typed = 0;
    for (let i = 0; i < 3000; i++) {
      const n = Math.floor(r() * 160);
      const b = new Uint8Array(n);
      for (let k = 0; k < n; k++) b[k] = r() < 0.6 ? Math.floor(r() * 4) : Math.floor(r() * 256);
      // Some plausible small counts up front, some huge.
      if (n >= 4 && r() < 0.5) b.set([Math.floor(r() * 4), 0, 0, r() < 0.2 ? 0x80 : 0], 0);
      try {
        const s = outputValue(b, type, types);
        expect(typeof s).toBe('string');
      } catch (e) {
        if (!(e instanceof WalError)) throw new Error(`${type.name} input ${i} (${Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')}): ${String(e)}`);
        typed++;
      }
    }
    // Each of these reads a count or an offset from the value: some random bytes must trip a check.
    if (type.output !== 'xml_out') expect(typed).toBeGreaterThan(0);
  });
});
