// Heap and Heap2 rm_identify / rm_desc against the committed fixtures' pg_walinspect rows, every major;
// and the payload parsers' structure (tuples fill their block data exactly) on the same records.
import { describe, expect, it } from 'vitest';
import { formatLsn } from '../src/lsn.js';
import { profileForMajor } from '../src/xlogreader/profile.js';
import type { DecodedRecord } from '../src/xlogreader/record.js';
import {
  heap2Rmgr,
  heapRmgr,
  multiInsertTuples,
  parseHeapDelete,
  parseHeapInsert,
  parseHeapUpdate,
  parseMultiInsert,
  XLH_INSERT_CONTAINS_NEW_TUPLE,
  XLOG_HEAP2_MULTI_INSERT,
  XLOG_HEAP_DELETE,
  XLOG_HEAP_HOT_UPDATE,
  XLOG_HEAP_INSERT,
  XLOG_HEAP_OPMASK,
  XLOG_HEAP_UPDATE,
} from '../src/xlogreader/rmgrdesc/heap.js';
import { listFixtures, readTsv, type Fixture } from './support/fixtures.js';
import { fixtureRecords, walinspectContext } from './support/wal.js';

const RMGRS = { 9: heap2Rmgr, 10: heapRmgr } as const;
const fixtures = listFixtures();
const majors = [...new Set(fixtures.map((f) => f.meta.major))].sort();

interface Compared {
  records: number;
  types: Set<string>;
}

function compareFixture(f: Fixture): Compared {
  const profile = profileForMajor(f.meta.major)!;
  const ctx = walinspectContext(profile);
  const byLsn = new Map<string, DecodedRecord>();
  for (const r of fixtureRecords(f)) byLsn.set(formatLsn(r.lsn), r);
  const out: Compared = { records: 0, types: new Set() };
  for (const row of readTsv(f, 'records.tsv')) {
    if (row.resource_manager !== 'Heap' && row.resource_manager !== 'Heap2') continue;
    const rec = byLsn.get(row.start_lsn!);
    expect(rec, `${f.id}: no record read at ${row.start_lsn}`).toBeDefined();
    const rmgr = RMGRS[rec!.rmid as 9 | 10];
    expect(rmgr?.name, `${f.id} ${row.start_lsn}`).toBe(row.resource_manager);
    const where = `${f.id} ${row.start_lsn} ${row.record_type}`;
    expect(rmgr.identify(rec!.info, profile), where).toBe(row.record_type);
    // pg_walinspect 16+ returns NULL for an empty description, 15 an empty string.
    expect(rmgr.describe(rec!, ctx), where).toBe(row.description ?? '');
    out.records++;
    out.types.add(`${row.resource_manager}/${row.record_type}`);
  }
  return out;
}

describe.each(majors)('Heap/Heap2 descriptions, PostgreSQL %i fixtures', (major) => {
  it('match pg_walinspect for every Heap and Heap2 record', () => {
    let records = 0;
    const types = new Set<string>();
    for (const f of fixtures.filter((x) => x.meta.major === major)) {
      const c = compareFixture(f);
      records += c.records;
      for (const t of c.types) types.add(t);
    }
    // Every fixture set has thousands of heap records and at least these kinds.
    expect(records).toBeGreaterThan(1000);
    for (const t of ['Heap/INSERT', 'Heap/INSERT+INIT', 'Heap/UPDATE', 'Heap/HOT_UPDATE', 'Heap/DELETE', 'Heap/LOCK', 'Heap/TRUNCATE', 'Heap/INPLACE', 'Heap2/MULTI_INSERT', 'Heap2/MULTI_INSERT+INIT', 'Heap2/NEW_CID']) {
      expect(types, t).toContain(t);
    }
    expect(types).toContain(major >= 17 ? 'Heap2/PRUNE_ON_ACCESS' : 'Heap2/PRUNE');
  });
});

describe('Heap/Heap2 payload parsers on fixture records', () => {
  it('find tuples that exactly fill their block data and old tuples that fill the main data', () => {
    let tuples = 0;
    let multi = 0;
    for (const f of fixtures) {
      for (const rec of fixtureRecords(f)) {
        const op = rec.info & XLOG_HEAP_OPMASK;
        if (rec.rmid === 10 && op === XLOG_HEAP_INSERT) {
          const x = parseHeapInsert(rec);
          const b = rec.block(0)!;
          if (x.tuple === undefined) {
            expect(b.hasData).toBe(false);
            continue;
          }
          // xl_heap_header, then the tuple from offset 23 (bitmap, padding, columns) to the end of the data.
          expect(x.tuple.dataOffset + x.tuple.dataLength).toBe(b.dataOffset + b.dataLength);
          expect(x.tuple.hoff).toBeGreaterThanOrEqual(24);
          expect(x.tuple.hoff % 8).toBe(0);
          expect(x.tuple.dataLength).toBeGreaterThanOrEqual(x.tuple.hoff - 23);
          tuples++;
        } else if (rec.rmid === 10 && (op === XLOG_HEAP_UPDATE || op === XLOG_HEAP_HOT_UPDATE)) {
          const x = parseHeapUpdate(rec);
          if (x.newTuple !== undefined) {
            expect(x.newTuple.hoff % 8).toBe(0);
            tuples++;
          }
          if (x.oldTuple !== undefined) {
            expect(x.oldTuple.dataOffset + x.oldTuple.dataLength).toBe(rec.mainDataOffset + rec.mainDataLength);
            expect(x.oldTuple.hoff % 8).toBe(0);
          }
        } else if (rec.rmid === 10 && op === XLOG_HEAP_DELETE) {
          const x = parseHeapDelete(rec);
          if (x.oldTuple !== undefined) expect(x.oldTuple.hoff % 8).toBe(0);
        } else if (rec.rmid === 9 && op === XLOG_HEAP2_MULTI_INSERT) {
          const x = parseMultiInsert(rec);
          if (x.tuplesOffset < 0) continue;
          const ts = multiInsertTuples(rec, x);
          expect(ts.length).toBe(x.ntuples);
          const last = ts[ts.length - 1]!;
          expect(last.dataOffset + last.dataLength).toBe(x.tuplesOffset + x.tuplesLength);
          for (const t of ts) expect(t.hoff % 8).toBe(0);
          if ((x.flags & XLH_INSERT_CONTAINS_NEW_TUPLE) !== 0) multi += ts.length;
        }
      }
    }
    expect(tuples).toBeGreaterThan(1000);
    expect(multi).toBeGreaterThan(100);
  });
});
