/**
 * The EVPN gateway profile in the vtep check (fdb, flood-list aspects against a forwarding table
 * written by hand: missing, duplicate, misplaced, data-learned and stray entries must fail), aspects
 * of the other profile skipped with the reason, and the gateway-profile selection of `otwin run
 * --gateway` (one run per declared profile, a skipped run with the reason otherwise, the intent reduced
 * to the profile's gateways and hosts). End to end: scenarios/gw on labs/gw.clab.yml.
 */
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { EvpnGatewayFdb } from '../../gateway/evpn-gateway.ts';
import { loadTopology } from '../../topology/load.ts';
import { UserError } from '../../util/errors.ts';
import { type ScenarioContext, SkipError } from '../context.ts';
import { intentForProfile, parseGatewayProfiles, profileRuns } from '../gateway-profile.ts';
import { parseScenarioText } from '../parse.ts';
import { type VtepCheck, vtep } from './vtep.ts';

const LAB = resolve('labs/gw.clab.yml');
const FILE = resolve('scenarios/gw/oti-evpn-fixture.yml');

const scenario = (expect: string, gateway = 'gateway: [ovsdb, evpn]') => `name: fixture
conformance: [GW-7]
lab: ${LAB}
implementation: reference
${gateway}
intent:
  tenants: [{ name: t }]
  domains: [{ name: d, tenant: t }]
  subnets:
    - { name: s, domain: d, cidr: 198.51.100.0/26, vni: 1601 }
  gateways:
    - { name: gw1, zone: z1, tunnelIp: 10.0.5.2, bindings: [{ port: eth2, vlan: 0, subnet: s }] }
    - { name: gw2, zone: z1, tunnelIp: 10.0.6.2, bindings: [{ port: eth2, vlan: 0, subnet: s }] }
  bareMetal:
    - { name: bm1, gateway: gw1, port: eth2, ip: 198.51.100.50, mac: "02:00:16:00:00:50" }
    - { name: bm2, gateway: gw2, port: eth2, ip: 198.51.100.51, mac: "02:00:16:00:00:51" }
  vms:
    - { name: a, subnet: s, hypervisor: hv1, ip: 198.51.100.11, mac: "02:00:16:00:00:01" }
    - { name: b, subnet: s, hypervisor: hv3, ip: 198.51.100.13, mac: "02:00:16:00:00:03" }
timeline:
  - provision: all
${expect}`;

const FDB = '  - expect: { vtep: { gateway: gw2, tables: [fdb, flood-list] } }';

const entry = (mac: string, dst: string | undefined, externLearn = true) => ({
  vni: 1601,
  mac,
  dst,
  externLearn,
});
const GOOD: EvpnGatewayFdb = {
  entries: [
    entry('02:00:16:00:00:01', '10.0.1.2'),
    entry('02:00:16:00:00:03', '10.0.3.2'),
    entry('02:00:16:00:00:50', '10.0.5.2'),
    entry('00:00:00:00:00:00', '10.0.1.2', false),
    entry('00:00:00:00:00:00', '10.0.3.2', false),
    entry('00:00:00:00:00:00', '10.0.5.2', false),
  ],
};

async function judge(text: string, fdb: EvpnGatewayFdb | undefined) {
  const s = parseScenarioText(text, FILE);
  const step = s.timeline[1];
  const check = (step?.kind === 'expect' ? step.checks[0] : undefined) as VtepCheck;
  const topology = await loadTopology(LAB);
  const vteps: Record<string, string> = { hv1: '10.0.1.2', hv3: '10.0.3.2' };
  const ctx = {
    intent: s.intent,
    lab: { topology },
    driver: { name: 'fake', ...(fdb ? { gatewayFdb: async () => fdb } : {}) },
    driverContext: () => ({}),
    vtepAddress: async (node: string) => vteps[node],
  } as unknown as ScenarioContext;
  return vtep.evaluate(check, ctx);
}

describe('vtep check, EVPN gateway profile', () => {
  it('passes on a forwarding table as the intent says (each VM once at its VTEP, each VTEP once in the flood list)', async () => {
    const r = await judge(scenario(FDB), GOOD);
    expect(r.summary).toBe('gateway gw2: fdb, flood-list as the intent says');
    expect(r.ok).toBe(true);
  });

  it('fails on a missing, duplicated, misplaced, data-learned or stray entry and a flood list copy too many or too few', async () => {
    const bad = (entries: EvpnGatewayFdb['entries']) => judge(scenario(FDB), { entries });
    const [vmA, vmB, host, floodA, floodB, floodGw] = GOOD.entries as [
      ReturnType<typeof entry>,
      ...ReturnType<typeof entry>[],
    ] &
      ReturnType<typeof entry>[];
    expect((await bad([vmB!, host!, floodA!, floodB!, floodGw!])).summary).toMatch(
      /fdb: missing 1601\/02:00:16:00:00:01 \(a at hv1 10\.0\.1\.2\)/,
    );
    expect((await bad([...GOOD.entries, entry('02:00:16:00:00:01', '10.0.2.2')])).summary).toMatch(
      /1601\/02:00:16:00:00:01 has 2 entries/,
    );
    expect(
      (await bad([entry('02:00:16:00:00:01', '10.0.3.2'), vmB!, floodA!, floodB!, floodGw!])).summary,
    ).toMatch(/at 10\.0\.3\.2, not a at hv1 10\.0\.1\.2/);
    expect(
      (await bad([entry('02:00:16:00:00:01', '10.0.1.2', false), vmB!, floodA!, floodB!, floodGw!])).summary,
    ).toMatch(/learned from data, not installed from an EVPN route/);
    expect((await bad([...GOOD.entries, entry('02:00:ee:ee:ee:ee', '10.0.4.2')])).summary).toMatch(
      /extra 1601\/02:00:ee:ee:ee:ee at 10\.0\.4\.2/,
    );
    expect((await bad([vmA!, vmB!, floodA!, floodGw!])).summary).toMatch(
      /flood-list: VNI 1601: 10\.0\.3\.2 missing from the flood list/,
    );
    expect((await bad([...GOOD.entries, entry('00:00:00:00:00:00', '10.0.1.2', false)])).summary).toMatch(
      /10\.0\.1\.2 is 2 times in the flood list/,
    );
    expect((await bad([...GOOD.entries, entry('00:00:00:00:00:00', '10.0.4.2', false)])).summary).toMatch(
      /10\.0\.4\.2 in the flood list hosts no VM of the VNI/,
    );
  });

  it('skips aspects of the other profile with the reason, and a driver that cannot read the table', async () => {
    await expect(
      judge(scenario('  - expect: { vtep: { gateway: gw2, tables: [remote-macs] } }'), GOOD),
    ).rejects.toThrow(/OVSDB hardware_vtep tables do not apply to gateway gw2 \(profile evpn/);
    await expect(
      judge(scenario('  - expect: { vtep: { gateway: gw1, tables: [fdb] } }'), GOOD),
    ).rejects.toThrow(/EVPN forwarding-table aspects do not apply to gateway gw1 \(profile ovsdb/);
    const err = await judge(scenario(FDB), undefined).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SkipError);
    expect((err as SkipError).reason).toMatch(/has no gatewayFdb/);
  });
});

describe('gateway profiles (otwin run --gateway)', () => {
  it('parses the flag and refuses an unknown profile with the known ones', () => {
    expect(parseGatewayProfiles('ovsdb, evpn')).toEqual(['ovsdb', 'evpn']);
    expect(parseGatewayProfiles(undefined)).toBeUndefined();
    expect(() => parseGatewayProfiles('ovsdb,vendor-x')).toThrow(UserError);
    expect(() => parseGatewayProfiles('vendor-x')).toThrow(/unknown gateway profile vendor-x/);
  });

  it('runs once per selected profile the scenario declares, skipped with the reason on another', () => {
    const both = parseScenarioText(scenario(FDB), FILE);
    expect(both.gatewayProfiles).toEqual(['ovsdb', 'evpn']);
    expect(both.gateway).toBe('ovsdb');
    expect(profileRuns(both, undefined).map((r) => r.scenario.gateway)).toEqual(['ovsdb']);
    expect(profileRuns(both, ['ovsdb', 'evpn']).map((r) => [r.scenario.gateway, r.skip])).toEqual([
      ['ovsdb', undefined],
      ['evpn', undefined],
    ]);
    const evpnOnly = parseScenarioText(scenario(FDB, 'gateway: evpn'), FILE);
    const runs = profileRuns(evpnOnly, ['ovsdb', 'evpn']);
    expect(runs.map((r) => r.scenario.gateway)).toEqual(['ovsdb', 'evpn']);
    expect(runs[0]!.skip).toMatch(/does not apply to gateway profile ovsdb: the scenario runs against evpn/);
    expect(runs[1]!.skip).toBeUndefined();
  });

  it("keeps only the profile's gateways and the hosts behind them in the intent", async () => {
    const topology = await loadTopology(LAB);
    const both = parseScenarioText(scenario(FDB), FILE);
    const [ovsdb, evpn] = profileRuns(both, ['ovsdb', 'evpn']).map((r) =>
      intentForProfile(r.scenario, topology),
    );
    expect(ovsdb!.intent.gateways.map((g) => g.name)).toEqual(['gw1']);
    expect(ovsdb!.intent.bareMetal.map((h) => h.name)).toEqual(['bm1']);
    expect(evpn!.intent.gateways.map((g) => g.name)).toEqual(['gw2']);
    expect(evpn!.intent.bareMetal.map((h) => h.name)).toEqual(['bm2']);
  });
});
