/**
 * The scenario model: what a scenario YAML file says after parsing and validation.
 * The JSON schema (scenario.schema.json) is the authority on the file's shape; these types mirror it
 * with durations already converted to milliseconds and every reference checked.
 */
import type { Fault } from './faults/index.ts';
import type { Intent } from './intent.ts';

export type Severity = 'blocker' | 'critical' | 'normal' | 'minor' | 'trivial';

export interface Budgets {
  /** Control-plane convergence budget (`T_conv`), ms. */
  convergenceMs: number;
  /** Security-group propagation budget (`T_sg`), ms. */
  sgMs: number;
  /** Data-plane loss window budget (`T_loss`), ms. */
  lossMs: number;
}

/** Where a value sits in the scenario file. */
export interface Pos {
  file: string;
  line: number;
  col: number;
}

export interface ScenarioMeta {
  name: string;
  description: string | undefined;
  conformance: string[];
  tags: string[];
  severity: Severity;
  /** Absolute path of the lab (containerlab topology) file. */
  lab: string;
  /** Implementation driver name (`frr-evpn`, `reference`, ...). */
  implementation: string;
  /** Gateway profile (`frr-evpn`, `ovs-vtep`, `reference`), when the scenario involves a gateway. */
  gateway: string | undefined;
  /** Kernel/machine features the scenario needs (names from `detectFeatures()`). */
  requires: string[];
  /** Seed for every random choice (chaos schedules, stream payloads). */
  seed: number;
  budgets: Budgets;
}

export interface Scenario extends ScenarioMeta {
  /** Absolute path of the scenario file. */
  file: string;
  /** The file's text, kept for records and replay. */
  source: string;
  intent: Intent;
  timeline: Step[];
}

// ---------------------------------------------------------------------------------------------
// Steps

interface StepBase {
  /** Human label for reports; defaults to a description of the step. */
  name: string;
  /** Scenario-relative start time (ms): the step waits until then. */
  atMs: number | undefined;
  /** Position of the step in the file. */
  pos: Pos;
  /** Index path in the timeline, e.g. `3` or `4.during.1`. */
  id: string;
}

export interface ProvisionStep extends StepBase {
  kind: 'provision';
  /** `all` applies the whole intent; otherwise attach/detach/move VMs, set groups. */
  apply: boolean;
  attach: string[];
  detach: string[];
  move: Array<{ vm: string; to: string }>;
  setGroups: Array<{ vm: string; groups: string[] }>;
  /**
   * When set, the change must be REFUSED (e.g. while the directory is down) with an error whose
   * message matches this regular expression; the step is then an expectation of its own and the
   * intent stays as it was.
   */
  refused: string | undefined;
  /**
   * The change is only attempted (e.g. while the directory is down): its outcome is logged, not
   * judged, and the model keeps the intent as it was — the expectations after it check that the
   * change was programmed nowhere.
   */
  attempt: boolean;
}

export interface ExpectStep extends StepBase {
  kind: 'expect';
  checks: Check[];
  /** Establishes a starting state: a step of the next expectation, not a result with an ID. */
  precondition: boolean;
}

export interface FaultStep extends StepBase {
  kind: 'fault';
  fault: Fault;
}

export interface WaitStep extends StepBase {
  kind: 'wait';
  ms: number;
}

export interface WaitUntilStep extends StepBase {
  kind: 'wait-until';
  condition: Check;
  deadlineMs: number;
  intervalMs: number;
  /** Establishes a starting state: a step of the next expectation, not a result with an ID. */
  precondition: boolean;
}

export interface MeasureStep extends StepBase {
  kind: 'measure';
  stream: StreamSpec;
  /** Bound on the longest loss window, ms (defaults to the lossMs budget). */
  maxLossWindowMs: number;
  /** Bound on the total number of lost probes, if given. */
  maxLost: number | undefined;
  during: Step[];
  conformance: string[];
}

export interface ChaosStep extends StepBase {
  kind: 'chaos';
  seed: number;
  windowMs: number;
  /** Number of faults drawn over the window. */
  count: number;
  /** How long each drawn fault lasts before it is reverted (ms), [min, max]. */
  durationMs: [number, number];
  faults: Fault[];
  /** Checks that must hold once every fault is reverted and the settle time has passed. */
  settleMs: number;
}

export type Step =
  | ProvisionStep
  | ExpectStep
  | FaultStep
  | WaitStep
  | WaitUntilStep
  | MeasureStep
  | ChaosStep;

export interface StreamSpec {
  from: string;
  to: string;
  proto: 'udp' | 'icmp' | 'tcp';
  port: number;
  intervalMs: number;
}

// ---------------------------------------------------------------------------------------------
// Faults: the union of the registered kinds (faults/index.ts), each declared in its own file.

export type { Fault, FaultKind } from './faults/index.ts';

/** One end of a lab link: node + interface. */
export interface LinkRef {
  node: string;
  iface: string;
}

// ---------------------------------------------------------------------------------------------
// Checks (expectations)

interface CheckBase {
  /** Result name in the report. */
  name: string;
  /** Conformance IDs this check establishes (defaults to the scenario's). */
  conformance: string[];
  severity: Severity | undefined;
  pos: Pos;
  /** Poll the check until it holds or this many ms pass (0: once). */
  withinMs: number;
}

export interface MatrixCheck extends CheckBase {
  kind: 'matrix';
  probes: ProbeSpec[];
  /** Endpoints (VM names, `ext:<name>`) to include; all attached VMs by default. */
  among: string[] | undefined;
  overrides: MatrixOverride[];
}

export interface ProbeSpec {
  proto: 'icmp' | 'tcp' | 'udp';
  port: number | undefined;
}

export interface MatrixOverride {
  from: string;
  to: string;
  probe: string | undefined;
  expect: 'reach' | 'drop';
  reason: string | undefined;
}

export interface ReachCheck extends CheckBase {
  kind: 'reach';
  from: string;
  to: string;
  probe: ProbeSpec;
  expect: 'reach' | 'drop';
}

export interface BgpRouteExpectation {
  type: 2 | 3 | 5;
  present: boolean;
  /** How many such routes (exact), when given. */
  count: number | undefined;
  /** Field values the route must carry (vni, mac, ip, originator, rd, rt, nextHop, ...). */
  match: Record<string, unknown>;
  /** Extra fields checked on every matched route (label, pmsiTunnelType, encapsulation, ...). */
  fields: Record<string, unknown>;
}

export interface BgpCheck extends CheckBase {
  kind: 'bgp';
  /** Node whose RIB the tap listens to (a route reflector). */
  node: string;
  routes: BgpRouteExpectation[];
}

export interface TableCheck extends CheckBase {
  kind: 'table';
  node: string;
  /** argv run in the node; prints JSON. */
  command: string[];
  /** Dotted path into the JSON to the list of rows (`routes`, empty: the top level). */
  path: string;
  contains: Array<Record<string, unknown>>;
  absent: Array<Record<string, unknown>>;
  count: number | undefined;
  /** Row filter applied before `count`. */
  where: Record<string, unknown> | undefined;
}

export interface CaptureCheck extends CheckBase {
  kind: 'capture';
  points: CapturePoint[];
  /** What is sent while the captures run. */
  stimulus: PacketSend;
  durationMs: number;
}

export interface CapturePoint {
  node: string;
  iface: string;
  /** tcpdump/BPF filter. */
  filter: string;
  /** Exact number of matching packets, or a range. */
  count: number | undefined;
  min: number | undefined;
  max: number | undefined;
}

export interface PacketSend {
  from: string;
  /** Interface in the sender (defaults to the VM's interface). */
  iface: string | undefined;
  type: 'arp' | 'icmp' | 'udp' | 'raw';
  /** Destination IP (arp: target IP; icmp/udp: dst). */
  dst: string | undefined;
  /** A MAC, or `gateway`: the MAC the sender learned for its gateway (GatewayCheck). */
  dstMac: string | undefined;
  port: number | undefined;
  count: number;
  /** Hex frame for `raw`. */
  hex: string | undefined;
}

export interface PacketCheck extends CheckBase {
  kind: 'packet';
  send: PacketSend;
  /** Where the frame must (or must not) come out. */
  at: CapturePoint[];
  /** Only packets matching these header fields count (masked compare: other fields are ignored). */
  match: Record<string, unknown>;
  durationMs: number;
}

/**
 * L3-2: the VMs in `from` ARP for their subnet's gateway; each must be answered, and every answer
 * carry one and the same MAC, whatever its value (what the MAC is comes from no implementation).
 */
export interface GatewayCheck extends CheckBase {
  kind: 'gateway';
  from: string[];
  durationMs: number;
}

/** VXLAN encapsulation checks beyond one packet (VX-2..VX-5): see checks/vxlan.ts. */
export interface VxlanCheck extends CheckBase {
  kind: 'vxlan';
  mode: 'entropy' | 'mtu' | 'inject';
  /** entropy/mtu: the sending VM; inject: the underlay node that sends the crafted packet. */
  from: string;
  /** The destination VM. */
  to: string;
  /** Underlay points (entropy: where outer source ports are read; mtu: where fragments are looked for). */
  at: Array<{ node: string; iface: string }>;
  /** entropy: number of inner flows. */
  flows: number;
  /** entropy: distinct outer source ports required. */
  minSourcePorts: number;
  /** mtu: underlay MTU set on the `at` interfaces for the check (restored afterwards). */
  underlayMtu: number | undefined;
  /** inject: VNI, or a subnet name standing for its VNI. */
  vni: number | string | undefined;
  /** inject: VXLAN flags byte (0x08: I flag only), reserved fields. */
  flags: number;
  reserved1: number;
  reserved2: number;
  /** inject: delivered to `to` (only), or dropped everywhere. */
  expect: 'delivered' | 'dropped';
  /** inject: VMs watched (default every attached VM). */
  among: string[] | undefined;
  durationMs: number;
}

export type Check =
  | MatrixCheck
  | ReachCheck
  | BgpCheck
  | TableCheck
  | CaptureCheck
  | PacketCheck
  | GatewayCheck
  | VxlanCheck;
export type CheckKind = Check['kind'];
