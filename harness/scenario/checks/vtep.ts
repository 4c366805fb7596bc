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
 * A driver that cannot read a gateway makes the expectation skipped with the reason, never passed.
 */
import type { VtepTables } from '../../gateway/vtep-db.ts';
import { type ScenarioContext, SkipError } from '../context.ts';
import { type Gateway, IntentIndex } from '../intent.ts';
import { knownGateway } from '../refs.ts';
import type { CheckBase } from '../types.ts';
import type { CheckDefinition } from './types.ts';

export const VTEP_ASPECTS = ['registration', 'bindings', 'remote-macs', 'local-macs'] as const;
export type VtepAspect = (typeof VTEP_ASPECTS)[number];

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

async function remoteMacs(gw: Gateway, t: VtepTables, ctx: ScenarioContext): Promise<string[]> {
  const idx = new IntentIndex(ctx.intent);
  const keys = tunnelKeys(t);
  const boundVnis = new Set(gw.bindings.map((b) => idx.subnets.get(b.subnet)?.vni));
  const want = new Map<string, { what: string; vtep: string | undefined }>();
  for (const vm of ctx.intent.vms) {
    const vni = idx.subnetOf(vm).vni;
    if (!vm.attached || !boundVnis.has(vni)) continue;
    const mac = (vm.mac ?? ctx.driver.locate(vm, ctx.driverContext()).mac)?.toLowerCase();
    const vtep = await ctx.vtepAddress(vm.hypervisor);
    want.set(`${vni}/${mac}`, { what: `${vm.name} at ${vm.hypervisor} ${vtep}`, vtep });
  }
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

function show(t: VtepTables): string {
  return JSON.stringify(t, null, 2);
}

export const vtep: CheckDefinition<VtepCheck> = {
  kind: 'vtep',
  schema: {
    description:
      "GW-1..GW-4, GW-6: the gateway's vtep DB (read through the driver) against the intent: registration (tunnel IP + a controller session), bindings (tunnel key = VNI), remote-macs (one row per attached VM of a bound subnet at its hypervisor's VTEP, nothing extra), local-macs (bare-metal hosts' MACs learned).",
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
    const driver = ctx.driver;
    if (!driver.gatewayTables)
      throw new SkipError(
        `implementation ${driver.name} cannot read a gateway's vtep DB (its driver has no gatewayTables), so '${check.name}' was not checked`,
      );
    const idx = new IntentIndex(ctx.intent);
    const gw = idx.gateways.get(check.gateway)!;
    const tables = await driver.gatewayTables(gw, ctx.driverContext());
    const readAt = performance.now();
    const problems: string[] = [];
    for (const aspect of check.tables) {
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
    return {
      ok: problems.length === 0,
      summary:
        problems.length === 0
          ? `gateway ${gw.name}: ${check.tables.join(', ')} as the intent says`
          : `gateway ${gw.name}: ${problems.join('; ')}`,
      attachments: [
        { name: `${gw.name}: vtep DB (${driver.name})`, content: show(tables), type: 'application/json' },
      ],
      nodes: [gw.name],
      observedAt: readAt,
    };
  },
};
