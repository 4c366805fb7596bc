/**
 * Reference and consistency checks on a schema-valid scenario document: every name a scenario uses
 * (lab nodes, interfaces, VMs, subnets, groups, domains, tenants, zones, conformance IDs) must exist,
 * addresses must sit in their subnets, names must be unique. Each issue carries the YAML path of the
 * offending value so the caller can turn it into file:line:column.
 */

import { CATALOGUE } from './catalogue.ts';
import { CHECK_KEYS, checkKind } from './checks/index.ts';
import { FAULT_KINDS, faultKind } from './faults/index.ts';
import { inCidr, isCidr, isIpv4 } from './intent.ts';
import type { LabInventory } from './lab-inventory.ts';
import { endpoint, Refs, type StepRefs } from './refs.ts';
import type { Path, SchemaIssue } from './schema.ts';
import { arr, type Obj, parseDuration, strs } from './values.ts';

const STEP_KINDS = ['provision', 'expect', 'fault', 'wait', 'wait-until', 'measure', 'chaos'] as const;

function uniqueNames(
  refs: Refs,
  items: Obj[],
  base: Path,
  what: string,
  taken?: Map<string, string>,
): Set<string> {
  const seen = new Set<string>();
  items.forEach((item, i) => {
    const name = item.name;
    if (typeof name !== 'string') return;
    if (seen.has(name)) refs.error([...base, i, 'name'], `duplicate ${what} name '${name}'`);
    const other = taken?.get(name);
    if (other) refs.error([...base, i, 'name'], `name '${name}' is already used by a ${other}`);
    seen.add(name);
    taken?.set(name, what);
  });
  return seen;
}

/** What the implementation under test has, where validation depends on it. */
export interface ReferenceOptions {
  /**
   * The implementation runs zone controllers (driver capability `zones`). Without them a zone's
   * `controllers` name nodes the driver never uses, so they need not exist in the lab (its
   * `hypervisors` still must: VMs are placed on them).
   */
  zoneControllers: boolean;
}

export function checkReferences(
  doc: Obj,
  lab: LabInventory,
  options: ReferenceOptions = { zoneControllers: true },
): SchemaIssue[] {
  const refs = new Refs(lab);
  for (const [i, id] of strs(doc.conformance).entries()) {
    if (!CATALOGUE.has(id)) refs.unknown(['conformance', i], 'conformance ID', id, CATALOGUE.keys());
  }

  const intent = (doc.intent ?? {}) as Obj;
  const ip = ['intent'];
  const tenants = uniqueNames(refs, arr(intent.tenants), [...ip, 'tenants'], 'tenant');
  const zonesList = arr(intent.zones);
  const zones = uniqueNames(refs, zonesList, [...ip, 'zones'], 'zone');
  const domains = uniqueNames(refs, arr(intent.domains), [...ip, 'domains'], 'domain');
  const subnetsList = arr(intent.subnets);
  const subnets = uniqueNames(refs, subnetsList, [...ip, 'subnets'], 'subnet');
  const groups = uniqueNames(refs, arr(intent.groups), [...ip, 'groups'], 'security group');
  const endpointKinds = new Map<string, string>();
  const vmsList = arr(intent.vms);
  const vms = uniqueNames(refs, vmsList, [...ip, 'vms'], 'VM', endpointKinds);
  const externals = uniqueNames(
    refs,
    arr(intent.externals),
    [...ip, 'externals'],
    'external host',
    endpointKinds,
  );
  const bareMetalList = arr(intent.bareMetal);
  const bareMetal = uniqueNames(refs, bareMetalList, [...ip, 'bareMetal'], 'bare-metal host', endpointKinds);
  const endpoints = new Set([...vms, ...externals, ...bareMetal]);

  arr(intent.domains).forEach((d, i) => {
    if (typeof d.tenant === 'string' && !tenants.has(d.tenant)) {
      refs.unknown([...ip, 'domains', i, 'tenant'], 'tenant', d.tenant, tenants);
    }
    if (typeof d.zone === 'string' && !zones.has(d.zone))
      refs.unknown([...ip, 'domains', i, 'zone'], 'zone', d.zone, zones);
  });
  const vniSeen = new Map<number, string>();
  const cidrOf = new Map<string, string>();
  const anycastOf = new Map<string, string>();
  subnetsList.forEach((s, i) => {
    if (typeof s.gateway === 'string' && typeof s.name === 'string') anycastOf.set(s.name, s.gateway);
    const at = [...ip, 'subnets', i];
    if (typeof s.domain === 'string' && !domains.has(s.domain))
      refs.unknown([...at, 'domain'], 'domain', s.domain, domains);
    if (typeof s.cidr === 'string' && !isCidr(s.cidr))
      refs.error([...at, 'cidr'], `'${s.cidr}' is not an IPv4 CIDR`);
    else if (typeof s.cidr === 'string' && typeof s.name === 'string') cidrOf.set(s.name, s.cidr);
    if (typeof s.vni === 'number') {
      const other = vniSeen.get(s.vni);
      if (other)
        refs.error([...at, 'vni'], `VNI ${s.vni} is already used by subnet '${other}'`, 'one VNI per subnet');
      vniSeen.set(s.vni, String(s.name));
    }
    if (typeof s.gateway === 'string' && typeof s.cidr === 'string' && isCidr(s.cidr)) {
      if (!isIpv4(s.gateway)) refs.error([...at, 'gateway'], `'${s.gateway}' is not an IPv4 address`);
      else if (!inCidr(s.gateway, s.cidr))
        refs.error([...at, 'gateway'], `gateway ${s.gateway} is outside ${s.cidr}`);
    }
  });
  const ipSeen = new Map<string, string>();
  vmsList.forEach((vm, i) => {
    const at = [...ip, 'vms', i];
    if (typeof vm.subnet === 'string' && !subnets.has(vm.subnet))
      refs.unknown([...at, 'subnet'], 'subnet', vm.subnet, subnets);
    refs.node([...at, 'hypervisor'], vm.hypervisor);
    if (vm.node !== undefined) refs.node([...at, 'node'], vm.node);
    if (typeof vm.ip === 'string') {
      if (!isIpv4(vm.ip)) refs.error([...at, 'ip'], `'${vm.ip}' is not an IPv4 address`);
      else {
        const cidr = typeof vm.subnet === 'string' ? cidrOf.get(vm.subnet) : undefined;
        if (cidr && !inCidr(vm.ip, cidr)) {
          refs.error([...at, 'ip'], `${vm.ip} is outside subnet '${String(vm.subnet)}' (${cidr})`);
        }
        const key = `${String(vm.subnet)}/${vm.ip}`;
        const other = ipSeen.get(key);
        if (other)
          refs.error([...at, 'ip'], `address ${vm.ip} is already used by VM '${other}' in the same subnet`);
        ipSeen.set(key, String(vm.name));
      }
    }
    strs(vm.groups).forEach((g, j) => {
      if (!groups.has(g)) refs.unknown([...at, 'groups', j], 'security group', g, groups);
    });
  });
  arr(intent.groups).forEach((g, i) => {
    if (typeof g.domain === 'string' && !domains.has(g.domain))
      refs.unknown([...ip, 'groups', i, 'domain'], 'domain', g.domain, domains);
  });
  const groupOrAny = (path: Path, v: unknown) => {
    if (typeof v !== 'string' || v === 'any' || groups.has(v)) return;
    if (isCidr(v)) return;
    refs.unknown(path, 'security group', v, groups);
    if (v.includes('/')) refs.issues[refs.issues.length - 1]!.hint = 'a group name, `any`, or an IPv4 CIDR';
  };
  arr(intent.rules).forEach((r, i) => {
    const at = [...ip, 'rules', i];
    groupOrAny([...at, 'from'], r.from);
    groupOrAny([...at, 'to'], r.to);
    if (typeof r.domain === 'string' && !domains.has(r.domain))
      refs.unknown([...at, 'domain'], 'domain', r.domain, domains);
    checkPorts(refs, [...at, 'ports'], r.ports, r.proto);
  });
  arr(intent.floatingIps).forEach((f, i) => {
    if (typeof f.vm === 'string' && !vms.has(f.vm))
      refs.unknown([...ip, 'floatingIps', i, 'vm'], 'VM', f.vm, vms);
  });
  arr(intent.externals).forEach((e, i) => {
    if (e.node !== undefined) refs.node([...ip, 'externals', i, 'node'], e.node);
    if (typeof e.domain === 'string' && !domains.has(e.domain))
      refs.unknown([...ip, 'externals', i, 'domain'], 'domain', e.domain, domains);
  });
  checkGateways(refs, intent, ip, { subnets, zones, cidrOf, anycastOf });
  arr(intent.serviceChains).forEach((c, i) => {
    const at = [...ip, 'serviceChains', i];
    for (const key of ['from', 'to'] as const) {
      const v = c[key];
      if (typeof v === 'string' && v !== 'any' && !vms.has(v) && !groups.has(v)) {
        refs.unknown([...at, key], 'VM or security group', v, [...vms, ...groups]);
      }
    }
    strs(c.via).forEach((v, j) => {
      if (!vms.has(v)) refs.unknown([...at, 'via', j], 'appliance VM', v, vms);
    });
    strs(c.standby).forEach((v, j) => {
      if (!vms.has(v)) refs.unknown([...at, 'standby', j], 'standby appliance VM', v, vms);
    });
    checkPorts(refs, [...at, 'ports'], c.ports, c.proto);
  });
  zonesList.forEach((z, i) => {
    strs(z.hypervisors).forEach((n, j) => {
      refs.node([...ip, 'zones', i, 'hypervisors', j], n);
    });
    if (!options.zoneControllers) return;
    strs(z.controllers).forEach((n, j) => {
      refs.node([...ip, 'zones', i, 'controllers', j], n);
    });
  });

  const vmsWithMac = new Set(
    vmsList.filter((v) => typeof v.mac === 'string' && typeof v.name === 'string').map((v) => String(v.name)),
  );
  const gatewayNames = new Set(strs(arr(intent.gateways).map((g) => g.name)));
  const ctx: StepRefs = { refs, vms, vmsWithMac, groups, endpoints, subnets, gateways: gatewayNames };
  arr(doc.timeline).forEach((step, i) => {
    checkStep(ctx, step, ['timeline', i]);
  });
  return refs.issues;
}

function checkPorts(refs: Refs, path: Path, ports: unknown, proto: unknown): void {
  if (!Array.isArray(ports)) return;
  if (ports.length > 0 && (proto === 'icmp' || proto === undefined || proto === 'any')) {
    refs.error(
      path,
      `ports need proto tcp or udp (proto is ${proto === undefined ? 'not set' : String(proto)})`,
      'add `proto: tcp` or `proto: udp`',
    );
  }
  ports.forEach((p, i) => {
    if (typeof p === 'string') {
      const [a, b] = p.split('-').map(Number);
      if (!a || !b || a > b || b > 65535)
        refs.error([...path, i], `port range '${p}' is invalid`, 'a range is `low-high`, 1..65535');
    }
  });
}

function oneKind(
  ctx: StepRefs,
  obj: Obj,
  path: Path,
  kinds: readonly string[],
  what: string,
): string | undefined {
  const present = kinds.filter((k) => k in obj);
  if (present.length === 1) return present[0];
  if (present.length === 0) {
    ctx.refs.error(path, `a ${what} needs one of: ${kinds.join(', ')}`, `write e.g. \`- ${kinds[0]}: ...\``);
  } else {
    ctx.refs.error(
      [...path, present[1]!],
      `a ${what} takes exactly one of ${kinds.join(', ')}; this one has ${present.join(' and ')}`,
      `split it into ${present.length} ${what}s`,
      true,
    );
  }
  return undefined;
}

/** Whether steps (nested measures included) apply a fault that is reverted after its duration. */
function hasTimedFault(steps: Obj[]): boolean {
  return steps.some((s) => {
    const fault = s.fault as Obj | undefined;
    if (fault && fault.duration !== undefined) return true;
    const nested = s.measure as Obj | undefined;
    return nested !== undefined && hasTimedFault(arr(nested.during));
  });
}

function checkStep(ctx: StepRefs, step: Obj, path: Path): void {
  const kind = oneKind(ctx, step, path, STEP_KINDS, 'timeline step');
  if (!kind) return;
  const body = step[kind];
  const at = [...path, kind];
  const { refs } = ctx;
  if (step.precondition !== undefined && kind !== 'expect' && kind !== 'wait-until')
    refs.error(
      [...path, 'precondition'],
      `'precondition' applies to expect and wait-until steps, not to '${kind}'`,
      'mark the expectation that establishes the starting state, e.g. a start-up wait-until',
      true,
    );
  switch (kind) {
    case 'provision': {
      if (typeof body !== 'object' || body === null) return;
      const p = body as Obj;
      for (const key of ['attach', 'detach'] as const) {
        strs(p[key]).forEach((vm, j) => {
          if (!ctx.vms.has(vm)) refs.unknown([...at, key, j], 'VM', vm, ctx.vms);
        });
      }
      arr(p.move).forEach((m, j) => {
        if (typeof m.vm === 'string' && !ctx.vms.has(m.vm))
          refs.unknown([...at, 'move', j, 'vm'], 'VM', m.vm, ctx.vms);
        refs.node([...at, 'move', j, 'to'], m.to);
      });
      arr(p.bulkMembers).forEach((b, j) => {
        if (typeof b.group === 'string' && !ctx.groups.has(b.group))
          refs.unknown([...at, 'bulkMembers', j, 'group'], 'security group', b.group, ctx.groups);
        if (typeof b.subnet === 'string' && !ctx.subnets.has(b.subnet))
          refs.unknown([...at, 'bulkMembers', j, 'subnet'], 'subnet', b.subnet, ctx.subnets);
      });
      arr(p.setFloatingIps).forEach((f, j) => {
        if (typeof f.vm === 'string' && !ctx.vms.has(f.vm))
          refs.unknown([...at, 'setFloatingIps', j, 'vm'], 'VM', f.vm, ctx.vms);
      });
      arr(p.setGroups).forEach((s, j) => {
        if (typeof s.vm === 'string' && !ctx.vms.has(s.vm))
          refs.unknown([...at, 'setGroups', j, 'vm'], 'VM', s.vm, ctx.vms);
        strs(s.groups).forEach((g, k) => {
          if (!ctx.groups.has(g))
            refs.unknown([...at, 'setGroups', j, 'groups', k], 'security group', g, ctx.groups);
        });
      });
      if (p.attempt === true && p.refused !== undefined)
        refs.error(
          [...at, 'attempt'],
          "a change is either 'refused' (judged by its error) or an 'attempt' (judged by the expectations after it), not both",
          "keep 'attempt: true' and check what was programmed afterwards",
          true,
        );
      if (typeof p.refused === 'string') {
        try {
          new RegExp(p.refused);
        } catch (err) {
          refs.error(
            [...at, 'refused'],
            `'refused' is not a regular expression: ${err instanceof Error ? err.message : String(err)}`,
            "a JavaScript regular expression the error message must match, e.g. 'unreachable.*frozen'",
          );
        }
      }
      return;
    }
    case 'expect': {
      if (Array.isArray(body))
        (body as Obj[]).forEach((c, j) => {
          checkCheck(ctx, c, [...at, j]);
        });
      else checkCheck(ctx, body as Obj, at);
      return;
    }
    case 'fault':
      checkFault(ctx, body as Obj, at);
      return;
    case 'wait-until':
      checkCheck(ctx, (body as Obj).condition as Obj, [...at, 'condition']);
      return;
    case 'measure': {
      const m = body as Obj;
      const stream = (m.stream ?? {}) as Obj;
      endpoint(ctx, [...at, 'stream', 'from'], stream.from);
      endpoint(ctx, [...at, 'stream', 'to'], stream.to);
      strs(m.conformance).forEach((id, j) => {
        if (!CATALOGUE.has(id))
          refs.unknown([...at, 'conformance', j], 'conformance ID', id, CATALOGUE.keys());
      });
      arr(m.during).forEach((s, j) => {
        checkStep(ctx, s, [...at, 'during', j]);
      });
      if (m.maxLossBeyondFaults !== undefined && m.maxLossWindow !== undefined)
        refs.error(
          [...at, 'maxLossBeyondFaults'],
          'a measure takes maxLossWindow or maxLossBeyondFaults, not both',
          'keep maxLossBeyondFaults to time the bound from the heal, or maxLossWindow for a fixed bound',
        );
      else if (m.maxLossBeyondFaults !== undefined && !hasTimedFault(arr(m.during)))
        refs.error(
          [...at, 'maxLossBeyondFaults'],
          'maxLossBeyondFaults bounds the loss by the faults held inside the measure, and this one has no fault with a duration',
          'add a `fault:` with `duration:` under `during:`, or use maxLossWindow',
        );
      return;
    }
    case 'chaos': {
      const c = body as Obj;
      arr(c.faults).forEach((f, j) => {
        checkFault(ctx, f, [...at, 'faults', j]);
        if (faultKind(String(f.kind))?.chaos === false) {
          const timed = FAULT_KINDS.filter((d) => d.duration).map((d) => d.kind);
          refs.error(
            [...at, 'faults', j, 'kind'],
            `fault '${String(f.kind)}' cannot be drawn by chaos: it has no revert`,
            `use a fault with a duration (${timed.join(', ')})`,
          );
        }
      });
      return;
    }
    default:
      return;
  }
}

function checkFault(ctx: StepRefs, fault: Obj, path: Path): void {
  const { refs } = ctx;
  const kind = String(fault.kind);
  const spec = faultKind(kind);
  if (!spec) return; // the schema names the registered kinds
  for (const key of spec.required) {
    if (!(key in fault))
      refs.error(
        path,
        `fault '${kind}' needs '${key}'`,
        `${kind} takes: ${[...spec.required, ...spec.optional].join(', ')}`,
      );
  }
  const allowed = new Set([
    'kind',
    ...spec.required,
    ...spec.optional,
    ...(spec.duration ? ['duration'] : []),
  ]);
  for (const key of Object.keys(fault)) {
    if (!allowed.has(key)) {
      refs.error(
        [...path, key],
        `fault '${kind}' does not take '${key}'`,
        `${kind} takes: ${[...allowed].join(', ')}`,
        true,
      );
    }
  }
  // Keys with one meaning for every kind that takes them.
  if ('link' in fault) refs.link([...path, 'link'], fault.link);
  if ('node' in fault) refs.node([...path, 'node'], fault.node);
  spec.references?.(ctx, fault, path);
}

/** A `within` budget the check cannot meet by construction is an error, not a silent floor. */
function checkBudget(ctx: StepRefs, check: Obj, kind: string, path: Path): void {
  if (check.within === undefined) return;
  let within: number;
  try {
    within = parseDuration(check.within);
  } catch {
    return; // the schema reports the malformed duration
  }
  const min = checkKind(kind)?.minimumMs?.((check[kind] ?? {}) as Obj);
  if (!min || within >= min.ms) return;
  ctx.refs.error(
    [...path, 'within'],
    `'within: ${String(check.within)}' cannot be met: a ${kind} check takes at least ${min.ms} ms (${min.why})`,
    `raise 'within' to at least ${min.ms}ms${min.listens ? ', or shorten its duration' : ''}`,
  );
}

function checkCheck(ctx: StepRefs, check: Obj, path: Path): void {
  const { refs } = ctx;
  const kind = oneKind(ctx, check, path, CHECK_KEYS, 'expectation');
  strs(check.conformance).forEach((id, j) => {
    if (!CATALOGUE.has(id)) refs.unknown([...path, 'conformance', j], 'conformance ID', id, CATALOGUE.keys());
  });
  if (!kind) return;
  checkBudget(ctx, check, kind, path);
  checkKind(kind)?.references?.(ctx, check[kind] as Obj, [...path, kind]);
}

/** An L3 gateway's interfaces (GW-8): known subnets, one each, an address of the subnet but not its anycast one. */
function checkGatewayRouting(
  refs: Refs,
  g: Obj,
  at: Path,
  known: { subnets: Set<string>; cidrOf: Map<string, string>; anycastOf: Map<string, string> },
): void {
  const routing = g.routing as Obj | undefined;
  if (!routing) return;
  const seen = new Set<string>();
  arr(routing.interfaces).forEach((itf, j) => {
    const iat = [...at, 'routing', 'interfaces', j];
    const subnet = itf.subnet;
    if (typeof subnet !== 'string') return;
    if (!known.subnets.has(subnet)) {
      refs.unknown([...iat, 'subnet'], 'subnet', subnet, known.subnets);
      return;
    }
    if (seen.has(subnet))
      refs.error([...iat, 'subnet'], `subnet '${subnet}' has two interfaces on gateway '${String(g.name)}'`);
    seen.add(subnet);
    const cidr = known.cidrOf.get(subnet);
    if (typeof itf.address !== 'string' || !isIpv4(itf.address) || !cidr) return;
    if (!inCidr(itf.address, cidr))
      refs.error([...iat, 'address'], `${itf.address} is outside subnet '${subnet}' (${cidr})`);
    else if (known.anycastOf.get(subnet) === itf.address)
      refs.error(
        [...iat, 'address'],
        `${itf.address} is subnet '${subnet}''s anycast gateway`,
        'give the gateway an address of its own in the subnet',
      );
  });
}

/** Gateways and the bare-metal hosts behind them: nodes, subnets, zones, one binding per port + VLAN. */
function checkGateways(
  refs: Refs,
  intent: Obj,
  ip: Path,
  known: {
    subnets: Set<string>;
    zones: Set<string>;
    cidrOf: Map<string, string>;
    anycastOf: Map<string, string>;
  },
): void {
  const gateways = uniqueNames(refs, arr(intent.gateways), [...ip, 'gateways'], 'gateway');
  const boundAt = new Map<string, string>();
  arr(intent.gateways).forEach((g, i) => {
    const at = [...ip, 'gateways', i];
    refs.node([...at, 'name'], g.name);
    if (typeof g.zone === 'string' && known.zones.size > 0 && !known.zones.has(g.zone))
      refs.unknown([...at, 'zone'], 'zone', g.zone, known.zones);
    arr(g.bindings).forEach((b, j) => {
      const bat = [...at, 'bindings', j];
      if (typeof b.subnet === 'string' && !known.subnets.has(b.subnet))
        refs.unknown([...bat, 'subnet'], 'subnet', b.subnet, known.subnets);
      const key = `${String(g.name)}/${String(b.port)}/${Number(b.vlan ?? 0)}`;
      if (boundAt.has(key))
        refs.error(
          bat,
          `port ${String(b.port)} VLAN ${Number(b.vlan ?? 0)} of gateway '${String(g.name)}' is already bound to subnet '${boundAt.get(key)}'`,
          'one subnet per port + VLAN',
        );
      boundAt.set(key, String(b.subnet));
    });
    checkGatewayRouting(refs, g, at, known);
  });
  const routers = new Set(
    arr(intent.gateways)
      .filter((g) => g.routing !== undefined)
      .map((g) => String(g.name)),
  );
  arr(intent.externals).forEach((e, i) => {
    if (typeof e.gateway === 'string' && !routers.has(e.gateway))
      refs.unknown(
        [...ip, 'externals', i, 'gateway'],
        'L3 gateway (a gateway with `routing`)',
        e.gateway,
        routers,
      );
  });
  arr(intent.bareMetal).forEach((h, i) => {
    const at = [...ip, 'bareMetal', i];
    if (typeof h.gateway === 'string' && !gateways.has(h.gateway)) {
      refs.unknown([...at, 'gateway'], 'gateway', h.gateway, gateways);
      return;
    }
    refs.node([...at, 'node'], h.node ?? h.name);
    const subnet = boundAt.get(`${String(h.gateway)}/${String(h.port)}/${Number(h.vlan ?? 0)}`);
    if (!subnet) {
      refs.error(
        [...at, 'port'],
        `port ${String(h.port)} VLAN ${Number(h.vlan ?? 0)} of gateway '${String(h.gateway)}' is bound to no subnet`,
        "add a binding to the gateway's `bindings`",
      );
      return;
    }
    const cidr = known.cidrOf.get(subnet);
    if (typeof h.ip === 'string' && cidr && isIpv4(h.ip) && !inCidr(h.ip, cidr))
      refs.error([...at, 'ip'], `${h.ip} is outside subnet '${subnet}' (${cidr}) bound at its port`);
  });
}
