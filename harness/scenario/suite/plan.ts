/** The run plan the CLI hands to the vitest worker (JSON file named by $OTWIN_PLAN). */
import { readFileSync } from 'node:fs';
import type { RuntimeName } from '../../runtime/runtime.ts';
import type { TransportName } from '../../traffic/transport.ts';
import type { ScenarioEntry } from '../suite-file.ts';

export interface RunPlan {
  runId: string;
  /** Scenario files, absolute. */
  files: string[];
  /**
   * The files to run, each with the lab and implementation it was validated with (suite files name
   * them); absent in older plans and from callers that give files only: `files`, each on its own.
   */
  entries?: ScenarioEntry[];
  /** `--lab`: run every scenario on this lab file instead of its own. */
  lab: string | undefined;
  /** `--lab-prefix`: each scenario's lab file (absolute) → the private copy it runs on instead. */
  labs?: Record<string, string> | undefined;
  /** `--implementation`: run every scenario against this implementation instead of its own. */
  implementation: string | undefined;
  /** `--gateway`: run each gateway scenario once per selected profile (undefined: its own first). */
  gatewayProfiles?: string[] | undefined;
  keep: boolean;
  /** Run on a lab left deployed by an earlier run instead of redeploying it (`--reuse`). */
  reuse: boolean;
  runtime: RuntimeName;
  /** How the traffic engine reaches nodes (`--transport`; absent in older plans: netns). */
  transport?: TransportName;
  runsDir: string;
  artifactsDir: string;
  /** Re-execute this run record's timeline (seed, step start times, chaos schedules). */
  replay: string | undefined;
  /** Where the worker writes its summary (loss windows, verdict counts) for the CLI. */
  summaryFile: string;
  /** Where the worker writes its PID, so the CLI can hand it a Ctrl-C (vitest runs detached). */
  workerPidFile: string;
  /**
   * Concurrent runs (suite/lanes.ts): each lane's files and the worker's own summary and PID files.
   * A lane's worker reads the plan with its lane's fields in place of the run's.
   */
  lanes?: LanePlan[];
}

export interface LanePlan {
  files: string[];
  summaryFile: string;
  workerPidFile: string;
}

export const PLAN_ENV = 'OTWIN_PLAN';
/** Set by a lane's test file (suite/lanes/lane-N.suite.ts) before it loads the scenario suite. */
export const LANE_ENV = 'OTWIN_LANE';

export function readPlan(): RunPlan {
  const file = process.env[PLAN_ENV];
  if (!file) throw new Error(`${PLAN_ENV} is not set: run scenarios with \`otwin run\``);
  const plan = JSON.parse(readFileSync(file, 'utf8')) as RunPlan;
  const lane = plan.lanes?.[Number(process.env[LANE_ENV] ?? 0)];
  return lane ? { ...plan, ...lane } : plan;
}
