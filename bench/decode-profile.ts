// Profiles the pgwal decoding loop (bench/decode-worker.mjs) with `node --cpu-prof` and prints the top functions
// by self time. Run: `tsx bench/decode-profile.ts [--top N] [--keep]` after `npm run build`; the corpus must exist
// (`npm run bench:decode` makes it).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cachedDecodeCorpus } from './decode-corpus.js';
import { table } from './lib.js';
import { hotSpots } from './profile.js';

const args = process.argv.slice(2);
const topAt = args.indexOf('--top');
const top = topAt >= 0 ? Number(args[topAt + 1]) : 25;
const corpus = cachedDecodeCorpus('pgbench-decode');
if (corpus === undefined) throw new Error('no corpus in bench/.work/pgbench-decode-wal: run `npm run bench:decode` first');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-prof-'));
const worker = path.join(path.dirname(fileURLToPath(import.meta.url)), 'decode-worker.mjs');
// One warm-up pass (which also hashes) and two profiled passes, in one process.
const r = spawnSync(process.execPath, ['--cpu-prof', '--cpu-prof-dir', dir, worker, corpus.walDir, corpus.stateFile, corpus.meta.end, '1', '2'], { encoding: 'utf8' });
if (r.status !== 0) throw new Error(`profiled worker failed:\n${r.stderr}`);
console.log(`passes: ${r.stdout.trim()}`);
const file = fs.readdirSync(dir).find((f) => f.endsWith('.cpuprofile'))!;
const { total, spots } = hotSpots(JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')));
if (args.includes('--keep')) console.log(`profile kept: ${path.join(dir, file)} (open in Chrome DevTools › Performance)`);
else fs.rmSync(dir, { recursive: true, force: true });
console.log(
  `CPU profile of \`decode-worker.mjs\` over ${corpus.meta.start}..${corpus.meta.end} (1 warm-up + 2 timed passes; ${(total / 1000).toFixed(2)} s sampled, whole process):\n\n` +
    table(
      ['function (self time)', 'file:line (dist/)', 'self ms', 'self %'],
      spots.slice(0, top).map((s) => [s.name, s.where, s.selfMs.toFixed(0), s.percent.toFixed(1)]),
    ),
);
