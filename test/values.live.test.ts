// Live: tuples read from WAL, deformed with the catalog and printed by pgwal's output functions, equal what the
// server prints for the same rows (the text protocol, which is the type's output function), for many built-in types, random values (seeded) and edge cases.
import { describe, expect, it } from 'vitest';
import type pg from 'pg';
import { formatLsn, parseLsn } from '../src/index.js';
import { loadCatalog } from '../src/node/catalog.js';
import { BytesValue, deformTuple } from '../src/reorderbuffer/tuple.js';
import { outputValue, outputValueAt, type TypeInfo } from '../src/reorderbuffer/values.js';
import { parseHeapInsert } from '../src/xlogreader/rmgrdesc/heap-parse.js';
import { withServer } from './support/pg-server.js';
import { walDirRecords } from './support/wal.js';
import { COLUMNS, randomRow, rng } from './support/random-rows.js';

const SEED = Number(process.env.PGWAL_SEED ?? Date.now() % 100000);
const asText = { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig;

describe.each([15, 18] as const)('PostgreSQL %i', (major) => {
  it('prints every column of every inserted row as the server prints it', async () => {
    await withServer({ major, gucs: { wal_keep_size: "'1GB'" } }, async (server) => {
      const c = await server.connect();
      try {
        await c.query(`create type mood as enum ('sad', 'ok', 'happy')`);
        await c.query('create type textrange as range (subtype = text)');
        await c.query(`create table v (id int primary key, ${COLUMNS.map(([n, t]) => `${n} ${t}`).join(', ')})`);
        const start = parseLsn((await c.query('select pg_current_wal_insert_lsn()::text as l')).rows[0].l);
        const r = rng(SEED + major);
        for (let i = 1; i <= 300; i++) await c.query(`insert into v values ${randomRow(r, i)}`);
        const end = parseLsn((await c.query('select pg_current_wal_insert_lsn()::text as l')).rows[0].l);
        for (let i = 0; i < 200 && parseLsn((await c.query('select pg_current_wal_flush_lsn()::text as l')).rows[0].l) < end; i++) await new Promise((res) => setTimeout(res, 25));
        const catalog = await loadCatalog(c);
        const rel = catalog.relations.find((x) => x.name === 'v')!;
        const types = new Map<number, TypeInfo>(catalog.types.map((t) => [t.oid, t]));
        const theirs = new Map<number, (string | null)[]>();
        for (const row of (await c.query({ text: `select id, ${COLUMNS.map(([n]) => n).join(", ")} from v`, rowMode: 'array', types: asText })).rows) {
          theirs.set(Number(row[0]), row);
        }
        let rows = 0;
        for (const rec of walDirRecords(server.pgWalDir, start, end)) {
          if (rec.rmid !== 10 || (rec.info & 0x70) !== 0 || rec.block(0)?.locator.relNumber !== rel.relfilenode) continue;
          const ins = parseHeapInsert(rec);
          const t = ins.tuple!;
          const raw = deformTuple(rec.bytes.subarray(t.dataOffset, t.dataOffset + t.dataLength), t.infomask2, t.infomask, t.hoff, rel.attributes, rec.lsn);
          const ours = raw.map((v, i) => {
            if (v.kind === 'null') return null;
            if (v.kind !== 'bytes') throw new Error(`unexpected ${v.kind}`);
            const type = types.get(rel.attributes[i]!.typeOid)!;
            const text = outputValue(v.bytes, type, (oid) => types.get(oid));
            // The fast path test_decoding takes, printing straight from the tuple's bytes, prints the same.
            if (v instanceof BytesValue) expect(outputValueAt(v.src, v.start, v.end, type, (oid) => types.get(oid))).toBe(text);
            return text;
          });
          const id = Number(ours[0]);
          const want = theirs.get(id)!;
          ours.forEach((v, i) => expect(v, `seed ${SEED + major}, row ${id}, column ${i === 0 ? 'id' : COLUMNS[i - 1]![0]} at ${formatLsn(rec.lsn)}`).toBe(want[i]));
          rows++;
        }
        expect(rows).toBe(300);
      } finally {
        await c.end();
      }
    });
  });
});
