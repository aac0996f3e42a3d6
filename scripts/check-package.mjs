// Packs the package as npm would and checks it with publint and @arethetypeswrong/cli.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgwal-pack-'));
try {
  const out = execFileSync('npm', ['pack', '--ignore-scripts', '--pack-destination', dir, '--json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const tarball = path.join(dir, JSON.parse(out)[0].filename);
  const bin = (name) => path.join('node_modules', '.bin', name);
  execFileSync(bin('publint'), [tarball, '--strict'], { stdio: 'inherit' });
  // The CLI entry is ESM-only on purpose; every library subpath must resolve for node10, node16 (CJS/ESM) and bundlers.
  execFileSync(bin('attw'), [tarball, '--profile', 'node16', '--exclude-entrypoints', 'package.json'], { stdio: 'inherit' });
  console.log('package check: publint and attw found no problems');
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
