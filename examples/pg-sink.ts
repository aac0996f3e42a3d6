// Applies a slot's decoded transactions to the same tables in another PostgreSQL database, exactly once: each batch
// is one target transaction that also stores the batch's end LSN in pgwal_progress; the slot is acked after COMMIT.
// A kill anywhere loses nothing (what was not acked comes again) and applies nothing twice (what the target's
// stored LSN covers is skipped, and acked).
//
//   node pg-sink.js --state s.state --wal pg_wal --target postgres://… [--end 0/3000000] [--follow] [--batch 50]
import { parseArgs } from 'node:util';
import pg from 'pg';
import { formatLsn, parseLsn } from 'pgwal';
import { openSlotFile, TransactionConsumer } from 'pgwal/node';
import { jsonValue, UnchangedToast, type TypedChange, type TypedRow } from 'pgwal/reorderbuffer';

const { values: args } = parseArgs({
  options: { state: { type: 'string', default: 's.state' }, wal: { type: 'string', default: 'pg_wal' }, target: { type: 'string' }, end: { type: 'string' }, follow: { type: 'boolean' }, batch: { type: 'string', default: '50' } },
});

const slot = openSlotFile(args.state!); // locked while this process runs; a killed process's lock is taken over
const target = new pg.Client({ connectionString: args.target });
await target.connect();
await target.query('create table if not exists pgwal_progress (slot_name text primary key, lsn pg_lsn not null)');
// Everything up to here is in the target already (COMMITted before a kill could ack it).
const row = (await target.query<{ lsn: string }>('select lsn::text from pgwal_progress where slot_name = $1', [slot.name])).rows[0];
let applied = parseLsn(row?.lsn ?? '0/0');

const ident = (s: string): string => `"${s.replace(/"/g, '""')}"`;
const keys = new Map<string, string[]>();
/** The target table's primary key columns: the row an update or delete names. */
async function keyOf(schema: string, table: string): Promise<string[]> {
  const name = `${ident(schema)}.${ident(table)}`;
  let k = keys.get(name);
  if (k === undefined) {
    const r = await target.query<{ attname: string }>(
      `select a.attname from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
       where i.indrelid = $1::regclass and i.indisprimary order by array_position(i.indkey, a.attnum)`,
      [name],
    );
    k = r.rows.map((x) => x.attname);
    if (k.length === 0) throw new Error(`target table ${name} has no primary key`);
    keys.set(name, k);
  }
  return k;
}

/** Columns with a value to write: an unchanged TOAST value is left as the target has it. */
const present = (r: TypedRow): string[] => Object.keys(r).filter((c) => !(r[c] instanceof UnchangedToast));

async function apply(c: TypedChange): Promise<void> {
  switch (c.kind) {
    case 'insert': {
      const cols = present(c.new);
      await target.query(
        `insert into ${ident(c.schema)}.${ident(c.table)} (${cols.map(ident).join(', ')}) values (${cols.map((_, i) => `$${i + 1}`).join(', ')})`,
        cols.map((col) => jsonValue(c.new[col]!)),
      );
      return;
    }
    case 'update':
    case 'delete': {
      const key = await keyOf(c.schema, c.table);
      const old = c.old ?? (c.kind === 'update' ? c.new : undefined); // the old key is logged only when it changed
      if (old === undefined) throw new Error(`a delete on ${c.schema}.${c.table} without its key (replica identity nothing)`);
      const where = key.map((col, i) => `${ident(col)} = $${i + 1}`).join(' and ');
      const params = key.map((col) => jsonValue(old[col]!));
      if (c.kind === 'delete') {
        await target.query(`delete from ${ident(c.schema)}.${ident(c.table)} where ${where}`, params);
        return;
      }
      const cols = present(c.new);
      const set = cols.map((col, i) => `${ident(col)} = $${key.length + i + 1}`).join(', ');
      await target.query(`update ${ident(c.schema)}.${ident(c.table)} set ${set} where ${where}`, [...params, ...cols.map((col) => jsonValue(c.new[col]!))]);
      return;
    }
    case 'truncate':
      await target.query(`truncate ${c.tables.map((t) => `${ident(t.schema)}.${ident(t.table)}`).join(', ')}`);
      return;
    case 'message':
    case 'ddl':
      return; // not rows
  }
}

const consumer = new TransactionConsumer({
  slot,
  path: args.wal!,
  ...(args.end !== undefined ? { end: parseLsn(args.end) } : {}),
  follow: args.follow === true,
  batch: { maxTransactions: Number(args.batch), maxChanges: 5000, maxWaitMs: 200 },
});
process.once('SIGINT', () => consumer.stop());
process.once('SIGTERM', () => consumer.stop());

try {
  await consumer.run({
    autoAck: false,
    eachBatch: async ({ batch, ack }) => {
      const todo = batch.transactions.filter((t) => t.endLsn > applied);
      if (todo.length > 0) {
        await target.query('begin');
        try {
          for (const t of todo) for (const c of t.changes) await apply(c);
          await target.query(
            `insert into pgwal_progress values ($1, $2) on conflict (slot_name) do update set lsn = excluded.lsn`,
            [slot.name, formatLsn(batch.lastLsn)],
          );
          await target.query('commit');
        } catch (e) {
          await target.query('rollback');
          throw e;
        }
        applied = batch.lastLsn;
      }
      ack(batch.lastLsn); // the slot moves only once the target has COMMITted
      console.log(`applied ${todo.length} of ${batch.transactions.length} transactions up to ${formatLsn(batch.lastLsn)}`);
    },
  });
} finally {
  slot.release();
  await target.end();
}
