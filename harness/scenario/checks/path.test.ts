/**
 * The path check kind: parsing, validation against the lab and the intent, and the verdict logic
 * over captured packets (a request seen at the destination must have crossed each appliance first,
 * with a higher TTL). It runs end to end in scenarios/svc (docs/service-chaining.md).
 */
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkScenario } from '../fixtures/check-scenario.ts';
import { scenarioErrorOf } from '../fixtures/scenario-errors.ts';
import { parseScenarioText } from '../parse.ts';
import { legProblems, type PathCheck } from './path.ts';

const LAB = resolve('labs/default.clab.yml');
const FILE = resolve('scenarios/svc/oti-fixture.yml');

const scenario = checkScenario({
  conformance: 'SVC-1',
  lab: LAB,
  intent: `  domains: [{ name: d, tenant: t }]
  subnets:
    - { name: s1, domain: d, cidr: 10.99.1.0/24, gateway: 10.99.1.1, vni: 7191 }
    - { name: s2, domain: d, cidr: 10.99.2.0/24, gateway: 10.99.2.1, vni: 7192 }
  vms:
    - { name: a, subnet: s1, hypervisor: hv1, ip: 10.99.1.11 }
    - { name: b, subnet: s2, hypervisor: hv2, ip: 10.99.2.12 }
    - { name: fw, subnet: s1, hypervisor: hv3, ip: 10.99.1.13 }
  serviceChains: [{ name: c, from: a, to: b, via: [fw], mode: l3 }]
`,
});

const seen = (packets: Record<number, Record<string, number>>) => ({
  request: new Map(Object.entries(packets).map(([flow, p]) => [Number(flow), new Map(Object.entries(p))])),
  reply: new Map<number, Map<string, number>>(),
});

describe('path check', () => {
  it('parses the flows, the direction and the watched appliances', () => {
    const s = parseScenarioText(
      scenario(
        '  - expect: { path: { from: a, to: b, probe: tcp/80, count: 3, direction: both, watch: [fw] } }',
      ),
      FILE,
    );
    const step = s.timeline[1];
    expect(step?.kind === 'expect' ? (step.checks[0] as PathCheck) : undefined).toMatchObject({
      kind: 'path',
      from: 'a',
      to: 'b',
      probe: { proto: 'tcp', port: 80 },
      count: 3,
      direction: 'both',
      watch: ['fw'],
      durationMs: 3000,
    });
    const plain = parseScenarioText(scenario('  - expect: { path: { from: a, to: b } }'), FILE).timeline[1];
    expect(plain?.kind === 'expect' ? plain.checks[0] : undefined).toMatchObject({
      count: 5,
      direction: 'request',
      watch: [],
      probe: { proto: 'udp' },
    });
  });

  it('refuses an unknown VM, an unknown appliance and an icmp probe, with line and column', () => {
    expect(scenarioErrorOf(scenario('  - expect: { path: { from: zz, to: b } }'), FILE).describe()).toMatch(
      /oti-fixture\.yml:\d+:\d+: unknown VM 'zz'/,
    );
    expect(
      scenarioErrorOf(scenario('  - expect: { path: { from: a, to: b, watch: [nope] } }'), FILE).describe(),
    ).toMatch(/oti-fixture\.yml:\d+:\d+: unknown VM 'nope'/);
    expect(
      scenarioErrorOf(scenario('  - expect: { path: { from: a, to: b, probe: icmp } }'), FILE).describe(),
    ).toMatch(/oti-fixture\.yml:\d+:\d+:/);
  });

  it('passes a packet that crossed the appliance first, fails a bypass, a wrong order and an off-path appliance', () => {
    const leg = { what: 'request' as const, hops: ['fw'], from: 'a', to: 'b' };
    const through = {
      a: seen({ 41000: { p1: 64 } }),
      fw: seen({ 41000: { p1: 63 } }),
      b: seen({ 41000: { p1: 61 } }),
    };
    const at = (points: Record<string, ReturnType<typeof seen>>) => (name: string) =>
      points[name] ?? seen({});
    expect(legProblems(leg, 41000, at(through), ['fw'])).toEqual([]);
    const bypass = { ...through, fw: seen({}), b: seen({ 41000: { p1: 63 } }) };
    expect(legProblems(leg, 41000, at(bypass), ['fw'])[0]).toMatch(
      /without crossing the appliance fw \(bypass/,
    );
    const after = { ...through, fw: seen({ 41000: { p1: 60 } }) };
    expect(legProblems(leg, 41000, at(after), ['fw'])[0]).toMatch(/out of order/);
    const direct = {
      a: seen({ 41000: { p1: 64 } }),
      fw: seen({ 41000: { p1: 63 } }),
      b: seen({ 41000: { p1: 63 } }),
    };
    expect(legProblems({ ...leg, hops: [] }, 41000, at(direct), ['fw'])[0]).toMatch(
      /crossed fw, which is not on its path/,
    );
    expect(legProblems(leg, 41000, at({}), ['fw'])[0]).toMatch(/no request reached b/);
  });
});
