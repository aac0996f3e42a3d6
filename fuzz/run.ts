// npm run fuzz [-- --seed N --inputs N --jobs N --coverage --hang-ms N --replay FILE… --index I]: see fuzz/README.md.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { CORPUS_DIR, DEFAULT_BOUNDS, deserialize, FAILURES_DIR, generateInput, loadPool, runInput, savedFiles, serialize, type Bounds } from './engine.js';
import type { WorkerData, WorkerMessage } from './worker.js';

const CORPUS_BUDGET = 2 * 1024 * 1024;

function parseArgs(argv: string[]): Record<string, string | true | string[]> {
  const out: Record<string, string | true | string[]> = { replay: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    const name = a.slice(2);
    if (name === 'coverage' || name === 'help') out[name] = true;
    else if (name === 'replay') (out.replay as string[]).push(argv[++i]!);
    else out[name] = argv[++i] ?? '';
  }
  return out;
}

const args = parseArgs(process.argv.slice(2));
if (args.help) {
  console.log('npm run fuzz -- [--seed N] [--inputs N] [--jobs N] [--coverage] [--hang-ms N] [--time-ms N] [--index I] [--replay FILE]…');
  process.exit(0);
}
const seed = args.seed !== undefined ? Number(args.seed) >>> 0 : (Date.now() ^ (process.pid << 16)) >>> 0;
const inputs = Number(args.inputs ?? 100_000);
const jobs = Math.max(1, Number(args.jobs ?? os.availableParallelism()));
const hangMs = Number(args['hang-ms'] ?? 20_000);
const bounds: Bounds = { ...DEFAULT_BOUNDS, timeMs: Number(args['time-ms'] ?? DEFAULT_BOUNDS.timeMs) };
const coverage = args.coverage === true;

// Replays and single inputs run in this thread.
const replays = args.replay as string[];
if (replays.length > 0 || args.index !== undefined) {
  let bad = 0;
  const show = (name: string, input: Parameters<typeof runInput>[0]): void => {
    const out = runInput(input, bounds);
    console.log(`${name}: ${input.mutation}`);
    console.log(`  ${out.records.length} records, end: ${out.end ? `${out.end.reason} ${out.end.message}` : '(threw)'}, ${out.elapsedMs.toFixed(1)} ms`);
    for (const e of out.escaped) console.log(`  escaped: ${(e as Error).name}: ${(e as Error).message}`);
    for (const f of out.failures) console.log(`  FAILURE ${f}`);
    if (out.failures.length > 0) bad++;
  };
  for (const file of replays) show(file, deserialize(fs.readFileSync(file)).input);
  if (args.index !== undefined) show(`seed ${seed} input ${args.index}`, generateInput(loadPool(), seed, Number(args.index)));
  process.exit(bad > 0 ? 1 : 0);
}

console.log(`pgwal fuzz: seed ${seed}, ${inputs} inputs, ${jobs} worker${jobs > 1 ? 's' : ''}${coverage ? ', coverage-guided' : ''}`);
console.log(`  reproduce: npm run fuzz -- --seed ${seed} --inputs ${inputs} --jobs ${jobs}${coverage ? ' --coverage' : ''}`);
const t0 = Date.now();
const progress = new SharedArrayBuffer(4 * jobs);
const slots = new Int32Array(progress);
let failures = 0;
let corpusAdded = 0;
let corpusBytes = savedFiles(CORPUS_DIR).reduce((n, f) => n + fs.statSync(f).size, 0);
const counts = new Array<number>(jobs).fill(0);
let finished = 0;
let mainPool: ReturnType<typeof loadPool> | undefined;

function writeFailure(index: number, file: Uint8Array): string {
  fs.mkdirSync(FAILURES_DIR, { recursive: true });
  const out = path.join(FAILURES_DIR, `seed-${seed}-input-${index}.bin.gz`);
  fs.writeFileSync(out, file);
  return path.relative(process.cwd(), out);
}

function report(index: number, mutation: string, what: string[], file: Uint8Array): void {
  failures++;
  const saved = writeFailure(index, file);
  console.log(`\nFAILURE seed ${seed} input ${index}\n  mutation: ${mutation}\n${what.map((w) => `  ${w}`).join('\n')}\n  minimized input: ${saved} (npm run fuzz -- --replay ${saved})`);
}

function start(slot: number, first: number, base = 0): void {
  Atomics.store(slots, slot, first);
  const data: WorkerData = { seed, first, stride: jobs, end: inputs, coverage, progress, slot, bounds, pool: {} };
  // The worker is TypeScript: register tsx's loader in it before importing it.
  const boot = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((m) => { m.register(); return import(${JSON.stringify(new URL('./worker.ts', import.meta.url).href)}); })`;
  const w = new Worker(boot, { eval: true, workerData: data });
  let ready = false;
  let last = first;
  let since = Date.now();
  let done = false;
  const watchdog = setInterval(() => {
    const now = Atomics.load(slots, slot);
    if (now !== last) {
      last = now;
      since = Date.now();
      return;
    }
    if (now < 0 || Date.now() - since < hangMs) return;
    // A hang: the worker is stuck in one input. Report it, and carry on after it with a fresh worker.
    clearInterval(watchdog);
    done = true;
    void w.terminate();
    mainPool ??= loadPool();
    const input = generateInput(mainPool, seed, now);
    report(now, input.mutation, [`hang: no progress for ${hangMs} ms${coverage ? ' (coverage mode: the input shown is the one without corpus; replay may differ)' : ''}`], serialize(input, { seed, index: now, failures: ['hang'] }));
    counts[slot] = base + Math.floor((now - first) / jobs) + 1;
    if (now + jobs < inputs) start(slot, now + jobs, counts[slot]!);
    else finish();
  }, 1000);
  w.on('message', (m: WorkerMessage) => {
    if (m.type === 'ready') ready = true;
    else if (m.type === 'count') counts[slot] = base + m.count;
    else if (m.type === 'failure') report(m.index, m.mutation, m.failures, m.file);
    else if (m.type === 'corpus') {
      if (corpusBytes + m.file.length > CORPUS_BUDGET) return;
      fs.mkdirSync(CORPUS_DIR, { recursive: true });
      const name = `${crypto.createHash('sha1').update(m.file).digest('hex').slice(0, 16)}.bin.gz`;
      fs.writeFileSync(path.join(CORPUS_DIR, name), m.file);
      corpusBytes += m.file.length;
      corpusAdded++;
      console.log(`corpus + ${name} (${m.file.length} bytes, input ${m.index}): ${m.keys.slice(0, 3).join(' | ')}`);
    } else if (m.type === 'done') {
      counts[slot] = base + m.count;
      clearInterval(watchdog);
      done = true;
      finish();
    }
  });
  w.on('error', (e) => died(e));
  w.on('exit', (code) => died(new Error(`the worker thread exited with code ${code}`)));
  const died = (e: Error): void => {
    if (done) return;
    clearInterval(watchdog);
    done = true;
    if (!ready) {
      // Not an input's fault: the worker could not start.
      console.error(`worker ${slot} failed to start: ${e.stack ?? e.message}`);
      process.exit(2);
    }
    // Out of memory or a crash of the thread: blame the input it was running.
    const now = Atomics.load(slots, slot);
    mainPool ??= loadPool();
    const input = generateInput(mainPool, seed, now);
    report(now, input.mutation, [`worker died: ${e.name}: ${e.message}`], serialize(input, { seed, index: now, failures: ['worker died'] }));
    if (now + jobs < inputs) start(slot, now + jobs, base + Math.floor((now - first) / jobs) + 1);
    else finish();
  };
}

const ticker = setInterval(() => {
  const n = counts.reduce((a, b) => a + b, 0);
  const s = (Date.now() - t0) / 1000;
  console.log(`  ${n} inputs, ${(n / s).toFixed(0)}/s, ${failures} failures${coverage ? `, corpus +${corpusAdded}` : ''}`);
}, 30_000);

function finish(): void {
  if (++finished < jobs) return;
  clearInterval(ticker);
  const n = counts.reduce((a, b) => a + b, 0);
  const s = (Date.now() - t0) / 1000;
  console.log(`done: seed ${seed}, ${n} inputs in ${s.toFixed(1)} s (${(n / s).toFixed(0)}/s), ${failures} failures${coverage ? `, ${corpusAdded} corpus entries added (${(corpusBytes / 1024).toFixed(0)} KB in total)` : ''}`);
  process.exitCode = failures > 0 ? 1 : 0;
}

for (let j = 0; j < jobs; j++) start(j, j);
