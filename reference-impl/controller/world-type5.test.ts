/**
 * Type-5 (RFC 9136) in the controller's world (docs/federation.md): a domain with an L3 VNI is
 * exported per hosting own-zone hypervisor and subnet with the domain's route target and the
 * hypervisor's router MAC; a PE's type-5 routes with the domain's route target become the domain's
 * prefix entries, while other route targets, hypervisors' own type-5 routes and prefixes overlapping
 * the domain's subnets do not.
 */
import { describe, expect, it } from 'vitest';
import { splitMessages } from '../../harness/bgp/codec/messages.ts';
import { decodeUpdate, encodeAnnounce, ZERO_ESI } from '../../harness/bgp/index.ts';
import { routerMacFor } from '../protocol/addr.ts';
import { type5ToBgp } from './evpn.ts';
import type { OriginatedType5, World } from './world.ts';
import { worldFrom } from './world-fixture.ts';

function world(): World {
  return worldFrom('z1', {
    hypervisors: [
      { id: 'hv1', name: 'hv1', zone: 'z1', vtep: '10.0.1.2' },
      { id: 'hv2', name: 'hv2', zone: 'z1', vtep: '10.0.2.2' },
      { id: 'hv3', name: 'hv3', zone: 'z2', vtep: '10.0.3.2' },
    ],
    domains: [
      { id: 'da', tenant: 'ta', name: 'da', l3Vni: 15001, routeTarget: '65000:15001' },
      { id: 'db', tenant: 'tb', name: 'db', l3Vni: null, routeTarget: null }, // as the store writes an unset field
    ],
    subnets: [
      {
        id: 'sa',
        domain: 'da',
        vni: 15101,
        prefix: '192.0.2.0/25',
        gateway: '192.0.2.1',
        routeTarget: '65000:15101',
      },
      {
        id: 'sb',
        domain: 'db',
        vni: 15201,
        prefix: '192.0.2.128/25',
        gateway: '192.0.2.129',
        routeTarget: '65000:15201',
      },
    ],
    vports: [
      { id: 'va', subnet: 'sa', hypervisor: 'hv1', name: 'va', mac: '02:00:00:00:00:0a', ip: '192.0.2.10' },
      {
        id: 'vb',
        subnet: 'sb',
        hypervisor: 'hv2',
        name: 'vb',
        mac: '02:00:00:00:00:0b',
        ip: '192.0.2.130',
      },
    ],
  });
}

const PE = { l3Vni: 15001, vtep: '10.0.0.1', routerMac: '02:0e:00:01:50:01', routeTargets: ['65000:15001'] };

describe('type-5 in the world', () => {
  it('exports a domain with an L3 VNI from each own hypervisor hosting it, and no other domain', () => {
    const t5 = world()
      .originations()
      .filter((o): o is OriginatedType5 => o.kind === 'type5');
    expect(t5).toEqual([
      {
        kind: 'type5',
        l3Vni: 15001,
        prefix: '192.0.2.0/25',
        vtep: '10.0.1.2',
        routerMac: routerMacFor('10.0.1.2', 15001),
        routeTarget: '65000:15001',
      },
    ]);
  });

  it('encodes RFC 9136 fields: RD vtep:vni, label = L3 VNI, gateway 0, RT, encapsulation, router MAC', () => {
    const o = world()
      .originations()
      .find((x) => x.kind === 'type5') as OriginatedType5;
    const { route, attrs } = type5ToBgp(o);
    const [msg] = encodeAnnounce('l2vpn-evpn', [route], attrs, { asn4: true });
    const body = splitMessages(msg!).messages[0]!.body;
    const decoded = decodeUpdate(body, { asn4: true, ibgp: true });
    expect(decoded.announced).toEqual([
      {
        afi: 'l2vpn-evpn',
        type: 5,
        rd: '10.0.1.2:15001',
        esi: ZERO_ESI,
        ethTag: 0,
        prefix: '192.0.2.0/25',
        gateway: '0.0.0.0',
        labels: [15001],
      },
    ]);
    expect(decoded.attrs.extCommunities).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ type: 'route-target', value: '65000:15001' }),
        { type: 'encapsulation', tunnelType: 8 },
        { type: 'router-mac', mac: routerMacFor('10.0.1.2', 15001) },
      ]),
    );
  });

  it("imports a PE's prefix with the domain's route target into that domain only", () => {
    const w = world();
    w.learnPrefix('pe-a', { ...PE, prefix: '198.51.100.0/25' });
    w.learnPrefix('pe-b', { ...PE, prefix: '198.51.100.128/25', routeTargets: ['65000:15002'] });
    w.learnPrefix('hv3', { ...PE, prefix: '203.0.113.0/24', vtep: '10.0.3.2' });
    w.learnPrefix('overlap', { ...PE, prefix: '192.0.2.0/24' });
    const prefixes = (hv: string) => w.entriesFor(hv).filter((e) => e.kind === 'prefix');
    expect(prefixes('hv1')).toEqual([
      { kind: 'prefix', domain: 'da', prefix: '198.51.100.0/25', vtep: '10.0.0.1', routerMac: PE.routerMac },
    ]);
    expect(prefixes('hv2')).toEqual([]);
    expect(w.entriesFor('hv2').find((e) => e.kind === 'domain')).not.toHaveProperty('l3Vni');
    expect(w.entriesFor('hv1').find((e) => e.kind === 'domain')).toMatchObject({
      l3Vni: 15001,
      routerMac: routerMacFor('10.0.1.2', 15001),
    });
    w.learnPrefix('pe-a', undefined);
    expect(prefixes('hv1')).toEqual([]);
  });
});
