/**
 * SVC-5 in the agent: which local appliances are probed, and that a failover (active and standby
 * swapped by the controller) changes only the route, not the nft table (one route replace, no bypass).
 */
import { describe, expect, it } from 'vitest';
import type { Entry } from '../protocol/messages.ts';
import { localAppliances } from './appliance-liveness.ts';
import { deriveRedirects, redirectScript } from './redirect.ts';

const naming = { prefix: 'oti-', hypervisor: 'hv2' };
const fw1 = { ip: '10.9.9.12', mac: '02:00:00:00:09:12', vni: 9109 };
const fw2 = { ip: '10.9.9.11', mac: '02:00:00:00:09:11', vni: 9109 };
const redirect = (active: typeof fw1, standby: typeof fw1 | undefined): Entry => ({
  kind: 'redirect',
  id: 'r1',
  domain: 'd1',
  mode: 'l3',
  applianceIp: active.ip,
  applianceMac: active.mac,
  applianceVni: active.vni,
  from: '10.9.1.11/32',
  to: '10.9.2.12/32',
  proto: 'any',
  ...(standby ? { standby } : {}),
});
const subnet: Entry = {
  kind: 'subnet',
  id: 's-fw',
  domain: 'd1',
  vni: 9109,
  prefix: '10.9.9.0/24',
  gateway: '10.9.9.1',
  gatewayMac: '02:00:00:00:00:01',
};
const vport = (id: string, ip: string): Entry => ({
  kind: 'vport',
  id,
  subnet: 's-fw',
  vni: 9109,
  mac: '02:00:00:00:00:99',
  ip,
});

describe('appliance liveness (SVC-5)', () => {
  it('probes the local active and standby appliances of redirections with a standby, from the router namespace', () => {
    const entries = [subnet, vport('fw1', fw1.ip), vport('other', '10.9.9.50'), redirect(fw1, fw2)];
    expect(localAppliances(entries, naming)).toEqual([{ vport: 'fw1', ip: fw1.ip, ns: 'oti-hv2-d-d1' }]);
    expect(localAppliances([subnet, vport('fw2', fw2.ip), redirect(fw1, fw2)], naming)).toHaveLength(1);
  });

  it('probes nothing for a redirection without a standby (nothing to fail over to)', () => {
    expect(localAppliances([subnet, vport('fw1', fw1.ip), redirect(fw1, undefined)], naming)).toEqual([]);
  });

  it('a failover changes the route only: the nft table (both MACs returned) stays the same', () => {
    const before = redirectScript(deriveRedirects([redirect(fw1, fw2)], naming).get('oti-hv2-d-d1')!);
    const after = redirectScript(deriveRedirects([redirect(fw2, fw1)], naming).get('oti-hv2-d-d1')!);
    expect(after.script).toBe(before.script);
    expect(before.script).toContain(`ether saddr ${fw1.mac} return`);
    expect(before.script).toContain(`ether saddr ${fw2.mac} return`);
    expect(before.ipLines[0]).toContain(`via ${fw1.ip}`);
    expect(after.ipLines[0]).toContain(`via ${fw2.ip}`);
  });
});
