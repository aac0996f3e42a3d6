// `-o old-rows=full` on ≥ 1 GB of pgbench WAL: the whole `pgwal decode` process's peak RSS and wall time for
// several budgets (old-rows-memory), against decoding without the option, and the known share of old rows each
// budget gives. The corpus (bench/.work/oldrows-1g-wal/, git-ignored) is made once with Debian's PostgreSQL 15:
//
//   tsx bench/old-rows.ts [--regenerate] [--budgets 1GB,256MB,64MB,16MB,1MB]
//
// initdb (16 MiB segments), the benchmark GUCs (full_page_writes on, autovacuum off); pgbench -i -s 20 (2 M
// accounts, ~260 MB of heap: more pages than the default budget holds); VACUUM, TRUNCATE pgbench_history;
// CHECKPOINT; slot bench_td by `pgwal slot create`'s code; then `pgbench -n -c 4 -j 2 -T 30` rounds with a
// CHECKPOINT before each (full-page images recur) until ≥ 1 GB of WAL lies behind the slot.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createSlot, writeSlotStateFile } from '../src/node/slot.js';
import { debianAvailable, withServer, type Server } from '../test/support/pg-server.js';
import { DEBIAN_BIN, GUCS, lsnOf, WORK } from './corpus.js';
import { fmt, haveGnuTime, machine, MB, runProcess, table } from './lib.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');
const NAME = 'oldrows-1g';
const WAL_DIR = path.join(WORK, `${NAME}-wal`);
const STATE = path.join(WAL_DIR, 'bench_td.state');
const META = path.join(WAL_DIR, 'meta.json');
const TARGET = 1e9;
const SEGMENT_SIZE = 16 * 1024 * 1024;

interface Meta {
  start: string;
  end: string;
  bytes: number;
  transactions: number;
  checkpoints: number;
  recipe: string;
  server: string;
  createdAt: string;
}

const log = (s: string): void => void process.stderr.write(`${s}\n`);
const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i < 0 ? undefined : process.argv[i + 1];
};

function walFileName(segno: number): string {
  const per = 0x1_0000_0000 / SEGMENT_SIZE;
  const h = (n: number): string => n.toString(16).toUpperCase().padStart(8, '0');
  return h(1) + h(Math.floor(segno / per)) + h(segno % per);
}

function pgbench(server: Server, args: string[]): string {
  return server.run('pgbench', ['-h', server.socketDir, '-p', String(server.port), '-U', 'postgres', ...args, 'postgres']).stdout;
}

async function lsnNow(server: Server): Promise<string> {
  const [row] = await server.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn');
  return row!.lsn;
}

async function generate(): Promise<Meta> {
  if (!debianAvailable(15)) throw new Error(`Debian's postgresql-15 is needed (${DEBIAN_BIN})`);
  fs.rmSync(WAL_DIR, { recursive: true, force: true });
  fs.mkdirSync(WAL_DIR, { recursive: true });
  return withServer({ major: 15, flavor: 'debian', initdbArgs: ['--wal-segsize=16'], gucs: GUCS, startTimeoutMs: 60_000 }, async (server) => {
    log('  pgbench -i -s 20 …');
    pgbench(server, ['-i', '-s', '20', '-q']);
    await server.query('VACUUM pgbench_branches');
    await server.query('VACUUM pgbench_tellers');
    await server.query('TRUNCATE pgbench_history');
    await server.query('CHECKPOINT');
    const state = await createSlot({ connection: server.connection, slotName: 'bench_td', plugin: 'test_decoding' });
    writeSlotStateFile(STATE, state);
    let transactions = 0;
    let checkpoints = 0;
    for (let round = 1; ; round++) {
      await server.query('CHECKPOINT');
      checkpoints++;
      const out = pgbench(server, ['-n', '-c', '4', '-j', '2', '-T', '30']);
      transactions += Number(/number of transactions actually processed: (\d+)/.exec(out)?.[1] ?? 0);
      const done = lsnOf(await lsnNow(server)) - lsnOf(state.restartLsn);
      log(`  round ${round}: ${fmt(transactions)} transactions, ${fmt(done / MB)} MB of WAL`);
      if (done >= TARGET) break;
    }
    const end = await lsnNow(server);
    await server.query('SELECT pg_switch_wal()');
    await server.stop('fast');
    for (let s = Math.floor(lsnOf(state.restartLsn) / SEGMENT_SIZE); s <= Math.floor((lsnOf(end) - 1) / SEGMENT_SIZE); s++) {
      fs.copyFileSync(path.join(server.pgWalDir, walFileName(s)), path.join(WAL_DIR, walFileName(s)));
    }
    const meta: Meta = {
      start: state.restartLsn,
      end,
      bytes: lsnOf(end) - lsnOf(state.restartLsn),
      transactions,
      checkpoints,
      recipe: `initdb --wal-segsize=16; bench GUCs; pgbench -i -s 20; VACUUM branches, tellers; TRUNCATE history; CHECKPOINT; slot bench_td; (CHECKPOINT; pgbench -n -c 4 -j 2 -T 30) × ${checkpoints}`,
      server: 'Debian PostgreSQL 15',
      createdAt: new Date().toISOString(),
    };
    fs.writeFileSync(META, JSON.stringify(meta, null, 2) + '\n');
    return meta;
  });
}

async function main(): Promise<void> {
  if (!fs.existsSync(CLI)) throw new Error('no dist/: run npm run build first');
  let meta: Meta | undefined = fs.existsSync(META) && !process.argv.includes('--regenerate') ? (JSON.parse(fs.readFileSync(META, 'utf8')) as Meta) : undefined;
  if (meta === undefined) {
    log(`generating ${NAME} (≥ 1 GB of pgbench WAL behind a slot) …`);
    meta = await generate();
  }
  log(`corpus ${meta.start} .. ${meta.end}: ${fmt(meta.bytes / MB)} MB, ${fmt(meta.transactions)} transactions, ${meta.checkpoints} checkpoints`);
  if (!haveGnuTime) log('no /usr/bin/time: peak RSS is n/a (apt-get install -y time)');
  const budgets = (arg('--budgets') ?? '1GB,256MB,64MB,16MB,1MB').split(',');
  const base = [CLI, 'decode', '--state', STATE, '-p', WAL_DIR, '--end', meta.end, '-o', 'include-xids=0'];
  const rows: (string | number)[][] = [];
  const raw: Record<string, unknown>[] = [];
  for (const budget of [undefined, ...budgets]) {
    const args = budget === undefined ? base : [...base, '-o', 'old-rows=full', '-o', `old-rows-memory=${budget}`];
    // Output to /dev/null through a shell: its size is not what is measured.
    const r = runProcess('sh', ['-c', `exec node ${args.map((a) => `'${a}'`).join(' ')} > /dev/null`]);
    const m = /old rows known for (\d+) of (\d+) updates and deletes \((\d+) pages kept, (\d+) evicted\)/.exec(r.stderr);
    const known = m === null ? '' : `${((100 * Number(m[1])) / Number(m[2])).toFixed(1)} % (${fmt(Number(m[1]))} of ${fmt(Number(m[2]))})`;
    const rss = r.maxRssKiB === undefined ? 'n/a' : `${fmt(r.maxRssKiB / 1024)} MiB`;
    rows.push([budget === undefined ? 'without old-rows' : `old-rows=full, old-rows-memory=${budget}`, r.seconds.toFixed(1), rss, known, m === null ? '' : fmt(Number(m[3])), m === null ? '' : fmt(Number(m[4]))]);
    raw.push({ budget: budget ?? null, seconds: r.seconds, maxRssKiB: r.maxRssKiB, stderr: r.stderr.trim() });
    log(`  ${rows.at(-1)!.join(' | ')}`);
  }
  console.log(`\n${machine()}\n${fmt(meta.bytes / MB)} MB of pgbench WAL (${meta.start} .. ${meta.end}), pgwal decode (test_decoding, output to /dev/null), one run each:\n`);
  console.log(table(['', 'wall s', 'peak RSS (whole process)', 'old rows known', 'pages kept at the end', 'pages evicted'], rows));
  fs.writeFileSync(path.join(WORK, 'oldrows-last-run.json'), JSON.stringify({ meta, runs: raw }, null, 2) + '\n');
}

await main();
