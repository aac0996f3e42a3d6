// `npm run bench`: the three benchmarks in sequence, each given this command line's options (--runs, --large, …;
// each takes those it knows), then the summary of every target (bench/summary.ts) from the figures they wrote in
// this run. A script that fails leaves its rows "not measured"; the exit status is then 1.
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LEGEND, summary } from './summary.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(HERE);
const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');
const args = process.argv.slice(2);

const since = new Date();
let failed = 0;
for (const script of ['run.ts', 'startup.ts', 'decode.ts']) {
  const r = spawnSync(TSX, [path.join(HERE, script), ...args], { stdio: 'inherit' });
  if (r.status !== 0) {
    failed++;
    console.error(`bench/${script} failed (${r.status ?? r.signal})`);
  }
  console.log('\n');
}
console.log(`# Targets (issues 16 and 19), this run (load average at its end ${os.loadavg().map((l) => l.toFixed(1)).join(' ')} on ${os.availableParallelism()} cores)\n\n${summary(since).text}\n\n${LEGEND}`);
process.exit(failed > 0 ? 1 : 0);
