/**
 * The Runtime seam: what deploys a Topology. Two implementations: the embedded netns runtime
 * (default) and containerlab (for users with Docker). Everything above this seam — traffic, faults,
 * the scenario engine — sees nodes only through LabNode, so it works the same on both.
 */

import type { Topology } from '../topology/types.ts';
import type { ExecResult } from '../util/exec.ts';

export type RuntimeName = 'netns' | 'containerlab';

export interface DeployOptions {
  /** Destroy an existing deployment of the same lab first (containerlab's `--reconfigure`). */
  reconfigure?: boolean;
  /** Deploy only these nodes (containerlab's `--node-filter`). */
  nodeFilter?: string[];
  maxWorkers?: number;
  /** Progress lines ("starting node r1 (frr)") for the CLI. */
  onProgress?: (message: string) => void;
  /** Ctrl-C: stop at the next node and destroy what was created (the deploy then rejects). */
  signal?: AbortSignal;
}

export interface DestroyOptions {
  /** Also remove the lab directory (containerlab's `destroy --cleanup`). */
  cleanup?: boolean;
}

export interface ExecOptions {
  input?: string;
  timeoutMs?: number;
  env?: Record<string, string>;
}

/** A host command line (and extra environment) that runs something inside a node. */
export interface InteractiveCommand {
  argv: string[];
  env?: Record<string, string>;
}

/** One running node of a deployed lab. */
export interface LabNode {
  name: string;
  kind: string;
  image: string;
  /**
   * A path that `setns(2)` accepts for this node's network namespace: `/run/netns/<name>` on the
   * netns runtime, `/proc/<pid>/ns/net` of the container on containerlab. The traffic engine uses it.
   */
  netnsPath: string;
  /** The named network namespace, when there is one (`ip netns exec`/`ip -n` work with it). */
  netnsName: string | undefined;
  /** A PID inside the node (its init/holder process): `nsenter -t <pid> -n -m -u` enters it. */
  pid: number;
  mgmtIPv4: string | undefined;
  mgmtIPv6: string | undefined;
  /** Runs argv inside the node (network + mount + UTS namespace), like `docker exec`. */
  exec(argv: readonly string[], options?: ExecOptions): Promise<ExecResult>;
  /**
   * The host command that runs argv inside the node with stdin/stdout attached and kept open
   * (`docker exec -i`, nsenter): how the exec traffic transport starts a probe server in the node.
   * Absent when the runtime cannot (the exec transport then names the node).
   */
  interactive?(argv: readonly string[]): InteractiveCommand;
  /**
   * For a namespace inside another node (a VM on a hypervisor): that node, and the path its own
   * processes open the namespace at. The exec traffic transport serves it from that node's server.
   */
  within?: { node: LabNode; netnsPath: string };
}

/** containerlab's `inspect --format json` entry (see shared/containerlab/inspect-sample.json). */
export interface InspectEntry {
  lab_name: string;
  labPath: string;
  absLabPath: string;
  name: string;
  container_id: string;
  image: string;
  kind: string;
  state: string;
  status: string;
  ipv4_address: string;
  ipv6_address: string;
  owner: string;
  /** netns runtime: what runs in place of the image (e.g. `FRR 8.4.4 (this machine's)`). */
  runs?: string;
}

/** Whether a lab is deployed: `partial` is an interrupted deploy or a lab whose nodes stopped. */
export type LabStatus = 'absent' | 'partial' | 'running';

export interface DeployedLab {
  topology: Topology;
  runtime: RuntimeName;
  nodes: Map<string, LabNode>;
  node(name: string): LabNode;
}

export interface Runtime {
  readonly name: RuntimeName;
  deploy(topology: Topology, options?: DeployOptions): Promise<DeployedLab>;
  /** Attaches to an already deployed lab (from its lab directory); undefined when not deployed. */
  attach(topology: Topology): Promise<DeployedLab | undefined>;
  destroy(topology: Topology, options?: DestroyOptions): Promise<void>;
  /** Destroys every lab this runtime deployed on the machine (the project's own only). */
  destroyAll(): Promise<string[]>;
  inspect(topology: Topology): Promise<InspectEntry[]>;
  inspectAll(): Promise<Record<string, InspectEntry[]>>;
  /** Checks a topology without deploying: throws every problem at once; returns warnings. */
  validate?(topology: Topology): { warnings: string[] };
  /** Whether the lab is deployed, with a one-line explanation. */
  status?(topology: Topology): Promise<{ status: LabStatus; detail: string }>;
}
