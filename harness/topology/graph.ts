/**
 * A lab's topology as a graph for pictures: nodes with their role and addresses, links with the
 * interface and address at each end, nodes grouped by `group:`. Built from the topology model only
 * (the addresses a node gives itself come from its `exec:` `ip addr add` lines, as the file says them).
 * graphDot renders it as Graphviz DOT; graph-svg.ts draws it without Graphviz.
 */
import type { Topology, TopologyNode } from './types.ts';

export interface GraphNode {
  name: string;
  group: string | undefined;
  /** What runs there: the reference role its `cmd:` starts, FRR, a bridge, or the node kind. */
  role: string;
  /** mgmt IPv4 and loopback addresses, for the label. */
  addresses: string[];
  /** A link's far end that is not a lab node (`host`, `mgmt-net`, `macvlan` ... links). */
  pseudo: boolean;
}

export interface GraphEnd {
  node: string;
  iface: string;
  address: string | undefined;
}

export interface GraphEdge {
  ends: [GraphEnd, GraphEnd];
  type: string;
}

export interface TopologyGraph {
  name: string;
  /** "mgmt network <name> <subnet>: every node has eth0 on it". */
  caption: string;
  nodes: GraphNode[];
  edges: GraphEdge[];
}

const IP_ADDR = /\bip\s+(?:-[46]\s+)?addr(?:ess)?\s+add\s+(\S+)\s+dev\s+(\S+)/;

/** Interface → addresses a node's exec lines give it. */
function execAddresses(node: TopologyNode): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of node.exec) {
    const m = IP_ADDR.exec(line);
    if (m) out.set(m[2]!, [...(out.get(m[2]!) ?? []), m[1]!]);
  }
  return out;
}

function roleOf(node: TopologyNode): string {
  const role = /reference-impl\/bin\/([a-z-]+)\.ts/.exec(node.cmd ?? '')?.[1];
  if (role) return role;
  if (/frr/i.test(node.image)) return 'FRR';
  if (/openvswitch|ovs/i.test(node.image) || node.kind === 'ovs-bridge') return 'Open vSwitch';
  if (node.kind === 'bridge') return 'bridge';
  return node.kind === 'linux' ? 'host' : node.kind;
}

export function topologyGraph(topology: Topology): TopologyGraph {
  const addresses = new Map(topology.nodes.map((n) => [n.name, execAddresses(n)]));
  const nodes: GraphNode[] = topology.nodes.map((n) => ({
    name: n.name,
    group: n.group,
    role: roleOf(n),
    addresses: [
      ...(n.mgmtIPv4 ? [`mgmt ${n.mgmtIPv4}`] : []),
      ...(addresses.get(n.name)?.get('lo') ?? []).map((a) => `lo ${a}`),
    ],
    pseudo: false,
  }));
  const edges: GraphEdge[] = topology.links.map((link) => {
    const ends = link.endpoints.map(
      (e): GraphEnd => ({
        node: link.type === 'veth' || e === link.endpoints[0] ? e.node : `${link.type}:${e.iface}`,
        iface: e.iface,
        address: e.ipv4 ?? addresses.get(e.node)?.get(e.iface)?.join(' '),
      }),
    ) as [GraphEnd, GraphEnd];
    if (!nodes.some((n) => n.name === ends[1].node)) {
      nodes.push({ name: ends[1].node, group: undefined, role: link.type, addresses: [], pseudo: true });
    }
    return { ends, type: link.type };
  });
  const mgmt = topology.mgmt;
  return {
    name: topology.name,
    caption: `lab ${topology.name}: mgmt network ${mgmt.network} ${mgmt.ipv4Subnet}, every node has eth0 on it`,
    nodes,
    edges,
  };
}

/** A DOT quoted string; line breaks become DOT's centred `\n`. */
const quote = (text: string): string =>
  `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;

export function nodeLabel(node: GraphNode): string[] {
  return [node.name, ...(node.role === node.name ? [] : [node.role]), ...node.addresses];
}

export function endLabel(end: GraphEnd): string[] {
  return [end.iface, ...(end.address ? [end.address] : [])];
}

/** Graphviz DOT (undirected): a cluster per group, interface and address at each end of a link. */
export function graphDot(graph: TopologyGraph): string {
  const line = (node: GraphNode) =>
    `${quote(node.name)} [label=${quote(nodeLabel(node).join('\n'))}${node.pseudo ? ', style="dashed"' : ''}];`;
  const groups = [...new Set(graph.nodes.map((n) => n.group))];
  const out = [
    `graph ${quote(graph.name)} {`,
    `  graph [label=${quote(graph.caption)}, labelloc=b, fontname="Helvetica", fontsize=11, nodesep=0.4, ranksep=1.1];`,
    '  node [shape=box, style="rounded", fontname="Helvetica", fontsize=10];',
    '  edge [fontname="Helvetica", fontsize=8, labelfontsize=8];',
  ];
  for (const group of groups) {
    const members = graph.nodes.filter((n) => n.group === group);
    if (group === undefined) {
      for (const n of members) out.push(`  ${line(n)}`);
      continue;
    }
    out.push(`  subgraph ${quote(`cluster_${group}`)} {`, `    label=${quote(group)}; style="dashed";`);
    for (const n of members) out.push(`    ${line(n)}`);
    out.push('  }');
  }
  for (const edge of graph.edges) {
    const [a, b] = edge.ends;
    const style = edge.type === 'veth' ? '' : ', style="dashed"';
    out.push(
      `  ${quote(a.node)} -- ${quote(b.node)} [taillabel=${quote(endLabel(a).join('\n'))}, headlabel=${quote(endLabel(b).join('\n'))}${style}];`,
    );
  }
  out.push('}', '');
  return out.join('\n');
}
