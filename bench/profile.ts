// Profiles the pgwal read loop (bench/worker.mjs read) with `node --cpu-prof` and prints the top functions by
// self time. Run: `tsx bench/profile.ts [read|stats] [--top N] [--keep]` (after `npm run build`; the corpus
// must exist: `npm run bench` makes it).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cachedCorpus } from './corpus.js';
import { table } from './lib.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface HotSpot {
  name: string;
  where: string;
  selfMs: number;
  percent: number;
}

/** Self time per function (summed over every node of that function), largest first. */
export function hotSpots(profile: CpuProfile): { total: number; spots: HotSpot[] } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, { name: string; where: string; us: number }>();
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const n = byId.get(profile.samples[i]!)!;
    const dt = profile.timeDeltas[i] ?? 0;
    total += dt;
    const f = n.callFrame;
    const file = f.url === '' ? '' : path.basename(f.url.replace(/^file:\/\//, ''));
    const where = file === '' ? '' : `${file}:${f.lineNumber + 1}`;
    const name = f.functionName === '' ? '(anonymous)' : f.functionName;
    const key = `${name}@${where}`;
    const e = self.get(key) ?? { name, where, us: 0 };
    e.us += dt;
    self.set(key, e);
  }
  const spots = [...self.values()]
    .sort((a, b) => b.us - a.us)
    .map((e) => ({ name: e.name, where: e.where, selfMs: e.us / 1000, percent: (100 * e.us) / total }));
  return { total: total / 1000, spots };
}

export function profileLoop(mode: 'read' | 'stats', top: number, keep: boolean): string {
  const corpus = cachedCorpus('pgbench', 0);
  if (corpus === undefined) throw new Error('no corpus in bench/.work/pgbench-wal: run `npm run bench` first');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-prof-'));
  const worker = path.join(path.dirname(fileURLToPath(import.meta.url)), 'worker.mjs');
  // One warm-up pass and two profiled passes over the corpus, in one process.
  const r = spawnSync(
    process.execPath,
    ['--cpu-prof', '--cpu-prof-dir', dir, worker, mode, corpus.walDir, corpus.meta.start, corpus.meta.end, '1', '2'],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`profiled worker failed:\n${r.stderr}`);
  const file = fs.readdirSync(dir).find((f) => f.endsWith('.cpuprofile'))!;
  const profile = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as CpuProfile;
  const { total, spots } = hotSpots(profile);
  if (keep) console.log(`profile kept: ${path.join(dir, file)} (open in Chrome DevTools › Performance)`);
  else fs.rmSync(dir, { recursive: true, force: true });
  const rows = spots.slice(0, top).map((s) => [s.name, s.where, s.selfMs.toFixed(0), s.percent.toFixed(1)]);
  return (
    `CPU profile of \`worker.mjs ${mode}\` over ${corpus.meta.start}..${corpus.meta.end} (1 warm-up + 2 timed passes; ` +
    `${(total / 1000).toFixed(2)} s sampled, whole process):\n\n` +
    table(['function (self time)', 'file:line (dist/)', 'self ms', 'self %'], rows)
  );
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const mode = args.includes('stats') ? 'stats' : 'read';
  const topAt = args.indexOf('--top');
  const top = topAt >= 0 ? Number(args[topAt + 1]) : 15;
  console.log(profileLoop(mode, top, args.includes('--keep')));
}
