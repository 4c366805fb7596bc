/**
 * The intent oracle: the expected verdict of every reachability-matrix cell, computed from the
 * scenario's intent alone — never from the system under test, and sharing no code with any
 * implementation. Each cell says reach/drop, why (for the report), the address probed, the path the
 * packets must take (service chains) and any address translation (floating IPs, PNAT).
 *
 * Semantics (docs/scenarios.md, "The oracle"):
 * - Tenant isolation: endpoints of different tenants never reach each other (overlapping addresses
 *   included: a destination address is looked up in the source's own domain only).
 * - Same subnet: bridged, reachable. Different subnets of one routing domain: routed, reachable when
 *   both subnets have a gateway. Different domains: isolated.
 * - Security groups: rules allow traffic from a group (or `any`, or a CIDR) to a group on a protocol
 *   and destination ports. A domain with at least one rule that applies to it denies everything no
 *   rule allows — inside a subnet too (microsegmentation). Stateful: the replies of an allowed
 *   connection always pass; unsolicited traffic the other way needs its own rule.
 * - Floating IPs: an outside host reaches a VM only through the VM's floating IP (its private address
 *   is refused); a VM reaches the outside with its floating IP as source, or with PNAT (its
 *   hypervisor's address) when its domain has `pnat`, else not at all. Security groups apply to
 *   outside traffic as well (`any` or a CIDR matching the outside address).
 * - Service chains: an allowed connection matching a chain goes through its appliances in order, and
 *   its replies come back through the same appliances in reverse order. An unavailable appliance
 *   drops the chained traffic.
 * - A VM whose hypervisor (or own node) is down reaches nothing and is reached by nothing.
 * - A bare-metal host behind a hardware gateway is a member of the subnet its port + VLAN is bound
 *   to, in no security group; it reaches that subnet only (an L2 gateway: no routing, floating IP or
 *   PNAT for it); a down gateway cuts it off like a down hypervisor.
 * - A host on the outside segment of an L3 gateway (GW-8) and a VM reach each other on their own
 *   addresses when the gateway routes the VM's subnet (an interface of its `routing`) and is up;
 *   security groups apply as to any outside address. Other VMs do not reach it.
 */
import {
  type External,
  type Intent,
  IntentIndex,
  inCidr,
  isCidr,
  type Proto,
  type Rule,
  type Vm,
} from '../scenario/intent.ts';

export interface ProbeSpec {
  proto: 'icmp' | 'tcp' | 'udp';
  port: number | undefined;
  /**
   * Source port. Never changes a verdict: rules match destination ports, and a packet from a service
   * port that opens no allowed connection is unsolicited (stateful), whatever its source port.
   */
  sport?: number | undefined;
}

export interface Endpoint {
  name: string;
  kind: 'vm' | 'bare-metal' | 'external';
  ip: string;
}

export type CellVerdict = 'reach' | 'drop';

export interface ExpectedCell {
  from: string;
  to: string;
  probe: ProbeSpec;
  /** The address the source sends to (a floating IP for outside → VM). */
  address: string;
  verdict: CellVerdict;
  /** Why, in words, for the report. */
  reason: string;
  /** Replies of this connection (stateful): reach whenever the connection does. */
  reply: CellVerdict;
  /** Endpoints and appliances the request traverses, in order. */
  path: string[];
  /** Appliances the replies traverse, in order (reverse of the request's). */
  replyPath: string[];
  /** Source address the destination sees, when translated. */
  natSource: string | undefined;
  /** True when set by a scenario override rather than computed. */
  overridden: boolean;
}

export interface OracleOptions {
  /** Endpoints to include (VM or external names); default: every attached VM and every external. */
  among?: string[] | undefined;
  probes?: ProbeSpec[];
  /** Lab nodes that are down (killed/paused hypervisors or VM nodes). */
  down?: ReadonlySet<string>;
  overrides?: Array<{
    from: string;
    to: string;
    probe?: string | undefined;
    expect: CellVerdict;
    reason?: string | undefined;
  }>;
}

export function probeKey(p: ProbeSpec): string {
  if (p.proto === 'icmp') return 'icmp';
  return p.sport === undefined ? `${p.proto}/${p.port}` : `${p.proto}/${p.port} sport ${p.sport}`;
}

/** The endpoints of a matrix: VMs (attached ones by default) and external hosts. */
export function endpoints(intent: Intent, among?: string[]): Endpoint[] {
  const all: Array<Endpoint & { attached: boolean }> = [
    ...intent.vms.map((vm) => ({ name: vm.name, kind: 'vm' as const, ip: vm.ip, attached: vm.attached })),
    ...intent.bareMetal.map((host) => ({
      name: host.name,
      kind: 'bare-metal' as const,
      ip: host.ip,
      attached: true,
    })),
    ...intent.externals.map((ext) => ({
      name: ext.name,
      kind: 'external' as const,
      ip: ext.ip,
      attached: true,
    })),
  ];
  const chosen = among ? all.filter((e) => among.includes(e.name)) : all.filter((e) => e.attached);
  return chosen.map(({ name, kind, ip }) => ({ name, kind, ip }));
}

export class Oracle {
  private readonly idx: IntentIndex;

  constructor(
    readonly intent: Intent,
    private readonly down: ReadonlySet<string> = new Set(),
  ) {
    this.idx = new IntentIndex(intent);
  }

  /** Every cell of among × among × probes (no self pairs; no outside → outside pairs). */
  matrix(options: OracleOptions = {}): ExpectedCell[] {
    const probes = options.probes ?? [{ proto: 'icmp', port: undefined }];
    const eps = endpoints(this.intent, options.among);
    const cells: ExpectedCell[] = [];
    for (const from of eps) {
      for (const to of eps) {
        if (from.name === to.name) continue;
        if (from.kind === 'external' && to.kind === 'external') continue;
        for (const probe of probes) cells.push(this.cell(from.name, to.name, probe));
      }
    }
    return applyOverrides(cells, options.overrides ?? []);
  }

  /** The site (an external with a domain) in a VM ↔ external cell, if it is one. */
  private federatedSite(
    srcVm: Vm | undefined,
    dstVm: Vm | undefined,
    srcExt: External | undefined,
    dstExt: External | undefined,
  ): External | undefined {
    if (srcVm && dstExt?.domain) return dstExt;
    if (dstVm && srcExt?.domain) return srcExt;
    return undefined;
  }

  /** The expected verdict of one connection attempt from `from` to `to`. */
  cell(from: string, to: string, probe: ProbeSpec): ExpectedCell {
    // A bare-metal host behind a gateway is a member of the subnet bound at its port + VLAN (GW-2).
    const srcVm = this.idx.vms.get(from) ?? this.idx.bareMetalAsVm(from);
    const dstVm = this.idx.vms.get(to) ?? this.idx.bareMetalAsVm(to);
    const srcExt = this.idx.externals.get(from);
    const dstExt = this.idx.externals.get(to);
    const make = (
      verdict: CellVerdict,
      reason: string,
      address: string,
      extra: Partial<Pick<ExpectedCell, 'path' | 'replyPath' | 'natSource'>> = {},
    ): ExpectedCell => ({
      from,
      to,
      probe,
      address,
      verdict,
      reason,
      reply: verdict,
      path: extra.path ?? [from, to],
      replyPath: extra.replyPath ?? [to, from],
      natSource: extra.natSource,
      overridden: false,
    });

    const bareMetal = [from, to].find((n) => this.idx.bareMetal.has(n));
    if (bareMetal) {
      const other = srcVm && dstVm ? this.idx.subnetOf(srcVm).name !== this.idx.subnetOf(dstVm).name : true;
      if (other)
        return make(
          'drop',
          `${bareMetal} sits behind an L2 hardware gateway: it reaches its own subnet only (no routing, floating IP or PNAT for it)`,
          dstVm?.ip ?? dstExt?.ip ?? '',
        );
    }
    if (srcVm && dstVm) return this.vmToVm(srcVm, dstVm, probe, make);
    const outside = srcVm && dstExt?.gateway ? dstExt : dstVm && srcExt?.gateway ? srcExt : undefined;
    if (outside) {
      const vm = (srcVm ?? dstVm)!;
      const address = dstVm?.ip ?? dstExt!.ip;
      const unavailable = this.unavailable(vm);
      if (unavailable) return make('drop', unavailable, address);
      const gw = outside.gateway!;
      if (this.down.has(gw)) return make('drop', `L3 gateway ${gw} is down`, address);
      const subnet = this.idx.subnetOf(vm).name;
      const itf = this.idx.gateways.get(gw)?.routing?.interfaces.find((i) => i.subnet === subnet);
      if (!itf)
        return make(
          'drop',
          `${outside.name} is on the outside segment of L3 gateway ${gw}, which does not route subnet ${subnet} of ${vm.name}`,
          address,
        );
      const domain = this.idx.domainOf(vm).name;
      const sg = srcVm
        ? this.securityVerdict(domain, { vm: srcVm }, { ip: outside.ip }, probe)
        : this.securityVerdict(domain, { ip: outside.ip }, { vm: dstVm! }, probe);
      if (!sg.allowed) return make('drop', sg.reason, address);
      return make(
        'reach',
        `routed by L3 gateway ${gw} (its address ${itf.address} in ${subnet}); ${sg.reason}`,
        address,
      );
    }
    const site = this.federatedSite(srcVm, dstVm, srcExt, dstExt);
    if (site) {
      const vm = (srcVm ?? dstVm)!;
      const unavailable = this.unavailable(vm);
      if (unavailable) return make('drop', unavailable, dstVm?.ip ?? dstExt!.ip);
      const domain = this.idx.domainOf(vm);
      if (site.domain !== domain.name || domain.vni === undefined)
        return make(
          'drop',
          `${site.name} is a site of domain ${site.domain}, ${vm.name} is in ${domain.name}${domain.vni === undefined ? ' (no L3 VNI)' : ''}: the PE's VRF has no route to it`,
          dstVm?.ip ?? dstExt!.ip,
        );
      const sg = srcVm
        ? this.securityVerdict(domain.name, { vm: srcVm }, { ip: site.ip }, probe)
        : this.securityVerdict(domain.name, { ip: site.ip }, { vm: dstVm! }, probe);
      if (!sg.allowed) return make('drop', sg.reason, dstVm?.ip ?? dstExt!.ip);
      return make(
        'reach',
        `site ${site.name} of domain ${domain.name}: routed over L3 VNI ${domain.vni} through the PE; ${sg.reason}`,
        dstVm?.ip ?? dstExt!.ip,
      );
    }
    if (srcVm && dstExt) {
      const unavailable = this.unavailable(srcVm);
      if (unavailable) return make('drop', unavailable, dstExt.ip);
      const fip = this.intent.floatingIps.find((f) => f.vm === srcVm.name);
      const domain = this.idx.domainOf(srcVm);
      const sg = this.securityVerdict(domain.name, { vm: srcVm }, { ip: dstExt.ip }, probe);
      if (!sg.allowed) return make('drop', sg.reason, dstExt.ip);
      if (fip)
        return make('reach', `outbound via floating IP ${fip.ip}; ${sg.reason}`, dstExt.ip, {
          natSource: fip.ip,
        });
      if (domain.pnat) {
        return make('reach', `outbound via PNAT (hypervisor ${srcVm.hypervisor}); ${sg.reason}`, dstExt.ip, {
          natSource: `pnat:${srcVm.hypervisor}`,
        });
      }
      return make(
        'drop',
        `${srcVm.name} has no floating IP and domain ${domain.name} has no PNAT`,
        dstExt.ip,
      );
    }
    if (srcExt && dstVm) {
      const fip = this.intent.floatingIps.find((f) => f.vm === dstVm.name);
      if (!fip)
        return make(
          'drop',
          `${dstVm.name} has no floating IP: its private address is not reachable from outside`,
          dstVm.ip,
        );
      const unavailable = this.unavailable(dstVm);
      if (unavailable) return make('drop', unavailable, fip.ip);
      const domain = this.idx.domainOf(dstVm);
      const sg = this.securityVerdict(domain.name, { ip: srcExt.ip }, { vm: dstVm }, probe);
      if (!sg.allowed) return make('drop', sg.reason, fip.ip);
      return make('reach', `inbound via floating IP ${fip.ip}; ${sg.reason}`, fip.ip);
    }
    return make('drop', 'outside hosts are not connected to each other by the overlay', dstExt?.ip ?? '');
  }

  private unavailable(vm: Vm): string | undefined {
    if (!vm.attached) return `${vm.name} is detached`;
    if (this.down.has(vm.hypervisor)) return `hypervisor ${vm.hypervisor} of ${vm.name} is down`;
    const node = vm.node ?? vm.name;
    if (this.down.has(node)) return `${vm.name} is down`;
    return undefined;
  }

  private vmToVm(
    src: Vm,
    dst: Vm,
    probe: ProbeSpec,
    make: (
      verdict: CellVerdict,
      reason: string,
      address: string,
      extra?: Partial<Pick<ExpectedCell, 'path' | 'replyPath' | 'natSource'>>,
    ) => ExpectedCell,
  ): ExpectedCell {
    for (const vm of [src, dst]) {
      const unavailable = this.unavailable(vm);
      if (unavailable) return make('drop', unavailable, dst.ip);
    }
    const srcDomain = this.idx.domainOf(src);
    const dstDomain = this.idx.domainOf(dst);
    if (srcDomain.tenant !== dstDomain.tenant) {
      return make('drop', `tenant isolation (${srcDomain.tenant} vs ${dstDomain.tenant})`, dst.ip);
    }
    if (srcDomain.name !== dstDomain.name) {
      return make('drop', `different routing domains (${srcDomain.name} vs ${dstDomain.name})`, dst.ip);
    }
    const srcSubnet = this.idx.subnetOf(src);
    const dstSubnet = this.idx.subnetOf(dst);
    let how: string;
    if (srcSubnet.name === dstSubnet.name) {
      how = `same subnet ${srcSubnet.name} (bridged)`;
    } else {
      if (!srcSubnet.gateway || !dstSubnet.gateway) {
        const missing = !srcSubnet.gateway ? srcSubnet.name : dstSubnet.name;
        return make('drop', `subnet ${missing} has no gateway: not routed`, dst.ip);
      }
      how = `routed ${srcSubnet.name} → ${dstSubnet.name} in ${srcDomain.name}`;
    }
    const sg = this.securityVerdict(srcDomain.name, { vm: src }, { vm: dst }, probe);
    if (!sg.allowed) return make('drop', `${how}; ${sg.reason}`, dst.ip);
    const chain = this.chainFor(src, dst, probe);
    if (chain) {
      const hops: string[] = [];
      const notes: string[] = [];
      for (const [i, appliance] of chain.via.entries()) {
        const unavailable = this.applianceUnavailable(appliance);
        if (!unavailable) {
          hops.push(appliance);
          continue;
        }
        // SVC-5: the hop's standby takes over while the active appliance is unavailable.
        const standby = chain.standby[i];
        if (standby && !this.applianceUnavailable(standby)) {
          hops.push(standby);
          notes.push(`standby ${standby} replaces ${appliance} (${unavailable})`);
          continue;
        }
        return make('drop', `${how}; chain ${chain.name}: ${unavailable}`, dst.ip);
      }
      const through = [`through chain ${chain.name}`, ...notes].join('; ');
      return make('reach', `${how}; ${sg.reason}; ${through}`, dst.ip, {
        path: [src.name, ...hops, dst.name],
        replyPath: [dst.name, ...[...hops].reverse(), src.name],
      });
    }
    return make('reach', `${how}; ${sg.reason}`, dst.ip);
  }

  private applianceUnavailable(name: string): string | undefined {
    const vm = this.idx.vms.get(name);
    return vm ? this.unavailable(vm) : `appliance ${name} unknown`;
  }

  private chainFor(src: Vm, dst: Vm, probe: ProbeSpec) {
    return this.intent.serviceChains.find(
      (c) =>
        vmSelected(c.from, src) &&
        vmSelected(c.to, dst) &&
        protoMatches(c.proto, probe) &&
        portMatches(c.ports, probe) &&
        ![...c.via, ...c.standby].includes(src.name) &&
        ![...c.via, ...c.standby].includes(dst.name),
    );
  }

  /** Rules that apply to a domain: its own, plus domain-less rules naming its groups (or only any/CIDRs). */
  rulesFor(domain: string): Rule[] {
    return this.intent.rules.filter((rule) => {
      if (rule.domain !== undefined) return rule.domain === domain;
      const sides = [rule.from, rule.to].filter((s) => s !== 'any' && !isCidr(s));
      if (sides.length === 0) return true;
      return sides.some((group) => this.groupInDomain(group, domain));
    });
  }

  private groupInDomain(group: string, domain: string): boolean {
    const g = this.idx.groups.get(group);
    if (g?.domain !== undefined) return g.domain === domain;
    return this.intent.vms.some((vm) => vm.groups.includes(group) && this.idx.domainOf(vm).name === domain);
  }

  private securityVerdict(
    domain: string,
    src: { vm?: Vm; ip?: string },
    dst: { vm?: Vm; ip?: string },
    probe: ProbeSpec,
  ): { allowed: boolean; reason: string } {
    const rules = this.rulesFor(domain);
    if (rules.length === 0) return { allowed: true, reason: 'no security rules in the domain' };
    const rule = rules.find(
      (r) =>
        endpointSelected(r.from, src) &&
        endpointSelected(r.to, dst) &&
        protoMatches(r.proto, probe) &&
        portMatches(r.ports, probe),
    );
    if (rule) return { allowed: true, reason: `allowed by rule ${describeRule(rule)}` };
    return { allowed: false, reason: `no rule allows ${probeKey(probe)} (default deny)` };
  }
}

function describeRule(r: Rule): string {
  const ports = r.ports.length
    ? `/${r.ports.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(',')}`
    : '';
  return `${r.from}→${r.to} ${r.proto}${ports}`;
}

function vmSelected(selector: string, vm: Vm): boolean {
  return selector === 'any' || selector === vm.name || vm.groups.includes(selector);
}

function endpointSelected(selector: string, ep: { vm?: Vm; ip?: string }): boolean {
  if (selector === 'any') return true;
  if (isCidr(selector)) {
    const ip = ep.vm?.ip ?? ep.ip;
    return ip !== undefined && inCidr(ip, selector);
  }
  return ep.vm?.groups.includes(selector) === true;
}

function protoMatches(proto: Proto, probe: ProbeSpec): boolean {
  return proto === 'any' || proto === probe.proto;
}

function portMatches(ports: Array<[number, number]>, probe: ProbeSpec): boolean {
  if (ports.length === 0) return true;
  if (probe.port === undefined) return false;
  return ports.some(([a, b]) => probe.port! >= a && probe.port! <= b);
}

function applyOverrides(
  cells: ExpectedCell[],
  overrides: NonNullable<OracleOptions['overrides']>,
): ExpectedCell[] {
  if (overrides.length === 0) return cells;
  return cells.map((cell) => {
    const o = [...overrides]
      .reverse()
      .find(
        (x) =>
          (x.from === '*' || x.from === cell.from) &&
          (x.to === '*' || x.to === cell.to) &&
          (x.probe === undefined || x.probe === probeKey(cell.probe)),
      );
    if (!o) return cell;
    return {
      ...cell,
      verdict: o.expect,
      reply: o.expect,
      reason: `override: ${o.reason ?? `expected ${o.expect} by the scenario`} (oracle: ${cell.verdict}, ${cell.reason})`,
      overridden: true,
    };
  });
}

/** Convenience: the whole expected matrix for an intent. */
export function expectedMatrix(intent: Intent, options: OracleOptions = {}): ExpectedCell[] {
  return new Oracle(intent, options.down ?? new Set()).matrix(options);
}
