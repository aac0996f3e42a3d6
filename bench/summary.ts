// The targets of issues 16 and 19 as the last runs of bench/run.ts, bench/startup.ts and bench/decode.ts measured
// them: one table, each figure against its bound, MET / NOT MET. `npm run bench` (bench/all.ts) prints it at the end;
//
//   npx tsx bench/summary.ts                    the table from bench/.work/last-*.json as they are
//   npx tsx bench/summary.ts --since ISO-TIME   figures written before then count as not measured (a stale file)
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { met, table, verdict, type Target } from './lib.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const WORK = path.join(HERE, '.work');

/** Each script's file of figures and the targets it measures (listed so that a missing file still shows its rows). */
const SOURCES: { file: string; script: string; orders: number[] }[] = [
  { file: 'last-decode-run.json', script: 'bench/decode.ts', orders: [1, 2, 3, 8] },
  { file: 'last-run.json', script: 'bench/run.ts', orders: [4, 5, 9] },
  { file: 'last-startup.json', script: 'bench/startup.ts', orders: [6, 7] },
];

/** What each target is, as issue 16 (and 19 for pgoutput) states it: the row shown when a script did not measure it. */
const NAMES: Record<number, Omit<Target, 'order'>> = {
  1: { what: '`pgwal decode` CLI ÷ server test_decoding peek (throughput)', unit: '×', kind: 'min', bound: 2.0 },
  2: { what: '`pgwal decode --plugin json` CLI ÷ server wal2json 2.5 peek, format-version 2 (throughput)', unit: '×', kind: 'min', bound: 1.5 },
  3: { what: '`pgwal decode --plugin pgoutput` (v1) CLI ÷ server binary peek (throughput)', unit: '×', kind: 'min', bound: 1.0 },
  4: { what: '`pgwal dump -q` ÷ `pg_waldump -q` (throughput, whole processes)', unit: '×', kind: 'min', bound: 0.6 },
  5: { what: '`pgwal dump --stats` ÷ `pg_waldump --stats` (throughput, whole processes)', unit: '×', kind: 'min', bound: 0.6 },
  6: { what: 'start-up: `pgwal dump` of one segment ÷ (`node -e 0` + the work)', unit: '×', kind: 'max', bound: 1.5 },
  7: { what: 'start-up: `pgwal decode` of types-dml ÷ (`node -e 0` + the work)', unit: '×', kind: 'max', bound: 1.5 },
  8: { what: 'memory: `pgwal decode` of one 1 GB transaction, peak RSS', unit: 'MB', kind: 'max', bound: 256 },
  9: { what: 'memory: `pgwal dump --stats` of 1 GB, peak RSS', unit: 'MB', kind: 'max', bound: 150 },
};

export const LEGEND =
  "throughput ratios: pgwal's ÷ the reference's (> 1: pgwal faster), medians of whole processes on the same WAL, outputs checked equal;\n" +
  'start-up: the whole process ÷ (node -e 0 + the work done in-process); memory: peak RSS, MB = 10^6 bytes.';

export function summary(since?: Date): { text: string; notMet: number } {
  const rows: Target[] = [];
  for (const s of SOURCES) {
    const file = path.join(WORK, s.file);
    let targets: Target[] = [];
    let why = `${s.script} did not run (no ${path.relative(path.dirname(HERE), file)})`;
    if (fs.existsSync(file)) {
      const j = JSON.parse(fs.readFileSync(file, 'utf8')) as { targets?: Target[]; finishedAt?: string };
      const at = j.finishedAt === undefined ? fs.statSync(file).mtime : new Date(j.finishedAt);
      if (since !== undefined && at < since) why = `${s.script} did not finish in this run (its last figures are of ${at.toISOString().slice(0, 16)})`;
      else {
        targets = j.targets ?? [];
        why = `not measured by the last ${s.script} (its options)`;
      }
    }
    for (const order of s.orders) rows.push(targets.find((t) => t.order === order) ?? { order, ...NAMES[order]!, note: why });
  }
  rows.sort((a, b) => a.order - b.order);
  const fmtValue = (t: Target): string => (t.value === undefined ? '—' : t.unit === '×' ? `${t.value.toFixed(2)}×` : `${t.value.toFixed(0)} MB`);
  const text = table(
    ['target', 'measured', 'bound', 'verdict', 'note'],
    rows.map((t) => [t.what, fmtValue(t), `${t.kind === 'min' ? '≥' : '≤'} ${t.unit === '×' ? `${t.bound.toFixed(1)}×` : `${t.bound} MB`}`, verdict(t), t.note ?? '']),
    [0, 4],
  );
  return { text, notMet: rows.filter((t) => met(t) === false).length };
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const at = process.argv.indexOf('--since');
  const since = at >= 0 ? new Date(process.argv[at + 1]!) : undefined;
  console.log(`# Targets (issues 16 and 19)\n\n${summary(since).text}\n\n${LEGEND}`);
}
