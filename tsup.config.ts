import { defineConfig } from 'tsup';

// Library entries: one per layer (see package.json "exports"). The CLI is a separate ESM-only build.
export default defineConfig([
  {
    entry: {
      index: 'src/index.ts',
      xlogreader: 'src/xlogreader/index.ts',
      node: 'src/node/index.ts',
      timeline: 'src/timeline/index.ts',
      protocol: 'src/protocol/index.ts',
      reorderbuffer: 'src/reorderbuffer/index.ts',
      slot: 'src/slot/index.ts',
      catalog: 'src/catalog/index.ts',
    },
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'node20',
    splitting: true,
  },
  {
    entry: { main: 'src/cli/main.ts' },
    outDir: 'dist/cli',
    format: ['esm'],
    sourcemap: true,
    target: 'node20',
    banner: { js: '#!/usr/bin/env node' },
    // Subcommands are imported when used (main.ts): chunks, so `pgwal dump` does not load the decoder.
    splitting: true,
  },
]);
