import { defineConfig } from 'vitest/config';

// Tests run on the real kernel as root. Two cores: at most two test files at once; every lab and
// fixture uses its own namespace prefix so parallel files never collide.
export default defineConfig({
  test: {
    include: [
      'harness/**/*.test.ts',
      'reference-impl/**/*.test.ts',
      'implementations/**/*.test.ts',
      'tests/**/*.test.ts',
    ],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    setupFiles: ['allure-vitest/setup'],
    reporters: [
      'default',
      ['json', { outputFile: 'reports/vitest.json' }],
      ['junit', { outputFile: 'reports/junit-tests.xml' }],
      ['allure-vitest/reporter', { resultsDir: 'reports/allure-results-tests', reportMatchers: false }],
    ],
  },
});
