import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { defineConfig } from 'tsup';

// Library entries: one per layer (see package.json "exports"), as ES modules and CommonJS.
const library = {
  index: 'src/index.ts',
  xlogreader: 'src/xlogreader/index.ts',
  node: 'src/node/index.ts',
  timeline: 'src/timeline/index.ts',
  protocol: 'src/protocol/index.ts',
  reorderbuffer: 'src/reorderbuffer/index.ts',
  slot: 'src/slot/index.ts',
  catalog: 'src/catalog/index.ts',
};

const CLI = 'dist/cli/main.js';

export default defineConfig([
  {
    entry: library,
    format: ['esm'],
    dts: { entry: library },
    clean: true,
    target: 'node20',
    splitting: true,
  },
  {
    // The CLI on its own, in dist/cli/, as CommonJS (dist/cli/package.json says so): pgwal.js is all of it in one
    // file (a subcommand, an output plugin, --dsn's modules are still evaluated only when used: see main.ts and
    // decode-options.ts), main.js starts it from the V8 code cache that scripts/make-code-cache.mjs makes
    // (src/cli/bin.ts). One file and a code cache start a small decode ~30 ms sooner than ES module chunks, which
    // Node 20 compiles anew at every start (bench/README.md, start-up). The format thread's module stays apart.
    // The CLI carries its own copy of the library code it uses.
    entry: { main: 'src/cli/bin.ts', pgwal: 'src/cli/main.ts', 'format-worker': 'src/cli/format-worker.ts' },
    outDir: 'dist/cli',
    format: ['cjs'],
    outExtension: () => ({ js: '.js' }),
    target: 'node20',
    splitting: false,
    shims: true,
    // Whitespace and comments out, strings as ASCII: 0.9 MB, one byte a character. Its buffers freed after loading
    // must stay under 1 MiB: glibc raises its threshold for giving an allocation its own mapping to the size of
    // one freed, and above 1 MiB the reorder buffer's 1 MiB chunks went to the main heap and fragmented it
    // (+16 MiB peak RSS for a 1 GB transaction; bench/README.md, start-up). test/cli-code-cache.test.ts holds it.
    minifyWhitespace: true,
    // import() of a module the bundle holds becomes a call in the bundle, and import('pg') a require: a vm.Script
    // has no loader for import().
    esbuildOptions(options) {
      options.supported = { ...options.supported, 'dynamic-import': false };
      options.charset = 'ascii';
    },
    // The CLI entry alone gets the interpreter line and the execute bits.
    onSuccess: async () => {
      fs.writeFileSync('dist/cli/package.json', '{ "type": "commonjs" }\n');
      const text = fs.readFileSync(CLI, 'utf8');
      if (!text.startsWith('#!')) fs.writeFileSync(CLI, `#!/usr/bin/env node\n${text}`);
      fs.chmodSync(CLI, 0o755);
      execFileSync(process.execPath, ['scripts/make-code-cache.mjs'], { stdio: 'inherit' });
    },
  },
  {
    entry: library,
    format: ['cjs'],
    dts: true,
    target: 'node20',
    // One copy of each module across the CommonJS entries too (pgwal and pgwal/slot share WalError).
    splitting: true,
  },
]);
