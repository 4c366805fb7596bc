/**
 * Lanes: how `otwin run` runs scenarios concurrently. A lane is a list of scenario files that one
 * vitest worker process runs one after another, on labs that worker deploys and destroys itself.
 * Scenarios on the same lab always share a lane: scenarios on one deployment change its state
 * (faults, provisioned tenants, the driver's teardown of everything it provisioned), so the run
 * never overlaps two of them. Lanes never share a lab, hence never a node, namespace, socket or
 * deployment: concurrent lanes compete only for CPU.
 *
 * Lane 0 is the largest and runs in harness/scenario/suite/scenarios.suite.ts (the file a one-lane
 * run has always used, so its Allure history carries on); lane N > 0 in lanes/lane-N.suite.ts.
 */
import { resolve } from 'node:path';

/** Lane files that exist (scenarios.suite.ts plus lanes/lane-1..3.suite.ts). */
export const MAX_LANES = 4;

/**
 * The default `--concurrency`: one lane, the sequential run. Measured on the 2-core machine (docs/
 * scenarios.md): two lanes were no faster (the labs' deploys compete for the cores) and FED-2's BGP tap
 * then missed its peering wait twice in five runs.
 */
export const DEFAULT_CONCURRENCY = 1;

export interface LaneInput {
  file: string;
  /** The lab the scenario runs on (absolute); undefined when the file did not load. */
  lab: string | undefined;
}

/**
 * Splits the run into lanes. With concurrency 1 (or a single lab), one lane in the given order: the
 * sequential run. Otherwise one lane per lab (labs beyond MAX_LANES packed onto the lane with the
 * fewest scenarios), largest lane first; files keep their given order inside a lane. A file that did
 * not load joins lane 0, where it is reported broken.
 */
export function planLanes(inputs: LaneInput[], concurrency: number): string[][] {
  const files = inputs.map((i) => i.file);
  if (inputs.length === 0) return [[]];
  const byLab = new Map<string, LaneInput[]>();
  for (const input of inputs) {
    if (input.lab === undefined) continue;
    const key = resolve(input.lab);
    byLab.set(key, [...(byLab.get(key) ?? []), input]);
  }
  if (concurrency <= 1 || byLab.size <= 1) return [files];
  // Largest lab first; ties keep the order in which the labs first appear.
  const groups = [...byLab.values()].sort((a, b) => b.length - a.length);
  const lanes: LaneInput[][] = [];
  for (const group of groups) {
    if (lanes.length < MAX_LANES) {
      lanes.push([...group]);
      continue;
    }
    const smallest = lanes.reduce((best, lane, i) => (lane.length < lanes[best]!.length ? i : best), 0);
    lanes[smallest]!.push(...group);
  }
  lanes[0]!.push(...inputs.filter((i) => i.lab === undefined));
  const position = new Map(files.map((f, i) => [f, i]));
  const ordered = lanes.map((lane) =>
    [...new Set(lane.map((i) => i.file))].sort((a, b) => position.get(a)! - position.get(b)!),
  );
  // Lane 0 stays the largest after packing (and the failed loads).
  return ordered.sort((a, b) => b.length - a.length);
}

/** The test file of a lane, relative to the repository (vitest's `include`). */
export function laneFile(lane: number): string {
  if (lane < 0 || lane >= MAX_LANES) throw new RangeError(`lane ${lane} out of 0..${MAX_LANES - 1}`);
  return lane === 0
    ? 'harness/scenario/suite/scenarios.suite.ts'
    : `harness/scenario/suite/lanes/lane-${lane}.suite.ts`;
}

/** The `--concurrency` value, or a clear complaint about it. */
export function parseConcurrency(value: string | undefined): number {
  if (value === undefined || value === '') return DEFAULT_CONCURRENCY;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new RangeError(`--concurrency ${JSON.stringify(value)}: give a whole number of 1 or more`);
  return Math.min(n, MAX_LANES);
}

/**
 * Puts items merged from several lanes back into the run's file order (a stable sort): the console
 * summary, the summary file and the records read the same whatever lane finished first.
 */
export function inFileOrder<T>(items: T[], fileOf: (item: T) => string | undefined, files: string[]): T[] {
  const position = new Map(files.map((f, i) => [f, i]));
  const rank = (item: T) => position.get(fileOf(item) ?? '') ?? files.length;
  return items
    .map((item, i) => ({ item, i }))
    .sort((a, b) => rank(a.item) - rank(b.item) || a.i - b.i)
    .map(({ item }) => item);
}
