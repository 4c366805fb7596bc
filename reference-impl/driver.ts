/**
 * Scenario-engine driver for the reference implementation: applies intent through the directory API
 * (tenants, domains, subnets, vports; zones and hypervisors from the intent's zones or one zone), and
 * locates VMs, which the agents create as namespaces inside their hypervisor node. Listed as `reference`
 * in package.json `otwin.drivers`, which the harness loads by name (harness/scenario/drivers/index.ts).
 *
 * Lab conventions are read from the topology (labs/default.clab.yml, labs/reference-2az.clab.yml):
 * the directory node's `cmd:` gives its API socket (`--socket`, relative to the repository) and token
 * file (`--token-file`, read when first needed: the lab creates it); each agent's `cmd:` gives its zone (`--zone`) and namespace prefix (`--prefix`);
 * role processes run `reference-impl/bin/<role>.ts`. Without those flags the old defaults apply
 * (`<labDir>/directory/api.sock`, `otf-lab-token`, prefix `otf-<lab name>-`, zone from the intent).
 */
import { closeSync, existsSync, openSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import {
  addEvpnBinding,
  addEvpnRouting,
  type EvpnGatewayFdb,
  gatewayNode,
  gatewayProfileOf,
  readEvpnFdb,
  removeEvpnBinding,
  removeEvpnRouting,
} from '../harness/gateway/evpn-gateway.ts';
import { ovsdbTcpPort, ovsRunDir, readVtepTables, type VtepTables } from '../harness/gateway/vtep-db.ts';
import {
  type ForwardingEntry,
  forwardingTableScript,
  NETNS_NAME,
  parseForwardingTables,
} from '../harness/kernel/fdb.ts';
import { nodeProcesses } from '../harness/kernel/procs.ts';
import { nestedIn } from '../harness/runtime/nested.ts';
import type { DeployedLab, LabNode } from '../harness/runtime/runtime.ts';
import type {
  Capability,
  DriverContext,
  EndpointLocation,
  ImplementationAlarm,
  ImplementationDriver,
  IntentChange,
} from '../harness/scenario/drivers/driver.ts';
import { type Gateway, type Intent, IntentIndex, type Vm } from '../harness/scenario/intent.ts';
import type { Scenario } from '../harness/scenario/types.ts';
import type { Topology } from '../harness/topology/types.ts';
import { otwinEnv } from '../harness/util/env.ts';
import { HarnessError } from '../harness/util/errors.ts';
import { pollUntil } from '../harness/util/poll.ts';
import { shq } from '../harness/util/shell.ts';
import { DirectoryApiError, DirectoryClient, labTokenReader } from './directory/client.ts';
import { redirectionObjects } from './driver-chains.ts';
import {
  type BulkMembers,
  bulkHypervisor,
  bulkMemberVports,
  domainIdOf,
  groupIds,
  readSecurityDatapath,
  type SecurityDatapathCounts,
  securityObjects,
  slug,
} from './driver-security.ts';
import { formatIPv4, maskOf, parseCidr4 } from './protocol/addr.ts';

const ROLES: Record<string, string> = {
  agent: 'reference-impl/bin/agent.ts',
  controller: 'reference-impl/bin/controller.ts',
  directory: 'reference-impl/bin/directory.ts',
};

export function nsPrefixFor(labName: string): string {
  return `otf-${labName.replace(/^otf-/, '')}-`;
}

const REPO_ROOT = resolve(import.meta.dirname, '..');
/** Bulk members per directory batch: one commit each, and an answer well inside the client's timeout under load. */
const BULK_BATCH = 500;
/** `xs` in consecutive parts of at most `size`. */
const chunked = <T>(xs: readonly T[], size: number): T[][] =>
  Array.from({ length: Math.ceil(xs.length / size) }, (_, i) => xs.slice(i * size, (i + 1) * size));
/** Deletes vports BULK_BATCH per directory batch (bulk members: at provisioning and at teardown). */
async function deleteVportsInBatches(
  client: DirectoryClient,
  vports: ReadonlyArray<{ id: string }>,
): Promise<void> {
  for (const part of chunked(vports, BULK_BATCH))
    await client.batch(part.map((v) => ({ op: 'delete', collection: 'vports', id: v.id })));
}

/** The value of `--flag value` in a node's `cmd:`. */
function flagOf(cmd: string | undefined, flag: string): string | undefined {
  const m = cmd ? new RegExp(`(?:^|\\s)--${flag}[ =](\\S+)`).exec(cmd) : null;
  return m?.[1];
}

/** What the driver needs to know about a lab, read from the roles' command lines. */
export interface LabConventions {
  socket: string;
  token: string | (() => string);
  /** The directory's `--token-file` (absolute), when its command line names one. */
  tokenFile: string | undefined;
  /** Per hypervisor node: the agent's zone and namespace prefix. */
  agents: Map<string, { zone: string | undefined; prefix: string }>;
}

export function labConventions(topology: Topology): LabConventions {
  const dir = topology.nodes.find((n) => n.cmd?.includes(ROLES.directory!));
  const socketFlag = flagOf(dir?.cmd, 'socket');
  const socket = socketFlag
    ? isAbsolute(socketFlag)
      ? socketFlag
      : resolve(REPO_ROOT, socketFlag)
    : join(topology.labDir, 'directory', 'api.sock');
  const tokenFlag = flagOf(dir?.cmd, 'token-file');
  const tokenFile = tokenFlag ? resolve(REPO_ROOT, tokenFlag) : undefined;
  const token =
    otwinEnv('DIRECTORY_TOKEN') ?? (tokenFile ? labTokenReader(tokenFile) : undefined) ?? 'otf-lab-token';
  const agents = new Map<string, { zone: string | undefined; prefix: string }>();
  for (const n of topology.nodes) {
    if (!n.cmd?.includes(ROLES.agent!)) continue;
    agents.set(n.name, {
      zone: flagOf(n.cmd, 'zone'),
      prefix: flagOf(n.cmd, 'prefix') ?? nsPrefixFor(topology.name),
    });
  }
  return { socket, token, tokenFile, agents };
}

/** Directory objects a scenario creates and its teardown removes (innermost last). */
const CREATED_COLLECTIONS = [
  'tenants',
  'domains',
  'subnets',
  'securityGroups',
  'securityRules',
  'gateways',
  'gatewayBindings',
] as const;
type CreatedCollection = (typeof CREATED_COLLECTIONS)[number];

/** The directory id of a floating IP. */
const floatingIpId = (ip: string) => `fip-${ip.replace(/\./g, '-')}`;

/** Labs whose stale namespace files this process has already removed (see sweepStale). */
const swept = new Set<string>();

export class ReferenceDriver implements ImplementationDriver {
  readonly name: string = 'reference';
  readonly capabilities: ReadonlySet<Capability> = new Set<Capability>([
    'l2',
    'routing',
    'vm-move',
    'zones',
    'security-groups',
    'floating-ips',
    'pnat',
    'service-chains',
    'l3vni',
  ]);
  /** How the hypervisors enforce security rules (the directory's hypervisor `securityMode`). */
  protected readonly securityMode: 'stateful' | 'stateless' = 'stateful';
  private client: DirectoryClient | undefined;
  /**
   * VMs (`hypervisor/name`) whose namespace has been seen mounted since they were last provisioned,
   * with this process's descriptor of it where the node runs here. The open descriptor pins that
   * namespace as a holder process did, without a process: a namespace the implementation deletes
   * stays enterable, so a probe from a VM the implementation broke fails instead of finding nothing.
   */
  private readonly pinned = new Map<string, number | undefined>();

  validate(_scenario: Scenario): string[] {
    return [];
  }

  private conventions: LabConventions | undefined;

  private labInfo(lab: DeployedLab): LabConventions {
    this.conventions ??= labConventions(lab.topology);
    return this.conventions;
  }

  private directory(lab: DeployedLab): DirectoryClient {
    if (!this.client) {
      const { socket, token } = this.labInfo(lab);
      this.client = new DirectoryClient({ url: `unix:${socket}`, token });
    }
    return this.client;
  }

  /** Objects this scenario created, so teardown removes them (the next scenario may reuse names). */
  private readonly created: Array<{ collection: CreatedCollection; id: string }> = [];

  private async upsert(
    client: DirectoryClient,
    collection: Parameters<DirectoryClient['create']>[0],
    body: Record<string, unknown> & { id: string },
  ): Promise<void> {
    const created = await createOrConfirm(client, collection, body);
    if (created && (CREATED_COLLECTIONS as readonly string[]).includes(collection))
      this.created.push({ collection: collection as CreatedCollection, id: body.id });
  }

  private lab: DeployedLab | undefined;

  async provision(change: IntentChange, ctx: DriverContext): Promise<void> {
    this.lab = ctx.lab;
    // Pins still in flight from the previous change belong to the intent before this one.
    await this.pinning.catch(() => undefined);
    const client = this.directory(ctx.lab);
    await this.sweepStale(ctx);
    const intent = ctx.intent;
    // A membership change (setGroups only) needs one PATCH per VM: re-confirming every zone,
    // hypervisor, subnet, group and rule first (some 30 requests and a process per hypervisor) is
    // not the implementation's time, yet it delayed the PATCH that starts it.
    if (!isMembershipOnly(change)) await this.provisionObjects(client, change, ctx);
    const groupId = groupIds(intent);
    const groupsOf = (vm: Vm) => vm.groups.map((g) => groupId.get(g) ?? slug(g));
    for (const { vm: name } of change.setGroups) {
      const vm = intent.vms.find((v) => v.name === name);
      if (vm?.attached) await client.patch('vports', slug(vm.name), { securityGroups: groupsOf(vm) });
    }
    // The directory has accepted the change: budgets count from here. Pinning the VMs for the traffic
    // engine below waits for the implementation, and that wait is the implementation's time.
    ctx.accepted();
    // Forget namespaces that are going away (detached, or moved off a hypervisor): a later re-attach
    // waits for its new namespace afresh.
    for (const key of [...this.pinned.keys()]) {
      const [hv, name] = key.split('/') as [string, string];
      const vm = intent.vms.find((v) => v.name === name);
      if (!vm?.attached || vm.hypervisor !== hv) this.release(key);
    }
    // Wait for every attached VM's namespace so the traffic engine can setns into it. In the
    // background: waiting for the agent to create a namespace is the implementation's time, so it runs
    // inside the budget of the traffic check that needs the VM (ready()), and a BGP or table
    // expectation does not wait for it at all.
    const lab = ctx.lab;
    const pinning = Promise.all(
      intent.vms
        .filter((v) => v.attached)
        .map((vm) => this.pin(lab, vm).then(() => this.guestRoutes(lab, vm, intent))),
    );
    this.pinning = pinning.then(() => undefined);
    this.pinning.catch(() => undefined);
  }

  /** Every directory object of the intent, created or confirmed; attaches, detaches and moves. */
  private async provisionObjects(
    client: DirectoryClient,
    change: IntentChange,
    ctx: DriverContext,
  ): Promise<void> {
    const intent = ctx.intent;
    const index = new IntentIndex(intent);
    const hvZone = new Map<string, string>();
    for (const z of intent.zones) for (const hv of z.hypervisors) hvZone.set(hv, slug(z.name));
    // The agent's own --zone wins: it only listens to its zone's controllers.
    for (const [hv, agent] of this.labInfo(ctx.lab).agents) if (agent.zone) hvZone.set(hv, agent.zone);
    const zones = new Set(hvZone.values());
    if (!zones.size) zones.add('z1');
    for (const z of zones) await this.upsert(client, 'zones', { id: z, name: z });
    const hypervisors = new Set(intent.vms.map((v) => v.hypervisor));
    for (const hv of hypervisors) {
      const vtep = await this.vtepAddress(ctx.lab.node(hv));
      if (!vtep) throw new HarnessError(`${hv}: no underlay address on eth1 (the hypervisor's VTEP)`);
      await this.upsertHypervisor(client, {
        id: slug(hv),
        name: hv,
        zone: hvZone.get(hv) ?? [...zones][0],
        vtep,
        securityMode: this.securityMode,
      });
    }
    for (const t of intent.tenants) await this.upsert(client, 'tenants', { id: slug(t.name), name: t.name });
    for (const d of intent.domains)
      await this.upsert(client, 'domains', {
        id: domainIdOf(d.tenant, d.name),
        tenant: slug(d.tenant),
        name: d.name,
        outboundNat: d.pnat ? 'pnat' : 'none',
        ...(d.vni !== undefined ? { l3Vni: d.vni } : {}),
        ...(d.routeTarget ? { routeTarget: d.routeTarget } : {}),
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
    await this.provisionGateways(client, ctx);
    const security = securityObjects(intent);
    for (const g of security.groups) await this.upsert(client, 'securityGroups', { ...g });
    for (const r of security.rules) await this.upsert(client, 'securityRules', { ...r });
    const groupId = groupIds(intent);
    const groupsOf = (vm: Vm) => vm.groups.map((g) => groupId.get(g) ?? slug(g));
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
        securityGroups: groupsOf(vm),
      });
    }
    // Floating IPs after the vports they map to; a detached VM's floating IP is unassigned first.
    await this.syncFloatingIps(client, intent, change);
    await this.syncRedirections(client, intent, change);
    for (const name of change.detach) {
      await client.delete('vports', slug(name)).catch((err) => {
        if (!(err instanceof DirectoryApiError && err.status === 404)) throw err;
      });
    }
    for (const m of change.move) await client.patch('vports', slug(m.vm), { hypervisor: slug(m.to) });
  }

  /**
   * The intent's hardware gateways and their port + VLAN bindings (docs/gateways.md): the gateway is
   * managed by its zone's controllers over OVSDB at the intent's target or the node's `otwin.ovsdb`
   * label; the binding's subnet VNI becomes the logical switch's tunnel key.
   */
  private async provisionGateways(client: DirectoryClient, ctx: DriverContext): Promise<void> {
    for (const g of ctx.intent.gateways) {
      if (gatewayProfileOf(ctx.lab.topology, g.name) === 'evpn') {
        await this.provisionEvpnGateway(g, ctx);
        continue;
      }
      if (g.routing)
        throw new HarnessError(
          `gateway ${g.name}: routing (an L3 gateway, GW-8) needs the evpn profile; the OVSDB hardware VTEP emulator (ovs-vtep) has no L3`,
        );
      const ovsdb = g.ovsdb ?? this.ovsdbTarget(ctx.lab, g.name);
      if (!ovsdb)
        throw new HarnessError(
          `gateway ${g.name}: no OVSDB target (give intent.gateways[].ovsdb or the node label otwin.ovsdb)`,
        );
      await this.upsert(client, 'gateways', {
        id: slug(g.name),
        name: g.name,
        zone: slug(g.zone ?? ctx.intent.zones[0]?.name ?? 'z1'),
        ovsdb,
      });
      for (const b of g.bindings)
        await this.upsert(client, 'gatewayBindings', {
          id: slug(`${g.name}-${b.port}-${b.vlan}`),
          gateway: slug(g.name),
          port: b.port,
          vlan: b.vlan,
          subnet: slug(b.subnet),
        });
    }
  }

  /**
   * An EVPN gateway is its operator's to configure, not the controller's: the driver creates the bound
   * VNIs' devices on it (FRR's advertise-all-vni does the rest) and removes them at teardown.
   */
  private async provisionEvpnGateway(g: Gateway, ctx: DriverContext): Promise<void> {
    const idx = new IntentIndex(ctx.intent);
    const node = gatewayNode(ctx.lab, g.name);
    for (const b of g.bindings) {
      if (b.vlan !== 0)
        throw new HarnessError(
          `gateway ${g.name}: binding ${b.port} VLAN ${b.vlan}: the EVPN gateway binds whole ports (VLAN 0) only`,
        );
      const vni = idx.subnets.get(b.subnet)?.vni;
      if (vni === undefined)
        throw new HarnessError(`gateway ${g.name}: binding to unknown subnet ${b.subnet}`);
      await addEvpnBinding(node, g.tunnelIp, { vni, port: b.port });
      this.evpnBindings.add(`${g.name}/${vni}`);
    }
    if (!g.routing) return;
    // GW-8: a routed VNI needs no port, only its devices (FRR announces it like a bound one).
    const svis: Array<{ vni: number; address: string }> = [];
    for (const itf of g.routing.interfaces) {
      const subnet = idx.subnets.get(itf.subnet);
      const cidr = subnet && parseCidr4(subnet.cidr);
      if (!subnet || !cidr)
        throw new HarnessError(`gateway ${g.name}: routing to unknown subnet ${itf.subnet}`);
      await addEvpnBinding(node, g.tunnelIp, { vni: subnet.vni });
      this.evpnBindings.add(`${g.name}/${subnet.vni}`);
      svis.push({ vni: subnet.vni, address: `${itf.address}/${cidr.length}` });
    }
    await addEvpnRouting(node, svis, g.routing.outside);
    this.evpnRouting.set(g.name, g.routing.outside);
  }

  /**
   * GW-8: the guest side of an L3 gateway. A VM of a subnet the gateway routes gets a host route to the
   * outside prefix via the gateway's address in its subnet, as a cloud's DHCP (option 121, Neutron's
   * subnet host_routes) hands it to the guest: the VM's own configuration, not the implementation's.
   * Polled: the agent addresses eth0 after it creates the namespace.
   */
  private async guestRoutes(lab: DeployedLab, vm: Vm, intent: Intent): Promise<void> {
    const routes = intent.gateways.flatMap((g) => {
      const itf = g.routing?.interfaces.find((i) => i.subnet === vm.subnet);
      const cidr = g.routing && parseCidr4(g.routing.outside.address);
      if (!itf || !cidr) return [];
      return [
        {
          prefix: `${formatIPv4((cidr.network & maskOf(cidr.length)) >>> 0)}/${cidr.length}`,
          via: itf.address,
        },
      ];
    });
    if (routes.length === 0) return;
    const node = lab.node(vm.hypervisor);
    const ns = this.vmNs(lab, vm);
    for (const r of routes) {
      const argv = ['ip', '-n', ns, 'route', 'replace', r.prefix, 'via', r.via, 'dev', 'eth0'];
      const done = await pollUntil(
        () => node.exec(argv),
        (x) => x.exitCode === 0,
        { timeoutMs: 30_000, intervalMs: 50, what: `VM ${vm.name}: route ${r.prefix} via ${r.via}` },
      );
      if (!done.ok)
        throw new HarnessError(
          `VM ${vm.name}: ip route replace ${r.prefix} via ${r.via} in ${ns} failed for 30 s: ${done.value?.stderr.trim() ?? ''}`,
        );
    }
  }

  /** The EVPN gateway's forwarding table for its bound VNIs (harness/gateway/evpn-gateway.ts). */
  async gatewayFdb(gateway: Gateway, ctx: DriverContext): Promise<EvpnGatewayFdb> {
    const idx = new IntentIndex(ctx.intent);
    const vnis = idx.gatewaySubnets(gateway).flatMap((subnet) => idx.subnets.get(subnet)?.vni ?? []);
    return readEvpnFdb(gatewayNode(ctx.lab, gateway.name), vnis);
  }

  private ovsdbTarget(lab: DeployedLab, node: string): string | undefined {
    return lab.topology.nodes.find((n) => n.name === node)?.labels['otwin.ovsdb'];
  }

  /** The gateway node's hardware_vtep DB, read in the node (harness/gateway/vtep-db.ts). */
  async gatewayTables(gateway: Gateway, ctx: DriverContext): Promise<VtepTables> {
    const target = gateway.ovsdb ?? this.ovsdbTarget(ctx.lab, gateway.name) ?? '';
    const port = ovsdbTcpPort(target);
    if (port === undefined)
      throw new HarnessError(`gateway ${gateway.name}: OVSDB target '${target}' is not tcp:HOST:PORT`);
    const env = ctx.lab.topology.nodes.find((n) => n.name === gateway.name)?.env;
    return readVtepTables(ctx.lab.node(gateway.name), ovsRunDir(env), port);
  }

  /** The directory's floating IPs follow the intent: mapped to their VM while it is attached, else to none. */
  private async syncFloatingIps(
    client: DirectoryClient,
    intent: Intent,
    change: IntentChange,
  ): Promise<void> {
    const detached = new Set(change.detach);
    const wanted = new Map<string, string | null>();
    for (const f of change.setFloatingIps ?? []) wanted.set(f.ip, null);
    for (const f of intent.floatingIps) {
      const vm = intent.vms.find((v) => v.name === f.vm);
      wanted.set(f.ip, vm?.attached && !detached.has(vm.name) ? slug(vm.name) : null);
    }
    for (const [ip, vport] of wanted) {
      const fip = intent.floatingIps.find((f) => f.ip === ip);
      const vm = intent.vms.find((v) => v.name === fip?.vm);
      const tenant = vm ? new IntentIndex(intent).domainOf(vm).tenant : undefined;
      const id = floatingIpId(ip);
      const existing = await client.get('floatingIps', id).catch((err) => {
        if (err instanceof DirectoryApiError && err.status === 404) return undefined;
        throw err;
      });
      this.floating.add(id);
      if (!existing) {
        if (tenant) await client.create('floatingIps', { id, tenant: slug(tenant), address: ip, vport });
      } else if (existing.vport !== vport) {
        // A floating IP moving to another tenant's VM is a new object; within a tenant it is one PATCH.
        if (tenant && existing.tenant !== slug(tenant)) {
          await client.delete('floatingIps', id);
          await client.create('floatingIps', { id, tenant: slug(tenant), address: ip, vport });
        } else await client.patch('floatingIps', id, { vport });
      }
    }
  }

  /**
   * The directory's redirection targets follow the intent's service chains (docs/service-chaining.md):
   * created or patched to their appliance's vport (null while it is detached, before its vport goes).
   */
  private async syncRedirections(
    client: DirectoryClient,
    intent: Intent,
    change: IntentChange,
  ): Promise<void> {
    const detached = new Set(change.detach);
    const attached = (name: string) =>
      intent.vms.some((v) => v.name === name && v.attached && !detached.has(name));
    const wanted = redirectionObjects(intent, attached);
    for (const r of wanted) {
      const existing = await client.get('redirectionTargets', r.id).catch((err) => {
        if (err instanceof DirectoryApiError && err.status === 404) return undefined;
        throw err;
      });
      this.redirections.add(r.id);
      if (!existing) await client.create('redirectionTargets', { ...r });
      else if (existing.vport !== r.vport || (existing.standbyVport ?? null) !== r.standbyVport)
        await client.patch('redirectionTargets', r.id, { vport: r.vport, standbyVport: r.standbyVport });
    }
    const ids = new Set(wanted.map((r) => r.id));
    for (const id of [...this.redirections])
      if (!ids.has(id)) {
        await client.delete('redirectionTargets', id).catch(() => {});
        this.redirections.delete(id);
      }
  }

  /** Redirection targets this driver created (deleted at teardown, before the vports they reference). */
  private readonly redirections = new Set<string>();

  /** EVPN gateway VNIs this driver created (`<gateway>/<vni>`), removed at teardown. */
  private readonly evpnBindings = new Set<string>();
  /** GW-8: the outside address configured per L3 gateway, removed at teardown. */
  private readonly evpnRouting = new Map<string, { port: string; address: string }>();
  /** Floating IPs this driver touched (deleted at teardown, before the vports they reference). */
  private readonly floating = new Set<string>();

  /** Creates a hypervisor, or switches an existing one's security mode (the other driver profile ran before). */
  private async upsertHypervisor(
    client: DirectoryClient,
    body: Record<string, unknown> & { id: string; securityMode: string },
  ): Promise<void> {
    const existing = await client.get('hypervisors', body.id).catch((err) => {
      if (err instanceof DirectoryApiError && err.status === 404) return undefined;
      throw err;
    });
    if (existing && existing.securityMode !== body.securityMode)
      await client.patch('hypervisors', body.id, { securityMode: body.securityMode });
    await this.upsert(client, 'hypervisors', body);
  }

  /** Group name → the directory's numeric id (`sgid`), as carried in secgroup communities. */
  async securityGroupIds(ctx: DriverContext): Promise<Map<string, number>> {
    const client = this.directory(ctx.lab);
    const ids = groupIds(ctx.intent);
    const out = new Map<string, number>();
    for (const [name, id] of ids) {
      const group = await client.get('securityGroups', id);
      out.set(name, group.sgid);
    }
    return out;
  }

  /** Security rules and member elements installed on one hypervisor (its router namespaces' nftables). */
  async securityDatapath(node: LabNode, ctx: DriverContext): Promise<SecurityDatapathCounts> {
    const agent = this.labInfo(ctx.lab).agents.get(node.name);
    const prefix = agent?.prefix ?? nsPrefixFor(ctx.lab.topology.name);
    return readSecurityDatapath(node, `${prefix}${slug(node.name)}-d-`);
  }

  /**
   * Address-only members for SG-6 and the benchmark (sg-contract item 7): sets the number of extra
   * members of `group` to `count`. They are directory vports with `attachment: none` on
   * `bulk.hypervisor` (default: the hypervisor of the first intent VM in `bulk.subnet`'s domain):
   * their type-2 routes carry the group's community and every agent of the domain, in both zones,
   * learns them as members, while no VM is created. Addresses come from the top of `bulk.subnet`
   * (an intent subnet, large enough for `count`).
   */
  async setBulkMembers(bulk: BulkMembers, ctx: DriverContext): Promise<void> {
    const client = this.directory(ctx.lab);
    const groupId = groupIds(ctx.intent).get(bulk.group);
    if (!groupId) throw new HarnessError(`bulk members: unknown group ${bulk.group}`);
    const hvId = slug(bulkHypervisor(ctx.intent, bulk));
    const wanted = bulkMemberVports(ctx.intent, bulk, groupId, hvId);
    const existing = (await client.list('vports', { subnet: slug(bulk.subnet) })).filter((v) =>
      v.name.startsWith(`bulk-${slug(bulk.group)}-`),
    );
    const keep = new Set(wanted.map((v) => v.id));
    await deleteVportsInBatches(
      client,
      existing.filter((v) => !keep.has(v.id)),
    );
    const have = new Set(existing.map((v) => v.id));
    const missing = wanted.filter((v) => !have.has(v.id));
    for (const part of chunked(missing, BULK_BATCH))
      await client.batch(part.map((body) => ({ op: 'create', collection: 'vports', body })));
    ctx.accepted();
  }

  /** Pinning of the VMs of the latest change; a failure surfaces where a check needs the VMs. */
  private pinning: Promise<void> = Promise.resolve();

  async ready(): Promise<void> {
    await this.pinning;
  }

  /**
   * Once per lab per process: removes leftover `/run/netns` entries of this lab's agents that are no
   * longer namespaces. /run/netns is shared with the host, but an agent's namespace mounts live in its
   * hypervisor node's mount namespace: when a lab is destroyed before its agents removed everything,
   * empty placeholder files stay behind, and `ip netns add` of the same name fails in the next run.
   * Live namespaces are mount points in the node, so they are kept.
   */
  private async sweepStale(ctx: DriverContext): Promise<void> {
    const key = ctx.lab.topology.labDir;
    if (swept.has(key)) return;
    swept.add(key);
    for (const [hv, agent] of this.labInfo(ctx.lab).agents) {
      const node = ctx.lab.nodes.get(hv);
      if (!node || !/^[A-Za-z0-9._-]+$/.test(`${agent.prefix}${hv}`)) continue;
      const r = await node.exec([
        'sh',
        '-c',
        `for f in /run/netns/${agent.prefix}${hv}-*; do [ -e "$f" ] && ! mountpoint -q "$f" && rm -f "$f" && echo "$f"; done; true`,
      ]);
      const removed = r.stdout.split('\n').filter(Boolean);
      if (removed.length)
        ctx.log(`removed ${removed.length} stale namespace file(s) of ${hv}: ${removed.join(', ')}`);
    }
  }

  private release(key: string): void {
    const fd = this.pinned.get(key);
    this.pinned.delete(key);
    if (fd !== undefined) closeSync(fd);
  }

  private macFor(name: string): string {
    let h = 0;
    for (const c of name) h = (h * 31 + c.charCodeAt(0)) >>> 0;
    return `02:00:${[h >>> 24, (h >>> 16) & 255, (h >>> 8) & 255, h & 255].map((b) => b.toString(16).padStart(2, '0')).join(':')}`;
  }

  private vmNs(lab: DeployedLab, vm: Vm): string {
    const prefix = this.labInfo(lab).agents.get(vm.hypervisor)?.prefix ?? nsPrefixFor(lab.topology.name);
    return `${prefix}${slug(vm.hypervisor)}-vm-${slug(vm.name)}`;
  }

  /**
   * Waits until the agent has mounted the VM's namespace. Where the hypervisor node runs on this host,
   * its mount namespace is read through /proc/<pid>/root (a stat every 10 ms, no process started) and
   * the namespace is then held open by this process; elsewhere one shell in the node waits.
   */
  private async pin(lab: DeployedLab, vm: Vm): Promise<void> {
    const key = `${vm.hypervisor}/${vm.name}`;
    if (this.pinned.has(key)) return;
    const node = lab.node(vm.hypervisor);
    const ns = this.vmNs(lab, vm);
    const what = `VM ${vm.name}: namespace ${ns} on ${vm.hypervisor}`;
    const hostPath = pathInNode(node, `/run/netns/${ns}`);
    if (hostPath) {
      // The agent creates the file first and mounts the namespace on it next: only an nsfs inode counts.
      const r = await pollUntil(() => isNamespaceFile(hostPath), Boolean, {
        timeoutMs: 30_000,
        intervalMs: 10,
        what,
      });
      if (!r.ok) throw new HarnessError(`${what} did not appear within 30 s`);
      this.pinned.set(key, openSync(hostPath, 'r'));
      return;
    }
    const found = await node.exec(
      [
        'sh',
        '-c',
        `i=0; while [ "$(stat -f -L -c %T /run/netns/${ns} 2>/dev/null)" != nsfs ]; do ` +
          `i=$((i+1)); [ $i -ge 1500 ] && exit 1; sleep 0.02; done`,
      ],
      { timeoutMs: 60_000 },
    );
    if (found.exitCode !== 0) throw new HarnessError(`${what} did not appear within 30 s`);
    this.pinned.set(key, undefined);
  }

  async teardown(ctx: DriverContext): Promise<void> {
    await this.pinning.catch(() => undefined);
    for (const [gw, outside] of [...this.evpnRouting]) {
      const node = ctx.lab.nodes.get(gw);
      if (node) await removeEvpnRouting(node, outside);
      this.evpnRouting.delete(gw);
    }
    for (const key of [...this.evpnBindings]) {
      const [gw, vni] = key.split('/') as [string, string];
      const node = ctx.lab.nodes.get(gw);
      if (node) await removeEvpnBinding(node, Number(vni));
      this.evpnBindings.delete(key);
    }
    const client = this.directory(ctx.lab);
    for (const id of [...this.floating]) {
      await client.delete('floatingIps', id).catch(() => {});
      this.floating.delete(id);
    }
    for (const id of [...this.redirections]) {
      await client.delete('redirectionTargets', id).catch(() => {});
      this.redirections.delete(id);
    }
    for (const vm of ctx.intent.vms) await client.delete('vports', slug(vm.name)).catch(() => {});
    const bulk = (await client.list('vports').catch(() => [])).filter((v) => v.name.startsWith('bulk-'));
    await deleteVportsInBatches(client, bulk).catch(() => {});
    for (const key of [...this.pinned.keys()]) this.release(key);
    // Wait until the agents removed the VM namespaces: a later scenario reusing a VM name on the same
    // hypervisor must not pin the old namespace before the agent deleted it.
    const deadline = Date.now() + 10_000;
    for (const vm of ctx.intent.vms) {
      const node = ctx.lab.nodes.get(vm.hypervisor);
      if (node) await untilGone(node, `/run/netns/${this.vmNs(ctx.lab, vm)}`, deadline);
    }
    // Subnets, domains, tenants this scenario created, innermost first.
    const created = this.created.splice(0).reverse();
    for (const { collection, id } of created)
      await client.delete(collection, id).catch((err) => {
        ctx.log(`teardown: delete ${collection}/${id}: ${err instanceof Error ? err.message : String(err)}`);
      });
    // And until the agents removed the domains' router namespaces: the lab may be destroyed next.
    const domainDeadline = Date.now() + 5_000;
    for (const { collection, id } of created) {
      if (collection !== 'domains') continue;
      for (const [hv, agent] of this.labInfo(ctx.lab).agents) {
        const node = ctx.lab.nodes.get(hv);
        if (node) await untilGone(node, `/run/netns/${agent.prefix}${hv}-d-${id}`, domainDeadline);
      }
    }
  }

  locate(vm: Vm, ctx: DriverContext): EndpointLocation {
    const hv = ctx.lab.node(vm.hypervisor);
    const ns = this.vmNs(ctx.lab, vm);
    const pinnedFd = this.pinned.get(`${vm.hypervisor}/${vm.name}`);
    const node: LabNode = {
      name: `${vm.hypervisor}/${vm.name}`,
      kind: 'vm',
      image: 'reference-vm',
      // The pinned namespace (this process's descriptor), else its mount inside the hypervisor node.
      netnsPath:
        pinnedFd !== undefined
          ? `/proc/${process.pid}/fd/${pinnedFd}`
          : (pathInNode(hv, `/run/netns/${ns}`) ?? hv.netnsPath),
      netnsName: undefined,
      pid: hv.pid,
      mgmtIPv4: undefined,
      mgmtIPv6: undefined,
      exec: (argv, options) => hv.exec(['ip', 'netns', 'exec', ns, ...argv], options),
      ...nestedIn(hv, ns),
    };
    return { node, iface: 'eth0', ip: vm.ip, mac: vm.mac ?? this.macFor(vm.name) };
  }

  /**
   * The forwarding tables of a hypervisor: the agent keeps one bridge + VXLAN device per subnet in a
   * router namespace per routing domain, named from this lab's agent prefix (never another lab's). A
   * domain without a namespace on this hypervisor has no table yet.
   */
  async forwardingEntries(node: LabNode, ctx: DriverContext): Promise<ForwardingEntry[]> {
    const agent = this.labInfo(ctx.lab).agents.get(node.name);
    if (!agent) throw new HarnessError(`${node.name} runs no reference agent: it has no forwarding table`);
    const namespaces = ctx.intent.domains
      .map((d) => `${agent.prefix}${node.name}-d-${slug(`${d.tenant}.${d.name}`)}`)
      .filter((ns) => NETNS_NAME.test(ns));
    const r = await node.exec(['sh', '-c', forwardingTableScript(namespaces)], { timeoutMs: 15_000 });
    if (r.exitCode !== 0)
      throw new HarnessError(
        `${node.name}: reading the forwarding tables failed: ${(r.stderr || r.stdout).trim().slice(0, 300)}`,
      );
    return [...parseForwardingTables(r.stdout).values()].flat();
  }

  /** The alarms the zone controllers raised, as the directory's API lists them (GET /v1/alarms). */
  async alarms(ctx: DriverContext): Promise<ImplementationAlarm[]> {
    return (await this.directory(ctx.lab).alarms()).map((a) => ({
      kind: a.kind,
      vni: a.vni,
      mac: a.mac.toLowerCase(),
      vtep: a.vtep,
      detail: `${a.controller} (zone ${a.zone}): MAC ${a.mac} in VNI ${a.vni} moved ${a.moves} times within ${a.windowSeconds} s; frozen at ${a.vtep}, sequence ${a.seq}, since ${a.raisedAt}`,
    }));
  }

  async processes(role: string, node: LabNode): Promise<number[]> {
    const script = ROLES[role];
    if (!script) return [];
    // Host PIDs (the engine signals them from the host): a node has its own PID namespace, so PIDs read
    // inside it would name other host processes. Found through the node's network namespace.
    return nodeProcesses(node)
      .filter((p) => p.cmdline.includes(`bin/run-ts.js ${script}`))
      .map((p) => p.pid);
  }

  async supervisors(): Promise<number[]> {
    return [];
  }

  async startProcess(role: string, node: LabNode): Promise<void> {
    await this.startNode(node);
    // Back means serving, not just spawned: a restart fault that returned while the new process was
    // still starting would let a scenario's stream end before the restart had any effect.
    if (role === 'agent' || role === 'controller') await this.untilConnected(role, node);
    // The directory is the driver's own API: the next provision step must find it serving again.
    if (role === 'directory' && this.client) {
      const client = this.client;
      const back = await pollUntil(
        () => client.healthy().catch(() => false),
        (healthy) => healthy,
        { timeoutMs: 20_000, intervalMs: 100, what: 'the directory' },
      );
      if (!back.ok) throw new HarnessError(`${node.name}: the directory did not come back within 20 s`);
    }
  }

  /**
   * Waits until a restarted agent has its controller sessions again, or a restarted controller has the
   * sessions of every agent that names it (established TCP connections in the node).
   */
  private async untilConnected(role: 'agent' | 'controller', node: LabNode): Promise<void> {
    const nodes = this.lab?.topology.nodes ?? [];
    const cmd = nodes.find((n) => n.name === node.name)?.cmd;
    const controllersOf = (c: string | undefined) =>
      [...(c ?? '').matchAll(/--controller[ =](\S+)/g)].map((m) => m[1]!);
    let ready: (conns: Array<{ local: string; remote: string }>) => boolean;
    let what: string;
    if (role === 'agent') {
      const controllers = controllersOf(cmd);
      ready = (conns) => controllers.every((c) => conns.some((x) => x.remote === c));
      what = `${node.name}'s agent connected to ${controllers.join(', ')}`;
    } else {
      const port = flagOf(cmd, 'listen')?.split(':').pop();
      const me = `${node.mgmtIPv4}:${port}`;
      const agents = nodes.filter((n) => n.cmd?.includes(ROLES.agent!) && controllersOf(n.cmd).includes(me));
      ready = (conns) => conns.filter((x) => x.local.endsWith(`:${port}`)).length >= agents.length;
      what = `the ${agents.length} agent(s) of ${node.name} connected to it`;
    }
    const r = await pollUntil(() => establishedTcp(node), ready, {
      timeoutMs: 30_000,
      intervalMs: 100,
      what,
    });
    if (!r.ok) throw new HarnessError(`${node.name}: restarted ${role} not serving within 30 s (${what})`);
  }

  async startNode(node: LabNode): Promise<void> {
    // The node's `cmd:` is its role: start it again the way the runtime did (log in the lab directory).
    const topo = this.lab?.topology;
    const cmd = topo?.nodes.find((n) => n.name === node.name)?.cmd;
    if (!topo || !cmd)
      throw new HarnessError(`${node.name}: no cmd: to restart (provision through this driver first)`);
    // The runtime's log of the node's cmd (labDir/<node>/cmd.log; the host's paths are the node's).
    const log = join(topo.labDir, node.name, 'cmd.log');
    const r = await node.exec(['sh', '-c', `setsid sh -c ${shq(cmd)} </dev/null >>${log} 2>&1 &`]);
    if (r.exitCode !== 0) throw new HarnessError(`${node.name}: cannot restart its role: ${r.stderr.trim()}`);
  }

  /** Underlay addresses by node instance (`<init pid>/<name>`): the lab sets them once at deploy. */
  private readonly vteps = new Map<string, string>();

  async vtepAddress(node: LabNode): Promise<string | undefined> {
    const key = `${node.pid}/${node.name}`;
    const known = this.vteps.get(key);
    if (known) return known;
    const r = await node.exec(['ip', '-j', '-4', 'addr', 'show', 'dev', 'eth1']);
    if (r.exitCode !== 0) return undefined;
    const links = JSON.parse(r.stdout || '[]') as Array<{ addr_info?: Array<{ local: string }> }>;
    const address = links[0]?.addr_info?.[0]?.local;
    if (address && node.pid !== undefined) this.vteps.set(key, address);
    return address;
  }

  async logs(node: LabNode): Promise<Array<{ name: string; content: string }>> {
    const r = await node.exec(['sh', '-c', `tail -n 200 /srv/labs/clab-*/${node.name}/cmd.log 2>/dev/null`]);
    return r.stdout ? [{ name: `${node.name}-cmd.log`, content: r.stdout }] : [];
  }
}

export type { Intent };

/** Host PID of the `sleep infinity` whose network namespace is `netns` (`net:[inode]`), if running yet. */
/** `path` inside `node`'s mount namespace as this host sees it (/proc/<pid>/root), when the node runs here. */
function pathInNode(node: LabNode, path: string): string | undefined {
  if (node.pid === undefined) return undefined;
  const root = `/proc/${node.pid}/root`;
  return existsSync(root) ? `${root}${path}` : undefined;
}

/** Every network namespace inode lives on the one nsfs superblock: same device as our own. */
const NSFS_DEVICE = statSync('/proc/self/ns/net').dev;
function isNamespaceFile(path: string): boolean {
  try {
    return statSync(path).dev === NSFS_DEVICE;
  } catch {
    return false;
  }
}

/** Established IPv4 TCP connections in a node, from its /proc/net/tcp: `ip:port` on each side. */
async function establishedTcp(node: LabNode): Promise<Array<{ local: string; remote: string }>> {
  const r = await node.exec(['cat', '/proc/net/tcp']);
  const endpoint = (hex: string) => {
    const [ip, port] = hex.split(':') as [string, string];
    const bytes = (ip.match(/../g) ?? []).map((b) => Number.parseInt(b, 16)).reverse();
    return `${bytes.join('.')}:${Number.parseInt(port, 16)}`;
  };
  return r.stdout
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => f[3] === '01')
    .map((f) => ({ local: endpoint(f[1]!), remote: endpoint(f[2]!) }));
}

/** Waits (without failing) until `path` no longer exists inside `node`, or the shared deadline passes. */
async function untilGone(node: LabNode, path: string, deadline: number): Promise<void> {
  const hostPath = pathInNode(node, path);
  const options = { timeoutMs: Math.max(0, deadline - Date.now()), what: `${path} removed` };
  if (hostPath)
    await pollUntil(
      () => existsSync(hostPath),
      (exists) => !exists,
      { ...options, intervalMs: 20 },
    );
  else
    await pollUntil(
      () => node.exec(['test', '-e', path]),
      (r) => r.exitCode !== 0,
      { ...options, intervalMs: 100 },
    );
}

/**
 * Creates a directory object; true when created. "Already exists" is success only when the existing
 * object is the one the intent asks for: a leftover that differs (an earlier run's VM on another
 * hypervisor, say) is an error, never silently adopted.
 */
export async function createOrConfirm(
  client: DirectoryClient,
  collection: Parameters<DirectoryClient['create']>[0],
  body: Record<string, unknown> & { id: string },
): Promise<boolean> {
  try {
    await client.create(collection, body);
    return true;
  } catch (err) {
    if (!(err instanceof DirectoryApiError && err.status === 409 && err.code === 'conflict')) throw err;
  }
  const existing = (await client.get(collection, body.id)) as unknown as Record<string, unknown>;
  // The directory normalises MACs to lower case; nothing the driver sends differs by case alone.
  const same = (a: unknown, b: unknown) =>
    JSON.stringify(a)?.toLowerCase() === JSON.stringify(b)?.toLowerCase();
  const differs = Object.keys(body).filter((k) => !same(existing[k], body[k]));
  if (differs.length === 0) return false;
  throw new HarnessError(
    `directory ${collection}/${body.id} already exists and differs from the intent (${differs
      .map((k) => `${k}: ${JSON.stringify(existing[k])}, intent ${JSON.stringify(body[k])}`)
      .join('; ')}): left by an earlier run? redeploy the lab`,
  );
}

/** The driver module's factory (package.json `otwin.drivers`). */
export function createDriver(): ImplementationDriver {
  return new ReferenceDriver();
}

/** A change that only sets VMs' groups: nothing but their vports' `securityGroups` changes. */
export function isMembershipOnly(change: IntentChange): boolean {
  return (
    !change.apply &&
    change.setGroups.length > 0 &&
    !change.attach.length &&
    !change.detach.length &&
    !change.move.length &&
    !change.setFloatingIps?.length
  );
}
