/**
 * What scenario validation needs to know about a lab file: node names and each node's interfaces.
 * Read straight from the containerlab YAML so that validation touches nothing (no deploy, no runtime).
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

export interface LabInventory {
  file: string;
  name: string;
  nodes: Map<string, { kind: string; image: string }>;
  /** node → interfaces named in `links:` (plus eth0, the management interface). */
  ifaces: Map<string, Set<string>>;
}

interface RawLab {
  name?: string;
  topology?: {
    defaults?: { kind?: string; image?: string };
    kinds?: Record<string, { image?: string }>;
    nodes?: Record<string, { kind?: string; image?: string } | null>;
    links?: Array<{ endpoints?: string[]; endpoint?: { node?: string; interface?: string } }>;
  };
}

/** `${VAR:=default}` → default (or the environment's value), as containerlab does before parsing. */
function expandVars(text: string): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?=([^}]*))?\}/g, (_m, name: string, def?: string) => {
    return process.env[name] ?? def ?? '';
  });
}

export function readLabInventory(file: string): LabInventory {
  const raw = (parse(expandVars(readFileSync(file, 'utf8'))) ?? {}) as RawLab;
  const topo = raw.topology ?? {};
  const nodes = new Map<string, { kind: string; image: string }>();
  const ifaces = new Map<string, Set<string>>();
  for (const [name, node] of Object.entries(topo.nodes ?? {})) {
    const kind = node?.kind ?? topo.defaults?.kind ?? 'linux';
    const image = node?.image ?? topo.kinds?.[kind]?.image ?? topo.defaults?.image ?? '';
    nodes.set(name, { kind, image });
    ifaces.set(name, new Set(['eth0']));
  }
  for (const link of topo.links ?? []) {
    for (const endpoint of link.endpoints ?? []) {
      const [node, iface] = endpoint.split(':');
      if (node && iface) ifaces.get(node)?.add(iface);
    }
    if (link.endpoint?.node && link.endpoint.interface) {
      ifaces.get(link.endpoint.node)?.add(link.endpoint.interface);
    }
  }
  return { file, name: raw.name ?? '', nodes, ifaces };
}
