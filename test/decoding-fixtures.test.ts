// The committed fixtures decoded by pgwal equal the server's test_decoding output for the same slot
// (decoded.tsv / decoded-xids.tsv, and decoded-twophase.tsv from a two_phase slot), for every scenario whose
// schema does not change inside its range — also when every change goes through the spill store. Scenarios
// whose schema changes in the range carry the catalog's raw pages (catalog-pages.json.gz) and decode with the
// historic catalog.
import { describe, expect, it } from 'vitest';
import { formatLsn, parseLsn } from '../src/index.js';
import { TestDecodingDecoder, type DecoderCatalog } from '../src/reorderbuffer/logical.js';
import type { CatalogView } from '../src/reorderbuffer/catalog.js';
import { HistoricCatalog } from '../src/catalog/historic.js';
import { LogicalDecoder } from '../src/reorderbuffer/logical.js';
import { TypedChangesPlugin, type TypedTransaction } from '../src/reorderbuffer/jschanges.js';
import { Wal2JsonPlugin, parseWal2JsonOptions } from '../src/reorderbuffer/wal2json.js';
import type { SchemaChange } from '../src/reorderbuffer/catalog.js';
import { catalogSnapshotFromJson } from '../src/catalog/snapshot-json.js';
import { MemorySpillStore } from '../src/reorderbuffer/spill.js';
import { profileForMajor } from '../src/xlogreader/profile.js';
import { listFixtures, readFixtureFile, readTsv, type Fixture } from './support/fixtures.js';
import { fixtureCatalog, fixtureRead } from './support/wal.js';
import { runCli } from './support/cli.js';
import path from 'node:path';
import fs from 'node:fs';
import os from 'node:os';
import { parseSlotState, serializeSlotState } from '../src/slot/state.js';

const fixtures = listFixtures();

function expectRows(f: Fixture, file: string, rows: { lsn: number; xid: number; data: string | Uint8Array }[]): void {
  const theirs = readTsv(f, file).map((r) => `${r.lsn}\t${r.xid}\t${r.data}`);
  const ours = rows.map((o) => `${formatLsn(o.lsn)}\t${o.xid}\t${o.data}`);
  expect(ours.length, file).toBe(theirs.length);
  ours.forEach((row, i) => expect(row, `${file} row ${i}`).toBe(theirs[i]));
}

describe.each(fixtures.map((f) => [f.id, f] as [string, Fixture]))('%s', (_id, f) => {
  const catalog = (): DecoderCatalog | CatalogView => fixtureCatalog(f);
  const major = profileForMajor(f.meta.major)!.major;

  it('prints what test_decoding printed for the slot, with include-xids on and off', () => {
    const slot = f.meta.slots.find((s) => !s.twoPhase)!;
    const { records } = fixtureRead(f, { start: parseLsn(slot.restartLsn) });
    for (const [file, includeXids] of [['decoded-xids.tsv', true], ['decoded.tsv', false]] as const) {
      const decoder = new TestDecodingDecoder(catalog(), major, { includeXids, skipEmptyXacts: true }, parseLsn(slot.confirmedFlushLsn));
      for (const rec of records) decoder.process(rec);
      expectRows(f, file, decoder.output);
    }
  });

  it('prints the same when every change is spilled and read back', () => {
    const slot = f.meta.slots.find((s) => !s.twoPhase)!;
    const { records } = fixtureRead(f, { start: parseLsn(slot.restartLsn) });
    const spill = new MemorySpillStore();
    const decoder = new TestDecodingDecoder(catalog(), major, { includeXids: true, skipEmptyXacts: true }, parseLsn(slot.confirmedFlushLsn), { memoryLimit: 1, spill });
    for (const rec of records) decoder.process(rec);
    expectRows(f, 'decoded-xids.tsv', decoder.output);
    if (decoder.output.length > 0) expect(spill.writes).toBeGreaterThan(0);
    expect(spill.bytes, 'spilled changes are dropped at commit/abort').toBe(0);
    expect(decoder.memoryUsed).toBe(0);
  });

  const twoPhase = f.meta.slots.find((s) => s.twoPhase);
  if (twoPhase !== undefined) it('prints what a two_phase slot printed (PREPARE TRANSACTION, COMMIT/ROLLBACK PREPARED)', () => {
    const { records } = fixtureRead(f, { start: parseLsn(twoPhase!.restartLsn) });
    const start = parseLsn(twoPhase!.confirmedFlushLsn);
    // A slot created with two_phase has two_phase_at = its consistent point, here its confirmed_flush.
    const decoder = new TestDecodingDecoder(catalog(), major, { includeXids: false, skipEmptyXacts: true }, start, { twoPhaseAt: start });
    for (const rec of records) decoder.process(rec);
    expectRows(f, 'decoded-twophase.tsv', decoder.output);
  });
});

// The shipped state files: `pgwal decode --state slot.state -p <fixture>` (gzipped segments, no server) prints
// the server's rows — the README's first command runs exactly this.
describe.each(fixtures.map((f) => [f.id, f] as [string, Fixture]))('pgwal decode on %s', (_id, f) => {
  for (const slot of f.meta.slots.filter((x) => x.plugin === 'test_decoding')) {
    const [stateFile, answer] = slot.twoPhase ? ['slot-2pc.state', 'decoded-twophase.tsv'] : ['slot.state', 'decoded.tsv'];
    it(`${stateFile} → ${answer}`, async () => {
      const run = await runCli(['decode', '--state', path.join(f.dir, stateFile), '-p', f.dir, '-o', 'include-xids=0', '-o', 'skip-empty-xacts=1', '--with-lsn', '--end', f.meta.endLsn]);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      // Rows may hold newlines (text values), so the whole output is compared.
      expect(run.stdout).toBe(readTsv(f, answer).map((r) => `${r.lsn}\t${r.xid}\t${r.data}\n`).join(''));
      expect(run.stdout.length).toBeGreaterThan(0);
    });
  }
});

// The same through a restore_command alone: the fixture folder as an archive of gzipped segments.
describe.each(fixtures.filter((f) => f.meta.scenario === 'types-dml' || f.meta.scenario === 'large-records').map((f) => [f.id, f] as [string, Fixture]))('pgwal decode --restore-command on %s', (_id, f) => {
  it('prints the server rows, fetching every segment through the command', async () => {
    const run = await runCli(['decode', '--state', path.join(f.dir, 'slot.state'), '--restore-command', `gunzip -c '${f.dir}/%f.gz' > %p`, '--wal-segsize', String(f.meta.walSegmentSize / 1048576), '-o', 'include-xids=0', '-o', 'skip-empty-xacts=1', '--with-lsn', '--end', f.meta.endLsn]);
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe(readTsv(f, 'decoded.tsv').map((r) => `${r.lsn}\t${r.xid}\t${r.data}\n`).join(''));
  });
});

describe('pgwal decode refuses WAL of another system or major, naming both', () => {
  const [f16, f17] = ['pg16', 'pg17'].map((m) => fixtures.find((f) => f.id === `${m}/types-dml`)!);
  it('a PostgreSQL 16 slot state on PostgreSQL 17 WAL', async () => {
    const run = await runCli(['decode', '--state', path.join(f16!.dir, 'slot.state'), '-p', f17!.dir, '--end', f17!.meta.endLsn]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/is from PostgreSQL 17, the slot state ".*pg16\/types-dml\/slot.state" is for PostgreSQL 16/);
  });
  it('a slot state of another system identifier', async () => {
    const state = parseSlotState(fs.readFileSync(path.join(f17!.dir, 'slot.state')), 'slot.state');
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-foreign-')), 'other.state');
    fs.writeFileSync(file, serializeSlotState({ ...state, systemIdentifier: '7000000000000000001' }));
    const run = await runCli(['decode', '--state', file, '-p', f17!.dir, '--end', f17!.meta.endLsn]);
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(new RegExp(`its system identifier is ${f17!.meta.systemIdentifier}, the slot state ".*other.state"'s is 7000000000000000001`));
  });
});

// With a TOAST cache, a column the server printed as unchanged-toast-datum is filled in with the value the server
// itself printed for that row earlier in the range (when it did), and stays unchanged otherwise.
describe.each(fixtures.filter((f) => f.meta.scenario === 'toast').map((f) => [f.id, f] as [string, Fixture]))('toastCache on %s', (_id, f) => {
  it('fills unchanged TOAST columns from values seen earlier in the range', () => {
    const catalog = JSON.parse(readFixtureFile(f, 'catalog.json').toString()) as DecoderCatalog;
    const slot = f.meta.slots.find((s) => !s.twoPhase)!;
    const { records } = fixtureRead(f, { start: parseLsn(slot.restartLsn) });
    const decoder = new TestDecodingDecoder(catalog, profileForMajor(f.meta.major)!.major, { includeXids: false, skipEmptyXacts: true }, parseLsn(slot.confirmedFlushLsn), { toastCache: 64 << 20 });
    for (const rec of records) decoder.process(rec);
    const theirs = readTsv(f, 'decoded.tsv').map((r) => r.data ?? '');
    // The server's rows with each unchanged column replaced by the last value it printed for that table and id.
    const last = new Map<string, string>();
    let filled = 0;
    const expected = theirs.map((row) => {
      const m = /^table (\S+): (INSERT|UPDATE):.* id\[integer\]:(\d+) /.exec(row);
      if (m === null) return row;
      const key = `${m[1]} ${m[3]}`;
      const out = row.replace(/ (\w+)\[text\]:unchanged-toast-datum/g, (all, col: string) => {
        const v = last.get(`${key} ${col}`);
        if (v === undefined) return all;
        filled++;
        return ` ${col}[text]:${v}`;
      });
      for (const c of out.matchAll(/ (\w+)\[text\]:('(?:[^']|'')*')/g)) last.set(`${key} ${c[1]}`, c[2]!);
      return out;
    });
    expect(filled, 'the fixture has unchanged TOAST columns whose values the range logged earlier').toBeGreaterThan(0);
    expect(decoder.output.map((o) => o.data)).toEqual(expected);
  });
});

// DDL events reach output plugins: each schema change the historic catalog reports (checked against the server's
// catalog in catalog.live.test.ts) arrives with the transaction that made it, at its commit, in the typed API and
// as wal2json-style "DDL" rows with include-ddl — none before the start point, none invented.
describe.each(fixtures.filter((f) => f.meta.scenario === 'ddl-between-dml').map((f) => [f.id, f] as [string, Fixture]))('DDL events on %s', (_id, f) => {
  it('arrive with their transactions in the typed API and as JSON rows', () => {
    const pages = (f.meta.files as Record<string, string>).catalogPages!;
    const historic = (): HistoricCatalog => new HistoricCatalog(catalogSnapshotFromJson(JSON.parse(readFixtureFile(f, pages.replace(/\.gz$/, '')).toString())));
    const slot = f.meta.slots.find((s) => !s.twoPhase)!;
    const start = parseLsn(slot.confirmedFlushLsn);
    const { records } = fixtureRead(f, { start: parseLsn(slot.restartLsn) });
    // What the catalog reports on its own, after the start point.
    const reference = historic();
    const reported: SchemaChange[] = [];
    reference.onDdl = (e) => reported.push(e);
    for (const rec of records) reference.process(rec);
    const expected = reported.filter((e) => e.lsn >= start);
    expect(expected.length, 'the fixture makes schema changes after the start point').toBeGreaterThan(0);

    const txns: TypedTransaction[] = [];
    const decoder = new LogicalDecoder({ catalog: historic(), major: profileForMajor(f.meta.major)!.major, plugin: new TypedChangesPlugin({ onTransaction: (t) => txns.push(t) }), startAt: start });
    for (const rec of records) decoder.process(rec);
    const got = txns.flatMap((t) => t.changes.filter((c) => c.kind === 'ddl').map((c) => ({ xid: t.xid, commit: t.commitLsn, change: (c as { change: SchemaChange }).change })));
    expect(got.map((g) => g.change)).toEqual(expected);
    for (const g of got) {
      expect(g.change.xid).toBe(g.xid);
      expect(g.change.lsn).toBe(g.commit);
    }

    const rows: string[] = [];
    // Row changes are left out (actions): these fixture catalogs predate the keys wal2json needs for them.
    const json = new LogicalDecoder({ catalog: historic(), major: profileForMajor(f.meta.major)!.major, plugin: new Wal2JsonPlugin(parseWal2JsonOptions([['format-version', '2'], ['include-ddl', '1'], ['actions', 'truncate']])), startAt: start, sink: (r) => rows.push(r.data as string) });
    for (const rec of records) json.process(rec);
    const ddlRows = rows.filter((r) => r.startsWith('{"action":"DDL"')).map((r) => JSON.parse(r) as { kind: string; schema: string; table: string });
    expect(ddlRows.map((r) => `${r.kind} ${r.schema}.${r.table}`)).toEqual(expected.map((e) => `${e.kind} ${e.namespace}.${e.name}`));
  });
});
