/**
 * The vpn check kind: parsing and reference errors, the reading of FRR 8.4's per-prefix VPNv4 JSON
 * (recorded from pe2 of labs/fed-vpn.clab.yml), and the data-plane part's skip on a kernel without
 * MPLS. It runs end to end in scenarios/fed/fed-2-vpnv4.yml (`otwin run scenarios/fed/fed-2-vpnv4.yml`).
 */
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { LabNode } from '../../runtime/runtime.ts';
import type { ExecResult } from '../../util/exec.ts';
import type { ScenarioContext } from '../context.ts';
import { SkipError } from '../context.ts';
import { checkScenario } from '../fixtures/check-scenario.ts';
import { scenarioErrorOf } from '../fixtures/scenario-errors.ts';
import { parseScenarioText } from '../parse.ts';
import { type VpnCheck, vpn, vpnRoutesOf } from './vpn.ts';

const LAB = resolve('labs/fed-vpn.clab.yml');
const FILE = resolve('scenarios/fed/oti-fixture.yml');

const scenario = checkScenario({
  conformance: 'FED-2',
  lab: LAB,
  intent: `  domains: [{ name: d, tenant: t }]
  subnets: [{ name: s, domain: d, cidr: 192.0.2.0/24, vni: 7101 }]
  vms: [{ name: a, subnet: s, hypervisor: hv1, ip: 192.0.2.11 }]
`,
});

/** `show bgp ipv4 vpn 192.0.2.0/25 json` on pe2 (FRR 8.4.4), trimmed to the fields the check reads. */
const DETAIL = {
  '10.0.0.1:15001': {
    prefix: '192.0.2.0/25',
    advertisedTo: { '10.0.21.1': { hostname: 'pe' } },
    paths: [
      {
        aspath: { string: '65000' },
        valid: true,
        bestpath: { bestpathFromAs: 65000, overall: true, selectionReason: 'First path received' },
        extendedCommunity: { string: 'RT:65000:15001 ET:8 Rmac:02:df:eb:d6:b0:80' },
        remoteLabel: 15001,
        nexthops: [{ ip: '10.0.21.1', hostname: 'pe', afi: 'ipv4', accessible: true, used: true }],
        peer: { peerId: '10.0.21.1', routerId: '10.0.0.1', hostname: 'pe', type: 'external' },
      },
    ],
  },
};

function checkOf(text: string): VpnCheck {
  const step = parseScenarioText(scenario(text), FILE).timeline[1];
  return (step?.kind === 'expect' ? step.checks[0] : undefined) as VpnCheck;
}

function contextAnswering(answer: (argv: readonly string[]) => Partial<ExecResult>): ScenarioContext {
  const node = {
    name: 'pe2',
    async exec(argv: readonly string[]) {
      return { exitCode: 0, stdout: '', stderr: '', ...answer(argv) };
    },
  } as unknown as LabNode;
  return { node: () => node } as unknown as ScenarioContext;
}

describe('vpn check', () => {
  it('parses routes with their defaults and names the check after them', () => {
    const check = checkOf(
      '  - expect: { vpn: { node: pe2, routes: [{ prefix: 192.0.2.0/25, rd: "10.0.0.1:15001", label: "*" }, { prefix: 192.0.2.0/25, rd: "10.0.0.1:15002", present: false }] } }',
    );
    expect(check).toMatchObject({
      kind: 'vpn',
      node: 'pe2',
      labels: [],
      name: 'VPNv4 routes 192.0.2.0/25 at pe2',
    });
    expect(check.routes).toEqual([
      {
        prefix: '192.0.2.0/25',
        present: true,
        rd: '10.0.0.1:15001',
        rt: undefined,
        nextHop: undefined,
        label: '*',
      },
      {
        prefix: '192.0.2.0/25',
        present: false,
        rd: '10.0.0.1:15002',
        rt: undefined,
        nextHop: undefined,
        label: undefined,
      },
    ]);
  });

  it('refuses an unknown node, a body without routes or labels, and a malformed RD, with line and column', () => {
    const errorOf = (text: string) => scenarioErrorOf(scenario(text), FILE).describe();
    expect(errorOf('  - expect: { vpn: { node: pe9, labels: [15001] } }')).toMatch(
      /oti-fixture\.yml:\d+:\d+: unknown lab node 'pe9'[\s\S]*did you mean 'pe/,
    );
    expect(errorOf('  - expect: { vpn: { node: pe2 } }')).toMatch(/needs 'routes' .* or 'labels'/);
    expect(
      errorOf('  - expect: { vpn: { node: pe2, routes: [{ prefix: 192.0.2.0/25, rd: "15001" }] } }'),
    ).toMatch(/oti-fixture\.yml:\d+:\d+:/);
  });

  it("reads RD, route targets, next hop and label from FRR's per-prefix VPNv4 JSON", () => {
    expect(vpnRoutesOf(DETAIL, '192.0.2.0/25')).toEqual([
      {
        rd: '10.0.0.1:15001',
        prefix: '192.0.2.0/25',
        nextHop: '10.0.21.1',
        rt: ['65000:15001'],
        label: 15001,
        valid: true,
        best: true,
      },
    ]);
  });

  it('passes on the right route, fails naming what it found on a wrong RD', async () => {
    const ctx = contextAnswering(() => ({ stdout: JSON.stringify(DETAIL) }));
    const good = checkOf(
      '  - expect: { vpn: { node: pe2, routes: [{ prefix: 192.0.2.0/25, rd: "10.0.0.1:15001", rt: "65000:15001", nextHop: 10.0.21.1, label: 15001 }] } }',
    );
    expect((await vpn.evaluate(good, ctx)).ok).toBe(true);
    const wrong = checkOf(
      '  - expect: { vpn: { node: pe2, routes: [{ prefix: 192.0.2.0/25, rd: "10.0.0.1:15002" }, { prefix: 192.0.2.0/25, rd: "10.0.0.1:15001", present: false }] } }',
    );
    const result = await vpn.evaluate(wrong, ctx);
    expect(result.ok).toBe(false);
    expect(result.summary).toMatch(
      /no VPNv4 route 192\.0\.2\.0\/25 rd 10\.0\.0\.1:15002 \(found rd 10\.0\.0\.1:15001/,
    );
    expect(result.summary).toMatch(/expected no VPNv4 route 192\.0\.2\.0\/25 rd 10\.0\.0\.1:15001/);
  });

  it('skips the data plane, naming MPLS, when the kernel has no MPLS forwarding', async () => {
    const ctx = contextAnswering((argv) =>
      argv[0] === 'cat' ? { exitCode: 1, stderr: 'No such file or directory' } : {},
    );
    const check = checkOf('  - expect: { vpn: { node: pe2, labels: [15001] } }');
    await expect(vpn.evaluate(check, ctx)).rejects.toThrow(SkipError);
    await expect(vpn.evaluate(check, ctx)).rejects.toThrow(/no MPLS forwarding in this kernel/);
  });
});
