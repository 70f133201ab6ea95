import { defineConfig } from 'vitest/config';

/** `npm run test:platforms`: the packaged agent for each target, under wine and qemu. */
export default defineConfig({
  test: {
    include: ['test/platforms/**/*.test.ts'],
    testTimeout: 180_000,
    hookTimeout: 600_000,
    pool: 'forks',
    // Two cores: one emulator at a time keeps each run's timings meaningful.
    fileParallelism: false,
  },
});
