/**
 * `npm run bench -- scenario`: wall time of the default suite end to end — deploy the default lab,
 * run the default suite (scenarios/{vx,l2,l3,arp,evpn,az,sg,nat} on the reference implementation, as
 * `otwin run` with no arguments), destroy the lab, generate the Allure report.
 * Ends with `BENCH default_suite_s <value> s`.
 */

import { generateReport } from '../harness/cli/commands/report.ts';
import { defaultScenarioRoots } from '../harness/cli/commands/run.ts';
import { getRuntime } from '../harness/runtime/index.ts';
import { collectScenarioFiles, loadScenario } from '../harness/scenario/parse.ts';
import { exitCodeOf, launch, renderSummary } from '../harness/scenario/suite/launch.ts';
import { loadTopology } from '../harness/topology/load.ts';

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
  for (const w of result.summary.lossWindows)
    console.log(`BENCH loss_window_ms ${Math.round(w.ms)} ms  # ${w.name}`);
  console.log(`BENCH default_suite_s ${((end - start) / 1000).toFixed(1)} s`);
}
