/**
 * `npm run bench -- scenario`: wall time of the default suite end to end — deploy the default lab,
 * run the default suite (scenarios/{vx,l2,l3,arp,evpn,az,sg,nat} on the reference implementation, as
 * `otwin run` with no arguments), destroy the lab, generate the Allure report.
 * Prints the scenario time of every pack (from the run records) and ends with
 * `BENCH pack_<pack>_s` lines and `BENCH default_suite_s <value> s`.
 */

import { basename, dirname } from 'node:path';
import { generateReport } from '../harness/cli/commands/report.ts';
import { defaultScenarioRoots } from '../harness/cli/commands/run.ts';
import { getRuntime } from '../harness/runtime/index.ts';
import { collectScenarioFiles, loadScenario } from '../harness/scenario/parse.ts';
import { readRecord } from '../harness/scenario/record.ts';
import { exitCodeOf, launch, renderSummary } from '../harness/scenario/suite/launch.ts';
import { loadTopology } from '../harness/topology/load.ts';

/**
 * Seconds spent in each pack (the scenario file's folder). The suite runs scenarios one after another
 * and a record's `startedAt` can be earlier than its scenario's first step (records are created when
 * the suite is collected), so each scenario is charged from the previous one's finish to its own.
 */
export function secondsPerPack(recordFiles: string[]): Map<string, { scenarios: number; seconds: number }> {
  const records = recordFiles
    .map((file) => readRecord(file))
    .filter((r) => r.finishedAt !== undefined)
    .sort((a, b) => Date.parse(a.finishedAt!) - Date.parse(b.finishedAt!));
  const packs = new Map<string, { scenarios: number; seconds: number }>();
  let previousEnd = 0;
  for (const record of records) {
    const end = Date.parse(record.finishedAt!);
    const start = Math.max(Date.parse(record.startedAt), previousEnd);
    previousEnd = end;
    const pack = basename(dirname(record.scenario.file));
    const entry = packs.get(pack) ?? { scenarios: 0, seconds: 0 };
    entry.scenarios += 1;
    entry.seconds += (end - start) / 1000;
    packs.set(pack, entry);
  }
  return packs;
}

export async function main(_argv: string[]): Promise<void> {
  const files = collectScenarioFiles(defaultScenarioRoots());
  const scenarios = files.map((f) => loadScenario(f));
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
  for (const w of result.summary.lossWindows)
    console.log(`BENCH loss_window_ms ${Math.round(w.ms)} ms  # ${w.name}`);
  for (const [pack, { seconds }] of packs) console.log(`BENCH pack_${pack}_s ${seconds.toFixed(1)} s`);
  console.log(`BENCH default_suite_s ${((end - start) / 1000).toFixed(1)} s`);
}
