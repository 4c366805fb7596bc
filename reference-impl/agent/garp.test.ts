/**
 * Gratuitous ARP (catalogue ARP-3), pure parts: the tcpdump output parser of the agent's watcher and
 * the controller world's handling of an observed MAC (effective MAC, type-2, entries for agents).
 */
import { describe, expect, it } from 'vitest';
import { World } from '../controller/world.ts';
import type { Hypervisor, Snapshot, Subnet, Vport } from '../directory/model.ts';
import { GarpParser } from './garp.ts';

describe('GarpParser', () => {
  it('reads interface, sender MAC and IP of a gratuitous ARP from tcpdump -i any -xx', () => {
    const seen: Array<[string, string, string]> = [];
    const parser = new GarpParser((ifname, mac, ip) => seen.push([ifname, mac, ip]));
    for (const line of [
      '00:21:13.777415 vp0123456789ab B   ARP, Request who-has 192.0.2.11 tell 192.0.2.11, length 28',
      '\t0x0000:  0806 0000 0000 0003 0001 0106 0200 4100',
      '\t0x0010:  ee11 0000 0001 0800 0604 0001 0200 4100',
      '\t0x0020:  ee11 c000 020b 0000 0000 0000 c000 020b',
      '00:21:14.000000 vp0123456789ab B   IP 1.2.3.4 > 1.2.3.5: ICMP echo request',
      '\t0x0000:  0800 0000 0000 0003 0001 0106 0200 4100',
    ])
      parser.line(line);
    expect(seen).toEqual([['vp0123456789ab', '02:00:41:00:ee:11', '192.0.2.11']]);
  });
});

describe('World: observed MAC of a vport', () => {
  const hv = (id: string, zone: string, vtep: string) =>
    ({ id, revision: 1, name: id, zone, vtep, description: '' }) as Hypervisor;
  const subnet = {
    id: 's1',
    revision: 1,
    domain: 'd1',
    name: 's1',
    vni: 100,
    prefix: '192.0.2.0/24',
    gateway: '192.0.2.1',
    gatewayMac: '02:0a:00:00:00:64',
    routeTarget: '65000:100',
    description: '',
  } as Subnet;
  const vport = (id: string, hypervisor: string, mac: string, ip: string) =>
    ({
      id,
      revision: 1,
      subnet: 's1',
      hypervisor,
      name: id,
      mac,
      ip,
      securityGroups: [],
      description: '',
    }) as Vport;
  const snapshot = {
    revision: 1,
    objects: {
      zones: [],
      hypervisors: [hv('hv1', 'z1', '10.0.1.2'), hv('hv2', 'z1', '10.0.2.2')],
      tenants: [],
      domains: [{ id: 'd1', revision: 1, tenant: 't1', name: 'd1', description: '' }],
      subnets: [subnet],
      vports: [
        vport('r1', 'hv1', '02:00:00:00:00:11', '192.0.2.11'),
        vport('r2', 'hv2', '02:00:00:00:00:12', '192.0.2.12'),
      ],
      securityGroups: [],
      securityRules: [],
      floatingIps: [],
      redirectionTargets: [],
    },
  } as unknown as Snapshot;

  it('makes the announced MAC effective: vport entry, other agents, type-2', () => {
    const world = new World('z1');
    world.loadSnapshot(snapshot);
    expect(world.observeMac('hv2', 'r1', '02:00:00:00:ee:11', '192.0.2.11')).toBe(false); // not its host
    expect(world.observeMac('hv1', 'r1', '02:00:00:00:ee:11', '192.0.2.99')).toBe(false); // not its IP
    expect(world.observeMac('hv1', 'r1', '02:00:00:00:EE:11', '192.0.2.11')).toBe(true);
    expect(world.observeMac('hv1', 'r1', '02:00:00:00:ee:11', '192.0.2.11')).toBe(false); // no change
    const own = world.entriesFor('hv1').find((e) => e.kind === 'vport' && e.id === 'r1');
    expect(own).toMatchObject({ mac: '02:00:00:00:00:11', observedMac: '02:00:00:00:ee:11' });
    const remote = world.entriesFor('hv2').filter((e) => e.kind === 'mac');
    expect(remote).toEqual([
      {
        kind: 'mac',
        vni: 100,
        mac: '02:00:00:00:ee:11',
        ip: '192.0.2.11',
        vtep: '10.0.1.2',
        seq: 0,
        groups: [],
      },
    ]);
    const type2 = world.originations().filter((o) => o.kind === 'type2' && o.ip === '192.0.2.11');
    expect(type2.map((o) => (o.kind === 'type2' ? o.mac : ''))).toEqual(['02:00:00:00:ee:11']);
    // Back to the provisioned MAC: the observation is dropped.
    expect(world.observeMac('hv1', 'r1', '02:00:00:00:00:11', '192.0.2.11')).toBe(true);
    expect(world.observedMacs.size).toBe(0);
  });

  it('forgets the observation when the VM moves', () => {
    const world = new World('z1');
    world.loadSnapshot(snapshot);
    world.observeMac('hv1', 'r1', '02:00:00:00:ee:11', '192.0.2.11');
    const moved = vport('r1', 'hv2', '02:00:00:00:00:11', '192.0.2.11');
    world.applyChange({
      revision: 2,
      op: 'update',
      collection: 'vports',
      id: 'r1',
      object: moved as unknown as Snapshot['objects']['vports'][number] & Record<string, unknown>,
      at: '',
    });
    expect(world.observedMacs.size).toBe(0);
    const own = world.entriesFor('hv2').find((e) => e.kind === 'vport' && e.id === 'r1');
    expect(own).not.toHaveProperty('observedMac');
  });
});
