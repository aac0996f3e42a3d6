// `pgwal dump` on the committed fixtures: pg_waldump's text (PostgreSQL 15), pg_walinspect's rows as JSON (all
// majors), end-of-WAL messages and argument errors.
import fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { hasFixtureFile, listFixtures, readFixtureFile, readTsv, type Fixture } from './support/fixtures.js';
import { extractSegments, runDump } from './support/cli.js';

const fixtures = listFixtures();
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function segs(f: Fixture): string {
  const d = extractSegments(f);
  dirs.push(d);
  return d;
}

describe.each(fixtures.filter((f) => hasFixtureFile(f, 'waldump.txt')).map((f) => [f.id, f] as [string, Fixture]))('%s: text as pg_waldump 15 printed it', (_id, f) => {
  it('records, -b and --stats=record are byte-identical; the end of WAL is reported the same way', async () => {
    const dir = segs(f);
    const range = ['-p', dir, '-s', f.meta.startLsn, '-e', f.meta.endLsn];
    const plain = await runDump(range);
    expect(plain).toEqual({ code: 0, out: readFixtureFile(f, 'waldump.txt').toString(), err: '' });
    expect((await runDump([...range, '-b'])).out).toBe(readFixtureFile(f, 'waldump-bkp.txt').toString());
    expect((await runDump([...range, '--stats=record'])).out).toBe(readFixtureFile(f, 'waldump-stats.txt').toString());
    const tail = await runDump(['-p', dir, '-s', f.meta.startLsn, '-q']);
    const expected = readFixtureFile(f, 'waldump-end.txt').toString().replace(/^exit (\d+)\n/, '').replace(/^pg_waldump:/gm, 'pgwal dump:');
    expect(tail.code).toBe(1);
    expect(tail.err).toBe(expected);
  });
});

describe.each(fixtures.map((f) => [f.id, f] as [string, Fixture]))('%s: --json', (_id, f) => {
  it('prints pg_get_wal_records_info\'s rows, with block references as pg_get_wal_block_info lists them', async () => {
    const dir = segs(f);
    const r = await runDump(['-p', dir, '-s', f.meta.startLsn, '-e', f.meta.endLsn, '--json']);
    expect(r.code).toBe(0);
    const ours = r.out.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const rows = readTsv(f, 'records.tsv');
    expect(ours.length).toBe(rows.length);
    ours.forEach((o, i) => {
      const row = rows[i]!;
      expect({ ...o, blocks: undefined }).toEqual({
        ...row,
        record_length: Number(row.record_length),
        main_data_length: Number(row.main_data_length),
        fpi_length: Number(row.fpi_length),
        blocks: undefined,
      });
    });
    if (f.meta.major >= 16) {
      const blocks = readTsv(f, 'blocks.tsv');
      const flat = ours.flatMap((o) => (o.blocks as Record<string, unknown>[]).map((b) => ({ start: o.start_lsn, ...b })));
      expect(flat.length).toBe(blocks.length);
      flat.forEach((b, i) => {
        const s = blocks[i]!;
        expect(b).toEqual({
          start: s.start_lsn,
          block_id: Number(s.block_id),
          reltablespace: Number(s.reltablespace),
          reldatabase: Number(s.reldatabase),
          relfilenode: Number(s.relfilenode),
          relforknumber: Number(s.relforknumber),
          relblocknumber: Number(s.relblocknumber),
          block_data_length: Number(s.block_data_length),
          block_fpi_length: Number(s.block_fpi_length),
          block_fpi_info: s.block_fpi_info === null ? null : s.block_fpi_info.slice(1, -1).split(','),
        });
      });
    }
  });
});

describe('argument errors', () => {
  it('refuses bad input with pg_waldump\'s messages and exit code 1', async () => {
    const hint = 'pgwal dump: hint: Try "pgwal dump --help" for more information.\n';
    const cases: [string[], string][] = [
      [[], 'no arguments specified'],
      [['-s', 'zz'], 'invalid WAL location: "zz"'],
      [['-e', '1/'], 'invalid WAL location: "1/"'],
      [['-B', '3'], 'option -B/--block requires option -R/--relation to be specified'],
      [['-r', 'nosuch'], 'resource manager "nosuch" does not exist'],
      [['-r', 'custom042'], 'custom resource manager "custom042" does not exist'],
      [['-F', 'spoon'], 'invalid fork name: "spoon"'],
      [['-x', 'abc'], 'invalid transaction ID specification: "abc"'],
      [['-t', '0'], '-t/--timeline must be in range 1..4294967295'],
      [['-z=bad'], 'unrecognized value for option --stats: =bad'],
      [['--stats=bad'], 'unrecognized value for option --stats: bad'],
      [['a', 'b', 'c'], 'too many command-line arguments (first is "c")'],
      [['-p', '/nonexistent/dir'], 'could not open directory "/nonexistent/dir": No such file or directory'],
    ];
    for (const [argv, message] of cases) {
      const r = await runDump(argv);
      expect(r.code, argv.join(' ')).toBe(1);
      expect(r.err, argv.join(' ')).toBe(`pgwal dump: error: ${message}\n${hint}`);
      expect(r.out).toBe('');
    }
    const list = await runDump(['--rmgr=list']);
    expect(list.out.split('\n').slice(0, 3)).toEqual(['XLOG', 'Transaction', 'Storage']);
  });
});

// A segment named on the command line is found gzipped too, as -s finds it (issue 15, item 4).
describe('a segment named in a folder that holds it gzipped', () => {
  const f = fixtures.find((x) => x.id === 'pg15/types-dml')!;
  it('prints what the plain segment prints', async () => {
    const plain = extractSegments(f);
    const gz = fs.mkdtempSync(`${plain}-gz`);
    try {
      const name = f.meta.segments[0]!;
      fs.copyFileSync(`${f.dir}/${name}.gz`, `${gz}/${name}.gz`);
      const want = await runDump(['-p', plain, name]);
      expect(want.out.split('\n').length).toBeGreaterThan(10);
      // Each run's error line names where its WAL ends; the records are the same.
      expect(await runDump(['-p', gz, name])).toEqual(want);
    } finally {
      fs.rmSync(plain, { recursive: true, force: true });
      fs.rmSync(gz, { recursive: true, force: true });
    }
  });
});
