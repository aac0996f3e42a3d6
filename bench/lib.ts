// Shared helpers for the benchmarks: timing, medians, child processes with peak RSS, and table printing.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const MB = 1e6;

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export interface Timed {
  /** Seconds, one per timed run (warm-ups excluded). */
  runs: number[];
  median: number;
  min: number;
  max: number;
  /** Peak RSS of the child in KiB (from /usr/bin/time), the largest over the timed runs. */
  maxRssKiB?: number;
}

export function summarize(runs: number[], maxRssKiB?: number): Timed {
  return { runs, median: median(runs), min: Math.min(...runs), max: Math.max(...runs), maxRssKiB };
}

const TIME = '/usr/bin/time';
export const haveGnuTime = fs.existsSync(TIME);

export interface ProcessRun {
  seconds: number;
  stdout: string;
  stderr: string;
  status: number | null;
  /** Peak RSS in KiB (GNU time %M), when /usr/bin/time is installed. */
  maxRssKiB?: number;
}

/** Runs a program to completion; wall time measured around spawnSync (whole process, as pg_waldump is timed). */
export function runProcess(cmd: string, args: string[], options: { allowFail?: boolean } = {}): ProcessRun {
  let file = cmd;
  let argv = args;
  let rssFile: string | undefined;
  if (haveGnuTime) {
    rssFile = path.join(os.tmpdir(), `pgwal-bench-rss-${process.pid}`);
    file = TIME;
    argv = ['-o', rssFile, '-f', '%M', cmd, ...args];
  }
  const t0 = process.hrtime.bigint();
  const r = spawnSync(file, argv, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.error) throw r.error;
  if (r.status !== 0 && !options.allowFail) {
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}):\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-2000)}`);
  }
  let maxRssKiB: number | undefined;
  if (rssFile !== undefined) {
    const lines = fs.readFileSync(rssFile, 'utf8').trim().split('\n');
    maxRssKiB = Number(lines[lines.length - 1]);
    fs.rmSync(rssFile, { force: true });
  }
  return { seconds, stdout: r.stdout, stderr: r.stderr, status: r.status, maxRssKiB };
}

/** `warmup` untimed runs, then `runs` timed ones. */
export function timeProcess(cmd: string, args: string[], runs: number, warmup = 1): Timed & { last: ProcessRun } {
  for (let i = 0; i < warmup; i++) runProcess(cmd, args);
  const times: number[] = [];
  let rss = 0;
  let last!: ProcessRun;
  for (let i = 0; i < runs; i++) {
    last = runProcess(cmd, args);
    times.push(last.seconds);
    rss = Math.max(rss, last.maxRssKiB ?? 0);
  }
  return { ...summarize(times, haveGnuTime ? rss : undefined), last };
}

export function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** Prints rows as a Markdown table (so the output pastes straight into bench/README.md). */
export function table(head: string[], rows: (string | number)[][], leftColumns: number[] = [0]): string {
  const cells = [head, ...rows.map((r) => r.map(String))];
  const widths = head.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const left = (i: number): boolean => leftColumns.includes(i);
  const line = (r: string[]): string => `| ${r.map((c, i) => (left(i) ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  return [line(cells[0]!), `|${widths.map((w, i) => (left(i) ? ':' : '-') + '-'.repeat(w) + (left(i) ? '-' : ':')).join('|')}|`, ...cells.slice(1).map(line)].join('\n');
}

/** The machine, for the record: cores, CPU model, memory, Node, date. */
export function machine(): string {
  let cpu = 'unknown CPU';
  try {
    const m = /^model name\s*:\s*(.*)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) cpu = m[1]!;
  } catch {
    /* not Linux */
  }
  const gib = (os.totalmem() / 2 ** 30).toFixed(0);
  return `${os.availableParallelism()} × ${cpu}, ${gib} GiB RAM, Linux ${os.release()}, Node ${process.version}, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/**
 * One of the issues' targets as one run measured it, for the summary at the end of `npm run bench` (bench/summary.ts):
 * each script writes its own to bench/.work/last-*.json under `targets`.
 */
export interface Target {
  /** Its place in the summary (the order). */
  order: number;
  what: string;
  /** The measured figure: a throughput ratio (pgwal ÷ the reference, > 1 is pgwal faster), a start-up ratio, or MB; absent when not measured. */
  value?: number;
  unit: '×' | 'MB';
  /** 'min': met when value ≥ bound; 'max': met when value ≤ bound. */
  kind: 'min' | 'max';
  bound: number;
  /** Why there is no value, or what else the reader must know (an output that differs fails the target). */
  note?: string;
  /** False when the compared outputs differ: the target is then NOT MET whatever the time. */
  sameOutput?: boolean;
}

export function met(t: Target): boolean | undefined {
  if (t.value === undefined) return undefined;
  if (t.sameOutput === false) return false;
  return t.kind === 'min' ? t.value >= t.bound : t.value <= t.bound;
}

export function verdict(t: Target): string {
  const m = met(t);
  return m === undefined ? 'not measured' : m ? 'MET' : 'NOT MET';
}
