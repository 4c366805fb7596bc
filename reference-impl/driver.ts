/**
 * Scenario-engine driver for the reference implementation: applies intent through the directory API
 * (tenants, domains, subnets, vports; zones and hypervisors from the intent's zones or one zone), and
 * locates VMs, which the agents create as namespaces inside their hypervisor node. Register with
 * `registerDriver('reference', async () => new ReferenceDriver())` (harness/scenario/drivers/index.ts).
 *
 * Lab conventions (labs/reference-2az.clab.yml): the directory node is `directory` with its API
 * socket at `<labDir>/directory/api.sock` and token `otf-lab-token`; agents use the namespace prefix
 * `otf-<lab name without the otf- prefix>-`; role processes run `reference-impl/bin/<role>.ts`.
 */
import { readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { DeployedLab, LabNode } from '../harness/runtime/runtime.ts';
import type {
  Capability,
  DriverContext,
  EndpointLocation,
  ImplementationDriver,
  IntentChange,
} from '../harness/scenario/drivers/driver.ts';
import { type Intent, IntentIndex, type Vm } from '../harness/scenario/intent.ts';
import type { Scenario } from '../harness/scenario/types.ts';
import { HarnessError } from '../harness/util/errors.ts';
import { DirectoryApiError, DirectoryClient } from './directory/client.ts';
import { formatIPv4, parseCidr4 } from './protocol/addr.ts';

const ROLES: Record<string, string> = {
  agent: 'reference-impl/bin/agent.ts',
  controller: 'reference-impl/bin/controller.ts',
  directory: 'reference-impl/bin/directory.ts',
};

const slug = (s: string) =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9._-]/g, '-')
    .replace(/^[^a-z0-9]+/, '')
    .slice(0, 63) || 'x';

export function nsPrefixFor(labName: string): string {
  return `otf-${labName.replace(/^otf-/, '')}-`;
}

export class ReferenceDriver implements ImplementationDriver {
  readonly name = 'reference';
  readonly capabilities: ReadonlySet<Capability> = new Set<Capability>(['l2', 'routing', 'vm-move', 'zones']);
  private client: DirectoryClient | undefined;
  /** Host PIDs of the holder processes that pin each VM namespace (for netnsPath). */
  private readonly holders = new Map<string, number>();

  validate(_scenario: Scenario): string[] {
    return [];
  }

  private directory(lab: DeployedLab): DirectoryClient {
    if (!this.client) {
      this.client = new DirectoryClient({
        url: `unix:${join(lab.topology.labDir, 'directory', 'api.sock')}`,
        token: process.env.OTF_DIRECTORY_TOKEN ?? 'otf-lab-token',
      });
    }
    return this.client;
  }

  private async upsert(
    client: DirectoryClient,
    collection: Parameters<DirectoryClient['create']>[0],
    body: Record<string, unknown> & { id: string },
  ): Promise<void> {
    try {
      await client.create(collection, body);
    } catch (err) {
      if (!(err instanceof DirectoryApiError && err.status === 409 && err.code === 'conflict')) throw err;
    }
  }

  private lab: DeployedLab | undefined;

  async provision(change: IntentChange, ctx: DriverContext): Promise<void> {
    this.lab = ctx.lab;
    const client = this.directory(ctx.lab);
    const intent = ctx.intent;
    const index = new IntentIndex(intent);
    const hvZone = new Map<string, string>();
    for (const z of intent.zones) for (const hv of z.hypervisors) hvZone.set(hv, slug(z.name));
    const zones = new Set(hvZone.values());
    if (!zones.size) zones.add('z1');
    for (const z of zones) await this.upsert(client, 'zones', { id: z, name: z });
    const hypervisors = new Set(intent.vms.map((v) => v.hypervisor));
    for (const hv of hypervisors) {
      const vtep = await this.vtepAddress(ctx.lab.node(hv));
      if (!vtep) throw new HarnessError(`${hv}: no underlay address on eth1 (the hypervisor's VTEP)`);
      await this.upsert(client, 'hypervisors', {
        id: slug(hv),
        name: hv,
        zone: hvZone.get(hv) ?? [...zones][0],
        vtep,
      });
    }
    for (const t of intent.tenants) await this.upsert(client, 'tenants', { id: slug(t.name), name: t.name });
    for (const d of intent.domains)
      await this.upsert(client, 'domains', {
        id: slug(`${d.tenant}.${d.name}`),
        tenant: slug(d.tenant),
        name: d.name,
      });
    for (const s of intent.subnets) {
      const domain = intent.domains.find((d) => d.name === s.domain);
      const cidr = parseCidr4(s.cidr);
      if (!cidr) throw new HarnessError(`subnet ${s.name}: ${s.cidr} is not an IPv4 prefix`);
      const gateway = s.gateway ?? formatIPv4(cidr.network + 1);
      await this.upsert(client, 'subnets', {
        id: slug(s.name),
        domain: slug(`${domain?.tenant ?? ''}.${s.domain}`),
        name: s.name,
        vni: s.vni,
        prefix: s.cidr,
        gateway,
        ...(s.routeTarget ? { routeTarget: s.routeTarget } : {}),
      });
    }
    const wanted = change.apply ? intent.vms.filter((v) => v.attached).map((v) => v.name) : change.attach;
    for (const name of wanted) {
      const vm = intent.vms.find((v) => v.name === name);
      if (!vm) continue;
      const mac = vm.mac ?? this.macFor(vm.name);
      await this.upsert(client, 'vports', {
        id: slug(vm.name),
        subnet: slug(index.subnetOf(vm).name),
        hypervisor: slug(vm.hypervisor),
        name: vm.name,
        mac,
        ip: vm.ip,
      });
    }
    for (const name of change.detach) {
      await client.delete('vports', slug(name)).catch((err) => {
        if (!(err instanceof DirectoryApiError && err.status === 404)) throw err;
      });
    }
    for (const m of change.move) await client.patch('vports', slug(m.vm), { hypervisor: slug(m.to) });
    // Pin every attached VM's namespace with a holder process so the traffic engine can setns into it.
    for (const vm of intent.vms.filter((v) => v.attached)) await this.pin(ctx.lab, vm);
  }

  private macFor(name: string): string {
    let h = 0;
    for (const c of name) h = (h * 31 + c.charCodeAt(0)) >>> 0;
    return `02:00:${[h >>> 24, (h >>> 16) & 255, (h >>> 8) & 255, h & 255].map((b) => b.toString(16).padStart(2, '0')).join(':')}`;
  }

  private vmNs(lab: DeployedLab, vm: Vm): string {
    return `${nsPrefixFor(lab.topology.name)}${slug(vm.hypervisor)}-vm-${slug(vm.name)}`;
  }

  /** Starts `sleep` inside the VM namespace (inside the hypervisor node) and finds its host PID. */
  private async pin(lab: DeployedLab, vm: Vm): Promise<void> {
    const key = `${vm.hypervisor}/${vm.name}`;
    if (this.holders.has(key)) return;
    const node = lab.node(vm.hypervisor);
    const ns = this.vmNs(lab, vm);
    for (let i = 0; i < 100; i++) {
      const inode = await node.exec(['stat', '-L', '-c', '%i', `/run/netns/${ns}`]);
      if (inode.exitCode === 0) {
        await node.exec([
          'sh',
          '-c',
          `ip netns exec ${ns} setsid sleep infinity </dev/null >/dev/null 2>&1 &`,
        ]);
        const want = `net:[${inode.stdout.trim()}]`;
        for (let j = 0; j < 50; j++) {
          for (const entry of readdirSync('/proc')) {
            if (!/^\d+$/.test(entry)) continue;
            try {
              if (readlinkSync(`/proc/${entry}/ns/net`) === want) {
                this.holders.set(key, Number(entry));
                return;
              }
            } catch {}
          }
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new HarnessError(`VM ${vm.name}: namespace ${ns} did not appear on ${vm.hypervisor} within 10 s`);
  }

  async teardown(ctx: DriverContext): Promise<void> {
    const client = this.directory(ctx.lab);
    for (const vm of ctx.intent.vms) await client.delete('vports', slug(vm.name)).catch(() => {});
    for (const pid of this.holders.values()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
    }
    this.holders.clear();
  }

  locate(vm: Vm, ctx: DriverContext): EndpointLocation {
    const hv = ctx.lab.node(vm.hypervisor);
    const ns = this.vmNs(ctx.lab, vm);
    const pid = this.holders.get(`${vm.hypervisor}/${vm.name}`);
    const node: LabNode = {
      name: `${vm.hypervisor}/${vm.name}`,
      kind: 'vm',
      image: 'reference-vm',
      netnsPath: pid ? `/proc/${pid}/ns/net` : hv.netnsPath,
      netnsName: undefined,
      pid: pid ?? hv.pid,
      mgmtIPv4: undefined,
      mgmtIPv6: undefined,
      exec: (argv, options) => hv.exec(['ip', 'netns', 'exec', ns, ...argv], options),
    };
    return { node, iface: 'eth0', ip: vm.ip, mac: vm.mac ?? this.macFor(vm.name) };
  }

  async processes(role: string, node: LabNode): Promise<number[]> {
    const script = ROLES[role];
    if (!script) return [];
    const r = await node.exec([
      'sh',
      '-c',
      `for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline 2>/dev/null | grep -q 'node --import tsx ${script}' && echo \${p#/proc/}; done`,
    ]);
    return r.stdout
      .split('\n')
      .map(Number)
      .filter((p) => p > 1);
  }

  async supervisors(): Promise<number[]> {
    return [];
  }

  async startProcess(_role: string, node: LabNode): Promise<void> {
    await this.startNode(node);
  }

  async startNode(node: LabNode): Promise<void> {
    // The node's `cmd:` is its role: start it again the way the runtime did (log in the lab directory).
    const topo = this.lab?.topology;
    const cmd = topo?.nodes.find((n) => n.name === node.name)?.cmd;
    if (!topo || !cmd)
      throw new HarnessError(`${node.name}: no cmd: to restart (provision through this driver first)`);
    const log = `/srv/labs/clab-${topo.name}/${node.name}/cmd.log`;
    const quoted = `'${cmd.replace(/'/g, `'\\''`)}'`;
    const r = await node.exec(['sh', '-c', `setsid sh -c ${quoted} </dev/null >>${log} 2>&1 &`]);
    if (r.exitCode !== 0) throw new HarnessError(`${node.name}: cannot restart its role: ${r.stderr.trim()}`);
  }

  async vtepAddress(node: LabNode): Promise<string | undefined> {
    const r = await node.exec(['ip', '-j', '-4', 'addr', 'show', 'dev', 'eth1']);
    if (r.exitCode !== 0) return undefined;
    const links = JSON.parse(r.stdout || '[]') as Array<{ addr_info?: Array<{ local: string }> }>;
    return links[0]?.addr_info?.[0]?.local;
  }

  async logs(node: LabNode): Promise<Array<{ name: string; content: string }>> {
    const r = await node.exec(['sh', '-c', `tail -n 200 /srv/labs/clab-*/${node.name}/cmd.log 2>/dev/null`]);
    return r.stdout ? [{ name: `${node.name}-cmd.log`, content: r.stdout }] : [];
  }
}

export type { Intent };
