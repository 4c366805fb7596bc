/**
 * What a benchmark that drives an implementation needs first (sg, fip): the scenario's intent on the
 * given lab, the implementation's driver (refused without `capability`), the lab deployed afresh,
 * a probe server, and a driver context whose `accepted` does nothing (benchmarks time from the API call).
 */
import { getRuntime } from '../harness/runtime/index.ts';
import type { DeployedLab, Runtime } from '../harness/runtime/runtime.ts';
import type { Capability, DriverContext, ImplementationDriver } from '../harness/scenario/drivers/driver.ts';
import { getDriver } from '../harness/scenario/drivers/index.ts';
import { loadScenario } from '../harness/scenario/parse.ts';
import type { Scenario } from '../harness/scenario/types.ts';
import { loadTopology } from '../harness/topology/load.ts';
import type { Topology } from '../harness/topology/types.ts';
import { ProbeServer } from '../harness/traffic/server.ts';

export interface BenchLab {
  scenario: Scenario;
  driver: ImplementationDriver;
  topo: Topology;
  runtime: Runtime;
  lab: DeployedLab;
  probes: ProbeServer;
  ctx: DriverContext;
}

export async function deployForBench(
  scenarioFile: string,
  labFile: string,
  implementation: string,
  capability: Capability,
): Promise<BenchLab> {
  const scenario = loadScenario(scenarioFile, { lab: labFile });
  const driver = await getDriver(implementation);
  if (!driver.capabilities.has(capability))
    throw new Error(`implementation ${driver.name} does not implement ${capability}`);
  const topo = await loadTopology(scenario.lab);
  const runtime = await getRuntime('netns');
  console.log(`deploying ${topo.name} ...`);
  const lab = await runtime.deploy(topo, { reconfigure: true });
  const probes = await ProbeServer.start({ requireScapy: false, prewarmScapy: false });
  const intent = scenario.intent;
  const ctx: DriverContext = { lab, intent, scenario, log: (m) => console.log(`  ${m}`), accepted: () => {} };
  return { scenario, driver, topo, runtime, lab, probes, ctx };
}
