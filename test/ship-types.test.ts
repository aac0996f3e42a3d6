// The shipping plugin sends the types a change's columns have whenever the catalog answers with another object
// for one (an enum's new label, a DDL): the replaying thread then holds, at every change, the type the decoding
// thread's catalog answered — also when it remembers a relation's last answers to skip the lookups.
import { describe, expect, it } from 'vitest';
import { ShippingPlugin, type ShipMessage } from '../src/reorderbuffer/ship.js';
import type { DecoderRelation } from '../src/reorderbuffer/catalog.js';
import type { OutputContext, OutputPlugin, ReorderTxn } from '../src/reorderbuffer/plugin.js';
import type { TypeInfo } from '../src/reorderbuffer/values.js';

/** A user type (an enum, whose labels a transaction may add): OID 16500. */
const USER_TYPE = 16500;
const textType = (label: string): TypeInfo => ({ oid: USER_TYPE, name: `mood ${label}`, output: 'enum_out', len: 4, align: 'i', byval: true, elem: 0 });

const relation = (oid: number, typeOid = USER_TYPE): DecoderRelation => ({
  oid,
  relfilenode: oid,
  namespace: 'public',
  name: `t${oid}`,
  kind: 'r',
  toastRelid: 0,
  attributes: [{ attnum: 1, name: 'v', typeOid, len: -1, align: 'i', byval: false, dropped: false }],
});

describe('types shipped with changes', () => {
  it('the replaying side holds the answer of every change, when answers change and change back across relations', () => {
    const posted: ShipMessage[] = [];
    const real: OutputPlugin = { begin: () => {}, commit: () => {}, change: () => {}, truncate: () => {}, message: () => {} };
    const shipper = new ShippingPlugin(real, real, 4096);
    shipper.ship((m) => posted.push(m));
    let answer = textType('a');
    const ctx = { major: 15, lsn: 0x1000, xid: 700, changeXid: 700, write: () => {}, type: (oid: number) => (oid === USER_TYPE ? answer : undefined) } as OutputContext;
    const txn: ReorderTxn = { xid: 700, firstLsn: 0x1000, finalLsn: 0x2000, endLsn: 0x2010, commitTime: 0n, originId: 0 };
    const r1 = relation(16384);
    const r2 = relation(16390);
    // What the replaying thread's types map holds for OID 25 after the messages so far.
    const shipped = (): TypeInfo | undefined => {
      let t: TypeInfo | undefined;
      for (const m of posted) if (m.t === 'types') for (const x of m.types) if (x.oid === USER_TYPE) t = x;
      return t;
    };
    const a = answer;
    const b = textType('b');
    const steps: [DecoderRelation, TypeInfo][] = [
      [r1, a],
      [r1, a],
      [r1, b], // a new answer for the same relation
      [r1, b],
      [r2, b],
      [r1, a], // back to the first: shipped again
      [r2, b], // r2's last answer, but the other side holds a now
      [r2, b],
      [r1, a],
    ];
    const typeMessages: number[] = [];
    for (const [rel, t] of steps) {
      answer = t;
      shipper.plugin.change(ctx, txn, { kind: 'row', lsn: 0x1000, action: 'INSERT', relation: rel, newTuple: [] });
      expect(shipped()).toBe(t);
      typeMessages.push(posted.filter((m) => m.t === 'types').length);
    }
    // Types go only where the answer differs from what the other side holds.
    expect(typeMessages).toEqual([1, 1, 2, 2, 2, 3, 4, 4, 5]);
  });

  it('a built-in type is asked at the first change of each relation object only, a user type at every change', () => {
    const posted: ShipMessage[] = [];
    const real: OutputPlugin = { begin: () => {}, commit: () => {}, change: () => {}, truncate: () => {}, message: () => {} };
    const shipper = new ShippingPlugin(real, real, 4096);
    shipper.ship((m) => posted.push(m));
    const asked = new Map<number, number>();
    const int4: TypeInfo = { oid: 23, name: 'integer', output: 'int4out', len: 4, align: 'i', byval: true, elem: 0 };
    const mood = textType('a');
    const ctx = {
      major: 15,
      lsn: 0x1000,
      xid: 700,
      changeXid: 700,
      write: () => {},
      type: (oid: number) => {
        asked.set(oid, (asked.get(oid) ?? 0) + 1);
        return oid === 23 ? int4 : oid === USER_TYPE ? mood : undefined;
      },
    } as OutputContext;
    const txn: ReorderTxn = { xid: 700, firstLsn: 0x1000, finalLsn: 0x2000, endLsn: 0x2010, commitTime: 0n, originId: 0 };
    const builtIn = relation(16384, 23);
    const user = relation(16390);
    // A DDL makes a new relation object: its built-in types are asked again, once.
    const afterDdl = relation(16384, 23);
    for (const rel of [builtIn, builtIn, user, builtIn, user, user, afterDdl, afterDdl]) {
      shipper.plugin.change(ctx, txn, { kind: 'row', lsn: 0x1000, action: 'INSERT', relation: rel, newTuple: [] });
    }
    // Each relation object's first change asks twice (whether its output names other types, and the answer).
    expect(asked.get(23)).toBe(2 + 2);
    expect(asked.get(USER_TYPE)).toBe(1 + 3);
    // int4 went to the other side once, before the first change.
    expect(posted.filter((m) => m.t === 'types' && m.types.some((t) => t.oid === 23)).length).toBe(1);
  });
});
