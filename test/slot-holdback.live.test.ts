// Live, every major: `pgwal decode --hold-back-standby URL` prints (and confirms) a commit only once the standby
// has flushed it. A standby that stops streaming holds decoding at what it received; once it catches up, the
// rest follows, and the two runs together are exactly the server slot's output.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeCommand } from '../src/cli/decode.js';
import { slotCommand } from '../src/cli/slot.js';
import { readSlotStateFile } from '../src/node/slot.js';
import { parseLsn } from '../src/lsn.js';
import { MAJORS, Server } from './support/pg-server.js';
import { asText, dsnOf, flushedLsn, io } from './support/slot.js';

const lines = (t: string): string[] => t.trimEnd().split('\n').filter((l) => l !== '');

describe.each(MAJORS)('PostgreSQL %i', (major) => {
  it('--hold-back-standby holds commits the standby has not flushed', async () => {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-holdback-'));
    fs.chmodSync(base, 0o755);
    const primary = await Server.create({ major, gucs: { wal_keep_size: "'1GB'" } });
    let standby: Server | undefined;
    try {
      await primary.start();
      await primary.query('create table t (id int primary key, v text)');
      const state = path.join(base, 'slot.state');
      const created = io();
      expect(await slotCommand(['create', '--dsn', dsnOf(primary), '--slot', 'h', '--state', state], created), created.stderr()).toBe(0);
      await primary.stop('fast');
      fs.cpSync(primary.dataDir, path.join(base, 'standby'), { recursive: true });
      fs.rmSync(path.join(base, 'standby', 'pg_replslot', 'h'), { recursive: true, force: true });
      const conninfo = `'host=${primary.socketDir} port=${primary.port} user=postgres'`;
      standby = await Server.create({ major, dataDir: path.join(base, 'standby'), gucs: { primary_conninfo: conninfo } });
      fs.writeFileSync(path.join(standby.dataDir, 'standby.signal'), '');
      if (standby.owner) fs.chownSync(path.join(standby.dataDir, 'standby.signal'), standby.owner.uid, standby.owner.gid);
      await primary.start();
      await standby.start();
      const p = await primary.connect();
      try {
        const received = async (): Promise<string> => (await standby!.query<{ l: string }>('select pg_last_wal_receive_lsn()::text as l'))[0]!.l;
        const waitReceived = async (lsn: string): Promise<void> => {
          for (let i = 0; i < 400; i++) {
            const r = await received();
            if (r !== null && parseLsn(r) >= parseLsn(lsn)) return;
            await new Promise((res) => setTimeout(res, 25));
          }
          throw new Error(`standby did not receive ${lsn}`);
        };
        await p.query(`insert into t select g, 'streamed ' || g from generate_series(1, 5) g`);
        await p.query(`insert into t values (6, 'streamed, last')`);
        await waitReceived(await flushedLsn(p));
        // The standby stops streaming: what it has flushed stays where it is.
        await standby.query(`alter system set primary_conninfo = ''`);
        await standby.query('select pg_reload_conf()');
        for (let i = 0; i < 400 && (await standby.query('select 1 from pg_stat_wal_receiver')).length > 0; i++) await new Promise((res) => setTimeout(res, 25));
        const held = parseLsn(await received());
        await p.query(`insert into t select g, 'not on the standby ' || g from generate_series(7, 9) g`);
        const end = await flushedLsn(p);
        const theirs = (
          await p.query({ text: `select lsn, xid, data from pg_logical_slot_peek_changes('h', $1, null, 'skip-empty-xacts', '1')`, values: [end], rowMode: 'array', types: asText })
        ).rows.map((r) => r.join('\t'));
        const commitOf = (i: number): number => parseLsn(theirs.slice(i).find((l) => l.split('\t')[2]!.startsWith('COMMIT'))!.split('\t')[0]!);
        const covered = theirs.filter((_, i) => commitOf(i) <= held);
        expect(covered.join('\n')).toContain('streamed, last');
        expect(covered.length).toBeLessThan(theirs.length);

        const args = ['--state', state, '-p', primary.pgWalDir, '--with-lsn', '-o', 'skip-empty-xacts=1', '--end', end, '--hold-back-standby', dsnOf(standby), '--advance'];
        const first = io();
        expect(await decodeCommand(args, first), first.stderr()).toBe(0);
        expect(lines(first.stdout())).toEqual(covered);
        expect(first.stderr()).toMatch(/held back: the standby at .* covers only/);
        expect(parseLsn(readSlotStateFile(state).confirmedFlush)).toBeLessThanOrEqual(held);

        // Streaming again: the standby catches up, and the rest comes.
        await standby.query(`alter system set primary_conninfo = ${conninfo}`);
        await standby.query('select pg_reload_conf()');
        await waitReceived(end);
        const second = io();
        expect(await decodeCommand(args, second), second.stderr()).toBe(0);
        expect([...lines(first.stdout()), ...lines(second.stdout())]).toEqual(theirs);
        expect(second.stderr()).toBe('');
      } finally {
        await p.end();
      }
    } finally {
      await standby?.destroy();
      await primary.destroy();
      fs.rmSync(base, { recursive: true, force: true });
    }
  });
});
