// pg_waldump prints commit times in local time with the zone's abbreviation (compat.c's strftime "%Z"). pgwal
// caches the abbreviation per minute (asking Intl each time was most of `dump`'s text time); across a
// daylight-saving change the cached text must equal what Intl (the tz database) says for each instant.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { formatTimestampFrontend } from '../src/xlogreader/timestamp.js';
import { cliBundle } from './support/cli-process.js';
import { extractSegments } from './support/cli.js';
import { listFixtures } from './support/fixtures.js';

const PG_WALDUMP = '/usr/lib/postgresql/15/bin/pg_waldump';

const savedTz = process.env.TZ;
afterAll(() => {
  if (savedTz === undefined) delete process.env.TZ;
  else process.env.TZ = savedTz;
});

const EPOCH_2000_MS = 946_684_800_000;
const usec = (ms: number): bigint => BigInt(ms - EPOCH_2000_MS) * 1000n;
const intlZone = (ms: number): string =>
  new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' }).formatToParts(new Date(ms)).find((p) => p.type === 'timeZoneName')!.value;

describe('the zone abbreviation of pg_waldump timestamps', () => {
  it.each([
    // Europe/Berlin leaves CET for CEST at 2026-03-29 01:00 UTC; Lord Howe moves by 30 minutes at 15:30 UTC.
    ['Europe/Berlin', Date.UTC(2026, 2, 29, 1, 0, 0)],
    ['Australia/Lord_Howe', Date.UTC(2026, 9, 3, 15, 30, 0)],
    ['America/New_York', Date.UTC(2026, 10, 1, 6, 0, 0)],
  ])('%s: every second around a change of zone', (tz, change) => {
    process.env.TZ = tz;
    const seen = new Set<string>();
    // Forwards, then backwards (the cache must not hold a minute's text past its end either way).
    const instants: number[] = [];
    for (let ms = change - 150_000; ms <= change + 150_000; ms += 1000) instants.push(ms);
    for (const ms of [...instants, ...instants.reverse()]) {
      const text = formatTimestampFrontend(usec(ms + 123));
      const zone = text.slice(text.lastIndexOf(' ') + 1);
      expect(zone, `${tz} at ${new Date(ms).toISOString()}`).toBe(intlZone(ms + 123));
      seen.add(zone);
    }
    expect(seen.size).toBe(2);
  });
});

describe('pgwal dump under a TZ, against pg_waldump under the same TZ', () => {
  const f = listFixtures().find((x) => x.id === 'pg15/types-dml')!;
  const dir = extractSegments(f);
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  // tzdata names (Intl's en-US names differ: "GMT+1" for CET, "GMT+5:30" for IST), TZ empty, a ':' file, a
  // POSIX rule without DST part and one that names a tzdata file; names of no zone file, which glibc takes as a
  // rule (a bare name at UTC; under 3 letters, no name; '..' refused), a file that is not a zone, and ':' alone.
  it.each(['Europe/Berlin', 'Asia/Kolkata', 'Australia/Lord_Howe', 'America/New_York', ':Europe/Paris', '', 'EST5EDT', 'XYZ+3', 'No/Such_Zone', 'zone.tab', 'ab', 'Foo/../UTC', '/etc/passwd', ':'])('TZ=%j', (tz) => {
    expect(fs.existsSync(PG_WALDUMP), `${PG_WALDUMP} is missing: apt-get install -y postgresql-15`).toBe(true);
    const args = ['-p', dir, '-s', f.meta.startLsn, '-e', f.meta.endLsn];
    const env = { ...process.env, TZ: tz, LC_ALL: 'C' };
    const theirs = spawnSync(PG_WALDUMP, args, { encoding: 'utf8', env, maxBuffer: 1 << 26 });
    const ours = spawnSync(process.execPath, [cliBundle(), 'dump', ...args], { encoding: 'utf8', env, maxBuffer: 1 << 26 });
    expect(theirs.stdout).toMatch(/COMMIT \d{4}-/);
    expect(ours.stdout).toBe(theirs.stdout);
    expect(ours.status).toBe(theirs.status);
  });
});
