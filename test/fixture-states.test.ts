// Every shipped slot state decodes with every plugin: test_decoding (its rows are the server's, checked in
// decoding-fixtures.test.ts) and --plugin json, whose row changes must be the server's row changes one for one
// (wal2json prints every INSERT/UPDATE/DELETE test_decoding prints when each table has a key; the wal2json
// scenario, which has tables without one, is checked against real wal2json in wal2json-fixtures.test.ts).
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { listFixtures, readTsv, type Fixture } from './support/fixtures.js';
import { runCli } from './support/cli.js';
import os from 'node:os';
import { afterAll } from 'vitest';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-states-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const fixtures = listFixtures().filter((f) => fs.existsSync(path.join(f.dir, 'slot.state')));

describe.each(fixtures.map((f) => [f.id, f] as [string, Fixture]))('the shipped state of %s', (_id, f) => {
  // A copy: a decode holds its slot (as the server's peek does), and other tests decode the same shipped state.
  const copy = (): string => {
    const dir = fs.mkdtempSync(path.join(tmp, `${f.meta.major}-`));
    for (const n of fs.readdirSync(f.dir)) if (n.startsWith('slot.state') || n.startsWith('catalog-pages')) fs.cpSync(path.join(f.dir, n), path.join(dir, n), { recursive: true });
    return path.join(dir, 'slot.state');
  };
  const base = ['--state', copy(), '-p', f.dir, '--end', f.meta.endLsn];

  it('decodes with test_decoding and with --plugin json', async () => {
    const td = await runCli(['decode', ...base, '-o', 'skip-empty-xacts=1']);
    expect(td.stderr).not.toMatch(/error/);
    expect(td.code).toBe(0);
    const json = await runCli(['decode', ...base, '--plugin', 'json']);
    expect(json.stderr).not.toMatch(/error/);
    expect(json.code).toBe(0);
    if (f.meta.scenario === 'wal2json') return;
    const server = readTsv(f, 'decoded.tsv').filter((r) => /^table [^ ]+: (INSERT|UPDATE|DELETE):/.test(r.data ?? ''));
    const rows = json.stdout.split('\n').filter((l) => /^\{"action":"[IUD]"/.test(l));
    expect(rows.length).toBe(server.length);
    // The same tables in the same order.
    const table = (l: string): string => {
      const o = JSON.parse(l) as { schema: string; table: string };
      return `${o.schema}.${o.table}`;
    };
    expect(rows.map(table)).toEqual(server.map((r) => /^table ([^ ]+):/.exec(r.data!)![1]!.replace(/"/g, '')));
  });
});
