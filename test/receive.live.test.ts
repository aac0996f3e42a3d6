// Live, every major: `pgwal receive` writes the server's own segments.
//  - After a workload and pg_switch_wal(), every finished segment pgwal wrote is byte-identical to the
//    server's file in pg_wal; on 15 also to what Debian's pg_receivewal writes for the same range.
//  - A restart resumes from the folder (a .partial is redone from its start), --endpos stops there.
//  - Authentication: password, md5, scram-sha-256 over TCP 127.0.0.1; a wrong password, an unknown slot,
//    a refused connection are typed one-line errors. TLS with sslmode require / verify-ca.
//  - Streaming from a standby that is promoted: the history file, both timelines' segments.
//  - -Z gzip: finished segments gunzip to the server's.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { receiveCommand } from '../src/cli/receive.js';
import type { DumpIo } from '../src/cli/dump.js';
import { parseLsn } from '../src/lsn.js';
import { ReplicationConnection } from '../src/node/replication.js';
import { receiveWal } from '../src/node/receivewal.js';
import { walFileName } from '../src/walfile.js';
import { AuthenticationError, ConnectionError, ScramClient, ScramServer, ServerError, buildScramSecret, parseScramSecret } from '../src/protocol/index.js';
import { debianAvailable, MAJORS, Server } from './support/pg-server.js';
import { waitForReplay } from './support/slot.js';
import { cliBundle } from './support/cli-process.js';

function io(): DumpIo & { stderr(): string; stdout(): string } {
  let out = '';
  let err = '';
  return {
    out: (t) => void (out += t),
    err: (t) => void (err += t),
    errIsTty: false,
    env: {},
    cwd: process.cwd(),
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    stderr: () => err,
    stdout: () => out,
  };
}

const dsn = (s: Server): string => `host=${s.socketDir} port=${s.port} user=postgres`;

async function workload(s: Server, rounds: number): Promise<string> {
  await s.query('create table if not exists t (id serial primary key, v text)');
  for (let i = 0; i < rounds; i++) {
    await s.query(`insert into t (v) select repeat(md5(g::text), 20) from generate_series(1, 2000) g`);
    await s.query('select pg_switch_wal()');
  }
  await s.query(`insert into t (v) values ('after the last switch')`);
  const [{ lsn }] = (await s.query<{ lsn: string }>('select pg_current_wal_lsn()::text as lsn')) as [{ lsn: string }];
  return lsn;
}

/** Finished (renamed) segment files of a folder. */
const finished = (dir: string): string[] => fs.readdirSync(dir).filter((n) => /^[0-9A-F]{24}$/.test(n)).sort();

/**
 * Compares every finished segment with the server's. `staleTail`: a segment may differ only in a tail
 * where the server's file holds zeros (see the promotion test).
 */
function expectSameAsServer(dir: string, server: Server, staleTail: string[] = []): string[] {
  const names = finished(dir);
  for (const n of names) {
    const ours = fs.readFileSync(path.join(dir, n));
    const theirs = fs.readFileSync(path.join(server.pgWalDir, n));
    expect(ours.length, n).toBe(theirs.length);
    if (Buffer.compare(ours, theirs) !== 0) {
      let i = 0;
      while (ours[i] === theirs[i]) i++;
      const zeroTail = i > 0 && theirs.subarray(i).every((b) => b === 0);
      if (zeroTail) {
        staleTail.push(n);
        continue;
      }
      throw new Error(`${n} differs from pg_wal/${n} from byte ${i}: ours ${ours.subarray(i, i + 16).toString('hex')}, the server's ${theirs.subarray(i, i + 16).toString('hex')}`);
    }
    expect(Buffer.compare(ours, theirs), `${n} differs from pg_wal/${n}`).toBe(0);
  }
  return names;
}

function tmpdir(tag: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), `pgwal-receive-${tag}-`));
  fs.chmodSync(d, 0o777);
  return d;
}

describe.each(MAJORS)('PostgreSQL %i', (major) => {
  it('finished segments are byte-identical to pg_wal (and to pg_receivewal on 15); resume; endpos', async () => {
    const server = await Server.create({ major, gucs: { wal_keep_size: "'1GB'" } });
    const dirs: string[] = [];
    try {
      await server.start();
      await server.query(`select pg_create_physical_replication_slot('ours', true)`);
      await server.query(`select pg_create_physical_replication_slot('theirs', true)`);
      const end = await workload(server, 4);
      const dir = tmpdir('a');
      dirs.push(dir);
      const run = io();
      const code = await receiveCommand(['-D', dir, '-d', dsn(server), '-S', 'ours', '-E', end, '-n', '-v'], run);
      expect(code, run.stderr()).toBe(0);
      const names = expectSameAsServer(dir, server);
      expect(names.length).toBeGreaterThanOrEqual(4);
      // The segment holding the end is unfinished: it stays .partial, padded to the segment size.
      const partials = fs.readdirSync(dir).filter((n) => n.endsWith('.partial'));
      expect(partials.length).toBe(1);
      expect(fs.statSync(path.join(dir, partials[0]!)).size).toBe(1024 * 1024);
      expect(run.stderr()).toContain('finished segment at');
      // The slot's restart_lsn followed the flush position we reported.
      const [slot] = await server.query<{ restart_lsn: string }>(`select restart_lsn::text from pg_replication_slots where slot_name = 'ours'`);
      expect(parseLsn(slot!.restart_lsn)).toBeGreaterThan(0);

      // Resume: more WAL, a second run goes on from the .partial and finishes it and what follows.
      const end2 = await workload(server, 2);
      const again = io();
      expect(await receiveCommand(['-D', dir, '-d', dsn(server), '-S', 'ours', '-E', end2, '-n'], again), again.stderr()).toBe(0);
      const names2 = expectSameAsServer(dir, server);
      expect(names2.length).toBeGreaterThanOrEqual(names.length + 2);
      expect(names2).toContain(partials[0]!.replace('.partial', ''));

      if (major === 15 && debianAvailable(15)) {
        const theirs = tmpdir('pg');
        dirs.push(theirs);
        const r = spawnSync('/usr/lib/postgresql/15/bin/pg_receivewal', ['-D', theirs, '-d', dsn(server), '-S', 'theirs', '-E', end2, '-n'], {
          encoding: 'utf8',
          timeout: 60_000,
        });
        expect(r.status, r.stderr).toBe(0);
        const pgNames = finished(theirs);
        expect(pgNames).toEqual(names2);
        for (const n of pgNames) {
          expect(Buffer.compare(fs.readFileSync(path.join(theirs, n)), fs.readFileSync(path.join(dir, n))), n).toBe(0);
        }
        const pgPartials = fs.readdirSync(theirs).filter((n) => n.endsWith('.partial'));
        expect(pgPartials).toEqual(fs.readdirSync(dir).filter((n) => n.endsWith('.partial')));
      }

      // -Z gzip: finished segments are .gz files holding the same bytes.
      const gzDir = tmpdir('gz');
      dirs.push(gzDir);
      await server.query(`select pg_create_physical_replication_slot('gz', true)`);
      const end3 = await workload(server, 2);
      const gz = io();
      expect(await receiveCommand(['-D', gzDir, '-d', dsn(server), '-S', 'gz', '-E', end3, '-n', '-Z', 'gzip:3'], gz), gz.stderr()).toBe(0);
      const gzNames = fs.readdirSync(gzDir).filter((n) => n.endsWith('.gz'));
      expect(gzNames.length).toBeGreaterThanOrEqual(2);
      const zlib = await import('node:zlib');
      for (const n of gzNames) {
        const seg = n.replace('.gz', '');
        expect(Buffer.compare(zlib.gunzipSync(fs.readFileSync(path.join(gzDir, n))), fs.readFileSync(path.join(server.pgWalDir, seg))), n).toBe(0);
      }
    } finally {
      await server.destroy();
      for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
    }
  });

  it('the pgwal receive process stops on SIGINT with status 0, the segment being written left .partial', async () => {
    const server = await Server.create({ major });
    const dir = tmpdir('sigint');
    try {
      await server.start();
      const child = spawn(process.execPath, [cliBundle(), 'receive', '-D', dir, '-d', dsn(server), '-v'], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      for (let i = 0; i < 400 && !err.includes('starting log streaming'); i++) await new Promise((r) => setTimeout(r, 25));
      await server.query('create table t as select g from generate_series(1, 1000) g');
      await new Promise((r) => setTimeout(r, 300));
      child.kill('SIGINT');
      expect(await exited, err).toBe(0);
      expect(err).toMatch(/stopped log streaming at [0-9A-F]+\/[0-9A-F]+ \(timeline 1\)/);
      expect(fs.readdirSync(dir).filter((n) => n.endsWith('.partial'))).toHaveLength(1);
    } finally {
      await server.destroy();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a killed walsender: reconnects with backoff and resumes at the first byte not yet written, segments still equal pg_wal', async () => {
    const server = await Server.create({ major, gucs: { wal_keep_size: "'1GB'" } });
    const dir = tmpdir('kill');
    try {
      await server.start();
      await server.query(`select pg_create_physical_replication_slot('k', true)`);
      await server.query('create table t (id serial primary key, v text)');
      const lines: string[] = [];
      const end = { lsn: Number.MAX_SAFE_INTEGER };
      const ac = new AbortController();
      const running = receiveWal({
        connectionString: dsn(server),
        directory: dir,
        slot: 'k',
        statusIntervalMs: 100,
        reconnectDelayMs: 1000,
        signal: ac.signal,
        log: (l) => lines.push(l),
      }).then(
        () => undefined,
        (e: unknown) => e,
      );
      let kills = 0;
      for (let i = 0; i < 8; i++) {
        await server.query(`insert into t (v) select repeat('y', 300) from generate_series(1, 2500)`);
        for (let w = 0; w < 200; w++) {
          if ((await server.query(`select 1 from pg_stat_replication where state = 'streaming'`)).length > 0) break;
          await new Promise((r) => setTimeout(r, 25));
        }
        const k = await server.query<{ ok: boolean }>(`select pg_terminate_backend(pid) as ok from pg_stat_replication`);
        kills += k.filter((x) => x.ok).length;
      }
      await server.query('select pg_switch_wal()');
      const [{ lsn }] = (await server.query<{ lsn: string }>('select pg_current_wal_lsn()::text as lsn')) as [{ lsn: string }];
      end.lsn = parseLsn(lsn);
      const last = walFileName(1, end.lsn / (1024 * 1024) - 1, 1024 * 1024);
      for (let i = 0; i < 600 && !fs.existsSync(path.join(dir, last)); i++) await new Promise((r) => setTimeout(r, 50));
      ac.abort();
      expect(await running, lines.join('\n')).toBeUndefined();
      expect(kills).toBe(8);
      const resumed = lines.filter((l) => l.startsWith('resuming log streaming at ')).map((l) => parseLsn(l.split(' ')[4]!));
      expect(resumed.length, lines.join('\n')).toBeGreaterThanOrEqual(8);
      // Not back to a segment start: on from where the writing stopped.
      expect(resumed.some((r) => r % (1024 * 1024) !== 0)).toBe(true);
      expect(fs.existsSync(path.join(dir, last)), lines.join('\n')).toBe(true);
      expect(expectSameAsServer(dir, server).length).toBeGreaterThanOrEqual(3);
    } finally {
      await server.destroy();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('authenticates with password, md5 and scram-sha-256; wrong password, unknown slot, refused connection are typed errors', async () => {
    const server = await Server.create({ major, gucs: { listen_addresses: "'127.0.0.1'" } });
    try {
      // Password rules first, ahead of initdb's trust lines.
      const hba = path.join(server.dataDir, 'pg_hba.conf');
      const rules = [
        'host replication pw_user 127.0.0.1/32 password',
        'host replication md5_user 127.0.0.1/32 md5',
        'host replication scram_user 127.0.0.1/32 scram-sha-256',
      ];
      fs.writeFileSync(hba, `${rules.join('\n')}\n${fs.readFileSync(hba, 'utf8')}`);
      await server.start();
      await server.query(`create role pw_user login replication password 'pw secret'`);
      await server.query(`set password_encryption = 'md5'; create role md5_user login replication password 'md5 secret'`);
      await server.query(`set password_encryption = 'scram-sha-256'; create role scram_user login replication password 'scram sécret'`);
      // The server side of SCRAM (for a walsender): the secret as the server stores it, and an exchange.
      const [{ rolpassword }] = (await server.query<{ rolpassword: string }>(`select rolpassword from pg_authid where rolname = 'scram_user'`)) as [{ rolpassword: string }];
      const secret = parseScramSecret(rolpassword);
      expect(await buildScramSecret('scram sécret', { salt: secret.salt, iterations: secret.iterations })).toBe(rolpassword);
      for (const [pw, ok] of [['scram sécret', true], ['scram secret', false]] as const) {
        const client = new ScramClient(pw);
        const srv = new ScramServer(secret);
        const serverFirst = srv.first(client.initialResponse().data);
        const clientFinal = await client.continue(serverFirst);
        if (ok) client.finish(await srv.final(clientFinal));
        else await expect(srv.final(clientFinal)).rejects.toBeInstanceOf(AuthenticationError);
      }
      for (const [user, pw] of [
        ['pw_user', 'pw secret'],
        ['md5_user', 'md5 secret'],
        ['scram_user', 'scram sécret'],
      ] as const) {
        const url = `postgresql://${user}:${encodeURIComponent(pw)}@127.0.0.1:${server.port}/postgres?sslmode=prefer`;
        const c = await ReplicationConnection.connect({ connectionString: url, env: {} });
        try {
          const id = await c.identifySystem();
          expect(id.timeline).toBe(1);
          const [{ system_identifier }] = (await server.query<{ system_identifier: string }>('select system_identifier::text from pg_control_system()')) as [
            { system_identifier: string },
          ];
          expect(id.systemId).toBe(system_identifier);
          expect(c.parameters.get('server_version')).toMatch(new RegExp(`^${major}\\.`));
        } finally {
          c.close();
        }
        const wrong = ReplicationConnection.connect({ connectionString: `host=127.0.0.1 port=${server.port} user=${user} password=wrong`, env: {} });
        await expect(wrong).rejects.toBeInstanceOf(ServerError);
        await expect(wrong).rejects.toMatchObject({ sqlState: '28P01', code: 'authentication-failed', message: `password authentication failed for user "${user}"` });
      }
      const bad = io();
      expect(await receiveCommand(['-D', os.tmpdir(), '-d', `host=127.0.0.1 port=${server.port} user=scram_user password=nope`, '-n'], bad)).toBe(1);
      expect(bad.stderr()).toBe('pgwal receive: error: password authentication failed for user "scram_user" (SQLSTATE 28P01)\n');
      const noSlot = io();
      const empty = tmpdir('empty');
      expect(await receiveCommand(['-D', empty, '-d', dsn(server), '-S', 'missing', '-n'], noSlot)).toBe(1);
      fs.rmSync(empty, { recursive: true });
      expect(noSlot.stderr()).toMatch(/^pgwal receive: error: replication slot "missing" does not exist \(SQLSTATE 42704\)\n$/);
      const port = server.port;
      await server.stop();
      const refused = ReplicationConnection.connect({ connectionString: `host=127.0.0.1 port=${port} user=postgres`, env: {} });
      await expect(refused).rejects.toBeInstanceOf(ConnectionError);
      await expect(refused).rejects.toThrow(`connection to server at "127.0.0.1", port ${port} failed: Connection refused`);
    } finally {
      await server.destroy();
    }
  });

  it('streaming from a standby that is promoted, it follows onto timeline 2 and writes its history file', async () => {
    const base = tmpdir('promote');
    const primary = await Server.create({ major, gucs: { wal_keep_size: "'1GB'" } });
    let standby: Server | undefined;
    const dir = path.join(base, 'wal');
    fs.mkdirSync(dir);
    try {
      await primary.start();
      await workload(primary, 1);
      await primary.stop('fast');
      fs.cpSync(primary.dataDir, path.join(base, 'standby'), { recursive: true });
      standby = await Server.create({
        major,
        dataDir: path.join(base, 'standby'),
        gucs: { primary_conninfo: `'host=${primary.socketDir} port=${primary.port} user=postgres'`, wal_keep_size: "'1GB'" },
      });
      fs.writeFileSync(path.join(standby.dataDir, 'standby.signal'), '');
      if (standby.owner) fs.chownSync(path.join(standby.dataDir, 'standby.signal'), standby.owner.uid, standby.owner.gid);
      await primary.start();
      await standby.start();
      const ac = new AbortController();
      const lines: string[] = [];
      const running = receiveWal({ connectionString: dsn(standby), directory: dir, signal: ac.signal, noLoop: true, statusIntervalMs: 200, log: (l) => lines.push(l) }).then(
        () => undefined,
        (e: unknown) => e,
      );
      const sent = await workload(primary, 2);
      await waitForReplay(standby, sent);
      // A host list with target_session_attrs picks the server by its in_hot_standby report.
      const both = `host=${primary.socketDir},${standby.socketDir} port=${primary.port},${standby.port} user=postgres`;
      for (const [attrs, want] of [['standby', standby.port], ['primary', primary.port], ['read-write', primary.port], ['prefer-standby', standby.port], ['any', primary.port]] as const) {
        const c = await ReplicationConnection.connect({ connectionString: `${both} target_session_attrs=${attrs}`, env: {} });
        try {
          expect(c.address.port, attrs).toBe(want);
        } finally {
          c.close();
        }
      }
      await standby.query('select pg_promote(true, 60)');
      const end = await workload(standby, 2);
      const last = walFileName(2, Math.floor(parseLsn(end) / (1024 * 1024)) - 1, 1024 * 1024);
      for (let i = 0; i < 400 && !fs.existsSync(path.join(dir, last)); i++) await new Promise((r) => setTimeout(r, 50));
      ac.abort();
      expect(await running, lines.join('\n')).toBeUndefined();
      expect(fs.existsSync(path.join(dir, last)), `${last} after ${lines.join('\n')}`).toBe(true);
      expect(fs.readFileSync(path.join(dir, '00000002.history'), 'utf8')).toBe(fs.readFileSync(path.join(standby.pgWalDir, '00000002.history'), 'utf8'));
      // A standby's walsender sometimes sends, for the tail of a segment after its XLOG_SWITCH record
      // (bytes never read as WAL), old pages where both servers' files end up holding zeros: seen on 16-18,
      // before the promotion, in the XLogData messages themselves (logged while investigating). Likely
      // cause: a cascading walsender sends up to max(received, replayed), and replaying XLOG_SWITCH moves
      // the replay position to the segment's end before the walreceiver has written the zero tail, so the
      // walsender reads what the file held before: initdb (wal_recycle on) leaves recycled future segments, e.g.
      // 000000010000000000000009 holding segment 2's pages, and a stale page at 0/9DC000 was one of 0/2DC000. pg_receivewal
      // would write the same bytes. Such a tail is allowed on the old timeline only; every other byte must match.
      const stale: string[] = [];
      const names = expectSameAsServer(dir, standby, stale);
      expect(stale.filter((n) => !n.startsWith('00000001'))).toEqual([]);
      expect(names.filter((n) => n.startsWith('00000001')).length).toBeGreaterThanOrEqual(2);
      expect(names.filter((n) => n.startsWith('00000002')).length).toBeGreaterThanOrEqual(2);
      // The old timeline's last segment, cut at the switch point, stays .partial as pg_receivewal leaves it.
      expect(fs.readdirSync(dir).filter((n) => n.startsWith('00000001') && n.endsWith('.partial')).length).toBe(1);
      expect(lines.join('\n')).toMatch(/switched to timeline 2 at /);
    } finally {
      await standby?.destroy();
      await primary.destroy();
      fs.rmSync(base, { recursive: true, force: true });
    }
  });

  it('TLS: sslmode=require and verify-ca connect over TLS; disable is refused by a hostssl-only rule; an unknown CA is refused', async () => {
    const server = await Server.create({ major, gucs: { listen_addresses: "'127.0.0.1'", ssl: 'on' } });
    try {
      const key = path.join(server.dataDir, 'server.key');
      const crt = path.join(server.dataDir, 'server.crt');
      const r = spawnSync('openssl', ['req', '-new', '-x509', '-days', '1', '-nodes', '-subj', '/CN=localhost', '-keyout', key, '-out', crt], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      fs.chmodSync(key, 0o600);
      if (server.owner) for (const f of [key, crt]) fs.chownSync(f, server.owner.uid, server.owner.gid);
      const hba = path.join(server.dataDir, 'pg_hba.conf');
      fs.writeFileSync(hba, `hostnossl replication postgres 127.0.0.1/32 reject\nhostssl replication postgres 127.0.0.1/32 trust\n${fs.readFileSync(hba, 'utf8')}`);
      await server.start();
      for (const mode of ['require', `verify-ca sslrootcert=${crt}`]) {
        const c = await ReplicationConnection.connect({ connectionString: `host=127.0.0.1 port=${server.port} user=postgres sslmode=${mode}`, env: {} });
        try {
          expect((await c.identifySystem()).timeline).toBe(1);
          const [ssl] = await server.query<{ n: string }>(`select count(*)::text as n from pg_stat_ssl s join pg_stat_activity a using (pid) where s.ssl and a.backend_type = 'walsender'`);
          expect(ssl!.n).toBe('1');
        } finally {
          c.close();
        }
      }
      const plain = ReplicationConnection.connect({ connectionString: `host=127.0.0.1 port=${server.port} user=postgres sslmode=disable`, env: {} });
      await expect(plain).rejects.toMatchObject({ sqlState: '28000' });
      const unknownCa = ReplicationConnection.connect({ connectionString: `host=127.0.0.1 port=${server.port} user=postgres sslmode=verify-ca`, env: {} });
      await expect(unknownCa).rejects.toBeInstanceOf(ConnectionError);
    } finally {
      await server.destroy();
    }
  });
});
