/**
 * vitest configuration for scenario runs (`otwin run`): one test file that turns the scenarios named
 * in the run plan into suites. Reporters: console, Allure results, JUnit, JSON. The CLI passes the
 * output paths through environment variables.
 */
import { defineConfig } from 'vitest/config';

const reports = process.env.OTWIN_REPORTS_DIR ?? 'reports';

export default defineConfig({
  test: {
    root: process.cwd(),
    include: ['harness/scenario/suite/scenarios.suite.ts'],
    pool: 'forks',
    maxWorkers: 1,
    fileParallelism: false,
    testTimeout: 600_000,
    hookTimeout: 300_000,
    setupFiles: ['allure-vitest/setup'],
    reporters: [
      'default',
      ['junit', { outputFile: `${reports}/junit.xml`, suiteName: 'overlay-twin scenarios' }],
      ['json', { outputFile: `${reports}/scenarios.json` }],
      ['allure-vitest/reporter', { resultsDir: `${reports}/allure-results`, reportMatchers: false }],
    ],
  },
});
