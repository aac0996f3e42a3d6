// Past a switch point only the new timeline's WAL is valid: with the history saying timeline 1 ended at
// 0/701878 and timeline 2's segment not (yet) there, reading real WAL (pg15/types-dml) from folders or through a
// restore_command stops at the switch point, prints and confirms nothing after it, and says why; in follow mode
// it waits for timeline 2's segment and goes on from it.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatLsn, parseLsn } from '../src/index.js';
import { openWal } from '../src/node/wal.js';
import { ArchiveWal } from '../src/node/restore.js';
import { TimelineEndError } from '../src/timeline/index.js';
import { readSlotStateFile } from '../src/node/slot.js';
import { listFixtures, readSegment } from './support/fixtures.js';
import { runCli } from './support/cli.js';

const f = listFixtures().find((x) => x.id === 'pg15/types-dml')!;
const SEG = f.meta.segments[0]!; // 000000010000000000000007
const SWITCH = parseLsn('0/701878'); // the end of xid 733's COMMIT: xid 734 follows on timeline 1
const tmp: string[] = [];
afterAll(() => tmp.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function folder(): { dir: string; state: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-tlend-'));
  tmp.push(dir);
  fs.writeFileSync(path.join(dir, SEG), readSegment(f, SEG));
  fs.writeFileSync(path.join(dir, '00000002.history'), `1\t${formatLsn(SWITCH)}\tno recovery target specified\n`);
  const state = path.join(dir, 'slot.state');
  fs.copyFileSync(path.join(f.dir, 'slot.state'), state);
  return { dir, state };
}

describe('a timeline the history says has ended', () => {
  it('files: records stop at the switch point, with a typed error naming it and the missing segment', async () => {
    const { dir } = folder();
    const wal = openWal({ path: dir, timeline: 'latest' });
    const seen: number[] = [];
    let err: unknown;
    try {
      for await (const rec of wal.records({ start: parseLsn(f.meta.startLsn) })) seen.push(rec.lsn);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TimelineEndError);
    expect((err as TimelineEndError).lsn).toBe(SWITCH);
    expect((err as Error).message).toMatch(/0\/701878/);
    expect((err as Error).message).toMatch(/000000020000000000000007/);
    expect(Math.max(...seen)).toBe(parseLsn('0/701848'));
    // The same synchronously.
    const sync: number[] = [];
    expect(() => {
      for (const rec of wal.recordsSync({ start: parseLsn(f.meta.startLsn) })) sync.push(rec.lsn);
    }).toThrow(TimelineEndError);
    expect(sync).toEqual(seen);
  });

  it('decode -p --advance prints and confirms nothing past the switch point, and fails naming it', async () => {
    const { dir, state } = folder();
    const run = await runCli(['decode', '--state', state, '-p', dir, '--with-lsn', '--advance']);
    const lsns = run.stdout.split('\n').filter((l) => /^[0-9A-F]+\/[0-9A-F]+\t/.test(l)).map((l) => parseLsn(l.split('\t')[0]!));
    expect(lsns.length).toBeGreaterThan(0);
    expect(lsns.every((l) => l <= SWITCH), run.stdout).toBe(true);
    expect(run.stdout).toMatch(/COMMIT 733/);
    expect(run.stdout).not.toMatch(/734/);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/0\/701878.*000000020000000000000007|000000020000000000000007.*0\/701878/);
    expect(parseLsn(readSlotStateFile(state).confirmedFlush)).toBeLessThanOrEqual(SWITCH);
  });

  it('decode --restore-command stops there too', async () => {
    const { dir, state } = folder();
    const run = await runCli(['decode', '--state', state, '--restore-command', `cp '${dir}'/%f %p`, '--wal-segsize', '1', '--with-lsn', '--advance']);
    const lsns = run.stdout.split('\n').filter((l) => /^[0-9A-F]+\/[0-9A-F]+\t/.test(l)).map((l) => parseLsn(l.split('\t')[0]!));
    expect(lsns.length).toBeGreaterThan(0);
    expect(lsns.every((l) => l <= SWITCH), run.stdout).toBe(true);
    expect(run.stdout).not.toMatch(/734/);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/000000020000000000000007/);
    expect(parseLsn(readSlotStateFile(state).confirmedFlush)).toBeLessThanOrEqual(SWITCH);
  });

  it('files: follow mode waits at the switch point and goes on from timeline 2\'s segment', async () => {
    const { dir } = folder();
    const wal = openWal({ path: dir, timeline: 'latest' });
    const ac = new AbortController();
    const seen: { lsn: number; tli: number }[] = [];
    setTimeout(() => fs.copyFileSync(path.join(dir, SEG), path.join(dir, '000000020000000000000007')), 300);
    try {
      for await (const rec of wal.records({ start: parseLsn(f.meta.startLsn), signal: ac.signal, follow: { pollMs: 50 } })) {
        seen.push({ lsn: rec.lsn, tli: rec.timeline });
        if (rec.lsn >= SWITCH) ac.abort();
      }
    } catch (e) {
      if (!ac.signal.aborted) throw e;
    }
    const past = seen.find((r) => r.lsn >= SWITCH)!;
    expect(past).toEqual({ lsn: SWITCH, tli: 2 });
    expect(seen.filter((r) => r.lsn < SWITCH).length).toBe(33);
  });

  it('archive: follow mode waits at the switch point and goes on from timeline 2\'s segment', async () => {
    const { dir } = folder();
    const wal = await ArchiveWal.open({ restoreCommand: `cp '${dir}'/%f %p`, segmentSize: f.meta.walSegmentSize });
    const ac = new AbortController();
    const seen: { lsn: number; tli: number }[] = [];
    setTimeout(() => {
      // Timeline 2's copy of the switch segment arrives: the same bytes (a real promotion copies them up to the switch point).
      fs.copyFileSync(path.join(dir, SEG), path.join(dir, '000000020000000000000007'));
    }, 300);
    try {
      for await (const rec of wal.records({ start: parseLsn(f.meta.startLsn), signal: ac.signal, follow: { pollMs: 50 } })) {
        seen.push({ lsn: rec.lsn, tli: rec.timeline });
        if (rec.lsn >= SWITCH) ac.abort();
      }
    } catch (e) {
      if (!ac.signal.aborted) throw e;
    } finally {
      wal.close();
    }
    expect(seen.filter((r) => r.lsn < SWITCH).every((r) => r.tli === 1 || r.tli === 2)).toBe(true);
    const past = seen.find((r) => r.lsn >= SWITCH)!;
    expect(past.lsn).toBe(SWITCH);
    expect(past.tli).toBe(2);
  });
});

describe('a segment whose pages say another timeline', () => {
  // pg15/types-dml's segment with every page header saying timeline 2, under timeline 1's name.
  const relabelled = (): Uint8Array => {
    const bytes = new Uint8Array(readSegment(f, SEG));
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let off = 0; off < bytes.length; off += 8192) if (v.getUint16(0 + off, true) !== 0) v.setUint32(off + 4, 2, true);
    return bytes;
  };
  const want = 'unexpected timeline ID 2 in WAL segment 000000010000000000000007, LSN 0/700000, offset 0';

  it('is not read as timeline 1\'s (files and restore_command), as the server refuses it', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-tli-'));
    tmp.push(dir);
    fs.writeFileSync(path.join(dir, SEG), relabelled());
    for (const timeline of [undefined, 'latest'] as const) {
      const stream = openWal({ path: dir, timeline }).records({ start: parseLsn(f.meta.startLsn) });
      let n = 0;
      for await (const _ of stream) n++;
      expect(n).toBe(0);
      expect(stream.end?.reason).toBe('invalid-record');
      expect(stream.end?.message).toBe(want);
    }
    const wal = await ArchiveWal.open({ restoreCommand: `cp '${dir}'/%f %p`, segmentSize: f.meta.walSegmentSize });
    try {
      const stream = wal.records({ start: parseLsn(f.meta.startLsn) });
      let n = 0;
      for await (const _ of stream) n++;
      expect(n).toBe(0);
      expect(stream.end?.message).toBe(want);
    } finally {
      wal.close();
    }
  });
});
