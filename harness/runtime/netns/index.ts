/**
 * The embedded netns runtime: runs containerlab topology files without Docker. A node is a named
 * network namespace plus an init owning private mount/UTS/IPC/PID namespaces (node.ts); links are
 * veth pairs created directly inside the two node namespaces under their topology names; a
 * management network lives in a lab-private namespace (mgmt.ts); node kinds/images map to profiles
 * (linux.ts, frr.ts, bridge.ts). A deploy runs in phases: plan (plan.ts) → record the whole plan in
 * the state before anything is created (state.ts) → files (files.ts) → network (one `ip -batch`) →
 * nodes through their stages (start.ts) → published ports (ports.ts). Destroy works after a crash at
 * any point and acts only on what it can verify as the lab's own (destroy.ts). See
 * docs/netns-runtime.md.
 */
import { userInfo } from 'node:os';
import { join, relative } from 'node:path';
import { ipBatchOk, ipJson, netnsList } from '../../kernel/netns.ts';
import { isAlive } from '../../kernel/procs.ts';
import { LAB_NAME_PATTERN, NODE_NAME_PATTERN } from '../../topology/names.ts';
import type { Topology } from '../../topology/types.ts';
import { HarnessError, UserError } from '../../util/errors.ts';
import type {
  DeployedLab,
  DeployOptions,
  DestroyOptions,
  InspectEntry,
  LabStatus,
  Runtime,
} from '../runtime.ts';
import { assertLabName, labIsUp, teardown, trustedTarget } from './destroy.ts';
import { prepareFiles } from './files.ts';
import { profileNamed } from './kinds/index.ts';
import { labNames } from './names.ts';
import { NetnsNode } from './node.ts';
import { type DeployPlan, planDeploy } from './plan.ts';
import { forwarderMarker, startForwarder } from './ports.ts';
import { routerWithoutSuite } from './routing.ts';
import { StageBoard } from './stages.ts';
import { startNodes } from './start.ts';
import {
  claimRegistry,
  type LabState,
  type LinkState,
  listRegistry,
  type NodeState,
  readState,
  writeState,
} from './state.ts';
import { checkSupported, type ValidationResult, where } from './validate.ts';

export { profileFor } from './kinds/index.ts';
export { labNames } from './names.ts';
export type { LabState } from './state.ts';

const DEFAULT_MAX_WORKERS = 8;
/** A deployed netns lab: the DeployedLab seam plus where its state and management network live. */
export class NetnsLab implements DeployedLab {
  readonly runtime = 'netns' as const;
  readonly nodes: Map<string, NetnsNode>;

  constructor(
    readonly topology: Topology,
    readonly state: LabState,
  ) {
    this.nodes = new Map(
      Object.values(state.nodes)
        .filter((n) => n.pid !== undefined)
        .map((n) => [n.name, new NetnsNode(n)]),
    );
  }

  get labDir(): string {
    return this.state.labDir;
  }

  /** The lab-private namespace of the management bridge: every node's mgmt address is reachable from it. */
  get mgmtNetns(): string {
    return this.state.mgmt.netns;
  }

  node(name: string): NetnsNode {
    const node = this.nodes.get(name);
    if (!node) {
      throw new HarnessError(
        `lab '${this.state.labName}' has no running node '${name}' (nodes: ${[...this.nodes.keys()].join(', ')})`,
      );
    }
    return node;
  }
}

function owner(): string {
  return process.env.SUDO_USER ?? userInfo().username;
}

function humanUptime(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `Up ${s} seconds`;
  if (s < 3600) return `Up ${Math.round(s / 60)} minutes`;
  return `Up ${Math.round(s / 3600)} hours`;
}

/** containerlab inspect entries (bridges are not containers: containerlab does not list them either). */
export function inspectEntries(state: LabState): InspectEntry[] {
  return Object.values(state.nodes)
    .filter((n) => profileNamed(n.profile)?.listed === true)
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((n) => {
      const alive = n.pid !== undefined && isAlive(n.pid, n.pidStartTime);
      return {
        lab_name: state.labName,
        labPath: relative(process.cwd(), state.topologyFile) || state.topologyFile,
        absLabPath: state.topologyFile,
        name: n.longName,
        container_id: n.netns,
        image: n.image,
        kind: n.kind,
        state: alive ? 'running' : 'exited',
        status: alive ? humanUptime(Date.now() - Date.parse(n.startedAt ?? state.createdAt)) : 'Exited',
        ipv4_address: n.mgmtIPv4 ?? 'N/A',
        ipv6_address: n.mgmtIPv6 ?? 'N/A',
        owner: state.owner,
        ...(n.runs ? { runs: n.runs } : {}),
      };
    });
}

function nodeStates(plan: DeployPlan): Record<string, NodeState> {
  const out: Record<string, NodeState> = {};
  for (const p of plan.nodes) {
    const m = plan.mgmt.nodes.get(p.node.name);
    const suite = p.profile?.runs?.();
    const warning = routerWithoutSuite(p.node) ? 'no routing suite (plain Linux host)' : undefined;
    out[p.node.name] = {
      name: p.node.name,
      kind: p.node.kind,
      image: p.node.image,
      profile: p.profile?.name ?? 'host',
      longName: p.node.longName ?? `clab-${plan.topology.name}-${p.node.name}`,
      netns: p.netns,
      mgmtIPv4: m?.ipv4,
      mgmtIPv6: m?.ipv6,
      env: p.node.env,
      ...(p.sharesNetnsOf !== undefined ? { sharesNetnsOf: p.sharesNetnsOf } : {}),
      ...((suite ?? warning) ? { runs: suite ?? warning } : {}),
    };
  }
  return out;
}

/** The lab state of a plan, written (and the registry claimed) before anything is created. */
function recordPlan(plan: DeployPlan): LabState {
  const { topology, names, mgmt } = plan;
  const state: LabState = {
    version: 1,
    runtime: 'netns',
    labName: topology.name,
    topologyFile: topology.file,
    labDir: topology.labDir,
    key: names.key,
    nsPrefix: names.nsPrefix,
    markerPrefix: names.markerPrefix,
    status: 'deploying',
    owner: owner(),
    deployedBy: process.pid,
    createdAt: new Date().toISOString(),
    mgmt: {
      netns: mgmt.netns,
      bridge: mgmt.bridge,
      ipv4Subnet: mgmt.ipv4Subnet,
      ipv4Gateway: mgmt.ipv4Gateway,
      ipv6Subnet: mgmt.ipv6Subnet,
      ipv6Gateway: mgmt.ipv6Gateway,
    },
    namespaces: plan.namespaces,
    nodes: nodeStates(plan),
    links: plan.links.map(
      (l): LinkState => ({
        a: { node: l.endpoints[0].node, iface: l.endpoints[0].iface },
        b: { node: l.endpoints[1].node, iface: l.endpoints[1].iface },
      }),
    ),
    files: [],
    hostInterfaces: plan.hostInterfaces,
    forwarders: [],
    registryFile: names.registryFile,
  };
  if (!claimRegistry(state)) {
    throw new UserError(`lab '${topology.name}' is being deployed by another process`, {
      where: topology.file,
      hint: `wait for it, or destroy the lab (its registry entry is ${names.registryFile})`,
    });
  }
  writeState(state);
  return state;
}

/** Namespaces and host interfaces the plan creates must not exist yet (nothing of someone else's is touched). */
async function checkNamesFree(plan: DeployPlan): Promise<void> {
  const { topology } = plan;
  const taken = new Set(await netnsList());
  const clash = plan.namespaces.find((ns) => taken.has(ns));
  if (clash) {
    throw new UserError(
      `network namespace '${clash}' already exists, but lab '${topology.name}' has no state for it`,
      { where: topology.file, hint: `remove it (ip netns delete ${clash}) if it is a leftover` },
    );
  }
  if (plan.hostInterfaces.length === 0) return;
  const hostLinks = new Set(
    (await ipJson<Array<{ ifname: string }>>(undefined, ['link', 'show'])).map((l) => l.ifname),
  );
  const used = plan.hostInterfaces.find((i) => hostLinks.has(i));
  if (used) {
    throw new UserError(`host interface '${used}' of a host link already exists on this machine`, {
      where: topology.file,
      hint: 'pick a host-interface name that is not in use (ip link show)',
    });
  }
}

async function publishPorts(plan: DeployPlan, state: LabState): Promise<void> {
  for (const p of plan.nodes) {
    for (const port of p.ports) {
      const target = plan.mgmt.nodes.get(p.node.name)?.ipv4.split('/')[0];
      if (!target) continue; // refused by validation (no mgmt address)
      const forwarder = await startForwarder({
        marker: forwarderMarker(plan.names.markerPrefix, p.node.name, port),
        node: p.node.name,
        port,
        mgmtNetns: plan.mgmt.netns,
        target,
        logFile: join(plan.topology.labDir, p.node.name, 'ports.log'),
        where: where(p.node.extraPos.ports ?? p.node.pos),
      });
      state.forwarders = [...(state.forwarders ?? []), forwarder];
      writeState(state);
    }
  }
}

export class NetnsRuntime implements Runtime {
  readonly name = 'netns' as const;

  /** Everything this runtime needs of a file, all problems at once (throws); returns the warnings. */
  validate(topology: Topology): ValidationResult {
    const result = checkSupported(topology);
    planDeploy(topology);
    return result;
  }

  async deploy(topology: Topology, options: DeployOptions = {}): Promise<NetnsLab> {
    const { warnings } = checkSupported(topology);
    const progress = options.onProgress ?? (() => {});
    for (const warning of warnings) progress(`warning: ${warning}`);
    const plan = planDeploy(topology, options.nodeFilter);
    await this.clearPrevious(topology, options, progress);
    await checkNamesFree(plan);
    const state = recordPlan(plan);
    try {
      options.signal?.throwIfAborted();
      const contexts = prepareFiles(plan, state);
      progress(
        `creating ${plan.namespaces.length} namespaces and ${plan.links.length + plan.mgmt.nodes.size} veth pairs`,
      );
      await ipBatchOk(undefined, plan.hostBatch);
      const mgmtReady = ipBatchOk(plan.mgmt.netns, plan.mgmtBatch);
      mgmtReady.catch(() => {}); // awaited below; avoid an unhandled rejection while nodes start
      const board = new StageBoard(
        plan.nodes.map((p) => p.node.name),
        plan.waits,
      );
      await startNodes(plan, state, contexts, board, {
        maxWorkers: options.maxWorkers ?? DEFAULT_MAX_WORKERS,
        progress,
        ...(options.signal ? { signal: options.signal } : {}),
      });
      await mgmtReady;
      options.signal?.throwIfAborted();
      await publishPorts(plan, state);
      state.status = 'running';
      writeState(state);
      return new NetnsLab(topology, state);
    } catch (err) {
      progress(`deploy failed, destroying lab ${topology.name}`);
      try {
        await teardown(trustedTarget(state, topology));
      } catch (cleanupError) {
        throw new HarnessError(
          `deploy of lab '${topology.name}' failed (${err instanceof Error ? err.message : String(err)}) and so did its cleanup: ${
            cleanupError instanceof Error ? cleanupError.message : String(cleanupError)
          }`,
          { cause: err },
        );
      }
      throw err;
    }
  }

  /** An existing deployment: refuse, or destroy it first (--reconfigure), or clean up leftovers of a crash. */
  private async clearPrevious(
    topology: Topology,
    options: DeployOptions,
    progress: (message: string) => void,
  ): Promise<void> {
    const names = labNames(topology);
    const previous = readState(names.registryFile, topology.labDir);
    if (!previous) return;
    const target = trustedTarget(previous, topology);
    if (!options.reconfigure && (await labIsUp(target))) {
      const how =
        previous.status === 'running' ? 'already deployed' : 'partially deployed (an interrupted deploy)';
      throw new UserError(`lab '${topology.name}' is ${how} (lab directory ${topology.labDir})`, {
        where: topology.file,
        hint: `destroy it first (otwin lab destroy -t ${relative(process.cwd(), topology.file) || topology.file}) or deploy with --reconfigure`,
      });
    }
    progress(`destroying the previous deployment of lab ${topology.name}`);
    await teardown(target);
  }

  async attach(topology: Topology): Promise<NetnsLab | undefined> {
    const names = labNames(topology);
    const state = readState(names.registryFile, topology.labDir);
    if (state?.status !== 'running') return undefined;
    return new NetnsLab(topology, state);
  }

  /** Whether the lab is deployed: absent, partial (an interrupted deploy, or nodes gone) or running. */
  async status(topology: Topology): Promise<{ status: LabStatus; detail: string }> {
    const names = labNames(topology);
    const state = readState(names.registryFile, topology.labDir);
    if (!state) {
      const existing = await netnsList();
      const left = existing.filter((ns) => ns.startsWith(`${names.nsPrefix}-`) || ns === names.mgmtNetns);
      return left.length > 0
        ? {
            status: 'partial',
            detail: `no lab state, but ${left.length} of its namespaces exist (destroy cleans them up)`,
          }
        : { status: 'absent', detail: 'not deployed' };
    }
    const target = trustedTarget(state, topology);
    if (!(await labIsUp(target))) return { status: 'absent', detail: 'not deployed (stale state only)' };
    const nodes = Object.values(state.nodes).filter((n) => n.profile !== 'host');
    const alive = nodes.filter((n) => n.pid !== undefined && isAlive(n.pid, n.pidStartTime)).length;
    if (state.status === 'running' && alive === nodes.length)
      return { status: 'running', detail: `running (${alive} of ${nodes.length} nodes)` };
    const deploying =
      state.status === 'deploying' && state.deployedBy !== process.pid && isAlive(state.deployedBy);
    const why =
      state.status === 'running'
        ? 'nodes have stopped'
        : deploying
          ? `being deployed by PID ${state.deployedBy}`
          : 'the deploy was interrupted';
    return {
      status: 'partial',
      detail: `partially deployed: ${why} (${alive} of ${nodes.length} nodes running)`,
    };
  }

  async destroy(topology: Topology, options: DestroyOptions = {}): Promise<void> {
    assertLabName(topology.name, topology.file);
    const names = labNames(topology);
    const state = readState(names.registryFile, topology.labDir);
    if (state) {
      await teardown(trustedTarget(state, topology), options);
      return;
    }
    // No state at all (both copies removed by hand): fall back to the names the topology implies.
    const existing = new Set(await netnsList());
    const namespaces = [
      ...topology.nodes
        .filter((n) => NODE_NAME_PATTERN.test(n.name))
        .map((n) => `${names.nsPrefix}-${n.name}`),
      names.mgmtNetns,
    ].filter((ns) => existing.has(ns));
    await teardown(
      {
        labName: topology.name,
        names,
        namespaces,
        nodes: {},
        files: [],
        forwarders: [],
        hostInterfaces: [],
        labDir: topology.labDir,
      },
      options,
    );
  }

  async destroyAll(): Promise<string[]> {
    const destroyed: string[] = [];
    for (const state of listRegistry()) {
      if (!LAB_NAME_PATTERN.test(String(state.labName))) continue; // not a lab this runtime could have made
      await teardown(trustedTarget(state));
      destroyed.push(state.labName);
    }
    return destroyed;
  }

  async inspect(topology: Topology): Promise<InspectEntry[]> {
    const names = labNames(topology);
    const state = readState(names.registryFile, topology.labDir);
    return state ? inspectEntries(state) : [];
  }

  async inspectAll(): Promise<Record<string, InspectEntry[]>> {
    const out: Record<string, InspectEntry[]> = {};
    for (const state of listRegistry())
      out[state.labName] = [...(out[state.labName] ?? []), ...inspectEntries(state)];
    return out;
  }
}
