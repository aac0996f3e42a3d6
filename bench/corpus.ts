// The benchmark corpus: pgbench WAL from Debian's PostgreSQL 15, generated once and cached in bench/.work/.
//
// bench/.work/<name>-wal/            the segments covering [start, end), copied out of pg_wal
// bench/.work/<name>-wal/meta.json   start, end, bytes, records, how it was made
// bench/.work/<name>-pgdata/         the generating server's data directory (stopped cleanly), restarted for
//                                    pg_get_wal_stats; its pg_wal still holds the range (wal_keep_size)
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { debianAvailable, withServer, type Server } from '../test/support/pg-server.js';
import { MB, median } from './lib.js';

export const WORK = path.join(path.dirname(fileURLToPath(import.meta.url)), '.work');
export const DEBIAN_BIN = '/usr/lib/postgresql/15/bin';
const SEGMENT_SIZE = 16 * 1024 * 1024;
const META_VERSION = 1;

export interface CorpusMeta {
  version: number;
  name: string;
  start: string;
  end: string;
  bytes: number;
  records: number;
  segmentSize: number;
  segments: string[];
  /** Whether pgdata/ was kept (for pg_get_wal_stats on a restarted server). */
  keptDataDir: boolean;
  /** pg_get_wal_stats(start, end) timed right after generation, seconds (median of 5 after 1 warm-up). */
  walStatsAtGeneration?: number[];
  transactions: number;
  tps: number;
  generationSeconds: number;
  createdAt: string;
  server: string;
  recipe: string;
}

export interface Corpus {
  meta: CorpusMeta;
  walDir: string;
  dataDir: string;
}

export const GUCS = {
  synchronous_commit: 'off',
  fsync: 'off',
  full_page_writes: 'on',
  autovacuum: 'off',
  shared_buffers: "'512MB'",
  // Nothing in the range may be removed or recycled, during the run or when the kept server restarts.
  wal_keep_size: "'100GB'",
  max_wal_size: "'8GB'",
  checkpoint_timeout: "'1h'",
  wal_recycle: 'off',
};

function walFileName(tli: number, segno: number): string {
  const per = 0x1_0000_0000 / SEGMENT_SIZE;
  const h = (n: number): string => n.toString(16).toUpperCase().padStart(8, '0');
  return h(tli) + h(Math.floor(segno / per)) + h(segno % per);
}

function parseLsn(t: string): number {
  const [hi, lo] = t.split('/');
  return parseInt(hi!, 16) * 0x1_0000_0000 + parseInt(lo!, 16);
}

export function lsnOf(t: string): number {
  return parseLsn(t);
}

/** The cached corpus if it is complete, else undefined. */
export function cachedCorpus(name: string, minBytes: number): Corpus | undefined {
  const walDir = path.join(WORK, `${name}-wal`);
  const metaFile = path.join(walDir, 'meta.json');
  if (!fs.existsSync(metaFile)) return undefined;
  try {
    const meta = JSON.parse(fs.readFileSync(metaFile, 'utf8')) as CorpusMeta;
    if (meta.version !== META_VERSION || meta.bytes < minBytes) return undefined;
    for (const s of meta.segments) {
      const st = fs.statSync(path.join(walDir, s), { throwIfNoEntry: false });
      if (st === undefined || st.size !== meta.segmentSize) return undefined;
    }
    const dataDir = path.join(WORK, `${name}-pgdata`);
    if (meta.keptDataDir && !fs.existsSync(path.join(dataDir, 'PG_VERSION'))) meta.keptDataDir = false;
    return { meta, walDir, dataDir };
  } catch {
    return undefined;
  }
}

/** pgbench against the server's unix socket, as the server's user. */
function pgbench(server: Server, args: string[]): string {
  const r = server.run('pgbench', ['-h', server.socketDir, '-p', String(server.port), '-U', 'postgres', ...args, 'postgres']);
  return r.stdout + r.stderr;
}

async function lsnNow(server: Server): Promise<string> {
  const [row] = await server.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn');
  return row!.lsn;
}

/** Times `SELECT * FROM pg_get_wal_stats(start, end)` on a running server: 1 warm-up, then `runs` runs. */
export async function timeWalStats(server: Server, start: string, end: string, runs: number): Promise<{ seconds: number[]; rows: Record<string, unknown>[] }> {
  const c = await server.connect();
  try {
    await c.query('CREATE EXTENSION IF NOT EXISTS pg_walinspect');
    const sql = 'SELECT * FROM pg_get_wal_stats($1::pg_lsn, $2::pg_lsn)';
    let rows = (await c.query(sql, [start, end])).rows as Record<string, unknown>[];
    const seconds: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t0 = process.hrtime.bigint();
      rows = (await c.query(sql, [start, end])).rows as Record<string, unknown>[];
      seconds.push(Number(process.hrtime.bigint() - t0) / 1e9);
    }
    return { seconds, rows };
  } finally {
    await c.end();
  }
}

export interface GenerateOptions {
  name: string;
  /** Generate until at least this many bytes of WAL lie between start and end. */
  targetBytes: number;
  /** And at least this many pgbench transactions (the baseline's mix: 300,000 after one checkpoint). */
  minTransactions: number;
  /** CHECKPOINT before every round, so each round writes full-page images again (fast bulk WAL for --large). */
  checkpointEachRound: boolean;
  /** Keep the data directory (for pg_get_wal_stats on a restarted server). */
  keepDataDir: boolean;
  log: (line: string) => void;
}

/**
 * Generates the corpus: initdb (16 MiB segments), `pgbench -i -s 10`, CHECKPOINT, start LSN, then
 * `pgbench -c 4 -j 2 -t N` in rounds until the target is reached; end LSN; then the segments are copied out.
 */
export async function generateCorpus(o: GenerateOptions): Promise<Corpus> {
  if (!debianAvailable(15)) throw new Error(`Debian's postgresql-15 is needed (${DEBIAN_BIN}): apt-get install -y postgresql-15`);
  const walDir = path.join(WORK, `${o.name}-wal`);
  const dataDir = path.join(WORK, `${o.name}-pgdata`);
  fs.rmSync(walDir, { recursive: true, force: true });
  fs.rmSync(dataDir, { recursive: true, force: true });
  fs.mkdirSync(WORK, { recursive: true });
  const t0 = Date.now();
  const meta = await withServer({ major: 15, flavor: 'debian', initdbArgs: ['--wal-segsize=16'], gucs: GUCS, startTimeoutMs: 60_000 }, async (server) => {
    o.log(`  initdb done; pgbench -i -s 10 …`);
    pgbench(server, ['-i', '-s', '10', '-q']);
    await server.query('CREATE EXTENSION pg_walinspect');
    await server.query('CHECKPOINT');
    const start = await lsnNow(server);
    // Rounds small enough for server.run's 2-minute limit; the first also vacuums and truncates history as a
    // plain pgbench run does, later rounds (-n) do not.
    const perClient = 25_000;
    let transactions = 0;
    let end = start;
    const tBench = Date.now();
    for (let round = 0; parseLsn(end) - parseLsn(start) < o.targetBytes || transactions < o.minTransactions; round++) {
      if (round > 0 && o.checkpointEachRound) await server.query('CHECKPOINT');
      pgbench(server, [...(round === 0 ? [] : ['-n']), '-c', '4', '-j', '2', '-t', String(perClient)]);
      transactions += 4 * perClient;
      end = await lsnNow(server);
      const done = parseLsn(end) - parseLsn(start);
      const s = (Date.now() - tBench) / 1000;
      o.log(`  round ${round + 1}: ${transactions.toLocaleString('en-US')} transactions, ${(done / MB).toFixed(0)} MB of WAL, ${(transactions / s).toFixed(0)} tps`);
    }
    const tps = transactions / ((Date.now() - tBench) / 1000);
    // Everything up to `end` must be on disk before measuring: wait for the WAL writer (synchronous_commit=off).
    await server.query('SELECT pg_switch_wal()');
    for (let i = 0; i < 100; i++) {
      const [r] = await server.query<{ ok: boolean }>('SELECT pg_current_wal_flush_lsn() >= $1::pg_lsn AS ok', [end]);
      if (r!.ok) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    let walStatsAtGeneration: number[] | undefined;
    if (!o.keepDataDir) {
      walStatsAtGeneration = undefined;
    } else {
      walStatsAtGeneration = (await timeWalStats(server, start, end, 5)).seconds;
      o.log(`  pg_get_wal_stats right after generation: ${median(walStatsAtGeneration).toFixed(3)} s (median of 5)`);
    }
    await server.stop('fast');
    const segStart = Math.floor(parseLsn(start) / SEGMENT_SIZE);
    const segEnd = Math.floor((parseLsn(end) - 1) / SEGMENT_SIZE);
    const segments: string[] = [];
    fs.mkdirSync(walDir);
    for (let s = segStart; s <= segEnd; s++) {
      const name = walFileName(1, s);
      fs.copyFileSync(path.join(server.pgWalDir, name), path.join(walDir, name));
      segments.push(name);
    }
    if (o.keepDataDir) {
      const r = spawnSync('cp', ['-a', server.dataDir, dataDir]);
      if (r.status !== 0) throw new Error(`cp -a ${server.dataDir} ${dataDir} failed: ${r.stderr}`);
    }
    const m: CorpusMeta = {
      version: META_VERSION,
      name: o.name,
      start,
      end,
      bytes: parseLsn(end) - parseLsn(start),
      records: 0,
      segmentSize: SEGMENT_SIZE,
      segments,
      keptDataDir: o.keepDataDir,
      walStatsAtGeneration,
      transactions,
      tps: Math.round(tps),
      generationSeconds: 0,
      createdAt: new Date().toISOString(),
      server: spawnSync(path.join(DEBIAN_BIN, 'postgres'), ['--version'], { encoding: 'utf8' }).stdout.trim(),
      recipe:
        'initdb --wal-segsize=16; wal_level=logical, fsync=off, synchronous_commit=off, autovacuum=off, shared_buffers=512MB; ' +
        `pgbench -i -s 10; CHECKPOINT; start; pgbench -c 4 -j 2 -t ${perClient} in rounds (first without -n${o.checkpointEachRound ? ', CHECKPOINT before each later round' : ''}) ` +
        `until ≥ ${(o.targetBytes / MB).toFixed(0)} MB and ≥ ${o.minTransactions.toLocaleString('en-US')} transactions; end`,
    };
    return m;
  });
  meta.generationSeconds = Math.round((Date.now() - t0) / 1000);
  // Records in the range, by pg_waldump itself (the reference count).
  const st = spawnSync(path.join(DEBIAN_BIN, 'pg_waldump'), ['--stats', '-p', walDir, '-s', meta.start, '-e', meta.end], { encoding: 'utf8', maxBuffer: 1 << 26 });
  const total = /^Total\s+(\d+)/m.exec(st.stdout);
  if (st.status !== 0 || total === null) throw new Error(`pg_waldump --stats on the new corpus failed:\n${st.stdout}\n${st.stderr}`);
  meta.records = Number(total[1]);
  fs.writeFileSync(path.join(walDir, 'meta.json'), JSON.stringify(meta, null, 2) + '\n');
  return { meta, walDir, dataDir };
}

export async function ensureCorpus(o: GenerateOptions): Promise<{ corpus: Corpus; reused: boolean }> {
  const cached = cachedCorpus(o.name, o.targetBytes);
  if (cached !== undefined) return { corpus: cached, reused: true };
  o.log(`generating ${o.name} (≥ ${(o.targetBytes / MB).toFixed(0)} MB of pgbench WAL) with Debian PostgreSQL 15 …`);
  return { corpus: await generateCorpus(o), reused: false };
}
