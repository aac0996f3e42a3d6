// One cold run of a CLI subcommand inside this process, for bench/startup.ts: how long loading the CLI bundle and
// the subcommand's modules takes (dist/cli/pgwal.js compiled without its code cache, as ES module chunks were
// before it), and how long the run itself (the work; its first and only call, so its code is still cold).
//   node bench/startup-work.mjs dump|decode ARGS...   prints {"load":ms,"work":ms,"code":n} on the last line
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const DIST = path.join(path.dirname(path.dirname(fileURLToPath(import.meta.url))), 'dist', 'cli');
const { bundlePaths, loadBundle } = createRequire(import.meta.url)(path.join(DIST, 'main.js'));
const [command, ...args] = process.argv.slice(2);
const sink = fs.openSync('/dev/null', 'w');
const io = {
  out: (t) => fs.writeSync(sink, t),
  outSync: (t) => fs.writeSync(sink, t),
  outBytesSync: (b, n) => fs.writeSync(sink, b, 0, n),
  err: () => {},
  errIsTty: false,
  env: process.env,
  cwd: process.cwd(),
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
  signal: new AbortController().signal,
};
const t0 = performance.now();
const mod = await loadBundle(bundlePaths(DIST).file, undefined).bundle.commandModule(command);
const t1 = performance.now();
const code = await mod.run(args, io);
const t2 = performance.now();
console.log(JSON.stringify({ load: t1 - t0, work: t2 - t1, code }));
