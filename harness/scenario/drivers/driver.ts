/**
 * The implementation-driver seam: how the scenario engine applies intent to the system under test
 * and finds its parts. One driver per implementation, in a module named by package.json `otwin.drivers`
 * (./index.ts) that exports `createDriver()`. Everything else in the engine is implementation-neutral.
 */
import type { EvpnGatewayFdb } from '../../gateway/evpn-gateway.ts';
import type { VtepTables } from '../../gateway/vtep-db.ts';
import type { ForwardingEntry } from '../../kernel/fdb.ts';
import type { DeployedLab, LabNode } from '../../runtime/runtime.ts';
import type { Gateway, Intent, Vm } from '../intent.ts';
import type { BulkMembers, Scenario } from '../types.ts';

/** What an implementation can do; a scenario needing more is skipped with the reason. */
export type Capability =
  | 'l2'
  | 'routing'
  | 'security-groups'
  | 'floating-ips'
  | 'pnat'
  /** EVPN type-5 per routing domain with an L3 VNI (intent domains[].vni), imported from PEs. */
  | 'l3vni'
  | 'service-chains'
  | 'vm-move'
  | 'zones';

/** One change of intent, as a `provision` step says it. `apply` (re)applies the whole intent. */
export interface IntentChange {
  apply: boolean;
  attach: string[];
  detach: string[];
  move: Array<{ vm: string; to: string }>;
  setGroups: Array<{ vm: string; groups: string[] }>;
  /** Floating IPs whose VM changed (the new mapping is in ctx.intent.floatingIps); absent = none. */
  setFloatingIps?: Array<{ ip: string; vm: string | null }>;
}

export interface DriverContext {
  lab: DeployedLab;
  /** The intent as it stands after the change (attached flags, groups, hypervisors updated). */
  intent: Intent;
  scenario: Scenario;
  log(message: string): void;
  /**
   * The implementation's API has just accepted the change: `within` budgets of the expectations
   * after a provision step count from the last call. A driver that goes on working after that
   * (pinning namespaces, waiting for a VM) calls it first, so that time counts against the budget;
   * a driver that never calls it is timed from when provision returns.
   */
  accepted(): void;
}

/** Where a VM (or outside host) sits for traffic: its node, interface and address. */
export interface EndpointLocation {
  node: LabNode;
  iface: string;
  ip: string;
  mac: string | undefined;
}

export interface ImplementationDriver {
  readonly name: string;
  readonly capabilities: ReadonlySet<Capability>;
  /**
   * Check kinds the implementation cannot take part in, each with the reason (OVN has no EVPN routes
   * for a `bgp` check): a scenario using one is skipped with that reason, never passed or failed.
   */
  readonly unsupportedChecks?: ReadonlyMap<string, string>;
  /** Extra checks of a scenario against what the driver supports: messages, empty when fine. */
  validate(scenario: Scenario): string[];
  /** Applies an intent change (the new intent is in ctx.intent). */
  provision(change: IntentChange, ctx: DriverContext): Promise<void>;
  /**
   * Resolves when every attached VM can be located for traffic (optional). A driver that waits for the
   * implementation to create a VM after the API accepted the change does it here, so the wait runs
   * inside the budget of the traffic check that needs the VM; a rejection is a broken lab.
   */
  ready?(ctx: DriverContext): Promise<void>;
  /** Undoes what provision did (end of a scenario on a kept lab). */
  teardown(ctx: DriverContext): Promise<void>;
  /** Where a VM lives. */
  locate(vm: Vm, ctx: DriverContext): EndpointLocation;
  /** PIDs of a process role (bgpd, zebra, controller, agent, ...) on a node. */
  processes(role: string, node: LabNode): Promise<number[]>;
  /** PIDs of the supervisor that would restart `role` (watchfrr for FRR daemons), if any. */
  supervisors(role: string, node: LabNode): Promise<number[]>;
  /** Starts `role` again on a node after a kill. */
  startProcess(role: string, node: LabNode): Promise<void>;
  /** Starts a whole node's software again after node-kill (its namespaces still exist). */
  startNode(node: LabNode): Promise<void>;
  /** The underlay (VTEP) address of a hypervisor node, for BGP originator/next-hop expectations. */
  vtepAddress(node: LabNode): Promise<string | undefined>;
  /**
   * What a hypervisor node's datapath forwards where, per segment (VNI): each MAC behind a remote VTEP
   * or a local port, and the flood list as `00:00:00:00:00:00` entries (optional). Only this driver's
   * own lab is read. Without it, `forwarding` expectations are skipped with the reason.
   */
  forwardingEntries?(node: LabNode, ctx: DriverContext): Promise<ForwardingEntry[]>;
  /**
   * A hardware gateway's vtep DB as the implementation manages it (optional; `vtep` expectations are
   * skipped with the reason without it): registration, logical switches, bindings, remote and local
   * MACs, manager sessions. harness/gateway/vtep-db.ts reads an OVSDB hardware_vtep node.
   */
  gatewayTables?(gateway: Gateway, ctx: DriverContext): Promise<VtepTables>;
  /**
   * An EVPN gateway's forwarding table for its bound VNIs (optional; `vtep` expectations of the
   * `fdb` and `flood-list` aspects are skipped with the reason without it): remote MACs at VTEPs and
   * the flood list. harness/gateway/evpn-gateway.ts reads an FRR VTEP node with `bridge -j fdb`.
   */
  gatewayFdb?(gateway: Gateway, ctx: DriverContext): Promise<EvpnGatewayFdb>;
  /** Logs worth attaching when an expectation on this node fails. */
  logs(node: LabNode): Promise<Array<{ name: string; content: string }>>;
  /** Group name -> the implementation's numeric id for it (as carried in secgroup communities). */
  securityGroupIds?(ctx: DriverContext): Promise<Map<string, number>>;
  /** What a hypervisor has installed for security groups right now (read from the datapath, e.g. nft -j). */
  securityDatapath?(node: LabNode, ctx: DriverContext): Promise<SecurityDatapathCounts>;
  /**
   * Sets the number of address-only members of a group (members without a VM namespace, SG contract
   * item 7); calls ctx.accepted() when the implementation's API holds them.
   */
  setBulkMembers?(bulk: BulkMembers, ctx: DriverContext): Promise<void>;
  /**
   * The alarms the implementation raised, read through its own API (optional; the `alarm` check is
   * skipped with the reason without it). Duplicate MAC detection (RFC 7432 §15.1) reports here.
   */
  alarms?(ctx: DriverContext): Promise<ImplementationAlarm[]>;
}

/** An alarm as the implementation reports it, in the harness's terms. */
export interface ImplementationAlarm {
  /** `duplicate-mac`: a MAC moved N times within M seconds (EVPN-6). */
  kind: string;
  vni: number | undefined;
  mac: string | undefined;
  /** Where the implementation keeps the MAC (frozen), as a VTEP address, when it says. */
  vtep: string | undefined;
  /** The implementation's own words, for the report. */
  detail: string;
}

/** A hypervisor's security-group datapath, counted (contract item 3; SG-4 and SG-6 read it). */
export interface SecurityDatapathCounts {
  /** Filter rules/ACL entries keyed by groups/protocol/ports (must not depend on member count). */
  aclEntries: number;
  /** Membership data: address -> group elements (sets/maps), grows with members. */
  memberElements: number;
  /** Excerpt for the report (e.g. the nft table, elements truncated). */
  excerpt?: string;
}

export type { EvpnGatewayFdb } from '../../gateway/evpn-gateway.ts';
export type { VtepTables } from '../../gateway/vtep-db.ts';
export type { ForwardingEntry } from '../../kernel/fdb.ts';

/** What a module listed in package.json `otwin.drivers` exports. */
export interface DriverModule {
  createDriver(): ImplementationDriver | Promise<ImplementationDriver>;
}
