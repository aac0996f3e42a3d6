// restore_command with the server's contract, compressed archive members (checked against the gzip, zstd and
// lz4 tools), and reading a fixture's WAL back through an archive.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError, parseLsn, WalSourceError } from '../src/index.js';
import { ArchiveSource, ArchiveWal, decompressMember, RestoreCommand } from '../src/node/restore.js';
import { listFixtures } from './support/fixtures.js';
import { extractSegments } from './support/cli.js';
import { fixtureRead } from './support/wal.js';

const tmp: string[] = [];
afterAll(() => tmp.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
const f = listFixtures().find((x) => x.id === 'pg16/large-records')!;
const archive = extractSegments(f);
tmp.push(archive);
const seg = f.meta.segments[0]!;

describe('compressed archive members', () => {
  const original = fs.readFileSync(path.join(archive, seg));
  it.each([
    ['gzip', ['gzip', '-c']],
    ['zstd', ['zstd', '-q', '-c']],
    ['lz4 frame', ['lz4', '-q', '-c']],
    ['lz4 frame, independent blocks, 64 KB', ['lz4', '-q', '-c', '-B4', '--no-frame-crc']],
    ['lz4 frame, block checksums', ['lz4', '-q', '-c', '-BX', '-BD']],
  ])('reads %s as the tool wrote it', (_name, [cmd, ...args]) => {
    const compressed = execFileSync(cmd!, [...args, path.join(archive, seg)], { maxBuffer: 1 << 26 });
    expect(compressed.length).toBeLessThan(original.length);
    expect(Buffer.from(decompressMember(compressed, f.meta.walSegmentSize, seg)).equals(original)).toBe(true);
    // A member that would expand past the segment size is refused, not inflated.
    expect(() => decompressMember(compressed, 4096, seg)).toThrow(WalSourceError);
  });
});

describe('restore_command', () => {
  it('substitutes %f, %p, %r and %%, and refuses what it should not run', () => {
    const r = new RestoreCommand('cp /a/%f %p # %r 100%%', { lastRequired: () => '000000010000000000000003' });
    expect(r.build(seg, '/tmp/x')).toBe(`cp /a/${seg} /tmp/x # 000000010000000000000003 100%`);
    expect(() => r.build('$(rm -rf /)', '/tmp/x')).toThrow(InvalidArgumentError);
    expect(() => r.build('../000000010000000000000003', '/tmp/x')).toThrow(InvalidArgumentError);
    expect(() => new RestoreCommand('cp %x %p')).toThrow(/unknown placeholder "%x"/);
    expect(() => new RestoreCommand('cp %f %p %')).toThrow(/unknown placeholder/);
    r.close();
  });

  it('gives the server\'s outcomes: found, not there, and fatal', async () => {
    const cases: [string, 'found' | 'missing' | RegExp][] = [
      [`cp ${archive}/%f %p`, 'found'],
      [`cp ${archive}/nothing-%f %p`, 'missing'],
      ['exit 1', 'missing'],
      ['true', 'missing'],
      ['exit 127', /exited with exit code 127/],
      ['no-such-command-pgwal %f', /exited with exit code 127/],
      ['kill -9 $$', /terminated by signal SIGKILL/],
    ];
    for (const [cmd, want] of cases) {
      const r = new RestoreCommand(cmd);
      const got = r.fetch(seg);
      if (want === 'found') expect((await got)?.length).toBe(f.meta.walSegmentSize);
      else if (want === 'missing') expect(await got).toBeNull();
      else await expect(got).rejects.toThrow(want);
      r.close();
    }
    const hang = new RestoreCommand('sleep 5', { timeoutMs: 200 });
    await expect(hang.fetch(seg)).rejects.toThrow(/did not finish within 200 ms/);
    hang.close();
  });

  it('leaves no fetched file behind', async () => {
    const r = new RestoreCommand(`cp ${archive}/%f %p`);
    await r.fetch(seg);
    const dir = (r as unknown as { dir: string }).dir;
    expect(fs.readdirSync(dir)).toEqual([]);
    r.close();
    expect(fs.existsSync(dir)).toBe(false);
  });

  it('refuses a half-written segment (exit 0, wrong size) with a typed error', async () => {
    const r = new RestoreCommand(`head -c 1000 ${archive}/%f > %p`);
    const src = new ArchiveSource({ fetchers: [r], segmentSize: f.meta.walSegmentSize, timeline: 1, prefetch: 0 });
    await expect(src.read(parseLsn(f.meta.startLsn))).rejects.toThrow(/has wrong size: 1000 instead of 1048576/);
    r.close();
  });

  it('in follow mode (the server\'s standby mode) waits out a segment still being copied into the archive, plain or gzip', async () => {
    for (const gzip of [false, true]) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-partial-'));
      tmp.push(dir);
      const whole = fs.readFileSync(path.join(archive, seg));
      const member = gzip ? zlib.gzipSync(whole) : whole;
      for (const other of f.meta.segments.slice(1)) fs.copyFileSync(path.join(archive, other), path.join(dir, other));
      fs.writeFileSync(path.join(dir, seg), member.subarray(0, 3000)); // archive_command's cp half way
      const r = new RestoreCommand(`cp ${dir}/%f %p`);
      const short = new ArchiveSource({ fetchers: [r], segmentSize: f.meta.walSegmentSize, timeline: 1, prefetch: 0, standbyMode: true });
      const miss = await short.read(parseLsn(f.meta.startLsn));
      expect('missing' in miss && miss.missing).toMatch(gzip ? /ends before its gzip stream does; taken as still being copied/ : /has wrong size: 3000 instead of 1048576; taken as still being copied/);
      // As not found: the next source is asked (a whole copy there is read).
      const r2 = new RestoreCommand(`cp ${archive}/%f %p`);
      const both = new ArchiveSource({ fetchers: [r, r2], segmentSize: f.meta.walSegmentSize, timeline: 1, prefetch: 0, standbyMode: true });
      const fromNext = await both.read(parseLsn(f.meta.startLsn));
      expect('missing' in fromNext).toBe(false);
      r2.close();
      // Outside follow mode the same file is an error, as the server's FATAL.
      const strict = new ArchiveSource({ fetchers: [r], segmentSize: f.meta.walSegmentSize, timeline: 1, prefetch: 0 });
      await expect(strict.read(parseLsn(f.meta.startLsn))).rejects.toThrow(gzip ? /ends before its gzip stream does/ : /has wrong size: 3000/);
      // The copy finishes: the follower reads the records.
      const wal = await ArchiveWal.open({ restoreCommand: `cp ${dir}/%f %p`, segmentSize: f.meta.walSegmentSize, prefetch: 0 });
      const abort = new AbortController();
      setTimeout(() => fs.writeFileSync(path.join(dir, seg), member), 150);
      const got: number[] = [];
      const timer = setTimeout(() => abort.abort(new Error('the follower never read the finished copy')), 20_000);
      for await (const rec of wal.records({ start: parseLsn(f.meta.startLsn), end: parseLsn(f.meta.endLsn), follow: { pollMs: 50 }, signal: abort.signal })) got.push(rec.lsn);
      clearTimeout(timer);
      wal.close();
      r.close();
      expect(got).toEqual(fixtureRead(f).records.map((x) => x.lsn));
    }
  });
});

describe('reading through an archive', () => {
  it('gives the same records as reading the files directly, with read-ahead', async () => {
    const wal = await ArchiveWal.open({ restoreCommand: `cp ${archive}/%f %p`, segmentSize: f.meta.walSegmentSize, prefetch: 2 });
    const got = [];
    const stream = wal.records({ start: parseLsn(f.meta.startLsn), end: parseLsn(f.meta.endLsn) });
    for await (const r of stream) got.push([r.lsn, r.endLsn, r.crc]);
    wal.close();
    expect(got).toEqual(fixtureRead(f).records.map((r) => [r.lsn, r.endLsn, r.crc]));
    expect(stream.end?.reason).toBe('end-lsn');
  });

  it('ends cleanly where the archive ends, naming the missing file', async () => {
    const wal = await ArchiveWal.open({ dirs: [archive], segmentSize: f.meta.walSegmentSize });
    const stream = wal.records({ start: parseLsn(f.meta.startLsn) });
    let n = 0;
    for await (const _ of stream) n++;
    expect(n).toBeGreaterThan(5);
    expect(stream.end?.reason).toBe('invalid-record');
  });
});

describe('follow mode', () => {
  it('waits at the end of the archive and goes on when the next segment arrives', async () => {
    const { WalBuilder, filler } = await import('./support/walbuilder.js');
    const b = new WalBuilder();
    b.add(filler(100));
    while (b.pos < b.startLsn + b.segmentSize + 20000) b.add(filler(7000, b.lsns.length));
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-follow-'));
    tmp.push(dir);
    const [[first, firstBytes], [second, secondBytes]] = [...b.segments()] as [string, Uint8Array][];
    fs.writeFileSync(path.join(dir, first), firstBytes);
    const wal = await ArchiveWal.open({ restoreCommand: `cp ${dir}/%f %p`, segmentSize: b.segmentSize, prefetch: 1 });
    const controller = new AbortController();
    const seen: number[] = [];
    let polls = 0;
    const done = (async () => {
      for await (const r of wal.records({ start: b.startLsn, signal: controller.signal, follow: { pollMs: 20 } })) {
        seen.push(r.lsn);
        if (seen.length === b.lsns.length) controller.abort();
      }
    })();
    // Let it reach the end of the first segment and wait there, then archive the second one.
    for (let stable = 0; stable < 10; ) {
      const before = seen.length;
      await new Promise((r) => setTimeout(r, 20));
      stable = seen.length === before && before > 0 ? stable + 1 : 0;
    }
    polls = seen.length;
    fs.writeFileSync(path.join(dir, second), secondBytes);
    await expect(done).rejects.toThrow(/abort/i);
    wal.close();
    expect(polls).toBeLessThan(b.lsns.length);
    expect(seen).toEqual(b.lsns);
  });
});
