/**
 * OVN (ovn-northd + ovn-controller on userspace Open vSwitch) as an implementation under test, on
 * labs/ovn.clab.yml. The intent goes to OVN's northbound database through `ovn-nbctl` on the central
 * node, as a cloud management system (Neutron, ovn-kubernetes) would write it: a logical switch per
 * subnet, a logical router per routing domain holding each subnet's gateway, a logical switch port per
 * VM with its MAC and IP. The VM itself is what a hypervisor's VIF plugging makes: a namespace inside
 * the chassis node with a veth whose other end is a br-int port carrying `external_ids:iface-id` = the
 * logical port. Depends on the harness's driver interface only (package.json `otwin.drivers`).
 */
import { createHash } from 'node:crypto';
import { nodeProcesses } from '../../harness/kernel/procs.ts';
import { nestedIn } from '../../harness/runtime/nested.ts';
import type { DeployedLab, LabNode } from '../../harness/runtime/runtime.ts';
import type {
  Capability,
  DriverContext,
  EndpointLocation,
  ImplementationDriver,
  IntentChange,
} from '../../harness/scenario/drivers/driver.ts';
import { mustExec } from '../../harness/scenario/drivers/exec.ts';
import {
  type Domain,
  type Intent,
  IntentIndex,
  parseCidr,
  type Subnet,
  type Vm,
} from '../../harness/scenario/intent.ts';
import type { Scenario } from '../../harness/scenario/types.ts';
import { HarnessError } from '../../harness/util/errors.ts';
import { pollUntil } from '../../harness/util/poll.ts';
import { securityPlan } from './acls.ts';
import { type OvnNames, ovnNames, SAFE_NAME } from './names.ts';

/**
 * TEST-ONLY sabotage switches (tests/sabotage/ovn.test.ts, docs/sabotage.md), comma-separated in
 * OTWIN_OVN_SABOTAGE; unset, always outside that test: `stateless` writes the stateless profile
 * (acls.ts: `allow-stateless`, rules mirrored on the source port) where the intent is stateful,
 * `fip-snat-only` writes floating IPs as `snat` (no inbound translation), `fip-stale` writes a
 * router's NAT rules once and never again (a moved floating IP stays on its first VM), `pg-stale`
 * keeps each port group's first members (a VM moved to another group keeps the old group's rules),
 * `fip-centralized` writes floating IPs without `logical_port`/`external_mac` (OVN then translates
 * them on the router's gateway chassis, not the VM's: ovn-nb(5) NAT).
 */
const SABOTAGE = {
  // Read at each use: one test process runs several sabotaged sets one after the other.
  has: (name: string) => (process.env.OTWIN_OVN_SABOTAGE ?? '').split(',').includes(name),
};
/** The logical switch of the lab's provider network, and its localnet name (ovn-bridge-mappings). */
const PROVIDER_SWITCH = 'ls-provider';
const PROVIDER_NETWORK = 'physnet';
/** The source ports PNAT translates to (ovn-nb(5) NAT `external_port_range`). */
const PNAT_PORTS = '1024-65535';
/** The lab's node script (labs/ovn/ovn-node.sh, bound at /srv in every OVN node). */
const NODE_SCRIPT = '/srv/ovn-node.sh';
/** The daemons a process fault may name, and the node script's `start` knows. */
const RESTARTABLE = new Set(['ovn-northd', 'ovn-controller', 'ovs-vswitchd']);
const VM_IFACE = 'eth0';
/** How long a VM's logical port may take to be bound and up in the southbound database. */
const PORT_UP_TIMEOUT_MS = 30_000;
/** Plugs in this process, for namespace names never used twice (see vmNamespace). */
let nextPlug = 0;

/** OVSDB transactions and VIF plugging wait for the daemons: a longer limit than a plain command. */
const must = (node: LabNode, argv: string[], what: string) => mustExec(node, argv, what, 30_000);

/** A locally administered unicast MAC from a name (VMs the intent gives no MAC, router ports). */
export function macFromName(name: string): string {
  const h = createHash('sha256').update(name).digest();
  return ['02', ...[...h.subarray(0, 5)].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}

/** `ovsdb` JSON output (`--format=json`): headings and rows of cells such as `["uuid", "..."]`. */
interface OvsdbTable {
  headings: string[];
  data: unknown[][];
}

/** Rows of a `--format=json list` answer as objects keyed by column. */
export function ovsdbRows(json: string): Array<Record<string, unknown>> {
  const table = JSON.parse(json) as OvsdbTable;
  return table.data.map((row) => Object.fromEntries(table.headings.map((h, i) => [h, row[i]])));
}

/** An OVSDB boolean or optional boolean cell (`true`, `["set", []]`, `["set", [true]]`). */
function ovsdbBool(cell: unknown): boolean {
  if (cell === true) return true;
  if (Array.isArray(cell) && cell[0] === 'set') return (cell[1] as unknown[]).includes(true);
  return false;
}

/** NAT rows of one transaction, each with its own `--id` (@nat0, @nat1, ...). */
let nextNatRow = 0;

/** A NAT row created and added to the router (generic `create` + `add`; values quoted as OVSDB strings). */
function natRow(lr: string, columns: Record<string, string>): string[][] {
  const id = `@nat${nextNatRow++}`;
  return [
    [`--id=${id}`, 'create', 'NAT', ...Object.entries(columns).map(([k, v]) => `${k}=${JSON.stringify(v)}`)],
    ['add', 'Logical_Router', lr, 'nat', id],
  ];
}

export class OvnDriver implements ImplementationDriver {
  readonly name = 'ovn';
  /**
   * Switching, routing, security groups (port groups + ACLs, acls.ts), floating IPs, PNAT (OVN's
   * centralised `snat` to the router's provider address, not the hypervisor's: docs/ovn.md).
   */
  readonly capabilities: ReadonlySet<Capability> = new Set<Capability>([
    'l2',
    'routing',
    'security-groups',
    'floating-ips',
    'pnat',
  ]);
  readonly unsupportedChecks: ReadonlyMap<string, string> = new Map([
    [
      'bgp',
      "OVN has no EVPN: chassis learn each other's ports from the southbound database, so there are no BGP routes for the tap or vtysh to read",
    ],
    ['vxlan', 'they judge VXLAN encapsulation (RFC 7348); the OVN lab tunnels with Geneve (RFC 8926)'],
  ]);
  /** NB objects and VIFs this driver created, so teardown removes exactly those. */
  private readonly plugged = new Map<string, Vm>();
  private readonly namespaces = new Map<string, string>();
  private readonly switches = new Set<string>();
  private readonly routers = new Set<string>();
  private readonly portGroups = new Set<string>();
  /** Routers whose NAT rules were written (only the `fip-stale` sabotage reads it). */
  private readonly natWritten = new Set<string>();
  private lab: DeployedLab | undefined;
  /** The attached ports last seen up, so that checks after the first do not ask the SB again. */
  private upSince = '';
  /** The `NB_Global.nb_cfg` the next NB transaction sets (markNextTransaction). */
  private nbCfgMark: number | undefined;

  /**
   * The next NB transaction also sets `NB_Global.nb_cfg` to `nbCfg` (bench/ovn-attach.ts). OVN then
   * stamps that change's way through ovn-northd and every ovn-controller (ovn-nb(5) NB_Global
   * `nb_cfg_timestamp`, `sb_cfg_timestamp`; ovn-sb(5) Chassis_Private `nb_cfg_timestamp`), to be read
   * after the fact: unlike `ovn-nbctl --wait`, the mark adds no wait to the transaction.
   */
  markNextTransaction(nbCfg: number): void {
    this.nbCfgMark = nbCfg;
  }

  validate(scenario: Scenario): string[] {
    return [
      ...scenario.intent.vms.map((vm) => vm.name),
      ...scenario.intent.subnets.map((s) => s.name),
      ...scenario.intent.domains.map((d) => d.name),
    ]
      .filter((name) => !SAFE_NAME.test(name))
      .map(
        (name) =>
          `the ovn driver names OVN objects and namespaces after '${name}': use letters, digits, _ . -`,
      );
  }

  private central(lab: DeployedLab): LabNode {
    const node = lab.topology.nodes.find((n) => n.labels['otwin.role'] === 'ovn-central');
    if (!node) throw new HarnessError('the OVN lab has no node labelled otwin.role: ovn-central');
    return lab.node(node.name);
  }

  private rundir(lab: DeployedLab, node: LabNode): string {
    return lab.topology.nodes.find((n) => n.name === node.name)?.env.OVN_RUNDIR ?? '/var/run/ovn';
  }

  private nbctl(lab: DeployedLab, args: string[]): Promise<string> {
    const central = this.central(lab);
    const db = `unix:${this.rundir(lab, central)}/ovnnb_db.sock`;
    return must(central, ['ovn-nbctl', `--db=${db}`, ...args], `ovn-nbctl ${args[0] ?? ''}`);
  }

  private sbctl(lab: DeployedLab, args: string[]): Promise<string> {
    const central = this.central(lab);
    const db = `unix:${this.rundir(lab, central)}/ovnsb_db.sock`;
    return must(central, ['ovn-sbctl', `--db=${db}`, ...args], `ovn-sbctl ${args[0] ?? ''}`);
  }

  private names(intent: Intent): OvnNames {
    return ovnNames(intent);
  }

  /** The northbound objects of the whole intent, in one ovn-nbctl transaction (idempotent). */
  private async writeTopology(ctx: DriverContext): Promise<void> {
    const n = this.names(ctx.intent);
    const cmds: string[][] = [];
    for (const subnet of ctx.intent.subnets) {
      const ls = n.switchOf(subnet.name);
      cmds.push(['--may-exist', 'ls-add', ls]);
      this.switches.add(ls);
      if (!subnet.gateway) continue;
      const lr = n.routerOf(subnet.domain);
      if (!this.routers.has(lr)) cmds.push(['--may-exist', 'lr-add', lr]);
      this.routers.add(lr);
      cmds.push(...this.gatewayCommands(subnet, lr, ls, n));
    }
    for (const vm of ctx.intent.vms) if (vm.attached) cmds.push(...this.portCommands(vm, n));
    cmds.push(...this.securityCommands(ctx.intent, n));
    cmds.push(...this.natCommands(ctx, n));
    if (this.nbCfgMark !== undefined) cmds.push(['set', 'NB_Global', '.', `nb_cfg=${this.nbCfgMark}`]);
    this.nbCfgMark = undefined;
    if (cmds.length === 0) return;
    await this.nbctl(
      ctx.lab,
      cmds.flatMap((c, i) => (i === 0 ? c : ['--', ...c])),
    );
  }

  /** The subnet's anycast gateway: a router port with the gateway address, patched to the switch. */
  private gatewayCommands(subnet: Subnet, lr: string, ls: string, n: OvnNames): string[][] {
    const { len } = parseCidr(subnet.cidr);
    const lrp = n.routerPortOf(subnet.name);
    const lsp = n.switchRouterPortOf(subnet.name);
    return [
      ['--may-exist', 'lrp-add', lr, lrp, macFromName(lrp), `${subnet.gateway}/${len}`],
      ['--may-exist', 'lsp-add', ls, lsp],
      ['lsp-set-type', lsp, 'router'],
      ['lsp-set-addresses', lsp, 'router'],
      ['lsp-set-options', lsp, `router-port=${lrp}`],
    ];
  }

  /**
   * Port groups and ACLs of the whole intent, rewritten in the same transaction as the ports (so a
   * new port is never up without its ACLs): membership set, the group's ACLs replaced.
   */
  private securityCommands(intent: Intent, n: OvnNames): string[][] {
    const plan = securityPlan(intent, n.portOf, SABOTAGE.has('stateless') ? 'stateless' : 'stateful');
    const cmds: string[][] = [];
    for (const [pg, ports] of plan.portGroups) {
      // pg-set-ports takes at least one port: an emptied group is cleared with the generic command.
      const members =
        ports.length > 0 ? ['pg-set-ports', pg, ...ports] : ['clear', 'Port_Group', pg, 'ports'];
      if (this.portGroups.has(pg)) cmds.push(...(SABOTAGE.has('pg-stale') ? [] : [members]), ['acl-del', pg]);
      else cmds.push(['pg-add', pg, ...ports]);
      this.portGroups.add(pg);
    }
    for (const pg of [...this.portGroups].filter((pg) => !plan.portGroups.has(pg))) {
      cmds.push(['pg-del', pg]);
      this.portGroups.delete(pg);
    }
    for (const acl of plan.acls)
      cmds.push(['acl-add', acl.portGroup, acl.direction, String(acl.priority), acl.match, acl.action]);
    return cmds;
  }

  /**
   * Floating IPs and PNAT: per routing domain that has either, a gateway port on the provider network
   * (a logical switch with a localnet port, bridged to every chassis' br-ex), scheduled on the chassis
   * by priority. A floating IP is a distributed `dnat_and_snat` (logical_port + external_mac, so the
   * VM's own chassis translates and answers ARP for it: ovn-nb(5) NAT). PNAT is a `snat` of each
   * routed subnet to the gateway port's address: OVN has no per-chassis source NAT, so it happens on
   * the gateway chassis, as the router's address, not the hypervisor's (docs/ovn.md, NAT-5 finding).
   * The more specific floating IP wins over the subnet's `snat`. Rewritten whole each time.
   */
  private natCommands(ctx: DriverContext, n: OvnNames): string[][] {
    const idx = new IntentIndex(ctx.intent);
    const byDomain = new Map<string, Array<{ ip: string; vm: Vm }>>();
    for (const fip of ctx.intent.floatingIps) {
      const vm = idx.vm(fip.vm);
      const domain = idx.domainOf(vm).name;
      byDomain.set(domain, [...(byDomain.get(domain) ?? []), { ip: fip.ip, vm }]);
    }
    const outside = (domain: Domain) => domain.pnat || byDomain.has(domain.name);
    const cmds: string[][] = [];
    const provider = ctx.intent.domains.some(outside) ? this.provider(ctx.lab) : undefined;
    if (provider) {
      cmds.push(
        ['--may-exist', 'ls-add', PROVIDER_SWITCH],
        ['--may-exist', 'lsp-add', PROVIDER_SWITCH, `${PROVIDER_SWITCH}-localnet`],
        ['lsp-set-type', `${PROVIDER_SWITCH}-localnet`, 'localnet'],
        ['lsp-set-addresses', `${PROVIDER_SWITCH}-localnet`, 'unknown'],
        ['lsp-set-options', `${PROVIDER_SWITCH}-localnet`, `network_name=${PROVIDER_NETWORK}`],
      );
      this.switches.add(PROVIDER_SWITCH);
    }
    const chassis = ctx.lab.topology.nodes.filter((node) => node.labels['otwin.role'] === 'ovn-chassis');
    ctx.intent.domains.forEach((domain, i) => {
      const lr = n.routerOf(domain.name);
      if (!this.routers.has(lr)) return;
      if (SABOTAGE.has('fip-stale') && this.natWritten.has(lr)) return;
      // Every router's NAT is rewritten, so a floating IP moved or removed leaves nothing behind. With
      // the generic commands: `lr-nat-add` refuses an external IP that the same transaction's
      // `lr-nat-del` removed (it still sees the old row), so a moved floating IP could not be written.
      cmds.push(['clear', 'Logical_Router', lr, 'nat']);
      if (!outside(domain) || !provider) return;
      this.natWritten.add(lr);
      const lrp = n.routerPortOf(`ext-${domain.name}`);
      const lsp = `${PROVIDER_SWITCH}-${lr}`;
      const external = provider.address(i);
      cmds.push(
        ['--may-exist', 'lrp-add', lr, lrp, macFromName(lrp), `${external}/${provider.len}`],
        ['--may-exist', 'lsp-add', PROVIDER_SWITCH, lsp],
        ['lsp-set-type', lsp, 'router'],
        ['lsp-set-addresses', lsp, 'router'],
        ['lsp-set-options', lsp, `router-port=${lrp}`, 'nat-addresses=router'],
        ...chassis.map((c, rank) => ['lrp-set-gateway-chassis', lrp, c.name, String(100 - rank)]),
        ...(byDomain.get(domain.name) ?? []).flatMap((f) =>
          natRow(
            lr,
            SABOTAGE.has('fip-snat-only')
              ? { type: 'snat', external_ip: f.ip, logical_ip: f.vm.ip }
              : SABOTAGE.has('fip-centralized')
                ? { type: 'dnat_and_snat', external_ip: f.ip, logical_ip: f.vm.ip }
                : {
                    type: 'dnat_and_snat',
                    external_ip: f.ip,
                    logical_ip: f.vm.ip,
                    logical_port: n.portOf(f.vm.name),
                    external_mac: macFromName(`fip:${f.ip}`),
                  },
          ),
        ),
        ...(domain.pnat
          ? ctx.intent.subnets
              .filter((s) => s.domain === domain.name && s.gateway)
              .flatMap((s) =>
                natRow(lr, {
                  type: 'snat',
                  external_ip: external,
                  logical_ip: s.cidr,
                  // PAT over the whole unprivileged range: conntrack then picks each connection's
                  // port from it (as the reference's `masquerade random`), so two VMs sending from
                  // the same port leave with distinct (address, port) tuples (NAT-5).
                  external_port_range: PNAT_PORTS,
                }),
              )
          : []),
      );
    });
    return cmds;
  }

  /** The lab's provider network (central node label `otwin.ovn.provider`): routers' gateway ports. */
  private provider(lab: DeployedLab): { len: number; address(i: number): string } {
    const central = lab.topology.nodes.find((node) => node.labels['otwin.role'] === 'ovn-central');
    const cidr = central?.labels['otwin.ovn.provider'];
    if (!cidr)
      throw new HarnessError(
        'floating IPs on OVN need a provider network: label the central node otwin.ovn.provider: <cidr> (labs/ovn.clab.yml)',
      );
    const { base, len } = parseCidr(cidr);
    const top = base + 2 ** (32 - len) - 2;
    return {
      len,
      address: (i) => [24, 16, 8, 0].map((shift) => ((top - i) >>> shift) & 255).join('.'),
    };
  }

  private portCommands(vm: Vm, n: OvnNames): string[][] {
    const lsp = n.portOf(vm.name);
    return [
      ['--may-exist', 'lsp-add', n.switchOf(vm.subnet), lsp],
      ['lsp-set-addresses', lsp, `${this.macOf(vm)} ${vm.ip}`],
    ];
  }

  private macOf(vm: Vm): string {
    return (vm.mac ?? macFromName(`vm:${vm.name}`)).toLowerCase();
  }

  /**
   * The VM's namespace inside its chassis node (the node's private /run/netns). Each plug gets a new
   * name: the traffic engine knows a VM by its namespace path and keeps what it opened there, so a
   * later VM of the same name (the next scenario on a kept lab) must not reuse the path.
   */
  private vmNamespace(vm: Vm): string {
    return this.namespaces.get(vm.name) ?? `vm-${vm.name}`;
  }

  /** Plugs the VM's VIF as a hypervisor would: namespace, veth, br-int port bound to the logical port. */
  private async plug(vm: Vm, ctx: DriverContext): Promise<void> {
    const n = this.names(ctx.intent);
    const hv = ctx.lab.node(vm.hypervisor);
    const ns = `vm-${vm.name}-${(nextPlug++).toString(36)}${Date.now().toString(36)}`;
    this.namespaces.set(vm.name, ns);
    const tap = n.tapOf(vm.name);
    const subnet = new IntentIndex(ctx.intent).subnetOf(vm);
    const { len } = parseCidr(subnet.cidr);
    const lines = [
      `ip netns add ${ns}`,
      `ip -n ${ns} link set lo up`,
      `ip link add ${tap} type veth peer name ${VM_IFACE} netns ${ns}`,
      `ip -n ${ns} link set ${VM_IFACE} address ${this.macOf(vm)}`,
      // The checksum pitfall (labs/ovn/ovn-node.sh): OVS reads this veth's frames from the VM's kernel.
      `ip netns exec ${ns} ethtool -K ${VM_IFACE} tx off >/dev/null`,
      `ip -n ${ns} addr add ${vm.ip}/${len} dev ${VM_IFACE}`,
      `ip -n ${ns} link set ${VM_IFACE} up`,
      `ip link set ${tap} up`,
      ...(subnet.gateway ? [`ip -n ${ns} route add default via ${subnet.gateway}`] : []),
      `ovs-vsctl --may-exist add-port br-int ${tap} -- set interface ${tap} external_ids:iface-id=${n.portOf(vm.name)}`,
    ];
    await must(hv, ['sh', '-ec', lines.join('\n')], `plug VM ${vm.name}`);
    this.plugged.set(vm.name, vm);
  }

  private async unplug(vm: Vm, ctx: DriverContext): Promise<void> {
    const hv = ctx.lab.nodes.get(vm.hypervisor);
    if (!hv) return;
    const tap = this.names(ctx.intent).tapOf(vm.name);
    await hv.exec([
      'sh',
      '-c',
      `ovs-vsctl --if-exists del-port br-int ${tap}; ip link del ${tap} 2>/dev/null; ip netns del ${this.vmNamespace(vm)} 2>/dev/null; true`,
    ]);
    this.plugged.delete(vm.name);
    this.namespaces.delete(vm.name);
  }

  async provision(change: IntentChange, ctx: DriverContext): Promise<void> {
    this.lab = ctx.lab;
    this.upSince = '';
    if (change.move.length > 0) throw new HarnessError('the ovn driver does not move VMs (yet)');
    const idx = new IntentIndex(ctx.intent);
    const n = this.names(ctx.intent);
    const detach = change.apply
      ? ctx.intent.vms.filter((vm) => !vm.attached && this.plugged.has(vm.name))
      : change.detach.map((name) => idx.vm(name));
    const attach = change.apply
      ? ctx.intent.vms.filter((vm) => vm.attached && !this.plugged.has(vm.name))
      : change.attach.map((name) => idx.vm(name));
    for (const vm of detach) {
      await this.unplug(vm, ctx);
      await this.nbctl(ctx.lab, ['--if-exists', 'lsp-del', n.portOf(vm.name)]);
    }
    await this.writeTopology(ctx);
    ctx.accepted();
    for (const vm of attach) await this.plug(vm, ctx);
  }

  /** Every attached VM's logical port is bound to a chassis and up in the southbound database. */
  async ready(ctx: DriverContext): Promise<void> {
    const n = this.names(ctx.intent);
    const want = ctx.intent.vms.filter((vm) => vm.attached).map((vm) => n.portOf(vm.name));
    // Every traffic check calls this inside its budget: once the ports of this set were up, the next
    // check need not pay an SB round trip (provision resets it).
    if (want.length === 0 || this.upSince === want.join(' ')) return;
    const r = await pollUntil(
      async () => {
        const rows = ovsdbRows(
          await this.sbctl(ctx.lab, [
            '--format=json',
            '--columns=logical_port,up,chassis',
            'list',
            'Port_Binding',
          ]),
        );
        const up = new Set(rows.filter((row) => ovsdbBool(row.up)).map((row) => String(row.logical_port)));
        return want.filter((p) => !up.has(p));
      },
      (missing) => missing.length === 0,
      { timeoutMs: PORT_UP_TIMEOUT_MS, intervalMs: 50, what: 'logical ports up in the southbound database' },
    );
    if (!r.ok)
      throw new HarnessError(
        `OVN: logical port(s) ${(r.value ?? want).join(', ')} not up in the southbound database within ${PORT_UP_TIMEOUT_MS / 1000} s (ovn-controller running? iface-id set?)`,
      );
    // A port is up once its own chassis has its flows; the other chassis may still be installing the
    // change (ACLs and address sets name remote ports): wait until every chassis has caught up with
    // the northbound configuration (ovn-nbctl(8) `--wait=hv`).
    await this.nbctl(ctx.lab, [`--timeout=${PORT_UP_TIMEOUT_MS / 1000}`, '--wait=hv', 'sync']);
    this.upSince = want.join(' ');
  }

  async teardown(ctx: DriverContext): Promise<void> {
    this.upSince = '';
    for (const vm of [...this.plugged.values()]) await this.unplug(vm, ctx);
    const cmds: string[][] = [
      ...[...this.portGroups].map((pg) => ['pg-del', pg]),
      ...[...this.routers].map((lr) => ['--if-exists', 'lr-del', lr]),
      ...[...this.switches].map((ls) => ['--if-exists', 'ls-del', ls]),
    ];
    this.routers.clear();
    this.natWritten.clear();
    this.switches.clear();
    this.portGroups.clear();
    if (cmds.length > 0)
      await this.nbctl(
        ctx.lab,
        cmds.flatMap((c, i) => (i === 0 ? c : ['--', ...c])),
      ).catch((err: unknown) => ctx.log(`teardown: ${err instanceof Error ? err.message : String(err)}`));
  }

  locate(vm: Vm, ctx: DriverContext): EndpointLocation {
    const hv = ctx.lab.node(vm.hypervisor);
    const ns = this.vmNamespace(vm);
    const node: LabNode = {
      name: `${vm.hypervisor}/${vm.name}`,
      kind: 'vm',
      image: 'ovn-vif',
      // The VM namespace lives in the chassis node's private /run/netns: reachable from the host
      // through the node init's root (setns takes the nsfs file).
      netnsPath: `/proc/${hv.pid}/root/run/netns/${ns}`,
      netnsName: undefined,
      pid: hv.pid,
      mgmtIPv4: undefined,
      mgmtIPv6: undefined,
      exec: (argv, options) => hv.exec(['ip', 'netns', 'exec', ns, ...argv], options),
      ...nestedIn(hv, ns),
    };
    return { node, iface: VM_IFACE, ip: vm.ip, mac: this.macOf(vm) };
  }

  async processes(role: string, node: LabNode): Promise<number[]> {
    return nodeProcesses(node)
      .filter((p) => p.comm === role)
      .map((p) => p.pid);
  }

  async supervisors(): Promise<number[]> {
    // Nothing in the lab restarts an OVN daemon (no systemd, no monitor): a killed one stays down.
    return [];
  }

  async startProcess(role: string, node: LabNode): Promise<void> {
    if (!RESTARTABLE.has(role))
      throw new HarnessError(
        `${node.name}: the ovn driver restarts ${[...RESTARTABLE].join(', ')}, not ${role}`,
      );
    await must(node, ['sh', NODE_SCRIPT, 'start', role], `start ${role}`);
  }

  async startNode(node: LabNode): Promise<void> {
    // The node's own start lines (labs/ovn.clab.yml `exec:`), the ones that run the node script.
    const lines = this.lab?.topology.nodes.find((n) => n.name === node.name)?.exec ?? [];
    const starts = lines.filter((l) => l.includes(NODE_SCRIPT));
    if (starts.length === 0)
      throw new HarnessError(`${node.name}: no ${NODE_SCRIPT} line in its exec: to restart`);
    for (const line of starts) await must(node, ['sh', '-c', line], 'restart the node');
  }

  async vtepAddress(node: LabNode): Promise<string | undefined> {
    const r = await node.exec(['ip', '-j', '-4', 'addr', 'show', 'dev', 'br-phy']);
    if (r.exitCode !== 0) return undefined;
    const links = JSON.parse(r.stdout || '[]') as Array<{ addr_info?: Array<{ local: string }> }>;
    return links[0]?.addr_info?.[0]?.local;
  }

  async logs(node: LabNode): Promise<Array<{ name: string; content: string }>> {
    const out: Array<{ name: string; content: string }> = [];
    const env = this.lab?.topology.nodes.find((n) => n.name === node.name)?.env ?? {};
    const files = [
      `${env.OVS_LOGDIR ?? '/var/log/openvswitch'}/ovn-controller.log`,
      `${env.OVS_LOGDIR ?? '/var/log/openvswitch'}/ovs-vswitchd.log`,
      `${env.OVN_LOGDIR ?? '/var/log/ovn'}/ovn-northd.log`,
    ];
    for (const file of files) {
      const r = await node.exec(['tail', '-n', '200', file]);
      if (r.exitCode === 0 && r.stdout)
        out.push({ name: `${node.name} ${file} (last 200 lines)`, content: r.stdout });
    }
    return out;
  }
}

/** The driver module's factory (package.json `otwin.drivers`). */
export function createDriver(): ImplementationDriver {
  return new OvnDriver();
}
