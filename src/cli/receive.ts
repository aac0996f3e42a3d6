// `pgwal receive`: pg_receivewal's job and flags, over pgwal's own replication client.
import { WalError } from '../errors.js';
import { parseLsn } from '../lsn.js';
import { parseConnectionString, ServerError } from '../protocol/index.js';
import { ReplicationConnection } from '../node/replication.js';
import { receiveWal } from '../node/receivewal.js';
import { getopt } from './getopt.js';
import { errorText } from './error-text.js';
import type { DumpIo } from './dump.js';

export const RECEIVE_HELP = `pgwal receive streams write-ahead log from a running server into a folder, as pg_receivewal does.

Usage:
  pgwal receive [OPTION]...

Options:
  -D, --directory=DIR    receive write-ahead log files into this directory (required)
  -E, --endpos=LSN       exit after receiving the specified LSN
      --if-not-exists    do not error if the slot already exists when creating a slot
  -n, --no-loop          do not loop on connection lost
  -s, --status-interval=SECS
                         time between status packets sent to server (default: 10)
  -S, --slot=SLOTNAME    replication slot to use
      --synchronous      flush write-ahead log immediately after writing
  -v, --verbose          output verbose messages
  -Z, --compress=METHOD[:LEVEL]
                         compress finished segments: none, gzip (level 1-9; a bare 1-9 means gzip)
  -?, --help             show this help, then exit

Connection options:
  -d, --dbname=CONNSTR   connection string: key=value pairs (host=/path/to/socketdir port=5432 …)
                         or a postgresql:// URL; PGHOST, PGPORT, PGUSER, PGPASSWORD apply as in libpq
  -h, --host=HOSTNAME    database server host or socket directory
  -p, --port=PORT        database server port number
  -U, --username=NAME    connect as specified database user

Optional actions:
      --create-slot      create a new physical replication slot (name given by --slot), then exit
      --drop-slot        drop the replication slot (name given by --slot), then exit

The segment being written is DIR/<segment>.partial, padded to the segment size; it is renamed when whole
(to <segment>.gz with -Z gzip). A restart resumes at the newest segment in DIR; a lost connection is
retried with backoff (0.2 s doubling to 5 s) from the first byte not yet written. Authentication: trust,
password, md5, scram-sha-256; TLS when the server offers it (sslmode as in libpq).
`;

function fail(io: DumpIo, message: string): number {
  io.err(`pgwal receive: error: ${message}\n`);
  return 1;
}

/** Adds -h/-p/-U to the connection string the way pg_receivewal's GetConnection layers them. */
function connectionString(dbname: string | undefined, host: string | undefined, port: string | undefined, user: string | undefined): string {
  const quote = (v: string): string => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  const params = dbname === undefined ? {} : parseConnectionString(dbname);
  if (host !== undefined) params.host = host;
  if (port !== undefined) params.port = port;
  if (user !== undefined) params.user = user;
  return Object.entries(params)
    .map(([k, v]) => `${k}=${quote(v)}`)
    .join(' ');
}

export async function receiveCommand(argv: string[], io: DumpIo): Promise<number> {
  let parsed;
  try {
    parsed = getopt(
      argv,
      [
        { short: 'D', long: 'directory', arg: 'required' },
        { short: 'E', long: 'endpos', arg: 'required' },
        { long: 'if-not-exists', arg: 'none' },
        { short: 'n', long: 'no-loop', arg: 'none' },
        { short: 's', long: 'status-interval', arg: 'required' },
        { short: 'S', long: 'slot', arg: 'required' },
        { long: 'synchronous', arg: 'none' },
        { short: 'v', long: 'verbose', arg: 'none' },
        { short: 'Z', long: 'compress', arg: 'required' },
        { short: 'd', long: 'dbname', arg: 'required' },
        { short: 'h', long: 'host', arg: 'required' },
        { short: 'p', long: 'port', arg: 'required' },
        { short: 'U', long: 'username', arg: 'required' },
        { long: 'create-slot', arg: 'none' },
        { long: 'drop-slot', arg: 'none' },
        { short: '?', long: 'help', arg: 'none' },
      ],
      (m) => {
        throw new WalError('invalid-argument', m);
      },
    );
  } catch (e) {
    io.err(`pgwal receive: error: ${(e as Error).message}\npgwal receive: hint: Try "pgwal receive --help" for more information.\n`);
    return 1;
  }
  const opt = (name: string): string | undefined => parsed.options.filter((o) => o.name === name).at(-1)?.value;
  const flag = (name: string): boolean => parsed.options.some((o) => o.name === name);
  if (flag('help')) {
    io.out(RECEIVE_HELP);
    return 0;
  }
  const hint = 'pgwal receive: hint: Try "pgwal receive --help" for more information.\n';
  if (parsed.positional.length > 0) {
    io.err(`pgwal receive: error: too many command-line arguments (first is "${parsed.positional[0]}")\n${hint}`);
    return 1;
  }
  const slot = opt('slot');
  const verbose = flag('verbose');
  const log = (line: string): void => {
    if (verbose) io.err(`pgwal receive: ${line}\n`);
  };
  try {
    const conninfo = connectionString(opt('dbname'), opt('host'), opt('port'), opt('username'));
    if (flag('create-slot') || flag('drop-slot')) {
      if (slot === undefined) {
        io.err(`pgwal receive: error: ${flag('drop-slot') ? '--drop-slot' : '--create-slot'} needs a slot to be specified using --slot\n${hint}`);
        return 1;
      }
      if (flag('create-slot') && flag('drop-slot')) {
        io.err(`pgwal receive: error: cannot use --create-slot together with --drop-slot\n${hint}`);
        return 1;
      }
      const conn = await ReplicationConnection.connect({ connectionString: conninfo, env: io.env, applicationName: 'pgwal receive' });
      try {
        if (flag('drop-slot')) {
          log(`dropping replication slot "${slot}"`);
          await conn.dropSlot(slot);
        } else {
          log(`creating replication slot "${slot}"`);
          try {
            await conn.createPhysicalSlot(slot);
          } catch (e) {
            // 42710 duplicate_object: the slot exists.
            if (!(flag('if-not-exists') && e instanceof ServerError && e.sqlState === '42710')) throw e;
            log(`replication slot "${slot}" already exists`);
          }
        }
      } finally {
        conn.close();
      }
      return 0;
    }
    const directory = opt('directory');
    if (directory === undefined) {
      io.err(`pgwal receive: error: no target directory specified\n${hint}`);
      return 1;
    }
    const endText = opt('endpos');
    const endpos = endText === undefined ? undefined : parseLsn(endText);
    const si = opt('status-interval');
    const statusSeconds = si === undefined ? 10 : Number(si);
    if (!Number.isInteger(statusSeconds) || statusSeconds < 0 || statusSeconds > 2147483) {
      io.err(`pgwal receive: error: -s/--status-interval must be in range 0..2147483\n`);
      return 1;
    }
    let gzipLevel: number | undefined;
    const z = opt('compress');
    if (z !== undefined) {
      const m = /^(?:(none|gzip|lz4|zstd)(?::(?:level=)?(\d+))?|(\d+))$/.exec(z);
      if (m === null) return fail(io, `invalid compression specification: "${z}"`);
      const method = m[3] !== undefined ? (Number(m[3]) === 0 ? 'none' : 'gzip') : m[1]!;
      const level = Number(m[3] ?? m[2] ?? 6);
      if (method === 'lz4' || method === 'zstd') return fail(io, `compression method ${method} is not supported by pgwal receive (gzip is)`);
      if (method === 'gzip') {
        if (level < 1 || level > 9) return fail(io, `compression algorithm "gzip" expects a compression level between 1 and 9 (got ${level})`);
        gzipLevel = level;
      }
    }
    await receiveWal({
      connectionString: conninfo,
      directory,
      slot,
      endpos,
      noLoop: flag('no-loop'),
      statusIntervalMs: statusSeconds * 1000,
      synchronous: flag('synchronous'),
      gzipLevel,
      env: io.env,
      log,
      signal: io.signal,
      sleep: io.sleep,
    });
    return 0;
  } catch (e) {
    if (e instanceof WalError) {
      return fail(io, errorText(e));
    }
    throw e;
  }
}
