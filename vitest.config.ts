import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two files at once on CI's two cores (vitest's default is cores - 1, one file at a time): most
    // tests wait on child processes, servers and PostgreSQL, so a second worker nearly halves the run.
    maxWorkers: 2,
    // The PostgreSQL server of the PostgreSQL half (CONSENT_TEST_PG_URL, else a throwaway cluster).
    globalSetup: ['./test/helpers/pg-global-setup.ts'],
    reporters: ['default', './test/helpers/summary-reporter.ts'],
  },
});
