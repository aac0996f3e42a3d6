// old-rows=full without a server: the -o options every plugin takes, the page store's budget, eviction, drops and
// TOAST chunk lookup, and the sql plugin's statements (the live comparison with REPLICA IDENTITY FULL is test/old-rows.live.test.ts).
import { describe, expect, it } from 'vitest';
import { pluginChoice } from '../src/cli/decode-options.js';
import { WalError } from '../src/errors.js';
import { HeapPages } from '../src/catalog/heap-pages.js';
import { LP_NORMAL, type Item, type Page } from '../src/catalog/page.js';
import { SqlPlugin } from '../src/reorderbuffer/sql.js';
import type { DecoderRelation } from '../src/reorderbuffer/catalog.js';
import type { OutputContext, ReorderTxn, RowChange } from '../src/reorderbuffer/plugin.js';
import type { RawValue } from '../src/reorderbuffer/tuple.js';
import type { TypeInfo } from '../src/reorderbuffer/values.js';

const opts = (...o: string[]) => o.map((value) => ({ name: 'option', value }));

describe('-o old-rows', () => {
  it('is taken for every plugin and not passed on to it', () => {
    const td = pluginChoice(opts('old-rows=full', 'include-xids=0'), 'test_decoding');
    expect(td.oldRows).toEqual({});
    expect(td.given).toEqual([['include-xids', '0']]);
    const json = pluginChoice([{ name: 'plugin', value: 'json' }, ...opts('old-rows=full', 'old-rows-memory=2MB', 'include-lsn=1')], 'test_decoding');
    expect(json.oldRows).toEqual({ budget: 2 << 20 });
    expect(json.given).toEqual([['include-lsn', '1']]);
    expect(pluginChoice(opts('old-rows=key'), 'test_decoding').oldRows).toBeUndefined();
  });

  it('refuses values it does not know, with a typed error', () => {
    for (const bad of [opts('old-rows=all'), opts('old-rows'), opts('old-rows=full', 'old-rows-memory'), opts('old-rows=full', 'old-rows-memory=lots')]) {
      expect(() => pluginChoice(bad, 'test_decoding'), JSON.stringify(bad)).toThrow(WalError);
    }
  });
});

describe('--plugin sql options', () => {
  const sql = (...o: string[]) => pluginChoice([{ name: 'plugin', value: 'sql' }, ...opts(...o)], 'test_decoding');
  it('reads undo, xids, tables and commit times; undo turns old-rows=full on', () => {
    const c = sql('undo=1', 'xids=5, 7', 'tables=public.t,s.u', 'start-time=2000-01-01T00:00:01Z', 'end-time=2000-01-01 00:00:02.5+00:00');
    expect(c.sql).toEqual({ undo: true, xids: new Set([5, 7]), tables: new Set(['public.t', 's.u']), startTime: 1_000_000n, endTime: 2_500_000n });
    expect(c.oldRows).toEqual({});
    expect(sql('undo=1', 'old-rows=key').oldRows).toBeUndefined();
    expect(sql().oldRows).toBeUndefined();
  });
  it('refuses what it does not know, with a typed error', () => {
    for (const bad of [['xids=1,x'], ['tables=nodot'], ['start-time=yesterday'], ['include-xids=1']]) expect(() => sql(...bad), bad[0]).toThrow(WalError);
    expect(() => pluginChoice([{ name: 'plugin', value: 'sqlite' }], 'test_decoding')).toThrow(/expected test_decoding, json, pgoutput or sql/);
  });
  const flags = (...f: [string, string][]) => pluginChoice([{ name: 'plugin', value: 'sql' }, ...f.map(([name, value]) => ({ name, value }))], 'test_decoding');
  it('takes the filters as flags too: --xid, --table (repeatable), --start-time, --end-time, -s/--start', () => {
    const c = flags(['xid', '5'], ['xid', '7,8'], ['table', 'public.t'], ['option', 'tables=s.u'], ['start-time', '2000-01-01T00:00:01Z'], ['end-time', '2000-01-01 00:00:02.5+00:00'], ['start', '0/16B3748']);
    expect(c.sql).toEqual({ xids: new Set([5, 7, 8]), tables: new Set(['s.u', 'public.t']), startTime: 1_000_000n, endTime: 2_500_000n, startLsn: 0x16b3748 });
    // A flag over its -o form.
    expect(flags(['option', 'start-time=2000-01-01T00:00:09Z'], ['start-time', '2000-01-01T00:00:01Z']).sql?.startTime).toBe(1_000_000n);
  });
  it('refuses bad flags naming them, and the flags without --plugin sql', () => {
    const cases: [[string, string][], RegExp][] = [
      [[['xid', '12x']], /^--xid "12x": expected transaction ids/],
      [[['xid', '4294967296']], /^--xid "4294967296"/],
      [[['table', 'nodot']], /^--table "nodot": expected schema\.table/],
      [[['start-time', 'yesterday']], /^--start-time "yesterday": expected a time/],
      [[['start-time', 'x'], ['start-time', 'y']], /^--start-time given 2 times/],
      [[['start', '0/zz']], /^--start: invalid input syntax for type pg_lsn: "0\/zz"$/],
      [[['start-time', '2000-01-02Z'], ['end-time', '2000-01-01Z']], /end time is not after the start time/],
    ];
    for (const [f, msg] of cases) expect(() => flags(...f), JSON.stringify(f)).toThrow(msg);
    for (const f of ['xid', 'table', 'start-time', 'end-time', 'start']) {
      expect(() => pluginChoice([{ name: f, value: '1' }], 'test_decoding')).toThrow(new RegExp(`^--${f} selects what --plugin sql prints: it needs --plugin sql$`));
    }
  });
});

/** A heap tuple: 23-byte header, t_hoff 24, then `data`. */
function tuple(data: number[]): Uint8Array {
  const t = new Uint8Array(24 + data.length);
  t[22] = 24;
  t.set(data, 24);
  return t;
}
const le32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];
/** A TOAST chunk: chunk_id, chunk_seq, chunk_data with a 4-byte varlena header. */
const chunk = (valueId: number, seq: number, bytes: number[]): Uint8Array => tuple([...le32(valueId), ...le32(seq), ...le32((bytes.length + 4) << 2), ...bytes]);
const item = (t: Uint8Array): Item => ({ flags: LP_NORMAL, redirect: 0, tuple: t, insertLsn: 0, xmaxLsn: 0 });
const page = (...ts: Uint8Array[]): Page => ({ lsn: 1, items: ts.map(item) });

describe('HeapPages', () => {
  it('refuses a budget below two pages', () => {
    expect(() => new HeapPages(5, 16, 4096)).toThrow(WalError);
  });

  it('evicts the least recently used page beyond its budget: its tuples are unknown, never stale', () => {
    const p = new HeapPages(5, 16, 2 * (8192 + 240)); // two pages of one item each
    p.setPage(100, 0, page(tuple([1])));
    p.setPage(100, 1, page(tuple([2])));
    expect(p.tuple(100, 0, 1)?.[24]).toBe(1); // block 0 used last: block 1 goes next
    p.setPage(100, 2, page(tuple([3])));
    expect(p.size).toBe(2);
    expect(p.evictions).toBe(1);
    expect(p.tuple(100, 1, 1)).toBeUndefined();
    expect(p.tuple(100, 0, 1)?.[24]).toBe(1);
    expect(p.tuple(100, 2, 1)?.[24]).toBe(3);
    expect(p.tuple(100, 2, 2)).toBeUndefined();
  });

  it('drops a truncated or dropped relation', () => {
    const p = new HeapPages(5, 16);
    for (let b = 0; b < 4; b++) p.setPage(7, b, page(tuple([b])));
    p.dropRelation(7, 2);
    expect([0, 1, 2, 3].map((b) => p.tuple(7, b, 1) !== undefined)).toEqual([true, true, false, false]);
    p.dropRelation(7);
    expect(p.size).toBe(0);
  });

  it('joins a TOAST value from its chunks only when every chunk is kept and the sizes agree', () => {
    const p = new HeapPages(5, 16);
    p.setPage(9, 0, page(chunk(77, 1, [4, 5]), chunk(78, 0, [9]), chunk(77, 0, [1, 2, 3])));
    expect(p.toastValue(9, 77, 5)).toEqual(new Uint8Array([1, 2, 3, 4, 5]));
    expect(p.toastValue(9, 77, 6)).toBeUndefined();
    expect(p.toastValue(9, 79, 1)).toBeUndefined();
    expect(p.toastValue(10, 77, 5)).toBeUndefined();
    // A chunk on a page not kept: the value is unknown.
    p.setPage(9, 1, page(chunk(80, 1, [2])));
    p.setPage(9, 2, page(chunk(80, 2, [3])));
    expect(p.toastValue(9, 80, 2)).toBeUndefined();
    // Two chunks with one number: which is the value's is not known.
    p.setPage(9, 3, page(chunk(78, 0, [9])));
    expect(p.toastValue(9, 78, 1)).toBeUndefined();
  });
});

describe('SqlPlugin', () => {
  const text: TypeInfo = { oid: 25, name: 'text', output: 'textout', len: -1, align: 'i', byval: false, elem: 0 };
  const int4: TypeInfo = { oid: 23, name: 'integer', output: 'int4out', len: 4, align: 'i', byval: true, elem: 0 };
  const rel: DecoderRelation = {
    oid: 1, relfilenode: 1, namespace: 'public', name: 'My t', kind: 'r', replIdent: 'd', toastRelid: 0, primaryKey: [1], identityKey: [1],
    attributes: [
      { attnum: 1, name: 'id', typeOid: 23, len: 4, align: 'i', byval: true, dropped: false },
      { attnum: 2, name: 'v', typeOid: 25, len: -1, align: 'i', byval: false, dropped: false },
    ],
  };
  const int = (n: number): RawValue => ({ kind: 'bytes', bytes: new Uint8Array(new Int32Array([n]).buffer) });
  const str = (t: string): RawValue => ({ kind: 'bytes', bytes: new TextEncoder().encode(t) });
  const txn: ReorderTxn = { xid: 9, firstLsn: 1, finalLsn: 2, endLsn: 3, commitTime: 0n, originId: 0 };
  function run(plugin: SqlPlugin, changes: RowChange[], message?: string): string[] {
    const rows: string[] = [];
    const ctx: OutputContext = { major: 16, write: (d) => rows.push(d as string), type: (oid) => (oid === 23 ? int4 : oid === 25 ? text : undefined) };
    plugin.begin(ctx, txn);
    for (const c of changes) plugin.change(ctx, txn, c);
    if (message !== undefined) plugin.message(ctx, txn, { kind: 'message', lsn: 2, transactional: true, prefix: message, content: new Uint8Array(1) });
    plugin.commit(ctx, txn);
    return rows;
  }
  const upd: RowChange = { kind: 'row', lsn: 0x10, action: 'UPDATE', relation: rel, newTuple: [int(1), str('new')], oldTuple: [int(1), str("it's \\ old")], oldRow: [int(1), str("it's \\ old")], oldRowComplete: true };

  it('prints redo statements with literals quoted as quote_literal does, comments on one line', () => {
    const ins: RowChange = { kind: 'row', lsn: 0x10, action: 'INSERT', relation: rel, newTuple: [int(1), { kind: 'null' }] };
    expect(run(new SqlPlugin(), [ins, upd], 'a\nDROP TABLE x;')).toEqual([
      'BEGIN; -- xid 9',
      `INSERT INTO public."My t" (id, v) VALUES ('1', NULL);`,
      `UPDATE public."My t" SET id = '1', v = 'new' WHERE id = '1';`,
      '-- message at 0/2: prefix "a\\nDROP TABLE x;", 1 bytes',
      'COMMIT; -- 0/3',
    ]);
  });

  it('selects transactions by commit LSN (-s), xid, commit time and table', () => {
    const ins: RowChange = { kind: 'row', lsn: 0x10, action: 'INSERT', relation: rel, newTuple: [int(1), { kind: 'null' }] };
    // txn's commit record is at 0/2.
    expect(run(new SqlPlugin({ startLsn: 2 }), [ins])).toHaveLength(3);
    expect(run(new SqlPlugin({ startLsn: 3 }), [ins])).toEqual([]);
    expect(run(new SqlPlugin({ xids: new Set([8]) }), [ins])).toEqual([]);
    expect(run(new SqlPlugin({ startTime: 1n }), [ins])).toEqual([]);
    expect(run(new SqlPlugin({ endTime: 1n }), [ins])).toHaveLength(3);
    expect(run(new SqlPlugin({ tables: new Set(['public.other']) }), [ins])).toEqual([]);
  });

  it('undo puts the whole old row back, and stops at an unknown one', () => {
    const undo = new SqlPlugin({ undo: true });
    expect(run(undo, [upd])).toEqual([]);
    expect(undo.undoScript()).toEqual(['BEGIN;', `UPDATE public."My t" SET id = '1', v = E'it''s \\\\ old' WHERE id = '1';`, 'COMMIT;']);
    const unknown: RowChange = { ...upd, oldTuple: undefined, oldRow: undefined, oldRowComplete: false };
    expect(() => run(new SqlPlugin({ undo: true }), [unknown])).toThrow(/^cannot undo UPDATE at 0\/10 of public\.My t: its old row is unknown/);
  });
});
