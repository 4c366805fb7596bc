/**
 * What scenario validation needs to know about a lab file: node names and each node's interfaces.
 * The lab file is loaded and validated exactly as a deploy would (harness/topology: schema, links in
 * the brief and the extended form, binds), without deploying anything: a bad lab fails validation
 * with its own file:line:col.
 */
import { loadTopologySync } from '../topology/load.ts';
import type { Topology } from '../topology/types.ts';

export interface LabInventory {
  file: string;
  name: string;
  nodes: Map<string, { kind: string; image: string; labels: Readonly<Record<string, string>> }>;
  /** node → interfaces named in `links:` (plus eth0, the management interface). */
  ifaces: Map<string, Set<string>>;
}

export function labInventory(topology: Topology): LabInventory {
  const nodes: LabInventory['nodes'] = new Map();
  const ifaces = new Map<string, Set<string>>();
  for (const node of topology.nodes) {
    nodes.set(node.name, { kind: node.kind, image: node.image, labels: node.labels });
    ifaces.set(node.name, new Set(['eth0']));
  }
  for (const link of topology.links) for (const end of link.endpoints) ifaces.get(end.node)?.add(end.iface);
  return { file: topology.file, name: topology.name, nodes, ifaces };
}

/** Loads (and so validates) the lab file; throws the loader's UserError naming the lab file. */
export function readLabInventory(file: string): LabInventory {
  return labInventory(loadTopologySync(file));
}
