import { defineConfig } from 'vitest/config';

// GPU suite (npm run test:gpu): the whole CPU suite again with S4_BACKEND=cuda, plus the
// CPU-vs-CUDA parity tests in test/gpu. test/gpu/require-gpu.test.ts fails when no GPU.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/pack/**', 'node_modules/**'],
    pool: 'forks',
    testTimeout: 300_000,
    hookTimeout: 300_000,
  },
});
