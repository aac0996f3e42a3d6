// `pgwal dump -e` where the end LSN cuts a page header: pg_waldump's read callback gives the reader only the bytes
// before -e, and a read of no more than a short page header ends reading without a word (exit 0), as does a read
// that would pass -e. Compared with Debian's pg_waldump 15 on the fixtures whose WAL crosses a segment (long
// header) and at page starts inside one (short header), for every end LSN from the page start to past its header.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { formatLsn, parseLsn } from '../src/lsn.js';
import { extractSegments, runDump } from './support/cli.js';
import { listFixtures, readSegment, type Fixture } from './support/fixtures.js';

const PG_WALDUMP = '/usr/lib/postgresql/15/bin/pg_waldump';
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function pgWaldump(args: string[]): { code: number; out: string; err: string } {
  try {
    const out = execFileSync(PG_WALDUMP, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TZ: 'UTC' } });
    return { code: 0, out, err: '' };
  } catch (e) {
    const x = e as { status: number; stdout: string; stderr: string };
    return { code: x.status, out: x.stdout, err: x.stderr };
  }
}

/**
 * Whether pg_waldump would look at bytes past -e, which it never read (what its buffer held before): it asks for a
 * record header at a page's start before skipping the page header (24 bytes, not header + 24), and for a record's
 * rest on a page as if its header were short. Its answer there depends on an old page, not on the WAL.
 */
function readsPastEnd(f: Fixture, end: number): boolean {
  const segmentSize = 1 << 20;
  const page = end - (end % 8192);
  const bytes = readSegment(f, f.meta.segments.find((s) => parseInt(s.slice(16), 16) === Math.floor(page / segmentSize))!);
  const off = page % segmentSize;
  const v = new DataView(bytes.buffer, bytes.byteOffset + off, 24);
  const header = v.getUint16(2, true) & 0x0002 ? 40 : 24;
  const remLen = v.getUint32(16, true);
  if (remLen === 0) return end > page + 24 && end < page + header + 24;
  const restEnd = page + header + Math.min(remLen, 8192 - header);
  return end >= page + Math.min(remLen + 24, 8192) && end < restEnd;
}

const fixtures = listFixtures().filter((f) => f.meta.major === 15 && f.meta.segments.length > 1);

describe.each(fixtures.map((f) => [f.id, f] as [string, Fixture]))('%s', (_id, f) => {
  it('ends where pg_waldump ends, with its exit code and words, for -e inside a page header', async () => {
    expect(fs.existsSync(PG_WALDUMP), `${PG_WALDUMP} (Debian's postgresql-15) is needed`).toBe(true);
    const dir = extractSegments(f);
    dirs.push(dir);
    const segmentSize = 1 << 20;
    const start = parseLsn(f.meta.startLsn);
    const second = (Math.floor(start / segmentSize) + 1) * segmentSize;
    const ends: number[] = [];
    // A segment's first page (long header, 40 bytes) and two pages inside it (short header, 24 bytes).
    for (const page of [second, second + 8192, second + 5 * 8192]) for (let k = 0; k <= 48; k += 4) ends.push(page + k, page + k + 1);
    let silentCuts = 0;
    let compared = 0;
    for (const end of ends) {
      if (end > parseLsn(f.meta.endLsn) || readsPastEnd(f, end)) continue;
      compared++;
      const args = ['-p', dir, '-s', f.meta.startLsn, '-e', formatLsn(end)];
      const theirs = pgWaldump(args);
      const ours = await runDump(args);
      expect({ code: ours.code, out: ours.out, err: ours.err }, `-e ${formatLsn(end)}`).toEqual({ code: theirs.code, out: theirs.out, err: theirs.err.replace(/^pg_waldump:/gm, 'pgwal dump:') });
      if (theirs.code === 0 && end % 8192 !== 0 && end % 8192 <= 24) silentCuts++;
    }
    expect(silentCuts).toBeGreaterThan(0);
    expect(compared).toBeGreaterThanOrEqual(10);
  });
});
