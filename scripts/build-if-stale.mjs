// `prepare` (npm ci, npm pack): build unless dist/ is newer than every source and build setting, so packing a
// freshly built tree does not build it again. `npm run build` always builds.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** The newest (or oldest) modification time of the files below `p`. */
function mtime(p, pick) {
  const st = fs.statSync(p, { throwIfNoEntry: false });
  if (st === undefined) return undefined;
  if (!st.isDirectory()) return st.mtimeMs;
  let best;
  for (const name of fs.readdirSync(p)) {
    const t = mtime(path.join(p, name), pick);
    if (t !== undefined) best = best === undefined ? t : pick(best, t);
  }
  return best;
}

const sources = ['src', 'package.json', 'package-lock.json', 'tsup.config.ts', 'tsconfig.json'].map((p) => mtime(p, Math.max)).filter((t) => t !== undefined);
const built = mtime('dist', Math.min);
if (built !== undefined && fs.existsSync('dist/cli/main.js') && built > Math.max(...sources)) {
  console.log('dist/ is newer than the sources: not rebuilt (npm run build rebuilds)');
} else {
  execFileSync(process.execPath, [path.join('node_modules', 'tsup', 'dist', 'cli-default.js')], { stdio: 'inherit' });
}
