// An output plugin on another thread (ShippingPlugin → CallbackReplayer, what `pgwal decode --format-thread`
// uses): the callbacks shipped as bytes and replayed against test_decoding and wal2json print the server's rows
// on every fixture — with every option set, spilled, streamed and two-phase, in batches of any size, when shipping
// starts after decoding began, and with rows written as bytes.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatLsn, parseLsn } from '../src/index.js';
import { LogicalDecoder, type DecoderCatalog, type DecoderOptions } from '../src/reorderbuffer/logical.js';
import { StaticCatalog, type CatalogView } from '../src/reorderbuffer/catalog.js';
import { MemorySpillStore } from '../src/reorderbuffer/spill.js';
import { ByteRows } from '../src/reorderbuffer/row-bytes.js';
import { TestDecodingPlugin, type TestDecodingOptions } from '../src/reorderbuffer/testdecoding.js';
import { parseWal2JsonOptions, Wal2JsonPlugin } from '../src/reorderbuffer/wal2json.js';
import { CallbackReplayer, ShippingPlugin, type ShipMessage } from '../src/reorderbuffer/ship.js';
import { BytesRowReplayer, BytesRowShipper } from '../src/reorderbuffer/pgoutput-ship.js';
import { parsePgOutputOptions, PgOutputPlugin } from '../src/reorderbuffer/pgoutput.js';
import { HistoricCatalog } from '../src/catalog/historic.js';
import { catalogSnapshotFromJson } from '../src/catalog/snapshot-json.js';
import { readCatalogPages } from '../src/node/slot.js';
import { fixtureSlotState } from '../scripts/fixture-states.js';
import type { OutputPlugin } from '../src/reorderbuffer/plugin.js';
import { profileForMajor } from '../src/xlogreader/profile.js';
import type { DecodedRecord } from '../src/xlogreader/record.js';
import { listFixtures, readFixtureFile, readTsv, type Fixture } from './support/fixtures.js';
import { fixtureCatalog, fixtureRead } from './support/wal.js';

const fixtures = listFixtures();
const utf8 = new TextDecoder();

interface Run {
  /** Record index at which shipping starts (0: from the start). */
  from: number;
  batchSize: number;
  /** Rows as bytes through textRows where the plugin can. */
  bytes: boolean;
}

/**
 * `lsn\txid\tdata\n` rows of a decoding whose plugin runs behind a ShippingPlugin, replayed by a CallbackReplayer
 * (no thread: messages are replayed as they are posted, each batch from a copy, as a thread receives it).
 */
function shipped(make: () => OutputPlugin, options: Omit<DecoderOptions, 'plugin' | 'sink'>, records: readonly DecodedRecord[], run: Run, timezone?: string): { text: string; messages: number } {
  let text = '';
  const out = new ByteRows(16);
  let rowAt = 0;
  const local = make();
  const shipping = new ShippingPlugin(local, make(), run.batchSize);
  const replayer = new CallbackReplayer(
    make(),
    options.major,
    {
      row: (lsn, xid, data) => void out.text(`${formatLsn(lsn)}\t${xid}\t${data as string}\n`),
      textRows: run.bytes
        ? {
            start: (lsn, xid) => {
              rowAt = out.length;
              out.text(`${formatLsn(lsn)}\t${xid}\t`);
              return out;
            },
            end: () => out.text('\n'),
            cancel: () => void (out.length = rowAt),
          }
        : undefined,
    },
    timezone,
  );
  let messages = 0;
  const post = (m: ShipMessage): void => {
    messages++;
    // A transferred batch is the other thread's: replayed from a copy, as structured clone delivers it.
    replayer.receive(m.t === 'batch' ? { ...m, buf: m.buf.slice() } : structuredClone(m));
  };
  const decoder = new LogicalDecoder({ ...options, plugin: shipping.plugin, sink: (o) => void (text += `${formatLsn(o.lsn)}\t${o.xid}\t${o.data as string}\n`) });
  records.forEach((rec, i) => {
    if (i === run.from) {
      // Rows written on this thread so far come first.
      out.text(text);
      text = '';
      shipping.ship(post);
    }
    decoder.process(rec);
  });
  shipping.flush();
  expect(text, 'nothing is written on the decoding thread once shipping started').toBe('');
  return { text: utf8.decode(out.buf.subarray(0, out.length)), messages };
}

function direct(plugin: OutputPlugin, options: Omit<DecoderOptions, 'plugin' | 'sink'>, records: readonly DecodedRecord[]): string {
  let text = '';
  const decoder = new LogicalDecoder({ ...options, plugin, sink: (o) => void (text += `${formatLsn(o.lsn)}\t${o.xid}\t${o.data as string}\n`) });
  for (const rec of records) decoder.process(rec);
  return text;
}

const server = (f: Fixture, file: string): string =>
  readTsv(f, file)
    .map((r) => `${r.lsn}\t${r.xid}\t${r.data}\n`)
    .join('');

const RUNS: Run[] = [
  { from: 0, batchSize: 256 * 1024, bytes: true },
  { from: 0, batchSize: 64, bytes: false },
  { from: 0, batchSize: 1, bytes: true },
];

describe.each(fixtures.map((f) => [f.id, f] as [string, Fixture]))('%s', (_id, f) => {
  const catalog = (): DecoderCatalog | CatalogView => fixtureCatalog(f);
  const major = profileForMajor(f.meta.major)!.major;

  it('test_decoding shipped prints the server rows (include-xids on and off), from the start and from midway', () => {
    const slot = f.meta.slots.find((s) => s.plugin === 'test_decoding' && !s.twoPhase)!;
    const records = [...fixtureRead(f, { start: parseLsn(slot.restartLsn) }).records];
    const startAt = parseLsn(slot.confirmedFlushLsn);
    for (const [file, includeXids] of [['decoded-xids.tsv', true], ['decoded.tsv', false]] as const) {
      const theirs = server(f, file);
      expect(theirs.length).toBeGreaterThan(0);
      const runs = [...RUNS, { from: Math.floor(records.length / 2), batchSize: 4096, bytes: true }, { from: records.length - 1, batchSize: 4096, bytes: false }];
      for (const run of runs) {
        const got = shipped(() => new TestDecodingPlugin({ includeXids, skipEmptyXacts: true }), { catalog: catalog(), major, startAt }, records, run);
        expect(got.text, `${file} ${JSON.stringify(run)}`).toBe(theirs);
      }
    }
  });

  it('test_decoding shipped prints what it prints on one thread: every option, spilled, streamed, two-phase, another time zone', () => {
    for (const slot of f.meta.slots.filter((s) => s.plugin === 'test_decoding')) {
      const records = [...fixtureRead(f, { start: parseLsn(slot.restartLsn) }).records];
      const startAt = parseLsn(slot.confirmedFlushLsn);
      const twoPhase = slot.twoPhase ? { twoPhaseAt: startAt } : {};
      const runs: [string, Partial<TestDecodingOptions>, Partial<DecoderOptions>][] = [];
      for (const includeXids of [true, false]) for (const skipEmptyXacts of [true, false]) runs.push([`xids ${includeXids} skip ${skipEmptyXacts}`, { includeXids, skipEmptyXacts, includeTimestamp: true }, {}]);
      runs.push(['spilled', { skipEmptyXacts: true }, { memoryLimit: 1, spill: new MemorySpillStore() }]);
      runs.push(['streamed', { skipEmptyXacts: true, streamChanges: true }, { memoryLimit: 0, streaming: true }]);
      runs.push(['Asia/Kolkata', { includeTimestamp: true }, { timezone: 'Asia/Kolkata' }]);
      for (const [name, options, more] of runs) {
        const base = { catalog: catalog(), major, startAt, ...twoPhase, ...more };
        const one = direct(new TestDecodingPlugin(options), { ...base, catalog: catalog() }, records);
        expect(one.length, name).toBeGreaterThan(0);
        const got = shipped(() => new TestDecodingPlugin(options), base, records, RUNS[0]!, more.timezone);
        expect(got.text, `${slot.twoPhase ? 'two-phase ' : ''}${name}`).toBe(one);
      }
    }
  });

  const wal2json = f.meta.slots.find((s) => s.plugin === 'wal2json');
  if (wal2json !== undefined && f.meta.wal2jsonOptions !== undefined) {
    it('wal2json shipped prints the server rows for every option set the fixture holds', () => {
      const records = [...fixtureRead(f, { start: parseLsn(wal2json.restartLsn) }).records];
      for (const [name, options] of Object.entries(f.meta.wal2jsonOptions!)) {
        const pairs = Array.from({ length: options.length / 2 }, (_, i) => [options[2 * i]!, options[2 * i + 1]!] as [string, string]);
        for (const run of RUNS) {
          const got = shipped(
            () => new Wal2JsonPlugin(parseWal2JsonOptions(pairs)),
            { catalog: JSON.parse(readFixtureFile(f, 'catalog.json').toString()) as DecoderCatalog, major, startAt: parseLsn(wal2json.confirmedFlushLsn) },
            records,
            run,
          );
          expect(got.text, `${name}.tsv ${JSON.stringify(run)}`).toBe(server(f, `${name}.tsv`));
        }
      }
    });
  }
});

/**
 * `lsn\txid\t\xHEX\n` rows of a pgoutput decoding whose messages are shipped from record `run.from` on
 * (BytesRowShipper → BytesRowReplayer, as `pgwal decode --plugin pgoutput --format-thread` does, without the thread):
 * messages written here before, then stored changes' messages written by the replayer.
 */
function pgoutputShipped(f: Fixture, name: string, opts: readonly string[], run: Run | undefined, timezone?: string): { text: string; stored: number; txns: number; records: number } {
  const slot = f.meta.slots.find((s) => s.plugin === 'pgoutput' && s.twoPhase === (name === 'pgoutput-twophase'))!;
  const state = fixtureSlotState(f.dir, slot);
  if (state.catalogPagesFile !== undefined) state.catalogPagesFile = path.join(f.dir, state.catalogPagesFile);
  const pages = readCatalogPages(state);
  const inner = pages !== undefined ? new HistoricCatalog(catalogSnapshotFromJson(pages), { defaults: state.catalog }) : new StaticCatalog(state.catalog);
  const pairs = Array.from({ length: opts.length / 2 }, (_, i) => [opts[2 * i]!, opts[2 * i + 1]!] as [string, string]);
  const major = profileForMajor(f.meta.major)!.major;
  const plugin = new PgOutputPlugin(parsePgOutputOptions(pairs, major), major, state.catalog.publications, state.catalog.partitions, new Map(state.catalog.replicationOrigins), state.catalog.databaseLocale);
  const hex = (lsn: number, xid: number, b: Uint8Array, n: number): string => `${formatLsn(lsn)}\t${xid}\t\\x${Buffer.from(b.subarray(0, n)).toString('hex')}\n`;
  let text = '';
  let stored = 0;
  let txns = 0;
  const zone = timezone ?? state.timezone;
  const replayer = new BytesRowReplayer({ row: (lsn, xid, b, n) => void (text += hex(lsn, xid, b, n)), recordEnd: () => {} }, major, zone, plugin.options.binary);
  const shipper = new BytesRowShipper(run?.batchSize);
  let byteRow = (lsn: number, xid: number, b: Uint8Array, n: number): void => void (text += hex(lsn, xid, b, n));
  const decoder = new LogicalDecoder({
    catalog: plugin.catalogView(inner, state.catalog),
    major,
    plugin,
    startAt: parseLsn(slot.confirmedFlushLsn),
    ...(state.twoPhase ? { twoPhaseAt: parseLsn(state.twoPhaseAt ?? state.confirmedFlush) } : {}),
    timezone: zone,
    sink: () => expect.fail('pgoutput writes bytes'),
    byteSink: (lsn, xid, b, n) => byteRow(lsn, xid, b, n),
  });
  const records = [...fixtureRead(f, { start: parseLsn(slot.restartLsn) }).records].filter((r) => r.lsn < parseLsn(f.meta.endLsn));
  records.forEach((rec, i) => {
    if (run !== undefined && i === run.from) {
      shipper.ship((m) => {
        if (m.t === 'batch') {
          const view = new DataView(m.buf.buffer, m.buf.byteOffset, m.length);
          for (let at = 0; at < m.length; ) at = skip(view, at, () => stored++, () => txns++);
        }
        replayer.receive(m.t === 'batch' ? { ...m, buf: m.buf.slice() } : structuredClone(m));
      });
      byteRow = shipper.row;
      plugin.rowSink = shipper.storedRow;
      plugin.txnSink = shipper.txnSink;
    }
    decoder.process(rec);
    shipper.recordEnd();
  });
  if (shipper.shipping) shipper.flush();
  return { text, stored, txns, records: records.length };
}

/** Steps over one op of a BytesRowShipper batch (21: a message, 22: a stored change, 23/24: Begin/Commit, 20: a record end). */
function skip(v: DataView, at: number, onStored: () => void, onTxn: () => void): number {
  const op = v.getUint8(at);
  if (op === 20) return at + 1;
  if (op === 21) return at + 17 + v.getUint32(at + 13, true);
  if (op === 23 || op === 24) {
    onTxn();
    return at + (op === 23 ? 33 : 37);
  }
  expect(op).toBe(22);
  onStored();
  return at + 38 + Math.max(0, v.getInt32(at + 30, true)) + Math.max(0, v.getInt32(at + 34, true));
}

describe.each(fixtures.filter((f) => f.meta.pgoutputOptions !== undefined).map((f) => [f.id, f] as [string, Fixture]))('pgoutput shipped, %s', (_id, f) => {
  it('prints the server rows for every answer the fixture holds, shipping from the start, midway and at the end, in batches of any size', () => {
    let stored = 0;
    let txns = 0;
    for (const [name, opts] of Object.entries(f.meta.pgoutputOptions!)) {
      const theirs = server(f, `${name}.tsv`);
      const one = pgoutputShipped(f, name, opts, undefined);
      expect(one.text, `${name} on one thread`).toBe(theirs);
      const n = one.records;
      for (const run of [...RUNS, { from: Math.floor(n / 3), batchSize: 4096, bytes: true }, { from: n - 1, batchSize: 64, bytes: true }]) {
        const got = pgoutputShipped(f, name, opts, run);
        expect(got.text, `${name} ${JSON.stringify(run)}`).toBe(theirs);
        // Binary rows too are written there (from the start: every row of the fixture's tables is shipped).
        if (run.from === 0 && name.endsWith('-binary') && theirs.includes('\t\\x49')) expect(got.stored, `${name} ${JSON.stringify(run)}`).toBeGreaterThan(0);
        stored += got.stored;
        txns += got.txns;
      }
    }
    // Changes are written on the replaying side, and so are Begin and Commit.
    if (server(f, 'pgoutput-v1.tsv').includes('\t\\x49')) expect(stored).toBeGreaterThan(0);
    if (server(f, 'pgoutput-v1.tsv').includes('\t\\x42')) expect(txns).toBeGreaterThan(0);
  });
});

describe('pgoutput shipped, in another time zone', () => {
  it('timestamptz values written on the replaying side in the session time zone, as on one thread', () => {
    const f = fixtures.find((x) => x.id === 'pg16/types-dml')!;
    const opts = f.meta.pgoutputOptions!['pgoutput-v1']!;
    const utc = pgoutputShipped(f, 'pgoutput-v1', opts, undefined).text;
    const one = pgoutputShipped(f, 'pgoutput-v1', opts, undefined, 'Asia/Kolkata').text;
    expect(one, 'the zone changes the text').not.toBe(utc);
    const got = pgoutputShipped(f, 'pgoutput-v1', opts, RUNS[0], 'Asia/Kolkata');
    expect(got.stored).toBeGreaterThan(0);
    expect(got.text).toBe(one);
  });
});
