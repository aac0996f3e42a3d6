// wal2json's rows written as bytes (textByteSink, what `pgwal decode --plugin json` uses when its output is direct)
// are the UTF-8 of the rows it writes as strings: on every fixture, with every option set, spilled too, and on datums
// the byte path copies or must leave to the text's way (escapes, invalid UTF-8, a byte order mark, domains).
import { describe, expect, it } from 'vitest';
import { formatLsn, parseLsn } from '../src/index.js';
import { LogicalDecoder, type DecoderCatalog, type DecoderOptions } from '../src/reorderbuffer/logical.js';
import type { CatalogView, DecoderRelation } from '../src/reorderbuffer/catalog.js';
import { MemorySpillStore } from '../src/reorderbuffer/spill.js';
import { ByteRows, type TextByteSink } from '../src/reorderbuffer/row-bytes.js';
import { parseWal2JsonOptions, Wal2JsonPlugin } from '../src/reorderbuffer/wal2json.js';
import { StoredRowChange, encodeRowChange, rowOldTupleAt, CHANGE_HEADER, CHANGE_UPDATE } from '../src/reorderbuffer/change.js';
import { withOutputTimeZone, type TypeInfo } from '../src/reorderbuffer/values.js';
import type { Attribute } from '../src/reorderbuffer/tuple.js';
import type { OutputContext } from '../src/reorderbuffer/plugin.js';
import { rng } from './support/random-rows.js';
import { runCli, runDecodeBytes } from './support/cli.js';
import path from 'node:path';
import { profileForMajor } from '../src/xlogreader/profile.js';
import { listFixtures, readFixtureFile, type Fixture } from './support/fixtures.js';
import { fixtureCatalog, fixtureRead } from './support/wal.js';

const fixtures = listFixtures();
const decoder = new TextDecoder();

interface Outcome {
  text: string;
  bytes: Uint8Array;
  byteRows: number;
  textError: string | undefined;
  bytesError: string | undefined;
}

/** The rows of one decoding as text (strings only) and as bytes (change rows through textByteSink), `lsn\txid\tdata\n` each. */
function bothWays(make: (more: Partial<DecoderOptions>) => LogicalDecoder, records: Iterable<unknown>): Outcome {
  const run = (d: LogicalDecoder): string | undefined => {
    try {
      for (const rec of records) d.process(rec as never);
    } catch (e) {
      return String(e);
    }
    return undefined;
  };
  let text = '';
  const textError = run(make({ sink: (o) => void (text += `${formatLsn(o.lsn)}\t${o.xid}\t${o.data as string}\n`) }));
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
  const bytesError = run(make({ sink: (o) => out.text(`${formatLsn(o.lsn)}\t${o.xid}\t${o.data as string}\n`), textByteSink }));
  return { text, bytes: out.buf.slice(0, out.length), byteRows, textError, bytesError };
}

// Every option of wal2json's format-version 2 in some set: the fixture's two, each include-* flipped, the filters.
const OPTION_SETS: [string, string][][] = [
  [],
  [['include-xids', '1'], ['include-timestamp', '1'], ['include-lsn', '1'], ['include-pk', '1'], ['include-type-oids', '1'], ['include-not-null', '1'], ['include-column-positions', '1'], ['include-origin', '1']],
  [['include-types', '0'], ['include-schemas', '0'], ['include-transaction', '0'], ['include-pk', '1']],
  [['include-default', '1']],
  [['include-domain-data-type', '1'], ['include-type-oids', '1']],
  [['actions', 'insert,delete'], ['include-pk', '1']],
  [['actions', 'update'], ['include-lsn', '1'], ['include-xids', '1']],
  [['filter-tables', '*.wj_types']],
  [['add-tables', 'public.wj_toast,public.wj_idx,*.t'], ['include-not-null', '1']],
];

describe.each(fixtures.map((f) => [f.id, f] as [string, Fixture]))('%s', (_id, f) => {
  const catalog = (): DecoderCatalog | CatalogView => fixtureCatalog(f);
  const major = profileForMajor(f.meta.major)!.major;
  // The wal2json slot where there is one, else the first (every fixture has one): decoding does not depend on the
  // slot's plugin.
  const slot = f.meta.slots.find((s) => s.plugin === 'wal2json') ?? f.meta.slots[0]!;

  it('writes the same rows as bytes as in text, with every option set, and spilled', () => {
    const { records } = fixtureRead(f, { start: parseLsn(slot.restartLsn) });
    const start = parseLsn(slot.confirmedFlushLsn);
    const twoPhase = slot.twoPhase ? { twoPhaseAt: start } : {};
    const runs: [string, [string, string][], Partial<DecoderOptions>][] = OPTION_SETS.map((o) => [JSON.stringify(o), o, {}]);
    runs.push(['spilled', [['include-pk', '1']], { memoryLimit: 1 }]);
    let byteRows = 0;
    for (const [name, options, more] of runs) {
      const both = bothWays(
        (m) => new LogicalDecoder({ catalog: catalog(), major, plugin: new Wal2JsonPlugin(parseWal2JsonOptions([['format-version', '2'], ...options])), startAt: start, spill: new MemorySpillStore(), ...twoPhase, ...more, ...m }),
        records,
      );
      // The same error (a catalog without keys, a default not recorded), after the same rows.
      expect(both.bytesError, name).toBe(both.textError);
      expect(decoder.decode(both.bytes), name).toBe(both.text);
      // Byte for byte: the text's UTF-8 (a string compare alone would pass replaced invalid bytes).
      expect(Buffer.compare(Buffer.from(both.bytes), Buffer.from(both.text, 'utf8')), name).toBe(0);
      byteRows += both.byteRows;
    }
    // The byte path was taken where wal2json writes change rows.
    if (f.meta.wal2jsonOptions !== undefined) expect(byteRows).toBeGreaterThan(100);
  });
});

// Datums built by hand: ints at their extremes and in domains (quoted), text with quotes, backslashes, control
// characters, non-ASCII, invalid UTF-8 and a byte order mark (the decoder's replacements and dropped BOM must show
// in the bytes too), numeric, float, bytea, timestamps, name; keyed old tuples, nulls, missing and TOAST values.
describe('Wal2JsonPlugin change as bytes', () => {
  const ty = (oid: number, name: string, output: string, len: number, align: string, more: Partial<TypeInfo> = {}): TypeInfo => ({ oid, name, output, len, align, byval: len > 0 && len <= 8, elem: 0, ...more });
  const TYPES = [
    ty(23, 'integer', 'int4out', 4, 'i'),
    ty(90001, 'dint', 'int4out', 4, 'i', { baseType: 23, baseTypmod: -1 }),
    ty(20, 'bigint', 'int8out', 8, 'd'),
    ty(26, 'oid', 'oidout', 4, 'i'),
    ty(21, 'smallint', 'int2out', 2, 's'),
    ty(16, 'boolean', 'boolout', 1, 'c'),
    ty(1114, 'timestamp without time zone', 'timestamp_out', 8, 'd'),
    ty(1184, 'timestamp with time zone', 'timestamptz_out', 8, 'd'),
    ty(701, 'double precision', 'float8out', 8, 'd'),
    ty(25, 'text', 'textout', -1, 'i'),
    ty(1043, 'character varying', 'varcharout', -1, 'i'),
    ty(1042, 'bpchar', 'bpcharout', -1, 'i'),
    ty(90002, 'dtext', 'textout', -1, 'i', { baseType: 25, baseTypmod: -1 }),
    ty(17, 'bytea', 'byteaout', -1, 'i'),
    ty(1700, 'numeric', 'numeric_out', -1, 'i'),
    ty(19, 'name', 'nameout', 64, 'c'),
  ];
  const byOid = new Map(TYPES.map((t) => [t.oid, t]));
  const attrs: Attribute[] = TYPES.map((t, i) => ({
    attnum: i + 1,
    name: i === 1 ? 'Mi"xed' : `c${i}`,
    typeOid: t.oid,
    len: t.len,
    align: t.align,
    byval: t.byval,
    dropped: false,
    typmod: t.oid === 1043 ? 24 : -1,
    notNull: i % 2 === 0,
    defaultExpr: i === 3 ? "'x'::text" : null,
  }));
  // One more column, added after the rows were written: its missing value.
  attrs.push({ attnum: attrs.length + 1, name: 'late', typeOid: 25, len: -1, align: 'i', byval: false, dropped: false, typmod: -1, notNull: false, defaultExpr: null, missing: 'late "value"' });
  const relation: DecoderRelation = { oid: 90100, relfilenode: 90100, namespace: 'pub"lic', name: 'tåble', kind: 'r', replIdent: 'd', toastRelid: 0, attributes: attrs, primaryKey: [1, 3], identityKey: [1, 3] };

  const utf8 = (cp: number): number[] => [...Buffer.from(String.fromCodePoint(cp), 'utf8')];
  // Well-formed sequences at the edges of table 3-7, a byte order mark first and inside, and ill-formed ones:
  // a surrogate, overlongs, past U+10FFFF, a lone continuation, cut short.
  const TEXTS = [[], [0x22], [0x5c], [0x61, 0x22, 0x5c, 0x62], [0xc3, 0xa9], [0xef, 0xbb, 0xbf, 0x61], [0x61, 0xef, 0xbb, 0xbf], [0xff, 0x61], [0xc3], [0x5c, 0x0a, 0x09, 0x08, 0x0c, 0x0d, 0x01, 0x1f, 0x7f], [0x41, 0x00, 0x42]];
  TEXTS.push(...[0x80, 0x7ff, 0x800, 0xd7ff, 0xe000, 0xfffd, 0xffff, 0x10000, 0x10ffff, 0x2028].map(utf8));
  TEXTS.push([0xed, 0xa0, 0x80], [0xe0, 0x80, 0x80], [0xc0, 0x80], [0xc1, 0xbf], [0xf4, 0x90, 0x80, 0x80], [0xf0, 0x80, 0x80, 0x80], [0xf5, 0x80, 0x80, 0x80], [0x80], [0xe2, 0x82], [0xf0, 0x9f, 0x98], [0x61, 0xe2, 0x82, 0x61]);
  const OPTION_SETS: [string, string][][] = [[], [['include-pk', '1'], ['include-type-oids', '1'], ['include-not-null', '1'], ['include-column-positions', '1'], ['include-default', '1'], ['include-lsn', '1'], ['include-xids', '1']], [['include-types', '0'], ['include-schemas', '0']], [['include-domain-data-type', '1']]];

  // timestamptz in a zone other than UTC takes the text's way; Etc/UTC is UTC.
  const CONFIGS: [[string, string][], string][] = [...OPTION_SETS.map((o): [[string, string][], string] => [o, 'UTC']), [[], 'Europe/Berlin'], [[['include-xids', '1']], 'Etc/UTC']];

  it('writes what the text path writes, byte for byte', () => {
    const r = rng(17);
    const int = (bits: number): number[] => Array.from({ length: bits / 8 }, () => (r() < 0.3 ? (r() < 0.5 ? 0 : 0xff) : Math.floor(r() * 256)));
    const codePoint = (): number => { const cp = [0x80, 0x800, 0x10000][Math.floor(r() * 3)]! + Math.floor(r() * 0x800); return cp >= 0xd800 && cp < 0xe000 ? 0xe9 : cp; };
    const text = (): number[] =>
      r() < 0.4
        ? TEXTS[Math.floor(r() * TEXTS.length)]!
        : Array.from({ length: Math.floor(r() * 60) }, () => (r() < 0.1 ? [0x22] : r() < 0.05 ? [0x5c] : r() < 0.05 ? [Math.floor(r() * 0x20)] : r() < 0.02 ? [0x80 + Math.floor(r() * 128)] : r() < 0.1 ? utf8(codePoint()) : r() < 0.02 ? TEXTS[Math.floor(r() * TEXTS.length)]! : [0x20 + Math.floor(r() * 95)])).flat();
    // numeric payloads: short and long headers, weights -4..5 and scales 0..20 (so digits before, after and far from
    // the point), negative, NaN and the infinities, digits of 0, 9999 and (corrupt) ≥ 10000, a datum cut short.
    const numeric = (): number[] => {
      if (r() < 0.08) return [[0x00, 0xc0], [0x00, 0xd0], [0x00, 0xf0], [0x00, 0xe0]][Math.floor(r() * 4)]!;
      if (r() < 0.02) return r() < 0.5 ? [0x05] : [0x00, 0x00, 0x01];
      const neg = r() < 0.3;
      const weight = Math.floor(r() * 10) - 4;
      const digits = Array.from({ length: Math.floor(r() * 5) }, () => { const d = r() < 0.05 ? 10000 + Math.floor(r() * 50000) : r() < 0.2 ? (r() < 0.5 ? 0 : 9999) : Math.floor(r() * 10000); return [d & 0xff, d >> 8]; }).flat();
      if (r() < 0.5) {
        const dscale = Math.floor(r() * 21);
        const h = 0x8000 | (neg ? 0x2000 : 0) | (dscale << 7) | (weight < 0 ? 0x40 | (weight + 64) : weight);
        return [h & 0xff, h >> 8, ...digits];
      }
      const dscale = Math.floor(r() * 21);
      const h = (neg ? 0x4000 : 0) | dscale;
      return [h & 0xff, h >> 8, weight & 0xff, (weight >> 8) & 0xff, ...digits];
    };
    // Timestamps: infinities, far ones (BigInt's way), and either side of a safe integer with 0-6 trailing zero digits.
    const ts = (): number[] => {
      let us: bigint;
      const pick = r();
      if (pick < 0.05) us = 2n ** 63n - 1n;
      else if (pick < 0.1) us = -(2n ** 63n);
      else if (pick < 0.25) us = BigInt.asIntN(64, BigInt(Math.floor(r() * 2 ** 52)) * BigInt(Math.floor(r() * 4096)) - 2n ** 62n);
      else {
        const k = 10n ** BigInt(Math.floor(r() * 7));
        us = (BigInt(Math.floor((r() * 2 - 1) * 2 ** 53)) / k) * k;
      }
      const b = new Uint8Array(8);
      new DataView(b.buffer).setBigInt64(0, us, true);
      return [...b];
    };
    const txn = { xid: 77, firstLsn: 0, finalLsn: 0, endLsn: 0, commitTime: 0n, originId: 0 };
    let compared = 0;
    for (let row = 0; row < 1500; row++) {
      // A tuple with a null bitmap over all but the last column (added later): t_bits, pad to hoff 32, the values.
      const natts = attrs.length - 1;
      const nulls = Array.from({ length: natts }, () => r() < 0.1);
      const data: number[] = [];
      const hoff = 32;
      const put = (bytes: number[], align: number): void => {
        while ((hoff + data.length) % align !== 0) data.push(0);
        data.push(...bytes);
      };
      const varlena = (b: number[]): void => {
        data.push(((b.length + 1) << 1) | 1, ...b);
      };
      const values: (() => void)[] = [
        () => put(int(32), 4),
        () => put(int(32), 4),
        () => put(int(64), 8),
        () => put(int(32), 4),
        () => put(int(16), 2),
        () => put([r() < 0.5 ? 1 : 0], 1),
        () => put(ts(), 8),
        () => put(ts(), 8),
        () => put(int(64).map((b, i) => (i === 7 ? b & 0x3f : b)), 8),
        () => varlena(text()),
        () => varlena(text()),
        () => varlena(text()),
        () => varlena(text()),
        () => varlena(text()),
        () => varlena(numeric()),
        () => {
          const name = text().filter((b) => b !== 0).slice(0, 63);
          put([...name, ...new Array<number>(64 - name.length).fill(0)], 1);
        },
      ];
      values.forEach((v, i) => {
        if (!nulls[i]) v();
      });
      const bits = Array.from({ length: Math.ceil(natts / 8) }, (_, k) => nulls.slice(8 * k, 8 * k + 8).reduce((m, n, j) => (n ? m : m | (1 << j)), 0));
      // xl_heap_header (infomask2 = natts, infomask HEAP_HASNULL | HEAP_HASVARWIDTH, hoff), then from t_bits on.
      const head = [natts, 0, 0x03, 0, hoff];
      const tbits = [...bits, ...new Array<number>(hoff - 23 - bits.length).fill(0)];
      const src = Uint8Array.from([...head, ...tbits, ...data]);
      const lsn = 0x1000000 + row;
      const withOld = r() < 0.5;
      const change = encodeRowChange(CHANGE_UPDATE, 0, lsn, 0, 90100, src, 0, src.length, withOld ? 0 : -1, withOld ? src.length : 0);
      const ch = new StoredRowChange(lsn, 'UPDATE', relation, change, CHANGE_HEADER, rowOldTupleAt(change));
      for (const [options, zone] of CONFIGS) {
        const ofText: string[] = [];
        let textError: string | undefined;
        const textCtx: OutputContext = { major: 15, write: (d) => void ofText.push(d as string), type: (oid) => byOid.get(oid) };
        try {
          withOutputTimeZone(zone, () => new Wal2JsonPlugin(parseWal2JsonOptions([['format-version', '2'], ...options])).change(textCtx, txn, ch));
        } catch (e) {
          textError = String(e);
        }
        const out = new ByteRows(8);
        out.text('before\n');
        let ended = 0;
        let bytesError: string | undefined;
        const byteCtx: OutputContext = {
          major: 15,
          write: () => expect.unreachable('a change row goes through textRows'),
          type: (oid) => byOid.get(oid),
          textRows: { start: () => out, end: () => void (ended++, out.text('\n')), cancel: () => void (out.length = 7) },
        };
        try {
          withOutputTimeZone(zone, () => new Wal2JsonPlugin(parseWal2JsonOptions([['format-version', '2'], ...options])).change(byteCtx, txn, new StoredRowChange(lsn, 'UPDATE', relation, change, ch.newAt, ch.oldAt)));
        } catch (e) {
          bytesError = String(e);
        }
        expect(bytesError).toBe(textError);
        const expected = 'before\n' + ofText.map((t) => t + '\n').join('');
        // As text first (a readable difference), then byte for byte (replaced invalid bytes would pass as text).
        expect(Buffer.from(out.buf.subarray(0, out.length)).toString(), `row ${row} ${JSON.stringify(options)} ${zone}`).toBe(expected);
        expect(Buffer.from(out.buf.subarray(0, out.length)).equals(Buffer.from(expected, 'utf8')), `row ${row} ${JSON.stringify(options)}: ${expected}`).toBe(true);
        if (textError === undefined) {
          expect(ended).toBe(1);
          compared++;
        }
      }
    }
    expect(compared).toBeGreaterThan(6000);
  });
});

// The CLI with synchronous byte output (as `pgwal decode` runs in a terminal or a pipe) writes what it writes
// through strings (runCli has no outBytesSync).
describe.each(fixtures.filter((f) => f.meta.wal2jsonOptions !== undefined).map((f) => [f.id, f] as [string, Fixture]))('pgwal decode --plugin json with byte output on %s', (_id, f) => {
  it('prints the same bytes as through strings', async () => {
    const state = path.join(f.dir, 'slot-wal2json.state');
    for (const opts of [['--with-lsn'], ['-o', 'include-xids=1', '-o', 'include-pk=1', '-o', 'include-lsn=1'], ['-o', 'include-types=0', '--with-lsn']]) {
      const argv = ['decode', '--state', state, '-p', f.dir, '--end', f.meta.endLsn, ...opts];
      const viaText = await runCli(argv);
      const { code, stdout: bytes, stderr: err, byteWrites } = await runDecodeBytes(argv);
      expect([code, err]).toEqual([viaText.code, viaText.stderr]);
      expect(viaText.stdout.length).toBeGreaterThan(1000);
      expect(bytes.equals(Buffer.from(viaText.stdout, 'utf8')), opts.join(' ')).toBe(true);
      expect(byteWrites).toBeGreaterThan(0);
    }
  });
});
