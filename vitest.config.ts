import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // The PostgreSQL server of the PostgreSQL half (CONSENT_TEST_PG_URL, else a throwaway cluster).
    globalSetup: ['./test/helpers/pg-global-setup.ts'],
    reporters: ['default', './test/helpers/summary-reporter.ts'],
  },
});
