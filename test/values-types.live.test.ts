// Live, every major, seeded: composite types (nested, in arrays, with dropped and added attributes), domains,
// multiranges, arrays of ranges and the less common built-in types, inserted, updated and deleted with random
// values; `pgwal decode` from the WAL files prints exactly what pg_logical_slot_peek_changes returns. A value
// pgwal cannot print stops decoding with a typed error naming the column, its type and the change's LSN.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type pg from 'pg';
import { readSlotStateFile, writeSlotStateFile } from '../src/node/slot.js';
import { MAJORS, withServer } from './support/pg-server.js';
import { rng } from './support/random-rows.js';
import { TYPE_COLUMNS, TYPES_SQL, randomTypesRow } from './support/random-types.js';
import { dsnOf, runCli } from './support/cli.js';

const SEED = Number(process.env.PGWAL_SEED ?? Date.now() % 100000);
const asText = { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig;

async function flushed(c: pg.Client): Promise<string> {
  const end = (await c.query('select pg_current_wal_insert_lsn()::text as l')).rows[0].l as string;
  for (let i = 0; i < 200 && (await c.query('select pg_current_wal_flush_lsn() >= $1::pg_lsn as ok', [end])).rows[0].ok !== true; i++) await new Promise((r) => setTimeout(r, 25));
  return end;
}

async function peek(c: pg.Client, slot: string, end: string, options: string[]): Promise<string[]> {
  const args = options.map((o) => `, '${o}'`).join('');
  const rows = (await c.query({ text: `select lsn, xid, data from pg_logical_slot_peek_changes('${slot}', $1, null${args})`, values: [end], rowMode: 'array', types: asText })).rows;
  return rows.map((r) => r.join('\t'));
}

describe.each(MAJORS)('PostgreSQL %i', (major) => {
  it('composites, domains, multiranges and other built-in types print as test_decoding prints them', async () => {
    const seed = SEED + major;
    console.log(`values-types seed ${seed} (PGWAL_SEED=${SEED})`);
    await withServer({ major, gucs: { wal_keep_size: "'1GB'" } }, async (server) => {
      const c = await server.connect();
      try {
        for (const s of TYPES_SQL) await c.query(s);
        await c.query(`create table v (id int primary key, ${TYPE_COLUMNS.map(([n, t]) => `${n} ${t}`).join(', ')})`);
        await c.query('alter table v replica identity full');
        // Values written before their composite type lost one attribute and gained another, then updated and
        // deleted in the decoded range (replica identity full prints them as old tuples).
        await c.query('create type oldc as (a int, b text)');
        await c.query('create table oc (id int primary key, o oldc, oa oldc[], note text)');
        await c.query('alter table oc replica identity full');
        await c.query(`insert into oc select g, row(g, 'b ' || g)::oldc, array[row(g, null::text)::oldc, null], null from generate_series(1, 6) g`);
        await c.query('alter type oldc add attribute c text');
        await c.query('alter type oldc drop attribute a');
        // Columns added with a default after rows were written (attmissingval), of these types.
        await c.query('create table fm (id int primary key, x text)');
        await c.query('alter table fm replica identity full');
        await c.query(`insert into fm values (1, 'a'), (2, 'b')`);
        await c.query(`alter table fm add column nc comp default row(1, 'x y', '{1.5,NULL}', null)::comp, add column nd dtext default 'it''s',
          add column ne mood[] default '{ok,sad}', add column nr int4multirange default '{[1,2),[5,9)}', add column nx dcomp2`);
        // Types pgwal refuses to print, one per slot's range.
        await c.query('create table bad (id int, acl aclitem, rc regclass)');

        const state = path.join(server.baseDir, 'values.state');
        const made = await runCli(['slot', 'create', '--dsn', dsnOf(server), '--slot', 'vt', '--state', state]);
        expect(made.code, made.stderr).toBe(0);

        const r = rng(seed);
        const int = (lo: number, hi: number): number => Math.floor(lo + r() * (hi - lo + 1));
        let id = 1;
        for (let step = 0; step < 100; step++) {
          const k = int(0, 9);
          if (k < 6) {
            await c.query('begin');
            for (let i = int(1, 4); i > 0; i--) await c.query(`insert into v values ${randomTypesRow(r, id++)}`);
            await c.query('commit');
          } else if (k < 8) {
            const target = int(1, id);
            await c.query(`update v set (id, ${TYPE_COLUMNS.map(([n]) => n).join(', ')}) = ${randomTypesRow(r, target)} where id = ${target}`);
          } else {
            await c.query(`delete from v where id = ${int(1, id)}`);
          }
        }
        // A jsonpath of 5000 accessors (a chain pgwal walks without recursing) and a deeply nested predicate.
        await c.query(`insert into v (id, jp) select ${id++}, ('$' || repeat('.a', 5000))::jsonpath`);
        await c.query(`insert into v (id, jp) select ${id++}, ('$ ? (' || repeat('!(', 200) || '@ == 1' || repeat(')', 200) || ')')::jsonpath`);
        // 17's jsonpath item methods.
        if (major >= 17) {
          await c.query(`insert into v (id, jp) values (${id++}, '$.a.bigint().boolean().date().integer().number().string().decimal().decimal(4).decimal(4, 2)'),
            (${id++}, '$.a.time().time(3).time_tz().time_tz(1).timestamp().timestamp(2).timestamp_tz().timestamp_tz(6).datetime("HH24")')`);
        }
        await c.query(`update oc set note = 'touched' where id <= 3`);
        await c.query(`update oc set o = row('new', 'c')::oldc where id = 4`);
        await c.query(`delete from oc where id in (5, 6)`);
        await c.query(`update fm set x = 'changed' where id = 1`);
        await c.query(`delete from fm where id = 2`);

        const end = await flushed(c);
        // The same catalog without what a domain inherits from its base type, nor the range type of the built-in
        // multiranges (as a catalog read from WAL may carry them): the datums' own type OIDs and the domains'
        // base types must lead to the same text.
        const loaded = readSlotStateFile(state);
        const stripped = path.join(server.baseDir, 'stripped.state');
        writeSlotStateFile(stripped, {
          ...loaded,
          catalog: {
            ...loaded.catalog,
            types: loaded.catalog.types.map((t) => {
              if (t.baseType === undefined && !(t.output === 'multirange_out' && t.oid < 16384)) return t;
              const { enumLabels: _l, rangeSubtype: _s, fields: _f, rangeType: _r, ...rest } = t;
              return rest;
            }),
          },
        });
        expect(loaded.catalog.types.filter((t) => t.baseType !== undefined).length).toBeGreaterThan(8);
        for (const [file, xids] of [
          [state, '1'],
          [state, '0'],
          [stripped, '1'],
        ] as const) {
          const theirs = await peek(c, 'vt', end, ['include-xids', xids]);
          const run = await runCli(['decode', '--state', file, '-p', server.pgWalDir, '-o', `include-xids=${xids}`, '--end', end, '--with-lsn']);
          expect(run.code, run.stderr).toBe(0);
          // Values may hold newlines: compare the whole text, and on a difference show where it starts.
          const ours = run.stdout.trimEnd();
          const want = theirs.join('\n');
          if (ours !== want) {
            let i = 0;
            while (i < ours.length && ours[i] === want[i]) i++;
            const from = Math.max(0, ours.lastIndexOf('\n', i - 1) + 1);
            expect(ours.slice(from, i + 300), `seed ${seed}, ${path.basename(file)}, first difference at character ${i}`).toBe(want.slice(from, i + 300));
          }
          expect(theirs.filter((l) => l.includes('table public.v: INSERT')).length).toBeGreaterThan(40);
          expect(theirs.some((l) => l.includes('table public.oc: UPDATE: old-key:'))).toBe(true);
          expect(theirs.some((l) => l.includes(`table public.fm: DELETE: id[integer]:2 x[text]:'b' nc[comp]:'(1,"x y","{1.5,NULL}",)'`))).toBe(true);
        }

        // An aclitem value (it prints role names): decoding stops at that change with the column, the type and the
        // change's LSN.
        await c.query(`insert into bad values (1, 'postgres=arw/postgres', null)`);
        const state2 = path.join(server.baseDir, 'values2.state');
        const made2 = await runCli(['slot', 'create', '--dsn', dsnOf(server), '--slot', 'vt2', '--state', state2]);
        expect(made2.code, made2.stderr).toBe(0);
        // A regclass value (a name the server looks up in its catalog): the same, in the second slot's range.
        await c.query(`insert into bad values (2, null, 'pg_class')`);
        const end2 = await flushed(c);
        for (const [slot, file, column, type] of [
          ['vt', state, 'acl', 'aclitem'],
          ['vt2', state2, 'rc', 'regclass'],
        ] as const) {
          const at = (await peek(c, slot, end2, [])).find((l) => l.includes('table public.bad: INSERT'))!.split('\t')[0]!;
          const run = await runCli(['decode', '--state', file, '-p', server.pgWalDir, '--end', end2]);
          expect(run.code).toBe(1);
          expect(run.stderr).toContain(`cannot print column ${column} of type ${type} (oid `);
          expect(run.stderr).toContain(`of table public.bad in the change at ${at}:`);
          expect(run.stderr).toMatch(/pgwal cannot print values of type/);
        }
      } finally {
        await c.end();
      }
    });
  });
});
