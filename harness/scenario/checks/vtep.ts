/**
 * Hardware VTEP gateway expectations (GW-1..GW-4, GW-6): what a gateway's vtep DB holds, read through
 * the driver (ImplementationDriver.gatewayTables), against values from the intent alone:
 * - `registration` (GW-1): the physical switch named after the gateway carries the intent's tunnel IP
 *   and at least one manager (controller) session is established to its OVSDB;
 * - `bindings` (GW-2): each bound port + VLAN maps to a logical switch whose tunnel key is the subnet's
 *   VNI, and the gateway's ports carry no other binding;
 * - `remote-macs` (GW-3, GW-6): exactly one Ucast_Macs_Remote row per attached VM of a bound subnet,
 *   at its hypervisor's VTEP; nothing missing, nothing extra, nothing twice;
 * - `local-macs` (GW-4): each bare-metal host's MAC behind the gateway is among its learned MACs, in
 *   its subnet's logical switch (the host must have sent traffic: the gateway ages entries out).
 * The EVPN gateway profile (an FRR VTEP: no vtep DB) is read as its forwarding table
 * (ImplementationDriver.gatewayFdb):
 * - `fdb` (GW-7): one EVPN-installed entry per attached VM of a bound VNI, at its hypervisor's VTEP;
 * - `flood-list` (GW-5): each VTEP hosting the VNI exactly once in the ingress replication list.
 * The profile is the gateway node's label `otwin.gateway-profile`; aspects of the other profile are
 * skipped with the reason. A driver that cannot read a gateway makes the expectation skipped with the
 * reason, never passed.
 */
import {
  type EvpnFdbEntry,
  type EvpnGatewayFdb,
  FLOOD_MAC,
  gatewayProfileOf,
} from '../../gateway/evpn-gateway.ts';
import type { VtepTables } from '../../gateway/vtep-db.ts';
import { type ScenarioContext, SkipError } from '../context.ts';
import { type Gateway, IntentIndex } from '../intent.ts';
import { knownGateway } from '../refs.ts';
import type { CheckBase } from '../types.ts';
import type { CheckDefinition } from './types.ts';

/** OVSDB hardware_vtep aspects (profile `ovsdb`) and EVPN forwarding-table aspects (profile `evpn`). */
export const OVSDB_ASPECTS = ['registration', 'bindings', 'remote-macs', 'local-macs'] as const;
export const EVPN_ASPECTS = ['fdb', 'flood-list'] as const;
export const VTEP_ASPECTS = [...OVSDB_ASPECTS, ...EVPN_ASPECTS] as const;
export type VtepAspect = (typeof VTEP_ASPECTS)[number];
type OvsdbAspect = (typeof OVSDB_ASPECTS)[number];
type EvpnAspect = (typeof EVPN_ASPECTS)[number];

const isEvpnAspect = (a: VtepAspect): a is EvpnAspect => (EVPN_ASPECTS as readonly string[]).includes(a);

export interface VtepCheck extends CheckBase {
  kind: 'vtep';
  gateway: string;
  tables: VtepAspect[];
}

/** The logical switch (by name) → its tunnel key. */
function tunnelKeys(t: VtepTables): Map<string, number | undefined> {
  return new Map(t.logicalSwitches.map((ls) => [ls.name, ls.tunnelKey]));
}

function registration(gw: Gateway, t: VtepTables): string[] {
  const ps = t.physicalSwitches.find((p) => p.name === gw.name);
  const problems: string[] = [];
  if (!ps)
    problems.push(
      `no physical switch '${gw.name}' (switches: ${t.physicalSwitches.map((p) => p.name).join(', ') || 'none'})`,
    );
  else if (!ps.tunnelIps.includes(gw.tunnelIp))
    problems.push(
      `physical switch ${gw.name} has tunnel IPs [${ps.tunnelIps.join(', ')}], not ${gw.tunnelIp}`,
    );
  if (t.managerSessions < 1) problems.push('no controller has an OVSDB session to the gateway');
  return problems;
}

function bindings(gw: Gateway, t: VtepTables, idx: IntentIndex): string[] {
  const keys = tunnelKeys(t);
  const problems: string[] = [];
  for (const b of gw.bindings) {
    const vni = idx.subnets.get(b.subnet)?.vni;
    const bound = t.portBindings.filter((p) => p.port === b.port && p.vlan === b.vlan);
    if (bound.length === 0) {
      problems.push(
        `port ${b.port} VLAN ${b.vlan} is bound to no logical switch (intent: subnet ${b.subnet})`,
      );
      continue;
    }
    for (const p of bound) {
      const key = keys.get(p.logicalSwitch);
      if (key !== vni)
        problems.push(
          `port ${b.port} VLAN ${b.vlan} → logical switch ${p.logicalSwitch} with tunnel key ${key ?? 'none'}, not subnet ${b.subnet}'s VNI ${vni}`,
        );
    }
  }
  const wanted = new Set(gw.bindings.map((b) => `${b.port}/${b.vlan}`));
  for (const p of t.portBindings)
    if (!wanted.has(`${p.port}/${p.vlan}`))
      problems.push(
        `port ${p.port} VLAN ${p.vlan} is bound to ${p.logicalSwitch}, which the intent does not bind`,
      );
  return problems;
}

/** `<vni>/<mac>` → where each attached VM of a subnet bound at the gateway must be reached. */
async function wantedVmMacs(
  gw: Gateway,
  ctx: ScenarioContext,
): Promise<Map<string, { what: string; vtep: string | undefined }>> {
  const idx = new IntentIndex(ctx.intent);
  const boundVnis = new Set(idx.gatewaySubnets(gw).map((subnet) => idx.subnets.get(subnet)?.vni));
  const want = new Map<string, { what: string; vtep: string | undefined }>();
  for (const vm of ctx.intent.vms) {
    const vni = idx.subnetOf(vm).vni;
    if (!vm.attached || !boundVnis.has(vni)) continue;
    const mac = (vm.mac ?? ctx.driver.locate(vm, ctx.driverContext()).mac)?.toLowerCase();
    const vtep = await ctx.vtepAddress(vm.hypervisor);
    want.set(`${vni}/${mac}`, { what: `${vm.name} at ${vm.hypervisor} ${vtep}`, vtep });
  }
  return want;
}

async function remoteMacs(gw: Gateway, t: VtepTables, ctx: ScenarioContext): Promise<string[]> {
  const keys = tunnelKeys(t);
  const want = await wantedVmMacs(gw, ctx);
  const seen = new Map<string, string[]>();
  for (const r of t.remoteMacs) {
    const key = `${keys.get(r.logicalSwitch) ?? r.logicalSwitch}/${r.mac}`;
    seen.set(key, [...(seen.get(key) ?? []), r.locator]);
  }
  const problems: string[] = [];
  for (const [key, { what, vtep }] of want) {
    const locators = seen.get(key) ?? [];
    if (locators.length === 0) problems.push(`missing ${key} (${what})`);
    else if (locators.length > 1)
      problems.push(`${key} has ${locators.length} rows (${locators.join(', ')})`);
    else if (locators[0] !== vtep) problems.push(`${key} at ${locators[0]}, not ${what}`);
  }
  for (const [key, locators] of seen)
    if (!want.has(key))
      problems.push(`extra ${key} at ${locators.join(', ')} (no attached VM of a bound subnet)`);
  return problems;
}

function localMacs(gw: Gateway, t: VtepTables, idx: IntentIndex): string[] {
  const keys = tunnelKeys(t);
  const problems: string[] = [];
  for (const host of idx.intent.bareMetal) {
    if (host.gateway !== gw.name || !host.mac) continue;
    const vni = idx.subnets.get(idx.bareMetalSubnet(host) ?? '')?.vni;
    const mac = host.mac.toLowerCase();
    if (!t.localMacs.some((m) => m.mac === mac && keys.get(m.logicalSwitch) === vni))
      problems.push(
        `${host.name}'s MAC ${mac} is not among the learned MACs of VNI ${vni} (learned: ${t.localMacs.map((m) => `${m.logicalSwitch}/${m.mac}`).join(', ') || 'none'})`,
      );
  }
  return problems;
}

/**
 * `fdb` (GW-7, GW-8): the EVPN gateway forwards each attached VM of a bound or routed VNI to its hypervisor's VTEP,
 * with exactly one entry installed from EVPN; no remote entry for a MAC the intent does not have.
 */
async function fdb(gw: Gateway, t: EvpnGatewayFdb, ctx: ScenarioContext): Promise<string[]> {
  const want = await wantedVmMacs(gw, ctx);
  const hosts = new Set(ctx.intent.bareMetal.flatMap((h) => (h.mac ? [h.mac.toLowerCase()] : [])));
  const seen = new Map<string, EvpnFdbEntry[]>();
  for (const e of t.entries) {
    if (e.mac === FLOOD_MAC || !e.dst) continue;
    const key = `${e.vni}/${e.mac}`;
    seen.set(key, [...(seen.get(key) ?? []), e]);
  }
  const problems: string[] = [];
  for (const [key, { what, vtep }] of want) {
    const found = seen.get(key) ?? [];
    if (found.length === 0) problems.push(`missing ${key} (${what})`);
    else if (found.length > 1)
      problems.push(`${key} has ${found.length} entries (${found.map((e) => e.dst).join(', ')})`);
    else if (found[0]!.dst !== vtep) problems.push(`${key} at ${found[0]!.dst}, not ${what}`);
    else if (!found[0]!.externLearn)
      problems.push(`${key} was learned from data, not installed from an EVPN route (no extern_learn)`);
  }
  for (const [key, found] of seen)
    if (!want.has(key) && !hosts.has(key.slice(key.indexOf('/') + 1)))
      problems.push(
        `extra ${key} at ${found.map((e) => e.dst).join(', ')} (no attached VM or host of the intent)`,
      );
  return problems;
}

/**
 * `flood-list` (GW-5 on the EVPN profile: ingress replication): each bound or routed VNI's flood list holds each
 * hypervisor hosting an attached VM of the VNI exactly once, plus the other gateways binding it, and
 * nothing else: a broadcast then reaches each VM once.
 */
async function floodList(gw: Gateway, t: EvpnGatewayFdb, ctx: ScenarioContext): Promise<string[]> {
  const idx = new IntentIndex(ctx.intent);
  const problems: string[] = [];
  for (const subnet of idx.gatewaySubnets(gw)) {
    const vni = idx.subnets.get(subnet)?.vni;
    const want = new Set<string>();
    for (const vm of ctx.intent.vms)
      if (vm.attached && idx.subnetOf(vm).vni === vni) {
        const vtep = await ctx.vtepAddress(vm.hypervisor);
        if (vtep) want.add(vtep);
      }
    for (const other of ctx.intent.gateways)
      if (other.name !== gw.name && idx.gatewaySubnets(other).includes(subnet)) want.add(other.tunnelIp);
    const got = t.entries.filter((e) => e.vni === vni && e.mac === FLOOD_MAC && e.dst).map((e) => e.dst!);
    for (const vtep of want)
      if (!got.includes(vtep)) problems.push(`VNI ${vni}: ${vtep} missing from the flood list`);
    for (const vtep of new Set(got)) {
      const n = got.filter((d) => d === vtep).length;
      if (!want.has(vtep)) problems.push(`VNI ${vni}: ${vtep} in the flood list hosts no VM of the VNI`);
      else if (n > 1) problems.push(`VNI ${vni}: ${vtep} is ${n} times in the flood list (${n} copies)`);
    }
  }
  return problems;
}

function show(t: VtepTables | EvpnGatewayFdb): string {
  return JSON.stringify(t, null, 2);
}

/** The problems of the aspects that apply to the gateway's profile (its lab node's label). */
async function evaluateOvsdb(
  gw: Gateway,
  aspects: OvsdbAspect[],
  ctx: ScenarioContext,
): Promise<{ problems: string[]; attachment: string; readAt: number }> {
  const driver = ctx.driver;
  if (!driver.gatewayTables)
    throw new SkipError(
      `implementation ${driver.name} cannot read a gateway's vtep DB (its driver has no gatewayTables), so ${aspects.join(', ')} was not checked`,
    );
  const idx = new IntentIndex(ctx.intent);
  const tables = await driver.gatewayTables(gw, ctx.driverContext());
  const readAt = performance.now();
  const problems: string[] = [];
  for (const aspect of aspects) {
    const found =
      aspect === 'registration'
        ? registration(gw, tables)
        : aspect === 'bindings'
          ? bindings(gw, tables, idx)
          : aspect === 'remote-macs'
            ? await remoteMacs(gw, tables, ctx)
            : localMacs(gw, tables, idx);
    problems.push(...found.map((p) => `${aspect}: ${p}`));
  }
  return { problems, attachment: show(tables), readAt };
}

async function evaluateEvpn(
  gw: Gateway,
  aspects: EvpnAspect[],
  ctx: ScenarioContext,
): Promise<{ problems: string[]; attachment: string; readAt: number }> {
  const driver = ctx.driver;
  if (!driver.gatewayFdb)
    throw new SkipError(
      `implementation ${driver.name} cannot read an EVPN gateway's forwarding table (its driver has no gatewayFdb), so ${aspects.join(', ')} was not checked`,
    );
  const table = await driver.gatewayFdb(gw, ctx.driverContext());
  const readAt = performance.now();
  const problems: string[] = [];
  for (const aspect of aspects) {
    const found = aspect === 'fdb' ? await fdb(gw, table, ctx) : await floodList(gw, table, ctx);
    problems.push(...found.map((p) => `${aspect}: ${p}`));
  }
  return { problems, attachment: show(table), readAt };
}

export const vtep: CheckDefinition<VtepCheck> = {
  kind: 'vtep',
  schema: {
    description:
      "GW-1..GW-7: a gateway read through the driver against the intent. OVSDB profile (vtep DB): registration (tunnel IP + a controller session), bindings (tunnel key = VNI), remote-macs (one row per attached VM of a bound subnet at its hypervisor's VTEP, nothing extra), local-macs (bare-metal hosts' MACs learned). EVPN profile (forwarding table): fdb (one EVPN-installed entry per attached VM at its hypervisor's VTEP), flood-list (each VTEP of the VNI once). Aspects of the other profile are skipped with the reason.",
    type: 'object',
    additionalProperties: false,
    required: ['gateway', 'tables'],
    properties: {
      gateway: { $ref: '#/definitions/name', description: 'A gateway of intent.gateways.' },
      tables: {
        type: 'array',
        minItems: 1,
        items: { enum: [...VTEP_ASPECTS] },
      },
    },
  },
  traffic: false,
  parse(body, base) {
    const tables = (body.tables as VtepAspect[] | undefined) ?? [];
    const gateway = String(body.gateway);
    return {
      ...base,
      name: base.name || `gateway ${gateway}'s vtep DB: ${tables.join(', ')}`,
      kind: 'vtep',
      gateway,
      tables,
    };
  },
  references(ctx, body, at) {
    knownGateway(ctx, [...at, 'gateway'], body.gateway);
  },
  selfPolling: false,
  async evaluate(check, ctx) {
    const idx = new IntentIndex(ctx.intent);
    const gw = idx.gateways.get(check.gateway)!;
    const profile = gatewayProfileOf(ctx.lab.topology, gw.name);
    const applies = check.tables.filter((a) => isEvpnAspect(a) === (profile === 'evpn'));
    const notApplying = check.tables.filter((a) => !applies.includes(a));
    if (applies.length === 0)
      throw new SkipError(
        profile === 'evpn'
          ? `${notApplying.join(', ')}: OVSDB hardware_vtep tables do not apply to gateway ${gw.name} (profile evpn: an FRR VTEP has no vtep DB; its forwarding table is the fdb aspect)`
          : `${notApplying.join(', ')}: EVPN forwarding-table aspects do not apply to gateway ${gw.name} (profile ovsdb: its remote MAC table is the remote-macs aspect)`,
      );
    const { problems, attachment, readAt } =
      profile === 'evpn'
        ? await evaluateEvpn(gw, applies as EvpnAspect[], ctx)
        : await evaluateOvsdb(gw, applies as OvsdbAspect[], ctx);
    const skipped = notApplying.length ? ` (${notApplying.join(', ')}: not for profile ${profile})` : '';
    return {
      ok: problems.length === 0,
      summary:
        problems.length === 0
          ? `gateway ${gw.name}: ${applies.join(', ')} as the intent says${skipped}`
          : `gateway ${gw.name}: ${problems.join('; ')}`,
      attachments: [
        {
          name: `${gw.name}: ${profile === 'evpn' ? 'forwarding table' : 'vtep DB'} (${ctx.driver.name})`,
          content: attachment,
          type: 'application/json',
        },
      ],
      nodes: [gw.name],
      observedAt: readAt,
    };
  },
};
