// A value pgwal cannot print is a typed error naming the type, the column and the change's LSN — never a guess.
// (The live counterpart, with aclitem and regclass values from a real server: values-types.live.test.ts.)
import { describe, expect, it } from 'vitest';
import { WalFormatError } from '../src/errors.js';
import { parseLsn } from '../src/lsn.js';
import type { DecoderRelation } from '../src/reorderbuffer/catalog.js';
import type { OutputContext, ReorderTxn, RowChange } from '../src/reorderbuffer/plugin.js';
import { TestDecodingPlugin } from '../src/reorderbuffer/testdecoding.js';
import type { RawValue } from '../src/reorderbuffer/tuple.js';
import { outputValue, type TypeInfo } from '../src/reorderbuffer/values.js';

const INT4: TypeInfo = { oid: 23, name: 'integer', output: 'int4out', len: 4, align: 'i', byval: true, elem: 0 };
const ACLITEM: TypeInfo = { oid: 1033, name: 'aclitem', output: 'aclitemout', len: 16, align: 'd', byval: false, elem: 0 };
const REGCLASS: TypeInfo = { oid: 2205, name: 'regclass', output: 'regclassout', len: 4, align: 'i', byval: true, elem: 0 };
const REGTYPE: TypeInfo = { oid: 2206, name: 'regtype', output: 'regtypeout', len: 4, align: 'i', byval: true, elem: 0 };
// A composite type as a state file written before composites carried their columns.
const OLD_COMPOSITE: TypeInfo = { oid: 16400, name: 'comp', output: 'record_out', len: -1, align: 'd', byval: false, elem: 0 };
const TYPES = new Map([INT4, ACLITEM, REGCLASS, REGTYPE, OLD_COMPOSITE].map((t) => [t.oid, t]));
const types = (oid: number): TypeInfo | undefined => TYPES.get(oid);

const le32 = (n: number): Uint8Array => new Uint8Array([n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24]);

function change(typeOid: number, value: Uint8Array, lsn: string): RowChange {
  const relation: DecoderRelation = {
    oid: 16500,
    relfilenode: 16500,
    namespace: 'public',
    name: 'bad',
    kind: 'r',
    toastRelid: 0,
    attributes: [
      { attnum: 1, name: 'id', typeOid: 23, len: 4, align: 'i', byval: true, dropped: false },
      { attnum: 2, name: 'val', typeOid, len: -1, align: 'i', byval: false, dropped: false },
    ],
  };
  const newTuple: RawValue[] = [{ kind: 'bytes', bytes: le32(1) }, { kind: 'bytes', bytes: value }];
  return { kind: 'row', lsn: parseLsn(lsn), action: 'INSERT', relation, newTuple };
}

function emit(ch: RowChange): string[] {
  const out: string[] = [];
  const ctx: OutputContext = { major: 17, write: (d) => out.push(d as string), type: types };
  const plugin = new TestDecodingPlugin();
  plugin.change(ctx, { xid: 700 } as ReorderTxn, ch);
  return out;
}

function thrown(f: () => unknown): WalFormatError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(WalFormatError);
    return e as WalFormatError;
  }
  throw new Error('expected an error');
}

describe('values pgwal cannot print', () => {
  it('an output function pgwal lacks is an unsupported-type error naming the type', () => {
    const e = thrown(() => outputValue(new Uint8Array(16), ACLITEM, types));
    expect(e.code).toBe('unsupported-type');
    expect(e.message).toContain('aclitem (oid 1033');
  });

  it('in a change: the column, its type and the change LSN, with the LSN on the error', () => {
    const e = thrown(() => emit(change(1033, new Uint8Array(16), '0/1A2B3C4')));
    expect(e.code).toBe('unsupported-type');
    expect(e.lsn).toBe(parseLsn('0/1A2B3C4'));
    expect(e.message).toMatch(/^cannot print column val of type aclitem \(oid 1033\) of table public\.bad in the change at 0\/1A2B3C4: pgwal cannot print values of type aclitem/);
  });

  it('a column whose type is missing from the catalog: unknown-type, with column and LSN', () => {
    const e = thrown(() => emit(change(99999, new Uint8Array(4), '0/5000028')));
    expect(e.code).toBe('unknown-type');
    expect(e.lsn).toBe(parseLsn('0/5000028'));
    expect(e.message).toContain('cannot print column val of type 99999 of table public.bad in the change at 0/5000028');
  });

  it('reg* values naming catalog rows: regtype from the catalog, - for 0, the others refused', () => {
    expect(outputValue(le32(0), REGCLASS, types)).toBe('-');
    expect(outputValue(le32(23), REGTYPE, types)).toBe('integer');
    expect(thrown(() => outputValue(le32(12345), REGTYPE, types)).code).toBe('unsupported-type');
    const e = thrown(() => emit(change(2205, le32(1259), '0/6000000')));
    expect(e.code).toBe('unsupported-type');
    expect(e.message).toContain('cannot print column val of type regclass (oid 2205)');
  });

  it('a composite type without its columns (an older state file) is refused, not guessed', () => {
    // typmod, type OID (not in the catalog either), then a tuple header.
    const datum = new Uint8Array(24);
    datum.set(le32(0xffffffff), 0);
    datum.set(le32(16401), 4);
    const e = thrown(() => emit(change(16400, datum, '0/7000000')));
    expect(e.code).toBe('unsupported-type');
    expect(e.message).toContain('its columns are not in the catalog');
  });

  it('rows that print are unaffected', () => {
    expect(emit(change(23, le32(5), '0/8000000'))).toEqual(['table public.bad: INSERT: id[integer]:1 val[integer]:5']);
  });
});
