// `pgwal decode --dsn` against a scripted walsender serving a fixture's real segment (the WAL a server wrote):
// a connection cut in the middle of a record resumes with nothing lost or twice; a server that stalls runs
// into --wal-receiver-timeout (said on stderr) and the stream goes on; a hostile server's oversized or
// malformed message, or another system, ends the run with one typed line and exit 1.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { decodeCommand } from '../src/cli/decode.js';
import type { DumpIo } from '../src/cli/dump.js';
import { formatLsn, parseLsn, type Lsn } from '../src/lsn.js';
import {
  FrontendParser,
  parseWalReceiverMessage,
  serializeBackendMessage,
  serializeReplicationMessage,
  xlogDataMessage,
  type BackendMessage,
  type WalReceiverMessage,
} from '../src/protocol/index.js';
import { listFixtures, readFixtureFile, readSegment, readTsv } from './support/fixtures.js';

const fx = listFixtures().find((f) => f.id === 'pg15/types-dml')!;
const SEGMENT = fx.meta.segments[0]!;
const SEG_START = parseLsn(fx.meta.startLsn);
const WAL = readSegment(fx, SEGMENT);
/** Where the fixture's WAL ends, as pg_waldump 15 said over its files. */
const END = /invalid record length at (\S+):/.exec(readFixtureFile(fx, 'waldump-end.txt').toString())![1]!;
const RECORDS = readTsv(fx, 'records.tsv').map((r) => ({ start: parseLsn(r.start_lsn!), end: parseLsn(r.end_lsn!) }));
const OPTS = ['-o', 'include-xids=1', '--with-lsn'];

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
function folder(withWal: boolean): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-dsnfault-'));
  dirs.push(d);
  fs.copyFileSync(path.join(fx.dir, 'slot.state'), path.join(d, 'slot.state'));
  if (withWal) fs.writeFileSync(path.join(d, SEGMENT), WAL);
  return d;
}

function io(): DumpIo & { stdout: () => string; stderr: () => string } {
  let out = '';
  let err = '';
  return { out: (t) => (out += t), err: (t) => (err += t), errIsTty: false, env: {}, cwd: process.cwd(), sleep: async () => undefined, stdout: () => out, stderr: () => err };
}

/** What a connection does after START_REPLICATION: send the segment's bytes from the start asked for up to `upTo`, then `then`. */
interface Plan {
  upTo?: Lsn;
  then?: 'cut' | 'stall' | 'hold' | 'oversized' | 'malformed' | 'misplaced';
}

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const col = (name: string) => ({ name, tableOid: 0, columnAttr: 0, typeOid: 25, typeSize: -1, typeModifier: -1, format: 0 });
const READY: BackendMessage = { type: 'ReadyForQuery', status: 'I' };
/** Odd-sized XLogData messages: cuts and records never line up with them. */
const CHUNK = 997;

interface Fake {
  dsn: string;
  starts: Lsn[];
  /** Standby status updates that asked for a reply, per connection. */
  pings: number;
  /** After 'hold': sends the rest of the segment. */
  sendRest(): void;
  close(): void;
}

/** A walsender over a unix socket: trust auth, IDENTIFY_SYSTEM, SHOW, START_REPLICATION from the fixture's segment. */
async function fakeWalSender(plans: Plan[], systemId = fx.meta.systemIdentifier): Promise<Fake> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-fakews-'));
  const socks = new Set<net.Socket>();
  const fake: Fake = { dsn: `host=${dir} port=5432 user=u`, starts: [], pings: 0, sendRest: () => {}, close: () => {} };
  const server = net.createServer((sock) => {
    socks.add(sock);
    const parser = new FrontendParser();
    const send = (m: BackendMessage | Uint8Array): boolean => sock.write(m instanceof Uint8Array ? m : serializeBackendMessage(m));
    let stalled = false;
    sock.on('data', (chunk) => {
      parser.push(chunk);
      for (let m = parser.next(); m !== undefined; m = parser.next()) {
        if (stalled && m.type !== 'CopyData') continue;
        if (m.type === 'StartupMessage') {
          for (const x of [{ type: 'AuthenticationOk' }, { type: 'ParameterStatus', name: 'server_version', value: '15.18' }, { type: 'ParameterStatus', name: 'in_hot_standby', value: 'off' }, READY] as BackendMessage[]) send(x);
        } else if (m.type === 'Query') {
          const row = (names: string[], values: string[]): void => {
            send({ type: 'RowDescription', fields: names.map(col) });
            send({ type: 'DataRow', values: values.map(enc) });
            send({ type: 'CommandComplete', tag: 'SELECT' });
            send(READY);
          };
          if (m.sql === 'IDENTIFY_SYSTEM') {
            send({ type: 'RowDescription', fields: ['systemid', 'timeline', 'xlogpos', 'dbname'].map(col) });
            send({ type: 'DataRow', values: [enc(systemId), enc('1'), enc(END), null] });
            send({ type: 'CommandComplete', tag: 'IDENTIFY_SYSTEM' });
            send(READY);
          } else if (m.sql === 'SHOW wal_segment_size') row(['wal_segment_size'], ['1MB']);
          else if (m.sql === 'SHOW wal_level') row(['wal_level'], ['logical']);
          else {
            const start = /^START_REPLICATION PHYSICAL (\S+) TIMELINE 1$/.exec(m.sql);
            if (start === null) throw new Error(`unexpected ${m.sql}`);
            const from = parseLsn(start[1]!);
            // Plans are per START_REPLICATION (the first connection only identifies the server).
            const plan = plans[fake.starts.length] ?? {};
            fake.starts.push(from);
            send({ type: 'CopyBothResponse', format: 0, columnFormats: [] });
            const upTo = Math.min(plan.upTo ?? SEG_START + WAL.length, SEG_START + WAL.length);
            const sendWal = (a: Lsn, b: Lsn): void => {
              for (let p = a; p < b; p += CHUNK) send(xlogDataMessage(p, b, 0, WAL.subarray(p - SEG_START, p - SEG_START + Math.min(CHUNK, b - p))));
            };
            sendWal(from, upTo);
            if (plan.then === 'hold') fake.sendRest = () => sendWal(upTo, SEG_START + WAL.length);
            else if (plan.then === 'cut') sock.end();
            else if (plan.then === 'stall') stalled = true;
            else if (plan.then === 'oversized') send(Uint8Array.of(0x64, 0x7f, 0xff, 0xff, 0xf0));
            else if (plan.then === 'malformed') send({ type: 'CopyData', data: Uint8Array.of(0x78, 1, 2, 3) });
            else if (plan.then === 'misplaced') send(xlogDataMessage(upTo + 8192, upTo + 8192, 0, new Uint8Array(64)));
          }
        } else if (m.type === 'CopyData') {
          const r: WalReceiverMessage = parseWalReceiverMessage(m.data);
          if (r.type === 'StandbyStatusUpdate' && r.replyRequested) {
            fake.pings++;
            if (!stalled) send({ type: 'CopyData', data: serializeReplicationMessage({ type: 'PrimaryKeepalive', walEnd: SEG_START + WAL.length, sendTime: 0, replyRequested: false }) });
          }
        } else if (m.type === 'CopyDone') {
          send({ type: 'CopyDone' });
          send({ type: 'CommandComplete', tag: 'START_STREAMING' });
          send(READY);
        } else if (m.type === 'Terminate') sock.end();
      }
    });
    sock.on('error', () => {});
    sock.on('close', () => socks.delete(sock));
  });
  await new Promise<void>((r) => server.listen(path.join(dir, '.s.PGSQL.5432'), r));
  fake.close = () => {
    for (const s of socks) s.destroy();
    server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  return fake;
}

const fakes: Fake[] = [];
afterEach(() => fakes.splice(0).forEach((f) => f.close()));
async function serve(plans: Plan[], systemId?: string): Promise<Fake> {
  const f = await fakeWalSender(plans, systemId);
  fakes.push(f);
  return f;
}

/** decode -p over the same segment: what the stream must print. */
async function fromFiles(): Promise<string> {
  const d = folder(true);
  const out = io();
  expect(await decodeCommand(['--state', path.join(d, 'slot.state'), '-p', d, ...OPTS, '--end', END], out), out.stderr()).toBe(0);
  return out.stdout();
}

describe('decode --dsn against a scripted walsender', () => {
  it('connections cut in the middle of records: resumed at the first byte not read, output as from files', async () => {
    const want = await fromFiles();
    expect(want.split('\n').length).toBeGreaterThan(30);
    // Cuts at odd places, each inside a record (not at its start), before the end.
    const cuts = [0x7001f3, 0x700a11, 0x701234, 0x701f01].map((c) => SEG_START - 0x700000 + c);
    for (const c of cuts) expect(RECORDS.some((r) => r.start < c && c < r.end), formatLsn(c)).toBe(true);
    const fake = await serve([...cuts.map((c) => ({ upTo: c, then: 'cut' as const })), {}]);
    const got = io();
    expect(await decodeCommand(['--state', path.join(folder(false), 'slot.state'), '--dsn', fake.dsn, ...OPTS, '--endpos', END], got), got.stderr()).toBe(0);
    expect(got.stdout()).toBe(want);
    // The first connection from the segment's start, every later one exactly where the cut was.
    expect(fake.starts).toEqual([SEG_START, ...cuts]);
    expect(got.stderr().match(/server closed the connection unexpectedly; connecting again in \d+ ms at /g)).toHaveLength(cuts.length);
  });

  it('a server that stalls (no WAL, no keepalive) runs into --wal-receiver-timeout, said on stderr; the next connection goes on', async () => {
    const want = await fromFiles();
    const fake = await serve([{ upTo: SEG_START + 0x1200, then: 'stall' }, {}]);
    const got = io();
    const t0 = Date.now();
    expect(await decodeCommand(['--state', path.join(folder(false), 'slot.state'), '--dsn', fake.dsn, ...OPTS, '--endpos', END, '--wal-receiver-timeout', '1'], got), got.stderr()).toBe(0);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
    expect(got.stdout()).toBe(want);
    expect(got.stderr()).toMatch(
      /^pgwal decode: terminating the connection due to timeout: no message from the server for 1 s \(wal_receiver_timeout\); connecting again in \d+ ms at 0\/701200\n/,
    );
    expect(fake.starts).toEqual([SEG_START, SEG_START + 0x1200]);
    // At half the timeout the client asked the silent server for a reply (walreceiver's ping).
    expect(fake.pings).toBeGreaterThanOrEqual(1);
  });

  it('a quiet server that answers the ping is not timed out', async () => {
    const want = await fromFiles();
    // Part of the WAL, then nothing but the keepalive answering each ping, for three timeouts; then the rest.
    const fake = await serve([{ upTo: SEG_START + 0x1200, then: 'hold' }]);
    const got = io();
    const running = decodeCommand(['--state', path.join(folder(false), 'slot.state'), '--dsn', fake.dsn, ...OPTS, '--endpos', END, '--wal-receiver-timeout', '1'], got);
    await new Promise((r) => setTimeout(r, 2600));
    fake.sendRest();
    expect(await running, got.stderr()).toBe(0);
    expect(got.stdout()).toBe(want);
    expect(got.stderr()).toBe('');
    expect(fake.starts).toEqual([SEG_START]);
    expect(fake.pings).toBeGreaterThanOrEqual(2);
  });

  it.each([
    ['oversized', /^pgwal decode: error: message type "d" from the server is \d+ bytes long, more than the limit of \d+\n$/],
    ['malformed', /^pgwal decode: error: .*\n$/],
    ['misplaced', /^pgwal decode: error: got WAL data at 0\/703200 on timeline 1, expected 0\/701200\n$/],
  ] as const)('a hostile server: a %s message is one line and exit 1', async (then, line) => {
    const fake = await serve([{ upTo: SEG_START + 0x1200, then }]);
    const got = io();
    expect(await decodeCommand(['--state', path.join(folder(false), 'slot.state'), '--dsn', fake.dsn, ...OPTS, '--endpos', END], got)).toBe(1);
    expect(got.stderr()).toMatch(line);
    // Not retried: the one connection.
    expect(fake.starts).toEqual([SEG_START]);
  });

  it('a server of another system: both identifiers named', async () => {
    const fake = await serve([{}], '7000000000000000001');
    const d = folder(false);
    const got = io();
    expect(await decodeCommand(['--state', path.join(d, 'slot.state'), '--dsn', fake.dsn, ...OPTS, '--endpos', END], got)).toBe(1);
    expect(got.stderr()).toBe(`pgwal decode: error: the server of --dsn has system identifier 7000000000000000001, the slot state "${path.join(d, 'slot.state')}" ${fx.meta.systemIdentifier}\n`);
    expect(fake.starts).toEqual([]);
  });

  it('--wal-receiver-timeout and --status-interval: seconds, with --dsn only', async () => {
    const a = io();
    expect(await decodeCommand(['--state', '/nonexistent/x.state', '--wal-receiver-timeout', '5', '-p', '/tmp'], a)).toBe(1);
    expect(a.stderr()).toBe('pgwal decode: error: --wal-receiver-timeout needs --dsn\n');
    const b = io();
    expect(await decodeCommand(['--state', '/nonexistent/x.state', '--dsn', 'host=/tmp', '--status-interval', 'x'], b)).toBe(1);
    expect(b.stderr()).toBe('pgwal decode: error: --status-interval must be a number of seconds in range 0..2147483, not "x"\n');
  });
});
