/**
 * Node profiles: how a node of a given kind/image is built from the machine's own software. One
 * file per profile in this folder; index.ts registers them and picks one per node.
 */
import type { TopologyNode } from '../../../topology/types.ts';
import type { NetnsNode } from '../node.ts';
import type { LabState, NodeState } from '../state.ts';

export interface ProfileMount {
  source: string;
  target: string;
  readOnly: boolean;
}

export interface ProfileContext {
  node: TopologyNode;
  nodeState: NodeState;
  lab: LabState;
  /** `<labDir>/<node>`: the node's own folder in the lab directory. */
  nodeDir: string;
  /** Names of the node's data interfaces (from links), in link order. */
  ports: string[];
}

export interface NodeProfile {
  /** Recorded in the lab state (`NodeState.profile`) and shown in progress lines. */
  readonly name: string;
  /** containerlab kinds this profile serves (`kind:` values the netns runtime accepts for it). */
  readonly kinds: readonly string[];
  /**
   * Whether this profile takes a node of one of its kinds; the registry asks profiles in order, so a
   * narrower profile (FRR for linux nodes that carry FRR) comes before the catch-all one.
   */
  selects(node: TopologyNode): boolean;
  /** Whether the node gets eth0 on the management network. */
  readonly hasMgmt: boolean;
  /** Whether the node routes (IPv4/IPv6 forwarding on), as a container on a Docker host does. */
  readonly forwards: boolean;
  /** Whether `inspect` lists the node (containerlab lists containers, not bridges). */
  readonly listed: boolean;
  /** What runs in place of the image, for inspect (e.g. `FRR 8.4.4 (this machine's)`). */
  runs?(): string;
  /** Creates the node's files in the lab directory; returns bind mounts made before the user's binds. */
  prepare(ctx: ProfileContext): ProfileMount[];
  /** Extra `ip -batch` lines run inside the node when it starts, after its interfaces are up. */
  ipLines(ctx: ProfileContext): string[];
  /** Starts the node's software once the node runs and its links are up. */
  start(ctx: ProfileContext, node: NetnsNode): Promise<void>;
}
