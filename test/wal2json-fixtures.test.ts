// The committed fixtures that carry wal2json's answers (Debian's wal2json 2.5 on PostgreSQL 15, format-version 2):
// pgwal's wal2json plugin over the shipped WAL prints the same rows, with the options the fixture was made with —
// also when every change goes through the spill store.
import { describe, expect, it } from 'vitest';
import { formatLsn, parseLsn } from '../src/index.js';
import { LogicalDecoder, type DecoderCatalog } from '../src/reorderbuffer/logical.js';
import { MemorySpillStore } from '../src/reorderbuffer/spill.js';
import { parseWal2JsonOptions, Wal2JsonPlugin } from '../src/reorderbuffer/wal2json.js';
import { profileForMajor } from '../src/xlogreader/profile.js';
import { listFixtures, readFixtureFile, readTsv, type Fixture } from './support/fixtures.js';
import { fixtureRead } from './support/wal.js';
import { runCli } from './support/cli.js';
import path from 'node:path';

const fixtures = listFixtures().filter((f) => f.meta.wal2jsonOptions !== undefined);

const pairs = (list: string[]): [string, string][] => Array.from({ length: list.length / 2 }, (_, i) => [list[2 * i]!, list[2 * i + 1]!]);

describe('wal2json fixtures', () => {
  it('exist', () => expect(fixtures.length).toBeGreaterThan(0));
});

describe.each(fixtures.map((f) => [f.id, f] as [string, Fixture]))('%s', (_id, f) => {
  const slot = f.meta.slots.find((s) => s.plugin === 'wal2json')!;
  const major = profileForMajor(f.meta.major)!.major;
  it('refuses a catalog that did not record the keys (an older state file) with a typed error, not a guess', () => {
    const { records } = fixtureRead(f, { start: parseLsn(slot.restartLsn) });
    const catalog = JSON.parse(readFixtureFile(f, 'catalog.json').toString()) as DecoderCatalog;
    for (const r of catalog.relations) delete r.identityKey;
    const decoder = new LogicalDecoder({ catalog, major, plugin: new Wal2JsonPlugin(), startAt: parseLsn(slot.confirmedFlushLsn) });
    expect(() => {
      for (const rec of records) decoder.process(rec);
    }).toThrow(expect.objectContaining({ code: 'incomplete-catalog', message: expect.stringMatching(/^the catalog of public\.wj_types lacks its primary key, replica identity key or column type modifiers/) }));
  });

  for (const [name, options] of Object.entries(f.meta.wal2jsonOptions!)) {
    for (const spilled of [false, true]) {
      it(`prints ${name}.tsv (${options.join(' ')})${spilled ? ', every change spilled' : ''}`, () => {
        const { records } = fixtureRead(f, { start: parseLsn(slot.restartLsn) });
        const spill = new MemorySpillStore();
        const decoder = new LogicalDecoder({
          catalog: JSON.parse(readFixtureFile(f, 'catalog.json').toString()) as DecoderCatalog,
          major,
          plugin: new Wal2JsonPlugin(parseWal2JsonOptions(pairs(options))),
          startAt: parseLsn(slot.confirmedFlushLsn),
          ...(spilled ? { memoryLimit: 1, spill } : {}),
        });
        for (const rec of records) decoder.process(rec);
        const theirs = readTsv(f, `${name}.tsv`).map((r) => `${r.lsn}\t${r.xid}\t${r.data}`);
        const ours = decoder.output.map((o) => `${formatLsn(o.lsn)}\t${o.xid}\t${o.data}`);
        expect(ours.length).toBe(theirs.length);
        ours.forEach((row, i) => expect(row, `${name}.tsv row ${i}`).toBe(theirs[i]));
        if (spilled) expect(spill.writes).toBeGreaterThan(0);
      });
    }
    // The shipped state of the wal2json slot: `pgwal decode` picks the json plugin for it.
    it(`pgwal decode --state slot-wal2json.state prints ${name}.tsv`, async () => {
      const opts = pairs(options).filter(([k]) => k !== 'format-version');
      const run = await runCli(['decode', '--state', path.join(f.dir, 'slot-wal2json.state'), '-p', f.dir, '--with-lsn', '--end', f.meta.endLsn, ...opts.flatMap(([k, v]) => ['-o', `${k}=${v}`])]);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      expect(run.stdout).toBe(readTsv(f, `${name}.tsv`).map((r) => `${r.lsn}\t${r.xid}\t${r.data}\n`).join(''));
    });
  }
});
