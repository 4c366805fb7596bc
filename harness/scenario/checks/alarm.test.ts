/**
 * The alarm check kind: parsing, reference errors, and the skip when a driver cannot report alarms.
 * It runs end to end in scenarios/evpn/evpn-6-duplicate-mac.yml on labs/default.clab.yml.
 */
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkScenario } from '../fixtures/check-scenario.ts';
import { scenarioErrorOf } from '../fixtures/scenario-errors.ts';
import { parseScenarioText } from '../parse.ts';
import type { AlarmCheck } from './alarm.ts';

const LAB = resolve('labs/default.clab.yml');
const FILE = resolve('scenarios/evpn/oti-fixture.yml');

const scenario = checkScenario({
  conformance: 'EVPN-6',
  lab: LAB,
  intent: `  domains: [{ name: d, tenant: t }]
  subnets: [{ name: s, domain: d, cidr: 192.0.2.0/24, vni: 7206 }]
  vms:
    - { name: a, subnet: s, hypervisor: hv1, ip: 192.0.2.11, mac: "02:00:72:06:00:11" }
    - { name: b, subnet: s, hypervisor: hv2, ip: 192.0.2.12 }
`,
});

const checkOf = (line: string) => {
  const step = parseScenarioText(scenario(line), FILE).timeline[1];
  return (step?.kind === 'expect' ? step.checks[0] : undefined) as AlarmCheck;
};

describe('alarm check', () => {
  it('parses a raised duplicate-mac alarm with where the MAC is kept, present by default', () => {
    expect(checkOf('  - expect: { alarm: { kind: duplicate-mac, vm: a, at: hv1 } }')).toMatchObject({
      kind: 'alarm',
      alarm: 'duplicate-mac',
      vm: 'a',
      present: true,
      at: 'hv1',
      name: 'duplicate-mac alarm for a, kept at hv1',
    });
    expect(checkOf('  - expect: { alarm: { kind: duplicate-mac, vm: a, present: false } }').name).toBe(
      'no duplicate-mac alarm for a',
    );
  });

  it('refuses an unknown VM, a VM without a MAC, an unknown node and an unknown alarm kind, at line:col', () => {
    const errorOf = (line: string) => scenarioErrorOf(scenario(line), FILE).describe();
    expect(errorOf('  - expect: { alarm: { kind: duplicate-mac, vm: zz } }')).toMatch(
      /oti-fixture\.yml:\d+:\d+: unknown VM 'zz'/,
    );
    expect(errorOf('  - expect: { alarm: { kind: duplicate-mac, vm: b } }')).toMatch(/VM 'b' has no 'mac:'/);
    expect(errorOf('  - expect: { alarm: { kind: duplicate-mac, vm: a, at: hv9 } }')).toMatch(/hv9/);
    expect(errorOf('  - expect: { alarm: { kind: duplicate-ip, vm: a } }')).toMatch(/duplicate-mac/);
    expect(errorOf('  - expect: { alarm: { kind: duplicate-mac, vm: a, at: hv1, present: false } }')).toMatch(
      /'at' applies to a raised alarm/,
    );
  });
});
