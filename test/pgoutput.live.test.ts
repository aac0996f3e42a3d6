// Live, PostgreSQL 15–18: `pgwal slot create --plugin pgoutput` (publications made before it), a workload (replica
// identity default / full / index, key changes, TOAST unchanged and changed, a user enum and a domain (Type
// messages), generated and dropped columns, subtransactions and a rollback to savepoint, messages, a transaction
// that spills, TRUNCATE and changes after it, a column added mid-stream, timestamps), then `pgwal decode --plugin pgoutput`
// equals pg_logical_slot_peek_binary_changes on the server's slot byte for byte, for each proto_version the major
// has and several publication sets.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type pg from 'pg';
import { decodeCommand } from '../src/cli/decode.js';
import { slotCommand } from '../src/cli/slot.js';
import type { DumpIo } from '../src/cli/dump.js';
import { readSlotStateFile } from '../src/node/slot.js';
import { withServer } from './support/pg-server.js';
import { encodePgOutputMessage, PgOutputParser, type PgOutputMessage } from '../src/reorderbuffer/pgoutput-parse.js';
import { formatLsn } from '../src/lsn.js';

/**
 * The server's rows parsed with pgwal's pgoutput parser: each message encodes back to the server's bytes, and
 * Begin / Commit agree with the row's xid and LSN columns.
 */
function parseRows(rows: string[]): { lsn: string; xid: string; m: PgOutputMessage }[] {
  const parser = new PgOutputParser();
  return rows.map((row) => {
    const [lsn, xid, hex] = row.split('\t') as [string, string, string];
    const bytes = Uint8Array.from(Buffer.from(hex.slice(2), 'hex'));
    const m = parser.parse(bytes);
    expect(Buffer.from(encodePgOutputMessage(m)).toString('hex'), row.slice(0, 40)).toBe(hex.slice(2));
    if (m.tag === 'begin') expect(String(m.xid)).toBe(xid);
    if (m.tag === 'commit') expect(formatLsn(m.endLsn)).toBe(lsn);
    return { lsn, xid, m };
  });
}

const asText = { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig;

function io(): DumpIo & { stdout: () => string; stderr: () => string } {
  let out = '';
  let err = '';
  return { out: (t) => (out += t), err: (t) => (err += t), errIsTty: false, env: {}, cwd: process.cwd(), sleep: async () => undefined, stdout: () => out, stderr: () => err };
}

async function schema(c: pg.Client, major: number): Promise<void> {
  await c.query(`create type mood as enum ('sad', 'ok', 'happy')`);
  await c.query(`create domain posint as int check (value > 0)`);
  await c.query(`create table plain (id int primary key, v text, n numeric(10,2), m mood, d posint, big text, g int generated always as (id * 2) stored)`);
  await c.query(`create table full_t (id int, a varchar(10), big text, ts timestamptz)`);
  await c.query(`alter table full_t replica identity full`);
  await c.query(`alter table full_t add column gone text, add column after_gone int`);
  await c.query(`alter table full_t drop column gone`);
  await c.query(`create table idx_t (a int not null, b text not null, c text)`);
  await c.query(`create unique index idx_t_ab on idx_t (b, a)`);
  await c.query(`alter table idx_t replica identity using index idx_t_ab`);
  await c.query(`create table ins_only (a int, b text)`);
  await c.query(`alter table ins_only replica identity full`);
  await c.query(`create schema "Other Schema"`);
  await c.query(`create table "Other Schema"."Odd ""T""" ("Col" int primary key, x text)`);
  await c.query(`create table later (id int primary key, v text)`);
  await c.query(`select pg_replication_origin_create('pgo_origin')`);
  await c.query(`create publication p_all for all tables`);
  await c.query(`create publication p_some for table plain, full_t with (publish = 'insert, update')`);
  await c.query(`create publication p_ins for table ins_only with (publish = 'insert')`);
  await c.query(`create publication p_trunc for table plain, idx_t, later with (publish = 'truncate, delete')`);
  if (major >= 15) await c.query(`create publication p_schema for tables in schema "Other Schema"`);
  // Column lists (15+): the Relation message and the tuples carry only the listed columns.
  await c.query(`create publication p_cols for table idx_t (a, b), plain (id, v, big)`);
  // A row filter outside what pgwal evaluates (a regular expression): a typed error.
  await c.query(`create publication p_filter for table full_t where (a::text ~ 'x')`);
  await c.query(`create table parted (k int primary key, v text) partition by range (k)`);
  await c.query(`create table parted_1 partition of parted for values from (0) to (100)`);
  // A partition whose columns are in another order than its root's: published through the root, mapped by name.
  await c.query(`create table parted_2 (v text, k int not null)`);
  await c.query(`alter table parted attach partition parted_2 for values from (100) to (200)`);
  await c.query(`create publication p_root for table parted with (publish_via_partition_root = true)`);
  await c.query(`create publication p_leaf for table parted_2`);
  // Arrays in binary (array_send); a point has no binary writer in pgwal yet.
  await c.query(`create table arr_t (id int primary key, xs int[], ts text[], ns numeric[])`);
  await c.query(`create table pt_t (id int primary key, pt point)`);
  await c.query(`create publication p_pt for table pt_t`);
  // Timestamps without time zone (text: written from their digits): fractions, before 2000, BC, the largest, infinities.
  await c.query(`create table ts_t (id int primary key, t timestamp)`);
  await c.query(`create publication p_arr for table arr_t`);
}

/** Returns the LSN before the first DDL (streamed blocks of catalog changes are not compared: see below). */
async function workload(c: pg.Client, other: pg.Client): Promise<string> {
  const big = (n: number, salt: string): string => `(select string_agg(md5(g::text || '${salt}'), '') from generate_series(1, ${n}) g)`;
  for (let i = 1; i <= 20; i++) await c.query(`insert into plain (id, v, n, m, d) values (${i}, 'v${i}', ${i}.25, '${['sad', 'ok', 'happy'][i % 3]}', ${i})`);
  await c.query(`insert into plain (id, v, big) values (100, 'toasted', ${big(300, 'a')})`);
  await c.query(`update plain set v = 'unchanged toast' where id = 100`);
  await c.query(`update plain set big = ${big(200, 'b')} where id = 100`);
  await c.query(`update plain set id = 101 where id = 100`);
  await c.query(`update plain set v = null, n = 'NaN' where id % 4 = 0`);
  await c.query(`delete from plain where id % 5 = 0`);
  await c.query(`insert into full_t values (1, 'x', ${big(300, 'c')}, '2024-01-02 03:04:05.678+02', 7), (2, null, 'small', null, null)`);
  await c.query(`update full_t set a = 'y'`);
  await c.query(`delete from full_t where id = 1`);
  await c.query(`insert into idx_t values (1, 'one', 'c1'), (2, 'two', null)`);
  await c.query(`update idx_t set c = 'changed' where a = 1`);
  await c.query(`update idx_t set b = 'TWO' where a = 2`);
  await c.query(`delete from idx_t where a = 1`);
  await c.query(`insert into ins_only values (1, 'only inserts')`);
  await c.query(`insert into parted values (1, 'leaf'), (150, 'leaf 2')`);
  await c.query(`update parted set v = v || ' updated'`);
  await c.query(`delete from parted where k = 1`);
  await c.query(`insert into arr_t values (1, '{1,2}', '[0:1]={a,NULL}', '{1.5,NaN,-2}'), (2, '{{1,2},{3,4}}', '{}', null)`);
  await c.query(`insert into pt_t values (1, '(1,2)')`);
  await c.query(
    `insert into ts_t values (1, '2024-01-01 00:00:00'), (2, '2024-01-01 23:59:59.999999'), (3, '2024-01-01 12:00:00.5'), (4, '1999-12-31 23:59:59.000001'), (5, '0044-03-15 12:00:00 BC'), (6, '4713-11-24 00:00:00.01 BC'), (7, '294276-12-31 23:59:59.999999'), (8, 'infinity'), (9, '-infinity'), (10, '1900-02-28 10:20:30.04'), (11, '2024-01-01 09:08:07.000600'), (12, null)`,
  );
  await c.query(`update ts_t set t = t + interval '1 day 1 microsecond' where id in (1, 4, 10)`);
  await c.query(`insert into "Other Schema"."Odd ""T""" values (1, E'tab\\tü')`);
  await c.query(`update "Other Schema"."Odd ""T""" set x = 'z'`);
  // A replicated transaction: an Origin message after its Begin (with origin = none, 16+, left out).
  await other.query(`select pg_replication_origin_session_setup('pgo_origin')`);
  await other.query('begin');
  await other.query(`select pg_replication_origin_xact_setup('0/ABCDEF', '2001-02-03 04:05:06.789+00')`);
  await other.query(`insert into ins_only values (6000, 'replicated')`);
  await other.query('commit');
  await other.query(`select pg_replication_origin_session_reset()`);
  // Subtransactions, a rollback to savepoint, interleaving, messages.
  await c.query('begin');
  await c.query(`insert into idx_t values (10, 'ten', 's0')`);
  await c.query(`select pg_logical_emit_message(true, 'pfx', E'tx\\\\001'::bytea)`);
  await c.query('savepoint a');
  await c.query(`insert into idx_t values (11, 'eleven', 's1')`);
  await other.query(`insert into ins_only values (2, 'interleaved')`);
  await c.query('rollback to savepoint a');
  await c.query('savepoint b');
  await c.query(`insert into idx_t values (12, 'twelve', 's2')`);
  await c.query('release savepoint b');
  await c.query(`select pg_logical_emit_message(false, 'nt', 'non-transactional')`);
  await c.query('commit');
  await c.query('begin');
  await c.query(`insert into idx_t values (20, 'aborted', null)`);
  await c.query('rollback');
  // A message alone: BEGIN with it only when messages are published.
  await c.query(`select pg_logical_emit_message(true, 'alone', 'x')`);
  // A transaction that touches only unpublished actions: nothing (no empty BEGIN/COMMIT).
  await c.query(`update ins_only set b = 'not published by p_ins'`);
  // A transaction over logical_decoding_work_mem: spilled by the server and by pgwal.
  await c.query(`insert into plain (id, v) select g, repeat('s', 200) || g from generate_series(1000, 2500) g`);
  // Two-phase: PREPARE then COMMIT PREPARED / ROLLBACK PREPARED (decoded at PREPARE by the two-phase slot).
  await c.query('begin');
  await c.query(`insert into plain (id, v) values (5000, 'prepared 1')`);
  await c.query(`select pg_logical_emit_message(true, '2pc', 'in a prepared transaction')`);
  await c.query(`update full_t set a = 'prep'`);
  await c.query(`prepare transaction 'g1'`);
  await c.query('begin');
  await c.query(`insert into plain (id, v) values (5001, 'prepared 2')`);
  await c.query(`prepare transaction 'g2'`);
  await c.query(`commit prepared 'g1'`);
  await c.query(`rollback prepared 'g2'`);
  // The same, rolled back: streamed and then aborted downstream when streaming.
  await c.query('begin');
  await c.query(`insert into plain (id, v) select g, repeat('r', 200) || g from generate_series(3000, 4500) g`);
  await c.query('rollback');
  const beforeDdl = (await c.query('select pg_current_wal_insert_lsn()::text as l')).rows[0].l as string;
  await c.query(`truncate later, idx_t`);
  await c.query(`insert into idx_t values (30, 'after truncate', null)`);
  await c.query(`insert into later values (1, 'l')`);
  await c.query(`alter table later add column extra int default 5`);
  await c.query(`insert into later values (2, 'after add column')`);
  await c.query(`update later set v = 'w' where id = 1`);
  // DDL inside a transaction that changed the table before and after it: the Relation message again in between.
  await c.query('begin');
  await c.query(`insert into later values (3, 'before')`);
  await c.query(`alter table later add column extra2 text`);
  await c.query(`insert into later values (4, 'after', 6, 'x')`);
  await c.query('commit');
  await c.query(`insert into later values (5, 'next transaction')`);
  return beforeDdl;
}

const PUBLICATION_SETS: string[][] = [['p_all'], ['p_some'], ['p_some', 'p_ins', 'p_trunc'], ['p_schema'], ['p_cols'], ['p_ins', 'p_schema'], ['p_arr'], ['p_root'], ['p_leaf'], ['p_leaf', 'p_root'], ['p_root', 'p_leaf']];

describe.each([15, 16, 17, 18] as const)('PostgreSQL %i', (major) => {
  it("pgwal's pgoutput messages equal pg_logical_slot_peek_binary_changes byte for byte", async () => {
    await withServer({ major, gucs: { wal_keep_size: "'1GB'", logical_decoding_work_mem: "'64kB'", max_prepared_transactions: 10 } }, async (server) => {
      const c = await server.connect();
      const other = await server.connect();
      try {
        await schema(c, major);
        const state = path.join(server.baseDir, 'slot.state');
        const dsn = `postgresql://postgres@localhost/postgres?host=${encodeURIComponent(server.socketDir)}&port=${server.port}`;
        const created = io();
        expect(await slotCommand(['create', '--dsn', dsn, '--slot', 'pgo', '--plugin', 'pgoutput', '--state', state], created), created.stderr()).toBe(0);
        expect(readSlotStateFile(state).plugin).toBe('pgoutput');
        const state2pc = path.join(server.baseDir, 'slot2pc.state');
        const created2pc = io();
        expect(await slotCommand(['create', '--dsn', dsn, '--slot', 'pgo2pc', '--plugin', 'pgoutput', '--two-phase', '--state', state2pc], created2pc), created2pc.stderr()).toBe(0);
        const beforeDdl = await workload(c, other);
        const end = (await c.query('select pg_current_wal_insert_lsn()::text as l')).rows[0].l as string;
        for (let i = 0; i < 200 && (await c.query('select pg_current_wal_flush_lsn() >= $1::pg_lsn as ok', [end])).rows[0].ok !== true; i++) await new Promise((res) => setTimeout(res, 25));
        const maxProto = major >= 16 ? 4 : 3;
        let compared = 0;
        let semanticChecks = 0;
        for (let proto = 1; proto <= maxProto; proto++) {
          for (const pubs of PUBLICATION_SETS) {
            const variants: [string, string][][] = [[['messages', 'false']]];
            if (proto === 1 || pubs.length > 1) variants.push([['messages', 'true']]);
            // Streaming (16+: debug_logical_replication_streaming = immediate, pgwal's --memory-limit 0): every
            // transaction goes out in blocks, committed or aborted, changes in subtransactions with their own xid. Up
            // to the first DDL: the server opens a block at a catalog change too, which pgwal's reorder buffer does
            // not queue.
            if (major >= 16 && proto >= 2 && (pubs[0] === 'p_some' || pubs[0] === 'p_all')) variants.push([['messages', 'on'], ['streaming', 'on']]);
            if (major >= 16 && proto >= 4 && pubs[0] === 'p_some') variants.push([['streaming', 'parallel']]);
            if (major >= 16 && pubs[0] === 'p_all' && proto >= 3) variants.push([['origin', proto === 3 ? 'none' : 'any']]);
            // Binary: values in their send format (integers, numeric, text types, an enum, a domain, timestamptz).
            if ((proto === 1 || proto === maxProto) && (pubs[0] === 'p_some' || pubs[0] === 'p_schema' || pubs[0] === 'p_arr')) variants.push([['binary', 'true'], ['messages', 'true']]);
            for (const variant of variants) {
              const opts: [string, string][] = [['proto_version', String(proto)], ['publication_names', pubs.join(',')], ...variant];
              const streaming = variant.some(([k]) => k === 'streaming');
              if (major >= 16) await c.query(`set debug_logical_replication_streaming = ${streaming ? 'immediate' : 'buffered'}`);
              const upto = streaming ? beforeDdl : end;
              const args = opts.flat();
              const theirs = (
                await c.query({
                  text: `select lsn, xid, data from pg_logical_slot_peek_binary_changes('pgo', $1, null${args.map((_, i) => `, $${i + 2}`).join('')})`,
                  values: [upto, ...args],
                  rowMode: 'array',
                  types: asText,
                })
              ).rows.map((row) => `${row[0]}\t${row[1]}\t${row[2]}`);
              const run = io();
              const code = await decodeCommand(['--state', state, '-p', server.pgWalDir, '--end', upto, '--with-lsn', '--memory-limit', streaming ? '0' : '64kB', ...opts.flatMap(([k, v]) => ['-o', `${k}=${v}`])], run);
              expect(code, run.stderr()).toBe(0);
              const ours = run.stdout() === '' ? [] : run.stdout().replace(/\n$/, '').split('\n');
              expect(ours, `${major}: ${JSON.stringify(opts)}`).toEqual(theirs);
              expect(theirs.length, JSON.stringify(opts)).toBeGreaterThan(3);
              if (streaming) expect(theirs.some((r) => r.includes('\\x41')), 'a stream abort').toBe(true);
              const parsed = parseRows(theirs);
              if (proto === 1 && pubs[0] === 'p_all' && variant[0]![1] === 'false') {
                // The parser's view of the server's messages against the catalog and the rows inserted.
                const rel = parsed.find(({ m }) => m.tag === 'relation' && m.name === 'plain')!.m as Extract<PgOutputMessage, { tag: 'relation' }>;
                const cols = (await c.query(`select attname, atttypid::int, atttypmod from pg_attribute where attrelid = 'plain'::regclass and attnum > 0 and not attisdropped and attgenerated = '' order by attnum`)).rows;
                expect(rel.columns.map((x) => [x.name, x.typeOid, x.typmod, x.isKey])).toEqual(cols.map((r) => [r.attname, r.atttypid, r.atttypmod, r.attname === 'id']));
                expect(rel.namespace).toBe('public');
                const types = parsed.filter(({ m }) => m.tag === 'type').map(({ m }) => m as Extract<PgOutputMessage, { tag: 'type' }>);
                const moodOid = (await c.query(`select 'mood'::regtype::oid::int as o, 'posint'::regtype::oid::int as p`)).rows[0];
                expect(types.find((t) => t.typeOid === moodOid.o)).toMatchObject({ namespace: 'public', name: 'mood' });
                // A domain: its own OID, the name of the type it is over (pg_catalog written as '').
                expect(types.find((t) => t.typeOid === moodOid.p)).toMatchObject({ namespace: '', name: 'int4' });
                const ins = parsed.find(({ m }) => m.tag === 'insert' && m.relid === rel.relid)!.m as Extract<PgOutputMessage, { tag: 'insert' }>;
                expect(ins.newTuple).toEqual([
                  { kind: 'text', value: '1' },
                  { kind: 'text', value: 'v1' },
                  { kind: 'text', value: '1.25' },
                  { kind: 'text', value: 'ok' },
                  { kind: 'text', value: '1' },
                  { kind: 'null' },
                ]);
                const unchanged = parsed.filter(({ m }) => m.tag === 'update' && m.relid === rel.relid && m.newTuple[5]?.kind === 'unchanged');
                expect(unchanged.length, 'an update leaving a TOAST value unchanged').toBeGreaterThan(0);
                const origin = parsed.findIndex(({ m }) => m.tag === 'origin');
                expect(parsed[origin]?.m).toEqual({ tag: 'origin', originLsn: 0xabcdef, name: 'pgo_origin' });
                expect(parsed[origin - 1]?.m.tag).toBe('begin');
                semanticChecks++;
              }
              compared += theirs.length;
            }
          }
        }
        expect(compared).toBeGreaterThan(100);
        expect(semanticChecks).toBe(1);
        // The two-phase slot: Begin Prepare / Prepare / Commit Prepared / Rollback Prepared (and Stream Prepare).
        const twoPhaseSets: { opts: [string, string][]; streaming: boolean }[] = [
          { opts: [['proto_version', '1'], ['publication_names', 'p_all']], streaming: false },
          { opts: [['proto_version', '3'], ['publication_names', 'p_all'], ['two_phase', 'on'], ['messages', 'on']], streaming: false },
          { opts: [['proto_version', String(maxProto)], ['publication_names', 'p_some,p_ins'], ['two_phase', 'on']], streaming: false },
          ...(major >= 16 ? [{ opts: [['proto_version', '3'], ['publication_names', 'p_some'], ['two_phase', 'on'], ['streaming', 'on']] as [string, string][], streaming: true }] : []),
        ];
        for (const { opts, streaming } of twoPhaseSets) {
          if (major >= 16) await c.query(`set debug_logical_replication_streaming = ${streaming ? 'immediate' : 'buffered'}`);
          const upto = streaming ? beforeDdl : end;
          const args = opts.flat();
          const theirs = (
            await c.query({
              text: `select lsn, xid, data from pg_logical_slot_peek_binary_changes('pgo2pc', $1, null${args.map((_, i) => `, $${i + 2}`).join('')})`,
              values: [upto, ...args],
              rowMode: 'array',
              types: asText,
            })
          ).rows.map((row) => `${row[0]}\t${row[1]}\t${row[2]}`);
          const run = io();
          const code = await decodeCommand(['--state', state2pc, '-p', server.pgWalDir, '--end', upto, '--with-lsn', '--memory-limit', streaming ? '0' : '64kB', ...opts.flatMap(([k, v]) => ['-o', `${k}=${v}`])], run);
          expect(code, run.stderr()).toBe(0);
          const ours = run.stdout() === '' ? [] : run.stdout().replace(/\n$/, '').split('\n');
          expect(ours, `${major} two-phase: ${JSON.stringify(opts)}`).toEqual(theirs);
          // Begin Prepare ('b', or Stream Prepare 'p' when streamed), Commit Prepared ('K') and Rollback Prepared ('r') were there.
          for (const type of [streaming ? '70' : '62', '4b', '72']) expect(theirs.some((r) => r.includes(`\\x${type}`)), `${type}: ${JSON.stringify(opts)}`).toBe(true);
        }
        // What pgwal cannot reproduce yet is an error naming it, never a different stream.
        for (const [pub, text, binary] of [
          ['p_filter', `cannot evaluate the row filter of publication "p_filter" on table public.full_t: WHERE ((a)::text ~ 'x'::text): operator 641 (function 1254) is not supported`],
          ['p_pt', 'pgwal cannot write column pt of public.pt_t of type point (oid 600) in binary', 'true'],
        ]) {
          const run = io();
          const code = await decodeCommand(['--state', state, '-p', server.pgWalDir, '--end', end, '-o', 'proto_version=1', '-o', `publication_names=${pub}`, '-o', `binary=${binary ?? 'false'}`], run);
          expect(code, run.stderr()).toBe(1);
          expect(run.stderr()).toContain(text!);
        }
        // Options the server refuses: pgwal refuses them with the same message, on stderr, exit code 1.
        const refused: [string, string][][] = [
          [['publication_names', 'p_all']],
          [['proto_version', '1']],
          [['proto_version', String(maxProto + 1)], ['publication_names', 'p_all']],
          [['proto_version', '0'], ['publication_names', 'p_all']],
          [['proto_version', '1'], ['publication_names', 'p_all'], ['streaming', 'on']],
          [['proto_version', '2'], ['publication_names', 'p_all'], ['two_phase', 'on']],
          [['proto_version', '1'], ['publication_names', 'p_all'], ['messages', 'maybe']],
          [['proto_version', '1'], ['publication_names', 'p_all'], ['bogus', '1']],
          [['proto_version', '1'], ['publication_names', 'p_all'], ['messages', 'on'], ['messages', 'off']],
          [['proto_version', '1'], ['publication_names', 'p_all'], ['streaming', 'sometimes']],
          [['proto_version', 'x'], ['publication_names', 'p_all']],
          [['proto_version', '1'], ['publication_names', 'p_all,']],
          [['proto_version', '1'], ['publication_names', 'p_all'], ['origin', 'some']],
          [['proto_version', '1'], ['publication_names', 'no_such_pub']],
          ...(major >= 16 ? [[['proto_version', '3'], ['publication_names', 'p_all'], ['streaming', 'parallel']] as [string, string][]] : []),
        ];
        const mismatches: string[] = [];
        for (const opts of refused) {
          const args = opts.flat();
          const theirs = await c
            .query({ text: `select data from pg_logical_slot_peek_binary_changes('pgo', $1, null${args.map((_, i) => `, $${i + 2}`).join('')})`, values: [end, ...args] })
            .then(
              () => 'accepted',
              (e: Error) => e.message,
            );
          const run = io();
          const code = await decodeCommand(['--state', state, '-p', server.pgWalDir, '--end', end, ...opts.flatMap(([k, v]) => ['-o', `${k}=${v}`])], run);
          const ours = code === 0 ? 'accepted' : run.stderr().replace(/^pgwal decode: error: /, '').replace(/\n$/, '');
          if (ours !== theirs) mismatches.push(`${JSON.stringify(opts)}: server ${JSON.stringify(theirs)}, pgwal ${JSON.stringify(ours)}`);
        }
        expect(mismatches).toEqual([]);
        // A publication changed after the slot: pgwal follows it as the server does (the historic catalog keeps
        // the publication catalogs; test/pgoutput-publications.live.test.ts changes them in every way).
        await c.query(`alter publication p_some add table idx_t`);
        await c.query(`insert into idx_t values (99, 'after alter publication', null)`);
        const end2 = (await c.query('select pg_current_wal_insert_lsn()::text as l')).rows[0].l as string;
        for (let i = 0; i < 200 && (await c.query('select pg_current_wal_flush_lsn() >= $1::pg_lsn as ok', [end2])).rows[0].ok !== true; i++) await new Promise((res) => setTimeout(res, 25));
        if (major >= 16) await c.query(`set debug_logical_replication_streaming = buffered`);
        const theirs2 = (
          await c.query({ text: `select lsn, xid, data from pg_logical_slot_peek_binary_changes('pgo', $1, null, 'proto_version', '1', 'publication_names', 'p_some')`, values: [end2], rowMode: 'array', types: asText })
        ).rows.map((row) => `${row[0]}\t${row[1]}\t${row[2]}`);
        const changed = io();
        expect(await decodeCommand(['--state', state, '-p', server.pgWalDir, '--end', end2, '--with-lsn', '-o', 'proto_version=1', '-o', 'publication_names=p_some'], changed), changed.stderr()).toBe(0);
        expect(changed.stdout().replace(/\n$/, '').split('\n')).toEqual(theirs2);
      } finally {
        await other.end();
        await c.end();
      }
    });
  }, 300_000);
});
