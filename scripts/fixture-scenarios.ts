// The fixture scenarios: each names the edge case its WAL holds. Setup runs before the range starts;
// run is the workload inside the range (a test_decoding slot exists from its first record).
import type pg from 'pg';
import type { ScenarioContext } from './make-fixtures.js';

export interface Scenario {
  name: string;
  description: string;
  /** `debian` for what the npm builds cannot make (lz4, zstd). */
  flavor?: 'npm' | 'debian';
  /** Also decode through a slot created with two_phase. */
  twoPhase?: boolean;
  /** The schema changes in the range: also store the catalog's raw pages at the slot's creation (historic catalog). */
  catalogPages?: boolean;
  /** Also capture wal2json's format-version 2 output (Debian's postgresql-15-wal2json; debian flavor only). */
  wal2json?: boolean;
  /** What the pgoutput answers' publication publishes (default `for all tables`; which refuses updates of tables without replica identity). */
  pgoutputPublication?: string;
  /** Restarts or crashes the server: runs on a server of its own. */
  ownServer?: boolean;
  gucs?: Record<string, string>;
  setup?(ctx: ScenarioContext): Promise<void>;
  /** Returns a new session when it restarted the server. */
  run(ctx: ScenarioContext): Promise<pg.Client | void>;
}

async function exec(c: pg.Client, ...statements: string[]): Promise<void> {
  for (const s of statements) await c.query(s);
}

const TYPES_TABLE = (name: string): string => `create table ${name} (
  id int primary key, i2 int2, i4 int4, i8 int8, f4 float4, f8 float8, n numeric, b bool,
  t text, vc varchar(20), bp char(5), by bytea, d date, tm time, ttz timetz, ts timestamp, tstz timestamptz,
  iv interval, u uuid, j json, jb jsonb, ia int4[], ta text[], ip inet, cd cidr, mac macaddr, m money,
  o oid, x xid, l pg_lsn, bt bit(8), vb varbit, r int4range, nm name, ch "char", f8a float8[], tsa timestamptz[])`;

const TYPE_ROWS = [
  `(1, 1, 2, 3, 1.5, 2.25, 12345.6789, true, 'text', 'varchar', 'ab', '\\x00ff10', '2024-02-29', '12:34:56.789',
    '12:00:00+02', '2024-01-01 00:00:00.123456', '2024-06-30 23:59:59+00', '1 year 2 mons 3 days 04:05:06.7',
    'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"b": 1, "a": [1,2]}', '{"b": 1, "a": [true, null, "x\\ny"], "ccc": 1.50}',
    '{1,2,3}', '{"a b",NULL,"c\\"d",""}', '192.168.0.1/24', '10.0.0.0/8', '08:00:2b:01:02:03', '12.34',
    4000000000, '12345', '16/B374D848', B'10101010', B'101', '[1,10)', 'name', 'c', '{1.5,NaN,-Infinity}',
    '{"2024-01-01 00:00:00+00","infinity"}')`,
  `(2, -32768, -2147483648, -9223372036854775808, 'NaN', 'Infinity', 'NaN', false, E'line1\\nline2\\ttab ''quote''', '',
    'x', '\\x', '-infinity', '00:00:00', '00:00:00-05:30', '0044-03-15 12:00:00 BC', 'infinity', '-1 days -00:00:01',
    '00000000-0000-0000-0000-000000000000', 'null', '[]', '{}', '{}', '::1', '2001:db8::/32', 'ff:ff:ff:ff:ff:ff', '-1.00',
    0, '0', '0/0', B'00000000', B'', 'empty', '', ' ', '{}', '{}')`,
  `(3, 32767, 2147483647, 9223372036854775807, '-Infinity', 1e300, '-0.000001', null, null, null, null, null, null,
    null, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null,
    null, null, null, null, null)`,
  `(4, 0, 0, 0, 3.4028235e38, 1e-300, 'Infinity', true, repeat('é', 10), 'ünïcödé', 'abcde', decode(repeat('ab', 50), 'hex'),
    '5874897-12-31', '24:00:00', '23:59:59.999999+14', '294276-12-31 23:59:59.999999', '1970-01-01 00:00:00+00',
    '178000000 years', 'ffffffff-ffff-ffff-ffff-ffffffffffff', '{"deep": {"deeper": [1, {"x": "y"}]}}',
    '{"n": -1.5e-10, "big": 123456789012345678901234567890}', '{{1,2},{3,4}}', '{{"a","b"},{"c",null}}',
    '255.255.255.255', '128.0.0.0/1', '00:00:00:00:00:00', '92233720368547758.07', 4294967295, '4294967295',
    'FFFFFFFF/FFFFFFFF', B'11111111', B'1010101010101010101', '(,)', repeat('n', 63), 'z',
    '{0.1,1e-7,123456789.123}', '{"1999-12-31 23:59:59.5-08"}')`,
];

export const scenarios: Scenario[] = [
  {
    name: 'types-dml',
    description:
      'many built-in column types (numbers with NaN/Infinity/extremes, text with escapes, bytea, dates and times incl. infinity and BC, ' +
      'json/jsonb, arrays, network types, money, bit strings, ranges) inserted, updated and deleted in a table with replica identity ' +
      'DEFAULT and one with FULL.',
    async setup({ sql }) {
      await exec(sql, TYPES_TABLE('types_default'), TYPES_TABLE('types_full'), 'alter table types_full replica identity full');
    },
    async run({ sql }) {
      for (const t of ['types_default', 'types_full']) {
        await exec(
          sql,
          `insert into ${t} values ${TYPE_ROWS.join(',\n')}`,
          `update ${t} set t = 'updated', i4 = i4 / 2 where id in (1, 2)`,
          `update ${t} set id = id + 100 where id = 3`,
          `delete from ${t} where id = 2`,
          `delete from ${t} where id = 103`,
        );
      }
    },
  },
  {
    name: 'large-records',
    description:
      'a logical message larger than a WAL page, one larger than a 1 MB segment (spanning into the next segments), and an insert of a ' +
      'wide row, so records cross page and segment boundaries.',
    async setup({ sql }) {
      await exec(sql, 'create table wide (id int primary key, payload text)', 'alter table wide alter column payload set storage plain');
    },
    async run({ sql }) {
      await exec(
        sql,
        `select pg_logical_emit_message(false, 'page', repeat('p', 20000))`,
        `select pg_logical_emit_message(true, 'segment', repeat('0123456789abcdef', 80000))`,
        `insert into wide values (1, repeat('w', 7000))`,
        `select pg_logical_emit_message(true, 'after', 'done')`,
      );
    },
  },
  {
    name: 'switch-wal',
    description: 'pg_switch_wal() in the middle of the workload: an XLOG SWITCH record, the rest of its segment zeroed.',
    async setup({ sql }) {
      await exec(sql, 'create table sw (id int primary key, v text)');
    },
    async run({ sql }) {
      await exec(
        sql,
        `insert into sw select g, 'before ' || g from generate_series(1, 20) g`,
        'begin',
        `insert into sw values (100, 'in transaction across the switch')`,
        'select pg_switch_wal()',
        `insert into sw values (101, 'after the switch')`,
        'commit',
        `insert into sw select g, 'after ' || g from generate_series(200, 220) g`,
      );
    },
  },
  ...(['off', 'pglz'] as const).map(
    (method): Scenario => ({
      name: `fpi-${method}`,
      description: `full-page images with wal_compression=${method}: a checkpoint, then updates and index inserts touching every page of a heap and a btree.`,
      gucs: { wal_compression: method },
      async setup({ sql }) {
        await exec(
          sql,
          `create table fpi_${method} (id int primary key, v text, n int)`,
          `insert into fpi_${method} select g, md5(g::text), g from generate_series(1, 3000) g`,
        );
      },
      async run({ sql }) {
        await exec(sql, `set wal_compression = ${method}`, 'checkpoint', `update fpi_${method} set n = n + 1 where id % 50 = 0`, `insert into fpi_${method} select g, 'new', 0 from generate_series(3001, 3100) g`);
      },
    }),
  ),
  ...(['lz4', 'zstd'] as const).map(
    (method): Scenario => ({
      name: `fpi-${method}`,
      flavor: 'debian',
      description: `full-page images with wal_compression=${method} (Debian's build, which has ${method}).`,
      gucs: { wal_compression: method },
      async setup({ sql }) {
        await exec(
          sql,
          `create table fpi_${method} (id int primary key, v text, n int)`,
          `insert into fpi_${method} select g, md5(g::text), g from generate_series(1, 3000) g`,
        );
      },
      async run({ sql }) {
        await exec(sql, `set wal_compression = ${method}`, 'checkpoint', `update fpi_${method} set n = n + 1 where id % 50 = 0`, `insert into fpi_${method} select g, 'new', 0 from generate_series(3001, 3100) g`);
      },
    }),
  ),
  ...(['pglz', 'lz4'] as const).map(
    (method): Scenario => ({
      name: method === 'pglz' ? 'toast' : 'toast-lz4',
      flavor: method === 'pglz' ? 'npm' : 'debian',
      description:
        `TOAST with default_toast_compression=${method}: a value compressed inline, one stored external uncompressed, one external ` +
        'compressed; updates that leave the toasted column unchanged and that change it; deletes.',
      async setup({ sql }) {
        await exec(sql, 'create table toasty (id int primary key, note text, big text)', 'create table toasty_full (id int primary key, big text)', 'alter table toasty_full replica identity full');
      },
      async run({ sql }) {
        const ext = `(select string_agg(md5(g::text), '') from generate_series(1, 200) g)`;
        const extCompressed = `repeat((select string_agg(md5(g::text), '') from generate_series(1, 90) g), 40)`;
        await exec(
          sql,
          `set default_toast_compression = ${method}`,
          `insert into toasty values (1, 'inline compressed', repeat('x', 100000))`,
          `insert into toasty values (2, 'external', ${ext})`,
          `insert into toasty values (3, 'external compressed', ${extCompressed})`,
          `update toasty set note = 'toast unchanged' where id in (2, 3)`,
          `update toasty set big = ${ext} || 'changed' where id = 3`,
          `delete from toasty where id = 2`,
          `insert into toasty_full values (1, ${ext})`,
          `update toasty_full set big = big || 'x' where id = 1`,
          `delete from toasty_full where id = 1`,
        );
      },
    }),
  ),
  {
    name: 'subxacts',
    description:
      'savepoints, ROLLBACK TO SAVEPOINT and RELEASE; a transaction with 100 subtransactions that each wrote a row (more than the 64 ' +
      'cached per backend, so XACT ASSIGNMENT records and overflowed running-xacts); a rolled-back subtransaction in an aborted one.',
    async setup({ sql }) {
      await exec(sql, 'create table sub (id int primary key, v text)');
    },
    async run({ sql }) {
      await exec(
        sql,
        'begin',
        `insert into sub values (1, 'top')`,
        'savepoint a',
        `insert into sub values (2, 'in a')`,
        'savepoint b',
        `insert into sub values (3, 'in b, rolled back')`,
        'rollback to savepoint b',
        `insert into sub values (4, 'after rollback to b')`,
        'release savepoint a',
        `insert into sub values (5, 'top again')`,
        'commit',
      );
      await exec(sql, 'begin');
      for (let i = 0; i < 100; i++) await exec(sql, `savepoint s${i}`, `insert into sub values (${1000 + i}, 'sub ${i}')`);
      await exec(sql, 'commit');
      await exec(sql, 'begin', `insert into sub values (9000, 'aborted top')`, 'savepoint x', `insert into sub values (9001, 'aborted sub')`, 'rollback');
    },
  },
  {
    name: 'aborts',
    description: 'aborted transactions (explicit ROLLBACK, and an error) between committed ones, one aborted after many rows.',
    async setup({ sql }) {
      await exec(sql, 'create table ab (id int primary key, v text)');
    },
    async run({ sql }) {
      await exec(sql, `insert into ab values (1, 'committed')`, 'begin', `insert into ab values (2, 'rolled back')`, 'rollback');
      await exec(sql, 'begin', `insert into ab select g, 'many' from generate_series(10, 500) g`, 'rollback');
      await exec(sql, 'begin', `insert into ab values (3, 'before error')`);
      await sql.query(`insert into ab values (1, 'duplicate key')`).catch(() => undefined);
      await exec(sql, 'rollback', `insert into ab values (4, 'committed after')`);
    },
  },
  {
    name: 'interleaved',
    description: 'three sessions whose transactions interleave in WAL and commit in a different order than they began.',
    async setup({ sql }) {
      await exec(sql, 'create table il (id int primary key, who text)');
    },
    async run({ session }) {
      const [a, b, c] = [await session(), await session(), await session()];
      await exec(a, 'begin', `insert into il values (1, 'a1')`);
      await exec(b, 'begin', `insert into il values (2, 'b1')`);
      await exec(a, `insert into il values (3, 'a2')`);
      await exec(c, 'begin', `insert into il values (4, 'c1')`, 'commit');
      await exec(b, `update il set who = 'b2' where id = 2`, 'commit');
      await exec(a, `delete from il where id = 1`, 'commit');
    },
  },
  {
    name: 'two-phase',
    description: 'PREPARE TRANSACTION then COMMIT PREPARED and ROLLBACK PREPARED, one with a savepoint; decoded also through a two_phase slot.',
    twoPhase: true,
    async setup({ sql }) {
      await exec(sql, 'create table tp (id int primary key, v text)');
    },
    async run({ sql }) {
      await exec(
        sql,
        'begin',
        `insert into tp values (1, 'prepared then committed')`,
        'savepoint s',
        `insert into tp values (2, 'in savepoint')`,
        `prepare transaction 'gid-commit'`,
        `commit prepared 'gid-commit'`,
        'begin',
        `insert into tp values (3, 'prepared then rolled back')`,
        `prepare transaction 'gid-rollback'`,
        `rollback prepared 'gid-rollback'`,
        `insert into tp values (4, 'plain')`,
      );
    },
  },
  {
    name: 'truncate',
    description: 'TRUNCATE of one table, and of two tables with RESTART IDENTITY CASCADE.',
    catalogPages: true,
    async setup({ sql }) {
      await exec(
        sql,
        'create table tr_a (id serial primary key, v text)',
        'create table tr_b (id int primary key, a int references tr_a(id))',
        `insert into tr_a (v) values ('x'), ('y')`,
        'insert into tr_b values (1, 1)',
      );
    },
    async run({ sql }) {
      await exec(sql, 'truncate tr_b', `insert into tr_a (v) values ('z')`, 'insert into tr_b values (2, 1)', 'truncate tr_a, tr_b restart identity cascade', `insert into tr_a (v) values ('after')`);
    },
  },
  {
    name: 'copy',
    description: 'COPY FROM a file (heap MULTI_INSERT records over several pages), with NULLs.',
    async setup({ sql }) {
      await exec(sql, 'create table cp (id int primary key, v text, n numeric)');
    },
    async run({ sql, shareFile }) {
      const rows = Array.from({ length: 600 }, (_, i) => `${i + 1}\t${i % 7 === 0 ? '\\N' : `row ${i + 1}`}\t${(i * 1.25).toFixed(2)}`).join('\n') + '\n';
      const file = shareFile('copy.tsv', rows);
      await exec(sql, `copy cp from '${file}'`);
    },
  },
  {
    name: 'messages',
    description: 'logical messages: transactional and not, inside and outside transactions, empty and binary content.',
    async run({ sql }) {
      await exec(
        sql,
        `select pg_logical_emit_message(false, 'nontx', 'outside')`,
        `select pg_logical_emit_message(true, 'tx', 'alone in its transaction')`,
        'begin',
        `select txid_current()`,
        `select pg_logical_emit_message(true, 'tx', 'first')`,
        `select pg_logical_emit_message(false, 'nontx', 'inside a transaction')`,
        `select pg_logical_emit_message(true, 'tx', ''::text)`,
        `select pg_logical_emit_message(true, 'bin', '\\x00010203ff'::bytea)`,
        'commit',
        'begin',
        `select pg_logical_emit_message(true, 'tx', 'rolled back')`,
        'rollback',
      );
    },
  },
  {
    name: 'wal2json',
    flavor: 'debian',
    wal2json: true,
    // Not wj_nokey and wj_nothing: a publication of their updates would make the server refuse them.
    pgoutputPublication: 'for table wj_types, wj_toast, wj_idx, wj_full',
    description:
      "what wal2json prints differently: the many types of types-dml inserted, updated (key changed and not) and deleted; " +
      'lz4 TOAST values left unchanged by an update (wal2json leaves them out); replica identity full, index (identity ' +
      'taken from the new tuple when the key is unchanged) and nothing, a table without a key (its updates are ' +
      'dropped); a subtransaction rolled back; messages with escapes; a TRUNCATE of two tables last.',
    async setup({ sql }) {
      await exec(
        sql,
        TYPES_TABLE('wj_types'),
        'create table wj_toast (id int primary key, note varchar(20), big text)',
        'create table wj_idx (a int not null, b text not null, c numeric(6,2))',
        'create unique index wj_idx_ba on wj_idx (b, a)',
        'alter table wj_idx replica identity using index wj_idx_ba',
        'create table wj_full (id int, t timestamp(3), iv interval day to second(1))',
        'alter table wj_full replica identity full',
        'create table wj_nokey (a int, b text)',
        'create table wj_nothing (id int primary key, v text)',
        'alter table wj_nothing replica identity nothing',
      );
    },
    async run({ sql }) {
      const ext = `(select string_agg(md5(g::text), '') from generate_series(1, 200) g)`;
      await exec(
        sql,
        'set default_toast_compression = lz4',
        `insert into wj_types values ${TYPE_ROWS.join(', ')}`,
        `update wj_types set t = 'updated', f8 = 'NaN' where id in (1, 3)`,
        'update wj_types set id = 10 where id = 2',
        'delete from wj_types where id = 4',
        `insert into wj_toast values (1, 'a', ${ext}), (2, 'b', repeat('y', 50000))`,
        `update wj_toast set note = 'toast unchanged'`,
        `update wj_toast set big = 'small now' where id = 2`,
        `insert into wj_idx values (1, 'one', 1.5), (2, 'two', null)`,
        'update wj_idx set c = 9.99 where a = 1',
        `update wj_idx set b = 'TWO' where a = 2`,
        'delete from wj_idx where a = 1',
        `insert into wj_full values (1, '2024-01-02 03:04:05.678', '1 day 00:00:01.5')`,
        'update wj_full set t = null',
        'delete from wj_full',
        `insert into wj_nokey values (1, 'x')`,
        `update wj_nokey set b = 'dropped'`,
        `insert into wj_nothing values (1, 'n')`,
        `update wj_nothing set v = 'dropped'`,
        'begin',
        `insert into wj_nokey values (2, 'kept')`,
        'savepoint s',
        `insert into wj_nokey values (3, 'rolled back')`,
        'rollback to savepoint s',
        `select pg_logical_emit_message(true, 'w2j', E'quote " backslash \\\\ newline \\n')`,
        `select pg_logical_emit_message(false, 'w2j', 'non-transactional')`,
        'commit',
        'truncate wj_nokey, wj_nothing',
      );
    },
  },
  {
    name: 'ddl-between-dml',
    description: 'DML interleaved with ALTER TABLE ADD/DROP COLUMN (with and without default), CREATE TABLE and a rename.',
    catalogPages: true,
    async setup({ sql }) {
      await exec(sql, 'create table dd (id int primary key, a text)');
    },
    async run({ sql }) {
      await exec(
        sql,
        `insert into dd values (1, 'one')`,
        'alter table dd add column b int',
        `insert into dd values (2, 'two', 2)`,
        `alter table dd add column c text default 'fast default'`,
        `insert into dd (id, a) values (3, 'three')`,
        `update dd set a = 'uno' where id = 1`,
        'alter table dd drop column b',
        `insert into dd values (4, 'four', 'c4')`,
        'create table dd_new (id int primary key, x float8)',
        'insert into dd_new values (1, 0.5)',
        'alter table dd rename to dd_renamed',
        `insert into dd_renamed values (5, 'five', 'c5')`,
        'begin',
        'alter table dd_renamed add column d int',
        `insert into dd_renamed values (6, 'six', 'c6', 6)`,
        'commit',
      );
    },
  },
  {
    name: 'torn-record',
    description:
      "a record spanning a segment boundary whose second half was lost: the server was stopped with SIGQUIT, the segment holding the " +
      'second half removed, and on restart it wrote XLOG OVERWRITE_CONTRECORD at the start of the missing part (as PostgreSQL\'s own ' +
      '026_overwrite_contrecord test does).',
    ownServer: true,
    async setup({ sql }) {
      await exec(sql, 'create table filler (a int, b text)');
    },
    async run({ sql, server }) {
      // Fill the current segment until fewer than two pages remain, then write a record that must cross into the next one.
      await exec(
        sql,
        `do $$
         declare
           remain int;
           segsize int := (select setting::int from pg_settings where name = 'wal_segment_size');
         begin
           loop
             insert into filler select g, repeat(md5(g::text), (random() * 60 + 1)::int) from generate_series(1, 10) g;
             remain := segsize - (pg_current_wal_insert_lsn() - '0/0') % segsize;
             exit when remain < 2 * current_setting('block_size')::int;
           end loop;
         end $$`,
      );
      const before = (await sql.query('select pg_walfile_name(pg_current_wal_insert_lsn()) as f')).rows[0].f as string;
      await exec(sql, `select pg_logical_emit_message(true, 'torn', repeat('xyzxz', 123456))`);
      const after = (await sql.query('select pg_walfile_name(pg_current_wal_insert_lsn()) as f')).rows[0].f as string;
      if (before === after) throw new Error('the large record did not cross a segment boundary');
      await sql.end();
      await server.stop('immediate');
      const fs = await import('node:fs');
      const path = await import('node:path');
      fs.rmSync(path.join(server.pgWalDir, after));
      await server.start();
      const c = await server.connect();
      await exec(c, `insert into filler values (-1, 'after restart')`);
      return c;
    },
  },
];
