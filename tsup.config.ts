import fs from 'node:fs';
import { defineConfig } from 'tsup';

// Library entries: one per layer (see package.json "exports"), as ES modules and CommonJS. The CLI is built with
// the ES modules, so it shares their chunks instead of carrying a copy of the library of its own.
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
    // Subcommands are imported when used (main.ts): chunks, so `pgwal dump` does not load the decoder.
    entry: { ...library, 'cli/main': 'src/cli/main.ts' },
    format: ['esm'],
    dts: { entry: library },
    clean: true,
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
