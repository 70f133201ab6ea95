import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // Slow suites with scripts of their own, which .ci/run also runs: the fault suite
    // (npm run test:faults), the relay fleet (npm run test:fleet) and wine and qemu
    // (npm run test:platforms).
    exclude: ['test/faults/**', 'test/fleet/**', 'test/platforms/**', 'node_modules/**'],
    globalSetup: ['test/support/global-setup.ts'],
    setupFiles: ['test/support/setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two files at a time even on two cores (vitest's default there is one): most of a test's
    // time is spent waiting on the processes it started.
    maxWorkers: 2,
    // Each file in a process of its own: its registry and temporary root are its own.
    isolate: true,
  },
});
