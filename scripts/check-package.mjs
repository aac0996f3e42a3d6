// Packs the package as npm would and checks it with publint and @arethetypeswrong/cli.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

// The public surface: each subpath's runtime exports, listed in scripts/public-api.json. An export added or
// removed without that list changing fails the check; `--write-api` rewrites the list from dist/.
const API_FILE = path.join('scripts', 'public-api.json');
if (process.argv.includes('--write-api')) {
  fs.writeFileSync(API_FILE, `${JSON.stringify(await builtApi(), null, 2)}\n`);
  console.log(`wrote ${API_FILE}`);
  process.exit(0);
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-pack-'));
try {
  const out = execFileSync('npm', ['pack', '--ignore-scripts', '--pack-destination', dir, '--json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const tarball = path.join(dir, JSON.parse(out)[0].filename);
  const bin = (name) => path.join('node_modules', '.bin', name);
  execFileSync(bin('publint'), [tarball, '--strict'], { stdio: 'inherit' });
  // The CLI entry is ESM-only on purpose; every library subpath must resolve for node16 (CJS and ESM) and bundlers.
  // node10 resolution (no exports map) is not checked: the subpaths need the exports map, as Node >= 12 reads it.
  execFileSync(bin('attw'), [tarball, '--profile', 'node16', '--exclude-entrypoints', 'package.json'], { stdio: 'inherit' });
  checkDeclarationImports();
  checkContents(JSON.parse(out)[0]);
  await checkApi();
  console.log('package check: publint and attw found no problems; every package the declarations import is a typed dependency');
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}

// A consumer compiling with --strict needs the types of every package our declarations import (TS7016 otherwise):
// each must be a runtime dependency that ships types, or whose @types package is a runtime dependency too.
function checkDeclarationImports() {
  const pkg = JSON.parse(fs.readFileSync('package.json', 'utf8'));
  const deps = pkg.dependencies ?? {};
  const bad = [];
  for (const file of fs.readdirSync('dist').filter((f) => /\.d\.c?ts$/.test(f))) {
    const text = fs.readFileSync(path.join('dist', file), 'utf8');
    for (const m of text.matchAll(/(?:from\s+|import\(\s*)['"]([^'".][^'"]*)['"]/g)) {
      const spec = m[1];
      if (spec.startsWith('node:')) continue;
      const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
      if (!(name in deps)) {
        bad.push(`${file} imports '${spec}', which is not in dependencies`);
        continue;
      }
      const own = JSON.parse(fs.readFileSync(path.join('node_modules', name, 'package.json'), 'utf8'));
      const typesPkg = `@types/${name.replace(/^@/, '').replace('/', '__')}`;
      if (own.types === undefined && own.typings === undefined && !(typesPkg in deps)) {
        bad.push(`${file} imports '${spec}': ${name} ships no types and ${typesPkg} is not in dependencies`);
      }
    }
  }
  if (bad.length > 0) throw new Error(`package check: ${bad.join('; ')}`);
}

// What the tarball holds: no source maps (they were 61 % of it and named the build folder), nothing that names
// the folder it was built in, and one copy of the library per module system, plus the CLI's own (dist/cli/pgwal.js:
// it is built apart as one file so that it starts from a code cache, see tsup.config.ts) and its format thread's
// (dist/cli/format-worker.js: another thread loads its modules anew anyway).
function checkContents(pack) {
  const files = pack.files.map((f) => f.path);
  const maps = files.filter((f) => f.endsWith('.map'));
  if (maps.length > 0) throw new Error(`package check: source maps in the tarball: ${maps.join(', ')}`);
  const built = [];
  const copies = { js: 0, cjs: 0, cli: 0 };
  for (const f of files.filter((f) => /\.(c?js|d\.c?ts)$/.test(f))) {
    const text = fs.readFileSync(f, 'utf8');
    if (text.includes(process.cwd())) built.push(f);
    if (text.includes('pgwal.WalError.classes') && f !== 'dist/cli/format-worker.js') copies[f.startsWith('dist/cli/') ? 'cli' : f.endsWith('.cjs') ? 'cjs' : 'js']++;
  }
  if (built.length > 0) throw new Error(`package check: ${built.join(', ')} name the build folder ${process.cwd()}`);
  if (copies.js !== 1 || copies.cjs !== 1 || copies.cli !== 1) throw new Error(`package check: WalError is defined in ${copies.js} ES module, ${copies.cjs} CommonJS and ${copies.cli} CLI files, expected one each`);
  if (!files.includes('LICENSE')) throw new Error('package check: no LICENSE in the tarball');
}

/** The runtime export names of each subpath of the ES module build, sorted. */
async function builtApi() {
  const pkg = JSON.parse(fs.readFileSync('package.json', 'utf8'));
  const api = {};
  for (const [sub, target] of Object.entries(pkg.exports)) {
    if (typeof target !== 'object' || target.import === undefined) continue;
    const mod = await import(path.resolve(target.import.default));
    api[sub] = Object.keys(mod).sort();
  }
  return api;
}

async function checkApi() {
  const want = JSON.parse(fs.readFileSync(API_FILE, 'utf8'));
  const got = await builtApi();
  const problems = [];
  for (const sub of new Set([...Object.keys(want), ...Object.keys(got)])) {
    const w = new Set(want[sub] ?? []);
    const g = new Set(got[sub] ?? []);
    const added = [...g].filter((n) => !w.has(n));
    const removed = [...w].filter((n) => !g.has(n));
    if (added.length > 0) problems.push(`${sub} exports ${added.join(', ')}, not listed`);
    if (removed.length > 0) problems.push(`${sub} no longer exports ${removed.join(', ')}`);
  }
  if (problems.length > 0) {
    throw new Error(`package check: the public API changed (${problems.join('; ')}): list it in ${API_FILE} (node scripts/check-package.mjs --write-api) and say so in the README`);
  }
}
