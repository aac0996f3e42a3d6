// pg_waldump prints commit times in local time with the zone's abbreviation (compat.c's strftime "%Z"). pgwal
// caches the abbreviation per minute (asking Intl each time was most of `dump`'s text time); across a
// daylight-saving change the cached text must equal what Intl (the tz database) says for each instant.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { formatTimestampFrontend } from '../src/xlogreader/timestamp.js';
import { localZoneAbbreviation } from '../src/node/localzone.js';
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
  // POSIX rules Node's Date does not apply (it prints UTC hours for them): an offset in <>, daylight time with
  // rules north and south, the US rules glibc takes when none are given, and day-number rules.
  it.each(['Europe/Berlin', 'Asia/Kolkata', 'Australia/Lord_Howe', 'America/New_York', ':Europe/Paris', '', 'EST5EDT', 'XYZ+3', 'No/Such_Zone', 'zone.tab', 'ab', 'Foo/../UTC', '/etc/passwd', ':', '<+03>-3', '<-0330>3:30', 'CET-1CEST,M3.5.0,M10.5.0/3', 'NZST-12NZDT,M9.5.0,M4.1.0/3', 'ABC5DEF', 'AAA-2BBB,0/0,365/23', 'JJJ+1KKK,J60,J350/1:30'])('TZ=%j', (tz) => {
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

// The same rules at every hour of two years and every minute around their changes, against the C library's own
// localtime (GNU date, reading the instants from stdin): what pg_waldump's strftime prints. (A rule-less daylight
// name, "ABC5DEF", is left to the pg_waldump test above: glibc then borrows posixrules' transitions and, over many
// calls in one process, answers differently for the same instant.)
describe('POSIX TZ rules and zone files: local time and name at any instant, as the C library gives them', () => {
  it.each([
    ['CET-1CEST,M3.5.0,M10.5.0/3', 2],
    ['NZST-12NZDT,M9.5.0,M4.1.0/3', 2],
    ['<+0545>-5:45', 1],
    ['AAA-2BBB,J60/2,J300/-1', 2],
    ['XXX3YYY,M2.5.6/26,M11.1.0/-2', 2],
    ['Europe/Berlin', 2],
    ['America/Santiago', 2],
    ['Asia/Tehran', 1],
  ])('TZ=%j', (tz, zoneNames) => {
    const zone = localZoneAbbreviation({ TZ: tz })!;
    expect(zone, 'a zone').toBeDefined();
    const start = Date.UTC(2026, 0, 1) / 1000;
    const instants: number[] = [];
    for (let t = start; t < start + 2 * 366 * 86400; t += 3600) instants.push(t);
    // Around each hour whose name changes: every minute of the two hours either side.
    const names = instants.map((t) => zone(t * 1000, 0));
    for (let i = 1; i < instants.length; i++) if (names[i] !== names[i - 1]) for (let t = instants[i]! - 7200; t <= instants[i]! + 7200; t += 60) instants.push(t);
    const date = spawnSync('date', ['-f', '-', '+%Y-%m-%d %H:%M:%S %Z'], { input: instants.map((t) => `@${t}`).join('\n'), encoding: 'utf8', env: { ...process.env, TZ: tz, LC_ALL: 'C' }, maxBuffer: 1 << 26 });
    const theirs = date.stdout.trimEnd().split('\n');
    expect(theirs.length).toBe(instants.length);
    const changes = new Set<string>();
    instants.forEach((t, i) => {
      const ours = formatTimestampFrontend(usec(t * 1000), zone).replace(/\.\d+ /, ' ');
      expect(ours, `${tz} at ${new Date(t * 1000).toISOString()}`).toBe(theirs[i]);
      changes.add(ours.slice(ours.lastIndexOf(' ') + 1));
    });
    expect(changes.size, 'the zone\'s names were met').toBe(zoneNames);
  });
});
