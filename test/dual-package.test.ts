// The built package loaded both ways in one process (an ES module consumer and a CommonJS dependency of it):
// an error thrown by one build answers `instanceof` against the other build's classes, by class, not by
// accident. Runs on dist/ as npm test builds it.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const dist = path.resolve(import.meta.dirname, '..', 'dist');

const script = `
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const esm = { root: await import(${JSON.stringify(path.join(dist, 'index.js'))}), catalog: await import(${JSON.stringify(path.join(dist, 'catalog.js'))}) };
const cjs = { root: require(${JSON.stringify(path.join(dist, 'index.cjs'))}), catalog: require(${JSON.stringify(path.join(dist, 'catalog.cjs'))}) };
const thrown = (b) => { try { b.root.parseLsn('not an lsn'); } catch (e) { return e; } };
const out = {};
for (const [from, to] of [['cjs', 'esm'], ['esm', 'cjs']]) {
  const a = from === 'cjs' ? cjs : esm, b = from === 'cjs' ? esm : cjs;
  const parse = thrown(a);
  const format = new a.root.WalFormatError('x', 'y');
  const catalog = new a.catalog.CatalogError('c', 'm');
  out[from + '->' + to] = {
    distinctClasses: a.root.WalError !== b.root.WalError,
    parseIsWalError: parse instanceof b.root.WalError,
    parseIsInvalidArgument: parse instanceof b.root.InvalidArgumentError,
    parseIsFormat: parse instanceof b.root.WalFormatError,
    formatIsFormat: format instanceof b.root.WalFormatError,
    formatIsSource: format instanceof b.root.WalSourceError,
    catalogIsCatalog: catalog instanceof b.catalog.CatalogError,
    catalogIsWalError: catalog instanceof b.root.WalError,
    plainIsWalError: new Error('x') instanceof b.root.WalError,
    nullIsWalError: null instanceof b.root.WalError,
  };
}
console.log(JSON.stringify(out));
`;

describe('dual package: ESM and CommonJS builds in one process', () => {
  it("an error from one build is an instance of the other build's class and of no other", () => {
    expect(fs.existsSync(path.join(dist, 'index.cjs')), 'dist/ is missing: npm run build').toBe(true);
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    const got = JSON.parse(r.stdout) as Record<string, Record<string, boolean>>;
    const want = {
      distinctClasses: true,
      parseIsWalError: true,
      parseIsInvalidArgument: true,
      parseIsFormat: false,
      formatIsFormat: true,
      formatIsSource: false,
      catalogIsCatalog: true,
      catalogIsWalError: true,
      plainIsWalError: false,
      nullIsWalError: false,
    };
    expect(got).toEqual({ 'cjs->esm': want, 'esm->cjs': want });
  });
});
