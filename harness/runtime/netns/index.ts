/**
 * The embedded netns runtime: runs containerlab topology files without Docker. A node is a named
 * network namespace plus an init owning private mount/UTS/IPC/PID namespaces (node.ts); links are
 * veth pairs created directly inside the two node namespaces under their topology names; a
 * management network lives in a lab-private namespace (mgmt.ts); node kinds/images map to profiles
 * (linux.ts, frr.ts, bridge.ts). The whole plan is recorded before anything is created (state.ts), so
 * destroy works after a crash at any point (destroy.ts). See docs/netns-runtime.md.
 */
import { existsSync, lstatSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { ipBatchOk, netnsList } from '../../kernel/netns.ts';
import { isAlive } from '../../kernel/procs.ts';
import type { Topology, TopologyNode } from '../../topology/types.ts';
import { HarnessError, UserError } from '../../util/errors.ts';
import { sleep } from '../../util/poll.ts';
import type { DeployedLab, DeployOptions, DestroyOptions, InspectEntry, Runtime } from '../runtime.ts';
import { bridgeProfile } from './bridge.ts';
import { labIsUp, teardown } from './destroy.ts';
import { frrProfile, isFrrImage } from './frr.ts';
import { linuxProfile } from './linux.ts';
import { mgmtBridgeLines, mgmtNodeLines, mgmtVethLines, planMgmt } from './mgmt.ts';
import { labNames, nodeMarker, nodeNetns } from './names.ts';
import { NetnsNode, runExecLines, startCmd, startInit } from './node.ts';
import { runPool } from './pool.ts';
import type { NodeProfile, ProfileContext, ProfileMount } from './profile.ts';
import {
  claimRegistry,
  type LabState,
  type LinkState,
  listRegistry,
  type NodeState,
  readState,
  writeState,
} from './state.ts';
import { checkSupported, where } from './validate.ts';

export { labNames } from './names.ts';
export type { LabState } from './state.ts';

/** containerlab's default MTU for veth links. */
const DEFAULT_LINK_MTU = 9500;
const DEFAULT_MAX_WORKERS = 8;

export function profileFor(node: TopologyNode): NodeProfile {
  if (node.kind === 'bridge') return bridgeProfile;
  if (isFrrImage(node.image)) return frrProfile;
  return linuxProfile;
}

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
    .filter((n) => n.profile !== 'bridge')
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
      };
    });
}

/** Every path from the first missing ancestor of `path` down to `path` itself (to create, in order). */
function missingPaths(path: string): string[] {
  const missing: string[] = [];
  let current = path;
  while (!existsSync(current)) {
    missing.unshift(current);
    const parent = dirname(current);
    if (parent === current) break;
    current = parent;
  }
  return missing;
}

function isInside(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir + sep);
}

export class NetnsRuntime implements Runtime {
  readonly name = 'netns' as const;

  async deploy(topology: Topology, options: DeployOptions = {}): Promise<NetnsLab> {
    checkSupported(topology);
    const names = labNames(topology);
    const progress = options.onProgress ?? (() => {});

    const filter =
      options.nodeFilter && options.nodeFilter.length > 0 ? new Set(options.nodeFilter) : undefined;
    for (const name of filter ?? []) {
      if (!topology.nodes.some((n) => n.name === name)) {
        throw new UserError(`--node-filter names node '${name}', which is not in lab '${topology.name}'`, {
          where: topology.file,
        });
      }
    }
    const nodes = topology.nodes.filter((n) => !filter || filter.has(n.name));
    const nodeNames = new Set(nodes.map((n) => n.name));
    const links = topology.links.filter((l) => l.endpoints.every((e) => nodeNames.has(e.node)));
    const profiles = new Map(nodes.map((n) => [n.name, profileFor(n)]));

    const ports = new Map<string, string[]>(nodes.map((n) => [n.name, []]));
    for (const link of links) {
      for (const end of link.endpoints) {
        const list = ports.get(end.node)!;
        const profile = profiles.get(end.node)!;
        if (list.includes(end.iface) || (profile.hasMgmt && end.iface === 'eth0') || end.iface === 'lo') {
          throw new UserError(
            `node '${end.node}': interface '${end.iface}' is used twice (eth0 is the management interface)`,
            {
              where: where(end.pos ?? link.pos),
              hint: 'give every link endpoint of a node its own interface, starting at eth1',
            },
          );
        }
        list.push(end.iface);
      }
    }
    const mgmt = planMgmt(
      topology,
      names,
      nodes.filter((n) => profiles.get(n.name)!.hasMgmt).map((n) => n.name),
    );

    // An existing deployment: refuse, or destroy it first (--reconfigure), or clean up leftovers of a crash.
    const previous = readState(names.registryFile, topology.labDir);
    if (previous) {
      if (!options.reconfigure && (await labIsUp(previous))) {
        const how =
          previous.status === 'running' ? 'already deployed' : 'partially deployed (an interrupted deploy)';
        throw new UserError(`lab '${topology.name}' is ${how} (lab directory ${topology.labDir})`, {
          where: topology.file,
          hint: `destroy it first (otwin lab destroy -t ${relative(process.cwd(), topology.file) || topology.file}) or deploy with --reconfigure`,
        });
      }
      progress(`destroying the previous deployment of lab ${topology.name}`);
      await teardown(previous);
    }
    const namespaces = [...nodes.map((n) => nodeNetns(names, n.name)), mgmt.netns];
    const taken = new Set(await netnsList());
    const clash = namespaces.find((ns) => taken.has(ns));
    if (clash) {
      throw new UserError(
        `network namespace '${clash}' already exists, but lab '${topology.name}' has no state for it`,
        {
          where: topology.file,
          hint: `remove it (ip netns delete ${clash}) if it is a leftover`,
        },
      );
    }

    const now = new Date().toISOString();
    const nodeStates: Record<string, NodeState> = {};
    for (const node of nodes) {
      const m = mgmt.nodes.get(node.name);
      nodeStates[node.name] = {
        name: node.name,
        kind: node.kind,
        image: node.image,
        profile: profiles.get(node.name)!.name,
        longName: node.longName ?? `clab-${topology.name}-${node.name}`,
        netns: nodeNetns(names, node.name),
        mgmtIPv4: m?.ipv4,
        mgmtIPv6: m?.ipv6,
        env: node.env,
      };
    }
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
      createdAt: now,
      mgmt: {
        netns: mgmt.netns,
        bridge: mgmt.bridge,
        ipv4Subnet: mgmt.ipv4Subnet,
        ipv4Gateway: mgmt.ipv4Gateway,
        ipv6Subnet: mgmt.ipv6Subnet,
        ipv6Gateway: mgmt.ipv6Gateway,
      },
      namespaces,
      nodes: nodeStates,
      links: links.map(
        (l): LinkState => ({
          a: { node: l.endpoints[0].node, iface: l.endpoints[0].iface },
          b: { node: l.endpoints[1].node, iface: l.endpoints[1].iface },
        }),
      ),
      files: [],
      registryFile: names.registryFile,
    };
    if (!claimRegistry(state)) {
      throw new UserError(`lab '${topology.name}' is being deployed by another process`, {
        where: topology.file,
        hint: `wait for it, or destroy the lab (its registry entry is ${names.registryFile})`,
      });
    }
    writeState(state);

    try {
      // 1. Files: the lab dir, each node's folder, profile folders, bind mount points.
      const contexts = new Map<string, ProfileContext & { mounts: ProfileMount[] }>();
      for (const node of nodes) {
        const nodeDir = join(topology.labDir, node.name);
        mkdirSync(nodeDir, { recursive: true });
        const ctx: ProfileContext = {
          node,
          nodeState: nodeStates[node.name]!,
          lab: state,
          nodeDir,
          ports: ports.get(node.name)!,
        };
        const profileMounts = profiles.get(node.name)!.prepare(ctx);
        const userMounts = this.prepareBinds(node, profileMounts, state);
        contexts.set(node.name, { ...ctx, mounts: [...profileMounts, ...userMounts] });
      }

      // 2. One `ip -batch` for every namespace and every veth (data links and eth0s), created straight
      //    into the node namespaces under their final names: nothing ever appears in the host namespace.
      progress(`creating ${namespaces.length} namespaces and ${links.length + mgmt.nodes.size} veth pairs`);
      const linkLines = links.map((link) => {
        const mtu = link.mtu ?? DEFAULT_LINK_MTU;
        const [a, b] = link.endpoints;
        const end = (e: typeof a): string =>
          `name ${e.iface} netns ${nodeNetns(names, e.node)} mtu ${mtu}${e.mac ? ` address ${e.mac}` : ''}`;
        return `link add ${end(a)} type veth peer ${end(b)}`;
      });
      await ipBatchOk(undefined, [
        ...namespaces.map((ns) => `netns add ${ns}`),
        ...linkLines,
        ...mgmtVethLines(mgmt, names),
      ]);
      const mgmtReady = ipBatchOk(mgmt.netns, mgmtBridgeLines(mgmt));
      mgmtReady.catch(() => {}); // awaited below; avoid an unhandled rejection while nodes start

      // 3. Nodes, in parallel: init (namespaces, hostname, sysctls, addresses, mounts), software, cmd, exec.
      const addrLines = new Map<string, string[]>();
      for (const link of links) {
        for (const e of link.endpoints) {
          const lines = addrLines.get(e.node) ?? [];
          if (e.ipv4) lines.push(`addr add ${e.ipv4} dev ${e.iface}`);
          if (e.ipv6) lines.push(`addr add ${e.ipv6} dev ${e.iface} nodad`);
          addrLines.set(e.node, lines);
        }
      }
      await runPool(nodes, options.maxWorkers ?? DEFAULT_MAX_WORKERS, async (node) => {
        const ctx = contexts.get(node.name)!;
        const profile = profiles.get(node.name)!;
        const nodeState = nodeStates[node.name]!;
        const delay = Number(node.extra['startup-delay'] ?? 0);
        if (delay > 0) await sleep(delay * 1000);
        progress(`starting node ${node.name} (${profile.name === 'linux' ? node.kind : profile.name})`);
        const sysctls: Record<string, string> =
          profile.name === 'bridge'
            ? {}
            : { 'net.ipv4.ip_forward': '1', 'net.ipv6.conf.all.forwarding': '1' };
        const userSysctls = node.extra.sysctls;
        if (userSysctls && typeof userSysctls === 'object') {
          for (const [k, v] of Object.entries(userSysctls)) sysctls[k] = String(v);
        }
        const hostname = node.extra.hostname;
        const init = await startInit({
          netns: nodeState.netns,
          marker: nodeMarker(names, node.name),
          hostname: typeof hostname === 'string' ? hostname : node.name,
          sysctls,
          ipLines: [
            'link set dev lo up',
            ...ctx.ports.map((p) => `link set dev ${p} up`),
            ...(addrLines.get(node.name) ?? []),
            ...mgmtNodeLines(mgmt, node.name),
            ...profile.ipLines(ctx),
          ],
          mounts: ctx.mounts,
        });
        nodeState.pid = init.pid;
        nodeState.pidStartTime = init.startTime;
        nodeState.startedAt = new Date().toISOString();
        writeState(state);
        const labNode = new NetnsNode(nodeState);
        await profile.start(ctx, labNode);
        if (node.cmd) {
          const cmdPid = await startCmd(labNode, node.cmd, join(ctx.nodeDir, 'cmd.log'));
          if (cmdPid !== undefined) nodeState.cmdPid = cmdPid;
        }
        if (node.exec.length > 0) {
          const result = await runExecLines(labNode, node.exec);
          const logFile = join(ctx.nodeDir, 'exec.log');
          writeFileSync(logFile, result.output);
          if (!result.ok && result.failedLine) {
            const f = result.failedLine;
            throw new UserError(
              `node '${node.name}': exec line ${f.index} \`${f.line}\` failed (exit ${f.exitCode}): ${f.output.split('\n').slice(-3).join(' ').slice(0, 300)}`,
              { where: where(node.pos), hint: `fix the exec line; its output is in ${logFile}` },
            );
          }
        }
      });
      await mgmtReady;
      state.status = 'running';
      writeState(state);
      return new NetnsLab(topology, state);
    } catch (err) {
      progress(`deploy failed, destroying lab ${topology.name}`);
      try {
        await teardown(state);
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

  /**
   * Makes every bind mount point exist. Targets under a profile mount (e.g. /etc/frr/frr.conf under
   * the node's own /etc/frr) are created in the lab directory; a target missing on the host is
   * created there, recorded in the state first, and removed again by destroy.
   */
  private prepareBinds(node: TopologyNode, profileMounts: ProfileMount[], state: LabState): ProfileMount[] {
    const binds = [...node.binds].sort((a, b) => a.target.split('/').length - b.target.split('/').length);
    const byDepth = [...profileMounts].sort((a, b) => b.target.length - a.target.length);
    for (const bind of binds) {
      if (!existsSync(bind.source)) {
        if (isInside(bind.source, state.labDir)) mkdirSync(bind.source, { recursive: true });
        else {
          throw new UserError(`node '${node.name}': bind source '${bind.source}' does not exist`, {
            where: where(bind.pos),
            hint: "bind sources are relative to the topology file's folder",
          });
        }
      }
      const sourceIsDir = statSync(bind.source).isDirectory();
      const under = byDepth.find((m) => bind.target === m.target || bind.target.startsWith(`${m.target}/`));
      const hostPath = under ? under.source + bind.target.slice(under.target.length) : bind.target;
      const missing = missingPaths(hostPath);
      if (missing.length === 0) continue;
      if (!under && !isInside(hostPath, state.labDir)) {
        state.files.push(...missing);
        writeState(state);
      }
      for (const path of missing) {
        if (path === hostPath && !sourceIsDir) writeFileSync(path, '', { flag: 'wx' });
        else mkdirSync(path);
      }
      if (lstatSync(hostPath).isDirectory() !== sourceIsDir) {
        throw new UserError(
          `node '${node.name}': bind ${bind.source} → ${bind.target} mixes a file and a folder`,
          {
            where: where(bind.pos),
          },
        );
      }
    }
    return binds.map((b) => ({ source: b.source, target: b.target, readOnly: b.readOnly }));
  }

  async attach(topology: Topology): Promise<NetnsLab | undefined> {
    const names = labNames(topology);
    const state = readState(names.registryFile, topology.labDir);
    if (state?.status !== 'running') return undefined;
    return new NetnsLab(topology, state);
  }

  async destroy(topology: Topology, options: DestroyOptions = {}): Promise<void> {
    const names = labNames(topology);
    const state = readState(names.registryFile, topology.labDir);
    if (state) {
      await teardown(state, options);
      return;
    }
    // No state at all (both copies removed by hand): fall back to the names the topology implies.
    const existing = new Set(await netnsList());
    const namespaces = [...topology.nodes.map((n) => nodeNetns(names, n.name)), names.mgmtNetns].filter(
      (ns) => existing.has(ns),
    );
    await teardown(
      {
        namespaces,
        nodes: {},
        files: [],
        markerPrefix: names.markerPrefix,
        labDir: topology.labDir,
        registryFile: names.registryFile,
      },
      options,
    );
  }

  async destroyAll(): Promise<string[]> {
    const destroyed: string[] = [];
    for (const state of listRegistry()) {
      await teardown(state);
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
