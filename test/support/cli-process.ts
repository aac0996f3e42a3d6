// The pgwal CLI as a real process (for tests that kill it): src/cli/main.ts bundled once per test run with
// esbuild into test-build/cli/main.mjs, so it starts in a fraction of tsx's time and is always current.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
let built: string | undefined;

/** The path of a bundled, runnable `pgwal` (node …/main.mjs ARGS). */
export function cliBundle(): string {
  if (built !== undefined) return built;
  // ../../package.json from test-build/cli/ is the package's own, as from dist/cli/.
  const out = path.join(root, 'test-build', 'cli', `main-${process.pid}.mjs`);
  buildSync({ entryPoints: [path.join(root, 'src/cli/main.ts')], bundle: true, platform: 'node', format: 'esm', target: 'node20', outfile: out, packages: 'external', logLevel: 'error' });
  built = out;
  return out;
}
