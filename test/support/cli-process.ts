// The pgwal CLI as a real process (for tests that kill it): bundled once per test run with esbuild into
// test-build/cli-PID/ as tsup lays out dist/cli/ (main.js the loader of src/cli/bin.ts, pgwal.js the CLI, the format
// thread's module, all CommonJS), so it starts in a fraction of tsx's time and is always current. It has no code
// cache: the loader's path without one is the one tested here.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
let built: string | undefined;

/** The path of a bundled, runnable `pgwal` (node …/main.mjs ARGS). */
export function cliBundle(): string {
  if (built !== undefined) return built;
  // ../../package.json from test-build/cli-PID/ is the package's own, as from dist/cli/.
  const outdir = path.join(root, 'test-build', `cli-${process.pid}`);
  buildSync({
    entryPoints: {
      main: path.join(root, 'src/cli/bin.ts'),
      pgwal: path.join(root, 'src/cli/main.ts'),
      'format-worker': path.join(root, 'src/cli/format-worker.ts'),
    },
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    outdir,
    packages: 'external',
    logLevel: 'error',
    // As tsup.config.ts builds dist/cli/: import() as require, import.meta.url from the file's name.
    supported: { 'dynamic-import': false },
    define: { 'import.meta.url': '__pgwalImportMetaUrl' },
    banner: { js: 'var __pgwalImportMetaUrl = require("node:url").pathToFileURL(__filename).href;' },
  });
  fs.writeFileSync(path.join(outdir, 'package.json'), '{ "type": "commonjs" }\n');
  built = path.join(outdir, 'main.js');
  return built;
}

/** Runs the bundled CLI as a process (the format thread needs its module beside the CLI's): exit code and output. */
export function runCliProcess(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cliBundle(), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
