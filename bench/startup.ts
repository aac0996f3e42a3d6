// The CLI's start-up on a small fixture (issue 16): `pgwal dump` of one segment and `pgwal decode` of the
// types-dml fixture, whole processes, each run paired with `node -e 0` (interleaved: base, command, base, …) so a
// loaded machine slows both alike; the figure kept is the median of the pairs' differences.
//
//   npm run bench:startup                   build, then this
//   npm run bench:startup -- --pairs 31     pairs per command (default 15)
//
// Target: the whole process within 1.5× of `node -e 0` plus the work itself, where the work is the subcommand's
// run measured inside a process (bench/startup-work.mjs: its first call after its modules are loaded, so still cold).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import { machine, median, table, verdict, type Target } from './lib.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(HERE);
const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');
const WORK = path.join(HERE, 'startup-work.mjs');
const LAST = path.join(HERE, '.work', 'last-startup.json');
const FIXTURE = path.join(ROOT, 'fixtures', 'pg15', 'types-dml');
const TARGET = 1.5;

const argv = process.argv.slice(2);
const at = argv.indexOf('--pairs');
const PAIRS = at >= 0 ? Math.max(3, Number(argv[at + 1])) : 15;

/** Wall time of one whole process, in ms (output to /dev/null; the fixture's WAL ends in an error line: status 1). */
function wall(args: string[], cwd: string): number {
  const t = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  if (r.status !== 0 && r.status !== 1) throw new Error(`node ${args.join(' ')}: status ${r.status}\n${r.stderr}`);
  return ms;
}

function work(args: string[], cwd: string): { load: number; work: number } {
  const r = spawnSync(process.execPath, [WORK, ...args], { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`startup-work ${args.join(' ')}: status ${r.status}\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as { load: number; work: number };
}

function main(): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-startup-'));
  try {
    const meta = JSON.parse(fs.readFileSync(path.join(FIXTURE, 'meta.json'), 'utf8')) as { segments: string[] };
    const seg = meta.segments[0]!;
    fs.mkdirSync(path.join(dir, 'wal'));
    fs.writeFileSync(path.join(dir, 'wal', seg), zlib.gunzipSync(fs.readFileSync(path.join(FIXTURE, `${seg}.gz`))));
    fs.copyFileSync(path.join(FIXTURE, 'slot.state'), path.join(dir, 'slot.state'));
    const commands: [string, string[]][] = [
      ['dump', ['dump', '-p', 'wal', seg]],
      ['decode', ['decode', '--state', 'slot.state', '-p', 'wal']],
    ];
    console.log(`# CLI start-up (pgwal dump of one segment, decode of types-dml), ${PAIRS} interleaved pairs with node -e 0\n`);
    console.log(machine());
    console.log(`load average: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} (${os.cpus().length} cores): a loaded machine stretches every figure\n`);
    const rows: (string | number)[][] = [];
    const targets: Target[] = [];
    const figures: Record<string, unknown> = {};
    for (const [name, args] of commands) {
      // One warm-up of each (page cache, disk), then the pairs; the in-process split in its own runs.
      wall(['-e', '0'], dir);
      wall([CLI, ...args], dir);
      const base: number[] = [];
      const whole: number[] = [];
      const diff: number[] = [];
      const loads: number[] = [];
      const works: number[] = [];
      for (let i = 0; i < PAIRS; i++) {
        const b = wall(['-e', '0'], dir);
        const w = wall([CLI, ...args], dir);
        base.push(b);
        whole.push(w);
        diff.push(w - b);
        const s = work(args, dir);
        loads.push(s.load);
        works.push(s.work);
      }
      const b = median(base);
      const d = median(diff);
      const wk = median(works);
      const ratio = (b + d) / (b + wk);
      const t: Target = {
        order: name === 'dump' ? 6 : 7,
        what: `start-up: \`pgwal ${name}\` of ${name === 'dump' ? 'one segment' : 'types-dml'} ÷ (\`node -e 0\` + the work)`,
        value: ratio,
        unit: '×',
        kind: 'max',
        bound: TARGET,
        note: `${(b + d).toFixed(0)} ms against ${b.toFixed(0)} + ${wk.toFixed(0)} ms`,
      };
      targets.push(t);
      figures[name] = { nodeMs: b, wholeMs: b + d, deltaMs: d, importMs: median(loads), workMs: wk, ratio };
      rows.push([
        `pgwal ${name}`,
        b.toFixed(1),
        (b + d).toFixed(1),
        d.toFixed(1),
        median(loads).toFixed(1),
        wk.toFixed(1),
        (d - wk).toFixed(1),
        `${ratio.toFixed(2)}×`,
        verdict(t),
      ]);
    }
    console.log(
      table(
        ['command', 'node -e 0 ms', 'whole ms', 'Δ pairs ms', 'import ms', 'work ms', 'Δ − work ms', `÷ (node -e 0 + work), target ≤ ${TARGET}×`, ''],
        rows,
      ),
    );
    console.log('\nΔ pairs: median of (whole − node -e 0) over the pairs; import and work: medians inside a process');
    console.log('(bench/startup-work.mjs); Δ − work: what the CLI costs beyond the work (modules, worker thread, exit).');
    fs.mkdirSync(path.dirname(LAST), { recursive: true });
    fs.writeFileSync(LAST, JSON.stringify({ machine: machine(), load: os.loadavg(), pairs: PAIRS, figures, targets, finishedAt: new Date().toISOString() }, null, 2) + '\n');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main();
