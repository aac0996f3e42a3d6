// Commit-to-output latency of `pgwal decode --dsn` (the whole CLI process, waiting for WAL until an --endpos far
// ahead) under a steady pgbench load, next to the server's own walsender path (Debian's pg_recvlogical on a
// server slot), both reading at the same time, in one run. Each COMMIT line carries the server's commit time
// (test_decoding's include-timestamp); latency = when the line reached the benchmark's pipe − that time.
// Prints p50/p90/p99/max; asserts nothing.
//
//   tsx bench/decode-latency.ts [--seconds 20] [--rate 200] [--clients 4]
// Needs dist/ (npm run build) and Debian's postgresql-15 (server, pgbench, pg_recvlogical).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { Server } from '../test/support/pg-server.js';

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? dflt : Number(process.argv[i + 1]);
};
const SECONDS = arg('seconds', 20);
const RATE = arg('rate', 200);
const CLIENTS = arg('clients', 4);
const BIN = '/usr/lib/postgresql/15/bin';
const CLI = path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'dist', 'cli', 'main.js');

/** `2026-12-07 08:01:02.123456+00` as milliseconds since the epoch, to the microsecond. */
function commitTime(text: string): number {
  const m = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(?:\.(\d+))?\+00$/.exec(text);
  if (m === null) throw new Error(`unexpected commit time ${text}`);
  return Date.parse(`${m[1]}T${m[2]}Z`) + Number(`0.${m[3] ?? '0'}`) * 1000;
}

/** Latencies (ms) of every COMMIT line a child prints, timed when its chunk arrives. */
function collect(child: ChildProcess, name: string): { latencies: number[]; stderr: () => string } {
  const latencies: number[] = [];
  let rest = '';
  let err = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    const now = performance.timeOrigin + performance.now();
    const lines = (rest + chunk).split('\n');
    rest = lines.pop()!;
    for (const l of lines) {
      const m = /^COMMIT \d+ \(at (.+)\)$/.exec(l);
      if (m !== null) latencies.push(now - commitTime(m[1]!));
    }
  });
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  child.on('exit', (code, signal) => {
    if (code !== 0 && signal === null) console.error(`${name} exited ${code}: ${err}`);
  });
  return { latencies, stderr: () => err };
}

function summary(name: string, xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number): string => (s.length === 0 ? 'n/a' : s[Math.min(s.length - 1, Math.floor(p * s.length))]!.toFixed(1));
  return `${name.padEnd(22)} ${String(s.length).padStart(6)} commits  p50 ${q(0.5).padStart(7)} ms  p90 ${q(0.9).padStart(7)} ms  p99 ${q(0.99).padStart(7)} ms  max ${q(1 - 1e-9).padStart(7)} ms`;
}

async function main(): Promise<void> {
  const server = await Server.create({ major: 15, flavor: 'debian', gucs: { wal_keep_size: "'10GB'", shared_buffers: "'128MB'" } });
  const children: ChildProcess[] = [];
  try {
    await server.start();
    const dsn = `host=${server.socketDir} port=${server.port} user=postgres dbname=postgres`;
    const who = { uid: server.owner?.uid, gid: server.owner?.gid };
    const pgbench = (args: string[]): void => {
      const r = spawnSync(path.join(BIN, 'pgbench'), ['-h', server.socketDir, '-p', String(server.port), '-U', 'postgres', ...args, 'postgres'], { encoding: 'utf8', ...who });
      if (r.status !== 0) throw new Error(`pgbench ${args.join(' ')} failed: ${r.stderr}`);
    };
    pgbench(['-i', '-s', '1', '-q']);
    const state = path.join(server.baseDir, 'bench.state');
    const created = spawnSync(process.execPath, [CLI, 'slot', 'create', '--dsn', `postgresql://postgres@localhost/postgres?host=${encodeURIComponent(server.socketDir)}&port=${server.port}`, '--slot', 'pgwal_lat', '--state', state], { encoding: 'utf8' });
    if (created.status !== 0) throw new Error(`slot create failed: ${created.stderr}`);
    await server.query(`select pg_create_logical_replication_slot('native_lat', 'test_decoding')`);
    const [{ far }] = (await server.query<{ far: string }>(`select (pg_current_wal_lsn() + 100000000000)::text as far`)) as [{ far: string }];
    const opts = ['-o', 'include-timestamp=1', '-o', 'skip-empty-xacts=1'];
    const ours = spawn(process.execPath, [CLI, 'decode', '--state', state, '--dsn', dsn, ...opts, '--endpos', far], { stdio: ['ignore', 'pipe', 'pipe'] });
    const theirs = spawn(path.join(BIN, 'pg_recvlogical'), ['-d', dsn, '-S', 'native_lat', '--start', '-f', '-', '-o', 'include-timestamp=1', '-o', 'skip-empty-xacts=1', '-s', '10'], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(ours, theirs);
    const a = collect(ours, 'pgwal decode --dsn');
    const b = collect(theirs, 'pg_recvlogical');
    await new Promise((r) => setTimeout(r, 2000));
    console.log(`Debian PostgreSQL 15, unix socket; pgbench tpcb-like -c ${CLIENTS} -R ${RATE} -T ${SECONDS} (synchronous_commit on); both readers at once`);
    // Not spawnSync: the event loop must time the readers' lines while pgbench runs.
    const load = spawn(path.join(BIN, 'pgbench'), ['-h', server.socketDir, '-p', String(server.port), '-U', 'postgres', '-c', String(CLIENTS), '-j', '2', '-R', String(RATE), '-T', String(SECONDS), '-n', 'postgres'], { stdio: 'ignore', ...who });
    const code = await new Promise<number | null>((r) => load.on('exit', r));
    if (code !== 0) throw new Error(`pgbench exited ${code}`);
    await new Promise((r) => setTimeout(r, 1000));
    console.log(summary('pgwal decode --dsn', a.latencies));
    console.log(summary('pg_recvlogical', b.latencies));
    if (a.latencies.length === 0) console.error(a.stderr());
  } finally {
    for (const c of children) c.kill('SIGINT');
    await new Promise((r) => setTimeout(r, 300));
    await server.destroy();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
