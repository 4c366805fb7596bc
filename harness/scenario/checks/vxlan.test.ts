/**
 * The vxlan check kind and the bgp-announce fault: parsing, validation, and the BPF filter they build
 * (compiled by tcpdump, so a typo in the filter fails here rather than in a lab). The checks run end to
 * end in scenarios/vx and scenarios/evpn on labs/default.clab.yml (`otwin run scenarios/vx`).
 */
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run } from '../../util/exec.ts';
import { checkScenario } from '../fixtures/check-scenario.ts';
import { scenarioErrorOf } from '../fixtures/scenario-errors.ts';
import { loadScenario, parseScenarioText } from '../parse.ts';
import type { VxlanCheck } from './vxlan.ts';
import { vniFilter } from './vxlan.ts';

const LAB = resolve('labs/default.clab.yml');
const FILE = resolve('scenarios/vx/oti-fixture.yml');

const scenario = checkScenario({
  conformance: 'VX-4',
  lab: LAB,
  intent: `  domains: [{ name: d, tenant: t }]
  subnets: [{ name: s, domain: d, cidr: 192.0.2.0/24, vni: 7101 }]
  vms:
    - { name: a, subnet: s, hypervisor: hv1, ip: 192.0.2.11 }
    - { name: b, subnet: s, hypervisor: hv2, ip: 192.0.2.12 }
`,
});

const errorOf = (text: string) => scenarioErrorOf(text, FILE);

describe('vxlan check', () => {
  it('parses inject with a subnet name for the VNI and the RFC 7348 defaults', () => {
    const s = parseScenarioText(
      scenario('  - expect: { vxlan: { mode: inject, from: hv1, to: b, vni: s, expect: dropped } }'),
      FILE,
    );
    const step = s.timeline[1];
    const check = (step?.kind === 'expect' ? step.checks[0] : undefined) as VxlanCheck;
    expect(check).toMatchObject({
      kind: 'vxlan',
      mode: 'inject',
      vni: 's',
      flags: 8,
      reserved1: 0,
      reserved2: 0,
    });
    expect(check.expect).toBe('dropped');
  });

  it('refuses an unknown subnet as VNI, an unknown VM and a bad mode, with line and column', () => {
    expect(
      errorOf(scenario('  - expect: { vxlan: { mode: inject, from: hv1, to: b, vni: nope } }')).describe(),
    ).toMatch(/oti-fixture\.yml:\d+:\d+: unknown subnet 'nope'/);
    expect(errorOf(scenario('  - expect: { vxlan: { mode: entropy, from: zz, to: b } }')).describe()).toMatch(
      /unknown VM or external host 'zz'/,
    );
    expect(errorOf(scenario('  - expect: { vxlan: { mode: flood, from: a, to: b } }')).describe()).toMatch(
      /"flood" is not allowed here/,
    );
  });

  it('builds a VNI filter that tcpdump compiles and that matches the VNI bits', async () => {
    expect(vniFilter(7101)).toBe('udp dst port 4789 and udp[12:4] & 0xffffff00 = 0x001bbd00');
    const r = await run('tcpdump', ['-d', '-i', 'lo', vniFilter(16777215)]);
    expect(r.exitCode).toBe(0);
  });
});

describe('bgp-announce fault', () => {
  it('parses routes and refuses a route without a route target', () => {
    const ok = parseScenarioText(
      scenario(
        '  - fault: { kind: bgp-announce, node: rr1, routes: [{ vni: 7101, mac: "02:00:00:00:00:01", nextHop: 10.0.99.1, rt: "65000:1" }] }',
      ),
      FILE,
    );
    expect(ok.timeline[1]).toMatchObject({
      kind: 'fault',
      fault: { kind: 'bgp-announce', node: 'rr1', routes: [{ vni: 7101, rt: '65000:1', ip: undefined }] },
    });
    expect(
      errorOf(
        scenario(
          '  - fault: { kind: bgp-announce, node: rr1, routes: [{ vni: 7101, mac: "02:00:00:00:00:01", nextHop: 10.0.99.1 }] }',
        ),
      ).describe(),
    ).toMatch(/rt/);
  });
});

describe('scenario packs', () => {
  for (const dir of ['scenarios/vx', 'scenarios/evpn'])
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.yml')))
      it(`${dir}/${f} loads and names its catalogue ID`, () => {
        const s = loadScenario(join(dir, f));
        expect(s.implementation).toBe('reference');
        expect(s.conformance.length).toBeGreaterThan(0);
        expect(s.lab).toBe(LAB);
      });
});
