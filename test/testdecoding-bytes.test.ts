// test_decoding's rows written as bytes (textByteSink, what `pgwal decode` uses when its output is direct) are the
// UTF-8 of the rows it writes as strings: on every fixture, with every option the fixtures are decoded with, and on
// datums the byte path copies or must leave to the text's way (invalid UTF-8, a byte order mark, quotes, domains).
import { describe, expect, it } from 'vitest';
import { formatLsn, parseLsn } from '../src/index.js';
import { LogicalDecoder, type DecoderCatalog, type DecoderOptions } from '../src/reorderbuffer/logical.js';
import type { CatalogView } from '../src/reorderbuffer/catalog.js';
import { MemorySpillStore } from '../src/reorderbuffer/spill.js';
import { ByteRows, type TextByteSink } from '../src/reorderbuffer/row-bytes.js';
import { TestDecodingPlugin, storedTupleBytes, storedTupleText, type TestDecodingOptions } from '../src/reorderbuffer/testdecoding.js';
import { StoredRowChange, encodeRowChange, CHANGE_INSERT, CHANGE_HEADER } from '../src/reorderbuffer/change.js';
import { withOutputTimeZone, type TypeInfo } from '../src/reorderbuffer/values.js';
import type { DecoderRelation } from '../src/reorderbuffer/catalog.js';
import type { Attribute } from '../src/reorderbuffer/tuple.js';
import { rng } from './support/random-rows.js';
import { runCli, runDecodeBytes } from './support/cli.js';
import path from 'node:path';
import { profileForMajor } from '../src/xlogreader/profile.js';
import { listFixtures, readFixtureFile, type Fixture } from './support/fixtures.js';
import { fixtureCatalog, fixtureRead } from './support/wal.js';

const fixtures = listFixtures();
const decoder = new TextDecoder();

/** The rows of one decoding as text (strings only) and as bytes (change rows through textByteSink), `lsn\txid\tdata\n` each. */
function bothWays(make: (more: Partial<DecoderOptions>) => LogicalDecoder, records: Iterable<unknown>): { text: string; bytes: Uint8Array; byteRows: number } {
  let text = '';
  const a = make({ sink: (o) => void (text += `${formatLsn(o.lsn)}\t${o.xid}\t${o.data as string}\n`) });
  for (const rec of records) a.process(rec as never);
  const out = new ByteRows(16);
  let byteRows = 0;
  let rowAt = 0;
  const textByteSink: TextByteSink = {
    start: (lsn, xid) => {
      rowAt = out.length;
      out.text(`${formatLsn(lsn)}\t${xid}\t`);
      return out;
    },
    end: () => {
      out.text('\n');
      byteRows++;
    },
    cancel: () => void (out.length = rowAt),
  };
  const b = make({ sink: (o) => out.text(`${formatLsn(o.lsn)}\t${o.xid}\t${o.data as string}\n`), textByteSink });
  for (const rec of records) b.process(rec as never);
  return { text, bytes: out.buf.slice(0, out.length), byteRows };
}

const OPTIONS: Partial<TestDecodingOptions>[] = [];
for (const includeXids of [true, false]) for (const skipEmptyXacts of [true, false]) for (const includeTimestamp of [false, true]) OPTIONS.push({ includeXids, skipEmptyXacts, includeTimestamp });

describe.each(fixtures.map((f) => [f.id, f] as [string, Fixture]))('%s', (_id, f) => {
  const catalog = (): DecoderCatalog | CatalogView => fixtureCatalog(f);
  const major = profileForMajor(f.meta.major)!.major;

  it('writes the same rows as bytes as in text, with every option, spilled, streamed and two-phase', () => {
    let byteRows = 0;
    for (const slot of f.meta.slots.filter((s) => s.plugin === 'test_decoding')) {
      const { records } = fixtureRead(f, { start: parseLsn(slot.restartLsn) });
      const start = parseLsn(slot.confirmedFlushLsn);
      const twoPhase = slot.twoPhase ? { twoPhaseAt: start } : {};
      const runs: [string, Partial<TestDecodingOptions>, Partial<DecoderOptions>][] = OPTIONS.map((o) => [JSON.stringify(o), o, {}]);
      runs.push(['spilled', { skipEmptyXacts: true }, { memoryLimit: 1 }]);
      runs.push(['streamed', { skipEmptyXacts: true, streamChanges: true }, { memoryLimit: 0, streaming: true }]);
      for (const [name, options, more] of runs) {
        const both = bothWays(
          (m) => new LogicalDecoder({ catalog: catalog(), major, plugin: new TestDecodingPlugin(options), startAt: start, spill: new MemorySpillStore(), ...twoPhase, ...more, ...m }),
          records,
        );
        expect(decoder.decode(both.bytes), `${slot.twoPhase ? 'two-phase ' : ''}${name}`).toBe(both.text);
        // Byte for byte: the text's UTF-8 (a string compare alone would pass replaced invalid bytes).
        expect(Buffer.compare(Buffer.from(both.bytes), Buffer.from(both.text, 'utf8'))).toBe(0);
        byteRows += both.byteRows;
      }
    }
    // The byte path was taken wherever the fixture has change rows.
    const hasChanges = f.meta.slots.some((s) => s.plugin === 'test_decoding') && /\ttable [^\n]*: (INSERT|UPDATE|DELETE):/.test(readFixtureFile(f, 'decoded-xids.tsv').toString());
    if (hasChanges) expect(byteRows).toBeGreaterThan(0);
  });
});

// Datums built by hand: ints at their extremes and in domains (quoted), text with quotes, non-ASCII, invalid UTF-8
// and a byte order mark (the decoder's replacements and dropped BOM must show in the bytes too), name, timestamp.
describe('storedTupleBytes', () => {
  const ty = (oid: number, name: string, output: string, len: number, align: string): TypeInfo => ({ oid, name, output, len, align, byval: len > 0 && len <= 8, elem: 0 });
  const TYPES = [
    ty(23, 'integer', 'int4out', 4, 'i'),
    ty(90001, 'dint', 'int4out', 4, 'i'),
    ty(20, 'bigint', 'int8out', 8, 'd'),
    ty(26, 'oid', 'oidout', 4, 'i'),
    ty(21, 'smallint', 'int2out', 2, 's'),
    ty(16, 'boolean', 'boolout', 1, 'c'),
    ty(1114, 'timestamp without time zone', 'timestamp_out', 8, 'd'),
    ty(1184, 'timestamp with time zone', 'timestamptz_out', 8, 'd'),
    ty(25, 'text', 'textout', -1, 'i'),
    ty(1043, 'character varying', 'varcharout', -1, 'i'),
    ty(1042, 'character', 'bpcharout', -1, 'i'),
    ty(90002, 'dtext', 'textout', -1, 'i'),
    ty(19, 'name', 'nameout', 64, 'c'),
  ];
  const byOid = new Map(TYPES.map((t) => [t.oid, t]));
  const attrs: Attribute[] = TYPES.map((t, i) => ({ attnum: i + 1, name: i === 1 ? 'Mixed' : `c${i}`, typeOid: t.oid, len: t.len, align: t.align, byval: t.byval, dropped: false }));
  const relation: DecoderRelation = { oid: 90100, relfilenode: 90100, namespace: 'public', name: 't', kind: 'r', toastRelid: 0, attributes: attrs };

  const TEXTS = [[], [0x27], [0x61, 0x27, 0x27, 0x62], [0xc3, 0xa9], [0xef, 0xbb, 0xbf, 0x61], [0xff, 0x61], [0xc3], [0x5c, 0x0a, 0x09], [0x41, 0x00, 0x42]];

  it('prints what storedTupleText prints, byte for byte', () => {
    const r = rng(16);
    const int = (bits: number): number[] => Array.from({ length: bits / 8 }, () => (r() < 0.3 ? (r() < 0.5 ? 0 : 0xff) : Math.floor(r() * 256)));
    const text = (): number[] => (r() < 0.5 ? TEXTS[Math.floor(r() * TEXTS.length)]! : Array.from({ length: Math.floor(r() * 60) }, () => (r() < 0.1 ? 0x27 : r() < 0.05 ? 0x80 + Math.floor(r() * 128) : 0x20 + Math.floor(r() * 95))));
    let printed = 0;
    for (let row = 0; row < 2000; row++) {
      // Tuple offsets from hoff 24: fixed columns at their alignment, then 1-byte-header varlenas, then name.
      const data: number[] = [];
      const put = (bytes: number[], align: number): void => {
        while ((24 + data.length) % align !== 0) data.push(0);
        data.push(...bytes);
      };
      put(int(32), 4);
      put(int(32), 4);
      put(int(64), 8);
      put(int(32), 4);
      put(int(16), 2);
      put([r() < 0.5 ? 1 : 0], 1);
      // Timestamps mostly within a safe integer (printed from their halves; some BC, some whole seconds), a few not.
      const stamp = (): number[] => {
        if (r() < 0.2) return int(64).map((b, i) => (i === 7 ? b & 0x0f : b));
        const whole = r() < 0.3;
        const us = Math.floor((r() - 0.3) * 2 ** 53 * (r() < 0.5 ? 1 : 1e-4) / (whole ? 1e6 : 1)) * (whole ? 1e6 : 1);
        const lo = ((us % 2 ** 32) + 2 ** 32) % 2 ** 32;
        const hi = (us - lo) / 2 ** 32;
        return [lo, lo >>> 8, lo >>> 16, lo >>> 24, hi, hi >> 8, hi >> 16, hi >> 24].map((b) => b & 0xff);
      };
      put(stamp(), 8);
      put(stamp(), 8);
      for (let k = 0; k < 4; k++) {
        const t = text();
        data.push(((t.length + 1) << 1) | 1, ...t);
      }
      const name = text().slice(0, 63);
      put([...name, ...new Array<number>(64 - name.length).fill(0)], 1);
      // xl_heap_header (infomask2 = natts, infomask HEAP_HASVARWIDTH, hoff 24), then from t_bits on: one pad byte.
      const src = Uint8Array.from([attrs.length, 0, 0x02, 0, 24, 0, ...data]);
      const change = encodeRowChange(CHANGE_INSERT, 0, 0x1000000 + row, 0, 90100, src, 0, src.length, -1, 0);
      const ch = new StoredRowChange(0x1000000 + row, 'INSERT', relation, change, CHANGE_HEADER, -1);
      for (const major of [15, 16]) {
        // timestamptz in a session TimeZone other than UTC takes the text's way.
        const zone = major === 16 && row % 4 === 0 ? 'Europe/Berlin' : 'UTC';
        let expected: string;
        try {
          expected = withOutputTimeZone(zone, () => storedTupleText(ch, CHANGE_HEADER, (oid) => byOid.get(oid), major, false));
        } catch {
          continue;
        }
        const out = new ByteRows(8);
        withOutputTimeZone(zone, () => storedTupleBytes(out, ch, CHANGE_HEADER, (oid) => byOid.get(oid), major, false));
        expect(Buffer.from(out.buf.subarray(0, out.length)).equals(Buffer.from(expected, 'utf8')), `row ${row}: ${expected}`).toBe(true);
        printed++;
      }
    }
    expect(printed).toBeGreaterThan(3000);
  });

  it('drops a row whose value cannot be printed, with the error the text path gives', () => {
    const src = Uint8Array.from([1, 0, 0, 0, 24, 0, 0, 0, 0, 7]);
    const change = encodeRowChange(CHANGE_INSERT, 0, 0x2000000, 0, 90100, src, 0, src.length, -1, 0);
    const rel: DecoderRelation = { ...relation, attributes: [{ attnum: 1, name: 'x', typeOid: 99999, len: 4, align: 'i', byval: true, dropped: false }] };
    const ch = new StoredRowChange(0x2000000, 'INSERT', rel, change, CHANGE_HEADER, -1);
    const txn = { xid: 5, firstLsn: 0, finalLsn: 0, endLsn: 0, commitTime: 0n, originId: 0 };
    const errorOf = (f: () => void): unknown => {
      try {
        f();
      } catch (e) {
        return e;
      }
      return undefined;
    };
    const out = new ByteRows(8);
    out.text('before\n');
    let cancelled = 0;
    let ended = 0;
    const byteCtx = { major: 16, write: () => undefined, type: (oid: number) => byOid.get(oid), textRows: { start: () => (out.text('0/2000000\t5\t'), out), end: () => void ended++, cancel: () => void (cancelled++, (out.length = 7)) } };
    const textCtx = { major: 16, write: () => undefined, type: (oid: number) => byOid.get(oid) };
    const viaBytes = errorOf(() => new TestDecodingPlugin().change(byteCtx, txn, ch));
    const viaText = errorOf(() => new TestDecodingPlugin().change(textCtx, txn, ch));
    expect(viaText).toBeInstanceOf(Error);
    expect(String(viaBytes)).toBe(String(viaText));
    expect([cancelled, ended]).toEqual([1, 0]);
    expect(decoder.decode(out.buf.subarray(0, out.length))).toBe('before\n');
  });
});

// With OutputContext.typesVersion (the format thread's), a column's type is looked up once per version: what prints
// must still follow the types of each version, as the lookup-per-value path (storedTupleText) prints them.
describe('storedTupleBytes with a typesVersion', () => {
  const ty = (oid: number, name: string, output: string, len: number, align: string): TypeInfo => ({ oid, name, output, len, align, byval: len > 0 && len <= 8, elem: 0 });
  const attrs: Attribute[] = [
    { attnum: 1, name: 'n', typeOid: 23, len: 4, align: 'i', byval: true, dropped: false },
    { attnum: 2, name: 'gone', typeOid: 23, len: 4, align: 'i', byval: true, dropped: true },
    { attnum: 3, name: 'k', typeOid: 90003, len: 4, align: 'i', byval: true, dropped: false },
    { attnum: 4, name: 't', typeOid: 25, len: -1, align: 'i', byval: false, dropped: false },
  ];
  const relation: DecoderRelation = { oid: 90200, relfilenode: 90200, namespace: 'public', name: 'v', kind: 'r', toastRelid: 0, attributes: attrs };
  // xl_heap_header (natts 4, HEAP_HASNULL | HEAP_HASVARWIDTH, hoff 24), t_bits 0b1001 (gone and k null), n = 7, t = 'x'.
  const src = Uint8Array.from([4, 0, 0x03, 0, 24, 9, 7, 0, 0, 0, 5, 0x78]);
  const change = encodeRowChange(CHANGE_INSERT, 0, 0x3000000, 0, 90200, src, 0, src.length, -1, 0);
  const ch = new StoredRowChange(0x3000000, 'INSERT', relation, change, CHANGE_HEADER, -1);
  const versions: [number, Map<number, TypeInfo>][] = [
    // k's type unknown: fine while k is null and skipped (an old key), an error where it prints.
    [1, new Map([ty(23, 'integer', 'int4out', 4, 'i'), ty(25, 'text', 'textout', -1, 'i')].map((t) => [t.oid, t]))],
    [2, new Map([ty(23, 'integer', 'int4out', 4, 'i'), ty(25, 'text', 'textout', -1, 'i'), ty(90003, 'kind', 'int4out', 4, 'i')].map((t) => [t.oid, t]))],
    // The same OIDs answered differently (a renamed type, another output function).
    [3, new Map([ty(23, 'int_renamed', 'int4out', 4, 'i'), ty(25, 'words', 'varcharout', -1, 'i'), ty(90003, 'kind2', 'textout', 4, 'i')].map((t) => [t.oid, t]))],
  ];
  const expected = (types: Map<number, TypeInfo>, skipNulls: boolean): string | Error => {
    try {
      return storedTupleText(ch, CHANGE_HEADER, (oid) => types.get(oid), 16, skipNulls);
    } catch (e) {
      return e as Error;
    }
  };
  const printed = (types: Map<number, TypeInfo>, skipNulls: boolean, version: number): string | Error => {
    const out = new ByteRows(8);
    try {
      storedTupleBytes(out, ch, CHANGE_HEADER, (oid) => types.get(oid), 16, skipNulls, version);
    } catch (e) {
      return e as Error;
    }
    return decoder.decode(out.buf.subarray(0, out.length));
  };

  it('prints each version as the lookup per value does, old keys and rows, going forward and back', () => {
    let compared = 0;
    for (const order of [[0, 1, 2], [2, 1, 0], [0, 2, 0, 1]]) {
      for (const i of order) {
        const [version, types] = versions[i]!;
        for (const skipNulls of [true, false, true]) {
          const want = expected(types, skipNulls);
          const got = printed(types, skipNulls, version + 10 * compared);
          if (want instanceof Error) expect(String(got)).toBe(String(want));
          else expect(got).toBe(want);
          compared++;
        }
      }
    }
    // The versions differ where they should: an unknown type, then two names per OID.
    expect(String(expected(versions[0]![1], false))).toMatch(/type 90003 of column k/);
    expect(expected(versions[1]![1], false)).toContain(' n[integer]:7 k[kind]:null');
    expect(expected(versions[2]![1], false)).toContain(' n[int_renamed]:7 k[kind2]:null');
  });

  it('looks the types up again only when the version changes', () => {
    const [, types] = versions[1]!;
    let lookups = 0;
    const counted = (oid: number): TypeInfo | undefined => (lookups++, types.get(oid));
    const out = new ByteRows(8);
    storedTupleBytes(out, ch, CHANGE_HEADER, counted, 16, false, 100);
    const first = lookups;
    for (let k = 0; k < 5; k++) storedTupleBytes(out, ch, CHANGE_HEADER, counted, 16, false, 100);
    expect(lookups).toBe(first);
    storedTupleBytes(out, ch, CHANGE_HEADER, counted, 16, false, 101);
    expect(lookups).toBeGreaterThan(first);
    // Without a version: per value, as before.
    const before = lookups;
    storedTupleBytes(out, ch, CHANGE_HEADER, counted, 16, false);
    expect(lookups - before).toBe(3);
  });
});

// The CLI with synchronous byte output (as `pgwal decode` runs in a terminal or a pipe) writes what it writes
// through strings (runCli has no outBytesSync): the rows, their order and --with-lsn's columns.
describe.each(fixtures.filter((f) => f.meta.slots.some((s) => s.plugin === 'test_decoding')).map((f) => [f.id, f] as [string, Fixture]))('pgwal decode with byte output on %s', (_id, f) => {
  it('prints the same bytes as through strings', async () => {
    for (const slot of f.meta.slots.filter((s) => s.plugin === 'test_decoding')) {
      const state = path.join(f.dir, slot.twoPhase ? 'slot-2pc.state' : 'slot.state');
      for (const opts of [['-o', 'include-xids=0', '-o', 'skip-empty-xacts=1', '--with-lsn'], [], ['-o', 'include-timestamp=1', '--with-lsn']]) {
        const argv = ['decode', '--state', state, '-p', f.dir, '--end', f.meta.endLsn, ...opts];
        const viaText = await runCli(argv);
        const { code, stdout: bytes, stderr: err, byteWrites } = await runDecodeBytes(argv);
        expect([code, err]).toEqual([viaText.code, viaText.stderr]);
        expect(bytes.equals(Buffer.from(viaText.stdout, 'utf8')), `${state} ${opts.join(' ')}`).toBe(true);
        if (viaText.stdout.length > 0) expect(byteWrites).toBeGreaterThan(0);
      }
    }
  });
});
