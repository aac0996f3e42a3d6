// The decoder reads heap records' block 0 and tuples by offset (readBlockZero, encodeRowChange) instead of
// through the parsers. Checked here against the parsers on every record of every fixture: the same block 0, the
// same encoded change; and records too short for the direct path still end in the parsers' typed error.
import { describe, expect, it } from 'vitest';
import { formatLsn, parseLsn } from '../src/index.js';
import { WalFormatError } from '../src/errors.js';
import { BlockZero, decodeRecordBody, readBlockZero } from '../src/xlogreader/decode-record.js';
import { DecodedRecord } from '../src/xlogreader/record.js';
import { parseHeapDelete, parseHeapInsert, parseHeapUpdate, parseMultiInsert, type WalTuple } from '../src/xlogreader/rmgrdesc/heap-parse.js';
import { CHANGE_DELETE, CHANGE_INSERT, CHANGE_UPDATE, encodeRowChange, rowNewTupleAt, rowOldTupleAt, storedDataLength, storedHoff, storedInfomask, storedInfomask2 } from '../src/reorderbuffer/change.js';
import { TestDecodingDecoder, type DecoderCatalog } from '../src/reorderbuffer/logical.js';
import { profileForMajor } from '../src/xlogreader/profile.js';
import { listFixtures, readFixtureFile, type Fixture } from './support/fixtures.js';
import { fixtureRead, fixtureRecords } from './support/wal.js';

const RM_HEAP2_ID = 9;
const RM_HEAP_ID = 10;
const fixtures = listFixtures();
/** Across the fixtures: records read by the direct path, and heap changes compared (each must be met). */
let directBlocks = 0;
let comparedChanges = 0;

describe.each(fixtures.map((f) => [f.id, f] as [string, Fixture]))('%s', (_id, f) => {
  it('readBlockZero finds what the decoded block references hold', () => {
    for (const rec of fixtureRecords(f)) {
      const z = new BlockZero();
      // Before rec.block(): the direct path reads the headers only while the references are not built yet.
      const found = readBlockZero(rec, z);
      const b = rec.block(0);
      expect(found, `${rec.lsn}`).toBe(b !== undefined);
      if (b === undefined) continue;
      if (rec.maxBlockId === 0) directBlocks++;
      expect([z.spcOid, z.dbOid, z.relNumber, z.blockNumber, z.flags, z.dataLength], `${rec.lsn}`).toEqual([
        b.locator.spcOid,
        b.locator.dbOid,
        b.locator.relNumber,
        b.blockNumber,
        b.flags,
        b.hasData ? b.dataLength : 0,
      ]);
      if (b.hasData) expect(rec.source.subarray(z.dataOffset, z.dataOffset + z.dataLength)).toEqual(rec.blockData(0));
    }
  });

  it('encodes heap row changes by offset exactly as from the parsed records', () => {
    for (const rec of fixtureRecords(f)) {
      if (rec.rmid !== RM_HEAP_ID) continue;
      const op = rec.info & 0x70;
      if (op !== 0x00 && op !== 0x10 && op !== 0x20 && op !== 0x40) continue;
      const z = new BlockZero();
      if (!readBlockZero(rec, z)) continue;
      const main = rec.sourceOffset + rec.mainDataOffset;
      // The parsers' tuples as extents of rec.bytes (xl_heap_header included), and what the direct path takes.
      const extent = (t: WalTuple | undefined): [number, number] => (t === undefined ? [-1, 0] : [t.dataOffset - 5, t.dataLength + 5]);
      let parsedTuples: (WalTuple | undefined)[];
      let parsed: Uint8Array;
      let direct: Uint8Array;
      if (op === 0x00) {
        const ins = parseHeapInsert(rec);
        parsedTuples = [ins.tuple, undefined];
        parsed = encodeRowChange(CHANGE_INSERT, 0, rec.lsn, z.spcOid, z.relNumber, rec.bytes, ...extent(ins.tuple), -1, 0);
        direct = encodeRowChange(CHANGE_INSERT, 0, rec.lsn, z.spcOid, z.relNumber, rec.source, z.dataLength > 0 ? z.dataOffset : -1, z.dataLength, -1, 0);
      } else if (op === 0x10) {
        const del = parseHeapDelete(rec);
        parsedTuples = [undefined, del.oldTuple];
        parsed = encodeRowChange(CHANGE_DELETE, 0, rec.lsn, z.spcOid, z.relNumber, rec.bytes, -1, 0, ...extent(del.oldTuple));
        direct = encodeRowChange(CHANGE_DELETE, 0, rec.lsn, z.spcOid, z.relNumber, rec.source, -1, 0, del.oldTuple ? main + 8 : -1, rec.mainDataLength - 8);
      } else {
        const upd = parseHeapUpdate(rec);
        parsedTuples = [upd.newTuple, upd.oldTuple];
        const at = upd.newTuple === undefined ? -1 : z.dataOffset + (z.dataLength - (upd.newTuple.dataLength + 5));
        parsed = encodeRowChange(CHANGE_UPDATE, 0, rec.lsn, z.spcOid, z.relNumber, rec.bytes, ...extent(upd.newTuple), ...extent(upd.oldTuple));
        direct = encodeRowChange(CHANGE_UPDATE, 0, rec.lsn, z.spcOid, z.relNumber, rec.source, at, upd.newTuple === undefined ? 0 : upd.newTuple.dataLength + 5, upd.oldTuple ? main + 14 : -1, rec.mainDataLength - 14);
      }
      // The stored tuples hold the header fields as the parsers read them.
      for (const [t, stored] of [[parsedTuples[0], rowNewTupleAt(parsed)], [parsedTuples[1], rowOldTupleAt(parsed)]] as const) {
        expect(stored >= 0, `${rec.lsn}`).toBe(t !== undefined);
        if (t !== undefined) {
          expect([storedInfomask2(parsed, stored), storedInfomask(parsed, stored), storedHoff(parsed, stored), storedDataLength(parsed, stored)]).toEqual([t.infomask2, t.infomask, t.hoff, t.dataLength]);
        }
      }
      expect(direct, `${rec.lsn}`).toEqual(parsed);
      comparedChanges++;
    }
  });
});

describe('coverage of the comparisons above', () => {
  it('met both paths', () => {
    expect(directBlocks).toBeGreaterThan(1000);
    expect(comparedChanges).toBeGreaterThan(1000);
  });
});

describe('heap records too short for their fields', () => {
  // A fixture with inserts, updates and deletes of a table the slot decodes.
  const f = fixtures.find((x) => x.id === 'pg16/types-dml')!;
  const slot = f.meta.slots.find((s) => !s.twoPhase)!;
  const catalog = JSON.parse(readFixtureFile(f, 'catalog.json').toString()) as DecoderCatalog;

  /** Decodes up to the first record of one of `ops`, whose main data is cut to `keep` bytes: the error it ends in. */
  function cutAt(ops: number[], keep: number): unknown {
    const { records } = fixtureRead(f, { start: parseLsn(slot.restartLsn) });
    const decoder = new TestDecodingDecoder(catalog, profileForMajor(f.meta.major)!.major, {}, parseLsn(slot.confirmedFlushLsn));
    for (const rec of records) {
      if (rec.rmid === RM_HEAP_ID && ops.includes(rec.info & 0x70) && rec.block(0)?.locator.dbOid === catalog.databaseOid) {
        rec.mainDataLength = keep;
        try {
          decoder.process(rec);
        } catch (e) {
          return e;
        }
        return undefined;
      }
      decoder.process(rec);
    }
    throw new Error(`no heap record of ops ${ops.join(',')} in ${f.id}`);
  }

  it.each([
    ['INSERT', [0x00], 2, /invalid Heap INSERT record at .*: 2 bytes of payload, expected at least 3/],
    ['UPDATE', [0x20, 0x40], 13, /invalid Heap UPDATE record at .*: 13 bytes of payload, expected at least 14/],
    ['DELETE', [0x10], 7, /invalid Heap DELETE record at .*: 7 bytes of payload, expected at least 8/],
  ])('%s: the parsers\' typed error naming the record', (_what, ops, keep, message) => {
    const e = cutAt(ops, keep);
    expect(e).toBeInstanceOf(WalFormatError);
    expect((e as WalFormatError).code).toBe('short-record');
    expect((e as Error).message).toMatch(message);
  });
});

describe('a multi-insert tuple longer than its block data', () => {
  // COPY logs Heap2 MULTI_INSERT records; the first tuple's length is forged to run past the record's block data.
  const f = fixtures.find((x) => x.id === 'pg16/copy')!;
  const slot = f.meta.slots.find((s) => !s.twoPhase)!;
  const catalog = JSON.parse(readFixtureFile(f, 'catalog.json').toString()) as DecoderCatalog;

  it('is a typed error naming the record, not a change with bytes from elsewhere', () => {
    const { records } = fixtureRead(f, { start: parseLsn(slot.restartLsn) });
    const decoder = new TestDecodingDecoder(catalog, profileForMajor(f.meta.major)!.major, {}, parseLsn(slot.confirmedFlushLsn));
    let error: unknown;
    let forged: number | undefined;
    for (const rec of records) {
      if (forged === undefined && rec.rmid === RM_HEAP2_ID && (rec.info & 0x70) === 0x50 && rec.block(0)?.locator.dbOid === catalog.databaseOid) {
        const m = parseMultiInsert(rec);
        // Records are views into the fixture's pages: the forged length goes into a copy of this one.
        const bytes = rec.bytes.slice();
        bytes[m.tuplesOffset] = 0xff;
        bytes[m.tuplesOffset + 1] = 0xff;
        const copy = new DecodedRecord(bytes);
        copy.lsn = rec.lsn;
        copy.endLsn = rec.endLsn;
        copy.xid = rec.xid;
        copy.info = rec.info;
        copy.rmid = rec.rmid;
        expect(decodeRecordBody(copy, rec.lsn)).toBeUndefined();
        forged = rec.lsn;
        try {
          decoder.process(copy);
        } catch (e) {
          error = e;
          break;
        }
        continue;
      }
      decoder.process(rec);
    }
    expect(forged).toBeDefined();
    expect(error).toBeInstanceOf(WalFormatError);
    expect((error as WalFormatError).code).toBe('short-record');
    expect((error as Error).message).toBe(`invalid Heap2 MULTI_INSERT record at ${formatLsn(forged!)}: tuple 1 of ${parseMultiInsert(records.find((r) => r.lsn === forged)!).ntuples} runs past the block data`);
  });
});

