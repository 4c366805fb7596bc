/**
 * The vtep check kind, the gateway intent and the ovsdb-session-drop fault: parsing, reference errors
 * with line and column, the oracle's bare-metal hosts, and the judgement of each aspect against vtep
 * tables written by hand (duplicates, strays, wrong locators and tunnel keys must fail). The checks run
 * end to end in scenarios/gw on labs/gw.clab.yml (docs/gateways.md).
 */
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { VtepTables } from '../../gateway/vtep-db.ts';
import { Oracle } from '../../oracle/index.ts';
import type { ScenarioContext } from '../context.ts';
import { SkipError } from '../context.ts';
import { scenarioErrorOf } from '../fixtures/scenario-errors.ts';
import { parseScenarioText } from '../parse.ts';
import { type VtepCheck, vtep } from './vtep.ts';

const LAB = resolve('labs/gw.clab.yml');
const FILE = resolve('scenarios/gw/oti-fixture.yml');

const scenario = (
  timeline: string,
  bareMetal = '{ name: bm1, gateway: gw1, port: eth2, ip: 198.51.100.50, mac: "02:00:16:00:00:50" }',
) => `name: fixture
conformance: [GW-3]
lab: ${LAB}
implementation: reference
intent:
  tenants: [{ name: t }]
  domains: [{ name: d, tenant: t }, { name: d2, tenant: t }]
  subnets:
    - { name: s, domain: d, cidr: 198.51.100.0/26, vni: 1601 }
    - { name: o, domain: d2, cidr: 192.0.2.0/24, vni: 1602 }
  gateways:
    - { name: gw1, zone: z1, tunnelIp: 10.0.5.2, bindings: [{ port: eth2, vlan: 0, subnet: s }] }
  bareMetal:
    - ${bareMetal}
  vms:
    - { name: a, subnet: s, hypervisor: hv1, ip: 198.51.100.11, mac: "02:00:16:00:00:01" }
    - { name: b, subnet: s, hypervisor: hv3, ip: 198.51.100.13, mac: "02:00:16:00:00:03" }
    - { name: c, subnet: o, hypervisor: hv2, ip: 192.0.2.12, mac: "02:00:16:00:00:02" }
timeline:
  - provision: all
${timeline}`;

const errorOf = (text: string) => scenarioErrorOf(text, FILE);
const EXPECT =
  '  - expect: { vtep: { gateway: gw1, tables: [registration, bindings, remote-macs, local-macs] } }';

function checkOf(text: string): { check: VtepCheck; s: ReturnType<typeof parseScenarioText> } {
  const s = parseScenarioText(text, FILE);
  const step = s.timeline[1];
  return { check: (step?.kind === 'expect' ? step.checks[0] : undefined) as VtepCheck, s };
}

const GOOD: VtepTables = {
  physicalSwitches: [{ name: 'gw1', tunnelIps: ['10.0.5.2'] }],
  logicalSwitches: [{ uuid: 'u1', name: 'vni-1601', tunnelKey: 1601 }],
  portBindings: [{ port: 'eth2', vlan: 0, logicalSwitch: 'vni-1601' }],
  remoteMacs: [
    { uuid: 'r1', mac: '02:00:16:00:00:01', logicalSwitch: 'vni-1601', locator: '10.0.1.2', ip: '' },
    { uuid: 'r3', mac: '02:00:16:00:00:03', logicalSwitch: 'vni-1601', locator: '10.0.3.2', ip: '' },
  ],
  localMacs: [{ mac: '02:00:16:00:00:50', logicalSwitch: 'vni-1601' }],
  managerSessions: 1,
};

/** Just what the check reads of a scenario context: the intent, the driver's tables, VTEP addresses. */
function fakeContext(
  s: ReturnType<typeof parseScenarioText>,
  tables: VtepTables | undefined,
): ScenarioContext {
  const vteps: Record<string, string> = { hv1: '10.0.1.2', hv2: '10.0.2.2', hv3: '10.0.3.2' };
  return {
    intent: s.intent,
    lab: { topology: { nodes: [{ name: 'gw1', labels: { 'otwin.gateway-profile': 'ovsdb' } }] } },
    driver: { name: 'fake', ...(tables ? { gatewayTables: async () => tables } : {}) },
    driverContext: () => ({}),
    vtepAddress: async (node: string) => vteps[node],
  } as unknown as ScenarioContext;
}

describe('vtep check and gateway intent', () => {
  it('parses the gateway, its bindings and a bare-metal host behind it (VLAN 0, iface eth1 by default)', () => {
    const { check, s } = checkOf(scenario(EXPECT));
    expect(check).toMatchObject({
      kind: 'vtep',
      gateway: 'gw1',
      tables: ['registration', 'bindings', 'remote-macs', 'local-macs'],
    });
    expect(s.intent.gateways).toEqual([
      {
        name: 'gw1',
        zone: 'z1',
        tunnelIp: '10.0.5.2',
        ovsdb: undefined,
        bindings: [{ port: 'eth2', vlan: 0, subnet: 's' }],
      },
    ]);
    expect(s.intent.bareMetal[0]).toMatchObject({ name: 'bm1', node: 'bm1', iface: 'eth1', vlan: 0 });
  });

  it('refuses an unknown gateway, an unbound port, an address outside the bound subnet and an unknown aspect', () => {
    expect(
      errorOf(scenario('  - expect: { vtep: { gateway: gw2, tables: [bindings] } }')).describe(),
    ).toMatch(/oti-fixture\.yml:\d+:\d+: unknown gateway 'gw2'/);
    expect(
      errorOf(
        scenario(EXPECT, '{ name: bm1, gateway: gw1, port: eth2, vlan: 7, ip: 198.51.100.50 }'),
      ).describe(),
    ).toMatch(/port eth2 VLAN 7 of gateway 'gw1' is bound to no subnet/);
    expect(
      errorOf(scenario(EXPECT, '{ name: bm1, gateway: gw1, port: eth2, ip: 192.0.2.50 }')).describe(),
    ).toMatch(/192\.0\.2\.50 is outside subnet 's' \(198\.51\.100\.0\/26\) bound at its port/);
    expect(errorOf(scenario('  - expect: { vtep: { gateway: gw1, tables: [flood] } }')).describe()).toMatch(
      /"flood" is not allowed here/,
    );
  });

  it('the oracle: a bare-metal host reaches its bound subnet only (not routed), nothing when its gateway is down', () => {
    const { s } = checkOf(scenario(EXPECT));
    const oracle = new Oracle(s.intent);
    const icmp = { proto: 'icmp' as const, port: undefined };
    expect(oracle.cell('bm1', 'a', icmp).verdict).toBe('reach');
    expect(oracle.cell('b', 'bm1', icmp).verdict).toBe('reach');
    expect(oracle.cell('bm1', 'c', icmp).reason).toMatch(/bm1 sits behind an L2 hardware gateway/);
    expect(new Oracle(s.intent, new Set(['gw1'])).cell('a', 'bm1', icmp).reason).toMatch(/gw1 .* is down/);
    expect(oracle.matrix().map((c) => `${c.from}>${c.to}`)).toContain('bm1>a');
  });

  it('passes on tables as the intent says', async () => {
    const { check, s } = checkOf(scenario(EXPECT));
    const r = await vtep.evaluate(check, fakeContext(s, GOOD));
    expect(r.summary).toMatch(/as the intent says/);
    expect(r.ok).toBe(true);
  });

  it.each([
    ['no controller session', { managerSessions: 0 }, /registration: no controller has an OVSDB session/],
    [
      'another tunnel IP',
      { physicalSwitches: [{ name: 'gw1', tunnelIps: ['10.0.9.9'] }] },
      /tunnel IPs \[10\.0\.9\.9\], not 10\.0\.5\.2/,
    ],
    [
      'a wrong tunnel key',
      { logicalSwitches: [{ uuid: 'u1', name: 'vni-1601', tunnelKey: 1602 }] },
      /bindings: port eth2 VLAN 0 → logical switch vni-1601 with tunnel key 1602, not subnet s's VNI 1601/,
    ],
    [
      'a binding the intent does not make',
      { portBindings: [...GOOD.portBindings, { port: 'eth2', vlan: 5, logicalSwitch: 'vni-1601' }] },
      /port eth2 VLAN 5 is bound to vni-1601, which the intent does not bind/,
    ],
    [
      'a missing row',
      { remoteMacs: GOOD.remoteMacs.slice(1) },
      /remote-macs: missing 1601\/02:00:16:00:00:01 \(a at hv1 10\.0\.1\.2\)/,
    ],
    [
      'a duplicate row',
      { remoteMacs: [...GOOD.remoteMacs, { ...GOOD.remoteMacs[0]!, uuid: 'r9' }] },
      /1601\/02:00:16:00:00:01 has 2 rows/,
    ],
    [
      'a stray row',
      {
        remoteMacs: [
          ...GOOD.remoteMacs,
          {
            uuid: 'x',
            mac: '02:00:ee:ee:ee:ee',
            logicalSwitch: 'vni-1601',
            locator: '10.255.255.254',
            ip: '',
          },
        ],
      },
      /extra 1601\/02:00:ee:ee:ee:ee at 10\.255\.255\.254/,
    ],
    [
      'a wrong locator',
      { remoteMacs: [GOOD.remoteMacs[0]!, { ...GOOD.remoteMacs[1]!, locator: '10.0.1.2' }] },
      /1601\/02:00:16:00:00:03 at 10\.0\.1\.2, not b at hv3 10\.0\.3\.2/,
    ],
    [
      'the host MAC not learned',
      { localMacs: [] },
      /local-macs: bm1's MAC 02:00:16:00:00:50 is not among the learned MACs of VNI 1601/,
    ],
  ] as const)('fails on %s', async (_what, change, message) => {
    const { check, s } = checkOf(scenario(EXPECT));
    const r = await vtep.evaluate(check, fakeContext(s, { ...GOOD, ...change } as VtepTables));
    expect(r.ok).toBe(false);
    expect(r.summary).toMatch(message);
  });

  it('is skipped with the reason when the driver cannot read a gateway', async () => {
    const { check, s } = checkOf(scenario(EXPECT));
    await expect(vtep.evaluate(check, fakeContext(s, undefined))).rejects.toThrow(SkipError);
  });

  it('parses the ovsdb-session-drop fault and refuses an unknown node', () => {
    const s = parseScenarioText(
      scenario('  - fault: { kind: ovsdb-session-drop, node: gw1, tamper: true }'),
      FILE,
    );
    expect(s.timeline[1]).toMatchObject({
      kind: 'fault',
      fault: { kind: 'ovsdb-session-drop', node: 'gw1', tamper: true },
    });
    expect(errorOf(scenario('  - fault: { kind: ovsdb-session-drop, node: gw9 }')).describe()).toMatch(
      /unknown lab node 'gw9'/,
    );
  });
});
