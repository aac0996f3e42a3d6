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
    // The CLI on its own, in dist/cli/: its chunks are split by its own dynamic imports alone (a subcommand, an
    // output plugin, --dsn's streaming modules are imported when used, see main.ts and decode-options.ts), not by
    // the library's eight entries as well, which cut the code of `pgwal dump` and `pgwal decode` into many more
    // files: each file is a cost at every start (bench/README.md, start-up). The CLI carries its own copy of the
    // library code it uses.
    entry: { main: 'src/cli/main.ts', 'format-worker': 'src/cli/format-worker.ts' },
    outDir: 'dist/cli',
    format: ['esm'],
    target: 'node20',
    splitting: true,
    // The CLI entry alone gets the interpreter line and the execute bits.
    onSuccess: async () => {
      const text = fs.readFileSync(CLI, 'utf8');
      if (!text.startsWith('#!')) fs.writeFileSync(CLI, `#!/usr/bin/env node\n${text}`);
      fs.chmodSync(CLI, 0o755);
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
