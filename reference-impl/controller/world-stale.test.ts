/**
 * Stale routes in the controller's world: a remote zone's withdrawn routes are kept while their
 * originator is gone (AZ isolation), but never outlive the subnet they were imported into. A tenant
 * torn down and created again (ARP-3 then ARP-4 in one run) must not start with the old instance's
 * address bindings: r1's gratuitous-ARP MAC stayed proxied for 192.0.2.11 at the other zone for 15 s.
 */
import { describe, expect, it } from 'vitest';
import type { Change, Subnet } from '../directory/model.ts';
import type { LearnedMac, World } from './world.ts';
import { worldFrom } from './world-fixture.ts';

const SUBNET = {
  id: 's1',
  domain: 'd1',
  vni: 4100,
  prefix: '192.0.2.0/26',
  gateway: '192.0.2.1',
  gatewayMac: '02:aa:00:00:00:01',
  routeTarget: '65000:4100',
} as unknown as Subnet;

const world = () =>
  worldFrom('z2', {
    hypervisors: [
      { id: 'hv1', name: 'hv1', zone: 'z1', vtep: '10.0.1.2' },
      { id: 'hv3', name: 'hv3', zone: 'z2', vtep: '10.0.3.2' },
    ],
    domains: [{ id: 'd1', tenant: 't', name: 'd1' }],
    subnets: [SUBNET],
    vports: [
      { id: 'r3', subnet: 's1', hypervisor: 'hv3', name: 'r3', mac: '02:00:41:00:00:13', ip: '192.0.2.13' },
    ],
  });

const gratuitousMac: LearnedMac = {
  origin: '172.20.62.11',
  vni: 4100,
  mac: '02:00:41:00:ee:11',
  ip: '192.0.2.11',
  vtep: '10.0.1.2',
  seq: 0,
  routeTargets: ['65000:4100'],
};

const proxiedFor = (w: World, ip: string) =>
  w
    .entriesFor('hv3')
    .filter((e) => e.kind === 'mac' && e.ip === ip)
    .map((e) => (e.kind === 'mac' ? e.mac : ''));

let revision = 1;
const change = (op: Change['op'], collection: Change['collection'], id: string, object: unknown): Change =>
  ({ revision: ++revision, op, collection, id, object }) as unknown as Change;

describe('withdrawn routes and the subnet they belong to', () => {
  it('keeps the only route of a vanished originator as stale while its subnet exists', () => {
    const w = world();
    w.learnMac('rd/ee11', gratuitousMac);
    w.learnMac('rd/ee11', undefined);
    w.tick(Date.now() + 1_000);
    expect(w.staleCount()).toBe(1);
    expect(proxiedFor(w, '192.0.2.11')).toEqual(['02:00:41:00:ee:11']);
  });

  it('forgets it when the subnet is deleted: the re-created subnet starts without the old binding', () => {
    const w = world();
    w.learnMac('rd/ee11', gratuitousMac);
    w.learnMac('rd/ee11', undefined);
    w.tick(Date.now() + 1_000);
    w.applyChange(change('delete', 'subnets', 's1', SUBNET));
    w.applyChange(change('create', 'subnets', 's1', SUBNET));
    expect(w.staleCount()).toBe(0);
    expect(proxiedFor(w, '192.0.2.11')).toEqual([]);
  });

  it('forgets a withdrawal that arrives after its subnet was deleted', () => {
    const w = world();
    w.learnMac('rd/ee11', gratuitousMac);
    w.applyChange(change('delete', 'subnets', 's1', SUBNET));
    w.learnMac('rd/ee11', undefined);
    w.tick(Date.now() + 1_000);
    w.applyChange(change('create', 'subnets', 's1', SUBNET));
    expect(proxiedFor(w, '192.0.2.11')).toEqual([]);
  });
});
