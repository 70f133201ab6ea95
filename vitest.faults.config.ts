import { defineConfig } from 'vitest/config';

/** `npm run test:faults`: processes killed at chosen points, a lossy link; run by .ci/run. */
export default defineConfig({
  test: {
    include: ['test/faults/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    setupFiles: ['test/support/setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: 'forks',
    isolate: true,
  },
});
