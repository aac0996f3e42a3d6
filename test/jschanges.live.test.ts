// Live, 15 and 18: a slot made by `pgwal slot create`, a seeded workload, then the WAL decoded into typed
// transactions (decodeTransactions, i.e. TypedChangesPlugin under an async iterator). Their shape — transactions, commit LSNs, each change's LSN, kind and table,
// messages — equals test_decoding's rows from the same slot; the row values agree with the server's text of the
// same rows (inserted rows as first written, updated rows as they end up), old keys with the deleted ids.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type pg from 'pg';
import { formatLsn, parseLsn } from '../src/lsn.js';
import { createSlot, writeSlotStateFile, readSlotStateFile } from '../src/node/slot.js';
import { LogicalDecoder } from '../src/reorderbuffer/logical.js';
import { TypedChangesPlugin, type TypedChange, type TypedTransaction } from '../src/reorderbuffer/jschanges.js';
import { UnchangedToast } from '../src/reorderbuffer/jsvalues.js';
import type { TypeInfo } from '../src/reorderbuffer/values.js';
import { profileForMajor } from '../src/xlogreader/profile.js';
import { decodeTransactions } from '../src/node/transactions.js';
import { withServer } from './support/pg-server.js';
import { walDirRecords } from './support/wal.js';
import { COLUMNS, randomRow, rng } from './support/random-rows.js';
import { describeJs, matchesText } from './support/jsvalue-match.js';

const SEED = Number(process.env.PGWAL_SEED ?? Date.now() % 100000);
const asText = { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig;

describe.each([15, 18] as const)('PostgreSQL %i', (major) => {
  it(`typed transactions match test_decoding's rows and the server's values (seed ${SEED + major})`, async () => {
    await withServer({ major, gucs: { wal_keep_size: "'1GB'" } }, async (server) => {
      const c = await server.connect();
      try {
        await c.query(`create type mood as enum ('sad', 'ok', 'happy')`);
        await c.query('create type textrange as range (subtype = text)');
        await c.query(`create table v (id int primary key, ${COLUMNS.map(([n, t]) => `${n} ${t}`).join(', ')})`);
        await c.query(`create table tst (id int primary key, note text, big text)`);
        await c.query(`create table full_t (id int, a text)`);
        await c.query(`alter table full_t replica identity full`);
        const stateFile = path.join(server.baseDir, 'typed.state');
        writeSlotStateFile(stateFile, await createSlot({ connection: server.connection, slotName: 'typed' }));
        const r = rng(SEED + major);
        for (let i = 1; i <= 120; i++) await c.query(`insert into v values ${randomRow(r, i)}`);
        const inserted = new Map<number, (string | null)[]>();
        for (const row of (await c.query({ text: `select id, ${COLUMNS.map(([n]) => n).join(', ')} from v`, rowMode: 'array', types: asText })).rows) inserted.set(Number(row[0]), row);
        await c.query(`update v set t = 'updated ' || id, i4 = i4 / 2, f8 = -f8, d = null where id % 10 = 0`);
        await c.query(`update v set id = id + 1000 where id % 25 = 0`);
        await c.query(`delete from v where id % 15 = 0`);
        await c.query(`insert into tst values (1, 'a', (select string_agg(md5(g::text), '') from generate_series(1, 300) g))`);
        await c.query(`update tst set note = 'b'`);
        await c.query(`insert into full_t values (1, 'x'), (2, null)`);
        await c.query(`update full_t set a = 'y' where id = 1`);
        await c.query(`delete from full_t where id = 2`);
        await c.query('begin');
        await c.query(`select pg_logical_emit_message(true, 'p', 'in a transaction')`);
        await c.query(`select pg_logical_emit_message(false, 'p', 'outside')`);
        await c.query(`insert into full_t values (3, 'z')`);
        await c.query('commit');
        await c.query('truncate full_t');
        const final = new Map<number, (string | null)[]>();
        for (const row of (await c.query({ text: `select id, ${COLUMNS.map(([n]) => n).join(', ')} from v`, rowMode: 'array', types: asText })).rows) final.set(Number(row[0]), row);
        const end = (await c.query('select pg_current_wal_insert_lsn()::text as l')).rows[0].l as string;
        for (let i = 0; i < 200 && (await c.query('select pg_current_wal_flush_lsn() >= $1::pg_lsn as ok', [end])).rows[0].ok !== true; i++) await new Promise((res) => setTimeout(res, 25));

        const state = readSlotStateFile(stateFile);
        const txns: TypedTransaction[] = [];
        const outside: TypedChange[] = [];
        // The pull-based API; breaking out early ends the reading (and closes the decoder) without error.
        for await (const t of decodeTransactions({ state, path: server.pgWalDir, end: parseLsn(end) })) {
          void t;
          break;
        }
        for await (const t of decodeTransactions({ state, path: server.pgWalDir, end: parseLsn(end), onMessage: (m) => outside.push(m) })) txns.push(t);
        // The same through the plugin driven by hand.
        const byHand: TypedTransaction[] = [];
        const decoder = new LogicalDecoder({
          catalog: state.catalog,
          major: profileForMajor(state.major)!.major,
          plugin: new TypedChangesPlugin({ onTransaction: (t) => byHand.push(t) }),
          startAt: parseLsn(state.confirmedFlush),
        });
        for (const rec of walDirRecords(server.pgWalDir, parseLsn(state.restartLsn), parseLsn(end))) decoder.process(rec);
        expect(byHand.map((t) => t.endLsn)).toEqual(txns.map((t) => t.endLsn));

        // The shape, from test_decoding's rows on the same slot.
        const rows = (
          await c.query({ text: `select lsn::text, xid::text, data from pg_logical_slot_peek_changes('typed', $1, null, 'include-xids', '1')`, values: [end], rowMode: 'array', types: asText })
        ).rows as [string, string, string][];
        const kinds: Record<string, string> = { INSERT: 'insert', UPDATE: 'update', DELETE: 'delete', TRUNCATE: 'truncate' };
        const theirs: string[] = [];
        for (const [lsn, xid, data] of rows) {
          if (data.startsWith('BEGIN')) theirs.push(`txn ${xid}`);
          else if (data.startsWith('COMMIT')) theirs.push(`commit ${lsn}`);
          else if (data.startsWith('message: transactional: 1')) theirs.push(`${lsn} message`);
          // Non-transactional messages are delivered apart (onMessage).
          else if (data.startsWith('message: transactional: 0')) continue;
          else {
            const m = /^table ([^:]+): (INSERT|UPDATE|DELETE|TRUNCATE):/.exec(data)!;
            theirs.push(m[2] === 'TRUNCATE' ? `${lsn} truncate ${m[1]}` : `${lsn} ${kinds[m[2]!]} ${m[1]}`);
          }
        }
        const ours: string[] = [];
        for (const t of txns) {
          ours.push(`txn ${t.xid}`);
          for (const ch of t.changes) {
            if (ch.kind === 'ddl') continue;
            const table = ch.kind === 'message' ? '' : ch.kind === 'truncate' ? ` ${ch.tables.map((x) => `${x.schema}.${x.table}`).join(', ')}` : ` ${ch.schema}.${ch.table}`;
            ours.push(`${formatLsn(ch.lsn)} ${ch.kind}${table}`);
          }
          ours.push(`commit ${formatLsn(t.endLsn)}`);
        }
        expect(ours).toEqual(theirs);
        expect(outside.map((m) => m.kind === 'message' && `${m.prefix}: ${new TextDecoder().decode(m.content)}`)).toEqual(['p: outside']);

        const tstBig = (await c.query('select big from tst where id = 1')).rows[0].big as string;
        // Without the cache the unchanged column stays unchanged, never null.
        for await (const t of decodeTransactions({ state, path: server.pgWalDir, end: parseLsn(end), toastCache: 0 })) {
          for (const ch of t.changes) if (ch.kind === 'update' && ch.table === 'tst') expect(ch.new.big).toBeInstanceOf(UnchangedToast);
        }
        // The values.
        const types = new Map<number, TypeInfo>(state.catalog.types.map((t) => [t.oid, t]));
        const v = state.catalog.relations.find((x) => x.name === 'v')!;
        const check = (row: Record<string, unknown>, want: (string | null)[], where: string): void => {
          expect(Object.keys(row)).toEqual(['id', ...COLUMNS.map(([n]) => n)]);
          v.attributes.forEach((a, i) => expect(matchesText(row[a.name] as never, want[i]!, types.get(a.typeOid)!), `${where}, column ${a.name}`).toBeUndefined());
        };
        let checked = 0;
        for (const t of txns) {
          expect(t.commitTime.withTimeZone).toBe(true);
          expect(Math.abs(Number(t.commitTime.microseconds / 1000n) - Date.now())).toBeLessThan(600_000);
          for (const ch of t.changes) {
            const where = `seed ${SEED + major}, ${ch.kind} at ${formatLsn(ch.lsn)}`;
            if ((ch.kind === 'insert' || ch.kind === 'update') && ch.table === 'v') {
              const id = ch.new.id as number;
              const want = ch.kind === 'insert' ? inserted.get(id) : final.get(id);
              if (want === undefined) continue; // updated, then deleted or re-keyed
              check(ch.new, want, `${where} ${describeJs(ch.new.id as never)}`);
              checked++;
            }
            if (ch.kind === 'delete' && ch.table === 'v') {
              expect(Object.keys(ch.old!), where).toEqual(['id']);
              expect((ch.old!.id as number) % 15, where).toBe(0);
            }
            if (ch.kind === 'update' && ch.table === 'v' && ch.old !== undefined) {
              expect(ch.old, where).toEqual({ id: (ch.new.id as number) - 1000 });
            }
            // The TOAST value was logged by the insert earlier in the range: filled in (the default cache), with the server's value.
            if (ch.kind === 'update' && ch.table === 'tst') expect(ch.new.big).toBe(tstBig);
            if (ch.kind === 'update' && ch.table === 'full_t') expect(ch.old).toEqual({ id: 1, a: 'x' });
            if (ch.kind === 'delete' && ch.table === 'full_t') expect(ch.old).toEqual({ id: 2, a: null });
            if (ch.kind === 'message') expect(new TextDecoder().decode(ch.content)).toBe('in a transaction');
            if (ch.kind === 'truncate') expect(ch.tables).toEqual([{ schema: 'public', table: 'full_t' }]);
          }
        }
        expect(checked).toBeGreaterThan(120);
      } finally {
        await c.end();
      }
    });
  }, 120_000);
});
