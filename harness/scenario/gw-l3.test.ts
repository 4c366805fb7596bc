/**
 * GW-8's intent (docs/gateways.md, "the L3 gateway"): scenarios/gw/gw-8-l3-gateway.yml parses into a
 * gateway with `routing` and an external on its outside segment; the oracle's matrix over it; and
 * validation refuses an interface on an unknown subnet, outside its subnet or on the anycast address,
 * and an external behind a gateway that routes nothing, each at file:line:col.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Oracle } from '../oracle/index.ts';
import { loadTopology } from '../topology/load.ts';
import { scenarioErrorOf } from './fixtures/scenario-errors.ts';
import { intentForProfile, profileRuns } from './gateway-profile.ts';
import { parseScenarioText } from './parse.ts';

const FILE = resolve('scenarios/gw/gw-8-l3-gateway.yml');
const TEXT = readFileSync(FILE, 'utf8');
const icmp = { proto: 'icmp' as const, port: undefined };

describe('GW-8 intent: an L3 gateway and its outside segment', () => {
  it('parses the scenario: two routed subnets, the outside port and address, ext8 behind gw2', () => {
    const s = parseScenarioText(TEXT, FILE);
    expect(s.intent.gateways[0]?.routing).toEqual({
      outside: { port: 'eth3', address: '192.0.2.193/28' },
      interfaces: [
        { subnet: 'gw-a', address: '198.51.100.62' },
        { subnet: 'gw-b', address: '198.51.100.126' },
      ],
    });
    expect(s.intent.externals).toEqual([
      { name: 'ext8', node: 'ext8', ip: '192.0.2.200', iface: 'eth1', domain: undefined, gateway: 'gw2' },
    ]);
  });

  it("the oracle: both routed VNIs' VMs ↔ ext8 reach, the other tenant's VM does not", () => {
    const s = parseScenarioText(TEXT, FILE);
    const cells = new Oracle(s.intent).matrix({ probes: [icmp] });
    const verdict = (from: string, to: string) => cells.find((c) => c.from === from && c.to === to)?.verdict;
    for (const vm of ['gw-a1', 'gw-a3', 'gw-b2', 'gw-b4']) {
      expect(verdict(vm, 'ext8')).toBe('reach');
      expect(verdict('ext8', vm)).toBe('reach');
      expect(verdict(vm, 'gw-c1')).toBe('drop');
    }
    expect(verdict('gw-c1', 'ext8')).toBe('drop');
    expect(verdict('ext8', 'gw-c1')).toBe('drop');
  });

  it('refuses a bad interface or an external behind a gateway without routing, at file:line:col', () => {
    const bad = (from: string, to: string) => scenarioErrorOf(TEXT.replace(from, to), FILE).describe();
    expect(
      bad('{ subnet: gw-b, address: 198.51.100.126 }', '{ subnet: gw-x, address: 198.51.100.126 }'),
    ).toMatch(/gw-8-l3-gateway\.yml:\d+:\d+: unknown subnet 'gw-x'/);
    expect(
      bad('{ subnet: gw-b, address: 198.51.100.126 }', '{ subnet: gw-b, address: 198.51.100.200 }'),
    ).toMatch(/gw-8-l3-gateway\.yml:\d+:\d+: 198\.51\.100\.200 is outside subnet 'gw-b'/);
    expect(
      bad('{ subnet: gw-a, address: 198.51.100.62 }', '{ subnet: gw-a, address: 198.51.100.1 }'),
    ).toMatch(/gw-8-l3-gateway\.yml:\d+:\d+: 198\.51\.100\.1 is subnet 'gw-a''s anycast gateway/);
    expect(bad('ip: 192.0.2.200, gateway: gw2', 'ip: 192.0.2.200, gateway: gw1')).toMatch(
      /gw-8-l3-gateway\.yml:\d+:\d+: unknown L3 gateway/,
    );
  });

  it('on the ovsdb profile: skipped with the reason, and an external behind gw2 leaves with gw2', async () => {
    const s = parseScenarioText(TEXT, FILE);
    const [ovsdb] = profileRuns(s, ['ovsdb', 'evpn']);
    expect(ovsdb!.skip).toMatch(/does not apply to gateway profile ovsdb.*its description says why/);
    expect(s.description).toMatch(/ovs-vtep\) has no L3/);
    const both = parseScenarioText(
      TEXT.replace('gateway: evpn', 'gateway: [ovsdb, evpn]').replace(
        '  gateways:\n',
        '  gateways:\n    - { name: gw1, zone: z1, tunnelIp: 10.0.5.2, bindings: [{ port: eth2, vlan: 0, subnet: gw-a }] }\n',
      ),
      FILE,
    );
    const topology = await loadTopology(resolve('labs/gw.clab.yml'));
    const [onOvsdb, onEvpn] = profileRuns(both, ['ovsdb', 'evpn']).map((r) =>
      intentForProfile(r.scenario, topology),
    );
    expect(onOvsdb!.intent.gateways.map((g) => g.name)).toEqual(['gw1']);
    expect(onOvsdb!.intent.externals).toEqual([]);
    expect(onEvpn!.intent.externals.map((e) => e.name)).toEqual(['ext8']);
  });
});
