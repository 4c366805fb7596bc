/**
 * The state of one scenario while it runs: the lab, the driver, the traffic engine, the current
 * intent (provision steps change it), which nodes are down (faults), the clock, and the run record
 * being written. Steps, faults and checks receive it.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { StepReporter } from '../report/reporter.ts';
import type { DeployedLab, LabNode } from '../runtime/runtime.ts';
import type { ProbeServer } from '../traffic/index.ts';
import type { ProbeTarget } from '../traffic/types.ts';
import { HarnessError } from '../util/errors.ts';
import type { DriverContext, ImplementationDriver, SecurityDatapathCounts } from './drivers/driver.ts';
import { type Intent, IntentIndex } from './intent.ts';
import type { ChaosEvent, RecordBuilder } from './record.ts';
import type { Scenario } from './types.ts';

/** A failed expectation (the system under test did not do what the intent says): Allure "failed". */
export class ExpectationError extends Error {
  constructor(message: string) {
    super(message);
    // allure-js-commons classifies by name: an AssertionError is "failed", anything else "broken".
    this.name = 'AssertionError';
  }
}

/** A scenario that cannot run here (missing kernel feature, driver capability): Allure "skipped". */
export class SkipError extends Error {
  /** Whether what follows in the scenario cannot run either (a step, not one check, is missing). */
  readonly rest: boolean;
  constructor(
    readonly reason: string,
    options: { rest?: boolean } = {},
  ) {
    super(reason);
    this.rest = options.rest ?? false;
    this.name = 'SkipError';
  }
}

export interface ReplayPlan {
  /** Scenario-relative start time of each step, by step id. */
  stepStarts: Map<string, number>;
  /** Chaos schedules, by step id. */
  chaos: Map<string, ChaosEvent[]>;
}

export interface ResolvedEndpoint {
  name: string;
  target: ProbeTarget;
  node: LabNode;
  iface: string;
  address: string;
}

/** Something that can tell which BGP routes a node (route reflector) currently holds. */
export interface RouteSource {
  readonly kind: 'tap' | 'vtysh';
  routes(): Promise<ObservedRoute[]>;
  /**
   * The node's VPN-IPv4 routes (RFC 4364) as they came on the wire: only a tap that asked for the family
   * (node label `otwin.bgp-tap.families: ...,vpnv4`) has them; undefined for other sources.
   */
  vpnRoutes?(): Promise<ObservedVpnRoute[]>;
  /**
   * Why the routes may not yet be the node's whole RIB (the tap's session is not up, or its End-of-RIB
   * has not arrived), or undefined when they are: only then does a missing route prove anything.
   */
  incomplete(): string | undefined;
  /** When the routes last changed (ms since the epoch, as received), if the source knows it. */
  changedAt?(): number | undefined;
  /** Human-readable transcript of what was seen so far (attached to the report). */
  transcript(): string;
  close(): Promise<void>;
}

/** One recorded reading of every hypervisor's security datapath, with the intent's size at that time. */
export interface SgRecord {
  members: number;
  rules: number;
  nodes: Map<string, SecurityDatapathCounts>;
}

/** One path of a VPN-IPv4 route (RFC 4364), from FRR's JSON or decoded by the tap. */
export interface ObservedVpnRoute {
  rd: string;
  prefix: string;
  nextHop: string | undefined;
  rt: string[];
  /** The bottom label of the route's stack (RFC 8277), the one a PE allocates per VRF or prefix. */
  label: number | undefined;
  valid: boolean;
  best: boolean;
}

/** A BGP EVPN route in a flat shape that expectations match field by field. */
export interface ObservedRoute {
  type: number;
  rd: string | undefined;
  vni: number | undefined;
  label: number | undefined;
  mac: string | undefined;
  ip: string | undefined;
  prefix: string | undefined;
  originator: string | undefined;
  nextHop: string | undefined;
  rt: string[];
  encapsulation: number | undefined;
  pmsiTunnelType: number | undefined;
  mobilitySeq: number | undefined;
  /** Type-5 (RFC 9136): the router MAC extended community and the gateway IP field; undefined when absent. */
  routerMac?: string | undefined;
  gateway?: string | undefined;
  communities: string[];
  /** Security-group communities (`secgroup:<asn>:<id>`); undefined when the source cannot decode them (vtysh). */
  secgroups?: string[] | undefined;
}

export interface ContextOptions {
  scenario: Scenario;
  lab: DeployedLab;
  driver: ImplementationDriver;
  traffic: ProbeServer | undefined;
  reporter: StepReporter;
  record: RecordBuilder;
  runtime: string;
  artifactsDir: string;
  replay?: ReplayPlan | undefined;
  routeSource?: (node: LabNode, ctx: ScenarioContext) => Promise<RouteSource>;
}

export class ScenarioContext {
  readonly scenario: Scenario;
  readonly lab: DeployedLab;
  readonly driver: ImplementationDriver;
  readonly reporter: StepReporter;
  readonly record: RecordBuilder;
  readonly runtime: string;
  readonly artifactsDir: string;
  readonly replay: ReplayPlan | undefined;
  intent: Intent;
  /** Lab nodes that are down (node-kill / node-pause in force). */
  readonly down = new Set<string>();
  /** Reverts of faults still in force, run at the end of the scenario whatever happens. */
  readonly pendingReverts = new Map<string, () => Promise<void>>();
  private t0 = performance.now();
  /**
   * When the latest act took effect (performance.now()): the moment the implementation accepted the
   * latest provisioning change, or the end of the latest fault, wait or chaos step. Every `within`
   * budget counts from here, so time the driver or harness spends after the act (pinning a VM's
   * namespace, say) is part of the budget, not hidden before it.
   */
  actAt = performance.now();
  private readonly trafficServer: ProbeServer | undefined;
  private readonly sources = new Map<string, RouteSource>();
  private readonly routeSourceFactory: ContextOptions['routeSource'];
  /** The gateway MAC each VM learned by ARP in a gateway check (its ARP cache), by VM name. */
  readonly gatewayMacs = new Map<string, string>();
  /** Security-datapath counts the sg-datapath checks recorded, by label (SG-4 before/after, SG-6 growth). */
  readonly sgRecords = new Map<string, SgRecord>();
  /** Address-only members per group, as the provision steps set them (driver.setBulkMembers). */
  readonly bulkMembers = new Map<string, number>();
  /** Longest loss windows measured, for the console summary. */
  readonly lossWindows: Array<{ name: string; ms: number; boundMs: number }> = [];
  private artifactNo = 0;

  constructor(options: ContextOptions) {
    this.scenario = options.scenario;
    this.lab = options.lab;
    this.driver = options.driver;
    this.reporter = options.reporter;
    this.record = options.record;
    this.runtime = options.runtime;
    this.artifactsDir = options.artifactsDir;
    this.replay = options.replay;
    this.trafficServer = options.traffic;
    this.routeSourceFactory = options.routeSource;
    this.intent = structuredClone(options.scenario.intent);
    mkdirSync(this.artifactsDir, { recursive: true });
  }

  /** Restarts the scenario clock (at the first step). */
  startClock(): void {
    this.t0 = performance.now();
    this.actAt = this.t0;
  }

  /** Budgets of the expectations that follow count from `at` (performance.now()). */
  markAct(at = performance.now()): void {
    this.actAt = at;
  }

  /** Milliseconds since the scenario's first step started. */
  now(): number {
    return performance.now() - this.t0;
  }

  get traffic(): ProbeServer {
    if (!this.trafficServer)
      throw new HarnessError('the traffic engine (scapy probe server) is not available');
    return this.trafficServer;
  }

  driverContext(): DriverContext {
    return {
      lab: this.lab,
      intent: this.intent,
      scenario: this.scenario,
      log: (m) => this.reporter.log(m),
      accepted: () => undefined,
    };
  }

  /** A path for an artifact (pcap, transcript) of this run. */
  artifactPath(name: string): string {
    this.artifactNo += 1;
    return join(
      this.artifactsDir,
      `${String(this.artifactNo).padStart(3, '0')}-${name.replace(/[^A-Za-z0-9_.-]+/g, '_')}`,
    );
  }

  private readonly vteps = new Map<string, Promise<string | undefined>>();

  /**
   * A hypervisor's VTEP address, read once per scenario: a BGP expectation polled against a 1 s budget
   * must not spend it running the same command in the node on every poll.
   */
  vtepAddress(node: string): Promise<string | undefined> {
    let vtep = this.vteps.get(node);
    if (!vtep) {
      vtep = this.driver.vtepAddress(this.node(node));
      this.vteps.set(node, vtep);
      vtep.catch(() => this.vteps.delete(node));
    }
    return vtep;
  }

  node(name: string): LabNode {
    const node = this.lab.nodes.get(name);
    if (!node) throw new HarnessError(`lab node '${name}' is not deployed`);
    return node;
  }

  /** A VM, a bare-metal host behind a gateway, an outside host or a lab node, as a traffic endpoint. */
  endpoint(name: string): ResolvedEndpoint {
    const idx = new IntentIndex(this.intent);
    const vm = idx.vms.get(name);
    if (vm) {
      const loc = this.driver.locate(vm, this.driverContext());
      // A VM is its own node for a transport that starts a probe server per node (exec).
      this.trafficServer?.useNodes([loc.node]);
      return {
        name,
        target: { name, netnsPath: loc.node.netnsPath },
        node: loc.node,
        iface: loc.iface,
        address: loc.ip,
      };
    }
    const host = idx.bareMetal.get(name);
    if (host) {
      const node = this.node(host.node);
      return { name, target: { name, netnsPath: node.netnsPath }, node, iface: host.iface, address: host.ip };
    }
    const ext = idx.externals.get(name);
    if (ext) {
      const node = this.node(ext.node);
      return { name, target: { name, netnsPath: node.netnsPath }, node, iface: ext.iface, address: ext.ip };
    }
    const node = this.node(name);
    return { name, target: { name, netnsPath: node.netnsPath }, node, iface: 'eth1', address: '' };
  }

  async routes(nodeName: string): Promise<RouteSource> {
    const existing = this.sources.get(nodeName);
    if (existing) return existing;
    if (!this.routeSourceFactory) throw new HarnessError('no BGP route source is configured');
    const source = await this.routeSourceFactory(this.node(nodeName), this);
    this.sources.set(nodeName, source);
    return source;
  }

  routeSources(): Map<string, RouteSource> {
    return this.sources;
  }

  /** Reverts every fault still in force and closes taps; never throws (collects messages). */
  async cleanup(): Promise<string[]> {
    const problems: string[] = [];
    for (const [name, revert] of [...this.pendingReverts].reverse()) {
      try {
        await revert();
      } catch (err) {
        problems.push(`revert ${name}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    this.pendingReverts.clear();
    for (const source of this.sources.values()) {
      try {
        await source.close();
      } catch (err) {
        problems.push(`close route source: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    this.sources.clear();
    return problems;
  }
}
