/**
 * Every host-global name a netns lab uses, derived from the lab name plus a short hash of its lab
 * directory: two labs (even two with the same name in different folders) never share a namespace,
 * a registry entry or a process marker, and destroy finds its own resources from the names alone.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { Topology } from '../../topology/types.ts';

/** Project-wide registry of deployed netns labs: one JSON file per lab (see state.ts). */
export const REGISTRY_DIR = process.env.OTWIN_REGISTRY_DIR ?? '/run/overlay-twin/labs';

export interface LabNames {
  /** `<lab>-<hash>`: registry file name and process marker key. */
  key: string;
  /** Prefix of every node namespace: `clab-<lab>-<hash>`; node namespaces are `<nsPrefix>-<node>`. */
  nsPrefix: string;
  /** The lab-private namespace holding the management bridge (`<nsPrefix>.mgmt`, never a node name). */
  mgmtNetns: string;
  registryFile: string;
  /** argv[0] of every node's init process: `otwin-node <key> <node>` (found by destroy after a crash). */
  markerPrefix: string;
  hash: string;
}

export function shortHash(text: string, length = 6): string {
  return createHash('sha256').update(text).digest('hex').slice(0, length);
}

export function labNames(topology: Pick<Topology, 'name' | 'labDir'>): LabNames {
  const hash = shortHash(topology.labDir);
  const key = `${topology.name}-${hash}`;
  const nsPrefix = `clab-${topology.name}-${hash}`;
  return {
    key,
    nsPrefix,
    mgmtNetns: `${nsPrefix}.mgmt`,
    registryFile: join(REGISTRY_DIR, `${key}.json`),
    markerPrefix: `otwin-node ${key} `,
    hash,
  };
}

export function nodeNetns(names: LabNames, node: string): string {
  return `${names.nsPrefix}-${node}`;
}

export function nodeMarker(names: LabNames, node: string): string {
  return `${names.markerPrefix}${node}`;
}

/**
 * Linux interface names: at most 15 bytes, no '/', ':' or whitespace — and none of the characters
 * `ip -batch` gives a meaning (quotes, backslash, '#' comments), since these names reach its lines.
 */
export function isValidIfName(name: string): boolean {
  return (
    name.length > 0 &&
    Buffer.byteLength(name) <= 15 &&
    !/[/:\s"'\\#]/.test(name) &&
    name !== '.' &&
    name !== '..'
  );
}
