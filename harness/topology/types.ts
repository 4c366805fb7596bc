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
  /** Every mount option after the target (`ro`, `rw`, `z`, ...), as written. */
  options: string[];
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
  /** Environment: the variables of `env-files` (in order) overridden by `env`, as containerlab merges them. */
  env: Record<string, string>;
  /** Absolute paths of the node's `env-files` (already read into `env`). */
  envFiles: string[];
  labels: Record<string, string>;
  mgmtIPv4: string | undefined;
  mgmtIPv6: string | undefined;
  /** Fields present in the file that are not modelled above, kept for runtimes that can pass them on. */
  extra: Record<string, unknown>;
  /** Where each `extra` field was written (the node itself, its group, its kind or the defaults). */
  extraPos: Record<string, SourcePos>;
  /** Container name containerlab would give the node: `<prefix>-<lab>-<node>` (see Topology.prefix). */
  longName: string;
  pos: SourcePos;
}

export interface LinkEndpoint {
  node: string;
  iface: string;
  mac: string | undefined;
  /** Address to configure on the interface (containerlab's per-endpoint `ipv4`/`ipv6`), CIDR. */
  ipv4?: string | undefined;
  ipv6?: string | undefined;
  pos?: SourcePos;
}

export interface TopologyLink {
  /**
   * containerlab link type: `veth` for the brief form and `type: veth`; otherwise `host`, `mgmt-net`,
   * `macvlan`, `vxlan`, `vxlan-stitch`, `dummy` (kept so a runtime can refuse them by name).
   */
  type: string;
  /**
   * Always two endpoints for veth links; `kind: bridge` nodes are ordinary endpoints. For the other
   * types the second endpoint is a pseudo endpoint whose `node` is the type (`host`, `mgmt-net`, ...)
   * and whose `iface` is the host-side interface, if any.
   */
  endpoints: [LinkEndpoint, LinkEndpoint];
  mtu: number | undefined;
  /** Link fields not modelled above (`vars`, `labels`, `remote`, `vni`, ...), as written. */
  extra: Record<string, unknown>;
  extraPos?: Record<string, SourcePos>;
  pos: SourcePos;
}

export interface MgmtNetwork {
  network: string;
  /** The file's `ipv4-subnet`, or containerlab's default 172.20.20.0/24 (see ipv4SubnetFromFile). */
  ipv4Subnet: string;
  ipv6Subnet: string | undefined;
  bridge: string | undefined;
  /** False when ipv4Subnet is containerlab's default: a runtime may then pick its own subnet. */
  ipv4SubnetFromFile: boolean;
  /** Other `mgmt` fields (`ipv4-gw`, `ipv4-range`, `mtu`, `external-access`, ...), as written. */
  extra: Record<string, unknown>;
  extraPos?: Record<string, SourcePos>;
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
  /** What goes before a node name in its container name: `clab-<lab>-`, `<lab>-` or ''. */
  longNamePrefix: string;
  /** Top-level fields not modelled above (`settings`, `debug`), as written. */
  extra: Record<string, unknown>;
  extraPos?: Record<string, SourcePos>;
  /** Non-fatal notes from loading (e.g. schema validation skipped), for the CLI to print. */
  warnings: string[];
  pos: SourcePos;
}
