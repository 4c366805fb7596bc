/**
 * The resolved lab model: a containerlab topology after variable expansion, schema validation and
 * inheritance (defaults → kinds → groups → node). Runtimes consume only this, never raw YAML.
 */

/** Where a value came from in the topology file, for error messages (`file:line:col`). */
export interface SourcePos {
  file: string;
  line: number;
  col: number;
  /** YAML path, e.g. `topology.nodes.r1.binds[0]`. */
  path: string;
}

export interface BindMount {
  /** Absolute host path (resolved relative to the topology file's folder). */
  source: string;
  /** Path inside the node. */
  target: string;
  readOnly: boolean;
  pos: SourcePos;
}

export interface TopologyNode {
  name: string;
  kind: string;
  image: string;
  group: string | undefined;
  binds: BindMount[];
  /** containerlab `exec:` lines, run in order after the node is up. */
  exec: string[];
  /** containerlab `cmd:`: the node's main command, if any. */
  cmd: string | undefined;
  env: Record<string, string>;
  labels: Record<string, string>;
  mgmtIPv4: string | undefined;
  mgmtIPv6: string | undefined;
  /** Fields present in the file that are not modelled above, kept for runtimes that can pass them on. */
  extra: Record<string, unknown>;
  pos: SourcePos;
}

export interface LinkEndpoint {
  node: string;
  iface: string;
  mac: string | undefined;
}

export interface TopologyLink {
  /** Always two endpoints for veth links; `kind: bridge` nodes are ordinary endpoints. */
  endpoints: [LinkEndpoint, LinkEndpoint];
  mtu: number | undefined;
  pos: SourcePos;
}

export interface MgmtNetwork {
  network: string;
  ipv4Subnet: string;
  ipv6Subnet: string | undefined;
  bridge: string | undefined;
}

export interface Topology {
  /** Lab name (`name:` in the file). */
  name: string;
  /** Absolute path of the topology file. */
  file: string;
  /** Folder of the topology file: binds and the lab directory are relative to it. */
  dir: string;
  /** containerlab's node-name prefix: `clab` unless the file says otherwise; '' means no prefix. */
  prefix: string;
  mgmt: MgmtNetwork;
  nodes: TopologyNode[];
  links: TopologyLink[];
  /** Lab directory: `clab-<name>/` beside the topology file (containerlab's convention). */
  labDir: string;
}
