// Subscriber catch-up: a PostgreSQL subscriber applying a pgbench workload through `pgwal serve` (reading the
// publisher's WAL files) against one applying it from the publisher's own walsender, in one run, same WAL.
// Prints seconds and the ratio; asserts nothing.
//
//   tsx bench/serve.ts [--major 17] [--transactions 20000] [--scale 1] [--profile FILE.cpuprofile]
// Needs Debian's postgresql-15 (its pgbench).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import inspector from 'node:inspector/promises';
import path from 'node:path';
import { Server, type Major } from '../test/support/pg-server.js';
import { slotCommand } from '../src/cli/slot.js';
import { WalSender } from '../src/node/walsender.js';

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? dflt : Number(process.argv[i + 1]);
};
const MAJOR = arg('major', 17) as Major;
const TX = arg('transactions', 20000);
const SCALE = arg('scale', 1);
const PGBENCH = '/usr/lib/postgresql/15/bin/pgbench';
const quiet = { out: () => undefined, err: (t: string) => void process.stderr.write(t), errIsTty: false, env: {}, cwd: process.cwd(), sleep: async () => undefined };

function pgbench(s: Server, args: string[]): void {
  const r = spawnSync(PGBENCH, ['-h', s.socketDir, '-p', String(s.port), '-U', 'postgres', ...args, 'postgres'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`pgbench ${args.join(' ')} failed: ${r.stderr}`);
}

const STATE = `select (select sum(abalance) from pgbench_accounts)::text || '/' || (select count(*) from pgbench_history)::text || '/' || (select sum(tbalance) from pgbench_tellers)::text as s`;

/** Seconds from CREATE SUBSCRIPTION until the subscriber's pgbench tables match `want`. */
async function catchUp(sub: Server, conninfo: string, slot: string, want: string): Promise<{ secs: number; t0: bigint }> {
  pgbench(sub, ['-i', '-q', '-s', String(SCALE)]);
  const t0 = process.hrtime.bigint();
  await sub.query(`create subscription s connection '${conninfo}' publication p with (create_slot = false, slot_name = '${slot}', copy_data = false)`);
  for (;;) {
    const [{ s }] = (await sub.query<{ s: string }>(STATE)) as [{ s: string }];
    if (s === want) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  await sub.query('alter subscription s disable');
  await sub.query('alter subscription s set (slot_name = none)');
  await sub.query('drop subscription s');
  return { secs, t0 };
}

async function main(): Promise<void> {
  const pub = await Server.create({ major: MAJOR, gucs: { wal_keep_size: "'10GB'", synchronous_commit: 'off', listen_addresses: "'127.0.0.1'" } });
  const subs = [await Server.create({ major: MAJOR, gucs: { synchronous_commit: 'off' } }), await Server.create({ major: MAJOR, gucs: { synchronous_commit: 'off' } })];
  let sender: WalSender | undefined;
  try {
    await pub.start();
    for (const s of subs) await s.start();
    pgbench(pub, ['-i', '-q', '-s', String(SCALE)]);
    await pub.query('create publication p for all tables');
    await pub.query(`select pg_create_logical_replication_slot('native_s', 'pgoutput')`);
    const state = path.join(pub.baseDir, 'slot.state');
    if ((await slotCommand(['create', '--dsn', `postgresql://postgres@localhost/postgres?host=${encodeURIComponent(pub.socketDir)}&port=${pub.port}`, '--slot', 'pgwal_s', '--state', state, '--plugin', 'pgoutput'], quiet)) !== 0) throw new Error('slot create failed');
    const [{ start }] = (await pub.query<{ start: string }>('select pg_current_wal_lsn()::text as start')) as [{ start: string }];
    pgbench(pub, ['-n', '-t', String(TX)]);
    const [{ s: want }] = (await pub.query<{ s: string }>(STATE)) as [{ s: string }];
    const [{ mb }] = (await pub.query<{ mb: string }>(`select round((pg_current_wal_lsn() - $1::pg_lsn) / 1048576.0, 1)::text as mb`, [start])) as [{ mb: string }];
    console.log(`pgbench -t ${TX} (scale ${SCALE}) on PostgreSQL ${MAJOR}: ${mb} MB of WAL; subscribers of ${MAJOR}, copy_data = false`);
    sender = new WalSender({ states: [state], path: [pub.pgWalDir], auth: 'trust' });
    const port = Number((await sender.listen({ host: '127.0.0.1', port: 0 })).split(':').at(-1));
    // Where pgwal's time goes: until the apply worker's START_REPLICATION (the subscriber's own start), then streaming.
    let startedAt = 0n;
    sender.on('command', (c: { sql: string }) => {
      if (c.sql.startsWith('START_REPLICATION') && startedAt === 0n) startedAt = process.hrtime.bigint();
    });
    const { secs: native } = await catchUp(subs[0]!, `host=127.0.0.1 port=${pub.port} dbname=postgres user=postgres`, 'native_s', want);
    // --profile FILE: a CPU profile of this process while the subscriber catches up through pgwal serve.
    const profileAt = process.argv.indexOf('--profile');
    const session = profileAt < 0 ? undefined : new inspector.Session();
    if (session !== undefined) {
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.start');
    }
    const { secs: ours, t0 } = await catchUp(subs[1]!, `host=127.0.0.1 port=${port} dbname=postgres user=postgres`, 'pgwal_s', want);
    if (session !== undefined) {
      const { profile } = await session.post('Profiler.stop');
      fs.writeFileSync(process.argv[profileAt + 1]!, JSON.stringify(profile));
      session.disconnect();
    }
    console.log(`native walsender: ${native.toFixed(2)} s`);
    console.log(`pgwal serve:      ${ours.toFixed(2)} s   (${(ours / native).toFixed(2)}x the native time)`);
    console.log(`  (the apply worker's START_REPLICATION reached pgwal ${(Number(startedAt - t0) / 1e9).toFixed(2)} s after CREATE SUBSCRIPTION)`);
  } finally {
    await sender?.close();
    for (const s of [pub, ...subs]) await s.destroy();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
