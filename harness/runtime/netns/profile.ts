/**
 * Node profiles: how a node of a given kind/image is built from the machine's own software. One
 * file per profile (linux.ts, frr.ts, bridge.ts); `profileFor` picks one per node.
 */
import type { TopologyNode } from '../../topology/types.ts';
import type { NetnsNode } from './node.ts';
import type { LabState, NodeState, ProfileName } from './state.ts';

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
  readonly name: ProfileName;
  /** Whether the node gets eth0 on the management network. */
  readonly hasMgmt: boolean;
  /** Creates the node's files in the lab directory; returns bind mounts made before the user's binds. */
  prepare(ctx: ProfileContext): ProfileMount[];
  /** Extra `ip -batch` lines run inside the node when it starts, after its interfaces are up. */
  ipLines(ctx: ProfileContext): string[];
  /** Starts the node's software once the node runs and its links are up. */
  start(ctx: ProfileContext, node: NetnsNode): Promise<void>;
}
