/**
 * The TEST-ONLY sabotage switches (reference-impl/sabotage.ts) are off unless OTWIN_SABOTAGE names
 * them, and each changes exactly the behaviour it claims (planner output, derived kernel model).
 * Modules read the variable once at import, so each case imports them afresh.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Entry } from '../../reference-impl/protocol/messages.ts';

const naming = { prefix: 'otj-sw-', hypervisor: 'hv1', vtep: '10.0.1.2', mtu: 1450 };
const entries: Entry[] = [
  { kind: 'domain', id: 'da', tenant: 'ta' },
  { kind: 'domain', id: 'db', tenant: 'tb' },
  {
    kind: 'subnet',
    id: 'a',
    domain: 'da',
    vni: 5001,
    prefix: '192.0.2.0/26',
    gateway: '192.0.2.1',
    gatewayMac: '02:0a:00:00:13:89',
  },
  {
    kind: 'subnet',
    id: 'b',
    domain: 'db',
    vni: 6001,
    prefix: '198.51.100.0/26',
    gateway: '198.51.100.1',
    gatewayMac: '02:0a:00:00:17:71',
  },
  { kind: 'vport', id: 'va', subnet: 'a', mac: '02:00:00:00:00:01', ip: '192.0.2.11' },
  { kind: 'vport', id: 'vb', subnet: 'b', mac: '02:00:00:00:00:02', ip: '198.51.100.11' },
  { kind: 'mac', vni: 5001, mac: '02:00:00:00:00:09', ip: '192.0.2.99', vtep: '10.0.2.2', seq: 0 },
] as unknown as Entry[];

async function planWith(switches: string | undefined, hypervisor = naming.hypervisor) {
  vi.resetModules();
  if (switches === undefined) vi.stubEnv('OTWIN_SABOTAGE', '');
  else vi.stubEnv('OTWIN_SABOTAGE', switches);
  const { deriveDesired } = await import('../../reference-impl/agent/model.ts');
  const { plan } = await import('../../reference-impl/agent/plan.ts');
  const desired = deriveDesired(entries, { ...naming, hypervisor });
  const lines = plan(desired, { domains: new Map(), vms: new Map() }).flatMap((s) =>
    s.kind === 'ip' || s.kind === 'bridge' ? s.lines : [`${s.kind} ${s.ns}`],
  );
  return { desired, lines };
}

afterEach(() => {
  vi.unstubAllEnvs();
  vi.resetModules();
});

describe('sabotage switches', () => {
  it('are all off by default: ARP suppression on, VNIs as provisioned, one router namespace per domain', async () => {
    const { desired, lines } = await planWith(undefined);
    expect(lines.filter((l) => /neigh_suppress/.test(l)).every((l) => / neigh_suppress on /.test(l))).toBe(
      true,
    );
    expect(lines).toContain(
      'link add otv5001 type vxlan id 5001 local 10.0.1.2 dstport 4789 nolearning df set',
    );
    expect([...desired.domains.keys()].sort()).toEqual(['otj-sw-hv1-d-da', 'otj-sw-hv1-d-db']);
    const da = desired.domains.get('otj-sw-hv1-d-da')!;
    expect(da.subnets.get(5001)?.gatewayMac).toBe('02:0a:00:00:13:89');
    expect([...da.remoteMacs.keys()]).toEqual(['5001/02:00:00:00:00:09']);
  });

  it('fixed-srcport and no-df change how VXLAN devices are created', async () => {
    const { lines } = await planWith('fixed-srcport,no-df');
    expect(lines).toContain(
      'link add otv5001 type vxlan id 5001 local 10.0.1.2 dstport 4789 nolearning df unset srcport 49152 49153',
    );
  });

  it('no-remote-macs drops the remote MAC but keeps its neighbour; local-gateway-mac differs per hypervisor', async () => {
    const { desired } = await planWith('no-remote-macs,local-gateway-mac');
    const da = desired.domains.get('otj-sw-hv1-d-da')!;
    expect(da.remoteMacs.size).toBe(0);
    expect(da.neighs.get('br5001/192.0.2.99')?.mac).toBe('02:00:00:00:00:09');
    const hv1 = da.subnets.get(5001)!.gatewayMac;
    const hv2 = (await planWith('local-gateway-mac', 'hv2')).desired.domains
      .get('otj-sw-hv2-d-da')!
      .subnets.get(5001)!.gatewayMac;
    expect(new Set([hv1, hv2, '02:0a:00:00:13:89']).size).toBe(3);
  });

  it('delay-type2 takes a value; type3-no-encap drops only the type-3 encapsulation community', async () => {
    const t3 = { kind: 'type3', vni: 5001, vtep: '10.0.1.2', routeTarget: '65000:5001' } as const;
    const t2 = {
      kind: 'type2',
      vni: 5001,
      mac: '02:00:00:00:00:01',
      ip: '192.0.2.11',
      vtep: '10.0.1.2',
      seq: 0,
      routeTarget: '65000:5001',
    } as const;
    const communities = async (switches: string) => {
      vi.resetModules();
      vi.stubEnv('OTWIN_SABOTAGE', switches);
      const { type2DelayMs } = await import('../../reference-impl/sabotage.ts');
      const { toBgp } = await import('../../reference-impl/controller/evpn.ts');
      const types = (o: typeof t2 | typeof t3) =>
        (toBgp('1.1.1.1', o).attrs.extCommunities ?? []).map((c) => c.type);
      return {
        delay: type2DelayMs(),
        t2: types(t2),
        t3: types(t3),
        pmsi: toBgp('1.1.1.1', t3).attrs.pmsiTunnel,
      };
    };
    const on = await communities('delay-type2=1500,type3-no-encap');
    expect(on).toMatchObject({ delay: 1500, t2: ['route-target', 'encapsulation'], t3: ['route-target'] });
    expect(on.pmsi).toEqual({ flags: 0, tunnelType: 6, label: 5001, tunnelId: '10.0.1.2' });
    expect(await communities('')).toMatchObject({ delay: 0, t3: ['route-target', 'encapsulation'] });
    expect((await communities('delay-type2')).delay).toBe(3000);
  });

  it('no-arp-suppress and wrong-vni change the VXLAN ports and devices', async () => {
    const { lines } = await planWith('no-arp-suppress,wrong-vni');
    const suppress = lines.filter((l) => /neigh_suppress/.test(l));
    expect(suppress.length).toBe(2);
    expect(suppress.every((l) => / neigh_suppress off /.test(l))).toBe(true);
    expect(lines).toContain(
      'link add otv5001 type vxlan id 1005001 local 10.0.1.2 dstport 4789 nolearning df set',
    );
  });

  it('leak-routes puts both tenants into one router namespace', async () => {
    const { desired } = await planWith('leak-routes');
    expect([...desired.domains.keys()]).toEqual(['otj-sw-hv1-d-leak']);
    expect([...desired.domains.get('otj-sw-hv1-d-leak')!.subnets.keys()].sort()).toEqual([5001, 6001]);
  });
});
