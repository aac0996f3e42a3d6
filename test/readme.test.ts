// Every `ts` block of the README is a program that compiles and runs: extracted, type-checked against the built
// package (as a consumer imports it: 'pgwal', 'pgwal/node', …) with --strict, and run in a folder holding a copy
// of the shipped fixture's WAL as `pg_wal` and its slot state as `s.state`, as the README says.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { transformSync } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '..');
const fixture = path.join(root, 'fixtures', 'pg17', 'types-dml');

/** The README's ts blocks, dedented, with the line each starts at. */
function readmeBlocks(): { line: number; code: string; live: boolean }[] {
  const lines = fs.readFileSync(path.join(root, 'README.md'), 'utf8').split('\n');
  const blocks: { line: number; code: string; live: boolean }[] = [];
  for (let i = 0; i < lines.length; i++) {
    // ```ts live: a program that needs a running server; type-checked here, not run.
    const open = /^(\s*)```ts(\s+live)?\s*$/.exec(lines[i]!);
    if (open === null) continue;
    const indent = open[1]!.length;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length && !/^\s*```\s*$/.test(lines[j]!); j++) body.push(lines[j]!.slice(indent));
    if (j === lines.length) throw new Error(`README.md:${i + 1}: unterminated ts block`);
    blocks.push({ line: i + 1, code: `${body.join('\n')}\n`, live: open[2] !== undefined });
    i = j;
  }
  return blocks;
}

// Inside the package (test-build/ is ignored by git), so 'pgwal/…' resolves to the package itself, as installed.
const work = path.join(root, 'test-build', `readme-${process.pid}`);
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

describe('README code blocks', () => {
  const blocks = readmeBlocks();

  it('has ts blocks', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(3);
  });

  it('type-check with --strict against the built package', () => {
    expect(fs.existsSync(path.join(root, 'dist', 'node.d.ts')), 'dist/ is missing: npm run build').toBe(true);
    const dir = path.join(work, 'typecheck');
    fs.mkdirSync(dir, { recursive: true });
    const files = blocks.map((b) => {
      const f = path.join(dir, `readme-${b.line}.mts`);
      fs.writeFileSync(f, b.code);
      return f;
    });
    const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    const args = ['--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--types', 'node', '--noUnusedLocals', ...files];
    const r = spawnSync(process.execPath, [tsc, ...args], { cwd: root, encoding: 'utf8' });
    // Errors name README lines: readme-<line>.mts is the block that starts at that line.
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it.each(blocks.filter((b) => !b.live).map((b) => [b.line, b] as const))('the block at README.md:%i runs on the fixture', (line, b) => {
    const dir = path.join(work, `run-${line}`);
    fs.mkdirSync(path.join(dir, 'pg_wal'), { recursive: true });
    for (const n of fs.readdirSync(fixture)) {
      if (/^[0-9A-F]{24}/.test(n)) fs.copyFileSync(path.join(fixture, n), path.join(dir, 'pg_wal', n));
      else if (n.startsWith('slot.state')) fs.cpSync(path.join(fixture, n), path.join(dir, n.replace(/^slot\.state/, 's.state')), { recursive: true });
    }
    const js = transformSync(b.code, { loader: 'ts', format: 'esm', target: 'node20' }).code;
    const file = path.join(dir, 'block.mjs');
    fs.writeFileSync(file, js);
    const r = spawnSync(process.execPath, [file], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout.length).toBeGreaterThan(0);
  });
});
