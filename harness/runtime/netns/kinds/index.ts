/**
 * The node kinds of the netns runtime: one profile file each, one line here. Order matters: the
 * first profile serving a node's kind that selects it wins (FRR before plain Linux).
 * `kind: host` is the machine itself (no namespace, no profile): plan.ts handles it.
 */
import type { TopologyNode } from '../../../topology/types.ts';
import { bridgeProfile } from './bridge.ts';
import { frrProfile } from './frr.ts';
import { linuxProfile } from './linux.ts';
import type { NodeProfile } from './profile.ts';

export type { NodeProfile, ProfileContext, ProfileMount } from './profile.ts';

export const NODE_PROFILES: readonly NodeProfile[] = [bridgeProfile, frrProfile, linuxProfile];

/** The kind for the machine itself (containerlab `kind: host`). */
export const HOST_KIND = 'host';

/** Every `kind:` the netns runtime runs. */
export const SUPPORTED_KINDS: readonly string[] = [
  ...new Set(NODE_PROFILES.flatMap((p) => p.kinds)),
  HOST_KIND,
];

/** The profile that builds a node (validation has refused kinds no profile serves). */
export function profileFor(node: TopologyNode): NodeProfile {
  const profile = NODE_PROFILES.find((p) => p.kinds.includes(node.kind) && p.selects(node));
  if (!profile) throw new Error(`no netns node profile for kind '${node.kind}'`);
  return profile;
}

export function profileNamed(name: string): NodeProfile | undefined {
  return NODE_PROFILES.find((p) => p.name === name);
}
