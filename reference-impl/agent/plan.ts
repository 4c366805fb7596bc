/**
 * The planner: a pure diff of desired vs actual kernel state into ordered batches of `ip`/`bridge`
 * commands. It only ever touches objects the agent owns (namespaces with its prefix, `br<vni>`,
 * `vx<vni>`, `vp…` ports, PERMANENT neighbours on bridges, static/self fdb entries) and never
 * flushes: an unchanged entry produces no command, so established flows are never disturbed.
 */

import { sabotaged, wireVni } from '../sabotage.ts';
import {
  bridgeName,
  type DomainNs,
  emptyDomainNs,
  type KernelModel,
  PORT_ALIAS_PREFIX,
  type SubnetDev,
  vxlanName,
  vxlanTempName,
} from './model.ts';

export type Step =
  | { kind: 'netns-add'; ns: string; sysctls: Array<[string, string]> }
  | { kind: 'netns-del'; ns: string }
  /** `ip -batch`; ns undefined = the hypervisor namespace (where the agent runs). */
  | { kind: 'ip'; ns: string | undefined; lines: string[] }
  | { kind: 'bridge'; ns: string; lines: string[] };

/** Actual-state extras the reader fills in (absent in the desired model). */
export interface ActualExtras {
  /** Leftover temporary VXLAN devices in the hypervisor namespace (from an interrupted run). */
  hvLeftovers: string[];
  /** Per domain ns, per vni: the devices are not as they must be (missing vxlan, not enslaved, down, ...). */
  brokenSubnets: Map<string, Set<number>>;
  /** Per domain ns: ports that exist but are not enslaved/up. */
  brokenPorts: Map<string, Set<string>>;
  /** VM namespaces whose eth0 is missing. */
  vmsWithoutPort: Set<string>;
}

export function noExtras(): ActualExtras {
  return { hvLeftovers: [], brokenSubnets: new Map(), brokenPorts: new Map(), vmsWithoutPort: new Set() };
}

export const DOMAIN_SYSCTLS: Array<[string, string]> = [
  ['net.ipv4.ip_forward', '1'],
  ['net.ipv6.conf.all.disable_ipv6', '1'],
  ['net.ipv6.conf.default.disable_ipv6', '1'],
  ['net.ipv4.conf.all.rp_filter', '0'],
  ['net.ipv4.conf.default.rp_filter', '0'],
];

export const VM_SYSCTLS: Array<[string, string]> = [
  ['net.ipv6.conf.all.disable_ipv6', '1'],
  ['net.ipv6.conf.default.disable_ipv6', '1'],
];

function createVxlanLines(ns: string, dev: SubnetDev): string[] {
  const tmp = vxlanTempName(dev.vni);
  return [
    `link add ${tmp} type vxlan id ${wireVni(dev.vni)} local ${dev.local} dstport 4789 nolearning df ${dev.df ? 'set' : 'unset'}${
      // TEST-ONLY `fixed-srcport` sabotage (reference-impl/sabotage.ts): one outer source port for every flow.
      sabotaged('fixed-srcport') ? ' srcport 49152 49153' : ''
    }`,
    `link set ${tmp} netns ${ns}`,
  ];
}

function enslaveVxlanLines(dev: SubnetDev, fromTemp: boolean): string[] {
  const vx = vxlanName(dev.vni);
  const br = bridgeName(dev.vni);
  return [
    ...(fromTemp ? [`link set ${vxlanTempName(dev.vni)} name ${vx}`] : []),
    `link set ${vx} mtu ${dev.mtu}`,
    `link set ${vx} master ${br}`,
    `link set ${vx} up`,
  ];
}

function bridgeLines(dev: SubnetDev): string[] {
  const br = bridgeName(dev.vni);
  return [
    `link add ${br} type bridge mcast_snooping 0`,
    `link set ${br} address ${dev.gatewayMac} mtu ${dev.mtu}`,
    `addr add ${dev.gateway} dev ${br}`,
    `link set ${br} up`,
  ];
}

function vxlanPortSettings(vni: number): string {
  // `neigh_suppress` off only under the TEST-ONLY `no-arp-suppress` sabotage (reference-impl/sabotage.ts).
  return `link set dev ${vxlanName(vni)} neigh_suppress ${sabotaged('no-arp-suppress') ? 'off' : 'on'} learning off`;
}

/**
 * A VM port answers ARP for its own VM from the bridge (`proxy_arp_wifi`): a request for an address
 * the bridge's neighbour table knows (every VM of the subnet, local or remote, as the agent installs
 * them) is answered by the bridge and copied to no VM port. Without it the bridge answered for remote
 * VMs only (through the VXLAN port's `neigh_suppress`) and still copied every request, and every
 * gratuitous ARP, to each VM port of the subnet: an ARP cost as many copies as the subnet had local
 * ports (OVN's logical switch likewise answers known addresses without flooding). Requests for
 * addresses nobody is known to hold are still flooded (`arp-unknown: flood`, ARP-2).
 */
function vmPortSettings(ifname: string): string {
  return `link set ${ifname} type bridge_slave proxy_arp_wifi on`;
}

/** The command lines of one domain namespace, and those its subnets need in the hypervisor's. */
interface DomainLines {
  name: string;
  want: DomainNs;
  have: DomainNs;
  /** `ip -batch` lines in the domain namespace. */
  ipl: string[];
  /** `bridge -batch` lines in the domain namespace. */
  brl: string[];
  /** `ip -batch` lines in the hypervisor namespace (VXLAN devices are created there). */
  hvLines: string[];
}

export function plan(desired: KernelModel, actual: KernelModel, extras: ActualExtras = noExtras()): Step[] {
  const steps: Step[] = [];
  const hvLines: string[] = extras.hvLeftovers.map((dev) => `link del ${dev}`);

  // 1. Namespaces to create.
  for (const name of desired.domains.keys()) {
    if (!actual.domains.has(name)) steps.push({ kind: 'netns-add', ns: name, sysctls: DOMAIN_SYSCTLS });
  }
  for (const name of desired.vms.keys()) {
    if (!actual.vms.has(name)) steps.push({ kind: 'netns-add', ns: name, sysctls: VM_SYSCTLS });
  }

  // 2. Per domain namespace: subnets, ports, neighbours, fdb.
  const domainLines: DomainLines[] = [];
  /** VM namespaces whose eth0 is (re)created by this plan. */
  const newPorts = new Set<string>();
  for (const [name, want] of desired.domains) {
    const d: DomainLines = {
      name,
      want,
      have: actual.domains.get(name) ?? emptyDomainNs(name),
      ipl: [],
      brl: [],
      hvLines,
    };
    const removedVnis = planSubnets(d, extras.brokenSubnets.get(name) ?? new Set<number>());
    planPorts(d, extras, newPorts);
    planTables(d, removedVnis);
    domainLines.push(d);
  }

  // 3. VM namespaces: interface, address, default route.
  const vmLines = planVms(desired, actual, newPorts);

  if (hvLines.length) steps.push({ kind: 'ip', ns: undefined, lines: hvLines });
  for (const { name, ipl, brl } of domainLines) {
    if (ipl.length) steps.push({ kind: 'ip', ns: name, lines: ipl });
    if (brl.length) steps.push({ kind: 'bridge', ns: name, lines: brl });
  }
  for (const [name, out] of vmLines) if (out.length) steps.push({ kind: 'ip', ns: name, lines: out });

  // 4. Removals: VM namespaces, then domain namespaces (their devices first, for tidiness).
  for (const name of actual.vms.keys())
    if (!desired.vms.has(name)) steps.push({ kind: 'netns-del', ns: name });
  for (const [name, have] of actual.domains) {
    if (desired.domains.has(name)) continue;
    const del = [...have.ports.keys()].map((p) => `link del ${p}`);
    for (const vni of have.subnets.keys())
      del.push(`link del ${vxlanName(vni)}`, `link del ${bridgeName(vni)}`);
    if (del.length) steps.push({ kind: 'ip', ns: name, lines: del });
    steps.push({ kind: 'netns-del', ns: name });
  }
  return steps;
}

/** Subnets (bridge + VXLAN device) of one domain; returns the VNIs whose devices are deleted. */
function planSubnets(d: DomainLines, broken: Set<number>): Set<number> {
  const { name, want, have, ipl, brl, hvLines } = d;
  const removedVnis = new Set<number>();
  // Ports of subnets being removed go first (a bridge with ports can be deleted, but be tidy).
  for (const [ifname, port] of have.ports) {
    if (!want.ports.has(ifname)) ipl.push(`link del ${ifname}`);
    else if (want.ports.get(ifname)?.vni !== port.vni) ipl.push(`link del ${ifname}`);
  }
  for (const vni of have.subnets.keys()) {
    if (!want.subnets.has(vni)) {
      ipl.push(`link del ${vxlanName(vni)}`, `link del ${bridgeName(vni)}`);
      removedVnis.add(vni);
    }
  }
  for (const [vni, dev] of want.subnets) {
    const cur = have.subnets.get(vni);
    if (!cur) {
      hvLines.push(...createVxlanLines(name, dev));
      ipl.push(...bridgeLines(dev), ...enslaveVxlanLines(dev, true));
      brl.push(vxlanPortSettings(vni));
      continue;
    }
    if (cur.local !== dev.local) {
      // The underlay address changed: the VXLAN device must be recreated in the hypervisor ns.
      ipl.push(`link del ${vxlanName(vni)}`);
      hvLines.push(...createVxlanLines(name, dev));
      ipl.push(...enslaveVxlanLines(dev, true));
      brl.push(vxlanPortSettings(vni));
    } else if (broken.has(vni)) {
      ipl.push(...enslaveVxlanLines(dev, false), `link set ${bridgeName(vni)} up`);
      brl.push(vxlanPortSettings(vni));
    }
    if (cur.gatewayMac !== dev.gatewayMac) ipl.push(`link set ${bridgeName(vni)} address ${dev.gatewayMac}`);
    // `df` is changeable on an existing device (iproute2 6.1, this kernel): devices created before
    // the agent set it are updated in place, nothing is recreated.
    if (cur.local === dev.local && cur.df !== dev.df)
      ipl.push(`link set ${vxlanName(vni)} type vxlan df ${dev.df ? 'set' : 'unset'}`);
    if (cur.mtu !== dev.mtu)
      ipl.push(`link set ${vxlanName(vni)} mtu ${dev.mtu}`, `link set ${bridgeName(vni)} mtu ${dev.mtu}`);
    if (cur.gateway !== dev.gateway) {
      if (cur.gateway) ipl.push(`addr del ${cur.gateway} dev ${bridgeName(vni)}`);
      ipl.push(`addr add ${dev.gateway} dev ${bridgeName(vni)}`);
    }
  }

  return removedVnis;
}

/** VM ports (veth into the VM namespace, enslaved to the subnet's bridge). */
function planPorts(d: DomainLines, extras: ActualExtras, newPorts: Set<string>): void {
  const { name, want, have, ipl } = d;
  const brokenPorts = extras.brokenPorts.get(name) ?? new Set<string>();
  for (const [ifname, port] of want.ports) {
    const cur = have.ports.get(ifname);
    const vmMissingPort = extras.vmsWithoutPort.has(port.vmNs);
    const dev = want.subnets.get(port.vni);
    const mtu = dev?.mtu ?? 1450;
    if (!cur || cur.vni !== port.vni || vmMissingPort) {
      if (cur && vmMissingPort) ipl.push(`link del ${ifname}`);
      ipl.push(
        `link add ${ifname} mtu ${mtu} type veth peer name eth0 netns ${port.vmNs}`,
        `link set ${ifname} alias ${PORT_ALIAS_PREFIX}${port.vportId}`,
        `link set ${ifname} master ${bridgeName(port.vni)}`,
        vmPortSettings(ifname),
        `link set ${ifname} up`,
      );
      // The VM side must be (re)configured: its eth0 is new.
      newPorts.add(port.vmNs);
    } else if (brokenPorts.has(ifname)) {
      ipl.push(
        `link set ${ifname} master ${bridgeName(port.vni)}`,
        vmPortSettings(ifname),
        `link set ${ifname} up`,
      );
    }
  }
}

/** Neighbours (ARP suppression answers from these), remote and local MACs, flood lists. */
function planTables(d: DomainLines, removedVnis: Set<number>): void {
  const { want, have, ipl, brl } = d;
  for (const [key, n] of have.neighs) {
    const devVni = Number(n.dev.slice(2));
    if (!want.neighs.has(key) && !removedVnis.has(devVni)) ipl.push(`neigh del ${n.ip} dev ${n.dev}`);
  }
  for (const [key, n] of want.neighs) {
    const cur = have.neighs.get(key);
    if (!cur || cur.mac !== n.mac)
      ipl.push(`neigh replace ${n.ip} lladdr ${n.mac} dev ${n.dev} nud permanent`);
  }
  for (const [key, m] of have.remoteMacs) {
    if (!want.remoteMacs.has(key) && !removedVnis.has(m.vni)) {
      brl.push(
        `fdb del ${m.mac} dev ${vxlanName(m.vni)} master`,
        `fdb del ${m.mac} dev ${vxlanName(m.vni)} self`,
      );
    }
  }
  for (const [key, m] of want.remoteMacs) {
    const cur = have.remoteMacs.get(key);
    if (!cur || cur.vtep !== m.vtep) {
      brl.push(
        `fdb replace ${m.mac} dev ${vxlanName(m.vni)} master static`,
        `fdb replace ${m.mac} dev ${vxlanName(m.vni)} dst ${m.vtep} self static`,
      );
    }
  }
  for (const [key, m] of have.localMacs) {
    if (!want.localMacs.has(key) && want.ports.has(m.port)) brl.push(`fdb del ${m.mac} dev ${m.port} master`);
  }
  for (const [key, m] of want.localMacs) {
    if (!have.localMacs.has(key)) brl.push(`fdb replace ${m.mac} dev ${m.port} master static`);
  }
  for (const [key, f] of have.floods) {
    if (!want.floods.has(key) && !removedVnis.has(f.vni))
      brl.push(`fdb del 00:00:00:00:00:00 dev ${vxlanName(f.vni)} dst ${f.vtep} self`);
  }
  for (const [key, f] of want.floods) {
    if (!have.floods.has(key))
      brl.push(`fdb append 00:00:00:00:00:00 dev ${vxlanName(f.vni)} dst ${f.vtep} self permanent`);
  }
}

/** Each VM namespace's eth0: address, MAC, MTU, default route (all of it when its port is new). */
function planVms(desired: KernelModel, actual: KernelModel, newPorts: Set<string>): Map<string, string[]> {
  const vmLines = new Map<string, string[]>();
  for (const [name, vm] of desired.vms) {
    const cur = actual.vms.get(name);
    const fresh = !cur || newPorts.has(name);
    const out: string[] = [];
    if (fresh) {
      out.push(
        `link set eth0 address ${vm.mac} mtu ${vm.mtu}`,
        'link set eth0 up',
        `addr add ${vm.address} dev eth0`,
      );
      out.push(`route replace default via ${vm.gateway} dev eth0`);
    } else {
      if (cur.mac !== vm.mac) out.push(`link set eth0 address ${vm.mac}`);
      if (cur.mtu !== vm.mtu) out.push(`link set eth0 mtu ${vm.mtu}`);
      if (cur.address !== vm.address) {
        if (cur.address) out.push(`addr del ${cur.address} dev eth0`);
        out.push(`addr add ${vm.address} dev eth0`);
      }
      if (cur.gateway !== vm.gateway) out.push(`route replace default via ${vm.gateway} dev eth0`);
    }
    vmLines.set(name, out);
  }

  return vmLines;
}

/** Number of commands in a plan (0 = the kernel already matches). */
export function planSize(steps: Step[]): number {
  return steps.reduce((n, s) => n + (s.kind === 'ip' || s.kind === 'bridge' ? s.lines.length : 1), 0);
}
