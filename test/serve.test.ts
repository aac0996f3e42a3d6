// pgwal serve without a PostgreSQL server: authentication (SCRAM, trust), what it refuses, and hostile clients,
// with Debian's libpq clients (pg_recvlogical, psql 15) where they are installed, and raw sockets.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WalSender } from '../src/node/walsender.js';
import { serveCommand, SERVE_HELP } from '../src/cli/serve.js';
import { listFixtures } from './support/fixtures.js';
import { extractSegments, runCli } from './support/cli.js';
import { spawn } from 'node:child_process';
import { io } from './support/slot.js';
import { parseReplicationCommand } from '../src/protocol/index.js';

const BIN = '/usr/lib/postgresql/15/bin';
const haveClients = fs.existsSync(path.join(BIN, 'pg_recvlogical'));
// Debian's clients are what these tests compare with: without them the suite fails, naming the package.
beforeAll(() => {
  if (!haveClients) throw new Error("Debian's postgresql-15 is not installed (apt-get install -y postgresql-15): this comparison needs its tools");
  if (!fs.existsSync('/usr/bin/openssl')) throw new Error('openssl is not installed (apt-get install -y openssl): the TLS test needs it');
});

function run(program: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(path.join(BIN, program), args, { env: { ...process.env, PGCONNECT_TIMEOUT: '5', PGSSLMODE: 'prefer', ...env }, timeout: 20_000 }, (e, stdout, stderr) => {
      resolve({ code: e === null ? 0 : typeof e.code === 'number' ? e.code : 1, stdout, stderr });
    });
  });
}

/** Bytes to a raw connection, and what comes back until the server closes it (or 5 s pass). */
function raw(port: number, chunks: Uint8Array[]): Promise<{ reply: Buffer; closed: boolean }> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    const got: Buffer[] = [];
    const t = setTimeout(() => {
      s.destroy();
      resolve({ reply: Buffer.concat(got), closed: false });
    }, 5000);
    s.on('data', (d) => got.push(d));
    s.on('error', () => undefined);
    s.on('close', () => {
      clearTimeout(t);
      resolve({ reply: Buffer.concat(got), closed: true });
    });
    s.on('connect', () => {
      for (const c of chunks) s.write(c);
    });
  });
}

function startup(params: Record<string, string>): Uint8Array {
  const body = Buffer.concat([...Object.entries(params).flatMap(([k, v]) => [Buffer.from(`${k}\0${v}\0`)]), Buffer.from([0])]);
  const out = Buffer.alloc(8 + body.length);
  out.writeInt32BE(out.length, 0);
  out.writeInt32BE(196608, 4);
  body.copy(out, 8);
  return out;
}

describe('pgwal serve', () => {
  let dir: string;
  let scram: WalSender;
  let trust: WalSender;
  let scramPort: number;
  let trustPort: number;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-serve-'));
    const f = listFixtures().find((x) => fs.existsSync(path.join(x.dir, 'slot.state')))!;
    fs.copyFileSync(path.join(f.dir, 'slot.state'), path.join(dir, 'slot.state'));
    scram = new WalSender({ states: [path.join(dir, 'slot.state')], path: [dir], auth: 'scram', passwords: new Map([['postgres', 'secret']]) });
    trust = new WalSender({ states: [path.join(dir, 'slot.state')], path: [dir], auth: 'trust', maxMessageLength: 4096 });
    scramPort = Number((await scram.listen({ host: '127.0.0.1', port: 0 })).split(':').at(-1));
    trustPort = Number((await trust.listen({ host: '127.0.0.1', port: 0 })).split(':').at(-1));
  });
  afterAll(async () => {
    await scram.close();
    await trust.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const conn = (port: number, user = 'postgres', extra = ' replication=database'): string => `host=127.0.0.1 port=${port} dbname=postgres user=${user}${extra}`;

  it('SCRAM: the right password gets in (to the server\'s slot error), a wrong one or an unknown role is refused as the server refuses', async () => {
    const ok = await run('pg_recvlogical', ['--start', '-S', 'nope', '-f', '-', '--no-loop', '-d', conn(scramPort, 'postgres', '')], { PGPASSWORD: 'secret' });
    expect(ok.code).toBe(1);
    expect(ok.stderr).toContain('replication slot "nope" does not exist');
    const wrong = await run('pg_recvlogical', ['--start', '-S', 'nope', '-f', '-', '--no-loop', '-d', conn(scramPort, 'postgres', '')], { PGPASSWORD: 'wrong' });
    expect(wrong.stderr).toContain('password authentication failed for user "postgres"');
    const unknown = await run('pg_recvlogical', ['--start', '-S', 'nope', '-f', '-', '--no-loop', '-d', conn(scramPort, 'mallory', '')], { PGPASSWORD: 'secret' });
    expect(unknown.stderr).toContain('password authentication failed for user "mallory"');
  });

  it('answers IDENTIFY_SYSTEM and SHOW; refuses SQL, other replication commands and plain connections with their SQLSTATE', async () => {
    const id = await run('psql', ['-XAt', '-d', conn(trustPort), '-c', 'IDENTIFY_SYSTEM']);
    expect(id.code, id.stderr).toBe(0);
    const state = JSON.parse(fs.readFileSync(path.join(dir, 'slot.state'), 'utf8')) as { state: { systemIdentifier: string; timeline: number } };
    expect(id.stdout.trim().split('|').slice(0, 2)).toEqual([state.state.systemIdentifier, String(state.state.timeline)]);
    expect(id.stdout.trim().split('|')[3]).toBe('postgres');
    fs.writeFileSync(path.join(dir, '00000002.history'), '1\t0/3000000\tno recovery target specified\n');
    const hist = await run('psql', ['-XAt', '-d', conn(trustPort), '-c', 'TIMELINE_HISTORY 2']);
    expect(hist.stdout).toBe('00000002.history|1\t0/3000000\tno recovery target specified\n\n');
    const noHist = await run('psql', ['-XAt', '-v', 'VERBOSITY=verbose', '-d', conn(trustPort), '-c', 'TIMELINE_HISTORY 3']);
    expect(noHist.stderr).toMatch(/ERROR:\s+58P01: could not open file "pg_wal\/00000003.history": No such file or directory/);
    const show = await run('psql', ['-XAt', '-d', conn(trustPort), '-c', 'SHOW data_directory_mode']);
    expect(show.stdout.trim()).toBe('0700');
    const verbose = { PGOPTIONS: '', PG_COLOR: 'never' };
    const sql = await run('psql', ['-XAt', '-v', 'VERBOSITY=verbose', '-d', conn(trustPort), '-c', 'select 1'], verbose);
    expect(sql.stderr).toMatch(/ERROR:\s+0A000: pgwal serve does not run SQL: select 1/);
    const create = await run('psql', ['-XAt', '-v', 'VERBOSITY=verbose', '-d', conn(trustPort), '-c', 'CREATE_REPLICATION_SLOT x LOGICAL test_decoding'], verbose);
    expect(create.stderr).toMatch(/ERROR:\s+0A000: pgwal serve does not serve CREATE_REPLICATION_SLOT/);
    const unknownGuc = await run('psql', ['-XAt', '-v', 'VERBOSITY=verbose', '-d', conn(trustPort), '-c', 'SHOW no_such_thing'], verbose);
    expect(unknownGuc.stderr).toMatch(/ERROR:\s+42704: unrecognized configuration parameter "no_such_thing"/);
    const plain = await run('psql', ['-XAt', '-d', conn(trustPort, 'postgres', ''), '-c', 'select 1']);
    expect(plain.stderr).toContain('no pg_hba.conf entry for host "pgwal serve", user "postgres", database "postgres"');
  });

  it('hostile clients: an oversized or malformed message gets an error and a closed connection, others are served meanwhile', async () => {
    // A Query announcing 2 GB: refused from its header, nothing allocated.
    const big = Buffer.alloc(5);
    big[0] = 0x51;
    big.writeInt32BE(0x7fff_fff0, 1);
    const a = await raw(trustPort, [startup({ user: 'postgres', database: 'postgres', replication: 'database' }), big]);
    expect(a.closed).toBe(true);
    expect(a.reply.toString('latin1')).toMatch(/54000.*more than the limit of 4096/s);
    // A start-up packet of length 3, and one of 100 kB.
    const short = Buffer.from([0, 0, 0, 3, 0, 3, 0, 0]);
    const b = await raw(trustPort, [short]);
    expect(b.closed).toBe(true);
    expect(b.reply.toString('latin1')).toContain('invalid length of startup packet: 3');
    const huge = Buffer.alloc(8);
    huge.writeInt32BE(100_000, 0);
    const c = await raw(trustPort, [huge]);
    expect(c.closed).toBe(true);
    expect(c.reply.toString('latin1')).toContain('invalid length of startup packet');
    // An unknown message type after start-up, and a CopyData outside COPY then garbage.
    const d = await raw(trustPort, [startup({ user: 'postgres', database: 'postgres', replication: 'database' }), Buffer.from([0x01, 0, 0, 0, 4])]);
    expect(d.closed).toBe(true);
    expect(d.reply.toString('latin1')).toMatch(/08P01.*invalid frontend message type 1/s);
    // A protocol version the server does not speak.
    const v = Buffer.from(startup({ user: 'postgres' }));
    v.writeInt32BE(4 << 16, 4);
    const e = await raw(trustPort, [v]);
    expect(e.closed).toBe(true);
    expect(e.reply.toString('latin1')).toContain('unsupported frontend protocol 4.0');
    // A client that never authenticates is dropped after authentication_timeout.
    const quiet = new WalSender({ states: [], path: [dir], auth: 'trust', authenticationTimeoutMs: 200, maxConnections: 2 });
    const qPort = Number((await quiet.listen({ host: '127.0.0.1', port: 0 })).split(':').at(-1));
    try {
      const silent = await raw(qPort, []);
      expect(silent.closed).toBe(true);
      expect(silent.reply.length).toBe(0);
      // Beyond maxConnections: the server's 53300, while two silent clients hold their places.
      const holders = [net.connect(qPort, '127.0.0.1'), net.connect(qPort, '127.0.0.1')];
      for (const h of holders) h.on('error', () => undefined);
      await new Promise((r) => setTimeout(r, 50));
      const third = await raw(qPort, [startup({ user: 'postgres', database: 'postgres', replication: 'database' })]);
      expect(third.closed).toBe(true);
      expect(third.reply.toString('latin1')).toMatch(/53300.*sorry, too many clients already/s);
      for (const h of holders) h.destroy();
    } finally {
      await quiet.close();
    }
    // Meanwhile a well-behaved client is served.
    if (haveClients) {
      const ok = await run('psql', ['-XAt', '-d', conn(trustPort), '-c', 'IDENTIFY_SYSTEM']);
      expect(ok.code, ok.stderr).toBe(0);
    }
  });

  it('parses the replication grammar as repl_gram.y: quoted names, options with and without values, a semicolon', () => {
    expect(parseReplicationCommand(`START_REPLICATION SLOT "My ""slot""" LOGICAL 1/ABCDEF00 ("proto_version" '4', publication_names '"p"', binary, streaming 'parallel');`)).toEqual({
      kind: 'START_REPLICATION',
      slot: 'My "slot"',
      logical: true,
      lsn: 0x1_abcdef00,
      timeline: undefined,
      options: [
        ['proto_version', '4'],
        ['publication_names', '"p"'],
        ['binary', null],
        ['streaming', 'parallel'],
      ],
    });
    expect(parseReplicationCommand('identify_system')).toEqual({ kind: 'IDENTIFY_SYSTEM' });
    expect(parseReplicationCommand('SELECT 1')).toEqual({ kind: 'sql', sql: 'SELECT 1' });
    expect(() => parseReplicationCommand('START_REPLICATION SLOT s LOGICAL')).toThrow('syntax error at end of input');
    expect(() => parseReplicationCommand("START_REPLICATION SLOT s LOGICAL 0/0 (a 'b'")).toThrow('syntax error at end of input');
    expect(() => parseReplicationCommand("START_REPLICATION SLOT s LOGICAL 0/0 (a 'b)")).toThrow('unterminated quoted string');
  });

  it('--help, and one-line errors for bad options', async () => {
    const h = io();
    expect(await serveCommand(['--help'], h)).toBe(0);
    expect(h.stdout()).toBe(SERVE_HELP);
    for (const flag of ['--state', '--path', '--listen', '--port', '--auth', '--password-file', '--log-commands', '--restore-command', '--wal-segsize', '--restore-timeout', '--tls-cert', '--tls-key', '--memory-limit', '--dsn', '--physical-slot']) expect(SERVE_HELP).toContain(flag);
    const cases: [string[], string][] = [
      [['--listen', '127.0.0.1:0'], 'pgwal serve: error: --state is required\n'],
      [['--state', path.join(dir, 'slot.state')], 'pgwal serve: error: --listen is required\n'],
      [['--state', path.join(dir, 'slot.state'), '--listen', '127.0.0.1:0', '--auth', 'md5'], 'pgwal serve: error: invalid --auth "md5": expected trust or scram\n'],
      [['--state', path.join(dir, 'slot.state'), '--listen', '127.0.0.1:0'], 'pgwal serve: error: --auth scram needs --password-file (or name --auth trust)\n'],
      [['--state', path.join(dir, 'slot.state'), '--listen', '/no/such/folder', '--auth', 'trust'], 'pgwal serve: error: invalid --listen "/no/such/folder": neither HOST:PORT nor a folder\n'],
      [['--state', path.join(dir, 'slot.state'), '--listen', '127.0.0.1:70000', '--auth', 'trust'], 'pgwal serve: error: invalid --listen "127.0.0.1:70000": port 70000 is out of range\n'],
      [['--state', path.join(dir, 'slot.state'), '--listen', '127.0.0.1:0', '--auth', 'trust', '--memory-limit', 'lots'], 'pgwal serve: error: invalid value for --memory-limit: "lots": expected a number with a unit B, kB, MB, GB or TB (default kB)\n'],
      [['--state', path.join(dir, 'slot.state'), '--listen', '127.0.0.1:0', '--auth', 'trust', '--dsn', 'host=/tmp', '-p', dir], "pgwal serve: error: --dsn and --path cannot be used together: the WAL comes from the server's stream\n"],
      [['--state', path.join(dir, 'slot.state'), '--listen', '127.0.0.1:0', '--auth', 'trust', '--physical-slot', 'ps'], 'pgwal serve: error: --physical-slot needs --dsn\n'],
      [['--state', path.join(dir, 'slot.state'), '--listen', '127.0.0.1:0', '--auth', 'trust', '--tls-cert', 'x.pem'], 'pgwal serve: error: --tls-cert and --tls-key go together\n'],
      [['--state', path.join(dir, 'slot.state'), '--listen', '127.0.0.1:0', '--auth', 'trust', '--tls-cert', '/nonexistent.pem', '--tls-key', '/nonexistent.key'], 'pgwal serve: error: could not read certificate file "/nonexistent.pem": ENOENT: no such file or directory, open \'/nonexistent.pem\'\n'],
      [['--state', path.join(dir, 'slot.state'), '--listen', '127.0.0.1:0', '--auth', 'trust', '--tls-cert', path.join(dir, 'slot.state'), '--tls-key', path.join(dir, 'slot.state')], expect.stringMatching(/^pgwal serve: error: could not load the TLS key and certificate: .*\n$/) as unknown as string],
    ];
    for (const [argv, want] of cases) {
      const r = io();
      expect(await serveCommand(argv, r)).toBe(1);
      expect(r.stderr()).toEqual(want);
    }
    // --auth trust beyond loopback: a warning (the run stops at once: its signal is already aborted).
    const c = new AbortController();
    c.abort();
    const open = { ...io(), signal: c.signal };
    expect(await serveCommand(['--state', path.join(dir, 'slot.state'), '--listen', '0.0.0.0:0', '--auth', 'trust'], open)).toBe(0);
    expect(open.stderr()).toMatch(/^pgwal serve: warning: --auth trust on 0\.0\.0\.0:0: any client that reaches it may read the slots\npgwal serve: listening on 0\.0\.0\.0:\d+\n$/);
    const loop = { ...io(), signal: c.signal };
    expect(await serveCommand(['--state', path.join(dir, 'slot.state'), '--listen', '127.0.0.1:0', '--auth', 'trust'], loop)).toBe(0);
    expect(loop.stderr()).not.toContain('warning');
    const missing = io();
    expect(await serveCommand(['--state', path.join(dir, 'none.state'), '--listen', '127.0.0.1:0', '--auth', 'trust'], missing)).toBe(1);
    expect(missing.stderr()).toMatch(/^pgwal serve: error: .*none\.state.*\n$/);
  });

  it('--dsn: an error from the upstream server names its SQLSTATE, as decode and receive print it', async () => {
    // A pgwal walsender as the upstream: it serves logical replication only, so the physical stream --dsn asks
    // for finds "no pg_hba.conf entry", FATAL 28000 (ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION, as hba.c).
    const r = io();
    const dsn = `host=127.0.0.1 port=${trustPort} user=postgres sslmode=disable`;
    expect(await serveCommand(['--state', path.join(dir, 'slot.state'), '--listen', '127.0.0.1:0', '--auth', 'trust', '--dsn', dsn], r)).toBe(1);
    expect(r.stderr()).toBe('pgwal serve: error: no pg_hba.conf entry for replication connection from host "pgwal serve", no encryption (SQLSTATE 28000)\n');
  });

  it('on a unix socket: pg_recvlogical streams a shipped slot\'s WAL as pgwal decode prints it; a second client of the slot gets "is active"', async () => {
    const f = listFixtures().find((x) => fs.existsSync(path.join(x.dir, 'slot.state')) && x.meta.scenario !== 'wal2json')!;
    const segs = extractSegments(f);
    const sockDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-sock-'));
    const state = path.join(segs, 'slot.state');
    fs.copyFileSync(path.join(f.dir, 'slot.state'), state);
    const sender = new WalSender({ states: [state], path: [segs], auth: 'trust', pollMs: 100 });
    try {
      await sender.listen({ socketDir: sockDir, port: 6543 });
      expect(fs.existsSync(path.join(sockDir, '.s.PGSQL.6543'))).toBe(true);
      const want = await runCli(['decode', '--state', state, '-p', segs]);
      expect(want.code, want.stderr).toBe(0);
      const name = JSON.parse(fs.readFileSync(state, 'utf8')).state.name as string;
      const d = `host=${sockDir} port=6543 dbname=${JSON.parse(fs.readFileSync(state, 'utf8')).state.database ?? 'postgres'} user=postgres`;
      const first = spawn(path.join(BIN, 'pg_recvlogical'), ['--start', '-S', name, '-f', '-', '--no-loop', '-d', d]);
      let out = '';
      first.stdout.on('data', (b: Buffer) => (out += b.toString()));
      for (let i = 0; i < 200 && out.length < want.stdout.length; i++) await new Promise((r) => setTimeout(r, 50));
      const second = await run('pg_recvlogical', ['--start', '-S', name, '-f', '-', '--no-loop', '-d', d]);
      expect(second.code).toBe(1);
      expect(second.stderr).toMatch(new RegExp(`replication slot "${name}" is active for PID \\d+`));
      first.kill('SIGINT');
      await new Promise((r) => first.once('close', r));
      expect(out).toBe(want.stdout);
      expect(want.stdout.split('\n').length).toBeGreaterThan(3);
    } finally {
      await sender.close();
      fs.rmSync(segs, { recursive: true, force: true });
      fs.rmSync(sockDir, { recursive: true, force: true });
    }
  }, 60_000);

  it('pgwal serve --restore-command: pg_recvlogical streams what a restore_command fetches', async () => {
    const f = listFixtures().find((x) => fs.existsSync(path.join(x.dir, 'slot.state')) && x.meta.scenario !== 'wal2json')!;
    const archive = extractSegments(f);
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-serve-rc-'));
    const state = path.join(work, 'slot.state');
    fs.copyFileSync(path.join(f.dir, 'slot.state'), state);
    const want = await runCli(['decode', '--state', state, '-p', archive]);
    expect(want.code, want.stderr).toBe(0);
    const controller = new AbortController();
    const r = { ...io(), signal: controller.signal, cwd: work };
    const serving = serveCommand(['--state', state, '-p', path.join(work, 'none'), '--restore-command', `cp ${archive}/%f %p`, '--listen', '127.0.0.1:0', '--auth', 'trust'], r);
    try {
      for (let i = 0; i < 100 && !r.stderr().includes('listening on'); i++) await new Promise((x) => setTimeout(x, 50));
      const port = Number(/listening on [^:]+:(\d+)/.exec(r.stderr())![1]);
      const st = JSON.parse(fs.readFileSync(state, 'utf8')).state as { name: string; database?: string };
      const p = spawn(path.join(BIN, 'pg_recvlogical'), ['--start', '-S', st.name, '-f', '-', '--no-loop', '-d', `host=127.0.0.1 port=${port} dbname=${st.database ?? 'postgres'} user=postgres`]);
      let out = '';
      let err = '';
      p.stdout.on('data', (b: Buffer) => (out += b.toString()));
      p.stderr.on('data', (b: Buffer) => (err += b.toString()));
      for (let i = 0; i < 200 && out.length < want.stdout.length; i++) await new Promise((x) => setTimeout(x, 50));
      p.kill('SIGINT');
      await new Promise((x) => p.once('close', x));
      expect(out, err + r.stderr()).toBe(want.stdout);
    } finally {
      controller.abort();
      expect(await serving).toBe(0);
      fs.rmSync(archive, { recursive: true, force: true });
      fs.rmSync(work, { recursive: true, force: true });
    }
  }, 60_000);

  it('TLS with a given key and certificate: psql with sslmode=require is served encrypted', async () => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-serve-tls-'));
    const key = path.join(work, 'key.pem');
    const cert = path.join(work, 'cert.pem');
    const gen = spawn('/usr/bin/openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost']);
    await new Promise((r) => gen.once('close', r));
    const sender = new WalSender({ states: [path.join(dir, 'slot.state')], path: [dir], auth: 'scram', passwords: new Map([['postgres', 'secret']]), tls: { key: fs.readFileSync(key), cert: fs.readFileSync(cert) } });
    const port = Number((await sender.listen({ host: '127.0.0.1', port: 0 })).split(':').at(-1));
    try {
      const r = await run('psql', ['-XAt', '-d', `${conn(port)} sslmode=require`, '-c', 'IDENTIFY_SYSTEM', '-c', '\\conninfo'], { PGPASSWORD: 'secret' });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/SSL connection \(protocol: TLSv1\.[23]/);
      // Bytes sent after SSLRequest before the handshake: refused, as the server refuses them.
      const sslRequest = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);
      const early = await raw(port, [Buffer.concat([sslRequest, Buffer.from(startup({ user: 'postgres' }))])]);
      expect(early.closed).toBe(true);
      expect(early.reply.toString('latin1')).toContain('received unencrypted data after SSL request');
    } finally {
      await sender.close();
      fs.rmSync(work, { recursive: true, force: true });
    }
  }, 60_000);
});
