import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { emptyIntent, type Intent, type Rule, type Vm } from '../scenario/intent.ts';
import { expectedMatrix, Oracle, type ProbeSpec } from './index.ts';

const icmp: ProbeSpec = { proto: 'icmp', port: undefined };
const tcp = (port: number): ProbeSpec => ({ proto: 'tcp', port });

function vm(name: string, subnet: string, ip: string, groups: string[] = [], hypervisor = 'hv1'): Vm {
  return {
    name,
    subnet,
    hypervisor,
    ip,
    mac: undefined,
    groups,
    node: undefined,
    iface: 'eth1',
    port: undefined,
    attached: true,
  };
}

function rule(
  from: string,
  to: string,
  proto: Rule['proto'] = 'any',
  ports: Array<[number, number]> = [],
): Rule {
  return { from, to, proto, ports, domain: undefined };
}

/** Two tenants with the same addresses; acme has two routed subnets, globex one. */
function twoTenants(): Intent {
  const intent = emptyIntent();
  intent.tenants = [{ name: 'acme' }, { name: 'globex' }];
  intent.domains = [
    { name: 'acme-d', tenant: 'acme', vni: undefined, pnat: false, zone: undefined },
    { name: 'globex-d', tenant: 'globex', vni: undefined, pnat: false, zone: undefined },
  ];
  intent.subnets = [
    {
      name: 'web',
      domain: 'acme-d',
      cidr: '10.1.0.0/24',
      vni: 100,
      gateway: '10.1.0.1',
      routeTarget: undefined,
    },
    {
      name: 'db',
      domain: 'acme-d',
      cidr: '10.2.0.0/24',
      vni: 101,
      gateway: '10.2.0.1',
      routeTarget: undefined,
    },
    {
      name: 'g-web',
      domain: 'globex-d',
      cidr: '10.1.0.0/24',
      vni: 200,
      gateway: '10.1.0.1',
      routeTarget: undefined,
    },
  ];
  intent.vms = [
    vm('a1', 'web', '10.1.0.11', [], 'hv1'),
    vm('a2', 'web', '10.1.0.12', [], 'hv2'),
    vm('a3', 'db', '10.2.0.13', [], 'hv2'),
    vm('g1', 'g-web', '10.1.0.11', [], 'hv1'),
  ];
  return intent;
}

function verdict(cells: ReturnType<typeof expectedMatrix>, from: string, to: string, probe = 'icmp'): string {
  const cell = cells.find(
    (c) =>
      c.from === from &&
      c.to === to &&
      (c.probe.proto === 'icmp' ? 'icmp' : `${c.probe.proto}/${c.probe.port}`) === probe,
  );
  if (!cell) throw new Error(`no cell ${from}→${to} ${probe}`);
  return cell.verdict;
}

describe('oracle: forwarding', () => {
  it('isolates tenants even with overlapping addresses, bridges a subnet and routes inside a domain', () => {
    const cells = expectedMatrix(twoTenants());
    expect(verdict(cells, 'a1', 'a2')).toBe('reach');
    expect(verdict(cells, 'a1', 'a3')).toBe('reach');
    expect(verdict(cells, 'a1', 'g1')).toBe('drop');
    expect(verdict(cells, 'g1', 'a1')).toBe('drop');
    expect(cells.find((c) => c.from === 'a1' && c.to === 'g1')!.reason).toMatch(/tenant isolation/);
    expect(cells).toHaveLength(4 * 3);
  });

  it('does not route a subnet without a gateway', () => {
    const intent = twoTenants();
    intent.subnets[1]!.gateway = undefined;
    const cells = expectedMatrix(intent);
    expect(verdict(cells, 'a1', 'a3')).toBe('drop');
    expect(verdict(cells, 'a1', 'a2')).toBe('reach');
  });

  it('leaves detached VMs out and drops cells of VMs whose hypervisor is down', () => {
    const intent = twoTenants();
    intent.vms[1]!.attached = false;
    expect(expectedMatrix(intent).some((c) => c.from === 'a2' || c.to === 'a2')).toBe(false);
    const down = expectedMatrix(twoTenants(), { down: new Set(['hv2']) });
    expect(verdict(down, 'a1', 'a2')).toBe('drop');
    expect(down.find((c) => c.from === 'a1' && c.to === 'a2')!.reason).toMatch(/hypervisor hv2/);
  });

  it('applies overrides last and says so', () => {
    const cells = expectedMatrix(twoTenants(), {
      overrides: [{ from: 'a1', to: '*', expect: 'drop', reason: 'a1 unplugged' }],
    });
    const cell = cells.find((c) => c.from === 'a1' && c.to === 'a2')!;
    expect(cell.verdict).toBe('drop');
    expect(cell.overridden).toBe(true);
    expect(cell.reason).toMatch(/a1 unplugged.*oracle: reach/);
    expect(verdict(cells, 'a2', 'a1')).toBe('reach');
  });
});

/** The seed's multi-tier rule table (SG-1). */
function threeTier(): Intent {
  const intent = emptyIntent();
  intent.tenants = [{ name: 't' }];
  intent.domains = [{ name: 'd', tenant: 't', vni: undefined, pnat: false, zone: undefined }];
  intent.subnets = [
    { name: 'front', domain: 'd', cidr: '10.0.1.0/24', vni: 1, gateway: '10.0.1.1', routeTarget: undefined },
    { name: 'back', domain: 'd', cidr: '10.0.2.0/24', vni: 2, gateway: '10.0.2.1', routeTarget: undefined },
  ];
  intent.groups = ['web', 'app', 'db', 'mgmt'].map((name) => ({ name, domain: undefined }));
  intent.vms = [
    vm('web1', 'front', '10.0.1.10', ['web']),
    vm('app1', 'front', '10.0.1.20', ['app']),
    vm('db1', 'back', '10.0.2.30', ['db']),
    vm('mgmt1', 'back', '10.0.2.40', ['mgmt']),
  ];
  intent.rules = [
    rule('any', 'web', 'tcp', [
      [80, 80],
      [443, 443],
    ]),
    rule('web', 'app', 'tcp', [[9000, 9000]]),
    rule('app', 'db', 'tcp', [[3306, 3306]]),
    rule('mgmt', 'any', 'tcp', [[22, 22]]),
  ];
  return intent;
}

describe('oracle: security groups', () => {
  const probes = [icmp, tcp(22), tcp(80), tcp(443), tcp(3306), tcp(9000)];
  const cells = expectedMatrix(threeTier(), { probes });

  it('follows the seed rule table cell by cell (SG-1)', () => {
    expect(verdict(cells, 'app1', 'web1', 'tcp/80')).toBe('reach');
    expect(verdict(cells, 'db1', 'web1', 'tcp/443')).toBe('reach');
    expect(verdict(cells, 'web1', 'app1', 'tcp/9000')).toBe('reach');
    expect(verdict(cells, 'web1', 'app1', 'tcp/80')).toBe('drop');
    expect(verdict(cells, 'app1', 'db1', 'tcp/3306')).toBe('reach');
    expect(verdict(cells, 'web1', 'db1', 'tcp/3306')).toBe('drop');
    for (const to of ['web1', 'app1', 'db1']) expect(verdict(cells, 'mgmt1', to, 'tcp/22')).toBe('reach');
    expect(verdict(cells, 'web1', 'mgmt1', 'tcp/22')).toBe('drop');
    expect(verdict(cells, 'web1', 'app1', 'icmp')).toBe('drop');
  });

  it('is stateful: the reverse of an allowed connection is not allowed unsolicited, its replies are (SG-2)', () => {
    const forward = cells.find((c) => c.from === 'app1' && c.to === 'db1' && c.probe.port === 3306)!;
    expect(forward.verdict).toBe('reach');
    expect(forward.reply).toBe('reach');
    expect(verdict(cells, 'db1', 'app1', 'tcp/3306')).toBe('drop');
  });

  it('filters inside a subnet like across subnets (SG-5)', () => {
    // web1 and app1 share subnet `front`.
    expect(verdict(cells, 'app1', 'web1', 'tcp/9000')).toBe('drop');
    expect(cells.find((c) => c.from === 'app1' && c.to === 'web1' && c.probe.port === 9000)!.reason).toMatch(
      /same subnet.*default deny/,
    );
  });

  it('uses CIDR rules for outside hosts and floating IPs for inbound, PNAT for outbound', () => {
    const intent = threeTier();
    intent.externals = [{ name: 'inet', node: 'inet', ip: '198.51.100.1', iface: 'eth1' }];
    intent.floatingIps = [{ ip: '203.0.113.10', vm: 'web1' }];
    intent.domains[0]!.pnat = true;
    intent.rules.push(rule('web', '198.51.100.0/24', 'tcp', [[443, 443]]));
    const m = expectedMatrix(intent, { probes });
    const inbound = m.find((c) => c.from === 'inet' && c.to === 'web1' && c.probe.port === 443)!;
    expect(inbound.verdict).toBe('reach');
    expect(inbound.address).toBe('203.0.113.10');
    expect(verdict(m, 'inet', 'app1', 'tcp/9000')).toBe('drop');
    const out = m.find((c) => c.from === 'web1' && c.to === 'inet' && c.probe.port === 443)!;
    expect(out.verdict).toBe('reach');
    expect(out.natSource).toBe('203.0.113.10');
    const mgmtOut = m.find((c) => c.from === 'mgmt1' && c.to === 'inet' && c.probe.port === 22)!;
    expect(mgmtOut.verdict).toBe('reach');
    expect(mgmtOut.natSource).toBe('pnat:hv1');
    intent.domains[0]!.pnat = false;
    expect(verdict(expectedMatrix(intent, { probes }), 'mgmt1', 'inet', 'tcp/22')).toBe('drop');
  });

  it('routes chained traffic through the appliances and back the same way', () => {
    const intent = twoTenants();
    intent.vms.push(vm('fw', 'web', '10.1.0.254', [], 'hv3'));
    intent.serviceChains = [
      {
        name: 'c1',
        from: 'a1',
        to: 'a3',
        proto: 'tcp',
        ports: [[80, 80]],
        via: ['fw'],
        standby: [],
        mode: 'l3',
      },
    ];
    const oracle = new Oracle(intent);
    const chained = oracle.cell('a1', 'a3', tcp(80));
    expect(chained.path).toEqual(['a1', 'fw', 'a3']);
    expect(chained.replyPath).toEqual(['a3', 'fw', 'a1']);
    expect(oracle.cell('a1', 'a3', tcp(22)).path).toEqual(['a1', 'a3']);
    expect(new Oracle(intent, new Set(['hv3'])).cell('a1', 'a3', tcp(80)).verdict).toBe('drop');
  });

  it('puts the standby in the path while the active appliance is down, and drops with both down (SVC-5)', () => {
    const intent = twoTenants();
    intent.vms.push(vm('fw1', 'web', '10.1.0.253', [], 'hv3'), vm('fw2', 'web', '10.1.0.254', [], 'hv4'));
    intent.serviceChains = [
      {
        name: 'c1',
        from: 'a1',
        to: 'a3',
        proto: 'any',
        ports: [],
        via: ['fw1'],
        standby: ['fw2'],
        mode: 'l3',
      },
    ];
    expect(new Oracle(intent).cell('a1', 'a3', tcp(80)).path).toEqual(['a1', 'fw1', 'a3']);
    const failed = new Oracle(intent, new Set(['fw1'])).cell('a1', 'a3', tcp(80));
    expect(failed.path).toEqual(['a1', 'fw2', 'a3']);
    expect(failed.replyPath).toEqual(['a3', 'fw2', 'a1']);
    expect(failed.reason).toMatch(/standby fw2 replaces fw1/);
    expect(new Oracle(intent, new Set(['fw1', 'fw2'])).cell('a1', 'a3', tcp(80)).verdict).toBe('drop');
  });
});

// ------------------------------------------------------------------------------------------------
// Property tests over random intents.

const GROUPS = ['g0', 'g1', 'g2'];
const PROBES: ProbeSpec[] = [icmp, tcp(22), tcp(80), { proto: 'udp', port: 53 }];

const arbRule = fc
  .record({
    from: fc.constantFrom('any', ...GROUPS),
    to: fc.constantFrom('any', ...GROUPS),
    proto: fc.constantFrom<Rule['proto']>('any', 'tcp', 'udp', 'icmp'),
    ports: fc.constantFrom<Array<[number, number]>>([], [[22, 22]], [[80, 80]], [[1, 100]], [[53, 53]]),
    domain: fc.constant(undefined),
  })
  .map((r) => (r.proto === 'icmp' || r.proto === 'any' ? { ...r, ports: [] } : r));

/** Random tenants/domains/subnets/VMs/groups/rules: 1–3 tenants, each with 1–2 domains of 1–2 subnets. */
const arbIntent = fc
  .record({
    tenants: fc.integer({ min: 1, max: 3 }),
    domainsPer: fc.integer({ min: 1, max: 2 }),
    subnetsPer: fc.integer({ min: 1, max: 2 }),
    gateways: fc.array(fc.boolean(), { minLength: 12, maxLength: 12 }),
    vms: fc.array(
      fc.record({ slot: fc.nat(), groups: fc.subarray(GROUPS), hv: fc.constantFrom('hv1', 'hv2', 'hv3') }),
      { minLength: 2, maxLength: 7 },
    ),
    rules: fc.array(arbRule, { maxLength: 4 }),
  })
  .map((spec): Intent => {
    const intent = emptyIntent();
    intent.groups = GROUPS.map((name) => ({ name, domain: undefined }));
    let subnetNo = 0;
    for (let t = 0; t < spec.tenants; t += 1) {
      intent.tenants.push({ name: `t${t}` });
      for (let d = 0; d < spec.domainsPer; d += 1) {
        const domain = `t${t}d${d}`;
        intent.domains.push({ name: domain, tenant: `t${t}`, vni: undefined, pnat: false, zone: undefined });
        for (let s = 0; s < spec.subnetsPer; s += 1) {
          // Same CIDRs in every tenant: overlapping addresses on purpose.
          intent.subnets.push({
            name: `${domain}s${s}`,
            domain,
            cidr: `10.${s}.0.0/24`,
            vni: 100 + subnetNo,
            gateway: spec.gateways[subnetNo % 12] ? `10.${s}.0.1` : undefined,
            routeTarget: undefined,
          });
          subnetNo += 1;
        }
      }
    }
    spec.vms.forEach((v, i) => {
      const subnet = intent.subnets[v.slot % intent.subnets.length]!;
      const s = subnet.cidr.split('.')[1];
      intent.vms.push(vm(`vm${i}`, subnet.name, `10.${s}.0.${10 + i}`, v.groups, v.hv));
    });
    intent.rules = spec.rules;
    return intent;
  });

function tenantOf(intent: Intent, vmName: string): string {
  const v = intent.vms.find((x) => x.name === vmName)!;
  const subnet = intent.subnets.find((s) => s.name === v.subnet)!;
  return intent.domains.find((d) => d.name === subnet.domain)!.tenant;
}

describe('oracle: properties', () => {
  it('tenant isolation holds for any intent and any rules (even any → any)', () => {
    fc.assert(
      fc.property(arbIntent, fc.boolean(), (intent, openAll) => {
        if (openAll) intent.rules.push(rule('any', 'any'));
        for (const cell of expectedMatrix(intent, { probes: PROBES })) {
          if (tenantOf(intent, cell.from) !== tenantOf(intent, cell.to)) expect(cell.verdict).toBe('drop');
        }
      }),
    );
  });

  it('adding an allow rule to a domain that already has rules never removes reachability', () => {
    fc.assert(
      fc.property(arbIntent, arbRule, (intent, extra) => {
        fc.pre(intent.rules.some((r) => r.from === 'any' && r.to === 'any') || intent.rules.length > 0);
        // Pin every rule to every domain so "the domain already enforces" holds for all of them.
        const pinned = intent.domains.flatMap((d) => intent.rules.map((r) => ({ ...r, domain: d.name })));
        const before = expectedMatrix({ ...intent, rules: pinned }, { probes: PROBES });
        const after = expectedMatrix(
          { ...intent, rules: [...pinned, ...intent.domains.map((d) => ({ ...extra, domain: d.name }))] },
          { probes: PROBES },
        );
        before.forEach((cell, i) => {
          if (cell.verdict === 'reach') expect(after[i]!.verdict).toBe('reach');
        });
      }),
    );
  });

  it('is stateful and direction-aware: replies of allowed connections pass; a one-way rule opens one way only', () => {
    fc.assert(
      fc.property(arbIntent, (intent) => {
        const cells = expectedMatrix(intent, { probes: PROBES });
        for (const cell of cells) expect(cell.reply).toBe(cell.verdict);
        // Every domain enforces (one pinned rule each); then a rule g0 → g1 tcp/80 changes no cell whose
        // source is not in g0: the reverse direction stays as it was.
        const pinned = intent.domains.map((d) => ({ ...rule('g2', 'g2', 'udp', [[9, 9]]), domain: d.name }));
        const base = expectedMatrix({ ...intent, rules: [...intent.rules, ...pinned] }, { probes: PROBES });
        const opened = expectedMatrix(
          { ...intent, rules: [...intent.rules, ...pinned, rule('g0', 'g1', 'tcp', [[80, 80]])] },
          { probes: PROBES },
        );
        base.forEach((cell, i) => {
          const src = intent.vms.find((v) => v.name === cell.from)!;
          if (!src.groups.includes('g0')) expect(opened[i]!.verdict).toBe(cell.verdict);
        });
      }),
    );
  });

  it('without rules, reachability is exactly "same tenant domain and (same subnet or both routed)"', () => {
    fc.assert(
      fc.property(arbIntent, (intent) => {
        intent.rules = [];
        for (const cell of expectedMatrix(intent)) {
          const a = intent.vms.find((v) => v.name === cell.from)!;
          const b = intent.vms.find((v) => v.name === cell.to)!;
          const sa = intent.subnets.find((s) => s.name === a.subnet)!;
          const sb = intent.subnets.find((s) => s.name === b.subnet)!;
          const want = sa.domain === sb.domain && (sa.name === sb.name || (!!sa.gateway && !!sb.gateway));
          expect(cell.verdict).toBe(want ? 'reach' : 'drop');
        }
      }),
    );
  });

  it('does not depend on the order of VMs or rules', () => {
    fc.assert(
      fc.property(arbIntent, (intent) => {
        const key = (c: { from: string; to: string; probe: ProbeSpec; verdict: string }) =>
          `${c.from}>${c.to}>${c.probe.proto}${c.probe.port ?? ''}=${c.verdict}`;
        const a = expectedMatrix(intent, { probes: PROBES }).map(key).sort();
        const b = expectedMatrix(
          { ...intent, vms: [...intent.vms].reverse(), rules: [...intent.rules].reverse() },
          { probes: PROBES },
        )
          .map(key)
          .sort();
        expect(b).toEqual(a);
      }),
    );
  });

  it('filters same-subnet pairs whenever their domain has rules (microsegmentation)', () => {
    fc.assert(
      fc.property(arbIntent, (intent) => {
        intent.rules = [rule('g0', 'g0', 'tcp', [[80, 80]])];
        for (const cell of expectedMatrix(intent, { probes: [tcp(22)] })) {
          const a = intent.vms.find((v) => v.name === cell.from)!;
          const b = intent.vms.find((v) => v.name === cell.to)!;
          const domainEnforced = [a, b].some(() =>
            intent.vms.some(
              (v) =>
                v.groups.includes('g0') &&
                intent.subnets.find((s) => s.name === v.subnet)!.domain ===
                  intent.subnets.find((s) => s.name === a.subnet)!.domain,
            ),
          );
          if (a.subnet === b.subnet && domainEnforced) expect(cell.verdict).toBe('drop');
        }
      }),
    );
  });
});

describe('an L3 gateway (GW-8): an outside segment routed to some subnets', () => {
  function routed(): Intent {
    const intent = twoTenants();
    intent.gateways = [
      {
        name: 'gw2',
        zone: undefined,
        tunnelIp: '10.0.6.2',
        ovsdb: undefined,
        bindings: [],
        routing: {
          outside: { port: 'eth3', address: '192.0.2.193/28' },
          interfaces: [
            { subnet: 'web', address: '10.1.0.254' },
            { subnet: 'db', address: '10.2.0.254' },
          ],
        },
      },
    ];
    intent.externals = [{ name: 'ext8', node: 'ext8', ip: '192.0.2.200', iface: 'eth1', gateway: 'gw2' }];
    return intent;
  }

  it('VMs of the routed subnets and the outside host reach each other on their own addresses', () => {
    const oracle = new Oracle(routed());
    for (const name of ['a1', 'a2', 'a3']) {
      const out = oracle.cell(name, 'ext8', icmp);
      expect(out.verdict, out.reason).toBe('reach');
      expect(out.address).toBe('192.0.2.200');
      expect(out.natSource).toBeUndefined();
      const back = oracle.cell('ext8', name, icmp);
      expect(back.verdict, back.reason).toBe('reach');
      expect(back.address).toBe(oracle.intent.vms.find((v) => v.name === name)!.ip);
    }
  });

  it('a subnet the gateway does not route (another tenant, same addresses) is cut off both ways', () => {
    const oracle = new Oracle(routed());
    expect(oracle.cell('g1', 'ext8', icmp).reason).toMatch(/does not route subnet g-web/);
    expect(oracle.cell('g1', 'ext8', icmp).verdict).toBe('drop');
    expect(oracle.cell('ext8', 'g1', icmp).verdict).toBe('drop');
  });

  it('one routed subnet less, a down gateway, a down hypervisor, a deny rule: dropped', () => {
    const oneLess = routed();
    oneLess.gateways[0]!.routing!.interfaces.pop();
    expect(new Oracle(oneLess).cell('a3', 'ext8', icmp).verdict).toBe('drop');
    expect(new Oracle(oneLess).cell('a1', 'ext8', icmp).verdict).toBe('reach');
    expect(new Oracle(routed(), new Set(['gw2'])).cell('a1', 'ext8', icmp).reason).toMatch(/gw2 is down/);
    expect(new Oracle(routed(), new Set(['hv1'])).cell('ext8', 'a1', icmp).verdict).toBe('drop');
    const guarded = routed();
    guarded.rules = [rule('any', 'any', 'tcp', [[80, 80]])];
    expect(new Oracle(guarded).cell('a1', 'ext8', icmp).verdict).toBe('drop');
  });
});
