// Where orphaned transactions began, on synthetic WAL: the shapes a live server gives only by chance (the old
// segments gone, a transaction with no record between the last running_xacts and the start point). Each orphan is
// printed only when running_xacts proves it began at or after the start point; otherwise it is reported, with its
// first record when proven, the record found when not, or "unknown".
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openSlotFile, readCatalogPages, readSlotStateFile, writeSlotStateFile } from '../src/node/slot.js';
import { Slot } from '../src/slot/slot.js';
import { decodeOrphans } from '../src/node/orphans.js';
import type { TimelineReader } from '../src/node/slot-decode.js';
import { formatLsn } from '../src/lsn.js';
import { SLOT_STATE_VERSION, type SlotState } from '../src/slot/state.js';
import { TestDecodingPlugin } from '../src/reorderbuffer/testdecoding.js';
import { readWalSegments } from '../src/xlogreader/memory.js';
import { filler, WalBuilder } from './support/walbuilder.js';

const SEG = 1024 * 1024;
const u32s = (...n: number[]): Uint8Array => {
  const b = new Uint8Array(4 * n.length);
  const v = new DataView(b.buffer);
  n.forEach((x, i) => v.setUint32(4 * i, x, true));
  return b;
};
/** xl_running_xacts: xcnt, subxcnt, subxid_overflow (padded), nextXid, oldestRunningXid, latestCompletedXid, xids. */
const runningXacts = (nextXid: number, xids: number[]) => ({ rmid: 8, info: 0x10, main: u32s(xids.length, 0, 0, nextXid, xids[0] ?? nextXid, nextXid - 1, ...xids) });
const commit = (xid: number) => ({ rmid: 1, info: 0x00, xid, main: new Uint8Array(8) });
const recordOf = (xid: number) => ({ ...filler(40, xid), xid });

function padToNextSegment(b: WalBuilder): void {
  const next = (Math.floor(b.pos / SEG) + 1) * SEG;
  while (b.pos < next - 9000) b.add(filler(8000));
  while (b.pos < next) b.add(filler(16));
}

/**
 *   seg 1: running_xacts (nextXid 100) · a record of 100
 *   seg 2: ── switch point ── · a record of 101
 *   seg 3: running_xacts (nextXid 103; 100, 101, 102 running) ── start point (restart_lsn) ── records of 100…103,
 *          their commits ── confirmed_flush
 */
function scenario(): { segments: Map<string, Uint8Array>; state: SlotState; switchPoint: number; at: Record<string, number> } {
  const b = new WalBuilder({ segmentSize: SEG });
  const at: Record<string, number> = {};
  b.add(runningXacts(100, []));
  at.a = b.add(recordOf(100));
  padToNextSegment(b);
  const switchPoint = b.add(filler(16));
  at.b = b.add(recordOf(101));
  padToNextSegment(b);
  b.add(runningXacts(103, [100, 101, 102]));
  const start = b.add(filler(16));
  for (const x of [100, 101, 102, 103]) at[`first${x}`] = b.add(recordOf(x));
  for (const x of [100, 101, 102, 103]) b.add(commit(x));
  b.add(filler(16)); // the end of the last commit is where this one starts
  const confirmed = b.lsns[b.lsns.length - 1]!;
  const state: SlotState = {
    version: SLOT_STATE_VERSION,
    name: 's',
    plugin: 'test_decoding',
    pluginOptions: {},
    systemIdentifier: '7000000000000000001',
    databaseOid: 5,
    database: 'postgres',
    major: 17,
    timeline: 1,
    restartLsn: formatLsn(start),
    confirmedFlush: formatLsn(confirmed),
    catalogXmin: 90,
    twoPhase: false,
    invalidation: null,
    catalogRef: { kind: 'embedded', asOf: formatLsn(start), crc32c: 0 },
    catalogFilenodes: [],
    timezone: 'UTC',
    catalog: { databaseOid: 5, relations: [], types: [] },
  };
  return { segments: b.segments(), state, switchPoint, at };
}

const reader =
  (segments: Map<string, Uint8Array>): TimelineReader =>
  async (_tli, start) =>
    (async function* () {
      yield* readWalSegments(segments, { start });
    })();

async function run(segments: Map<string, Uint8Array>, state: SlotState, switchPoint: number) {
  return decodeOrphans({
    state,
    history: [
      { tli: 1, begin: 0, end: switchPoint, reason: 'no recovery target specified' },
      { tli: 2, begin: switchPoint, end: undefined, reason: '' },
    ],
    oldTimeline: reader(segments),
    plugin: new TestDecodingPlugin({}),
    sink: () => undefined,
    segmentSize: SEG,
  });
}

describe('decodeOrphans: where each orphan began', () => {
  it('all of the old timeline on hand: first records proven by the running_xacts of segment 1', async () => {
    const { segments, state, switchPoint, at } = scenario();
    const r = await run(segments, state, switchPoint);
    expect(r.start.what).toBe(`restart_lsn ${state.restartLsn}`);
    const by = new Map(r.transactions.map((t) => [t.xid, t]));
    expect([...by.keys()]).toEqual([100, 101, 102, 103]);
    expect(by.get(100)!.unavailable?.code).toBe('began-before-start');
    expect(by.get(100)!.firstLsn).toBe(at.a);
    expect(by.get(101)!.unavailable?.code).toBe('began-before-start');
    expect(by.get(101)!.firstLsn).toBe(at.b);
    expect(by.get(101)!.unavailable?.reason).toContain(`began at ${formatLsn(at.b!)}, before the start point`);
    // 102 follows segment 1's nextXid (100) and has no record from there to the start point.
    expect(by.get(102)!.unavailable).toBeUndefined();
    expect(by.get(102)!.firstLsn).toBe(at.first102);
    expect(by.get(103)!.unavailable).toBeUndefined();
    expect(by.get(103)!.firstLsn).toBe(at.first103);
  });

  it('segment 1 gone: 101 has a record before the start point but its first is unproven; 100 and 102 unknown; 103 proven', async () => {
    const { segments, state, switchPoint, at } = scenario();
    const [first] = [...segments.keys()].sort();
    segments.delete(first!);
    const r = await run(segments, state, switchPoint);
    const by = new Map(r.transactions.map((t) => [t.xid, t]));
    expect(by.get(100)!.unavailable?.code).toBe('first-record-unknown');
    expect(by.get(100)!.firstLsn).toBeUndefined();
    expect(by.get(101)!.unavailable?.code).toBe('began-before-start');
    expect(by.get(101)!.firstLsn).toBeUndefined();
    expect(by.get(101)!.unavailable?.reason).toContain(`has a record at ${formatLsn(at.b!)}, before the start point`);
    expect(by.get(102)!.unavailable?.code).toBe('first-record-unknown');
    expect(by.get(103)!.unavailable).toBeUndefined();
    expect(by.get(103)!.firstLsn).toBe(at.first103);
  });

  it('a kept restart point at or before the switch point: every orphan is whole from it, no search', async () => {
    const { segments, state, switchPoint } = scenario();
    const kept = { ...state, keptRestarts: [{ restartLsn: formatLsn(SEG + 40), confirmedFlush: formatLsn(SEG + 40), timeline: 1, catalogXmin: 90 }] };
    const r = await run(segments, kept, switchPoint);
    expect(r.start.lsn).toBe(SEG + 40);
    expect(r.transactions.every((t) => t.unavailable === undefined)).toBe(true);
  });
});

describe('kept restart points', () => {
  const base = (): SlotState => ({ ...scenario().state, restartLsn: '0/100', confirmedFlush: '0/200', catalogXmin: 700 });
  const pages = (n: number) => ({ n }) as unknown as SlotState['catalogPages'];

  it('confirm keeps the point the slot was at and the first confirm at each new restart_lsn, within the window', () => {
    const slot = new Slot(base(), () => undefined);
    slot.keepRestarts = { window: 0x1000, max: 16 };
    slot.confirm(0x300, { restartLsn: 0x250 });
    expect(slot.state.keptRestarts!.map((k) => [k.restartLsn, k.confirmedFlush])).toEqual([
      ['0/100', '0/200'],
      ['0/250', '0/300'],
    ]);
    slot.confirm(0x400); // restart_lsn stays: nothing new to keep
    expect(slot.state.keptRestarts).toHaveLength(2);
    slot.confirm(0x1250, { restartLsn: 0x1240 });
    // Switch points from 0/250 (0/1250 - 0x1000) on must stay covered: those before 0/300 need 0/200.
    expect(slot.state.keptRestarts!.map((k) => k.confirmedFlush)).toEqual(['0/200', '0/300', '0/1250']);
    slot.confirm(0x1400, { restartLsn: 0x1300 });
    expect(slot.state.keptRestarts!.map((k) => k.confirmedFlush)).toEqual(['0/300', '0/1250', '0/1400']);
  });

  it('at most max points: the middle ones go, the oldest (the window\'s coverage) stays', () => {
    const slot = new Slot(base(), () => undefined);
    slot.keepRestarts = { window: 1 << 30, max: 3 };
    for (let i = 1; i <= 5; i++) slot.confirm(0x200 + i * 0x100, { restartLsn: 0x100 + i * 0x100 });
    expect(slot.state.keptRestarts!.map((k) => k.confirmedFlush)).toEqual(['0/200', '0/600', '0/700']);
  });

  it('with a durable LSN from the failover candidate: points back to the newest at or before it, whatever the window', () => {
    const slot = new Slot(base(), () => undefined);
    slot.keepRestarts = { window: 0, max: 16 };
    for (let i = 1; i <= 4; i++) slot.confirm(0x200 + i * 0x100, { restartLsn: 0x100 + i * 0x100, durable: 0x450 });
    expect(slot.state.keptRestarts!.map((k) => k.confirmedFlush)).toEqual(['0/400', '0/500', '0/600']);
  });

  it('a window of 0 keeps none', () => {
    const slot = new Slot(base(), () => undefined);
    slot.keepRestarts = { window: 0, max: 16 };
    slot.confirm(0x300, { restartLsn: 0x250 });
    expect(slot.state.keptRestarts).toBeUndefined();
  });

  it('rewind restarts at the newest kept point at or before the switch point, with its catalog and catalog_xmin', () => {
    const slot = new Slot({ ...base(), catalogPages: pages(1) }, () => undefined);
    slot.confirm(0x300, { restartLsn: 0x250, catalogPagesAt: () => pages(2) });
    slot.confirm(0x500, { restartLsn: 0x480, catalogPagesAt: () => pages(3) });
    slot.rewind(0x400, 2);
    const s = slot.state;
    expect([s.restartLsn, s.confirmedFlush, s.timeline]).toEqual(['0/250', '0/400', 2]);
    expect(s.catalogPages).toEqual(pages(2));
    expect(s.keptRestarts!.map((k) => k.confirmedFlush)).toEqual(['0/200', '0/300']);
  });

  it('the state file keeps the catalog sidecars its kept points name, and drops the others', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-kept-'));
    try {
      const file = path.join(dir, 's.state');
      writeSlotStateFile(file, { ...base(), catalogPages: pages(1) });
      const slot = openSlotFile(file);
      slot.keepRestarts = { window: 0x1000, max: 16 };
      slot.confirm(0x300, { restartLsn: 0x250, catalogPagesAt: () => pages(2) });
      slot.confirm(0x500, { restartLsn: 0x480, catalogPagesAt: () => pages(3) });
      expect(fs.readdirSync(dir).filter((f) => f.includes('.catalog-'))).toHaveLength(3);
      slot.confirm(0x1400, { restartLsn: 0x1380, catalogPagesAt: () => pages(4) });
      expect(slot.state.catalogPages).toBeUndefined(); // in memory too, the pages are named by file from now on
      slot.release();
      const back = readSlotStateFile(file);
      // Switch points from 0/400 on stay covered: by 0/300 up to 0/500; the point 0/200 and its pages are gone.
      expect(back.keptRestarts!.map((k) => k.confirmedFlush)).toEqual(['0/300', '0/500', '0/1400']);
      expect(fs.readdirSync(dir).filter((f) => f.includes('.catalog-'))).toHaveLength(3);
      expect(readCatalogPages({ ...back, catalogPagesFile: back.keptRestarts![0]!.catalogPagesFile })).toEqual(pages(2));
      expect(readCatalogPages(back)).toEqual(pages(4));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('help', () => {
  it('decode --help names the orphan options (no module cycle leaves a part undefined)', async () => {
    const { DECODE_HELP } = await import('../src/cli/decode.js');
    expect(DECODE_HELP).toContain('--orphans FILE');
    expect(DECODE_HELP).toContain('--failover-standby URL');
    expect(DECODE_HELP).not.toContain('undefined');
  });
});
