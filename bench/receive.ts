// Streaming throughput: `pgwal receive` against Debian's pg_receivewal 15 on the same server and range, in
// one run, alternating which goes first. Prints MB/s and the ratio; asserts nothing.
//
//   tsx bench/receive.ts [--mb 256] [--runs 3]
// Needs dist/ (npm run build) and Debian's postgresql-15.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Server } from '../test/support/pg-server.js';

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? dflt : Number(process.argv[i + 1]);
};
const MB = arg('mb', 256);
const RUNS = arg('runs', 3);
const CLI = path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'dist', 'cli', 'main.js');

async function main(): Promise<void> {
  const server = await Server.create({
    major: 15,
    flavor: 'debian',
    initdbArgs: ['--wal-segsize=16'],
    gucs: { wal_keep_size: "'100GB'", synchronous_commit: 'off', shared_buffers: "'256MB'" },
  });
  try {
    await server.start();
    for (let r = 0; r < RUNS; r++) {
      await server.query(`select pg_create_physical_replication_slot('pgwal_${r}', true)`);
      await server.query(`select pg_create_physical_replication_slot('pg_${r}', true)`);
    }
    const [{ start }] = (await server.query<{ start: string }>('select pg_current_wal_lsn()::text as start')) as [{ start: string }];
    await server.query('create table t (id int, v text)');
    for (;;) {
      await server.query(`insert into t select g, repeat(md5(g::text), 8) from generate_series(1, 200000) g`);
      const [{ mb }] = (await server.query<{ mb: number }>(`select (pg_current_wal_lsn() - $1::pg_lsn) / 1048576.0 as mb`, [start])) as [{ mb: number }];
      if (Number(mb) >= MB) break;
    }
    await server.query('select pg_switch_wal()');
    const [{ end }] = (await server.query<{ end: string }>('select pg_current_wal_lsn()::text as end')) as [{ end: string }];
    const [{ bytes }] = (await server.query<{ bytes: string }>(`select ($1::pg_lsn - $2::pg_lsn)::text as bytes`, [end, start])) as [{ bytes: string }];
    const mb = Number(bytes) / 1e6;
    console.log(`WAL ${start} .. ${end} (${mb.toFixed(1)} MB, 16 MB segments), Debian PostgreSQL 15, unix socket`);
    const dsn = `host=${server.socketDir} port=${server.port} user=postgres`;
    const time = (cmd: string, args: string[]): number => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-bench-receive-'));
      try {
        const t0 = process.hrtime.bigint();
        const r = spawnSync(cmd, [...args, '-D', dir], { encoding: 'utf8' });
        const s = Number(process.hrtime.bigint() - t0) / 1e9;
        if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr}`);
        return s;
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    };
    const ours: number[] = [];
    const theirs: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      const runOurs = (): number => time(process.execPath, [CLI, 'receive', '-d', dsn, '-S', `pgwal_${r}`, '-E', end, '-n']);
      const runTheirs = (): number => time('/usr/lib/postgresql/15/bin/pg_receivewal', ['-d', dsn, '-S', `pg_${r}`, '-E', end, '-n']);
      if (r % 2 === 0) {
        ours.push(runOurs());
        theirs.push(runTheirs());
      } else {
        theirs.push(runTheirs());
        ours.push(runOurs());
      }
    }
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const o = median(ours);
    const t = median(theirs);
    console.log(`pgwal receive   ${(mb / o).toFixed(0).padStart(6)} MB/s  (median of ${RUNS}: ${o.toFixed(2)} s; runs ${ours.map((x) => x.toFixed(2)).join(', ')})`);
    console.log(`pg_receivewal   ${(mb / t).toFixed(0).padStart(6)} MB/s  (median of ${RUNS}: ${t.toFixed(2)} s; runs ${theirs.map((x) => x.toFixed(2)).join(', ')})`);
    console.log(`ratio (pgwal / pg_receivewal throughput): ${(t / o).toFixed(2)}×`);
  } finally {
    await server.destroy();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
