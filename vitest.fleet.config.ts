import { defineConfig } from 'vitest/config';

/** `npm run test:fleet`: the relay as a fleet (nats-server, three instances, nginx); run by .ci/run. */
export default defineConfig({
  test: {
    include: ['test/fleet/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    setupFiles: ['test/support/setup.ts'],
    testTimeout: 300_000,
    hookTimeout: 120_000,
    pool: 'forks',
    isolate: true,
    fileParallelism: false,
  },
});
