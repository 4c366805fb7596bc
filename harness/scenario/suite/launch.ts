/**
 * Runs a plan: spawns vitest on the scenario suite (one worker per lane, suite/lanes.ts: scenarios of
 * different labs run concurrently, those of one lab one after another), then completes the Allure results
 * (categories, environment, executor, history, skip reasons) and returns what the console summary
 * needs. Used by `otwin run`, `otwin replay` and the benchmark.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import {
  type CatalogueCoverage,
  catalogueCoverage,
  renderCoverage,
  scenarioIdsUnder,
  writeUncoveredResults,
} from '../../report/coverage.ts';
import {
  applySkipReasons,
  carryHistory,
  environmentProperties,
  freshResults,
  writeCategories,
  writeEnvironment,
  writeExecutor,
} from '../../report/extras.ts';
import type { RuntimeName } from '../../runtime/runtime.ts';
import type { TransportName } from '../../traffic/transport.ts';
import {
  type Cleanup,
  interruptHandlersInstalled,
  interruptSignal,
  onInterrupt,
} from '../../util/interrupt.ts';
import { sleep } from '../../util/poll.ts';
import { loadScenario } from '../parse.ts';
import { readRecord, type VerdictStatus } from '../record.ts';
import type { ScenarioEntry } from '../suite-file.ts';
import { DEFAULT_CONCURRENCY, inFileOrder, planLanes } from './lanes.ts';
import { PLAN_ENV, type RunPlan } from './plan.ts';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export interface LaunchOptions {
  files: string[];
  /** The same files, each with the lab and implementation it runs on (absent: each its own). */
  entries?: ScenarioEntry[] | undefined;
  lab?: string | undefined;
  /** Lab file → private copy to run on instead (`--lab-prefix`; harness/topology/private-copy.ts). */
  labs?: Record<string, string> | undefined;
  keep?: boolean;
  /** Run on a lab left deployed by an earlier run instead of redeploying it. */
  reuse?: boolean;
  runtime: RuntimeName;
  /** How the traffic engine reaches nodes (default netns). */
  transport?: TransportName;
  replay?: string | undefined;
  /** Reports folder (default <repo>/reports). */
  reportsDir?: string;
  /** Echo vitest's output (default true). */
  stdio?: 'inherit' | 'pipe';
  /** Implementation(s) under test, for environment.properties. */
  implementation?: string;
  /** `--implementation`: overrides every scenario's `implementation:`. */
  implementationOverride?: string | undefined;
  /** `--gateway`: the gateway profiles to run gateway scenarios against. */
  gatewayProfiles?: string[] | undefined;
  /** Lanes (labs) run at the same time (`--concurrency`; default 1: one after another). */
  concurrency?: number;
}

export interface WorkerSummary {
  verdicts: Array<{
    scenario: string;
    /** The scenario file (absolute): puts verdicts merged from concurrent lanes in run order. */
    file?: string;
    name: string;
    status: VerdictStatus;
    area: string;
    message?: string;
  }>;
  lossWindows: Array<{ name: string; ms: number; boundMs: number }>;
  records: string[];
}

export interface LaunchResult {
  runId: string;
  vitestExitCode: number;
  summary: WorkerSummary;
  resultsDir: string;
  junit: string;
  output: string;
  /** Catalogue IDs this run's results carry, and those it does not (reported as not covered). */
  coverage: CatalogueCoverage;
  /** Catalogue ID → the repository's scenario files that name it (for "not covered in this run"). */
  scenarioIds: Map<string, string[]>;
}

export function newRunId(): string {
  return `${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '')}-${randomBytes(2).toString('hex')}`;
}

export async function launch(options: LaunchOptions): Promise<LaunchResult> {
  const reportsDir = resolve(options.reportsDir ?? join(REPO_ROOT, 'reports'));
  const resultsDir = join(reportsDir, 'allure-results');
  const runId = newRunId();
  mkdirSync(reportsDir, { recursive: true });
  freshResults(resultsDir);
  const concurrency = options.replay ? 1 : (options.concurrency ?? DEFAULT_CONCURRENCY);
  const laneFiles = planLanes(
    options.files.map((file) => ({ file, lab: labOf(file, options) })),
    concurrency,
  );
  const lanes = laneFiles.map((files, lane) => ({
    files,
    summaryFile: join(reportsDir, `.summary-${runId}-${lane}.json`),
    workerPidFile: join(reportsDir, `.worker-${runId}-${lane}.pid`),
  }));
  const plan: RunPlan = {
    runId,
    files: options.files,
    ...(options.entries ? { entries: options.entries } : {}),
    lab: options.lab,
    labs: options.labs,
    implementation: options.implementationOverride,
    gatewayProfiles: options.gatewayProfiles,
    keep: options.keep ?? false,
    reuse: options.reuse ?? false,
    runtime: options.runtime,
    transport: options.transport ?? 'netns',
    runsDir: join(reportsDir, 'runs'),
    artifactsDir: join(reportsDir, 'artifacts'),
    replay: options.replay,
    summaryFile: lanes[0]!.summaryFile,
    workerPidFile: lanes[0]!.workerPidFile,
    lanes,
  };
  const planFile = join(reportsDir, `.plan-${runId}.json`);
  writeFileSync(planFile, JSON.stringify(plan, null, 2));
  const vitest = join(REPO_ROOT, 'node_modules', 'vitest', 'vitest.mjs');
  // Under the CLI's Ctrl-C handling vitest runs in its own process group, so a Ctrl-C reaches only
  // the CLI, which hands it to the worker (the one that knows the faults and labs to undo).
  const handOver = interruptHandlersInstalled();
  const child = execa(
    process.execPath,
    [vitest, 'run', '--config', join(REPO_ROOT, 'harness/scenario/suite/vitest.config.ts')],
    {
      cwd: REPO_ROOT,
      reject: false,
      env: {
        [PLAN_ENV]: planFile,
        OTWIN_REPORTS_DIR: reportsDir,
        OTWIN_LANES: String(lanes.length),
        OTWIN_CONCURRENCY: String(concurrency),
        FORCE_COLOR: process.stdout.isTTY ? '1' : '0',
      },
      stdin: 'ignore',
      detached: handOver,
      all: true,
      ...(options.stdio === 'pipe' ? {} : { stdout: ['pipe', 'inherit'], stderr: ['pipe', 'inherit'] }),
    },
  );
  const pidFiles = lanes.map((l) => l.workerPidFile);
  const stopHandOver = handOver ? onInterrupt(workerInterrupt(child, pidFiles)) : () => undefined;
  const result = await child;
  stopHandOver();
  for (const file of pidFiles) rmSync(file, { force: true });
  interruptSignal.throwIfAborted();
  const summary = mergeSummaries(
    lanes.map((l) => l.summaryFile),
    options.files,
  );

  writeCategories(resultsDir);
  writeEnvironment(
    resultsDir,
    await environmentProperties({
      runtime: options.runtime,
      implementation: options.implementation ?? 'frr-evpn',
      run: runId,
    }),
  );
  writeExecutor(resultsDir, runId, join(reportsDir, 'html'));
  carryHistory(join(reportsDir, 'html'), resultsDir);
  applySkipReasons(resultsDir);
  const coverage = catalogueCoverage(resultsDir);
  const scenarioIds = scenarioIdsUnder(join(REPO_ROOT, 'scenarios'));
  writeUncoveredResults(resultsDir, coverage.uncovered, scenarioIds);
  return {
    runId,
    vitestExitCode: result.exitCode ?? 1,
    summary,
    resultsDir,
    junit: join(reportsDir, 'junit.xml'),
    output: String(result.all ?? ''),
    coverage,
    scenarioIds,
  };
}

/** The lab a scenario file runs on (for its lane), or undefined when it does not load (reported later). */
function labOf(file: string, options: LaunchOptions): string | undefined {
  try {
    return loadScenario(file, {
      ...(options.lab ? { lab: options.lab } : {}),
      ...(options.labs ? { labs: options.labs } : {}),
    }).lab;
  } catch {
    return undefined;
  }
}

/** The lanes' summaries as one, verdicts and records in the run's file order. */
export function mergeSummaries(summaryFiles: string[], files: string[]): WorkerSummary {
  const parts = summaryFiles
    .filter((f) => existsSync(f))
    .map((f) => JSON.parse(readFileSync(f, 'utf8')) as WorkerSummary);
  const recordFile = (record: string): string | undefined => {
    try {
      return readRecord(record).scenario.file;
    } catch {
      return undefined;
    }
  };
  return {
    verdicts: inFileOrder(
      parts.flatMap((p) => p.verdicts),
      (v) => v.file,
      files,
    ),
    lossWindows: parts.flatMap((p) => p.lossWindows),
    records: inFileOrder(
      parts.flatMap((p) => p.records),
      recordFile,
      files,
    ),
  };
}

/**
 * The CLI's part of a Ctrl-C: pass SIGTERM to every lane's scenario worker (each reverts its faults
 * and destroys the labs it deployed) and wait for vitest to end; on a second Ctrl-C, kill vitest's
 * process group.
 */
function workerInterrupt(child: ResultPromise, pidFiles: string[]): Cleanup {
  const ended = child.then(
    () => undefined,
    () => undefined,
  );
  let running = true;
  void ended.then(() => {
    running = false;
  });
  return {
    name: 'scenario worker',
    async run() {
      // A worker writes its PID once its interrupt handling is in place; before that it has deployed
      // nothing. Until vitest ends, every worker that appears gets the signal, also a lane that was
      // queued behind the others (more lanes than --concurrency) and starts after the Ctrl-C: it
      // undoes nothing and ends.
      const workerPid = (file: string) => (existsSync(file) ? Number(readFileSync(file, 'utf8')) || 0 : 0);
      const signalled = new Set<number>();
      while (running) {
        for (const pid of pidFiles.map(workerPid)) {
          if (pid <= 0 || signalled.has(pid)) continue;
          signalled.add(pid);
          try {
            process.kill(pid, 'SIGTERM');
          } catch {
            // already gone
          }
        }
        await Promise.race([ended, sleep(100)]);
      }
    },
    force() {
      if (running && child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      return 'labs this run deployed may still be up: `otwin lab inspect --all` lists them, `otwin lab destroy -t <file>` removes one';
    },
  };
}

/** Console summary: verdicts per area, worst loss windows, failures, where the reports are. */
export function renderSummary(result: LaunchResult): string {
  const { verdicts, lossWindows, records } = result.summary;
  const statuses: VerdictStatus[] = ['passed', 'failed', 'broken', 'skipped'];
  const areas = [...new Set(verdicts.map((v) => v.area))].sort();
  const lines = ['', 'overlay-twin scenario run', ''];
  const width = Math.max(12, ...areas.map((a) => a.length));
  lines.push(`${'area'.padEnd(width)}  ${statuses.map((s) => s.padStart(7)).join(' ')}`);
  for (const area of areas) {
    const counts = statuses.map((s) =>
      String(verdicts.filter((v) => v.area === area && v.status === s).length).padStart(7),
    );
    lines.push(`${area.padEnd(width)}  ${counts.join(' ')}`);
  }
  const totals = statuses.map((s) => verdicts.filter((v) => v.status === s).length);
  lines.push(`${'total'.padEnd(width)}  ${totals.map((n) => String(n).padStart(7)).join(' ')}`);
  if (lossWindows.length > 0) {
    lines.push('', 'worst loss windows:');
    for (const w of [...lossWindows].sort((a, b) => b.ms - a.ms).slice(0, 5)) {
      lines.push(
        `  ${String(Math.round(w.ms)).padStart(6)} ms (bound ${w.boundMs} ms)${w.ms > w.boundMs ? ' OVER' : ''}  ${w.name}`,
      );
    }
  }
  const bad = verdicts.filter((v) => v.status === 'failed' || v.status === 'broken');
  if (bad.length > 0) {
    lines.push('', 'not passed:');
    for (const v of bad)
      lines.push(
        `  ${v.status.toUpperCase()} ${v.scenario} › ${v.name}: ${(v.message ?? '').split('\n')[0]!.slice(0, 200)}`,
      );
  }
  const skipped = verdicts.filter((v) => v.status === 'skipped');
  if (skipped.length > 0) {
    const reasons = [...new Set(skipped.map((v) => `${v.scenario}: ${v.message ?? ''}`))];
    lines.push('', 'skipped:');
    for (const r of reasons) lines.push(`  ${r}`);
  }
  lines.push(
    '',
    `Allure results: ${result.resultsDir} (otwin report → reports/html)`,
    `JUnit: ${result.junit}`,
  );
  if (records.length > 0) lines.push(`run records: ${records.length} under ${dirname(records[0]!)}`);
  lines.push('', ...renderCoverage(result.coverage, result.scenarioIds));
  lines.push(
    `${totals[0]} passed, ${totals[1]! + totals[2]!} failed, ${totals[3]} skipped (${totals[2]} of the failures broken)`,
  );
  const nothing = totals[1]! + totals[2]! === 0 ? nothingPassed(result) : undefined;
  if (nothing) lines.push(`${nothing}: exit code 1`);
  return lines.join('\n');
}

/** Why a run without failures still proves nothing (no verdict at all, or none passed), else undefined. */
export function nothingPassed(result: LaunchResult): string | undefined {
  const { verdicts } = result.summary;
  if (verdicts.length === 0) return 'nothing ran: no expectation produced a verdict';
  if (verdicts.some((v) => v.status === 'passed')) return undefined;
  const skipped = verdicts.filter((v) => v.status === 'skipped').length;
  return `nothing passed: ${skipped} of ${verdicts.length} expectations skipped (reasons above), so the run checked nothing`;
}

/**
 * 0 only if every verdict passed or was skipped, at least one passed, and vitest itself had nothing
 * else to complain about.
 */
export function exitCodeOf(result: LaunchResult): number {
  const bad = result.summary.verdicts.some((v) => v.status === 'failed' || v.status === 'broken');
  if (bad || nothingPassed(result)) return 1;
  return result.vitestExitCode === 0 ? 0 : 1;
}
