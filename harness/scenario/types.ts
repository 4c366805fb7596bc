/**
 * The scenario model: what a scenario YAML file says after parsing and validation.
 * The schema (scenario-schema.ts: the base shape plus each registered kind's fragment) is the authority
 * on the file's shape; these types mirror it with durations already converted to milliseconds and
 * every reference checked. Check and fault types are declared by their kind files.
 */
import type { Check } from './checks/index.ts';
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
  /** The gateway profile this run of the scenario is on (`ovsdb`, `evpn`), when it involves a gateway. */
  gateway: string | undefined;
  /** Every gateway profile the scenario declares it runs against (its `gateway:` field); [] for none. */
  gatewayProfiles: string[];
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
  /** (Re)assign floating IPs: each `ip` maps to `vm` from now on (NAT-4); `vm: null` unassigns it. */
  setFloatingIps: Array<{ ip: string; vm: string | null }>;
  /** Set the number of address-only members of a group (SG-6 growth; driver.setBulkMembers). */
  bulkMembers: BulkMembers[];
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

/** `count` address-only members of `group`, addresses from intent subnet `subnet` (SG contract item 7). */
export interface BulkMembers {
  group: string;
  count: number;
  subnet: string;
  /** Addresses to skip from the top of the subnet first (two groups sharing a subnet). */
  offset?: number | undefined;
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
  /**
   * `maxLossBeyondFaults`: the bound is instead the time the faults inside the measure were actually
   * held (from the start of the first one's apply to the end of the last one's revert) plus this, ms:
   * "back within T_conv after it heals", timed from the heal whatever the harness's own apply and
   * revert cost on a busy machine.
   */
  maxLossBeyondFaultsMs: number | undefined;
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

/** What every expectation has, whatever its kind. */
export interface CheckBase {
  /** Result name in the report. */
  name: string;
  /** Conformance IDs this check establishes (defaults to the scenario's). */
  conformance: string[];
  severity: Severity | undefined;
  pos: Pos;
  /** Poll the check until it holds or this many ms pass (0: once). */
  withinMs: number;
}

export interface ProbeSpec {
  proto: 'icmp' | 'tcp' | 'udp';
  port: number | undefined;
  /** Source port (`tcp/40000 sport 80`): unsolicited traffic from a service port (SG-2). */
  sport?: number | undefined;
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

// The check kinds: the union of the registered kinds (checks/index.ts), each declared in its own file.
export type { Check, CheckKind } from './checks/index.ts';
