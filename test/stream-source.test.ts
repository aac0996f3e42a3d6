// StreamSource at a timeline switch, with scripted stream events over synthetic WAL: bytes the old timeline's
// walsender sent past the switch point (the first half of a record the promoted server never completed, which
// a cascading walsender may send) are dropped, and the reader reads on from the switch point on the next
// timeline exactly as it reads the new timeline's WAL from memory. Records already returned past the switch
// point are an error, never silently different output.
import { describe, expect, it } from 'vitest';
import { WalError } from '../src/errors.js';
import { formatLsn, type Lsn } from '../src/lsn.js';
import { readStreamRecords, StreamSource } from '../src/node/stream-wal.js';
import { ReconnectingWalStream, type WalStreamEvent } from '../src/node/walreceiver.js';
import { ConnectionError } from '../src/protocol/index.js';
import { MemorySource, XLogReader } from '../src/xlogreader/source.js';
import type { DecodedRecord } from '../src/xlogreader/record.js';
import { filler, WalBuilder } from './support/walbuilder.js';
import { readAll } from './support/wal.js';

const SEG = 1024 * 1024;

/** A stream that hands out the scripted events (data cut into `chunk`-byte pieces). */
function scripted(events: WalStreamEvent[], chunk: number): ReconnectingWalStream {
  const cut: WalStreamEvent[] = [];
  for (const ev of events) {
    if (ev.type !== 'data') {
      cut.push(ev);
      continue;
    }
    for (let o = 0; o < ev.data.length; o += chunk) {
      cut.push({ ...ev, dataStart: ev.dataStart + o, data: ev.data.subarray(o, Math.min(o + chunk, ev.data.length)) });
    }
  }
  return {
    report: () => undefined,
    stop: () => undefined,
    async *[Symbol.asyncIterator]() {
      yield* cut;
    },
  } as unknown as ReconnectingWalStream;
}

/** The same first records on both timelines; then `old` and `next` differ from the switch point on. */
function twoTimelines(old: (b: WalBuilder) => void, next: (b: WalBuilder) => void): { a: WalBuilder; b: WalBuilder; switchLsn: Lsn } {
  const a = new WalBuilder({ segmentSize: SEG });
  const b = new WalBuilder({ segmentSize: SEG });
  for (const w of [a, b]) for (let i = 0; i < 5; i++) w.add(filler(300 + i * 1000, i));
  expect(a.pos).toBe(b.pos);
  const switchLsn = a.pos;
  old(a);
  next(b);
  return { a, b, switchLsn };
}

const bytes = (w: WalBuilder, from: Lsn, to: Lsn): Uint8Array => w.raw.subarray(w.at(from), w.at(to));
const history = (switchLsn: Lsn): { filename: string; content: string } => ({ filename: '00000002.history', content: `1\t${formatLsn(switchLsn)}\tno recovery target specified\n` });

async function readStream(events: WalStreamEvent[], chunk: number, stopAt: Lsn, first: Lsn): Promise<{ lsns: Lsn[]; timelines: number[]; end: string; switches: number }> {
  const source = new StreamSource(scripted(events, chunk), SEG, 1, stopAt, true, () => SEG);
  let switches = 0;
  source.onTimelineSwitch = () => switches++;
  const reader = new XLogReader({ segmentSize: SEG, startLsn: first, findFirst: true, timeline: 1 });
  const recs: DecodedRecord[] = [];
  const it = readStreamRecords(reader, source);
  for (;;) {
    const r = await it.next();
    if (r.done === true) return { lsns: recs.map((x) => x.lsn), timelines: recs.map((x) => x.timeline), end: `${r.value.reason}: ${r.value.message}`, switches };
    recs.push(r.value);
  }
}

describe('StreamSource at a timeline switch', () => {
  it.each([1, 7, 50, 8192, 100_000])('drops the half record the old timeline sent past the switch point and reads on (%i-byte pieces)', async (chunk) => {
    const { a, b, switchLsn } = twoTimelines(
      // The old timeline's next record spans three pages; only its first two pages were sent.
      (w) => w.add(filler(20_000, 9)),
      (w) => {
        w.add(filler(100, 7));
        w.add(filler(9000, 8));
      },
    );
    const oldEnd = switchLsn - (switchLsn % 8192) + 2 * 8192;
    const newEnd = b.pos - (b.pos % 8192) + 8192;
    const events: WalStreamEvent[] = [
      { type: 'data', timeline: 1, dataStart: SEG, walEnd: oldEnd, data: bytes(a, SEG, oldEnd) },
      { type: 'timeline-switch', timeline: 1, nextTimeline: 2, switchLsn, restartLsn: switchLsn, history: history(switchLsn) },
      { type: 'data', timeline: 2, dataStart: switchLsn, walEnd: newEnd, data: bytes(b, switchLsn, newEnd) },
    ];
    const got = await readStream(events, chunk, Number.MAX_SAFE_INTEGER, a.lsns[0]!);
    // What reading the new timeline's WAL gives: the records both share, then the new timeline's own.
    const mem = new MemorySource(SEG).add(1, b.raw.subarray(0, SEG), 1);
    const want = readAll(new XLogReader({ segmentSize: SEG, startLsn: b.lsns[0]!, findFirst: true }), mem);
    expect(got.lsns).toEqual(want.records.map((r) => r.lsn));
    expect(got.lsns).toEqual(b.lsns);
    expect(got.switches).toBe(1);
    // And it ends where the new timeline's WAL ends, with the same words.
    expect(got.end).toBe(`${want.end.reason}: ${want.end.message}`);
    // Records from the switch point on are the next timeline's.
    expect(got.timelines.slice(-2)).toEqual([2, 2]);
  });

  it('a switch point before a record already returned is an error naming both positions', async () => {
    const { a, switchLsn } = twoTimelines(
      (w) => {
        w.add(filler(100, 1));
        w.add(filler(100, 2));
      },
      () => undefined,
    );
    const oldEnd = a.pos - (a.pos % 8192) + 8192;
    const events: WalStreamEvent[] = [
      { type: 'data', timeline: 1, dataStart: SEG, walEnd: oldEnd, data: bytes(a, SEG, a.pos) },
      { type: 'timeline-switch', timeline: 1, nextTimeline: 2, switchLsn, restartLsn: switchLsn, history: history(switchLsn) },
    ];
    const err = await readStream(events, 8192, Number.MAX_SAFE_INTEGER, a.lsns[0]!).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WalError);
    expect((err as WalError).code).toBe('timeline-fork');
    expect((err as Error).message).toMatch(new RegExp(`^the server's history left timeline 1 at ${formatLsn(switchLsn)} \\(timeline 2 follows\\), but pgwal had read that timeline's WAL up to ${formatLsn(a.pos)}:`));
  });
});

describe('ReconnectingWalStream.stop', () => {
  it('ends a backoff pause at once (SIGINT while the server is down does not wait for the next attempt)', async () => {
    let attempts = 0;
    const stream = new ReconnectingWalStream({
      startLsn: SEG,
      timeline: 1,
      initialDelayMs: 60_000,
      connect: () => {
        attempts++;
        return Promise.reject(new ConnectionError('connection refused'));
      },
      onReconnect: () => setTimeout(() => stream.stop(), 10),
    });
    const started = Date.now();
    const events: WalStreamEvent[] = [];
    for await (const ev of stream) events.push(ev);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(attempts).toBe(1);
    expect(events).toEqual([]);
  });
});
