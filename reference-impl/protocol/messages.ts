/**
 * The controller ↔ agent protocol, version 1: JSON lines over TCP (one JSON object per line, UTF-8).
 *
 *   agent → controller  hello {versions:[1], agent, zone, vtep, credential?}
 *                                                        credential = HMAC-SHA256 of the agent's name
 *                                                        under the lab's shared secret (secret.ts);
 *                                                        required by a controller that has a secret
 *   controller → agent  welcome {version, controller, heartbeatMs, deadAfterMs}   or error {code:'version'|'unauthenticated'} + close
 *   controller → agent  sync {epoch, seq, entries}       full desired state of this hypervisor
 *   controller → agent  update {epoch, seq, set, del}    incremental: entries to set, keys to delete
 *   agent → controller  ack {epoch, seq, applied, errors}  after the kernel has been programmed
 *   agent → controller  report {vports:[{id, state, error?}]}   local attachment status
 *   agent → controller  miss {vni, ip}                   ARP/neighbour miss: controller answers with an update
 *   agent → controller  observe {vport, mac, ip}         (1.1) a local VM announced a new MAC for its IP
 *                                                        (gratuitous ARP); the controller makes it the
 *                                                        vport's effective MAC (`vport.observedMac`)
 *   controller → agent  heartbeat {ts}                   every heartbeatMs; silence for deadAfterMs = dead
 *   agent → controller  heartbeat {ts}                   in answer to each of the controller's (an idle
 *                                                        agent wakes once per heartbeatMs, not twice);
 *                                                        silence for deadAfterMs = dead
 *
 * State is a set of keyed entries; `seq` increases by one per sync/update within an `epoch` (a new
 * epoch per connection), so the agent detects a gap and asks for a resync (`resync {}`). An agent may
 * be connected to several controllers of its zone at once: it keeps one view per controller and
 * programs the union of the views of the controllers currently connected (by entry key; on conflict the
 * entry with the higher MAC mobility sequence wins). With no controller connected it keeps the last
 * programmed state (headless) and never removes anything.
 *
 * Minor versions are backward compatible additions, negotiated by the optional `minor` in hello and
 * welcome (absent = 0). 1.1 adds the `observe` message and the optional `observedMac` of a vport
 * entry; a 1.0 controller ignores `observe` (unknown types are ignored), a 1.0 agent ignores the field.
 * 1.2 adds security groups (docs/security-groups.md): the optional `groups` (numeric group ids, the
 * directory's `sgid`s) of a vport entry (the local VM's own groups) and of a mac entry (a remote
 * VM's groups as carried by its type-2 route's secgroup communities), and the `rule` entry kind
 * (one allow rule of a routing domain's policy, in group ids). A controller sends `rule` entries only
 * to agents that said minor >= 2 (a 1.0/1.1 agent programs reachability as before, without groups);
 * a 1.1 agent ignores the `groups` fields. An agent that receives no `rule` entries for a domain
 * enforces nothing there (no rules = allow all).
 * 1.3 adds NAT (docs/nat.md): the optional `pnat` of a domain entry (VMs of the domain without a
 * floating IP reach the outside as their hypervisor's address) and the optional `floatingIp` of a
 * vport entry (translated 1:1 on this hypervisor). Older agents ignore both (no outside path).
 * 1.4 adds service chaining (docs/service-chaining.md): the `redirect` entry kind (traffic of a
 * routing domain steered through an appliance VM), sent only to agents that said minor >= 4.
 * 1.5 adds the optional `standby` of a redirect entry (SVC-5: the agent probes the appliances and
 * steers to the standby while the active one does not answer); a 1.4 agent ignores it (no failover).
 * 1.6 adds L3 VNIs (docs/federation.md): the optional `l3Vni` and `routerMac` of a domain entry (the
 * hypervisor's end of the domain's L3 VNI: EVPN type-5, RFC 9136) and the `prefix` entry kind (a
 * prefix outside the data centre, from a PE's type-5 route, reached over the L3 VNI), sent only to
 * agents that said minor >= 6.
 */

export const PROTOCOL_VERSION = 1;
export const SUPPORTED_VERSIONS = [1] as const;
/** Minor version of protocol 1 this code speaks (see above). */
export const PROTOCOL_MINOR = 6;

export interface DomainEntry {
  kind: 'domain';
  id: string;
  tenant: string;
  /** (1.3) Distributed PNAT for VMs of the domain without a floating IP. */
  pnat?: boolean;
  /** (1.6) The domain's L3 VNI, and this hypervisor's router MAC on it (its type-5 routes carry both). */
  l3Vni?: number;
  routerMac?: string;
}

/**
 * (1.6) A prefix beyond the data centre (a PE's VRF), learned from an EVPN type-5 route carrying the
 * domain's route target: routed in the domain over its L3 VNI to `vtep`, inner destination MAC
 * `routerMac` (the PE's router MAC).
 */
export interface PrefixEntry {
  kind: 'prefix';
  domain: string;
  prefix: string;
  vtep: string;
  routerMac: string;
}

export interface SubnetEntry {
  kind: 'subnet';
  id: string;
  domain: string;
  vni: number;
  prefix: string;
  gateway: string;
  gatewayMac: string;
}

/** A VM attached to this hypervisor. */
export interface VportEntry {
  kind: 'vport';
  id: string;
  subnet: string;
  vni: number;
  mac: string;
  ip: string;
  /**
   * (1.1) The MAC the VM announced for its IP (gratuitous ARP), when it differs from the provisioned
   * `mac`: the effective MAC for the proxy ARP table and the port's fdb entry. The VM's own interface
   * keeps `mac` (the agent does not change a VM's NIC).
   */
  observedMac?: string;
  /** (1.2) Security group ids of the VM, sorted; absent or empty = no group. */
  groups?: number[];
  /** (1.3) The VM's floating IP, translated 1:1 on this hypervisor. */
  floatingIp?: string;
}

/** A remote VM: MAC (and IP) behind another VTEP. */
export interface MacEntry {
  kind: 'mac';
  vni: number;
  mac: string;
  ip: string | undefined;
  vtep: string;
  /** MAC mobility sequence (0 when never moved). */
  seq: number;
  /** (1.2) Security group ids carried by the route (secgroup communities), sorted. */
  groups?: number[];
}

/** (1.2) Who a rule side selects: members of a group, addresses in a prefix, or anyone. */
export type RulePeer = { kind: 'group'; sgid: number } | { kind: 'cidr'; cidr: string } | { kind: 'any' };

/**
 * (1.2) One allow rule of a routing domain: traffic from `from` to `to` on `proto` (and destination
 * ports `ports`, inclusive, for tcp/udp; absent = every port) is allowed. A domain with at least one
 * rule denies what no rule allows, inside a subnet too; replies of an allowed connection pass.
 */
export interface RuleEntry {
  kind: 'rule';
  id: string;
  domain: string;
  from: RulePeer;
  to: RulePeer;
  proto: 'any' | 'tcp' | 'udp' | 'icmp';
  ports?: [number, number];
  /** The hypervisor enforces it as a stateless ACL (its directory `securityMode` is stateless). */
  stateless?: boolean;
}

/** A remote VTEP that takes BUM traffic of a VNI (ingress replication). */
export interface FloodEntry {
  kind: 'flood';
  vni: number;
  vtep: string;
}

/**
 * (1.4) A redirection of a routing domain: traffic from `from` to `to` (absent = any address) on
 * `proto` (and destination ports `ports` for tcp/udp) is steered by the hypervisor where it enters
 * (l3: policy routing) to the appliance VM at `applianceIp`/`applianceMac` in subnet `applianceVni`,
 * and its replies (the reverse tuple) through the same appliance.
 */
export interface RedirectEntry {
  kind: 'redirect';
  id: string;
  domain: string;
  mode: 'l2' | 'l3';
  applianceIp: string;
  applianceMac: string;
  applianceVni: number;
  from?: string;
  to?: string;
  proto: 'any' | 'tcp' | 'udp' | 'icmp';
  ports?: [number, number];
  /** (1.5) The standby appliance (SVC-5), steered to while the active one fails its liveness probe. */
  standby?: ApplianceAddress;
}

/** Where an appliance VM answers: its address, MAC and subnet VNI. */
export interface ApplianceAddress {
  ip: string;
  mac: string;
  vni: number;
}

export type Entry =
  | DomainEntry
  | SubnetEntry
  | VportEntry
  | MacEntry
  | FloodEntry
  | RuleEntry
  | RedirectEntry
  | PrefixEntry;

export function entryKey(entry: Entry): string {
  switch (entry.kind) {
    case 'domain':
      return `domain/${entry.id}`;
    case 'subnet':
      return `subnet/${entry.id}`;
    case 'vport':
      return `vport/${entry.id}`;
    case 'mac':
      return `mac/${entry.vni}/${entry.mac}`;
    case 'flood':
      return `flood/${entry.vni}/${entry.vtep}`;
    case 'rule':
      return `rule/${entry.id}`;
    case 'redirect':
      return `redirect/${entry.id}`;
    case 'prefix':
      return `prefix/${entry.domain}/${entry.prefix}`;
  }
}

export interface Hello {
  type: 'hello';
  versions: number[];
  agent: string;
  zone: string | undefined;
  vtep: string;
  /** (1.1) Minor version the agent speaks; absent = 0. */
  minor?: number;
  /** Proof of `agent` (see secret.ts agentCredential); absent when the agent has no secret. */
  credential?: string;
}
export interface Welcome {
  type: 'welcome';
  version: number;
  controller: string;
  heartbeatMs: number;
  deadAfterMs: number;
  /** (1.1) Minor version the controller speaks; absent = 0. */
  minor?: number;
}
export interface ErrorMessage {
  type: 'error';
  code: 'version' | 'unknown_agent' | 'protocol' | 'unauthenticated';
  message: string;
}
export interface Sync {
  type: 'sync';
  epoch: string;
  seq: number;
  entries: Entry[];
}
export interface Update {
  type: 'update';
  epoch: string;
  seq: number;
  set: Entry[];
  del: string[];
}
export interface Ack {
  type: 'ack';
  epoch: string;
  seq: number;
  applied: boolean;
  errors: string[];
}
export interface Report {
  type: 'report';
  vports: Array<{ id: string; state: 'up' | 'down' | 'error'; error?: string }>;
}
export interface Miss {
  type: 'miss';
  vni: number;
  ip: string;
}
/** (1.1) A local VM announced `mac` for its address `ip` (gratuitous ARP seen on its port). */
export interface Observe {
  type: 'observe';
  vport: string;
  mac: string;
  ip: string;
}
/**
 * (1.5) A local appliance VM of a redirection with a standby answers its liveness probe (`alive`) or
 * stopped answering it (SVC-5); sent when that changes, and again after every sync.
 */
export interface ApplianceLiveness {
  type: 'appliance';
  vport: string;
  alive: boolean;
}
export interface Resync {
  type: 'resync';
}
export interface Heartbeat {
  type: 'heartbeat';
  ts: number;
}

export type ControllerMessage = Welcome | ErrorMessage | Sync | Update | Heartbeat;
export type AgentMessage = Hello | Ack | Report | Miss | Observe | ApplianceLiveness | Resync | Heartbeat;

/** Splits a byte stream into JSON lines. */
export class LineDecoder {
  private buffer = '';
  constructor(
    private readonly onMessage: (message: unknown) => void,
    private readonly maxLine = 64 * 1024 * 1024,
  ) {}

  push(chunk: Buffer | string): void {
    this.buffer += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    for (;;) {
      const nl = this.buffer.indexOf('\n');
      if (nl < 0) break;
      const line = this.buffer.slice(0, nl);
      this.buffer = this.buffer.slice(nl + 1);
      if (line.trim() === '') continue;
      this.onMessage(JSON.parse(line));
    }
    if (this.buffer.length > this.maxLine) throw new Error('protocol line too long');
  }
}

export function encode(message: ControllerMessage | AgentMessage): string {
  return `${JSON.stringify(message)}\n`;
}
