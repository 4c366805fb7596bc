/**
 * Worker-side services of a scenario run: labs (deployed on first use, destroyed at the end unless
 * kept), the probe server, features, BGP route sources, and the per-scenario context.
 */
import { join } from 'node:path';
import type { StepReporter } from '../../report/reporter.ts';
import { getRuntime } from '../../runtime/index.ts';
import type { DeployedLab, LabNode, Runtime, RuntimeName } from '../../runtime/runtime.ts';
import { loadTopology } from '../../topology/load.ts';
import type { Topology } from '../../topology/types.ts';
import { ProbeServer, type TransportName } from '../../traffic/index.ts';
import { HarnessError } from '../../util/errors.ts';
import { vtyshRouteSource } from '../checks/routes-vtysh.ts';
import { type ReplayPlan, type RouteSource, ScenarioContext } from '../context.ts';
import type { ImplementationDriver } from '../drivers/driver.ts';
import { RecordBuilder } from '../record.ts';
import type { Scenario } from '../types.ts';

interface LabEntry {
  topology: Topology;
  lab: DeployedLab;
  deployedHere: boolean;
}

export class LabPool {
  private readonly labs = new Map<string, Promise<LabEntry>>();
  private runtimePromise: Promise<Runtime> | undefined;

  constructor(
    private readonly runtimeName: RuntimeName,
    private readonly log: (line: string) => void = () => undefined,
    private readonly options: { reuse?: boolean; signal?: AbortSignal } = {},
  ) {}

  private runtime(): Promise<Runtime> {
    this.runtimePromise ??= getRuntime(this.runtimeName);
    return this.runtimePromise;
  }

  /**
   * The deployed lab for a topology file, deployed on first use. A deployment left behind by an
   * earlier run is redeployed (its state is unknown), unless the user asked to reuse it (--reuse).
   */
  get(file: string): Promise<LabEntry> {
    this.options.signal?.throwIfAborted();
    const existing = this.labs.get(file);
    if (existing) return existing;
    const entry = (async (): Promise<LabEntry> => {
      const topology = await loadTopology(file);
      const runtime = await this.runtime();
      const attached = await runtime.attach(topology);
      if (attached && this.options.reuse) {
        this.log(`lab ${topology.name}: already deployed, reusing it (--reuse)`);
        return { topology, lab: attached, deployedHere: false };
      }
      this.log(
        attached
          ? `lab ${topology.name}: left deployed by an earlier run; redeploying it (--reuse runs on it as it is)`
          : `lab ${topology.name}: deploying (${this.runtimeName})`,
      );
      try {
        const started = performance.now();
        const lab = await runtime.deploy(topology, {
          reconfigure: true,
          ...(this.options.signal ? { signal: this.options.signal } : {}),
        });
        this.log(`lab ${topology.name}: deployed in ${((performance.now() - started) / 1000).toFixed(1)} s`);
        return { topology, lab, deployedHere: true };
      } catch (err) {
        // The runtime destroys what a failed deploy left behind by itself.
        throw new HarnessError(
          `lab ${topology.name} failed to deploy: ${err instanceof Error ? err.message : String(err)}`,
          { cause: err },
        );
      }
    })();
    this.labs.set(file, entry);
    return entry;
  }

  /** Destroys the labs this run deployed (all of them unless `keep`). */
  async release(keep: boolean): Promise<string[]> {
    const problems: string[] = [];
    for (const entry of this.labs.values()) {
      try {
        const { topology, deployedHere } = await entry;
        if (keep || !deployedHere) continue;
        this.log(`lab ${topology.name}: destroying`);
        const started = performance.now();
        await (await this.runtime()).destroy(topology);
        this.log(`lab ${topology.name}: destroyed in ${((performance.now() - started) / 1000).toFixed(1)} s`);
      } catch (err) {
        if (!(err instanceof HarnessError)) problems.push(err instanceof Error ? err.message : String(err));
      }
    }
    this.labs.clear();
    return problems;
  }
}

let probeServer: Promise<ProbeServer | undefined> | undefined;

/** One probe server per worker; undefined (and checks that need it break) when it cannot start. */
export function traffic(transport: TransportName = 'netns'): Promise<ProbeServer | undefined> {
  probeServer ??= ProbeServer.start({ transport }).catch(() => undefined);
  return probeServer;
}

export async function stopTraffic(): Promise<void> {
  const server = await probeServer;
  probeServer = undefined;
  await server?.stop();
}

/** Kernel features and tools present on this machine (harness/doctor), as a set of names. */
export async function machineFeatures(): Promise<Set<string>> {
  try {
    const mod = await import('../../doctor/index.ts');
    const f = await mod.detectFeatures();
    const names = new Set<string>();
    for (const [name, check] of Object.entries(f.kernel)) if ((check as { ok: boolean }).ok) names.add(name);
    for (const [name, check] of Object.entries(f.tools)) if ((check as { ok: boolean }).ok) names.add(name);
    return names;
  } catch {
    return new Set(['netns', 'veth', 'bridge', 'vxlan', 'nftables', 'frr', 'scapy']);
  }
}

/**
 * BGP route source for a node: the BGP tap peered with it from inside its namespace (127.0.0.1), or
 * FRR's own RIB through vtysh when the tap cannot peer (no listen range for it, harness/bgp missing).
 */
export async function routeSourceFor(node: LabNode, ctx: ScenarioContext): Promise<RouteSource> {
  try {
    const { tapFamiliesOf, tapRouteSource, VTYSH_FAMILY } = await import('../checks/routes-tap.ts');
    // The lab says where the tap peers from and in which families: node labels otwin.bgp-tap.address,
    // otwin.bgp-tap.peer and otwin.bgp-tap.families (default evpn).
    const labels = ctx.lab.topology.nodes.find((n) => n.name === node.name)?.labels ?? {};
    const families = tapFamiliesOf(node.name, labels['otwin.bgp-tap.families']);
    // The summary of a family the node runs: a PE without EVPN answers the EVPN one without its AS.
    const summary = await node.exec(['vtysh', '-c', `show bgp ${VTYSH_FAMILY[families[0]!]} summary json`]);
    const asn = Number((JSON.parse(summary.stdout || '{}') as { as?: number }).as ?? Number.NaN);
    if (!Number.isFinite(asn)) throw new Error('no BGP AS number on the node');
    const peerAddress = labels['otwin.bgp-tap.peer'];
    if (!peerAddress) throw new Error(`node ${node.name} has no otwin.bgp-tap.peer label`);
    const source = await tapRouteSource(
      node,
      {
        asn,
        peerAddress,
        localAddress: labels['otwin.bgp-tap.address'],
        routerId: labels['otwin.bgp-tap.router-id'] ?? '10.99.255.1',
        families,
      },
      15_000,
    );
    ctx.reporter.log(`BGP tap peered with ${node.name} (AS ${asn}, ${families.join(', ')})`);
    return source;
  } catch (err) {
    ctx.reporter.log(
      `BGP tap unavailable on ${node.name} (${err instanceof Error ? err.message : String(err)}); reading FRR's RIB instead`,
    );
    return vtyshRouteSource(node);
  }
}

export interface ContextInput {
  scenario: Scenario;
  lab: DeployedLab;
  driver: ImplementationDriver;
  reporter: StepReporter;
  runtime: RuntimeName;
  transport: TransportName;
  artifactsDir: string;
  replay: ReplayPlan | undefined;
  record: RecordBuilder;
}

export function createRecord(
  scenario: Scenario,
  plan: { runsDir: string; runId: string; runtime: RuntimeName },
  replayOf: string | undefined,
): RecordBuilder {
  return new RecordBuilder(scenario, {
    runsDir: plan.runsDir,
    runId: plan.runId,
    runtime: plan.runtime,
    ...(replayOf ? { replayOf } : {}),
  });
}

export async function createContext(input: ContextInput): Promise<ScenarioContext> {
  const record = input.record;
  const server = await traffic(input.transport);
  server?.useNodes(input.lab.nodes.values());
  return new ScenarioContext({
    scenario: input.scenario,
    lab: input.lab,
    driver: input.driver,
    traffic: server,
    reporter: input.reporter,
    record,
    runtime: input.runtime,
    artifactsDir: join(input.artifactsDir, record.path.replace(/^.*\//, '').replace(/\.json$/, '')),
    replay: input.replay,
    routeSource: routeSourceFor,
  });
}
