import { defineConfig } from 'vitest/config';

// The pack-and-install test (npm run test:pack): slow, run by CI after the build.
export default defineConfig({
  test: {
    include: ['test/pack/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 600_000,
    hookTimeout: 600_000,
  },
});
