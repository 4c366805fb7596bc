/**
 * The nat check kind: parsing, validation, and the BPF filters it builds (compiled by tcpdump, so a
 * typo fails here rather than in a lab). It runs end to end in scenarios/nat (docs/nat.md).
 */
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run } from '../../util/exec.ts';
import { checkScenario } from '../fixtures/check-scenario.ts';
import { scenarioErrorOf } from '../fixtures/scenario-errors.ts';
import { parseScenarioText } from '../parse.ts';
import { type NatCheck, pathFilter, receiverFilter } from './nat.ts';

const LAB = resolve('labs/default.clab.yml');
const FILE = resolve('scenarios/nat/oti-fixture.yml');

const scenario = checkScenario({
  conformance: 'NAT-5',
  lab: LAB,
  intent: `  domains: [{ name: d, tenant: t, pnat: true }]
  subnets: [{ name: s, domain: d, cidr: 10.99.0.0/24, gateway: 10.99.0.1, vni: 7191 }]
  vms:
    - { name: a, subnet: s, hypervisor: hv1, ip: 10.99.0.11 }
    - { name: b, subnet: s, hypervisor: hv2, ip: 10.99.0.12 }
  externals: [{ name: outside, node: outside, ip: 203.0.113.10, iface: eth1 }]
`,
});

describe('nat check', () => {
  it('parses one sender or a list, the probe and the capture points', () => {
    const s = parseScenarioText(
      scenario(
        '  - expect: { nat: { from: [a, b], to: outside, probe: udp/7500 sport 40000, via: [pe:eth1], quiet: [hv3:eth1] } }',
      ),
      FILE,
    );
    const step = s.timeline[1];
    const check = (step?.kind === 'expect' ? step.checks[0] : undefined) as NatCheck;
    expect(check).toMatchObject({
      kind: 'nat',
      from: ['a', 'b'],
      to: 'outside',
      probe: { proto: 'udp', port: 7500, sport: 40000 },
      durationMs: 2000,
      via: [{ node: 'pe', iface: 'eth1' }],
      quiet: [{ node: 'hv3', iface: 'eth1' }],
    });
    const one = parseScenarioText(scenario('  - expect: { nat: { from: a, to: outside } }'), FILE)
      .timeline[1];
    expect(one?.kind === 'expect' ? one.checks[0] : undefined).toMatchObject({
      from: ['a'],
      probe: { proto: 'udp' },
    });
  });

  it('refuses an unknown sender, an unknown node and an icmp probe, with line and column', () => {
    expect(
      scenarioErrorOf(scenario('  - expect: { nat: { from: [a, zz], to: outside } }'), FILE).describe(),
    ).toMatch(/oti-fixture\.yml:\d+:\d+: unknown VM or external host 'zz'/);
    expect(
      scenarioErrorOf(
        scenario('  - expect: { nat: { from: a, to: outside, quiet: [nowhere:eth1] } }'),
        FILE,
      ).describe(),
    ).toMatch(/nowhere/);
    expect(
      scenarioErrorOf(
        scenario('  - expect: { nat: { from: a, to: outside, probe: icmp } }'),
        FILE,
      ).describe(),
    ).toMatch(/oti-fixture\.yml:\d+:\d+:/);
  });

  it('builds filters tcpdump compiles', async () => {
    for (const filter of [
      receiverFilter('tcp', 7500, 7505),
      receiverFilter('udp', 7100, 7100),
      pathFilter('udp', 7200, 7203),
    ]) {
      const r = await run('tcpdump', ['-d', '-i', 'lo', filter]);
      expect(r.exitCode, `${filter}: ${r.stderr}`).toBe(0);
    }
  });
});
