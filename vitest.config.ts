import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/default-ledger-guard.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Integration tests start real servers; keep the 2-core CI machine from oversubscribing.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
