/**
 * `npm run bench -- scenario [--lab-prefix <p>]`: wall time of the default suite end to end — deploy the default lab,
 * run the default suite (scenarios/{vx,l2,l3,arp,evpn,az,sg,nat} on the reference implementation, as
 * `otwin run` with no arguments), destroy the lab, generate the Allure report.
 * Prints the scenario time of every pack (from the run records) and ends with
 * `BENCH pack_<pack>_s` lines and `BENCH default_suite_s <value> s`. `--lab-prefix` (or
 * $OTWIN_LAB_PREFIX) runs on private copies of the labs, as `otwin run --lab-prefix`.
 */

import { basename, dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { generateReport } from '../harness/cli/commands/report.ts';
import { defaultScenarioRoots } from '../harness/cli/commands/run.ts';
import { getRuntime } from '../harness/runtime/index.ts';
import { collectScenarioFiles, loadScenario } from '../harness/scenario/parse.ts';
import { readRecord } from '../harness/scenario/record.ts';
import { parseConcurrency } from '../harness/scenario/suite/lanes.ts';
import { exitCodeOf, launch, renderSummary } from '../harness/scenario/suite/launch.ts';
import { loadTopology } from '../harness/topology/load.ts';
import { privateLabCopies } from '../harness/topology/private-copy.ts';

/**
 * Seconds spent in each pack (the scenario file's folder). Scenarios on one lab run one after another
 * (labs run concurrently, suite/lanes.ts); each scenario is charged from its start (`startedAt`, its
 * suite's first hook) or the finish of the previous one on its lab, whichever is later, to its finish:
 * the first scenario on a lab carries the lab's deployment. With concurrent labs the packs' sum is more
 * than the wall time.
 */
export function secondsPerPack(recordFiles: string[]): Map<string, { scenarios: number; seconds: number }> {
  const packs = new Map<string, { scenarios: number; seconds: number }>();
  for (const { pack, seconds } of secondsPerScenario(recordFiles)) {
    const entry = packs.get(pack) ?? { scenarios: 0, seconds: 0 };
    entry.scenarios += 1;
    entry.seconds += seconds;
    packs.set(pack, entry);
  }
  return packs;
}

/** Each scenario's seconds (charged as in secondsPerPack), in the order they finished. */
export function secondsPerScenario(
  recordFiles: string[],
): Array<{ name: string; pack: string; seconds: number }> {
  const records = recordFiles
    .map((file) => readRecord(file))
    .filter((r) => r.finishedAt !== undefined)
    .sort((a, b) => Date.parse(a.finishedAt!) - Date.parse(b.finishedAt!));
  const previousEnd = new Map<string, number>();
  return records.map((record) => {
    const end = Date.parse(record.finishedAt!);
    const start = Math.max(Date.parse(record.startedAt), previousEnd.get(record.scenario.lab) ?? 0);
    previousEnd.set(record.scenario.lab, end);
    return {
      name: record.scenario.name,
      pack: basename(dirname(record.scenario.file)),
      seconds: (end - start) / 1000,
    };
  });
}

export async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { 'lab-prefix': { type: 'string' }, concurrency: { type: 'string', short: 'j' } },
  });
  const concurrency = parseConcurrency(values.concurrency);
  const labPrefix = values['lab-prefix'] ?? (process.env.OTWIN_LAB_PREFIX || undefined);
  const files = collectScenarioFiles(defaultScenarioRoots());
  const own = files.map((f) => loadScenario(f));
  const labs = labPrefix
    ? privateLabCopies(
        own.map((s) => s.lab),
        labPrefix,
      )
    : undefined;
  const scenarios = labs ? files.map((f) => loadScenario(f, { labs })) : own;
  // A fair start: none of the suite's labs left deployed from an earlier `--keep`.
  const runtime = await getRuntime('netns');
  for (const lab of new Set(scenarios.map((s) => s.lab))) {
    const topology = await loadTopology(lab);
    if (await runtime.attach(topology)) await runtime.destroy(topology);
  }
  const start = performance.now();
  const result = await launch({
    files,
    runtime: 'netns',
    stdio: 'pipe',
    labs,
    concurrency,
    implementation: [...new Set(scenarios.map((s) => s.implementation))].join(','),
  });
  const runDone = performance.now();
  await generateReport({ quiet: true });
  const end = performance.now();
  console.log(renderSummary(result));
  console.log(
    `\nscenarios: ${scenarios.length}, expectations: ${result.summary.verdicts.length}, exit code ${exitCodeOf(result)}`,
  );
  console.log(
    `deploy + run + destroy: ${((runDone - start) / 1000).toFixed(1)} s; report: ${((end - runDone) / 1000).toFixed(1)} s`,
  );
  const packs = secondsPerPack(result.summary.records);
  for (const [pack, { scenarios: n, seconds }] of [...packs].sort((a, b) => b[1].seconds - a[1].seconds))
    console.log(`pack ${pack}: ${n} scenario(s), ${seconds.toFixed(1)} s of scenario time`);
  console.log('(scenario time excludes deploying and destroying labs, which the total includes)');
  const slowest = secondsPerScenario(result.summary.records).sort((a, b) => b.seconds - a.seconds);
  console.log('slowest scenarios:');
  for (const s of slowest.slice(0, 12))
    console.log(`  ${s.seconds.toFixed(1).padStart(6)} s  ${s.pack}/${s.name}`);
  // The worker's own timings of each lab's deploy and destroy.
  for (const line of result.output.split('\n'))
    if (/lab \S+: (deployed|destroyed) in /.test(line)) console.log(line.replace(/^.*\[otwin\] /, ''));
  for (const w of result.summary.lossWindows)
    console.log(`BENCH loss_window_ms ${Math.round(w.ms)} ms  # ${w.name}`);
  for (const [pack, { seconds }] of packs) console.log(`BENCH pack_${pack}_s ${seconds.toFixed(1)} s`);
  console.log(`BENCH default_suite_s ${((end - start) / 1000).toFixed(1)} s`);
}
