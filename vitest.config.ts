import { defineConfig } from 'vitest/config';

// CPU suite (npm test). Forked workers: a native crash fails one file, not the run.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/gpu/**', 'test/pack/**', 'node_modules/**'],
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 300_000,
  },
});
