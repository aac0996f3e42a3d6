// The decoding benchmark: pgwal decode's output against the server's own logical decoding of the same WAL range,
// in one run: test_decoding (slot bench_td), wal2json format-version 2 (bench_wj, Debian's wal2json 2.5) and
// pgoutput v1 (bench_pgo), each output checked against the server's by row count and SHA-256, then timed.
//
//   npm run bench:decode                     build, then this
//   npm run bench:decode -- --runs 7         timed runs per measurement (default 5, after 1 warm-up; --runs 1 to try it)
//   npm run bench:decode -- --large          also one transaction of ≥ 1 GiB of WAL through the CLI with the default
//                                            64 MB memory limit and file spilling: peak RSS (target ≤ 256 MB)
//   npm run bench:decode -- --only-large     only that
//   npm run bench:decode -- --regenerate     generate the corpus again
//   npm run bench:pgoutput                   only --plugin pgoutput against the server's peek_binary_changes (--pgoutput-only)
//
// Every time is wall time, median of the timed runs after a warm-up, WAL in the page cache. MB = 10^6 bytes.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { withServer } from '../test/support/pg-server.js';
import { GUCS, WORK } from './corpus.js';
import { digestLines, ensureDecodeCorpus, PEEK_PGO, PEEK_PGO_DATA, PEEK_TD, PEEK_WJ, PEEK_WJ_DATA, PSQL, psqlArgs, type DecodeCorpus } from './decode-corpus.js';
import { fmt, haveGnuTime, machine, MB, summarize, table, verdict, type Target, type Timed } from './lib.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(HERE);
const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');
const WORKER = path.join(HERE, 'decode-worker.mjs');

/** Issue 16's and 19's targets: the CLI's throughput ÷ the server's peek of the same plugin, and RSS for a 1 GB transaction. */
const TARGET_TD = 2.0;
const TARGET_JSON = 1.5;
const TARGET_PGO = 1.0;
const TARGET_RSS_MB = 256;

const argv = process.argv.slice(2);
const flag = (name: string): boolean => argv.includes(name);
const option = (name: string, dflt: number): number => {
  const i = argv.indexOf(name);
  return i >= 0 ? Number(argv[i + 1]) : dflt;
};
const RUNS = Math.max(1, option('--runs', 5));
const log = (line: string): void => console.log(line);

interface ChildRun {
  seconds: number;
  /** Peak RSS in KiB (GNU time %M). */
  maxRssKiB?: number;
  stdout?: string;
  digest?: { rows: number; sha256: string; bytes: number; rowChanges: number };
}

/**
 * Runs a program to completion under /usr/bin/time (when installed), stdout to /dev/null, captured, or hashed
 * line by line; wall time around the whole process.
 */
async function runChild(cmd: string, args: string[], stdout: 'null' | 'capture' | 'digest'): Promise<ChildRun> {
  let file = cmd;
  let argvv = args;
  const rssFile = path.join(os.tmpdir(), `pgwal-bench-decode-rss-${process.pid}`);
  if (haveGnuTime) {
    file = '/usr/bin/time';
    argvv = ['-o', rssFile, '-f', '%M', cmd, ...args];
  }
  const devNull = stdout === 'null' ? fs.openSync('/dev/null', 'w') : undefined;
  const t0 = process.hrtime.bigint();
  const p = spawn(file, argvv, { stdio: ['ignore', devNull ?? 'pipe', 'pipe'] });
  let captured = '';
  let stderr = '';
  let digest: ChildRun['digest'];
  if (stdout === 'digest') {
    digest = await digestLines(p);
  } else {
    if (stdout === 'capture') p.stdout!.on('data', (d: Buffer) => (captured += d.toString()));
    p.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve, reject) => {
      p.on('error', reject);
      p.on('close', resolve);
    });
    if (code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${code}):\n${stderr.slice(-2000)}`);
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (devNull !== undefined) fs.closeSync(devNull);
  let maxRssKiB: number | undefined;
  if (haveGnuTime) {
    const lines = fs.readFileSync(rssFile, 'utf8').trim().split('\n');
    maxRssKiB = Number(lines[lines.length - 1]);
    fs.rmSync(rssFile, { force: true });
  }
  return { seconds, maxRssKiB, stdout: captured, digest };
}

/** 1 warm-up, then RUNS timed runs; the largest peak RSS of the timed runs. */
async function timeChild(cmd: string, args: string[], stdout: 'null' | 'capture', check?: (r: ChildRun) => void): Promise<Timed> {
  check?.(await runChild(cmd, args, stdout));
  const times: number[] = [];
  let rss = 0;
  for (let i = 0; i < RUNS; i++) {
    const r = await runChild(cmd, args, stdout);
    check?.(r);
    times.push(r.seconds);
    rss = Math.max(rss, r.maxRssKiB ?? 0);
  }
  return summarize(times, haveGnuTime ? rss : undefined);
}

interface WorkerResult {
  seconds: number[];
  cpuSeconds: number[];
  rows: number;
  chars: number;
  spills: number;
  sha256: string;
  rss: number;
}

function workerRun(c: DecodeCorpus, plugin: 'test_decoding' | 'json' = 'test_decoding'): Promise<WorkerResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [WORKER, c.walDir, c.stateFile, c.meta.end, '1', String(RUNS), plugin], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => {
      if (code !== 0) reject(new Error(`decode-worker failed (${code}):\n${err.slice(-3000)}`));
      else resolve(JSON.parse(out.trim().split('\n').pop()!) as WorkerResult);
    });
  });
}

const mib = (kib: number | undefined): string => (kib === undefined ? 'n/a' : `${(kib / 1024).toFixed(0)} MiB`);
const both = (kib: number | undefined): string => (kib === undefined ? 'n/a' : `${(kib / 1024).toFixed(0)} MiB = ${((kib * 1024) / MB).toFixed(0)} MB`);

function decodeArgs(c: DecodeCorpus): string[] {
  return [CLI, 'decode', '--state', c.stateFile, '-p', c.walDir, '--end', c.meta.end];
}

async function main(): Promise<void> {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: npm run build`);
  log(`# pgwal decoding benchmark\n\nmachine: ${machine()}; load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  if (!haveGnuTime) log('note: /usr/bin/time is missing (apt-get install -y time): no peak RSS figures');

  const results: Record<string, unknown> & { targets: Target[] } = { machine: machine(), load: os.loadavg(), finishedAt: '', targets: [] };
  if (!flag('--only-large')) await pgbench(results);
  if (flag('--large') || flag('--only-large')) await large(results);
  else results.targets.push({ order: 8, what: 'memory: `pgwal decode` of one 1 GB transaction, peak RSS', unit: 'MB', kind: 'max', bound: TARGET_RSS_MB, note: 'only with --large' });
  results.finishedAt = new Date().toISOString();
  fs.writeFileSync(path.join(WORK, 'last-decode-run.json'), JSON.stringify(results, null, 2) + '\n');
  log(`\n(raw figures: ${path.relative(ROOT, path.join(WORK, 'last-decode-run.json'))})`);
}

async function pgbench(results: Record<string, unknown> & { targets: Target[] }): Promise<void> {
  const { corpus: c, reused } = await ensureDecodeCorpus('pgbench', log, flag('--regenerate'));
  const m = c.meta;
  log(
    `corpus: ${reused ? 'cached' : 'generated'} ${path.relative(ROOT, c.walDir)} — slot bench_td's restart_lsn ${m.start} .. ${m.end} = ` +
      `${fmt(m.bytes)} bytes (${(m.bytes / MB).toFixed(1)} MB), ${m.segments.length} segments, ${fmt(m.records)} records, ` +
      `${fmt(m.transactions)} pgbench transactions; the server's test_decoding output: ${fmt(m.serverRows)} rows ` +
      `(${fmt(m.serverRowChanges)} row changes), ${(m.serverTextBytes / MB).toFixed(1)} MB (${m.server})`,
  );
  log(`timing: wall time, median of ${RUNS} runs after 1 warm-up (min–max shown)\n`);

  // The server: the generating server restarted on its kept data directory; psql as baselines.md times it.
  if (!m.keptDataDir) throw new Error(`${c.dataDir} is missing: npm run bench:decode -- --regenerate`);
  log('measuring the server: pg_logical_slot_peek_changes (test_decoding; wal2json format-version 2), peek_binary_changes (pgoutput) …');
  const { td, pgo, wj } = await withServer({ major: 15, flavor: 'debian', dataDir: c.dataDir, gucs: GUCS, startTimeoutMs: 60_000 }, async (server) => {
    const expect = (what: string, n: number) => (r: ChildRun): void => {
      if (Number(r.stdout!.trim()) !== n) throw new Error(`${what} returned ${r.stdout!.trim()} rows, expected ${n}`);
    };
    const td = await timeChild(PSQL, psqlArgs(server, PEEK_TD), 'capture', expect('test_decoding peek', m.serverRows));
    let pgoRows = 0;
    const pgo = await timeChild(PSQL, psqlArgs(server, PEEK_PGO), 'capture', (r) => (pgoRows = Number(r.stdout!.trim())));
    // The messages themselves, to check pgwal's against.
    const pgoDigest = (await runChild(PSQL, psqlArgs(server, PEEK_PGO_DATA, ['-v', 'FETCH_COUNT=100000']), 'digest')).digest!;
    let wj: (Timed & { rows: number; digest: Digest }) | undefined;
    if (!flag('--pgoutput-only')) {
      let wjRows = 0;
      const t = await timeChild(PSQL, psqlArgs(server, PEEK_WJ), 'capture', (r) => (wjRows = Number(r.stdout!.trim())));
      const wjDigest = (await runChild(PSQL, psqlArgs(server, PEEK_WJ_DATA, ['-v', 'FETCH_COUNT=100000']), 'digest')).digest!;
      wj = { ...t, rows: wjRows, digest: wjDigest };
    }
    await server.stop('fast');
    return { td, pgo: { ...pgo, rows: pgoRows, digest: pgoDigest }, wj };
  });

  if (flag('--pgoutput-only')) {
    const cliPgo = await pgoutputCli(c, pgo.digest);
    log(`\n## pgoutput: ${(m.bytes / MB).toFixed(1)} MB of pgbench WAL (${fmt(pgo.rows)} messages)\n`);
    log(
      table(
        ['', 'median s', 'min–max s', 'WAL MB/s', 'messages/s', '÷ server pgoutput', 'peak RSS'],
        [
          ['server: SELECT count(*) FROM pg_logical_slot_peek_binary_changes (pgoutput v1; psql, whole process)', pgo, 'server'] as const,
          ['pgwal `decode --plugin pgoutput` (v1; CLI, whole process, `\\x` hex to /dev/null)', cliPgo, 'pgwal'] as const,
        ].map(([label, t]) => [label, t.median.toFixed(3), `${t.min.toFixed(3)}–${t.max.toFixed(3)}`, fmt(m.bytes / MB / t.median), `${(pgo.rows / t.median / 1e3).toFixed(0)} k`, `${(pgo.median / t.median).toFixed(2)}×`, t.maxRssKiB === undefined ? '' : mib(t.maxRssKiB)]),
      ),
    );
    results.targets.push(logPgoutputRatio(pgo, cliPgo));
    Object.assign(results, { corpus: m, runs: RUNS, serverTestDecoding: td, serverPgoutput: pgo, cliPgoutput: cliPgo });
    return;
  }

  log('measuring the pgwal library loop (in-process) …');
  const w = await workerRun(c);
  if (w.rows !== m.serverRows || w.sha256 !== m.serverSha256) {
    throw new Error(`pgwal's output differs from the server's: ${w.rows} rows, sha256 ${w.sha256}; server ${m.serverRows} rows, ${m.serverSha256}`);
  }
  const lib = summarize(w.seconds);

  log('measuring the pgwal library loop with the wal2json format-version 2 plugin (in-process) …');
  const wLib = await workerRun(c, 'json');
  const libJson = summarize(wLib.seconds);

  log('measuring pgwal decode (CLI, whole process, stdout to /dev/null) …');
  const check = await runChild(process.execPath, decodeArgs(c), 'digest');
  if (check.digest!.rows !== m.serverRows || check.digest!.sha256 !== m.serverSha256) {
    throw new Error(`pgwal decode's output differs from the server's: ${check.digest!.rows} rows, sha256 ${check.digest!.sha256}`);
  }
  const cli = await timeChild(process.execPath, decodeArgs(c), 'null');
  // The same on one thread (--format-thread off): how the ratio moves from one core to two.
  log('measuring pgwal decode --format-thread off (rows formatted on the decoding thread) …');
  const cliOne = await timeChild(process.execPath, [...decodeArgs(c), '--format-thread', 'off'], 'null');
  const cliJson = await jsonCli(c, wj!.digest);
  log('measuring pgwal decode --plugin json --format-thread off …');
  const cliJsonOne = await timeChild(process.execPath, [...decodeArgs(c), '--plugin', 'json', '--format-thread', 'off'], 'null');
  const cliPgo = await pgoutputCli(c, pgo.digest);

  const rowsPerS = (t: Timed, rows = m.serverRows): string => `${(rows / t.median / 1e3).toFixed(0)} k`;
  /** vs: the server's peek of the same plugin, for pgwal's rows (the target's ratio). */
  const row = (label: string, t: Timed, rows = m.serverRows, vs?: Timed, changes = m.serverRowChanges): (string | number)[] => [
    label,
    t.median.toFixed(3),
    `${t.min.toFixed(3)}–${t.max.toFixed(3)}`,
    fmt(m.bytes / MB / t.median),
    rowsPerS(t, rows),
    `${(changes / t.median / 1e3).toFixed(0)} k`,
    `${(td.median / t.median).toFixed(2)}×`,
    vs === undefined ? '' : `${(vs.median / t.median).toFixed(2)}×`,
    t.maxRssKiB === undefined ? '' : mib(t.maxRssKiB),
  ];
  log(`\n## Decoding ${(m.bytes / MB).toFixed(1)} MB of pgbench WAL (${fmt(m.serverRows)} test_decoding rows)\n`);
  log(
    table(
      ['', 'median s', 'min–max s', 'WAL MB/s', 'rows/s', 'row changes/s', '÷ server test_decoding', '÷ server, same plugin', 'peak RSS'],
      [
        row('server: SELECT count(*) FROM pg_logical_slot_peek_changes (test_decoding; psql, whole process)', td),
        row(`server: … peek_changes (wal2json 2.5, format-version 2; ${fmt(wj!.rows)} rows)`, wj!, wj!.rows),
        row(`server: … peek_binary_changes (pgoutput v1; ${fmt(pgo.rows)} rows)`, pgo, pgo.rows),
        row('pgwal library loop (in-process: reader + TestDecodingDecoder, text of every row)', lib, m.serverRows, td),
        row(`pgwal library loop, wal2json format-version 2 plugin (${fmt(wLib.rows)} JSON rows)`, libJson, wLib.rows, wj),
        row('pgwal `decode` (CLI, whole process, stdout to /dev/null; rows formatted on a second thread)', cli, m.serverRows, td),
        row('pgwal `decode --format-thread off` (the same on one thread)', cliOne, m.serverRows, td),
        row('pgwal `decode --plugin json` (wal2json format-version 2; CLI, whole process, stdout to /dev/null; second thread)', cliJson, wj!.rows, wj),
        row('pgwal `decode --plugin json --format-thread off` (one thread)', cliJsonOne, wj!.rows, wj),
        row('pgwal `decode --plugin pgoutput` (v1, bench_pub; CLI, whole process, `\\x` hex to /dev/null)', cliPgo, pgo.rows, pgo),
      ],
    ),
  );
  const ratioLib = td.median / lib.median;
  const ratioCli = td.median / cli.median;
  const tdTarget: Target = { order: 1, what: '`pgwal decode` CLI ÷ server test_decoding peek (throughput)', value: ratioCli, unit: '×', kind: 'min', bound: TARGET_TD, sameOutput: true };
  log(
    `\npgwal decode ÷ server pg_logical_slot_peek_changes, test_decoding (same WAL, same ${fmt(m.serverRows)} rows, SHA-256 equal): CLI ${ratioCli.toFixed(2)}× — ` +
      `target ≥ ${TARGET_TD.toFixed(1)}×: ${verdict(tdTarget)} (as a diagnostic, the library loop: ${ratioLib.toFixed(2)}×)`,
  );
  const jsonTarget = logJsonRatio(wj!, cliJson);
  const pgoTarget = logPgoutputRatio(pgo, cliPgo);
  results.targets.push(tdTarget, jsonTarget, pgoTarget);
  log(`as a diagnostic, pgwal's wal2json library loop ÷ the server's wal2json peek: ${(wj!.median / libJson.median).toFixed(2)}× (${fmt(wLib.rows)} rows in-process, the server's ${fmt(wj!.rows)})`);
  log(`output checked: ${fmt(w.rows)} rows and SHA-256 ${w.sha256.slice(0, 16)}… equal the server's, for both the library loop and the CLI`);
  const cpu = summarize(w.cpuSeconds);
  log(
    `the library loop's CPU time (user + system) per pass: median ${cpu.median.toFixed(3)} s (${cpu.min.toFixed(3)}–${cpu.max.toFixed(3)}) against ` +
      `${lib.median.toFixed(3)} s of wall time — on a loaded machine the wall time is the larger by the time other processes held the CPU`,
  );
  log(`the library loop's process RSS at exit: ${(w.rss / 2 ** 20).toFixed(0)} MiB; the CLI's peak: ${both(cli.maxRssKiB)}`);

  log(`one thread against two (--format-thread off / default): test_decoding ${(cliOne.median / cli.median).toFixed(2)}×, json ${(cliJsonOne.median / cliJson.median).toFixed(2)}× (on ${os.cpus().length} cores)`);
  Object.assign(results, { corpus: m, runs: RUNS, serverTestDecoding: td, serverWal2json: wj, serverPgoutput: pgo, library: lib, libraryJson: libJson, libraryCpu: cpu, cli, cliOneThread: cliOne, cliJson, cliJsonOneThread: cliJsonOne, cliPgoutput: cliPgo });
}

type Digest = NonNullable<ChildRun['digest']>;

/** `pgwal decode --plugin pgoutput` (v1, bench_pub): its output checked against the server's messages, then timed. */
async function pgoutputCli(c: DecodeCorpus, server: Digest): Promise<Timed> {
  log('measuring pgwal decode --plugin pgoutput (CLI, whole process, stdout to /dev/null) …');
  const args = [...decodeArgs(c), '--plugin', 'pgoutput', '-o', 'proto_version=1', '-o', 'publication_names=bench_pub'];
  const ours = (await runChild(process.execPath, args, 'digest')).digest!;
  if (ours.rows !== server.rows || ours.sha256 !== server.sha256) {
    throw new Error(`pgwal decode --plugin pgoutput's output differs from the server's: ${ours.rows} rows, sha256 ${ours.sha256}; server ${server.rows} rows, ${server.sha256}`);
  }
  return timeChild(process.execPath, args, 'null');
}

function logPgoutputRatio(pgo: Timed & { digest: Digest }, cliPgo: Timed): Target {
  const t: Target = { order: 3, what: '`pgwal decode --plugin pgoutput` (v1) CLI ÷ server binary peek (throughput)', value: pgo.median / cliPgo.median, unit: '×', kind: 'min', bound: TARGET_PGO, sameOutput: true };
  log(
    `pgwal decode --plugin pgoutput ÷ server pg_logical_slot_peek_binary_changes (same WAL, same messages: ${fmt(pgo.digest.rows)} rows, SHA-256 ` +
      `${pgo.digest.sha256.slice(0, 16)}… equal): ${t.value!.toFixed(2)}× — target ≥ ${TARGET_PGO.toFixed(1)}×: ${verdict(t)}`,
  );
  return t;
}

/**
 * `pgwal decode --plugin json` (wal2json format-version 2, its defaults) against the server's wal2json peek: the rows
 * compared by count and SHA-256, as the other plugins'. Rows that differ are reported (the first few) and fail the
 * target; they do not stop the run.
 */
async function jsonCli(c: DecodeCorpus, server: Digest): Promise<Timed & { digest: Digest }> {
  log('measuring pgwal decode --plugin json (CLI, whole process, stdout to /dev/null) …');
  const args = [...decodeArgs(c), '--plugin', 'json'];
  const ours = (await runChild(process.execPath, args, 'digest')).digest!;
  if (ours.rows !== server.rows || ours.sha256 !== server.sha256) {
    log(`WARNING: pgwal decode --plugin json's output differs from the server's wal2json: ${fmt(ours.rows)} rows, sha256 ${ours.sha256}; server ${fmt(server.rows)} rows, ${server.sha256}`);
  }
  return { ...(await timeChild(process.execPath, args, 'null')), digest: ours };
}

function logJsonRatio(wj: Timed & { digest: Digest }, cliJson: Timed & { digest: Digest }): Target {
  const same = cliJson.digest.rows === wj.digest.rows && cliJson.digest.sha256 === wj.digest.sha256;
  const t: Target = {
    order: 2,
    what: '`pgwal decode --plugin json` CLI ÷ server wal2json 2.5 peek, format-version 2 (throughput)',
    value: wj.median / cliJson.median,
    unit: '×',
    kind: 'min',
    bound: TARGET_JSON,
    sameOutput: same,
    ...(same ? {} : { note: `output DIFFERS: pgwal ${cliJson.digest.rows} rows, sha256 ${cliJson.digest.sha256.slice(0, 16)}…; server ${wj.digest.rows} rows, ${wj.digest.sha256.slice(0, 16)}…` }),
  };
  log(
    `pgwal decode --plugin json ÷ server pg_logical_slot_peek_changes, wal2json format-version 2 (same WAL; ${same ? `same ${fmt(wj.digest.rows)} rows, SHA-256 ${wj.digest.sha256.slice(0, 16)}… equal` : `OUTPUT DIFFERS: ${t.note}`}): ` +
      `${t.value!.toFixed(2)}× — target ≥ ${TARGET_JSON.toFixed(1)}×: ${verdict(t)}`,
  );
  return t;
}

async function large(results: Record<string, unknown> & { targets: Target[] }): Promise<void> {
  {
    const { corpus: big, reused: bigReused } = await ensureDecodeCorpus('bigtx', log, flag('--regenerate') || flag('--regenerate-large'));
    const bm = big.meta;
    log(
      `\nlarge corpus: ${bigReused ? 'cached' : `generated in ${bm.generationSeconds} s`} — one transaction, ${bm.start} .. ${bm.end} = ` +
        `${(bm.bytes / MB).toFixed(0)} MB of WAL, ${fmt(bm.records)} records, ${fmt(bm.serverRows)} rows of output (${(bm.serverTextBytes / MB).toFixed(0)} MB)`,
    );
    log('decoding it with `pgwal decode` (default 64 MB memory limit, spill files beside the state) …');
    const r = await runChild(process.execPath, decodeArgs(big), 'digest');
    const same = r.digest!.rows === bm.serverRows && r.digest!.sha256 === bm.serverSha256;
    const rssMB = r.maxRssKiB === undefined ? undefined : (r.maxRssKiB * 1024) / MB;
    log(
      table(
        ['', 's', 'WAL MB/s', 'rows/s', 'peak RSS'],
        [
          ['pgwal `decode` (CLI, whole process, output hashed by the parent)', r.seconds.toFixed(2), fmt(bm.bytes / MB / r.seconds), `${(bm.serverRows / r.seconds / 1e3).toFixed(0)} k`, both(r.maxRssKiB)],
          ['server peek count(*) (once, at generation; it spills too)', bm.serverPeekAtGeneration.toFixed(2), fmt(bm.bytes / MB / bm.serverPeekAtGeneration), `${(bm.serverRows / bm.serverPeekAtGeneration / 1e3).toFixed(0)} k`, ''],
        ],
      ),
    );
    log(`\noutput ${same ? 'equals' : 'DIFFERS FROM'} the server's (${fmt(r.digest!.rows)} rows, SHA-256 ${r.digest!.sha256.slice(0, 16)}…)`);
    const t: Target = { order: 8, what: `memory: \`pgwal decode\` of one ${(bm.bytes / MB).toFixed(0)} MB transaction, peak RSS`, value: rssMB, unit: 'MB', kind: 'max', bound: TARGET_RSS_MB, sameOutput: same, ...(rssMB === undefined ? { note: '/usr/bin/time is missing' } : {}) };
    results.targets.push(t);
    log(`1 GB transaction peak RSS ${both(r.maxRssKiB)} — target ≤ ${TARGET_RSS_MB} MB: ${verdict(t)}`);
    results.large = { corpus: bm, seconds: r.seconds, maxRssKiB: r.maxRssKiB, sameOutput: same };
    if (!same) throw new Error('pgwal decode of the large transaction differs from the server');
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
