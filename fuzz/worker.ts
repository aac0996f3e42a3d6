// One fuzzing worker thread: runs its share of the input indices and reports failures (shrunk) and new coverage.
import fs from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import {
  CORPUS_DIR,
  corpusBase,
  deserialize,
  failureClass,
  fuzzLoop,
  loadPool,
  parseInject,
  runInput,
  savedFiles,
  serialize,
  shrink,
  trimForCorpus,
  type Bounds,
  type PoolOptions,
} from './engine.js';

export interface WorkerData {
  seed: number;
  /** Indices first, first + stride, … below end. */
  first: number;
  stride: number;
  end: number;
  coverage: boolean;
  progress: SharedArrayBuffer;
  slot: number;
  bounds: Bounds;
  pool: PoolOptions;
}

export type WorkerMessage =
  | { type: 'failure'; index: number; mutation: string; failures: string[]; file: Uint8Array }
  | { type: 'corpus'; index: number; keys: string[]; file: Uint8Array }
  | { type: 'ready' }
  | { type: 'count'; count: number }
  | { type: 'done'; count: number; keys: number };

const d = workerData as WorkerData;
const post = (m: WorkerMessage): void => parentPort!.postMessage(m);
const pool = loadPool(d.pool);
const progress = new Int32Array(d.progress);

let coverage: Set<string> | undefined;
if (d.coverage) {
  coverage = new Set();
  for (const file of savedFiles(CORPUS_DIR)) {
    const { input } = deserialize(fs.readFileSync(file));
    for (const k of runInput(input, d.bounds).keys) coverage.add(k);
    if (input.kind === 'wal') pool.corpus.push(corpusBase(input));
  }
}

post({ type: 'ready' });

function* indices(): Generator<number> {
  let n = 0;
  for (let i = d.first; i < d.end; i += d.stride) {
    yield i;
    if (++n % 500 === 0) post({ type: 'count', count: n });
  }
}

const result = fuzzLoop(pool, d.seed, indices(), {
  bounds: d.bounds,
  coverage,
  progress,
  progressSlot: d.slot,
  inject: parseInject(process.env.PGWAL_FUZZ_INJECT),
  onFailure: (r) => {
    const small = shrink(r.input, failureClass(r.failures), 400, d.bounds);
    const again = runInput(small, d.bounds);
    post({ type: 'failure', index: r.index, mutation: r.mutation, failures: again.failures.length > 0 ? again.failures : r.failures, file: serialize(again.failures.length > 0 ? small : r.input, { seed: r.seed, index: r.index, failures: r.failures }) });
  },
  onNewKeys: (keys, input, index) => {
    // Keep the corpus small: only the pages around the damage, and only if that still reaches the new outcome.
    const small = input.kind === 'wal' ? trimForCorpus(input) : input;
    const out = runInput(small, d.bounds);
    const kept = keys.filter((k) => out.keys.has(k));
    if (out.failures.length > 0 || kept.length === 0) return;
    if (small.kind === 'wal') pool.corpus.push(corpusBase(small));
    post({ type: 'corpus', index, keys: kept, file: serialize(small, { seed: d.seed, index }) });
  },
});
Atomics.store(progress, d.slot, -1);
post({ type: 'done', count: result.count, keys: coverage?.size ?? 0 });
