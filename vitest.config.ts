import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Live tests start real servers; two cores, so keep the pool small.
    maxWorkers: 2,
  },
});
