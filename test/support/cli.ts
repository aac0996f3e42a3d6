// Runs `pgwal dump` in-process with captured output, and extracts fixture segments into a folder.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { dump } from '../../src/cli/dump.js';
import { decodeCommand } from '../../src/cli/decode.js';
import { slotCommand } from '../../src/cli/slot.js';
import { readSegment, type Fixture } from './fixtures.js';

export interface Run {
  code: number;
  out: string;
  err: string;
}

export async function runDump(argv: string[], cwd = process.cwd()): Promise<Run> {
  let out = '';
  let err = '';
  const code = await dump(argv, {
    out: (t) => (out += t),
    err: (t) => (err += t),
    errIsTty: false,
    env: {},
    cwd,
    sleep: async () => undefined,
  });
  return { code, out, err };
}

/** The fixture's segments, uncompressed, in a fresh temp folder (removed by the caller). */
export function extractSegments(f: Fixture): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-segs-'));
  for (const name of f.meta.segments) fs.writeFileSync(path.join(dir, name), readSegment(f, name));
  return dir;
}

/** Runs `pgwal slot …` or `pgwal decode …` in-process with captured output. */
export async function runCli(argv: string[], cwd = process.cwd()): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io = { out: (t: string) => void (stdout += t), err: (t: string) => void (stderr += t), errIsTty: false, env: {}, cwd, sleep: async () => undefined };
  const [cmd, ...rest] = argv;
  const code = cmd === 'slot' ? await slotCommand(rest, io) : cmd === 'decode' ? await decodeCommand(rest, io) : await dump(rest, io);
  return { code, stdout, stderr };
}

/** A libpq connection string for a harness server (unix socket). */
export function dsnOf(server: { socketDir: string; port: number }): string {
  return `postgresql://postgres@localhost/postgres?host=${encodeURIComponent(server.socketDir)}&port=${server.port}`;
}

/** `pgwal decode …` in-process with synchronous byte output (as in a terminal or a pipe): its bytes and how many byte writes. */
export async function runDecodeBytes(argv: string[]): Promise<{ code: number; stdout: Buffer; stderr: string; byteWrites: number }> {
  const chunks: Buffer[] = [];
  let stderr = '';
  let byteWrites = 0;
  const code = await decodeCommand(argv[0] === 'decode' ? argv.slice(1) : argv, {
    out: (t) => void chunks.push(Buffer.from(t)),
    outSync: (t) => void chunks.push(Buffer.from(t)),
    outBytesSync: (b, n) => {
      byteWrites++;
      chunks.push(Buffer.from(b.subarray(0, n)));
    },
    err: (t) => void (stderr += t),
    errIsTty: false,
    env: {},
    cwd: process.cwd(),
    sleep: async () => undefined,
  });
  return { code, stdout: Buffer.concat(chunks), stderr, byteWrites };
}
