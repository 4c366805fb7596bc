/**
 * Intent: what the operator asked for, independent of any implementation. The oracle computes every
 * expected verdict from this alone.
 */

export interface Tenant {
  name: string;
}

/** A routing domain (L3 domain / VRF) of a tenant. Subnets of one domain route to each other. */
export interface Domain {
  name: string;
  tenant: string;
  /** L3 VNI: the domain's EVPN type-5 routes (RFC 9136) carry it, e.g. to and from a PE's VRF. */
  vni: number | undefined;
  /** Route target of the domain's type-5 routes (`65000:15001`); with `vni`. */
  routeTarget?: string | undefined;
  /** Distributed PNAT: VMs without a floating IP reach the outside as their hypervisor's address. */
  pnat: boolean;
  zone: string | undefined;
}

export interface Subnet {
  name: string;
  domain: string;
  /** IPv4 CIDR, e.g. 192.0.2.0/24. */
  cidr: string;
  vni: number;
  /** Anycast gateway address; a subnet without one is not routed. */
  gateway: string | undefined;
  /** Route target, when provisioned explicitly (`65000:100`). */
  routeTarget: string | undefined;
}

export interface Vm {
  name: string;
  subnet: string;
  /** Lab node acting as the hypervisor (VTEP) the VM sits on. */
  hypervisor: string;
  ip: string;
  mac: string | undefined;
  /** Security groups, by name. */
  groups: string[];
  /** Lab node that *is* the VM (hosts behind FRR leaves); defaults to the VM's name. */
  node: string | undefined;
  /** The VM's interface in that node. */
  iface: string;
  /** Leaf/hypervisor port the VM is plugged into (FRR labs). */
  port: string | undefined;
  /** Attached at the start of the scenario (default true). `provision: {attach: [...]}` attaches later. */
  attached: boolean;
}

export interface SecurityGroup {
  name: string;
  domain: string | undefined;
}

export type Proto = 'tcp' | 'udp' | 'icmp' | 'any';

/** Allow rule: traffic from `from` to `to` on proto/ports is allowed (and its replies, statefully). */
export interface Rule {
  /** Group name, `any`, or a CIDR (for external sources/destinations). */
  from: string;
  to: string;
  proto: Proto;
  /** Destination ports; empty means any port. */
  ports: Array<[number, number]>;
  /** Domain the rule belongs to (defaults to the domain of its groups). */
  domain: string | undefined;
}

export interface FloatingIp {
  ip: string;
  vm: string;
}

/** A host outside the overlay (behind a gateway / PE), addressed on the public side. */
export interface External {
  name: string;
  node: string;
  ip: string;
  iface: string;
  /**
   * A site of this routing domain (a host in a PE's VRF, federated with the domain through its L3
   * VNI, docs/federation.md): it reaches the domain's VMs on their own addresses, and nothing else.
   */
  domain?: string | undefined;
  /**
   * On the outside segment of this L3 gateway (GW-8): it reaches the VMs of the subnets the gateway
   * routes, on their own addresses, and nothing else.
   */
  gateway?: string | undefined;
}

/** A physical port + VLAN of a hardware gateway bound to a subnet (its logical switch, VNI = tunnel key). */
export interface GatewayBinding {
  port: string;
  /** 0: the whole port, untagged (this kernel has no 802.1Q devices to tag with). */
  vlan: number;
  subnet: string;
}

/** The gateway's own address in a subnet it routes (GW-8): not the distributed anycast one. */
export interface GatewayInterface {
  subnet: string;
  /** An address of the subnet, other than its anycast gateway. */
  address: string;
}

/**
 * An L3 gateway (GW-8): the gateway's kernel routes between its interfaces in the listed subnets and
 * one outside segment. VMs of those subnets route the outside prefix via the gateway's address in
 * their own subnet (a host route, as a cloud's DHCP option 121 hands it to the guest).
 */
export interface GatewayRouting {
  /** The outside segment: the gateway's port and its address there (`192.0.2.193/28`). */
  outside: { port: string; address: string };
  interfaces: GatewayInterface[];
}

/** A hardware VTEP gateway (OVSDB hardware_vtep) joining the overlay; `name` is its lab node. */
export interface Gateway {
  name: string;
  /** The zone whose controllers manage it. */
  zone: string | undefined;
  /** Its physical switch's tunnel IP, as the gateway registers it (GW-1). */
  tunnelIp: string;
  /** Its OVSDB target (`tcp:HOST:PORT`); default: the node's `otwin.ovsdb` label. */
  ovsdb: string | undefined;
  bindings: GatewayBinding[];
  /** L3 gateway (GW-8): undefined for an L2-only gateway. */
  routing?: GatewayRouting | undefined;
}

/** A bare-metal host behind a gateway's port + VLAN: a member of the subnet bound there. */
export interface BareMetalHost {
  name: string;
  gateway: string;
  port: string;
  vlan: number;
  ip: string;
  mac: string | undefined;
  /** Lab node that is the host; defaults to its name. */
  node: string;
  iface: string;
}

export interface ServiceChain {
  name: string;
  /** VM or group name (or `any`). */
  from: string;
  to: string;
  proto: Proto;
  ports: Array<[number, number]>;
  /** Appliance VMs in order. */
  via: string[];
  /**
   * Standby appliances (SVC-5): `standby[i]` takes over from `via[i]` when that one is unavailable;
   * empty or shorter than `via` where a hop has no standby.
   */
  standby: string[];
  /** `l3` redirect or `l2` bump-in-the-wire. */
  mode: 'l3' | 'l2';
}

export interface Zone {
  name: string;
  hypervisors: string[];
  /** Lab nodes acting as the zone's controllers / route reflectors. */
  controllers: string[];
}

export interface Intent {
  tenants: Tenant[];
  domains: Domain[];
  subnets: Subnet[];
  vms: Vm[];
  groups: SecurityGroup[];
  rules: Rule[];
  floatingIps: FloatingIp[];
  externals: External[];
  serviceChains: ServiceChain[];
  zones: Zone[];
  gateways: Gateway[];
  bareMetal: BareMetalHost[];
}

export function emptyIntent(): Intent {
  return {
    tenants: [],
    domains: [],
    subnets: [],
    vms: [],
    groups: [],
    rules: [],
    floatingIps: [],
    externals: [],
    serviceChains: [],
    zones: [],
    gateways: [],
    bareMetal: [],
  };
}

/** Lookups over an intent; throws on unknown names (validation has already checked them). */
export class IntentIndex {
  readonly vms = new Map<string, Vm>();
  readonly subnets = new Map<string, Subnet>();
  readonly domains = new Map<string, Domain>();
  readonly groups = new Map<string, SecurityGroup>();
  readonly externals = new Map<string, External>();
  readonly gateways = new Map<string, Gateway>();
  readonly bareMetal = new Map<string, BareMetalHost>();

  constructor(readonly intent: Intent) {
    for (const vm of intent.vms) this.vms.set(vm.name, vm);
    for (const subnet of intent.subnets) this.subnets.set(subnet.name, subnet);
    for (const domain of intent.domains) this.domains.set(domain.name, domain);
    for (const group of intent.groups) this.groups.set(group.name, group);
    for (const ext of intent.externals) this.externals.set(ext.name, ext);
    for (const gw of intent.gateways) this.gateways.set(gw.name, gw);
    for (const host of intent.bareMetal) this.bareMetal.set(host.name, host);
  }

  /** The subnets a gateway joins: bound at a port + VLAN, or routed (GW-8), each once. */
  gatewaySubnets(gw: Gateway): string[] {
    return [
      ...new Set([
        ...gw.bindings.map((b) => b.subnet),
        ...(gw.routing?.interfaces ?? []).map((i) => i.subnet),
      ]),
    ];
  }

  /** The subnet bound at a bare-metal host's gateway port + VLAN (undefined: nothing bound there). */
  bareMetalSubnet(host: BareMetalHost): string | undefined {
    return this.gateways.get(host.gateway)?.bindings.find((b) => b.port === host.port && b.vlan === host.vlan)
      ?.subnet;
  }

  /**
   * A bare-metal host seen as a member of its subnet, for reachability: its "hypervisor" is the
   * gateway (down gateway, unreachable host), and it belongs to no security group (the gateway
   * enforces none). Undefined for an unknown name or a host whose port + VLAN binds nothing.
   */
  bareMetalAsVm(name: string): Vm | undefined {
    const host = this.bareMetal.get(name);
    const subnet = host && this.bareMetalSubnet(host);
    if (!host || !subnet) return undefined;
    return {
      name: host.name,
      subnet,
      hypervisor: host.gateway,
      ip: host.ip,
      mac: host.mac,
      groups: [],
      node: host.node,
      iface: host.iface,
      port: host.port,
      attached: true,
    };
  }

  vm(name: string): Vm {
    const vm = this.vms.get(name);
    if (!vm) throw new Error(`unknown VM ${name}`);
    return vm;
  }

  subnetOf(vm: Vm): Subnet {
    const subnet = this.subnets.get(vm.subnet);
    if (!subnet) throw new Error(`unknown subnet ${vm.subnet}`);
    return subnet;
  }

  domainOf(vm: Vm): Domain {
    const domain = this.domains.get(this.subnetOf(vm).domain);
    if (!domain) throw new Error(`unknown domain of ${vm.name}`);
    return domain;
  }

  nodeOf(vm: Vm): string {
    return vm.node ?? vm.name;
  }
}

/** IPv4 helpers (the intent is IPv4 today). */
export function ipToInt(ip: string): number {
  const parts = ip.split('.').map((p) => Number.parseInt(p, 10));
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) {
    throw new Error(`not an IPv4 address: ${ip}`);
  }
  return (((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]!) >>> 0;
}

export function parseCidr(cidr: string): { base: number; len: number } {
  const [addr, lenText] = cidr.split('/');
  const len = Number.parseInt(lenText ?? '', 10);
  if (!addr || !Number.isInteger(len) || len < 0 || len > 32) throw new Error(`not an IPv4 CIDR: ${cidr}`);
  const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  return { base: (ipToInt(addr) & mask) >>> 0, len };
}

export function inCidr(ip: string, cidr: string): boolean {
  const { base, len } = parseCidr(cidr);
  const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  return (ipToInt(ip) & mask) >>> 0 === base;
}

export function isIpv4(text: string): boolean {
  try {
    ipToInt(text);
    return true;
  } catch {
    return false;
  }
}

export function isCidr(text: string): boolean {
  try {
    parseCidr(text);
    return true;
  } catch {
    return false;
  }
}
