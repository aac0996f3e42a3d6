// Helpers of the live slot tests: captured CLI output, a server's DSN, a flushed insert position.
import type pg from 'pg';
import type { DumpIo } from '../../src/cli/dump.js';
import type { Server } from './pg-server.js';

export const asText = { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig;

export function io(): DumpIo & { stdout: () => string; stderr: () => string } {
  let out = '';
  let err = '';
  return { out: (t) => (out += t), err: (t) => (err += t), errIsTty: false, env: {}, cwd: process.cwd(), sleep: async () => undefined, stdout: () => out, stderr: () => err };
}

export const dsnOf = (s: Server): string => `postgresql://postgres@localhost/postgres?host=${encodeURIComponent(s.socketDir)}&port=${s.port}`;

/** The current insert position, once the server has flushed up to it. */
export async function flushedLsn(c: pg.Client): Promise<string> {
  const end = (await c.query('select pg_current_wal_insert_lsn()::text as l')).rows[0].l as string;
  for (let i = 0; i < 400 && (await c.query('select pg_current_wal_flush_lsn() >= $1::pg_lsn as ok', [end])).rows[0].ok !== true; i++) await new Promise((r) => setTimeout(r, 25));
  return end;
}

/** Waits (up to 10 s) until a standby has replayed up to `lsn`: a `Server` or a client connected to it. */
export async function waitForReplay(standby: Server | pg.Client, lsn: string): Promise<void> {
  const sql = 'select pg_last_wal_replay_lsn() >= $1::pg_lsn as ok';
  for (let i = 0; i < 400; i++) {
    const rows = 'dataDir' in standby ? await standby.query<{ ok: boolean }>(sql, [lsn]) : (await standby.query<{ ok: boolean }>(sql, [lsn])).rows;
    if (rows[0]?.ok === true) return;
    await new Promise((r) => setTimeout(r, 25));
  }
}
