// Runs `pgwal dump` in-process with captured output, and extracts fixture segments into a folder.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { dump } from '../../src/cli/dump.js';
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
