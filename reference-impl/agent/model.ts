/**
 * The agent's kernel model: what the hypervisor's kernel should hold (derived from the controller
 * entries), and what it holds (read with `ip -j`/`bridge -j`). Both have the same shape so the
 * planner can diff them.
 *
 * Datapath (asymmetric IRB): per routing domain a router namespace `<prefix><hv>-<domain>` holding,
 * for every subnet of the domain, a bridge `br<vni>` (address = anycast gateway IP, MAC = anycast
 * gateway MAC) and a VXLAN device `vx<vni>` (created in the hypervisor namespace with the hypervisor's
 * VTEP as `local`, then moved in: it keeps its underlay socket). Routing between subnets happens in the
 * ingress hypervisor's router namespace; the packet leaves on the destination subnet's bridge with the
 * destination VM's MAC (static neighbour) and goes straight to the egress hypervisor's VTEP.
 */
import { createHash } from 'node:crypto';
import type { Entry, FloodEntry, MacEntry, SubnetEntry, VportEntry } from '../protocol/messages.ts';
import { gatewayMacOn, sabotaged } from '../sabotage.ts';

export interface AgentNaming {
  /** Lab/namespace prefix, e.g. `otf-lab1-`. Every namespace the agent owns starts with it. */
  prefix: string;
  /** Hypervisor name (part of every namespace name, since `ip netns` names are host-global). */
  hypervisor: string;
}

export function domainNsName(n: AgentNaming, domainId: string): string {
  return `${n.prefix}${n.hypervisor}-d-${domainId}`;
}

export function vmNsName(n: AgentNaming, vportId: string): string {
  return `${n.prefix}${n.hypervisor}-vm-${vportId}`;
}

export function bridgeName(vni: number): string {
  return `br${vni}`;
}

export function vxlanName(vni: number): string {
  return `vx${vni}`;
}

/** Temporary name of the VXLAN device in the hypervisor namespace, before it is moved. */
export function vxlanTempName(vni: number): string {
  return `otv${vni}`;
}

/** Router-side veth of a VM port: `vp` + 12 hex of the vport id (15 bytes max). */
export function portName(vportId: string): string {
  let name = portNames.get(vportId);
  if (name === undefined) {
    if (portNames.size > 100_000) portNames.clear();
    name = `vp${createHash('sha256').update(vportId).digest('hex').slice(0, 12)}`;
    portNames.set(vportId, name);
  }
  return name;
}
/** Port names by vport id: the planner derives every port's name on every pass. */
const portNames = new Map<string, string>();

export const PORT_ALIAS_PREFIX = 'otf-vport:';

export interface SubnetDev {
  vni: number;
  /** `ip/len` of the anycast gateway. */
  gateway: string;
  gatewayMac: string;
  mtu: number;
  /** The VTEP address the VXLAN device uses as `local`. */
  local: string;
  /**
   * Outer IPv4 DF bit (`df set`): the VTEP never fragments the outer packet (RFC 7348 §4.3); an
   * inner packet too large for the underlay is dropped (with an ICMP "fragmentation needed" back to
   * the VM when the inner packet has DF) instead of leaving as outer fragments.
   */
  df: boolean;
}

export interface PortDev {
  ifname: string;
  vportId: string;
  vni: number;
  vmNs: string;
}

export interface Neigh {
  dev: string;
  ip: string;
  mac: string;
}

export interface RemoteMac {
  vni: number;
  mac: string;
  vtep: string;
}

export interface LocalMac {
  port: string;
  vni: number;
  mac: string;
}

export interface DomainNs {
  name: string;
  subnets: Map<number, SubnetDev>;
  ports: Map<string, PortDev>;
  /** key `${dev}/${ip}` */
  neighs: Map<string, Neigh>;
  /** key `${vni}/${mac}` */
  remoteMacs: Map<string, RemoteMac>;
  /** key `${port}/${mac}` */
  localMacs: Map<string, LocalMac>;
  /** key `${vni}/${vtep}` */
  floods: Map<string, { vni: number; vtep: string }>;
}

export interface VmNs {
  name: string;
  vportId: string;
  mac: string;
  /** `ip/len` */
  address: string;
  gateway: string;
  mtu: number;
}

export interface KernelModel {
  domains: Map<string, DomainNs>;
  vms: Map<string, VmNs>;
}

export function emptyDomainNs(name: string): DomainNs {
  return {
    name,
    subnets: new Map(),
    ports: new Map(),
    neighs: new Map(),
    remoteMacs: new Map(),
    localMacs: new Map(),
    floods: new Map(),
  };
}

export interface DeriveOptions extends AgentNaming {
  vtep: string;
  /** MTU of the overlay devices (underlay MTU − 50). */
  mtu: number;
}

/**
 * Desired kernel state from the merged controller entries. Every subnet of a domain that has a local
 * vport is instantiated (asymmetric IRB needs the destination subnet's bridge on the ingress
 * hypervisor); remote MACs/neighbours/flood entries are installed for instantiated subnets only.
 */
export function deriveDesired(entries: Iterable<Entry>, options: DeriveOptions): KernelModel {
  const subnets = new Map<string, SubnetEntry>();
  const vports: VportEntry[] = [];
  const macs: MacEntry[] = [];
  const floods: FloodEntry[] = [];
  for (const entry of entries) {
    if (entry.kind === 'subnet') subnets.set(entry.id, entry);
    else if (entry.kind === 'vport') vports.push(entry);
    else if (entry.kind === 'mac') macs.push(entry);
    else if (entry.kind === 'flood') floods.push(entry);
  }
  const model: KernelModel = { domains: new Map(), vms: new Map() };
  // Under the TEST-ONLY `leak-routes` sabotage every domain shares one router namespace (a leak).
  const domainOf = (subnet: SubnetEntry) => (sabotaged('leak-routes') ? 'leak' : subnet.domain);
  const activeDomains = new Set<string>();
  for (const vport of vports) {
    const subnet = subnets.get(vport.subnet);
    if (subnet) activeDomains.add(domainOf(subnet));
  }
  const vniToDomainNs = new Map<number, DomainNs>();
  for (const subnet of subnets.values()) {
    if (!activeDomains.has(domainOf(subnet))) continue;
    const nsName = domainNsName(options, domainOf(subnet));
    let ns = model.domains.get(nsName);
    if (!ns) {
      ns = emptyDomainNs(nsName);
      model.domains.set(nsName, ns);
    }
    const len = subnet.prefix.split('/')[1];
    ns.subnets.set(subnet.vni, {
      vni: subnet.vni,
      gateway: `${subnet.gateway}/${len}`,
      // TEST-ONLY sabotages (reference-impl/sabotage.ts): `local-gateway-mac`, `no-df`.
      gatewayMac: gatewayMacOn(options.hypervisor, subnet.gatewayMac),
      mtu: options.mtu,
      local: options.vtep,
      df: !sabotaged('no-df'),
    });
    vniToDomainNs.set(subnet.vni, ns);
  }
  const localMacsByVni = new Set<string>();
  for (const vport of vports) {
    const subnet = subnets.get(vport.subnet);
    if (!subnet) continue;
    const ns = vniToDomainNs.get(subnet.vni);
    if (!ns) continue;
    const ifname = portName(vport.id);
    const vmNs = vmNsName(options, vport.id);
    ns.ports.set(ifname, { ifname, vportId: vport.id, vni: subnet.vni, vmNs });
    // The port's fdb entry and the proxy ARP entry follow the MAC the VM announced (ARP-3); the VM's
    // own interface keeps the provisioned one (below).
    const mac = vport.observedMac ?? vport.mac;
    ns.localMacs.set(`${ifname}/${mac}`, { port: ifname, vni: subnet.vni, mac });
    const dev = bridgeName(subnet.vni);
    ns.neighs.set(`${dev}/${vport.ip}`, { dev, ip: vport.ip, mac });
    localMacsByVni.add(`${subnet.vni}/${mac}`);
    const len = subnet.prefix.split('/')[1];
    model.vms.set(vmNs, {
      name: vmNs,
      vportId: vport.id,
      mac: vport.mac,
      address: `${vport.ip}/${len}`,
      gateway: subnet.gateway,
      mtu: options.mtu,
    });
  }
  for (const mac of macs) {
    const ns = vniToDomainNs.get(mac.vni);
    if (!ns || mac.vtep === options.vtep) continue;
    // A local VM wins over a (stale) remote route for the same MAC.
    if (localMacsByVni.has(`${mac.vni}/${mac.mac}`)) continue;
    // Under the TEST-ONLY `no-remote-macs` sabotage known remote unicast falls back to the flood list.
    if (!sabotaged('no-remote-macs'))
      ns.remoteMacs.set(`${mac.vni}/${mac.mac}`, { vni: mac.vni, mac: mac.mac, vtep: mac.vtep });
    if (mac.ip) {
      const dev = bridgeName(mac.vni);
      const key = `${dev}/${mac.ip}`;
      if (!ns.neighs.has(key)) ns.neighs.set(key, { dev, ip: mac.ip, mac: mac.mac });
    }
  }
  for (const flood of floods) {
    const ns = vniToDomainNs.get(flood.vni);
    if (!ns || flood.vtep === options.vtep) continue;
    ns.floods.set(`${flood.vni}/${flood.vtep}`, { vni: flood.vni, vtep: flood.vtep });
  }
  return model;
}

/** Deep copy (the planner's result becomes the cached actual state). */
export function cloneModel(model: KernelModel): KernelModel {
  const domains = new Map<string, DomainNs>();
  for (const [name, ns] of model.domains) {
    domains.set(name, {
      name: ns.name,
      subnets: new Map([...ns.subnets].map(([k, v]) => [k, { ...v }])),
      ports: new Map([...ns.ports].map(([k, v]) => [k, { ...v }])),
      neighs: new Map([...ns.neighs].map(([k, v]) => [k, { ...v }])),
      remoteMacs: new Map([...ns.remoteMacs].map(([k, v]) => [k, { ...v }])),
      localMacs: new Map([...ns.localMacs].map(([k, v]) => [k, { ...v }])),
      floods: new Map([...ns.floods].map(([k, v]) => [k, { ...v }])),
    });
  }
  return { domains, vms: new Map([...model.vms].map(([k, v]) => [k, { ...v }])) };
}
