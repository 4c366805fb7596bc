/**
 * vitest configuration for scenario runs (`otwin run`): the lane files of the run plan
 * (harness/scenario/suite/lanes.ts; one lane: scenarios.suite.ts alone), each turning its lane's
 * scenarios into suites in a worker process of its own, up to $OTWIN_CONCURRENCY lanes at a time,
 * lane 0 (the largest) first. Reporters: console, Allure results, JUnit, JSON. The CLI passes the
 * output paths, the lane count and the concurrency through environment variables.
 */

import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { laneFile } from './lanes.ts';

const reports = process.env.OTWIN_REPORTS_DIR ?? 'reports';
const lanes = Math.max(1, Number(process.env.OTWIN_LANES ?? 1) || 1);
const concurrency = Math.max(1, Math.min(lanes, Number(process.env.OTWIN_CONCURRENCY ?? 1) || 1));
const files = Array.from({ length: lanes }, (_, lane) => laneFile(lane));

/** Lanes start in lane order (largest first), not by vitest's cached durations. */
class LaneOrder extends BaseSequencer {
  override async sort(specs: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (s: TestSpecification) => files.findIndex((f) => s.moduleId.endsWith(f));
    return [...specs].sort((a, b) => rank(a) - rank(b));
  }
}

export default defineConfig({
  test: {
    root: process.cwd(),
    include: files,
    pool: 'forks',
    // Every lane in a process of its own: a lane's labs, probe server and faults are its alone.
    isolate: true,
    maxWorkers: concurrency,
    fileParallelism: concurrency > 1,
    sequence: { sequencer: LaneOrder },
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
