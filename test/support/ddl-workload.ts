// DDL interleaved with DML for the historic catalog's live tests: a fixed script with every kind of DDL, and a
// seeded random one over a model of a few tables (statements run one by one in one session).
import { rng } from './random-rows.js';

/** Every DDL of the historic catalog issue between DML, as SQL statements run one by one in one session. */
export const FIXED_DDL_SCRIPT = [
  `create type mood as enum ('sad', 'ok')`,
  'create type pair as (x int, y text)',
  'create domain posint as int check (value > 0)',
  'create table a (id int primary key, v text)',
  `insert into a values (1, 'one'), (2, 'two')`,
  'alter table a add column n int',
  `insert into a values (3, 'three', 3)`,
  `alter table a add column f text default 'fast'`,
  `insert into a (id) values (4)`,
  `update a set v = 'uno' where id = 1`,
  'alter table a add column ts timestamptz default clock_timestamp()',
  `insert into a (id, v) values (5, 'after volatile default')`,
  'alter table a drop column n',
  `insert into a (id, v, f) values (6, 'six', 'f6')`,
  'alter table a alter column id type bigint',
  `insert into a (id) values (7)`,
  'vacuum full a',
  `update a set v = 'after vacuum full' where id = 2`,
  'cluster a using a_pkey',
  'delete from a where id = 3',
  'alter table a rename to b',
  'alter table b rename column v to w',
  `insert into b (id, w) values (8, 'renamed')`,
  'create schema s',
  'alter table b set schema s',
  `insert into s.b (id, w) values (9, 'in s')`,
  'alter table s.b replica identity full',
  `update s.b set w = 'identity full' where id = 9`,
  'delete from s.b where id = 8',
  'truncate s.b',
  `insert into s.b (id, w) values (10, 'after truncate')`,
  `create table t (id int primary key, m mood, p posint, pr pair, ms mood[])`,
  `insert into t values (1, 'ok', 1, '(1,x)', '{sad,ok}')`,
  `alter type mood add value 'happy'`,
  `insert into t values (2, 'happy', 2, null, '{happy}')`,
  'begin',
  'alter table t add column z int',
  `insert into t (id, z) values (3, 3)`,
  'alter table t rename column z to zz',
  `update t set zz = 33 where id = 3`,
  'commit',
  'begin',
  'alter table t add column gone int',
  `insert into t (id, gone) values (4, 4)`,
  'rollback',
  `insert into t (id) values (5)`,
  'begin',
  `insert into t (id) values (6)`,
  'savepoint sp',
  'alter table t drop column zz',
  `insert into t (id) values (7)`,
  'rollback to savepoint sp',
  `insert into t (id, zz) values (8, 8)`,
  'commit',
  // Two-phase: the DDL becomes visible to others at COMMIT PREPARED.
  'begin',
  'alter table t add column prepared int',
  `insert into t (id, prepared) values (10, 10)`,
  `prepare transaction 'ddl'`,
  `insert into s.b (id, w) values (11, 'while t is prepared')`, // t is locked by the prepared transaction
  `commit prepared 'ddl'`,
  `insert into t (id, prepared) values (12, 12)`,
  'create table c as select g as id, md5(g::text) as h from generate_series(1, 5) g',
  'drop table c',
  `insert into t (id) values (9)`,
];

interface Col {
  name: string;
  type: string;
}
interface Table {
  name: string;
  cols: Col[];
  nextId: number;
  /** The primary key's index (keeps its name across table renames). */
  pkey: string;
}

const TYPES: [string, (r: () => number) => string][] = [
  ['int', (r) => String(Math.floor(r() * 1000) - 500)],
  ['text', (r) => `'t${Math.floor(r() * 1e6)}'`],
  ['numeric', (r) => (r() * 1000).toFixed(3)],
  ['float8', (r) => String(r() * 100)],
  ['bool', (r) => (r() < 0.5 ? 'true' : 'false')],
  ['mood', (r) => `'${['sad', 'ok'][Math.floor(r() * 2)]}'`],
  ['posint', (r) => String(1 + Math.floor(r() * 100))],
];
const valueOf = (type: string, r: () => number): string => (TYPES.find(([t]) => t === type) ?? TYPES[1]!)[1](r);

/** A seeded random mix of DML and DDL on a few tables, in and out of transactions. */
export function randomDdlScript(seed: number, steps: number): string[] {
  const r = rng(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)]!;
  const tables: Table[] = [];
  let serial = 0;
  const out: string[] = [`create type mood as enum ('sad', 'ok')`, 'create domain posint as int check (value > 0)'];
  const insert = (t: Table): string => {
    const cols = t.cols.filter(() => r() < 0.8);
    return `insert into ${t.name} (id${cols.map((c) => `, ${c.name}`).join('')}) values (${t.nextId++}${cols.map((c) => `, ${valueOf(c.type, r)}`).join('')})`;
  };
  let inTxn = false;
  const one = (): string[] => {
    if (tables.length === 0 || r() < 0.05) {
      const name = `r${serial++}`;
      const t: Table = { name, cols: [{ name: 'v', type: pick(TYPES)[0] }], nextId: 1, pkey: `${name}_pkey` };
      tables.push(t);
      return [`create table ${t.name} (id int primary key, v ${t.cols[0]!.type})`, insert(t)];
    }
    const t = pick(tables);
    const x = r();
    if (x < 0.3) return [insert(t)];
    if (x < 0.4 && t.cols.length > 0) {
      const c = pick(t.cols);
      return [`update ${t.name} set ${c.name} = ${valueOf(c.type, r)} where id % 3 = ${Math.floor(r() * 3)}`];
    }
    if (x < 0.45) return [`delete from ${t.name} where id % 4 = ${Math.floor(r() * 4)}`];
    if (x < 0.55) {
      const type = pick(TYPES)[0];
      const c = { name: `c${serial++}`, type };
      t.cols.push(c);
      const def = r() < 0.5 ? ` default ${valueOf(type, r)}` : r() < 0.2 && type === 'float8' ? ' default random()' : '';
      return [`alter table ${t.name} add column ${c.name} ${type}${def}`];
    }
    if (x < 0.6 && t.cols.length > 0) {
      const c = pick(t.cols);
      t.cols.splice(t.cols.indexOf(c), 1);
      return [`alter table ${t.name} drop column ${c.name}`];
    }
    if (x < 0.65 && t.cols.length > 0) {
      const c = pick(t.cols);
      const old = c.name;
      c.name = `c${serial++}`;
      return [`alter table ${t.name} rename column ${old} to ${c.name}`];
    }
    if (x < 0.7) {
      const old = t.name;
      t.name = `r${serial++}`;
      return [`alter table ${old} rename to ${t.name}`];
    }
    if (x < 0.74) {
      const c = t.cols.find((k) => k.type === 'int');
      if (c !== undefined) {
        c.type = 'numeric';
        return [`alter table ${t.name} alter column ${c.name} type numeric`];
      }
      return [insert(t)];
    }
    if (x < 0.77) return [inTxn ? `cluster ${t.name} using ${t.pkey}` : `vacuum full ${t.name}`];
    if (x < 0.8) return [`truncate ${t.name}`, insert(t)];
    if (x < 0.83) return [`alter table ${t.name} replica identity ${pick(['full', 'default', 'nothing'])}`];
    if (x < 0.85 && tables.length > 1) {
      tables.splice(tables.indexOf(t), 1);
      return [`drop table ${t.name}`];
    }
    return [insert(t)];
  };
  while (out.length < steps) {
    const y = r();
    inTxn = y < 0.22;
    if (y < 0.15) {
      // A transaction that commits; or one rolled back (its model changes undone by a snapshot of the model).
      const saved = JSON.stringify(tables);
      const body = [...one(), ...one(), ...one()];
      if (r() < 0.3) {
        tables.splice(0, tables.length, ...(JSON.parse(saved) as Table[]));
        // ids taken inside stay taken (no reuse: a primary key clash would abort the script)
        out.push('begin', ...body, 'rollback');
      } else out.push('begin', ...body, 'commit');
    } else if (y < 0.22) {
      const before = [...one()];
      const saved = JSON.stringify(tables);
      const inner = [...one(), ...one()];
      tables.splice(0, tables.length, ...(JSON.parse(saved) as Table[]));
      out.push('begin', ...before, 'savepoint sp', ...inner, 'rollback to savepoint sp', ...one(), 'commit');
    } else out.push(...one());
  }
  return out;
}

