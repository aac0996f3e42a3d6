// The decoding benchmark's corpora: WAL with logical slots in front of it, generated once with Debian's
// PostgreSQL 15 and cached in bench/.work/ (beside the reader's corpus, under other names).
//
// bench/.work/pgbench-decode-wal/         pgbench WAL from the slots' restart_lsn on, bench_td.state (pgwal's
//                                         state of the bench_td slot), meta.json (range, the server's output
//                                         rows, their SHA-256, how it was made)
// bench/.work/pgbench-decode-pgdata/      the generating server, stopped cleanly, with slots bench_td
//                                         (test_decoding), bench_pgo (pgoutput) and bench_wj (wal2json), made at
//                                         the same point: restarted to time the peeks
// bench/.work/bigtx-decode-wal/           --large: one transaction of ≥ 1 GiB of WAL, its state and meta.json
//                                         (no data directory kept: the server's output is counted and hashed once)
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createSlot, writeSlotStateFile } from '../src/node/slot.js';
import { debianAvailable, withServer, type Server } from '../test/support/pg-server.js';
import { DEBIAN_BIN, GUCS, lsnOf, WORK } from './corpus.js';
import { fmt, MB } from './lib.js';

const SEGMENT_SIZE = 16 * 1024 * 1024;
/** 2: slot bench_wj (wal2json) beside bench_td and bench_pgo; a corpus of another version is generated again. */
const META_VERSION = 2;
export const PSQL = path.join(DEBIAN_BIN, 'psql');
const WAL2JSON_SO = '/usr/lib/postgresql/15/lib/wal2json.so';

export interface DecodeCorpusMeta {
  version: number;
  name: string;
  /** The bench_td slot's restart_lsn (where decoding reads from) and confirmed_flush_lsn. */
  start: string;
  confirmedFlush: string;
  /** pg_current_wal_insert_lsn() after the workload: pgwal decodes start..end. */
  end: string;
  bytes: number;
  /** Records in start..end, by pg_waldump --stats. */
  records: number;
  segmentSize: number;
  segments: string[];
  keptDataDir: boolean;
  /** The server's test_decoding output (defaults) for the bench_td slot: rows, SHA-256 of the rows joined by \n (each ending in \n), bytes. */
  serverRows: number;
  serverSha256: string;
  serverTextBytes: number;
  /** INSERT / UPDATE / DELETE rows in that output (what baselines.md calls row changes). */
  serverRowChanges: number;
  /** Seconds of one `SELECT count(*) FROM pg_logical_slot_peek_changes(…)` right after generation (no warm-up). */
  serverPeekAtGeneration: number;
  transactions: number;
  generationSeconds: number;
  createdAt: string;
  server: string;
  recipe: string;
}

export interface DecodeCorpus {
  meta: DecodeCorpusMeta;
  walDir: string;
  dataDir: string;
  stateFile: string;
}

function walFileName(tli: number, segno: number): string {
  const per = 0x1_0000_0000 / SEGMENT_SIZE;
  const h = (n: number): string => n.toString(16).toUpperCase().padStart(8, '0');
  return h(tli) + h(Math.floor(segno / per)) + h(segno % per);
}

function paths(name: string): { walDir: string; dataDir: string; stateFile: string } {
  const walDir = path.join(WORK, `${name}-wal`);
  return { walDir, dataDir: path.join(WORK, `${name}-pgdata`), stateFile: path.join(walDir, 'bench_td.state') };
}

/** The cached corpus if it is complete, else undefined. */
export function cachedDecodeCorpus(name: string): DecodeCorpus | undefined {
  const p = paths(name);
  const metaFile = path.join(p.walDir, 'meta.json');
  if (!fs.existsSync(metaFile) || !fs.existsSync(p.stateFile)) return undefined;
  try {
    const meta = JSON.parse(fs.readFileSync(metaFile, 'utf8')) as DecodeCorpusMeta;
    // Version 1 lacked bench_wj; the large corpus (no data directory, no peeks) is still good at version 1.
    if (meta.version !== META_VERSION && !(name === 'bigtx-decode' && meta.version === 1)) return undefined;
    for (const s of meta.segments) {
      const st = fs.statSync(path.join(p.walDir, s), { throwIfNoEntry: false });
      if (st === undefined || st.size !== meta.segmentSize) return undefined;
    }
    if (meta.keptDataDir && !fs.existsSync(path.join(p.dataDir, 'PG_VERSION'))) meta.keptDataDir = false;
    return { meta, ...p };
  } catch {
    return undefined;
  }
}

/** psql as a client of `server` (over its unix socket), as the baseline ran it: `psql -X -At -c SQL`. */
export function psqlArgs(server: Server, sql: string, extra: string[] = []): string[] {
  return ['-X', '-At', ...extra, '-h', server.socketDir, '-p', String(server.port), '-U', 'postgres', '-d', 'postgres', '-c', sql];
}

export const PEEK_TD = "SELECT count(*) FROM pg_logical_slot_peek_changes('bench_td', NULL, NULL)";
export const PEEK_PGO =
  "SELECT count(*) FROM pg_logical_slot_peek_binary_changes('bench_pgo', NULL, NULL, 'proto_version', '1', 'publication_names', 'bench_pub')";

/** The wal2json slot (Debian's wal2json 2.5) with format-version 2 and its defaults: what `pgwal decode --plugin json` prints. */
export const PEEK_WJ = "SELECT count(*) FROM pg_logical_slot_peek_changes('bench_wj', NULL, NULL, 'format-version', '2')";
export const PEEK_WJ_DATA = "SELECT data FROM pg_logical_slot_peek_changes('bench_wj', NULL, NULL, 'format-version', '2')";

/** The pgoutput slot's messages as psql prints them (`\x` hex, one per line): what `pgwal decode --plugin pgoutput` prints. */
export const PEEK_PGO_DATA =
  "SELECT data FROM pg_logical_slot_peek_binary_changes('bench_pgo', NULL, NULL, 'proto_version', '1', 'publication_names', 'bench_pub')";

/** The slot's whole test_decoding output streamed through SHA-256: rows, hash, bytes, row changes. */
export async function serverOutputDigest(server: Server): Promise<{ rows: number; sha256: string; bytes: number; rowChanges: number }> {
  const p = spawn(PSQL, psqlArgs(server, "SELECT data FROM pg_logical_slot_peek_changes('bench_td', NULL, NULL)", ['-v', 'FETCH_COUNT=100000']), { stdio: ['ignore', 'pipe', 'pipe'] });
  return digestLines(p);
}

/** Hashes a child's stdout, counting lines and those that are row changes (`table …: INSERT|UPDATE|DELETE:`). */
export function digestLines(p: ReturnType<typeof spawn>): Promise<{ rows: number; sha256: string; bytes: number; rowChanges: number }> {
  const hash = crypto.createHash('sha256');
  let rows = 0;
  let bytes = 0;
  let rowChanges = 0;
  let tail = '';
  let stderr = '';
  p.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  p.stdout!.on('data', (d: Buffer) => {
    hash.update(d);
    bytes += d.length;
    const text = tail + d.toString('latin1');
    let at = 0;
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', at)) {
      rows++;
      if (text.startsWith('table ', at)) {
        const colon = text.indexOf(': ', at);
        const op = text.slice(colon + 2, colon + 9);
        if (op.startsWith('INSERT:') || op.startsWith('UPDATE:') || op.startsWith('DELETE:')) rowChanges++;
      }
      at = nl + 1;
    }
    tail = text.slice(at);
  });
  return new Promise((resolve, reject) => {
    p.on('error', reject);
    p.on('close', (code) => {
      if (code !== 0) reject(new Error(`${p.spawnargs.join(' ')} failed (${code}):\n${stderr.slice(-2000)}`));
      else resolve({ rows, sha256: hash.digest('hex'), bytes, rowChanges });
    });
  });
}

async function lsnNow(server: Server): Promise<string> {
  const [row] = await server.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn');
  return row!.lsn;
}

function pgbench(server: Server, args: string[]): void {
  server.run('pgbench', ['-h', server.socketDir, '-p', String(server.port), '-U', 'postgres', ...args, 'postgres']);
}

type Workload = (server: Server, log: (line: string) => void) => Promise<{ transactions: number; recipe: string }>;

/** baselines.md's pgbench run: 300,000 TPC-B-like transactions from 4 clients (in rounds: server.run's time limit; all
 * with -n, the vacuum and truncate having been done before the slots). */
const pgbenchWorkload: Workload = async (server, log) => {
  const perClient = 25_000;
  let transactions = 0;
  const t0 = Date.now();
  for (let round = 0; transactions < 300_000; round++) {
    pgbench(server, ['-n', '-c', '4', '-j', '2', '-t', String(perClient)]);
    transactions += 4 * perClient;
    log(`  round ${round + 1}: ${fmt(transactions)} transactions, ${(transactions / ((Date.now() - t0) / 1000)).toFixed(0)} tps`);
  }
  return { transactions, recipe: `pgbench -n -c 4 -j 2 -t ${perClient} × 3` };
};

const BIG_TARGET = 2 ** 30;

/** One transaction inserting rows of a few common types until ≥ 1 GiB of WAL lies behind it. */
const bigTransactionWorkload: Workload = async (server, log) => {
  const c = await server.connect();
  try {
    await c.query('BEGIN');
    const [{ lsn: from }] = (await c.query('SELECT pg_current_wal_insert_lsn()::text AS lsn')).rows as { lsn: string }[];
    let rows = 0;
    const step = 1_000_000;
    for (;;) {
      await c.query(
        `INSERT INTO big SELECT g, g % 100000, (g % 1000000) / 100.0, timestamptz '2026-01-01 00:00:00+00' + g * interval '1 second', repeat(md5(g::text), 2)
         FROM generate_series($1::int8, $2::int8) g`,
        [rows + 1, rows + step],
      );
      rows += step;
      const [{ lsn }] = (await c.query('SELECT pg_current_wal_insert_lsn()::text AS lsn')).rows as { lsn: string }[];
      const done = lsnOf(lsn) - lsnOf(from);
      log(`  ${fmt(rows)} rows inserted, ${(done / MB).toFixed(0)} MB of WAL in the transaction`);
      if (done >= BIG_TARGET) break;
    }
    await c.query('COMMIT');
    return { transactions: 1, recipe: `one transaction: INSERT INTO big(id int8, n int4, amount numeric(12,2), at timestamptz, note text(64)) ${fmt(step)} rows per statement until ≥ 1 GiB of WAL (${fmt(rows)} rows)` };
  } finally {
    await c.end();
  }
};

/**
 * initdb (16 MiB segments), the baseline's GUCs; for pgbench: `pgbench -i -s 10` and CHECKPOINT; then publication
 * bench_pub FOR ALL TABLES, slot bench_td made by `pgwal slot create`'s code (so the state file holds the catalog
 * at its consistent point), slot bench_pgo (pgoutput); the workload; end LSN; the server's output digested.
 */
async function generate(name: string, kind: 'pgbench' | 'bigtx', log: (line: string) => void): Promise<DecodeCorpus> {
  if (!debianAvailable(15)) throw new Error(`Debian's postgresql-15 is needed (${DEBIAN_BIN}): apt-get install -y postgresql-15`);
  if (!fs.existsSync(WAL2JSON_SO)) throw new Error(`Debian's wal2json is needed (${WAL2JSON_SO}): apt-get install -y postgresql-15-wal2json`);
  const p = paths(name);
  const keepDataDir = kind === 'pgbench';
  fs.rmSync(p.walDir, { recursive: true, force: true });
  fs.rmSync(p.dataDir, { recursive: true, force: true });
  fs.mkdirSync(WORK, { recursive: true });
  const t0 = Date.now();
  const meta = await withServer({ major: 15, flavor: 'debian', initdbArgs: ['--wal-segsize=16'], gucs: GUCS, startTimeoutMs: 60_000 }, async (server) => {
    if (kind === 'pgbench') {
      log('  initdb done; pgbench -i -s 10 …');
      pgbench(server, ['-i', '-s', '10', '-q']);
      // What a pgbench run without -n does first, done before the slots: a TRUNCATE gives pgbench_history a new
      // relfilenode, which decoding with the catalog of the slot's creation (pgwal's state file) cannot follow yet.
      await server.query('VACUUM pgbench_branches');
      await server.query('VACUUM pgbench_tellers');
      await server.query('TRUNCATE pgbench_history');
      await server.query('CHECKPOINT');
    }
    // The table exists before the slot: the state file's catalog is the one of the slot's creation.
    if (kind === 'bigtx') await server.query('CREATE TABLE big (id int8, n int4, amount numeric(12,2), at timestamptz, note text)');
    await server.query('CREATE PUBLICATION bench_pub FOR ALL TABLES');
    const state = await createSlot({ connection: server.connection, slotName: 'bench_td', plugin: 'test_decoding' });
    await server.query("SELECT pg_create_logical_replication_slot('bench_pgo', 'pgoutput')");
    await server.query("SELECT pg_create_logical_replication_slot('bench_wj', 'wal2json')");
    fs.mkdirSync(p.walDir);
    writeSlotStateFile(p.stateFile, state);
    log(`  slots made: bench_td restart_lsn ${state.restartLsn}, confirmed_flush ${state.confirmedFlush}; workload …`);
    const w = await (kind === 'pgbench' ? pgbenchWorkload : bigTransactionWorkload)(server, log);
    const end = await lsnNow(server);
    await server.query('SELECT pg_switch_wal()');
    for (let i = 0; i < 100; i++) {
      const [r] = await server.query<{ ok: boolean }>('SELECT pg_current_wal_flush_lsn() >= $1::pg_lsn AS ok', [end]);
      if (r!.ok) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    log('  the server decodes the slot once: rows and SHA-256 of its output …');
    const tPeek = Date.now();
    const count = spawnSync(PSQL, psqlArgs(server, PEEK_TD), { encoding: 'utf8' });
    const serverPeekAtGeneration = (Date.now() - tPeek) / 1000;
    if (count.status !== 0) throw new Error(`psql failed: ${count.stderr}`);
    const digest = await serverOutputDigest(server);
    if (digest.rows !== Number(count.stdout.trim())) throw new Error(`count(*) ${count.stdout.trim()} but ${digest.rows} rows streamed`);
    log(`  ${fmt(digest.rows)} rows (${fmt(digest.rowChanges)} row changes), ${(digest.bytes / MB).toFixed(1)} MB of text; count(*) took ${serverPeekAtGeneration.toFixed(2)} s`);
    await server.stop('fast');
    const segStart = Math.floor(lsnOf(state.restartLsn) / SEGMENT_SIZE);
    const segEnd = Math.floor((lsnOf(end) - 1) / SEGMENT_SIZE);
    const segments: string[] = [];
    for (let s = segStart; s <= segEnd; s++) {
      const seg = walFileName(1, s);
      fs.copyFileSync(path.join(server.pgWalDir, seg), path.join(p.walDir, seg));
      segments.push(seg);
    }
    if (keepDataDir) {
      const r = spawnSync('cp', ['-a', server.dataDir, p.dataDir]);
      if (r.status !== 0) throw new Error(`cp -a ${server.dataDir} ${p.dataDir} failed: ${r.stderr}`);
    }
    const m: DecodeCorpusMeta = {
      version: META_VERSION,
      name,
      start: state.restartLsn,
      confirmedFlush: state.confirmedFlush,
      end,
      bytes: lsnOf(end) - lsnOf(state.restartLsn),
      records: 0,
      segmentSize: SEGMENT_SIZE,
      segments,
      keptDataDir: keepDataDir,
      serverRows: digest.rows,
      serverSha256: digest.sha256,
      serverTextBytes: digest.bytes,
      serverRowChanges: digest.rowChanges,
      serverPeekAtGeneration,
      transactions: w.transactions,
      generationSeconds: 0,
      createdAt: new Date().toISOString(),
      server: spawnSync(path.join(DEBIAN_BIN, 'postgres'), ['--version'], { encoding: 'utf8' }).stdout.trim(),
      recipe:
        'initdb --wal-segsize=16; wal_level=logical, fsync=off, synchronous_commit=off, autovacuum=off, shared_buffers=512MB; ' +
        (kind === 'pgbench' ? 'pgbench -i -s 10; VACUUM pgbench_branches, pgbench_tellers; TRUNCATE pgbench_history; CHECKPOINT; ' : 'CREATE TABLE big; ') +
        `CREATE PUBLICATION bench_pub FOR ALL TABLES; slot bench_td (test_decoding, by pgwal slot create's createSlot → bench_td.state), slot bench_pgo (pgoutput), slot bench_wj (wal2json); ${w.recipe}; end`,
    };
    return m;
  });
  meta.generationSeconds = Math.round((Date.now() - t0) / 1000);
  const st = spawnSync(path.join(DEBIAN_BIN, 'pg_waldump'), ['--stats', '-p', p.walDir, '-s', meta.start, '-e', meta.end], { encoding: 'utf8', maxBuffer: 1 << 26 });
  const total = /^Total\s+(\d+)/m.exec(st.stdout);
  if (st.status !== 0 || total === null) throw new Error(`pg_waldump --stats on the new corpus failed:\n${st.stdout}\n${st.stderr}`);
  meta.records = Number(total[1]);
  fs.writeFileSync(path.join(p.walDir, 'meta.json'), JSON.stringify(meta, null, 2) + '\n');
  return { meta, ...p };
}

export async function ensureDecodeCorpus(kind: 'pgbench' | 'bigtx', log: (line: string) => void, regenerate = false): Promise<{ corpus: DecodeCorpus; reused: boolean }> {
  const name = kind === 'pgbench' ? 'pgbench-decode' : 'bigtx-decode';
  const cached = regenerate ? undefined : cachedDecodeCorpus(name);
  if (cached !== undefined) return { corpus: cached, reused: true };
  log(`generating ${name} with Debian PostgreSQL 15 …`);
  return { corpus: await generate(name, kind, log), reused: false };
}
