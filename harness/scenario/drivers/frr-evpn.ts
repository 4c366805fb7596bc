/**
 * Driver for plain FRR EVPN VTEP labs (FRR as the implementation under test): hypervisors are FRR
 * leaves with a kernel bridge + VXLAN device per VNI and `advertise-all-vni`; VMs are lab hosts wired
 * to a leaf port. Provisioning a VM = addressing the host and plugging its leaf port into the VNI's
 * bridge; detaching = unplugging the port (the leaf then withdraws the VM's type-2 routes).
 */

import { type ForwardingEntry, forwardingTableScript, parseForwardingTables } from '../../kernel/fdb.ts';
import { nodeProcesses } from '../../kernel/procs.ts';
import type { LabNode } from '../../runtime/runtime.ts';
import { HarnessError } from '../../util/errors.ts';
import { type Intent, IntentIndex, parseCidr, type Vm } from '../intent.ts';
import type { Scenario } from '../types.ts';
import type {
  Capability,
  DriverContext,
  EndpointLocation,
  ImplementationDriver,
  IntentChange,
} from './driver.ts';
import { mustExec } from './exec.ts';

const FRR_INIT = '/usr/lib/frr/frrinit.sh';
const FRR_DAEMON_SCRIPT = '/usr/lib/frr/watchfrr.sh';

const must = mustExec;

export class FrrEvpnDriver implements ImplementationDriver {
  readonly name = 'frr-evpn';
  readonly capabilities: ReadonlySet<Capability> = new Set<Capability>(['l2', 'zones']);

  validate(scenario: Scenario): string[] {
    const problems: string[] = [];
    for (const vm of scenario.intent.vms) {
      if (!vm.port)
        problems.push(
          `VM ${vm.name}: the frr-evpn driver needs \`port\` (the leaf port its host is wired to)`,
        );
    }
    return problems;
  }

  private bridgeOf(intent: Intent, vm: Vm): string {
    return `br${new IntentIndex(intent).subnetOf(vm).vni}`;
  }

  private async ensureVni(hv: LabNode, vni: number): Promise<void> {
    const bridge = `br${vni}`;
    const has = await hv.exec(['ip', 'link', 'show', bridge]);
    if (has.exitCode === 0) return;
    const local = await this.vtepAddress(hv);
    if (!local)
      throw new HarnessError(
        `${hv.name}: no VXLAN device to take the VTEP address from; create br${vni}/vxlan${vni} in the lab`,
      );
    await must(hv, ['ip', 'link', 'add', bridge, 'type', 'bridge'], 'create bridge');
    await must(
      hv,
      [
        'ip',
        'link',
        'add',
        `vxlan${vni}`,
        'type',
        'vxlan',
        'id',
        String(vni),
        'local',
        local,
        'dstport',
        '4789',
        'nolearning',
      ],
      'create vxlan',
    );
    await must(
      hv,
      ['ip', 'link', 'set', `vxlan${vni}`, 'master', bridge, 'addrgenmode', 'none'],
      'enslave vxlan',
    );
    await must(hv, ['ip', 'link', 'set', `vxlan${vni}`, 'up'], 'vxlan up');
    await must(hv, ['ip', 'link', 'set', bridge, 'up'], 'bridge up');
  }

  private async configureHost(vm: Vm, ctx: DriverContext): Promise<void> {
    const idx = new IntentIndex(ctx.intent);
    const subnet = idx.subnetOf(vm);
    const host = ctx.lab.node(vm.node ?? vm.name);
    const { len } = parseCidr(subnet.cidr);
    if (vm.mac) {
      const links = JSON.parse(
        await must(host, ['ip', '-j', 'link', 'show', vm.iface], 'read link'),
      ) as Array<{ address?: string }>;
      if (links[0]?.address?.toLowerCase() !== vm.mac.toLowerCase()) {
        await must(host, ['ip', 'link', 'set', vm.iface, 'address', vm.mac], 'set MAC');
      }
    }
    await must(host, ['ip', 'addr', 'replace', `${vm.ip}/${len}`, 'dev', vm.iface], 'address the VM');
    await must(host, ['ip', 'link', 'set', vm.iface, 'up'], 'VM link up');
    if (subnet.gateway) {
      await host.exec(['ip', 'route', 'replace', 'default', 'via', subnet.gateway]);
    }
  }

  private async plug(vm: Vm, ctx: DriverContext): Promise<void> {
    const hv = ctx.lab.node(vm.hypervisor);
    const vni = new IntentIndex(ctx.intent).subnetOf(vm).vni;
    await this.ensureVni(hv, vni);
    await must(
      hv,
      ['ip', 'link', 'set', vm.port!, 'master', this.bridgeOf(ctx.intent, vm)],
      'plug the VM port',
    );
    await must(hv, ['ip', 'link', 'set', vm.port!, 'up'], 'VM port up');
  }

  private async unplug(vm: Vm, ctx: DriverContext): Promise<void> {
    const hv = ctx.lab.node(vm.hypervisor);
    await must(hv, ['ip', 'link', 'set', vm.port!, 'down'], 'VM port down');
    // Forget what the leaf learnt on that port at once (port down flushes the fdb; the neighbour
    // entry of the VM's IP would keep a MAC/IP route alive until it ages out).
    const bridge = this.bridgeOf(ctx.intent, vm);
    await hv.exec(['ip', 'neigh', 'del', vm.ip, 'dev', bridge]);
  }

  /**
   * Makes the leaf learn the VM's MAC/IP now, as a booting VM's traffic would: the leaf resolves the
   * VM from its bridge address, so the neighbour entry is REACHABLE at once (a MAC/IP route follows)
   * rather than STALE from a snooped ARP request (no MAC/IP route until the kernel confirms it).
   */
  private async announce(vm: Vm, ctx: DriverContext): Promise<void> {
    const hv = ctx.lab.node(vm.hypervisor);
    const bridge = this.bridgeOf(ctx.intent, vm);
    const r = await hv.exec(['ping', '-c', '1', '-W', '1', '-I', bridge, vm.ip], { timeoutMs: 5_000 });
    if (r.exitCode !== 0) ctx.log(`${hv.name}: ${vm.name} did not answer a ping from ${bridge} yet`);
  }

  async provision(change: IntentChange, ctx: DriverContext): Promise<void> {
    const idx = new IntentIndex(ctx.intent);
    if (change.move.length > 0 || change.setGroups.length > 0) {
      throw new HarnessError('the frr-evpn driver cannot move VMs or set security groups');
    }
    if (change.apply) {
      for (const vm of ctx.intent.vms) {
        if (vm.attached) {
          await this.configureHost(vm, ctx);
          await this.plug(vm, ctx);
        } else {
          await this.unplug(vm, ctx);
        }
      }
      for (const vm of ctx.intent.vms) if (vm.attached) await this.announce(vm, ctx);
    }
    for (const name of change.detach) await this.unplug(idx.vm(name), ctx);
    for (const name of change.attach) {
      const vm = idx.vm(name);
      await this.configureHost(vm, ctx);
      await this.plug(vm, ctx);
      await this.announce(vm, ctx);
    }
  }

  async teardown(ctx: DriverContext): Promise<void> {
    // Leave every VM plugged, as the lab file wires them.
    for (const vm of ctx.intent.vms) {
      if (!vm.port) continue;
      try {
        await this.plug(vm, ctx);
      } catch (err) {
        ctx.log(`teardown: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }

  locate(vm: Vm, ctx: DriverContext): EndpointLocation {
    return { node: ctx.lab.node(vm.node ?? vm.name), iface: vm.iface, ip: vm.ip, mac: vm.mac };
  }

  async processes(role: string, node: LabNode): Promise<number[]> {
    return nodeProcesses(node)
      .filter((p) => p.comm === role)
      .map((p) => p.pid);
  }

  async supervisors(role: string, node: LabNode): Promise<number[]> {
    if (role === 'watchfrr') return [];
    return nodeProcesses(node)
      .filter((p) => p.comm === 'watchfrr')
      .map((p) => p.pid);
  }

  async startProcess(role: string, node: LabNode): Promise<void> {
    await must(node, [FRR_DAEMON_SCRIPT, 'start', role], `start ${role}`);
  }

  async startNode(node: LabNode): Promise<void> {
    if (/frr/.test(node.image)) await must(node, [FRR_INIT, 'start'], 'start FRR');
  }

  async vtepAddress(node: LabNode): Promise<string | undefined> {
    const r = await node.exec(['ip', '-j', '-d', 'link', 'show', 'type', 'vxlan']);
    if (r.exitCode !== 0 || !r.stdout.trim()) return undefined;
    const links = JSON.parse(r.stdout) as Array<{ linkinfo?: { info_data?: { local?: string } } }>;
    return links.find((l) => l.linkinfo?.info_data?.local)?.linkinfo?.info_data?.local;
  }

  /** A leaf's bridges and VXLAN devices live in its own namespace (zebra programs them from EVPN). */
  async forwardingEntries(node: LabNode): Promise<ForwardingEntry[]> {
    const r = await node.exec(['sh', '-c', forwardingTableScript([''])], { timeoutMs: 15_000 });
    if (r.exitCode !== 0)
      throw new HarnessError(
        `${node.name}: reading the forwarding table failed: ${(r.stderr || r.stdout).trim().slice(0, 300)}`,
      );
    return parseForwardingTables(r.stdout).get('') ?? [];
  }

  async logs(node: LabNode): Promise<Array<{ name: string; content: string }>> {
    if (!/frr/.test(node.image)) return [];
    const out: Array<{ name: string; content: string }> = [];
    const log = await node.exec(['tail', '-n', '300', '/var/log/frr/frr.log']);
    if (log.exitCode === 0) out.push({ name: `${node.name} frr.log (last 300 lines)`, content: log.stdout });
    const summary = await node.exec(['vtysh', '-c', 'show bgp l2vpn evpn summary']);
    if (summary.exitCode === 0)
      out.push({ name: `${node.name} show bgp l2vpn evpn summary`, content: summary.stdout });
    return out;
  }
}

/** The driver module's factory (package.json `otwin.drivers`, ./index.ts). */
export function createDriver(): ImplementationDriver {
  return new FrrEvpnDriver();
}
