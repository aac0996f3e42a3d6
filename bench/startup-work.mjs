// One cold run of a CLI subcommand inside this process, for bench/startup.ts: how long loading the CLI bundle
// takes (dist/cli/pgwal.js, compiled without its code cache), and how long the run itself (the work; its first and
// only call, so its code is still cold, as in the CLI without a cache). The run's own output goes to stdout first.
//   node bench/startup-work.mjs dump|decode ARGS...   prints {"load":ms,"work":ms,"code":n} on the last line
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const DIST = path.join(path.dirname(path.dirname(fileURLToPath(import.meta.url))), 'dist', 'cli');
const { bundlePaths, loadBundle } = createRequire(import.meta.url)(path.join(DIST, 'main.js'));
const t0 = performance.now();
const { bundle } = loadBundle(bundlePaths(DIST).file, undefined);
const t1 = performance.now();
const code = await bundle.main(process.argv.slice(2));
const t2 = performance.now();
console.log(`\n${JSON.stringify({ load: t1 - t0, work: t2 - t1, code })}`);
