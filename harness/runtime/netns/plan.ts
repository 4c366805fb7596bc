/**
 * The plan of a netns deploy, computed before anything is created: which nodes run (node filter),
 * their profiles and network namespaces (own, shared through `network-mode: container:`, or none for
 * `kind: host`), every interface and address, the management plan, the `ip -batch` lines for the
 * host and the management namespace, published ports and stage dependencies. Pure: it only reads
 * the topology (the host-interface clash check is done by the deploy, with `ip -j`).
 */
import type { Topology, TopologyLink, TopologyNode } from '../../topology/types.ts';
import { UserError } from '../../util/errors.ts';
import {
  networkModeOf,
  nodePorts,
  type PublishedPort,
  type StageExec,
  type StageWait,
  stageWaits,
} from './fields.ts';
import { type NodeProfile, profileFor } from './kinds/index.ts';
import { type MgmtPlan, mgmtBridgeLines, mgmtVethLines, planMgmt } from './mgmt.ts';
import { type LabNames, labNames, nodeNetns } from './names.ts';
import { where } from './validate.ts';

/** containerlab's default MTU for veth links. */
export const DEFAULT_LINK_MTU = 9500;

export interface NodePlan {
  node: TopologyNode;
  /** undefined for `kind: host` (the machine itself: no namespace, no init). */
  profile: NodeProfile | undefined;
  /** The network namespace the node's init starts in ('' for kind host). */
  netns: string;
  /** The node whose network namespace this one shares (`network-mode: container:<node>`). */
  sharesNetnsOf: string | undefined;
  hasMgmt: boolean;
  /** The node's data interfaces (from links), in link order. */
  ifaces: string[];
  /** `ip -batch` lines run inside the node for link addresses. */
  addrLines: string[];
  ports: PublishedPort[];
  /** containerlab `stages.<stage>.exec` commands. */
  stageExecs: StageExec[];
}

export interface DeployPlan {
  topology: Topology;
  names: LabNames;
  nodes: NodePlan[];
  links: TopologyLink[];
  mgmt: MgmtPlan;
  /** Namespaces the deploy creates (node namespaces and the management namespace). */
  namespaces: string[];
  /** Host-side interfaces of `host` links (created in the host namespace; they go with the node's). */
  hostInterfaces: string[];
  /** Lines for `ip -batch` in the host namespace: namespaces and every veth, created in place. */
  hostBatch: string[];
  /** Lines for `ip -n <mgmt> -batch`: the bridge, gateway, node ports and mgmt-net link ends. */
  mgmtBatch: string[];
  /** Per node: what its stages wait for (containerlab wait-for, plus container: sharing). */
  waits: Map<string, StageWait[]>;
}

function selectNodes(topology: Topology, nodeFilter: readonly string[] | undefined): TopologyNode[] {
  const filter = nodeFilter && nodeFilter.length > 0 ? new Set(nodeFilter) : undefined;
  for (const name of filter ?? []) {
    if (!topology.nodes.some((n) => n.name === name)) {
      throw new UserError(`--node-filter names node '${name}', which is not in lab '${topology.name}'`, {
        where: topology.file,
      });
    }
  }
  return topology.nodes.filter((n) => !filter || filter.has(n.name));
}

/** The ends of a link that are nodes (a host/mgmt-net link's second end is a pseudo endpoint). */
function nodeEnds(link: TopologyLink): TopologyLink['endpoints'][number][] {
  return link.type === 'veth' ? [...link.endpoints] : [link.endpoints[0]];
}

export function planDeploy(topology: Topology, nodeFilter?: readonly string[]): DeployPlan {
  const names = labNames(topology);
  const selected = selectNodes(topology, nodeFilter);
  const byName = new Map(selected.map((n) => [n.name, n]));
  const links = topology.links.filter((l) => nodeEnds(l).every((e) => byName.has(e.node)));

  const plans = new Map<string, NodePlan>();
  for (const node of selected) {
    const mode = networkModeOf(node);
    const shared = typeof mode === 'object' && mode.mode === 'container' ? mode.node : undefined;
    if (shared !== undefined && !byName.has(shared)) {
      throw new UserError(
        `node '${node.name}' shares the network of '${shared}' (network-mode), which --node-filter leaves out`,
        { where: where(node.pos), hint: `add '${shared}' to --node-filter` },
      );
    }
    const isHost = node.kind === 'host';
    const profile = isHost ? undefined : profileFor(node);
    const ownNetwork = !isHost && shared === undefined;
    plans.set(node.name, {
      node,
      profile,
      netns: isHost ? '' : nodeNetns(names, shared ?? node.name),
      sharesNetnsOf: shared,
      hasMgmt: ownNetwork && profile?.hasMgmt === true && !(typeof mode === 'object' && mode.mode === 'none'),
      ifaces: [],
      addrLines: [],
      ports: nodePorts(node),
      stageExecs: stageWaits(node).execs,
    });
  }

  // Interfaces: every node end of every link, each name once per node (eth0 is the mgmt interface).
  for (const link of links) {
    for (const end of nodeEnds(link)) {
      const plan = plans.get(end.node)!;
      if (plan.profile === undefined) continue; // the host side of a veth to a kind: host node
      if (plan.ifaces.includes(end.iface) || (plan.hasMgmt && end.iface === 'eth0') || end.iface === 'lo') {
        throw new UserError(
          `node '${end.node}': interface '${end.iface}' is used twice (eth0 is the management interface)`,
          {
            where: where(end.pos ?? link.pos),
            hint: 'give every link endpoint of a node its own interface, starting at eth1',
          },
        );
      }
      plan.ifaces.push(end.iface);
      if (end.ipv4) plan.addrLines.push(`addr add ${end.ipv4} dev ${end.iface}`);
      if (end.ipv6) plan.addrLines.push(`addr add ${end.ipv6} dev ${end.iface} nodad`);
    }
  }

  const nodePlans = [...plans.values()];
  const mgmt = planMgmt(
    topology,
    names,
    nodePlans.filter((p) => p.hasMgmt).map((p) => p.node.name),
  );
  const namespaces = [
    ...nodePlans.filter((p) => p.profile !== undefined && p.sharesNetnsOf === undefined).map((p) => p.netns),
    mgmt.netns,
  ];

  const { hostBatch, mgmtLinkLines, hostInterfaces } = linkLines(links, plans, mgmt);
  const waits = new Map<string, StageWait[]>();
  for (const p of nodePlans) {
    const list = stageWaits(p.node).waits.filter((w) => byName.has(w.node));
    if (p.sharesNetnsOf !== undefined)
      list.push({ stage: 'create', node: p.sharesNetnsOf, waitFor: 'create' });
    waits.set(p.node.name, list);
  }
  return {
    topology,
    names,
    nodes: nodePlans,
    links,
    mgmt,
    namespaces,
    hostInterfaces,
    hostBatch: [...namespaces.map((ns) => `netns add ${ns}`), ...hostBatch, ...mgmtVethLines(mgmt, names)],
    mgmtBatch: [...mgmtBridgeLines(mgmt), ...mgmtLinkLines],
    waits,
  };
}

/**
 * veth pairs created straight into their namespaces under their final names: node↔node in the two
 * node namespaces; node↔host (a `host` link, or a veth to a `kind: host` node) with the host end in
 * the host namespace; node↔mgmt-net with the other end on the management bridge.
 */
function linkLines(
  links: readonly TopologyLink[],
  plans: ReadonlyMap<string, NodePlan>,
  mgmt: MgmtPlan,
): { hostBatch: string[]; mgmtLinkLines: string[]; hostInterfaces: string[] } {
  const hostBatch: string[] = [];
  const mgmtLinkLines: string[] = [];
  const hostInterfaces: string[] = [];
  const mgmtNames = new Set([mgmt.bridge, 'lo', ...[...mgmt.nodes.values()].map((n) => n.peer)]);
  const end = (
    e: { iface: string; mac?: string | undefined },
    netns: string | undefined,
    mtu: number,
  ): string =>
    `name ${e.iface}${netns ? ` netns ${netns}` : ''} mtu ${mtu}${e.mac ? ` address ${e.mac}` : ''}`;
  for (const link of links) {
    const mtu = link.mtu ?? DEFAULT_LINK_MTU;
    const [a, b] = link.endpoints;
    const planA = plans.get(a.node)!;
    const planB = link.type === 'veth' ? plans.get(b.node) : undefined;
    const hostSide =
      link.type === 'host'
        ? b
        : planB?.profile === undefined && link.type === 'veth'
          ? b
          : planA.profile === undefined
            ? a
            : undefined;
    if (link.type === 'mgmt-net') {
      if (mgmtNames.has(b.iface)) {
        throw new UserError(
          `mgmt-net link host-interface '${b.iface}' clashes with a management bridge port`,
          {
            where: where(link.pos),
            hint: 'pick another host-interface name',
          },
        );
      }
      mgmtNames.add(b.iface);
      hostBatch.push(`link add ${end(a, planA.netns, mtu)} type veth peer ${end(b, mgmt.netns, mtu)}`);
      mgmtLinkLines.push(`link set dev ${b.iface} master ${mgmt.bridge}`, `link set dev ${b.iface} up`);
    } else if (hostSide) {
      const nodeSide = hostSide === a ? b : a;
      const nodePlan = plans.get(nodeSide.node)!;
      if (hostInterfaces.includes(hostSide.iface)) {
        throw new UserError(`host interface '${hostSide.iface}' is the end of two links`, {
          where: where(hostSide.pos ?? link.pos),
          hint: 'give each host link its own host-interface name',
        });
      }
      hostInterfaces.push(hostSide.iface);
      hostBatch.push(
        `link add ${end(nodeSide, nodePlan.netns, mtu)} type veth peer ${end(hostSide, undefined, mtu)}`,
        `link set dev ${hostSide.iface} up`,
      );
    } else {
      hostBatch.push(`link add ${end(a, planA.netns, mtu)} type veth peer ${end(b, planB!.netns, mtu)}`);
    }
  }
  return { hostBatch, mgmtLinkLines, hostInterfaces };
}
