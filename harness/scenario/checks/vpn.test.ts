/**
 * The vpn check kind: parsing and reference errors, the reading of FRR 8.4's per-prefix VPNv4 JSON
 * (recorded from pe2 of labs/fed-vpn.clab.yml), and the data-plane part's skip on a kernel without
 * MPLS; `source: tap` against a real tap RIB fed with decoded UPDATEs, and the label that asks the tap
 * for VPNv4. It runs end to end in scenarios/fed/fed-2-vpnv4.yml (`otwin run scenarios/fed/fed-2-vpnv4.yml`).
 */
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeUpdate, encodeAnnounce, encodeEndOfRib, splitMessages, TapRib } from '../../bgp/index.ts';
import type { PathAttributes, Vpnv4Route } from '../../bgp/types.ts';
import type { LabNode } from '../../runtime/runtime.ts';
import type { ExecResult } from '../../util/exec.ts';
import type { RouteSource, ScenarioContext } from '../context.ts';
import { SkipError } from '../context.ts';
import { checkScenario } from '../fixtures/check-scenario.ts';
import { scenarioErrorOf } from '../fixtures/scenario-errors.ts';
import { parseScenarioText } from '../parse.ts';
import { ribIncompleteness, tapFamiliesOf, tapRouteToObserved, tapRouteToVpn } from './routes-tap.ts';
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

describe('vpn check with source: tap (VPNv4 on the wire)', () => {
  const PEER = '10.99.3.1';
  const routes: Vpnv4Route[] = [
    { afi: 'ipv4-vpn', rd: '10.0.0.1:15001', prefix: '192.0.2.0/25', labels: [15001] },
    { afi: 'ipv4-vpn', rd: '10.0.0.1:15002', prefix: '192.0.2.128/25', labels: [15002] },
  ];
  const attrsOf = (rt: string): PathAttributes => ({
    origin: 'incomplete',
    asPath: [{ type: 'sequence', asns: [65000] }],
    nextHop: '10.0.21.1',
    extCommunities: [
      { type: 'route-target', value: rt },
      { type: 'encapsulation', tunnelType: 8 },
    ],
  });
  /** What pe2 sends the tap, through the real encoder and decoder. */
  const onTheWire = (msg: Buffer) =>
    decodeUpdate(splitMessages(msg).messages[0]!.body, { asn4: true, ibgp: true });

  function tapContext(rib: TapRib, established = true): ScenarioContext {
    const source: RouteSource = {
      kind: 'tap',
      routes: async () => rib.routes({ afi: 'l2vpn-evpn' }).map(tapRouteToObserved),
      vpnRoutes: async () => rib.routes({ afi: 'ipv4-vpn' }).flatMap((r) => tapRouteToVpn(r) ?? []),
      incomplete: () => ribIncompleteness(established, rib, PEER, ['ipv4-vpn']),
      transcript: () => rib.jsonl(),
      close: async () => undefined,
    };
    return { routes: async () => source } as unknown as ScenarioContext;
  }

  const tapCheck = () =>
    checkOf(
      '  - expect: { vpn: { node: pe2, source: tap, routes: [{ prefix: 192.0.2.0/25, rd: "10.0.0.1:15001", rt: "65000:15001", nextHop: 10.0.21.1, label: 15001 }, { prefix: 192.0.2.0/25, rd: "10.0.0.1:15002", present: false }] } }',
    );

  it('parses source: tap and names the check after the wire; refuses labels with it', () => {
    expect(tapCheck()).toMatchObject({
      source: 'tap',
      name: "VPNv4 routes 192.0.2.0/25 on the wire at pe2's BGP tap",
    });
    expect(checkOf('  - expect: { vpn: { node: pe2, labels: [15001] } }').source).toBe('vtysh');
    expect(
      scenarioErrorOf(
        scenario('  - expect: { vpn: { node: pe2, source: tap, labels: [15001] } }'),
        FILE,
      ).describe(),
    ).toMatch(/oti-fixture\.yml:\d+:\d+: 'labels' reads the node's kernel MPLS table/);
  });

  it('refuses source: tap on a node whose lab gives it no tap, or a tap without VPNv4, saying what to add', () => {
    const errorOf = (node: string) =>
      scenarioErrorOf(
        scenario(`  - expect: { vpn: { node: ${node}, source: tap, routes: [{ prefix: 192.0.2.0/25 }] } }`),
        FILE,
      ).describe();
    expect(errorOf('pe')).toMatch(
      /oti-fixture\.yml:\d+:\d+: lab node 'pe' has no BGP tap \(no label otwin\.bgp-tap\.peer\)[\s\S]*otwin\.bgp-tap\.families: vpnv4/,
    );
    expect(errorOf('rr1')).toMatch(
      /the BGP tap of lab node 'rr1' does not ask for VPNv4 \(label otwin\.bgp-tap\.families: absent, so evpn\)/,
    );
  });

  it('passes on the decoded RD, RT, label and next hop; fails naming what the wire carried', async () => {
    const rib = new TapRib();
    rib.applyUpdate(
      PEER,
      1,
      onTheWire(encodeAnnounce('ipv4-vpn', [routes[0]!], attrsOf('65000:15001'), { asn4: true })[0]!),
    );
    rib.applyUpdate(PEER, 2, onTheWire(encodeEndOfRib('ipv4-vpn')));
    const ok = await vpn.evaluate(tapCheck(), tapContext(rib));
    expect(ok.summary).toMatch(
      /rd 10\.0\.0\.1:15001 192\.0\.2\.0\/25 next hop 10\.0\.21\.1 rt 65000:15001 label 15001/,
    );
    expect(ok.ok).toBe(true);

    // The route exported under the other VRF's RD and RT (the type5-wrong-rt sabotage's effect).
    const wrong = new TapRib();
    wrong.applyUpdate(
      PEER,
      1,
      onTheWire(
        encodeAnnounce(
          'ipv4-vpn',
          [{ ...routes[0]!, rd: '10.0.0.1:15002', labels: [15002] }],
          attrsOf('65000:15002'),
          { asn4: true },
        )[0]!,
      ),
    );
    wrong.applyUpdate(PEER, 2, onTheWire(encodeEndOfRib('ipv4-vpn')));
    const bad = await vpn.evaluate(tapCheck(), tapContext(wrong));
    expect(bad.ok).toBe(false);
    expect(bad.summary).toMatch(
      /no VPNv4 route 192\.0\.2\.0\/25 rd 10\.0\.0\.1:15001 \(found rd 10\.0\.0\.1:15002/,
    );
    expect(bad.summary).toMatch(/expected no VPNv4 route 192\.0\.2\.0\/25 rd 10\.0\.0\.1:15002/);
  });

  it('does not pass an absent route before the VPNv4 End-of-RIB, nor without a tap', async () => {
    const rib = new TapRib();
    rib.applyUpdate(
      PEER,
      1,
      onTheWire(encodeAnnounce('ipv4-vpn', [routes[0]!], attrsOf('65000:15001'), { asn4: true })[0]!),
    );
    const early = await vpn.evaluate(tapCheck(), tapContext(rib));
    expect(early.ok).toBe(false);
    expect(early.summary).toMatch(
      /not known complete at the tap: no End-of-RIB for ipv4-vpn from 10\.99\.3\.1/,
    );
    const vtyshOnly = { routes: async () => ({ kind: 'vtysh' }) } as unknown as ScenarioContext;
    expect((await vpn.evaluate(tapCheck(), vtyshOnly)).summary).toMatch(/no BGP tap is peered with it/);
  });

  it('reads the otwin.bgp-tap.families label (default EVPN), refusing an unknown family by name', () => {
    expect(tapFamiliesOf('rr1', undefined)).toEqual(['l2vpn-evpn']);
    expect(tapFamiliesOf('pe2', 'vpnv4')).toEqual(['ipv4-vpn']);
    expect(tapFamiliesOf('pe2', ' evpn, VPNv4 ,evpn')).toEqual(['l2vpn-evpn', 'ipv4-vpn']);
    expect(() => tapFamiliesOf('pe2', 'evpn,vpnv6')).toThrow(
      /node pe2: label otwin\.bgp-tap\.families names 'vpnv6'; use a comma-separated list of evpn, vpnv4/,
    );
  });
});
