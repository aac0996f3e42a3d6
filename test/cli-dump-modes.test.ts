// pgwal dump's modes that pg_waldump 15 cannot be compared on: --save-fullpage (16+), --follow, and the
// library's AbortSignal.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dump } from '../src/cli/dump.js';
import { openWal } from '../src/node/wal.js';
import { formatLsn } from '../src/index.js';
import { listFixtures, readTsv } from './support/fixtures.js';
import { extractSegments } from './support/cli.js';
import { WalBuilder, filler } from './support/walbuilder.js';

const tmp: string[] = [];
afterAll(() => tmp.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
const mkdtemp = (): string => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-modes-'));
  tmp.push(d);
  return d;
};

describe('--save-fullpage', () => {
  it('writes each full-page image as pg_waldump 16+ names it, equal to pg_get_wal_block_info\'s page', async () => {
    const f = listFixtures().find((x) => x.id === 'pg16/fpi-pglz')!;
    const dir = extractSegments(f);
    tmp.push(dir);
    const out = path.join(mkdtemp(), 'pages');
    let err = '';
    const code = await dump(['-p', dir, '-s', f.meta.startLsn, '-e', f.meta.endLsn, '-q', `--save-fullpage=${out}`], {
      out: () => undefined,
      err: (t) => (err += t),
      errIsTty: false,
      env: {},
      cwd: process.cwd(),
      sleep: async () => undefined,
    });
    expect({ code, err }).toEqual({ code: 0, err: '' });
    const blocks = readTsv(f, 'blocks.tsv').filter((b) => b.block_fpi_data !== null);
    const files = fs.readdirSync(out).sort();
    expect(files.length).toBe(blocks.length);
    for (const b of blocks) {
      const [hi, lo] = b.start_lsn!.split('/').map((x) => x.padStart(8, '0'));
      const fork = ['main', 'fsm', 'vm', 'init'][Number(b.relforknumber)];
      const name = `00000001-${hi}-${lo}.${b.reltablespace}.${b.reldatabase}.${b.relfilenode}.${b.relblocknumber}_${fork}`;
      expect(files).toContain(name);
      expect('\\x' + fs.readFileSync(path.join(out, name)).toString('hex')).toBe(b.block_fpi_data);
    }
  });
});

describe('--follow', () => {
  it('waits at the end of WAL and prints records written later', async () => {
    const b = new WalBuilder();
    b.add(filler(100));
    b.add(filler(200, 2));
    const dir = mkdtemp();
    const [name, bytes] = [...b.segments()][0]!;
    const file = path.join(dir, name);
    fs.writeFileSync(file, bytes);
    const controller = new AbortController();
    let out = '';
    let sleeps = 0;
    const code = await dump(['-p', dir, '-s', formatLsn(b.startLsn), '-f'], {
      out: (t) => (out += t),
      err: () => undefined,
      errIsTty: false,
      env: {},
      cwd: process.cwd(),
      signal: controller.signal,
      sleep: async () => {
        sleeps++;
        if (sleeps === 1) {
          // The server writes two more records meanwhile.
          b.add(filler(300, 3));
          b.add(filler(20000, 4));
          fs.writeFileSync(file, [...b.segments()][0]![1]);
        } else controller.abort();
      },
    });
    expect(code).toBe(0);
    const lsns = out.trimEnd().split('\n').map((l) => /lsn: (\S+),/.exec(l)![1]);
    expect(lsns.length).toBe(4);
    expect(sleeps).toBe(2);
  });
});

describe('the library stream', () => {
  it('stops with an AbortError when its signal aborts, and reports the end otherwise', async () => {
    const f = listFixtures().find((x) => x.id === 'pg18/copy')!;
    const dir = extractSegments(f);
    tmp.push(dir);
    const wal = openWal({ path: dir });
    const all = wal.records();
    let n = 0;
    for await (const r of all) n += r.lsn > 0 ? 1 : 0;
    expect(n).toBeGreaterThan(600);
    expect(all.end?.reason).toBe('invalid-record');
    const controller = new AbortController();
    let seen = 0;
    await expect(
      (async () => {
        for await (const _ of wal.records({ signal: controller.signal })) {
          if (++seen === 10) controller.abort();
        }
      })(),
    ).rejects.toThrow(/abort/i);
    expect(seen).toBe(10);
    expect([...wal.recordsSync()].length).toBe(n);
  });
});
