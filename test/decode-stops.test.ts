// `pgwal decode` and `pgwal slot advance` that stop before where they had to get (issue 14, item 3): the
// restart_lsn's segment missing, a bad record CRC with WAL after it, a truncated or swapped segment, the wrong
// wal_segment_size, a restore_command that fails, an --end or confirmed_flush past the WAL: each is an error
// (exit 1, one line saying where and why). A normal end of the WAL is said on stderr in the server's words.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { listFixtures, readFixtureFile, readSegment, type Fixture } from './support/fixtures.js';
import { runCli } from './support/cli.js';
import { parseSlotState, serializeSlotState } from '../src/slot/state.js';
import { openWal } from '../src/node/wal.js';

const PG_WALDUMP = '/usr/lib/postgresql/15/bin/pg_waldump';
const fx = (id: string): Fixture => listFixtures().find((f) => f.id === id)!;
const dml = fx('pg15/types-dml');
/** Where the fixture's WAL ends, as pg_waldump 15 said over its files (waldump-end.txt). */
const END = /invalid record length at (\S+):/.exec(readFixtureFile(dml, 'waldump-end.txt').toString())![1]!;
const END_RE = END.replace('/', '\\/'); // one 1 MB segment, 000000010000000000000007; restart_lsn 0/7000A0
const torn = fx('pg15/torn-record'); // segments 7 and 8; restart_lsn 0/700060
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

/** A folder with the fixture's slot state and the given segments (name → bytes). */
function folder(f: Fixture, segments: Record<string, Uint8Array>): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-stops-'));
  dirs.push(d);
  fs.copyFileSync(path.join(f.dir, 'slot.state'), path.join(d, 'slot.state'));
  for (const [name, bytes] of Object.entries(segments)) fs.writeFileSync(path.join(d, name), bytes);
  return d;
}

const SEG7 = '000000010000000000000007';
const SEG8 = '000000010000000000000008';

/** What pg_waldump 15 says reading `dir` from `start` (its "error: …" text), when Debian's is installed. */
function waldumpSays(dir: string, start: string): string | undefined {
  if (!fs.existsSync(PG_WALDUMP)) return undefined;
  try {
    execFileSync(PG_WALDUMP, ['-p', dir, '-s', start, '-q'], { stdio: 'pipe' });
    return '';
  } catch (e) {
    return String((e as { stderr: Buffer }).stderr).replace(/^pg_waldump: error: /, '').trim();
  }
}

describe('decode stops early: an error', () => {
  it('the restart_lsn segment missing', async () => {
    const d = folder(torn, { [SEG8]: readSegment(torn, SEG8) });
    const r = await runCli(['decode', '--state', path.join(d, 'slot.state'), '-p', d]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`pgwal decode: error: could not read WAL at the slot's restart_lsn 0/700060: could not find file "${SEG7}": No such file or directory\n`);
  });

  it('a bad record checksum with more WAL after it, in pg_waldump\'s words', async () => {
    const seg = Uint8Array.from(readSegment(dml, SEG7));
    seg[0x990 + 40]! ^= 0xff; // inside the record at 0/700990
    const d = folder(dml, { [SEG7]: seg });
    const theirs = waldumpSays(d, '0/700000') ?? 'error in WAL record at 0/700960: incorrect resource manager data checksum in record at 0/700990';
    expect(theirs).toMatch(/^error in WAL record at 0\/700960: incorrect resource manager data checksum in record at 0\/700990$/);
    const r = await runCli(['decode', '--state', path.join(d, 'slot.state'), '-p', d]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`pgwal decode: error: ${theirs}; WAL continues after it, at 0/702000\n`);
    // The transactions before it were printed.
    expect(r.stdout).toMatch(/^BEGIN 728\n/);
  });

  it('a truncated segment', async () => {
    const d = folder(dml, { [SEG7]: readSegment(dml, SEG7).subarray(0, 5000) });
    const r = await runCli(['decode', '--state', path.join(d, 'slot.state'), '-p', d]);
    expect(r.code).toBe(1);
    // pg_waldump's words for it (search_directory reads a whole first page).
    expect(r.stderr).toBe('pgwal decode: error: could not read file "000000010000000000000007": read 5000 of 8192\n');
  });

  it('a truncated segment past confirmed_flush', async () => {
    const d = folder(dml, { [SEG7]: readSegment(dml, SEG7).subarray(0, 16384 + 100) });
    const r = await runCli(['decode', '--state', path.join(d, 'slot.state'), '-p', d]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/; file "000000010000000000000007" is 16484 bytes, not a whole segment of 1048576\n$/);
  });

  it('a swapped segment', async () => {
    const d = folder(torn, { [SEG7]: readSegment(torn, SEG8), [SEG8]: readSegment(torn, SEG7) });
    const r = await runCli(['decode', '--state', path.join(d, 'slot.state'), '-p', d]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`pgwal decode: error: could not read WAL at the slot's restart_lsn 0/700060: unexpected pageaddr 0/800000 in log segment ${SEG7}, offset 0\n`);
  });

  it('a later segment in the place of one past confirmed_flush (not a recycled one: its address is ahead)', async () => {
    // Segment 8 with the page addresses segment 9 would have: what a swap of 8 and 9 leaves in the place of 8.
    const later = Uint8Array.from(readSegment(torn, SEG8));
    const v = new DataView(later.buffer);
    for (let off = 0; off < later.length; off += 8192) v.setUint32(off + 8, v.getUint32(off + 8, true) + 0x100000, true);
    const d = folder(torn, { [SEG7]: readSegment(torn, SEG7), [SEG8]: later });
    const theirs = waldumpSays(d, '0/700000') ?? `error in WAL record at 0/7FDD98: unexpected pageaddr 0/900000 in log segment ${SEG8}, offset 0`;
    const r = await runCli(['decode', '--state', path.join(d, 'slot.state'), '-p', d]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`pgwal decode: error: ${theirs}; the page at 0/800000 holds the WAL of 0/900000: a later segment's file in its place ("${SEG8}")\n`);
  });

  it('--end past the end of the WAL', async () => {
    const d = folder(dml, { [SEG7]: readSegment(dml, SEG7) });
    const r = await runCli(['decode', '--state', path.join(d, 'slot.state'), '-p', d, '--end', '0/703000']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`pgwal decode: error: WAL ends at ${END}, before --end 0/703000: invalid record length at ${END}: wanted 24, got 0\n`);
  });

  it('confirmed_flush past the end of the WAL', async () => {
    const d = folder(dml, { [SEG7]: readSegment(dml, SEG7) });
    const state = parseSlotState(fs.readFileSync(path.join(d, 'slot.state')), 'slot.state');
    fs.writeFileSync(path.join(d, 'slot.state'), serializeSlotState({ ...state, confirmedFlush: '0/702500' }));
    const r = await runCli(['decode', '--state', path.join(d, 'slot.state'), '-p', d]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`pgwal decode: error: WAL ends at ${END}, before the slot's confirmed_flush 0/702500: invalid record length at ${END}: wanted 24, got 0\n`);
  });

  it('--restore-command false', async () => {
    const d = folder(dml, {});
    const r = await runCli(['decode', '--state', path.join(d, 'slot.state'), '--restore-command', 'false']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^pgwal decode: error: could not restore the segment of 0\/7000A0 for any wal_segment_size \(asked for "000000010000000000000000", "000000010000000000000007", .*\)\n$/);
  });

  it('the wrong --wal-segsize (16 MB on 1 MB segments)', async () => {
    const d = folder(dml, { [SEG7]: readSegment(dml, SEG7) });
    const r = await runCli(['decode', '--state', path.join(d, 'slot.state'), '--restore-command', `cp '${d}/%f' %p`, '--wal-segsize', '16']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^pgwal decode: error: could not read WAL at the slot's restart_lsn 0\/7000A0: could not restore file "000000010000000000000000" from archive: not found/);
  });
});

describe('decode stops at the end of the WAL: said on stderr', () => {
  // pg_waldump's own words for where this WAL ends (the fixture's waldump-end.txt).
  const serverSays = /: (invalid record length at .*)$/m.exec(readFixtureFile(dml, 'waldump-end.txt').toString())![1]!;

  it('from folders', async () => {
    const d = folder(dml, { [SEG7]: readSegment(dml, SEG7) });
    const r = await runCli(['decode', '--state', path.join(d, 'slot.state'), '-p', d]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(`pgwal decode: end of WAL at ${END}: ${serverSays}\n`);
  });

  it('through a restore_command, the segment size read from the first segment', async () => {
    const d = folder(dml, { [SEG7]: readSegment(dml, SEG7) });
    const byFolder = await runCli(['decode', '--state', path.join(d, 'slot.state'), '-p', d]);
    const r = await runCli(['decode', '--state', path.join(d, 'slot.state'), '--restore-command', `cp '${d}/%f' %p`]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(byFolder.stdout);
    expect(r.stdout.length).toBeGreaterThan(0);
    expect(r.stderr).toBe(`pgwal decode: end of WAL at ${END}: ${serverSays}\n`);
  });

  it('a bad checksum through a restore_command is an error too', async () => {
    const seg = Uint8Array.from(readSegment(dml, SEG7));
    seg[0x990 + 40]! ^= 0xff;
    const d = folder(dml, { [SEG7]: seg });
    const r = await runCli(['decode', '--state', path.join(d, 'slot.state'), '--restore-command', `cp '${d}/%f' %p`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/incorrect resource manager data checksum in record at 0\/700990; WAL continues after it, at 0\/702000\n$/);
  });
});

describe('slot advance', () => {
  it('does not say "advanced" when it could not read the WAL, and leaves the slot', async () => {
    const d = folder(torn, { [SEG8]: readSegment(torn, SEG8) });
    const before = fs.readFileSync(path.join(d, 'slot.state'));
    const r = await runCli(['slot', 'advance', '--state', path.join(d, 'slot.state'), '--to', '0/8011B0', '-p', d]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^pgwal slot advance: error: could not read WAL at the slot's restart_lsn 0\/700060: could not find file/);
    expect(fs.readFileSync(path.join(d, 'slot.state'))).toEqual(before);
  });

  it('a bad checksum with WAL after it is an error', async () => {
    const seg = Uint8Array.from(readSegment(dml, SEG7));
    seg[0x990 + 40]! ^= 0xff;
    const d = folder(dml, { [SEG7]: seg });
    const r = await runCli(['slot', 'advance', '--state', path.join(d, 'slot.state'), '--to', END, '-p', d]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error in WAL record at 0\/700960: incorrect resource manager data checksum/);
  });

  it('a target past the end is clamped, and says so', async () => {
    const d = folder(dml, { [SEG7]: readSegment(dml, SEG7) });
    const r = await runCli(['slot', 'advance', '--state', path.join(d, 'slot.state'), '--to', '0/FFFFFF', '-p', d]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`advanced: restart_lsn ${END}, confirmed_flush_lsn ${END}`);
    expect(r.stderr).toMatch(new RegExp(`^pgwal slot advance: end of WAL at ${END_RE}: invalid record length .*; --to 0\\/FFFFFF is past it\\n$`));
    const again = await runCli(['slot', 'advance', '--state', path.join(d, 'slot.state'), '--to', '0/FFFFFF', '-p', d]);
    expect(again).toMatchObject({ code: 0, stdout: `slot "fx_types_dml" already at ${END}\n` });
  });
});

describe('damage is judged on a fresh look', () => {
  it('a record that reads now (a server completed it meanwhile) is the end as it was, not damage', () => {
    const d = folder(dml, { [SEG7]: readSegment(dml, SEG7) });
    const wal = openWal({ path: d });
    // As if reading had stopped at 0/700990 while the server was writing it: the pages after it are valid.
    expect(wal.damageAfter({ reason: 'invalid-record', lsn: 0x700990, message: 'record with incorrect prev-link' })).toBeUndefined();
    const bad = Uint8Array.from(readSegment(dml, SEG7));
    bad[0x990 + 40]! ^= 0xff;
    fs.writeFileSync(path.join(d, SEG7), bad);
    expect(openWal({ path: d }).damageAfter({ reason: 'invalid-record', lsn: 0x700990, message: '' })).toBe('WAL continues after it, at 0/702000');
  });
});
