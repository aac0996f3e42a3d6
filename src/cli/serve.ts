// `pgwal serve`: a walsender that PostgreSQL's replication clients connect to (src/node/walsender.ts).
import fs from 'node:fs';
import path from 'node:path';
import { WalError } from '../errors.js';
import { WalSender, type WalSenderOptions } from '../node/walsender.js';
import { getopt } from './getopt.js';
import { errorText } from './error-text.js';
import { openWalSources, parseSize } from './decode-options.js';
import type { DumpIo } from './dump.js';
import { StreamWal } from '../node/stream-wal.js';
import { ReplicationConnection } from '../node/replication.js';
import { readSlotStateFile } from '../node/slot.js';
import { formatLsn, type Lsn } from '../lsn.js';

/**
 * --dsn: each client's records come from the server's physical replication stream (as decode --dsn reads
 * them), followed as WAL arrives; the flush position reported is the client's slot's restart_lsn.
 */
export async function streamSourceOptions(dsn: string, physicalSlot: string | undefined, states: string[], io: DumpIo): Promise<Pick<WalSenderOptions, 'records' | 'identify'>> {
  const wal = await StreamWal.open({
    connectionString: dsn,
    env: io.env,
    ...(physicalSlot !== undefined ? { physicalSlot } : {}),
    onReconnect: ({ error, delayMs, resumeAt }) => io.err(`pgwal serve: ${errorText(error)}; connecting again in ${delayMs} ms at ${formatLsn(resumeAt)}\n`),
  });
  for (const f of states) {
    const st = readSlotStateFile(f);
    if (st.systemIdentifier !== wal.systemIdentifier) throw new WalError('invalid-argument', `the server of --dsn has system identifier ${wal.systemIdentifier}, the slot state "${f}" ${st.systemIdentifier}`);
  }
  return {
    records: async (from) => {
      // Followed: the stream is read as the server sends it (a reader waits at the end of what has arrived), and
      // across a timeline switch (the server promoted, or a host list's failover) as decode --dsn -f reads on.
      const recs = wal.records({
        start: from.start,
        follow: true,
        startTimeline: from.timeline,
        expect: from.expect,
        signal: from.signal,
        flushLsn: from.flushLsn,
        catalogXmin: from.catalogXmin,
        onTimelineSwitch: ({ timeline, nextTimeline, switchLsn }) => io.err(`pgwal serve: timeline ${timeline} ended at ${formatLsn(switchLsn)}; following timeline ${nextTimeline}\n`),
      });
      // A client gone: the stream ends (CopyDone to the server), which also ends a read waiting for WAL.
      const stop = (): void => void recs.close();
      from.signal.addEventListener('abort', stop, { once: true });
      return (async function* () {
        try {
          yield* recs;
        } finally {
          from.signal.removeEventListener('abort', stop);
          await recs.close();
        }
      })();
    },
    // The server's own IDENTIFY_SYSTEM: its timeline and flush position are the end of the WAL pgwal can read.
    identify: async (): Promise<{ timeline: number; xlogpos: Lsn }> => {
      const conn = await ReplicationConnection.connect({ connectionString: dsn, env: io.env, applicationName: 'pgwal serve' });
      try {
        const id = await conn.identifySystem();
        return { timeline: id.timeline, xlogpos: id.xlogpos };
      } finally {
        conn.close();
      }
    },
  };
}

export const SERVE_HELP = `pgwal serve answers logical replication connections (replication=database) as a walsender does:
pg_recvlogical and PostgreSQL subscribers connect to it and receive what each pgwal slot's output plugin
(test_decoding, wal2json, pgoutput) writes, decoded from WAL files or the server's replication stream; both
are followed as they grow and across timeline switches (a promotion of the server writing or sending them).
A client's standby status updates confirm the slot (its state file, rewritten crash-safely): a restart
resumes after the last commit the client confirmed.

Usage:
  pgwal serve --state FILE... (-p DIR... | --restore-command CMD | --dsn CONNSTR [--physical-slot NAME])
              --listen ADDR [--port PORT] [--auth trust|scram]
              [--password-file FILE] [--tls-cert FILE --tls-key FILE]

Options:
  --state FILE        a state file written by pgwal slot create; repeatable (one slot each, by its name)
  -p, --path DIR      folders holding the WAL (default: ./pg_wal); repeatable
  --restore-command CMD  fetch segments with a restore_command (%f, %p, %r, %%) before looking in the --path
                      folders; asked again every second at the end of WAL
  --wal-segsize MB    wal_segment_size, for --restore-command (default: read from the restart_lsn's segment)
  --restore-timeout SECONDS  stop a restore_command that runs longer, as an error
  --dsn CONNSTR       read each client's WAL from the server's physical replication stream (key=value or
                      postgresql://), following new WAL as it arrives and a timeline switch in the stream
                      (a promoted standby) as a standby follows it; the flush position reported is the
                      client's slot's restart_lsn; lost connections are retried
  --physical-slot NAME  stream through this physical slot of the server (it must exist; one client at a
                      time then): it holds the WAL and, by hot standby feedback, the slot's catalog_xmin
  --listen ADDR       HOST:PORT for TCP (e.g. 127.0.0.1:5433), or a folder for a unix socket named as
                      PostgreSQL's, .s.PGSQL.PORT (with --port, default 5432)
  --port PORT         the port of a unix socket folder
  --auth METHOD       scram (default): SCRAM-SHA-256 against --password-file; trust: any role, no password
  --password-file FILE  lines ROLE:PASSWORD, or ROLE:SCRAM-SHA-256$... as pg_authid.rolpassword holds it
  --memory-limit SIZE logical_decoding_work_mem of each client (default 64MB): above it transactions are streamed
                      to a client that asked for streaming, else spilled to disk; 0 streams every change
  --tls-cert FILE, --tls-key FILE  answer SSLRequest with TLS, with this PEM certificate and key
  --log-commands      print each command a client sends on stderr

Served: IDENTIFY_SYSTEM, TIMELINE_HISTORY, START_REPLICATION SLOT s LOGICAL lsn (options), SHOW, the
set_config of the search_path that clients send, and a subscriber's queries of its publications (answered
from the catalog recorded at the slot's creation). Anything else (SQL, CREATE_REPLICATION_SLOT, BASE_BACKUP, physical
replication) gets an error with its SQLSTATE. Without --tls-cert an SSLRequest is answered "N".
`;

export async function serveCommand(argv: string[], io: DumpIo): Promise<number> {
  let sender: WalSender | undefined;
  try {
    const p = getopt(
      argv,
      [
        { long: 'state', arg: 'required' },
        { short: 'p', long: 'path', arg: 'required' },
        { long: 'listen', arg: 'required' },
        { long: 'port', arg: 'required' },
        { long: 'auth', arg: 'required' },
        { long: 'password-file', arg: 'required' },
        { long: 'log-commands', arg: 'none' },
        { long: 'memory-limit', arg: 'required' },
        { long: 'tls-cert', arg: 'required' },
        { long: 'tls-key', arg: 'required' },
        { long: 'restore-command', arg: 'required' },
        { long: 'wal-segsize', arg: 'required' },
        { long: 'restore-timeout', arg: 'required' },
        { long: 'dsn', arg: 'required' },
        { long: 'physical-slot', arg: 'required' },
        { long: 'help', arg: 'none' },
      ],
      (m) => {
        throw new WalError('invalid-argument', m);
      },
    );
    if (p.options.some((o) => o.name === 'help')) {
      io.out(SERVE_HELP);
      return 0;
    }
    if (p.positional.length > 0) throw new WalError('invalid-argument', `too many command-line arguments (first is "${p.positional[0]}")`);
    const all = (n: string): string[] => p.options.filter((o) => o.name === n).map((o) => o.value!);
    const one = (n: string): string | undefined => p.options.find((o) => o.name === n)?.value;
    const states = all('state').map((f) => path.resolve(io.cwd, f));
    if (states.length === 0) throw new WalError('invalid-argument', '--state is required');
    const listen = one('listen');
    if (listen === undefined) throw new WalError('invalid-argument', '--listen is required');
    const dirs = all('path').map((d) => path.resolve(io.cwd, d));
    if (dirs.length === 0 && one('dsn') === undefined) dirs.push(path.resolve(io.cwd, 'pg_wal'));
    const auth = one('auth') ?? 'scram';
    if (auth !== 'trust' && auth !== 'scram') throw new WalError('invalid-argument', `invalid --auth "${auth}": expected trust or scram`);
    const passwords = new Map<string, string>();
    const pwFile = one('password-file');
    if (auth === 'scram') {
      if (pwFile === undefined) throw new WalError('invalid-argument', '--auth scram needs --password-file (or name --auth trust)');
      let text: string;
      try {
        text = fs.readFileSync(path.resolve(io.cwd, pwFile), 'utf8');
      } catch (e) {
        throw new WalError('invalid-argument', `could not read password file "${pwFile}": ${(e as Error).message}`);
      }
      for (const [i, line] of text.split('\n').entries()) {
        if (line.trim() === '' || line.startsWith('#')) continue;
        const c = line.indexOf(':');
        if (c <= 0) throw new WalError('invalid-argument', `password file "${pwFile}" line ${i + 1}: expected ROLE:PASSWORD`);
        passwords.set(line.slice(0, c), line.slice(c + 1));
      }
    }
    const portText = one('port');
    const port = portText === undefined ? 5432 : Number(portText);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new WalError('invalid-argument', `invalid --port "${portText}"`);
    const tcp = /^(.*):(\d+)$/.exec(listen);
    let address: { host: string; port: number } | { socketDir: string; port: number };
    if (tcp !== null && !fs.existsSync(listen)) {
      const tcpPort = Number(tcp[2]);
      if (tcpPort > 65535) throw new WalError('invalid-argument', `invalid --listen "${listen}": port ${tcpPort} is out of range`);
      address = { host: tcp[1]!.replace(/^\[(.*)\]$/, '$1'), port: tcpPort };
    } else {
      const dir = path.resolve(io.cwd, listen);
      if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new WalError('invalid-argument', `invalid --listen "${listen}": neither HOST:PORT nor a folder`);
      address = { socketDir: dir, port };
    }
    if (auth === 'trust' && 'host' in address && !['127.0.0.1', 'localhost', '::1'].includes(address.host)) {
      io.err(`pgwal serve: warning: --auth trust on ${listen}: any client that reaches it may read the slots\n`);
    }
    const restoreCommand = one('restore-command');
    // With a restore_command the archive is read first and the folders after it, as decode does; followed.
    const records =
      restoreCommand === undefined
        ? undefined
        : async (from: Parameters<NonNullable<WalSenderOptions['records']>>[0]) => {
            const src = await openWalSources(p.options, io, false, from.start);
            const archive = src.archive!;
            const stream = archive.records({ start: from.start, follow: { pollMs: 1000 }, signal: from.signal, expect: from.expect });
            return (async function* () {
              try {
                yield* stream;
              } finally {
                archive.close();
              }
            })();
          };
    const dsn = one('dsn');
    const physicalSlot = one('physical-slot');
    if (dsn !== undefined) {
      const clash = ['path', 'restore-command', 'wal-segsize', 'restore-timeout'].find((n) => p.options.some((o) => o.name === n));
      if (clash !== undefined) throw new WalError('invalid-argument', `--dsn and --${clash} cannot be used together: the WAL comes from the server's stream`);
    } else if (physicalSlot !== undefined) throw new WalError('invalid-argument', '--physical-slot needs --dsn');
    const stream = dsn === undefined ? undefined : await streamSourceOptions(dsn, physicalSlot, states, io);
    const certFile = one('tls-cert');
    const keyFile = one('tls-key');
    if ((certFile === undefined) !== (keyFile === undefined)) throw new WalError('invalid-argument', '--tls-cert and --tls-key go together');
    const read = (f: string, what: string): Buffer => {
      try {
        return fs.readFileSync(path.resolve(io.cwd, f));
      } catch (e) {
        throw new WalError('invalid-argument', `could not read ${what} "${f}": ${(e as Error).message}`);
      }
    };
    const tlsFiles = certFile === undefined ? undefined : { cert: read(certFile, 'certificate file'), key: read(keyFile!, 'private key file') };
    try {
      const limit = one('memory-limit');
      sender = new WalSender({ states, path: dirs, auth, passwords, ...(limit !== undefined ? { memoryLimit: parseSize(limit) } : {}), ...(stream !== undefined ? stream : records !== undefined ? { records } : {}), ...(tlsFiles !== undefined ? { tls: tlsFiles } : {}) });
    } catch (e) {
      if (e instanceof WalError) throw e;
      throw new WalError('invalid-argument', `could not load the TLS key and certificate: ${(e as Error).message}`);
    }
    if (p.options.some((o) => o.name === 'log-commands')) sender.on('command', (c: { processId: number; sql: string }) => io.err(`pgwal serve: [${c.processId}] ${c.sql}\n`));
    let where: string;
    try {
      where = await sender.listen(address);
    } catch (e) {
      throw new WalError('invalid-argument', `could not listen on ${listen}: ${(e as Error).message}`);
    }
    io.err(`pgwal serve: listening on ${where}\n`);
    let onTerm: (() => void) | undefined;
    await new Promise<void>((resolve) => {
      onTerm = resolve;
      if (io.signal?.aborted) resolve();
      io.signal?.addEventListener('abort', () => resolve(), { once: true });
      process.once('SIGTERM', onTerm);
    });
    process.off('SIGTERM', onTerm!);
    await sender.close();
    return 0;
  } catch (e) {
    await sender?.close().catch(() => undefined);
    if (e instanceof WalError) {
      io.err(`pgwal serve: error: ${errorText(e)}\n`);
      return 1;
    }
    throw e;
  }
}
