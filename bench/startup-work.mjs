// One cold run of a CLI subcommand inside this process, for bench/startup.ts: how long loading its modules takes,
// and how long the run itself (the work; its first and only call, so its code is still cold, as in the CLI).
//   node bench/startup-work.mjs dump|decode ARGS...   prints {"load":ms,"work":ms,"code":n} on the last line
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const DIST = path.join(path.dirname(path.dirname(fileURLToPath(import.meta.url))), 'dist', 'cli');
const [command, ...args] = process.argv.slice(2);
// The subcommand's chunk as main.js imports it (tsup names it after the source file and a hash).
const chunk = fs.readdirSync(DIST).find((f) => f.startsWith(`${command}-`) && f.endsWith('.js'));
if (chunk === undefined) throw new Error(`no dist/cli/${command}-*.js: npm run build first`);
const sink = fs.openSync('/dev/null', 'w');
const io = {
  out: (t) => fs.writeSync(sink, t),
  outSync: (t) => fs.writeSync(sink, t),
  err: () => {},
  errIsTty: false,
  env: process.env,
  cwd: process.cwd(),
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
  signal: new AbortController().signal,
};
const t0 = performance.now();
const mod = await import(path.join(DIST, chunk));
const t1 = performance.now();
const code = await (command === 'dump' ? mod.dump(args, io) : mod.decodeCommand(args, io));
const t2 = performance.now();
console.log(JSON.stringify({ load: t1 - t0, work: t2 - t1, code }));
