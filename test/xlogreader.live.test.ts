// Live differential test, per major: a seeded random workload on a fresh server, then every record pgwal reads
// over the range equals pg_get_wal_records_info's row, every block reference pg_get_wal_block_info's (16+, data
// and restored page bytes included), and the statistics pg_get_wal_stats's.
import { describe, expect, it } from 'vitest';
import type pg from 'pg';
import { formatLsn, parseLsn } from '../src/index.js';
import { walinspectBlockRows, walinspectRow } from '../src/xlogreader/describe.js';
import { restoreBlockImage } from '../src/xlogreader/fpi.js';
import { profileForMajor } from '../src/xlogreader/profile.js';
import { WalStats, walinspectStatsRows } from '../src/xlogreader/stats.js';
import { MAJORS, withServer } from './support/pg-server.js';
import { walDirRecords, walinspectContext } from './support/wal.js';

const SEED = Number(process.env.PGWAL_SEED ?? Date.now() % 100000);

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const asText = { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig;

async function rows(c: pg.Client, sql: string, params: unknown[]): Promise<(string | null)[][]> {
  return (await c.query({ text: sql, values: params, rowMode: 'array', types: asText })).rows as (string | null)[][];
}

async function workload(c: pg.Client, seed: number, major: number): Promise<void> {
  const r = rng(seed);
  const pick = <T,>(a: T[]): T => a[Math.floor(r() * a.length)]!;
  const q = (s: string): Promise<unknown> => c.query(s);
  await q('create table w1 (id serial primary key, a int, t text, j jsonb, ts timestamptz default now())');
  await q('create table w2 (k text primary key, v bytea, n numeric) with (fillfactor = 50)');
  await q('create index on w1 (a)');
  await q(`create index on w1 using gin (j)`);
  for (let i = 0; i < 250; i++) {
    const action = pick(['ins', 'ins', 'ins', 'upd', 'del', 'big', 'sub', 'msg', 'ckpt', 'vac', 'w2', 'ddl', 'abort', 'comp']);
    switch (action) {
      case 'ins':
        await q(`insert into w1 (a, t, j) select g % 97, md5(g::text), jsonb_build_object('g', g) from generate_series(1, ${1 + Math.floor(r() * 200)}) g`);
        break;
      case 'upd':
        await q(`update w1 set a = a + 1, t = t || 'x' where id % ${2 + Math.floor(r() * 20)} = 0`);
        break;
      case 'del':
        await q(`delete from w1 where id % ${5 + Math.floor(r() * 30)} = 1`);
        break;
      case 'big':
        await q(`insert into w1 (a, t) values (-1, repeat(md5(random()::text), ${10 + Math.floor(r() * 400)}))`);
        break;
      case 'sub':
        await q('begin');
        await q(`insert into w1 (a) values (${i})`);
        await q('savepoint s1');
        await q(`insert into w1 (a) values (${i + 1})`);
        await q(r() < 0.5 ? 'rollback to savepoint s1' : 'release savepoint s1');
        await q('commit');
        break;
      case 'msg':
        await q(`select pg_logical_emit_message(${r() < 0.5}, 'p${i}', repeat('m', ${Math.floor(r() * 9000)}))`);
        break;
      case 'ckpt':
        await q('checkpoint');
        break;
      case 'vac':
        await q(pick(['vacuum w1', 'vacuum freeze w2', 'analyze w1']));
        break;
      case 'w2':
        await q(`insert into w2 select md5((g + ${i * 1000})::text), decode(md5(g::text), 'hex'), g / 7.0 from generate_series(1, 50) g on conflict (k) do update set n = excluded.n + 1`);
        break;
      case 'ddl':
        await q(pick([`alter table w2 add column c${i} int default ${i}`, `create table tmp${i} (x int)`, `create index on w2 (n)`, `truncate w2`]));
        break;
      case 'abort':
        await q('begin');
        await q(`insert into w1 (a) select g from generate_series(1, 50) g`);
        await q('rollback');
        break;
      case 'comp':
        await q(`set wal_compression = ${pick(['off', 'pglz'])}`);
        break;
    }
  }
  void major;
}

describe.each(MAJORS)('PostgreSQL %i, seeded random workload', (major) => {
  it('pgwal equals pg_walinspect record by record, block by block, and in statistics', async () => {
    const seed = SEED + major;
    await withServer({ major, gucs: { wal_keep_size: "'1GB'" } }, async (server) => {
      const c = await server.connect();
      try {
        await c.query('create extension pg_walinspect');
        const start = parseLsn((await c.query('select pg_current_wal_insert_lsn() as l')).rows[0].l);
        await workload(c, seed, major);
        const end = parseLsn((await c.query('select pg_current_wal_insert_lsn() as l')).rows[0].l);
        for (let i = 0; i < 400 && parseLsn((await c.query('select pg_current_wal_flush_lsn() as l')).rows[0].l) < end; i++) {
          await new Promise((res) => setTimeout(res, 50));
        }
        const range = [formatLsn(start), formatLsn(end)];
        const theirs = await rows(c, 'select * from pg_get_wal_records_info($1, $2)', range);
        const records = walDirRecords(server.pgWalDir, start, end);
        const ctx = walinspectContext(profileForMajor(major)!);
        const msg = `seed ${seed} (rerun with PGWAL_SEED=${SEED})`;
        expect(records.length, msg).toBe(theirs.length);
        expect(records.length, msg).toBeGreaterThan(1000);
        records.forEach((rec, i) => expect(Object.values(walinspectRow(rec, ctx)), `${msg}, record ${formatLsn(rec.lsn)}`).toEqual(theirs[i]));
        if (major >= 16) {
          const blocks = await rows(c, 'select * from pg_get_wal_block_info($1, $2, true)', range);
          const ours = records.flatMap((rec) => walinspectBlockRows(rec, ctx, (r, id) => restoreBlockImage(r, id)));
          expect(ours.length, msg).toBe(blocks.length);
          ours.forEach((row, i) => expect(row, `${msg}, block row ${i} at ${row[0]}`).toEqual(blocks[i]));
        }
        const stats = new WalStats();
        for (const rec of records) stats.add(rec);
        expect(walinspectStatsRows(stats, true, ctx.profile), msg).toEqual(await rows(c, 'select * from pg_get_wal_stats($1, $2, true)', range));
      } finally {
        await c.end();
      }
    });
  });
});
