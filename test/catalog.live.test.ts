// Live, every major: the historic catalog rebuilt from a starting snapshot (raw pages read from the server, or a
// cold copy of its data directory) and the WAL of a workload of DDL interleaved with DML. At each step the
// server's own catalog (read by loadCatalog, inside the transaction for steps in one) is the expected answer
// of a lookup at that LSN; at the end, the rebuilt pages equal the server's get_raw_page tuple by tuple.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type pg from 'pg';
import { parseLsn, type Lsn } from '../src/lsn.js';
import { loadCatalog, type Catalog } from '../src/node/catalog.js';
import { readCatalogSnapshot, readCatalogSnapshotFromDataDir } from '../src/node/catalog-snapshot.js';
import { HistoricCatalog, CATALOG_RELATIONS, type CatalogSnapshot } from '../src/catalog/historic.js';
import type { DecoderRelation } from '../src/reorderbuffer/catalog.js';
import { HEAP_COMBOCID, HEAP_HINT_BITS, LP_NORMAL, parsePage } from '../src/catalog/page.js';
import { MAJORS, withServer, type Server } from './support/pg-server.js';
import { walDirRecords } from './support/wal.js';

interface Step {
  what: string;
  lsn: Lsn;
  xid: number;
  catalog: Catalog;
}

async function lsnNow(c: pg.Client): Promise<Lsn> {
  return parseLsn((await c.query('select pg_current_wal_insert_lsn()::text as l')).rows[0].l);
}

/** The DDL of the issue, interleaved with DML; a step is recorded after each statement (or inside a transaction). */
async function workload(c: pg.Client, steps: Step[]): Promise<void> {
  const step = async (what: string, xid = 0): Promise<void> => {
    steps.push({ what, lsn: await lsnNow(c), xid, catalog: await loadCatalog(c) });
  };
  const run = async (sql: string): Promise<void> => {
    await c.query(sql);
    await step(sql);
  };
  await run('create table t1 (id int primary key, a text)');
  await run(`insert into t1 values (1, 'one')`);
  await run('alter table t1 add column b int');
  await run(`insert into t1 values (2, 'two', 2)`);
  await run(`alter table t1 add column c text default 'fast default'`);
  await run(`alter table t1 add column n numeric default 1.5`);
  await run(`insert into t1 (id, a) values (3, 'three')`);
  await run('alter table t1 add column d timestamptz default clock_timestamp()'); // volatile: a rewrite
  await run('alter table t1 drop column b');
  await run('checkpoint'); // later catalog changes come with full-page images
  await run('alter table t1 alter column a type varchar(20)');
  await run(`insert into t1 (id, a) values (4, 'four')`);
  await run('vacuum full t1');
  await run('truncate t1');
  await run('alter table t1 rename to t2');
  await run('alter table t2 rename column a to aa');
  await run('create schema s2');
  await run('alter table t2 set schema s2');
  await run('alter table s2.t2 replica identity full');
  await run(`create type mood as enum ('sad', 'ok')`);
  await run('create type pair as (x int, y text)');
  await run('create domain posint as int check (value > 0)');
  await run('create type floatrange as range (subtype = float8)');
  await run('create table t3 (id int primary key, m mood, p posint, r floatrange, pa pair, ms mood[])');
  await run(`alter type mood add value 'happy'`);
  await run(`insert into t3 values (1, 'happy', 5, '[1,2)', null, '{sad,happy}')`);
  // DDL and DML in one transaction, seen from inside it.
  await c.query('begin');
  const xid = Number((await c.query('select txid_current() % 4294967296 as x')).rows[0].x);
  await c.query('alter table t3 add column z int');
  await step('in transaction: add column z', xid);
  await c.query(`insert into t3 (id, z) values (2, 2)`);
  await c.query('savepoint s');
  // Not checked inside the savepoint: its rows die with it (vacuum may remove them), and decoding never asks
  // for them (the subtransaction's changes are not emitted).
  await c.query('alter table t3 add column q int');
  await c.query(`insert into t3 (id, q) values (3, 3)`);
  await c.query('rollback to savepoint s');
  await step('in transaction: rolled back to the savepoint', xid);
  await c.query(`alter table t3 rename column z to zz`);
  await step('in transaction: rename z', xid);
  await c.query('commit');
  await step('committed');
  await c.query('begin');
  await c.query('create table t4 (id int)');
  await c.query('alter table t3 drop column p');
  await c.query('rollback');
  await step('rolled back create table and drop column');
  await run('create table t5 as select g as id, g::text as v from generate_series(1, 10) g');
  await run('drop table t5');
  // Catalog rewrites: new relfilenodes, through the relation mapper (pg_attribute, pg_type) or pg_class (pg_namespace).
  await run('vacuum full pg_attribute');
  await run('alter table t3 add column after_rewrite int');
  await run('vacuum full pg_type');
  await run('vacuum full pg_namespace');
  await run('vacuum full pg_class');
  await run('alter table t3 rename column m to mm');
  await run('create schema s3');
  await run('alter table t3 set schema s3');
  await run('vacuum pg_class, pg_attribute, pg_type, pg_namespace, pg_enum');
  await run('vacuum freeze pg_attribute, pg_class');
  await run(`insert into s3.t3 (id) values (4)`);
}

const norm = (r: DecoderRelation | undefined): unknown =>
  r && {
    oid: r.oid,
    relfilenode: r.relfilenode,
    namespace: r.namespace,
    name: r.name,
    kind: r.kind,
    replIdent: r.replIdent,
    toastRelid: r.toastRelid,
    primaryKey: r.primaryKey,
    identityKey: r.identityKey,
    // (the default's text is pg_get_expr's deparse: known for defaults of the starting catalog only)
    attributes: r.attributes.map(({ defaultExpr, ...a }) => ({ ...a, missing: a.missing, defaultExpr: defaultExpr === null ? null : 'some or unknown' })),
  };

function normType(t: Catalog['types'][number] | undefined): unknown {
  if (t === undefined) return undefined;
  const labels = t.enumLabels instanceof Map ? Object.fromEntries([...t.enumLabels].map(([k, v]) => [String(k), v])) : t.enumLabels;
  return { oid: t.oid, name: t.name, output: t.output, len: t.len, align: t.align, byval: t.byval, elem: t.elem, enumLabels: labels, rangeSubtype: t.rangeSubtype };
}

function checkSteps(historic: HistoricCatalog, steps: Step[]): number {
  let checked = 0;
  for (const s of steps) {
    const at = { lsn: s.lsn, xid: s.xid };
    for (const r of s.catalog.relations) {
      if (r.oid < 12000) continue; // catalogs' TOAST tables: not decoded, not answered
      const mine = historic.relationByOid(r.oid, at);
      expect(norm(mine && { ...mine, replIdent: mine.replIdent ?? '' }), `${s.what}: relation ${r.namespace}.${r.name}`).toEqual(norm(r));
      expect(historic.relationByFilenode(1663, r.relfilenode, at)?.oid, `${s.what}: filenode of ${r.name}`).toBe(r.oid);
      checked++;
    }
    for (const t of s.catalog.types) {
      expect(normType(historic.type(t.oid, at)), `${s.what}: type ${t.name}`).toEqual(normType(t));
    }
  }
  return checked;
}

/** Every catalog page of the server equals ours: the same line pointers, and tuples equal but for hint bits and command ids. */
async function comparePages(c: pg.Client, historic: HistoricCatalog): Promise<number> {
  let tuples = 0;
  for (const [oid, name] of Object.entries(CATALOG_RELATIONS)) {
    const r = (await c.query(`select pg_relation_filenode($1::oid)::int8 as fn, pg_relation_size($1::oid)::int8 / 8192 as n`, [oid])).rows[0];
    const fn = Number(r.fn);
    for (let b = 0; b < Number(r.n); b++) {
      const raw = new Uint8Array((await c.query(`select get_raw_page($1, 'main', $2) as p`, [`pg_catalog.${name}`, b])).rows[0].p);
      const theirs = parsePage(raw, 0);
      const ours = historic.pages.page(fn, b);
      expect(ours, `${name} block ${b}`).toBeDefined();
      const n = Math.max(theirs.items.length, ours!.items.length);
      for (let i = 0; i < n; i++) {
        const a = theirs.items[i];
        const o = ours!.items[i];
        const where = `${name} (${fn}) block ${b} item ${i + 1}`;
        expect(o?.flags ?? 0, where).toBe(a?.flags ?? 0);
        if (a?.flags !== LP_NORMAL) {
          if (a?.flags === 2) expect(o!.redirect, where).toBe(a.redirect);
          continue;
        }
        const mask = (t: Uint8Array): number[] => {
          const x = Array.from(t);
          x[8] = x[9] = x[10] = x[11] = 0; // t_cid: the primary's command ids, FirstCommandId after redo
          const im = (x[20]! | (x[21]! << 8)) & ~(HEAP_HINT_BITS | HEAP_COMBOCID);
          x[20] = im & 0xff;
          x[21] = im >> 8;
          return x;
        };
        const hex = (t: Uint8Array): string => Buffer.from(t.subarray(0, 24)).toString('hex');
        expect(mask(o!.tuple!), `${where}: ours ${hex(o!.tuple!)} theirs ${hex(a.tuple!)} (header bytes), page LSN ours ${ours!.lsn.toString(16)}`).toEqual(mask(a.tuple!));
        tuples++;
      }
    }
  }
  return tuples;
}

async function waitFlushed(c: pg.Client, end: Lsn): Promise<void> {
  for (let i = 0; i < 200 && parseLsn((await c.query('select pg_current_wal_flush_lsn()::text as l')).rows[0].l) < end; i++) await new Promise((res) => setTimeout(res, 25));
}

async function setup(c: pg.Client): Promise<number> {
  await c.query('create extension if not exists pageinspect');
  await c.query('create table base (id int primary key, note text)');
  return Number((await c.query(`select oid from pg_database where datname = current_database()`)).rows[0].oid);
}

describe.each(MAJORS)('PostgreSQL %i', (major) => {
  it('rebuilds the catalog from raw pages and WAL: every step as the server saw it, and equal pages at the end', async () => {
    await withServer({ major, gucs: { wal_keep_size: "'1GB'" } }, async (server: Server) => {
      const c = await server.connect();
      try {
        await setup(c);
        await c.query(`select pg_create_logical_replication_slot('s', 'test_decoding')`);
        const restart = parseLsn((await c.query(`select restart_lsn::text from pg_replication_slots where slot_name = 's'`)).rows[0].restart_lsn);
        await c.query('begin isolation level repeatable read');
        const snapshot = await readCatalogSnapshot(c);
        await c.query('commit');
        const steps: Step[] = [];
        await workload(c, steps);
        const end = await lsnNow(c);
        await waitFlushed(c, end);
        const historic = new HistoricCatalog(snapshot);
        for (const rec of walDirRecords(server.pgWalDir, restart, end)) historic.process(rec);
        expect(checkSteps(historic, steps)).toBeGreaterThan(40);
        expect(await comparePages(c, historic)).toBeGreaterThan(1000);
      } finally {
        await c.end();
      }
    });
  });

  it('starts from a cold copy of the data directory with no server running', async () => {
    await withServer({ major, gucs: { wal_keep_size: "'1GB'" } }, async (server: Server) => {
      let c = await server.connect();
      const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-catalog-copy-'));
      try {
        const dboid = await setup(c);
        // The slot holds catalog_xmin: vacuum keeps the catalog rows decoding from this point needs.
        await c.query(`select pg_create_logical_replication_slot('s', 'test_decoding')`);
        await c.query('checkpoint');
        await c.end();
        await server.stop();
        fs.cpSync(server.dataDir, copy, { recursive: true });
        await server.start();
        c = await server.connect();
        const start = await lsnNow(c); // the shutdown checkpoint is before this: nothing in between changes the catalog
        const snapshot: CatalogSnapshot = readCatalogSnapshotFromDataDir(copy, dboid);
        const steps: Step[] = [];
        await workload(c, steps);
        const end = await lsnNow(c);
        await waitFlushed(c, end);
        const historic = new HistoricCatalog(snapshot);
        for (const rec of walDirRecords(server.pgWalDir, start, end)) historic.process(rec);
        expect(checkSteps(historic, steps)).toBeGreaterThan(40);
        expect(await comparePages(c, historic)).toBeGreaterThan(1000);
      } finally {
        await c.end().catch(() => undefined);
        fs.rmSync(copy, { recursive: true, force: true });
      }
    });
  });
});
