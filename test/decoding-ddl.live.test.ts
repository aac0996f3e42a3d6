// Live, every major: DML interleaved with DDL (create/drop table, add column with and without defaults incl.
// fast and volatile ones, drop column, rename of tables and columns, set schema, alter column type, VACUUM FULL,
// CLUSTER, TRUNCATE, replica identity, enum/composite/domain types and ALTER TYPE … ADD VALUE, DDL and DML in one
// transaction, DDL rolled back and rolled back to a savepoint), a fixed script then a seeded random one. pgwal
// decodes the WAL from the slot's restart_lsn with the historic catalog started from the catalog's raw pages,
// and prints exactly what pg_logical_slot_peek_changes returns, line for line, with include-xids on and off;
// its DDL events are the differences of the server's catalog (loadCatalog) after each transaction.
import { describe, expect, it } from 'vitest';
import type pg from 'pg';
import { formatLsn, parseLsn, type Lsn } from '../src/lsn.js';
import { TestDecodingDecoder } from '../src/reorderbuffer/logical.js';
import { HistoricCatalog, type DdlEvent } from '../src/catalog/historic.js';
import { loadCatalog, type Catalog } from '../src/node/catalog.js';
import { readCatalogSnapshot } from '../src/node/catalog-snapshot.js';
import { profileForMajor } from '../src/xlogreader/profile.js';
import { MAJORS, withServer } from './support/pg-server.js';
import { walDirRecords } from './support/wal.js';
import { FIXED_DDL_SCRIPT as FIXED, randomDdlScript as randomScript } from './support/ddl-workload.js';

const SEED = Number(process.env.PGWAL_SEED ?? Date.now() % 100000);
const asText = { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig;

/** The DDL events a change of the server's catalog from `a` to `b` makes (tables only), as plain text. */
function expectedEvents(a: Catalog, b: Catalog): string[] {
  const tables = (c: Catalog): Map<number, Catalog['relations'][number]> =>
    new Map(c.relations.filter((r) => (r.kind === 'r' || r.kind === 'p') && r.oid >= 16384).map((r) => [r.oid, r]));
  const ta = tables(a);
  const tb = tables(b);
  const cols = (r: Catalog['relations'][number]): string => r.attributes.filter((x) => !x.dropped).map((x) => `${x.attnum}:${x.name}:${x.typeOid}`).join(',');
  const out: string[] = [];
  for (const oid of [...new Set([...ta.keys(), ...tb.keys()])].sort((x, y) => x - y)) {
    const o = ta.get(oid);
    const n = tb.get(oid);
    if (o === undefined) out.push(`created ${n!.namespace}.${n!.name} [${cols(n!)}]`);
    else if (n === undefined) out.push(`dropped ${o.namespace}.${o.name} [${cols(o)}]`);
    else {
      if (o.name !== n.name || o.namespace !== n.namespace) out.push(`renamed ${o.namespace}.${o.name} -> ${n.namespace}.${n.name}`);
      const changes = [...(cols(o) !== cols(n) ? ['columns'] : []), ...(o.replIdent !== n.replIdent ? ['replica-identity'] : [])];
      if (changes.length > 0) out.push(`altered ${n.namespace}.${n.name} ${changes.join('+')} [${cols(o)}] -> [${cols(n)}] ${o.replIdent}->${n.replIdent}`);
    }
  }
  return out;
}

function eventText(e: DdlEvent): string {
  const cols = (c: DdlEvent['newColumns']): string => (c ?? []).map((x) => `${x.attnum}:${x.name}:${x.typeOid}`).join(',');
  switch (e.kind) {
    case 'created':
      return `created ${e.namespace}.${e.name} [${cols(e.newColumns)}]`;
    case 'dropped':
      return `dropped ${e.namespace}.${e.name} [${cols(e.oldColumns)}]`;
    case 'renamed':
      return `renamed ${e.oldNamespace}.${e.oldName} -> ${e.namespace}.${e.name}`;
    case 'altered':
      return `altered ${e.namespace}.${e.name} ${e.changes!.join('+')} [${cols(e.oldColumns)}] -> [${cols(e.newColumns)}] ${e.oldReplIdent}->${e.newReplIdent}`;
  }
}

async function decodeAndCompare(major: (typeof MAJORS)[number], script: string[], label: string): Promise<number> {
  return withServer({ major, gucs: { wal_keep_size: "'1GB'", max_prepared_transactions: 4 } }, async (server) => {
    const c = await server.connect();
    try {
      await c.query('create extension if not exists pageinspect');
      await c.query(`create type seedmood as enum ('x')`); // some user catalog rows before the start
      await c.query(`select pg_create_logical_replication_slot('s', 'test_decoding')`);
      const slot = (await c.query(`select restart_lsn::text, confirmed_flush_lsn::text from pg_replication_slots where slot_name = 's'`)).rows[0];
      await c.query('begin isolation level repeatable read');
      const snapshot = await readCatalogSnapshot(c);
      await c.query('commit');
      // The server's catalog after each transaction: the DDL events it must have made.
      const expected: string[] = [];
      let last = await loadCatalog(c);
      let inBlock = false;
      for (const sql of script) {
        try {
          await c.query(sql);
        } catch (e) {
          throw new Error(`${label}: ${sql}: ${(e as Error).message}`);
        }
        if (sql === 'begin') inBlock = true;
        else if (sql === 'commit' || sql === 'rollback' || sql.startsWith('prepare transaction')) inBlock = false;
        if (!inBlock) {
          const now = await loadCatalog(c);
          expected.push(...expectedEvents(last, now));
          last = now;
        }
      }
      const end: Lsn = parseLsn((await c.query('select pg_current_wal_insert_lsn()::text as l')).rows[0].l);
      for (let i = 0; i < 200 && parseLsn((await c.query('select pg_current_wal_flush_lsn()::text as l')).rows[0].l) < end; i++) await new Promise((res) => setTimeout(res, 25));
      const records = walDirRecords(server.pgWalDir, parseLsn(slot.restart_lsn), end);
      let rows = 0;
      for (const includeXids of [true, false]) {
        const theirs = (
          await c.query({
            text: `select lsn, xid, data from pg_logical_slot_peek_changes('s', $1, null, 'include-xids', $2, 'skip-empty-xacts', '1')`,
            values: [formatLsn(end), includeXids ? '1' : '0'],
            rowMode: 'array',
            types: asText,
          })
        ).rows.map(([lsn, xid, data]) => `${lsn}\t${xid}\t${data}`);
        const historic = new HistoricCatalog(snapshot);
        const events: string[] = [];
        historic.onDdl = (e) => {
          if (e.lsn >= parseLsn(slot.confirmed_flush_lsn)) events.push(eventText(e));
        };
        const decoder = new TestDecodingDecoder(historic, profileForMajor(major)!.major, { includeXids, skipEmptyXacts: true }, parseLsn(slot.confirmed_flush_lsn));
        for (const rec of records) decoder.process(rec);
        expect(events, `${label}: DDL events`).toEqual(expected);
        expect(events.length).toBeGreaterThan(5);
        const ours = decoder.output.map((o) => `${formatLsn(o.lsn)}\t${o.xid}\t${o.data}`);
        for (let i = 0; i < Math.max(ours.length, theirs.length); i++) {
          expect(ours[i], `${label}, row ${i}, include-xids ${includeXids}\nours:\n${ours.slice(i, i + 3).join('\n').slice(0, 800)}\ntheirs:\n${theirs.slice(i, i + 3).join('\n').slice(0, 800)}`).toBe(theirs[i]);
        }
        rows = theirs.length;
      }
      return rows;
    } finally {
      await c.end();
    }
  });
}

describe.each(MAJORS)('PostgreSQL %i', (major) => {
  it('decodes DML across every kind of DDL exactly as test_decoding does', async () => {
    expect(await decodeAndCompare(major, FIXED, 'fixed script')).toBeGreaterThan(40);
  });

  it('decodes a seeded random interleaving of DDL and DML exactly as test_decoding does', async () => {
    const seed = SEED + major;
    expect(await decodeAndCompare(major, randomScript(seed, Number(process.env.PGWAL_DDL_STEPS ?? 250)), `seed ${seed}`)).toBeGreaterThan(50);
  });
});
