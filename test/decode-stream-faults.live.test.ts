// Live: what a real server answers when `pgwal decode --dsn` (and `pgwal receive`) cannot go on, each one
// line on stderr and exit 1: an unknown role and a wrong password (the server's message and SQLSTATE),
// max_wal_senders reached, a physical slot whose restart_lsn is past the slot's (both LSNs), and wal_level
// lowered below logical (the setting and its value; from files, the PARAMETER_CHANGE record that lowered it).
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeCommand } from '../src/cli/decode.js';
import { receiveCommand } from '../src/cli/receive.js';
import { slotCommand } from '../src/cli/slot.js';
import type { DumpIo } from '../src/cli/dump.js';
import { formatLsn } from '../src/lsn.js';
import { ReplicationConnection } from '../src/node/replication.js';
import { openSlotFile } from '../src/node/slot.js';
import { MAJORS, withServer } from './support/pg-server.js';

function io(): DumpIo & { stdout: () => string; stderr: () => string } {
  let out = '';
  let err = '';
  return { out: (t) => (out += t), err: (t) => (err += t), errIsTty: false, env: {}, cwd: process.cwd(), sleep: async () => undefined, stdout: () => out, stderr: () => err };
}

describe.each(MAJORS)('PostgreSQL %i', (major) => {
  it('decode --dsn: unknown role, wrong password, max_wal_senders, a physical slot ahead of the slot, wal_level replica', async () => {
    await withServer({ major, gucs: { max_wal_senders: 3 } }, async (server) => {
      const state = path.join(server.baseDir, 'slot.state');
      const at = (user: string, extra = ''): string => `host=${server.socketDir} port=${server.port} user=${user} dbname=postgres${extra}`;
      const dsn = at('postgres');
      const c = await server.connect();
      try {
        const created = io();
        expect(await slotCommand(['create', '--dsn', `postgresql://postgres@localhost/postgres?host=${encodeURIComponent(server.socketDir)}&port=${server.port}`, '--slot', 'pgwal_s', '--state', state], created), created.stderr()).toBe(0);
        await c.query('create table t (id int)');
        await c.query('insert into t select generate_series(1, 100)');
        const end = (await c.query('select pg_current_wal_insert_lsn()::text as l')).rows[0].l as string;
        await c.query('insert into t values (0)');
        const decode = async (args: string[]): Promise<{ code: number; err: string }> => {
          const r = io();
          const code = await decodeCommand(['--state', state, ...args, '--endpos', end], r);
          return { code, err: r.stderr() };
        };
        expect((await decode(['--dsn', dsn])).code).toBe(0);

        // An unknown role: the server's FATAL, with its SQLSTATE; receive says the same.
        expect(await decode(['--dsn', at('no_such_role')])).toEqual({ code: 1, err: 'pgwal decode: error: role "no_such_role" does not exist (SQLSTATE 28000)\n' });
        const rcv = io();
        fs.mkdirSync(path.join(server.baseDir, 'rcv'));
        expect(await receiveCommand(['-d', at('no_such_role'), '-D', path.join(server.baseDir, 'rcv'), '-n'], rcv)).toBe(1);
        expect(rcv.stderr()).toBe('pgwal receive: error: role "no_such_role" does not exist (SQLSTATE 28000)\n');

        // A wrong password under scram-sha-256 (pg_hba.conf's first line for this role).
        await c.query(`create role alice login replication password 'right'`);
        const hba = path.join(server.dataDir, 'pg_hba.conf');
        fs.writeFileSync(hba, `local all alice scram-sha-256\nlocal replication alice scram-sha-256\n${fs.readFileSync(hba, 'utf8')}`);
        await c.query('select pg_reload_conf()');
        await new Promise((r) => setTimeout(r, 300));
        expect(await decode(['--dsn', at('alice', ' password=wrong')])).toEqual({ code: 1, err: 'pgwal decode: error: password authentication failed for user "alice" (SQLSTATE 28P01)\n' });
        // The right one gets through.
        expect((await decode(['--dsn', at('alice', ' password=right')])).code).toBe(0);

        // max_wal_senders (3) reached by three other replication connections.
        const held = await Promise.all([1, 2, 3].map(() => ReplicationConnection.connect({ connectionString: dsn, env: {} })));
        try {
          const full = await decode(['--dsn', dsn]);
          expect(full.code).toBe(1);
          expect(full.err).toMatch(/^pgwal decode: error: number of requested standby connections exceeds "?max_wal_senders"? \(currently 3\) \(SQLSTATE 53300\)\n$/);
        } finally {
          held.forEach((h) => h.close());
        }

        // A physical slot made after a checkpoint (it reserves WAL from the redo pointer): its restart_lsn is past
        // the slot's, whose WAL the server need not keep.
        await c.query('checkpoint');
        await c.query(`select pg_create_physical_replication_slot('ahead', true)`);
        const ahead = (await c.query(`select restart_lsn::text as l from pg_replication_slots where slot_name = 'ahead'`)).rows[0].l as string;
        const s = openSlotFile(state, { peek: true });
        const restart = formatLsn(s.restartLsn);
        s.release();
        let refused: { code: number; err: string } | undefined;
        for (let i = 0; i < 50; i++) {
          refused = await decode(['--dsn', dsn, '--physical-slot', 'ahead']);
          if (!/connecting again/.test(refused.err)) break;
        }
        expect(refused).toEqual({
          code: 1,
          err: `pgwal decode: error: physical replication slot "ahead" has restart_lsn ${ahead}, past the pgwal slot's restart_lsn ${restart}: the server may have removed WAL the slot needs\n`,
        });

        // wal_level lowered to replica (the server's logical slot must go first, or it would not start).
        await c.query(`select pg_drop_replication_slot('pgwal_s')`);
        await c.query(`alter system set wal_level = replica`);
      } finally {
        await c.end();
      }
      await server.stop('fast');
      await server.start();
      expect((await server.query<{ wal_level: string }>('show wal_level'))[0]!.wal_level).toBe('replica');
      const low = io();
      expect(await decodeCommand(['--state', state, '--dsn', dsn], low)).toBe(1);
      expect(low.stderr()).toBe("pgwal decode: error: logical decoding requires wal_level >= logical, but the server's wal_level is replica\n");
      // From files over the restart: the PARAMETER_CHANGE record that lowered it stops decoding (xlog_decode's check).
      await server.query(`insert into t values (-1)`);
      const [{ l: after }] = await server.query<{ l: string }>('select pg_current_wal_insert_lsn()::text as l');
      await server.query(`insert into t values (-2)`);
      const files = io();
      expect(await decodeCommand(['--state', state, '-p', server.pgWalDir, '--end', after!], files)).toBe(1);
      expect(files.stderr()).toMatch(/^pgwal decode: error: logical decoding requires wal_level >= logical, but the server's wal_level was set to replica at \d+\/[0-9A-F]+\n$/);
      // The rows committed before it were printed.
      expect(files.stdout()).toContain('table public.t: INSERT: id[integer]:100');
    });
  });
});
