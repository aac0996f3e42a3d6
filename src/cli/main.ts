// The `pgwal` command line: one subcommand per job.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import type { DumpIo } from './dump.js';
// Each subcommand is loaded when asked for: `pgwal dump` starts without the decoder, the catalog or `pg`.

const require = createRequire(import.meta.url);
const VERSION = (require('../../package.json') as { version: string }).version;

const HELP = `pgwal ${VERSION} — read PostgreSQL WAL files (15, 16, 17, 18) and decode them outside the server

Usage:
  pgwal dump [OPTION]... [STARTSEG [ENDSEG]]   records as pg_waldump prints them (or --json)
  pgwal timeline [--path DIR] [--restore-command CMD] [--json]
                                               the timeline history the WAL sources hold
  pgwal slot create --dsn URL --slot NAME --state FILE
                                               a logical slot on a live server, its catalog in a state file
  pgwal slot create --datadir DIR --dbname NAME --slot NAME --state FILE
                                               the same from a stopped server's data directory, no server
  pgwal slot show|advance|drop|export|import   inspect, move, remove, hand over a slot (pgwal slot --help)
  pgwal slot orphans --state FILE [--path DIR] after a failover: the changes of the transactions the slot
                                               consumed on the old timeline (pgwal slot orphans --help)
  pgwal decode --state FILE [--path DIR]       test_decoding's or wal2json's output, from WAL files alone
  pgwal receive -D DIR -d CONNSTR [-S SLOT]    stream WAL from a server into segment files, as
                                               pg_receivewal does (pgwal receive --help)
  pgwal serve --state FILE -p DIR --listen ADDR  a walsender for pg_recvlogical and subscribers (pgwal serve --help)
  pgwal --version                              print the version
  pgwal --help                                 print this help

pgwal dump --help, pgwal timeline --help and pgwal decode --help list their options.
`;

const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * The reader of stdout went away (EPIPE: `| head -1`). Thrown out of every write from then on, so a command stops
 * at once, confirming nothing it could not deliver; main exits quietly with 141, the status a shell shows for
 * pg_waldump killed by SIGPIPE (Node ignores SIGPIPE, so the write fails instead).
 */
class OutputClosed extends Error {}
const EXIT_OUTPUT_CLOSED = 128 + 13;
let outputClosed = false;

function closed(e: unknown): never {
  if ((e as NodeJS.ErrnoException).code === 'EPIPE') {
    outputClosed = true;
    throw new OutputClosed('stdout closed');
  }
  throw e;
}

/** Writes all of `text` to `fd`, waiting while a non-blocking pipe is full (EAGAIN) rather than queueing it. */
function writeAllSync(fd: number, text: string): void {
  if (outputClosed) throw new OutputClosed('stdout closed');
  // The string as it is first (no Buffer to collect); the rest, after a short write, from its bytes.
  let off = 0;
  try {
    off = fs.writeSync(fd, text);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') closed(e);
  }
  if (off >= text.length && off === Buffer.byteLength(text)) return;
  writeRestSync(fd, Buffer.from(text), off, Infinity);
}

/** Writes `buf[0, length)` to `fd` as writeAllSync does. */
function writeBytesSync(fd: number, buf: Uint8Array, length: number): void {
  if (outputClosed) throw new OutputClosed('stdout closed');
  writeRestSync(fd, buf, 0, length);
}

function writeRestSync(fd: number, buf: Uint8Array, off: number, length: number): void {
  const end = Math.min(length, buf.length);
  while (off < end) {
    try {
      off += fs.writeSync(fd, buf, off, end - off);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') closed(e);
      // A pipe made non-blocking (by process.stdout, or by whoever shares it): a short sleep, as a 1 ms one
      // capped the output at a pipe buffer (64 KiB) per millisecond.
      Atomics.wait(pause, 0, 0, 0.05);
    }
  }
}

/** A subcommand's entry, its modules loaded and evaluated (bench/startup-work.mjs times the two apart). */
export async function commandModule(command: 'dump' | 'timeline' | 'decode' | 'slot' | 'receive' | 'serve'): Promise<{ run(argv: string[], io: DumpIo): Promise<number> }> {
  switch (command) {
    case 'decode':
      return { run: (await import('./decode.js')).decodeCommand };
    case 'slot':
      return { run: (await import('./slot.js')).slotCommand };
    case 'receive':
      return { run: (await import('./receive.js')).receiveCommand };
    case 'serve':
      return { run: (await import('./serve.js')).serveCommand };
    case 'dump':
      return { run: (await import('./dump.js')).dump };
    case 'timeline':
      return { run: (await import('./timeline.js')).timeline };
  }
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === '--version' || command === '-V') {
    process.stdout.write(`pgwal ${VERSION}\n`);
    return 0;
  }
  if (command === '--help' || command === '-?' || command === 'help') {
    process.stdout.write(
      command === 'help' && rest[0] === 'dump'
        ? (await import('./dump.js')).DUMP_HELP
        : command === 'help' && rest[0] === 'timeline'
          ? (await import('./timeline.js')).TIMELINE_HELP
          : HELP,
    );
    return 0;
  }
  if (command === 'dump' || command === 'timeline' || command === 'decode' || command === 'slot' || command === 'receive' || command === 'serve') {
    const controller = new AbortController();
    process.once('SIGINT', () => controller.abort());
    // process.stdout is made only for an asynchronous write: making it puts a pipe on fd 1 into non-blocking
    // mode, and the synchronous writes would then wait out a full pipe in sleeps instead of in write(2).
    let stdout: NodeJS.WriteStream | undefined;
    const asyncStdout = (): NodeJS.WriteStream => {
      if (stdout !== undefined) return stdout;
      stdout = process.stdout;
      // An EPIPE of an asynchronous write comes as an event: it ends the run at the next write (or abort check).
      stdout.on('error', (e: NodeJS.ErrnoException) => {
        if (e.code !== 'EPIPE') throw e;
        outputClosed = true;
        controller.abort();
      });
      return stdout;
    };
    const io: DumpIo = {
      out: (t) => {
        if (outputClosed) throw new OutputClosed('stdout closed');
        asyncStdout().write(t);
      },
      err: (t) => process.stderr.write(t),
      errIsTty: process.stderr.isTTY === true,
      env: process.env,
      cwd: process.cwd(),
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
      signal: controller.signal,
      outSync: (t) => writeAllSync(1, t),
      outBytesSync: (b, n) => writeBytesSync(1, b, n),
    };
    return (await commandModule(command)).run(rest, io);
  }
  process.stderr.write(command === undefined ? HELP : `pgwal: unknown command "${command}"\n\n${HELP}`);
  return 1;
}

/** Runs the CLI as the program: `argv` without node and the script; the exit code is set when it ends. */
export function run(argv: string[]): Promise<void> {
  return main(argv).then(
    (code) => {
      process.exitCode = outputClosed ? EXIT_OUTPUT_CLOSED : code;
    },
    (e: unknown) => {
      if (e instanceof OutputClosed || outputClosed) {
        process.exitCode = EXIT_OUTPUT_CLOSED;
        return;
      }
      process.stderr.write(`pgwal: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = 70;
    },
  );
}
