/** Exit codes that cannot lie: a run (or a test run) in which nothing passed is not a success. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import type { VerdictStatus } from '../record.ts';
import { exitCodeOf, type LaunchResult, nothingPassed, renderSummary } from './launch.ts';

const repo = join(import.meta.dirname, '..', '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'otwin-exit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function runWith(statuses: VerdictStatus[], vitestExitCode = 0): LaunchResult {
  return {
    runId: 'r',
    vitestExitCode,
    summary: {
      verdicts: statuses.map((status, i) => ({
        scenario: 's',
        name: `check ${i}`,
        status,
        area: 'data plane',
        ...(status === 'skipped' ? { message: 'kernel/machine lacks vrf' } : {}),
      })),
      lossWindows: [],
      records: [],
    },
    resultsDir: dir,
    junit: join(dir, 'junit.xml'),
    output: '',
    coverage: { covered: new Map(), uncovered: [], total: 0 },
    scenarioIds: new Map(),
  };
}

describe('otwin run exit code', () => {
  it('is 0 only when something passed and nothing failed or broke', () => {
    expect(exitCodeOf(runWith(['passed', 'skipped']))).toBe(0);
    expect(exitCodeOf(runWith(['passed', 'failed']))).toBe(1);
    expect(exitCodeOf(runWith(['passed', 'broken']))).toBe(1);
    expect(exitCodeOf(runWith(['passed'], 1))).toBe(1);
  });

  it('is 1 with a clear message when everything was skipped or nothing ran', () => {
    const skipped = runWith(['skipped', 'skipped']);
    expect(exitCodeOf(skipped)).toBe(1);
    expect(nothingPassed(skipped)).toMatch(/nothing passed: 2 of 2 expectations skipped/);
    expect(renderSummary(skipped)).toMatch(/nothing passed: .*: exit code 1$/);
    expect(exitCodeOf(runWith([]))).toBe(1);
    expect(nothingPassed(runWith([]))).toMatch(/nothing ran/);
  });
});

describe('npm test summary (scripts/test-summary.mjs)', () => {
  const summarise = async (report: object | undefined) => {
    const file = join(dir, `vitest-${Math.random().toString(36).slice(2)}.json`);
    if (report) writeFileSync(file, JSON.stringify(report));
    return execa(process.execPath, [join(repo, 'scripts', 'test-summary.mjs'), file], { reject: false });
  };

  it('ends with the plain line and exits 0 when tests passed and none failed', async () => {
    const r = await summarise({ numPassedTests: 3, numFailedTests: 0, numPendingTests: 1, testResults: [] });
    expect(r.stdout).toBe('3 passed, 0 failed, 1 skipped');
    expect(r.exitCode).toBe(0);
  });

  it('exits non-zero when zero tests passed, when one failed, and when the report is missing', async () => {
    const none = await summarise({
      numPassedTests: 0,
      numFailedTests: 0,
      numPendingTests: 5,
      testResults: [],
    });
    expect(none.stdout).toBe('0 passed, 0 failed, 5 skipped');
    expect(none.stderr).toMatch(/nothing passed/);
    expect(none.exitCode).toBe(1);
    const failed = await summarise({ numPassedTests: 2, numFailedTests: 1, testResults: [] });
    expect(failed.stdout).toBe('2 passed, 1 failed, 0 skipped');
    expect(failed.exitCode).toBe(1);
    const missing = await summarise(undefined);
    expect(missing.stdout).toBe('0 passed, 1 failed, 0 skipped');
    expect(missing.exitCode).toBe(1);
  });
});
