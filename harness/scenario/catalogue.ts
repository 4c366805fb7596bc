/**
 * The conformance catalogue's IDs (shared/conformance-catalogue.md), with the Allure epic (area) and
 * feature (catalogue group) each maps to. Regenerate when the catalogue changes; a test compares them.
 */

export interface CatalogueEntry {
  id: string;
  /** Allure epic. */
  area: string;
  /** Allure feature: the catalogue group heading. */
  group: string;
  stimulus: string;
}

export const AREAS: Record<string, string> = {
  VX: 'data plane',
  L2: 'data plane',
  L3: 'data plane',
  ARP: 'data plane',
  EVPN: 'control plane',
  SG: 'services',
  NAT: 'services',
  SVC: 'services',
  AZ: 'resilience',
  GW: 'gateways',
  FED: 'federation',
  SCALE: 'scale',
};

const rows: Array<[string, string, string]> = [
  ['VX-1', 'VX — VXLAN encapsulation (RFC 7348)', 'unicast between VMs on two hypervisors, same VNI'],
  ['VX-2', 'VX — VXLAN encapsulation (RFC 7348)', '64 different inner 5-tuples between one VTEP pair'],
  ['VX-3', 'VX — VXLAN encapsulation (RFC 7348)', 'inner frames at underlay MTU − 50 and above'],
  [
    'VX-4',
    'VX — VXLAN encapsulation (RFC 7348)',
    "inject VXLAN with another tenant's VNI, and with an unknown VNI",
  ],
  ['VX-5', 'VX — VXLAN encapsulation (RFC 7348)', 'inject VXLAN with reserved bits set'],
  [
    'L2-1',
    'L2 / L3 — distributed forwarding (seed; RFC 9135)',
    'all VM pairs in one subnet, across hypervisors',
  ],
  [
    'L2-2',
    'L2 / L3 — distributed forwarding (seed; RFC 9135)',
    'broadcast from a VM, N remote hypervisors in the VNI',
  ],
  ['L2-3', 'L2 / L3 — distributed forwarding (seed; RFC 9135)', 'frame to an unknown unicast MAC'],
  [
    'L3-1',
    'L2 / L3 — distributed forwarding (seed; RFC 9135)',
    'inter-subnet traffic, one tenant, VMs on different hypervisors',
  ],
  [
    'L3-2',
    'L2 / L3 — distributed forwarding (seed; RFC 9135)',
    'ARP for the default gateway from every hypervisor',
  ],
  [
    'L3-3',
    'L2 / L3 — distributed forwarding (seed; RFC 9135)',
    'move a VM to another hypervisor (same MAC/IP)',
  ],
  ['L3-4', 'L2 / L3 — distributed forwarding (seed; RFC 9135)', 'two tenants with overlapping addresses'],
  ['ARP-1', 'ARP — local ARP handling (seed; RFC 9161)', 'VM ARPs for a known remote VM'],
  ['ARP-2', 'ARP — local ARP handling (seed; RFC 9161)', 'VM ARPs for an unknown address'],
  ['ARP-3', 'ARP — local ARP handling (seed; RFC 9161)', 'VM sends gratuitous ARP with a new MAC for its IP'],
  [
    'ARP-4',
    'ARP — local ARP handling (seed; RFC 9161)',
    'tenant A ARPs for an address that exists only in tenant B',
  ],
  ['EVPN-1', 'EVPN — control plane (RFC 7432, RFC 8365)', 'a VNI on N VTEPs'],
  ['EVPN-2', 'EVPN — control plane (RFC 7432, RFC 8365)', 'a VM attaches'],
  ['EVPN-3', 'EVPN — control plane (RFC 7432, RFC 8365)', 'a VM detaches'],
  ['EVPN-4', 'EVPN — control plane (RFC 7432, RFC 8365)', 'a VTEP without the matching import route target'],
  ['EVPN-5', 'EVPN — control plane (RFC 7432, RFC 8365)', 'move a VM between hypervisors'],
  ['EVPN-6', 'EVPN — control plane (RFC 7432, RFC 8365)', 'flap a MAC between two VTEPs 5 times in 180 s'],
  ['EVPN-7', 'EVPN — control plane (RFC 7432, RFC 8365)', 'external prefix learned at the gateway'],
  [
    'SG-1',
    'SG — security groups (seed; neutron scenario tests)',
    "the seed's rule table (Any→Web 80/443, Web→App 9000, App→DB 3306, Mgmt→All 22) over a multi-tier tenant",
  ],
  [
    'SG-2',
    'SG — security groups (seed; neutron scenario tests)',
    'a connection allowed one way; unsolicited traffic the other way',
  ],
  [
    'SG-3',
    'SG — security groups (seed; neutron scenario tests)',
    'add, then remove, a VM to a group on a remote hypervisor',
  ],
  ['SG-4', 'SG — security groups (seed; neutron scenario tests)', 'membership change'],
  [
    'SG-5',
    'SG — security groups (seed; neutron scenario tests)',
    'intra-subnet traffic between VMs of different groups',
  ],
  [
    'SG-6',
    'SG — security groups (seed; neutron scenario tests)',
    'grow groups, members and rules (10 → 10,000 members)',
  ],
  [
    'SG-7',
    'SG — security groups (seed; neutron scenario tests)',
    'same policy between a VM and a host beyond the gateway / PE',
  ],
  ['NAT-1', 'NAT — floating IPs and distributed PNAT (seed)', 'outside host → floating IP; VM → outside'],
  ['NAT-2', 'NAT — floating IPs and distributed PNAT (seed)', 'floating-IP traffic for a VM on hypervisor X'],
  [
    'NAT-3',
    'NAT — floating IPs and distributed PNAT (seed)',
    'VM ↔ VM inside the tenant while a floating IP is set',
  ],
  ['NAT-4', 'NAT — floating IPs and distributed PNAT (seed)', 'move a floating IP from VM1 to VM2'],
  ['NAT-5', 'NAT — floating IPs and distributed PNAT (seed)', 'many VMs reach outside without floating IPs'],
  [
    'NAT-6',
    'NAT — floating IPs and distributed PNAT (seed)',
    'security-group change on a VM with a floating IP',
  ],
  ['SVC-1', 'SVC — service chaining (seed)', 'L3 redirect A → B through an appliance'],
  ['SVC-2', 'SVC — service chaining (seed)', 'L2 (bump-in-the-wire) insertion inside one subnet'],
  ['SVC-3', 'SVC — service chaining (seed)', 'redirect by port (80 via FW1, others direct)'],
  ['SVC-4', 'SVC — service chaining (seed)', 'reverse direction of a chained flow'],
  ['SVC-5', 'SVC — service chaining (seed)', 'the active appliance fails; a standby exists'],
  ['AZ-1', 'AZ — availability zones and failures (seed)', 'kill the controller of zone A'],
  [
    'AZ-2',
    'AZ — availability zones and failures (seed)',
    'attach a VM in zone A while its controller is down',
  ],
  ['AZ-3', 'AZ — availability zones and failures (seed)', "restore zone A's controller"],
  ['AZ-4', 'AZ — availability zones and failures (seed)', 'restart the datapath agent on one hypervisor'],
  ['AZ-5', 'AZ — availability zones and failures (seed)', 'kill the policy directory (management plane)'],
  ['AZ-6', 'AZ — availability zones and failures (seed)', 'partition zone A from zone B'],
  [
    'AZ-7',
    'AZ — availability zones and failures (seed)',
    'zone B injects routes it does not own (wrong route target / community)',
  ],
  ['GW-1', 'GW — hardware gateways (seed; vtep(5); RFC 8365)', 'an OVSDB hardware VTEP connects'],
  ['GW-2', 'GW — hardware gateways (seed; vtep(5); RFC 8365)', 'bind a port+VLAN to a logical switch'],
  ['GW-3', 'GW — hardware gateways (seed; vtep(5); RFC 8365)', 'create, delete, move VMs'],
  ['GW-4', 'GW — hardware gateways (seed; vtep(5); RFC 8365)', 'hosts behind the gateway send frames'],
  ['GW-5', 'GW — hardware gateways (seed; vtep(5); RFC 8365)', 'broadcast from a host behind the gateway'],
  ['GW-6', 'GW — hardware gateways (seed; vtep(5); RFC 8365)', 'OVSDB session dropped and restored'],
  [
    'GW-7',
    'GW — hardware gateways (seed; vtep(5); RFC 8365)',
    'the same scenario with an EVPN gateway instead of OVSDB',
  ],
  [
    'GW-8',
    'GW — hardware gateways (seed; vtep(5); RFC 8365)',
    'L3 gateway: several VNIs routed to one outside segment',
  ],
  [
    'FED-1',
    'FED — federation with PE routers and between controllers (seed; RFC 4364, 9014)',
    'a tenant domain exported to an FRR PE as a VPN',
  ],
  [
    'FED-2',
    'FED — federation with PE routers and between controllers (seed; RFC 4364, 9014)',
    'a prefix from the PE (VPNv4) and one from the data centre',
  ],
  [
    'FED-3',
    'FED — federation with PE routers and between controllers (seed; RFC 4364, 9014)',
    'a tenant stretched over two controllers (zones); move a VM across',
  ],
  [
    'FED-4',
    'FED — federation with PE routers and between controllers (seed; RFC 4364, 9014)',
    'federation policy keeps or strips security-group communities',
  ],
  [
    'FED-5',
    'FED — federation with PE routers and between controllers (seed; RFC 4364, 9014)',
    "restart a controller's BGP speaker with graceful restart",
  ],
  [
    'SCALE-1',
    'SCALE — scale tier (ovn-heater style)',
    'create N ports (1k, 10k, 50k) across simulated hypervisors',
  ],
  ['SCALE-2', 'SCALE — scale tier (ovn-heater style)', 'sustained membership churn'],
  ['SCALE-3', 'SCALE — scale tier (ovn-heater style)', 'growth of groups, members, rules'],
];

export const CATALOGUE: ReadonlyMap<string, CatalogueEntry> = new Map(
  rows.map(([id, group, stimulus]) => [
    id,
    { id, group, stimulus, area: AREAS[id.split('-')[0]!] ?? 'other' },
  ]),
);

export function catalogueEntry(id: string): CatalogueEntry | undefined {
  return CATALOGUE.get(id);
}
