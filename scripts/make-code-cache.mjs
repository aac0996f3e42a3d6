// The CLI's V8 code cache (dist/cli/pgwal.js.cache), made by the build after dist/cli/pgwal.js: the bundle is run
// in a child process on the types-dml fixture (`dump` of its segment, then `decode` of its slot), so the cache holds
// the functions those runs compiled, and taken from the script then. dist/cli/main.js starts from it (src/cli/bin.ts).
//   node scripts/make-code-cache.mjs
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';

const ROOT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const CLI = path.join(ROOT, 'dist', 'cli');
const FIXTURE = path.join(ROOT, 'fixtures', 'pg15', 'types-dml');

if (process.argv[2] === '--child') {
  // In the child: stdout and stderr go nowhere, the working folder holds the fixture's WAL and slot state.
  const { bundlePaths, loadBundle, encodeCodeCache } = createRequire(import.meta.url)(path.join(CLI, 'main.js'));
  const { file, cache } = bundlePaths(CLI);
  const { bundle, script } = loadBundle(file, undefined);
  await bundle.main(['dump', '-p', 'wal', process.argv[3]]);
  await bundle.main(['decode', '--state', 'slot.state', '-p', 'wal']);
  fs.writeFileSync(cache, encodeCodeCache(script.createCachedData()));
  process.exit(0);
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-code-cache-'));
try {
  const seg = JSON.parse(fs.readFileSync(path.join(FIXTURE, 'meta.json'), 'utf8')).segments[0];
  fs.mkdirSync(path.join(dir, 'wal'));
  fs.writeFileSync(path.join(dir, 'wal', seg), zlib.gunzipSync(fs.readFileSync(path.join(FIXTURE, `${seg}.gz`))));
  fs.copyFileSync(path.join(FIXTURE, 'slot.state'), path.join(dir, 'slot.state'));
  fs.rmSync(path.join(CLI, 'pgwal.js.cache'), { force: true });
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', seg], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`make-code-cache: the run on ${FIXTURE} failed (status ${r.status}): ${r.stderr}`);
  console.log(`dist/cli/pgwal.js.cache: ${fs.statSync(path.join(CLI, 'pgwal.js.cache')).size} bytes`);
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
