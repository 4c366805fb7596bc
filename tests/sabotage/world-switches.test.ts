/**
 * The controller's TEST-ONLY sabotage switches (reference-impl/sabotage.ts) change exactly what they
 * claim in the controller's pure world model, and nothing when OTWIN_SABOTAGE is unset. Each case
 * imports the modules afresh (the switches are read once at import).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Snapshot } from '../../reference-impl/directory/model.ts';
import type { Entry } from '../../reference-impl/protocol/messages.ts';

const base = { description: '' };
/** Zone z1 (hv1, hv2); tenants a and b share the prefix 192.0.2.0/26; a's VM on hv1, b's on hv2. */
const snapshot = {
  revision: 1,
  objects: {
    hypervisors: [
      { ...base, id: 'hv1', name: 'hv1', zone: 'z1', vtep: '10.0.1.2' },
      { ...base, id: 'hv2', name: 'hv2', zone: 'z1', vtep: '10.0.2.2' },
    ],
    domains: [
      { ...base, id: 'da', tenant: 'ta', name: 'da' },
      { ...base, id: 'db', tenant: 'tb', name: 'db' },
    ],
    subnets: [
      {
        ...base,
        id: 'sa',
        domain: 'da',
        name: 'sa',
        vni: 5001,
        prefix: '192.0.2.0/26',
        gateway: '192.0.2.1',
        gatewayMac: '02:0a:00:00:13:89',
        routeTarget: '65000:5001',
      },
      {
        ...base,
        id: 'sb',
        domain: 'db',
        name: 'sb',
        vni: 6001,
        prefix: '192.0.2.0/26',
        gateway: '192.0.2.1',
        gatewayMac: '02:0a:00:00:17:71',
        routeTarget: '65000:6001',
      },
    ],
    vports: [
      {
        ...base,
        id: 'va',
        subnet: 'sa',
        hypervisor: 'hv1',
        name: 'va',
        mac: '02:00:00:00:00:01',
        ip: '192.0.2.11',
        securityGroups: [],
      },
      {
        ...base,
        id: 'vb',
        subnet: 'sb',
        hypervisor: 'hv2',
        name: 'vb',
        mac: '02:00:00:00:00:02',
        ip: '192.0.2.40',
        securityGroups: [],
      },
    ],
  },
} as unknown as Snapshot;

/** hv1's entries with a remote zone's routes learned: one with a foreign route target. */
async function hv1With(switches: string) {
  vi.resetModules();
  vi.stubEnv('OTWIN_SABOTAGE', switches);
  const { World } = await import('../../reference-impl/controller/world.ts');
  const world = new World('z1');
  world.loadSnapshot(snapshot);
  const learned = { origin: '172.20.62.12', vni: 5001, ip: undefined, seq: 0 };
  world.learnMac('k1', {
    ...learned,
    mac: '02:00:00:00:00:a1',
    vtep: '10.0.3.2',
    routeTargets: ['65000:5001'],
  });
  world.learnMac('k2', {
    ...learned,
    mac: '02:00:00:00:00:b1',
    vtep: '10.0.3.2',
    routeTargets: ['65000:9999'],
  });
  // A flood route of a VNI that hv1 does not host (sb's, on hv2): not in hv1's flood list, but kept
  // stale like the others (a VNI no subnet carries would not be: world-stale.test.ts).
  world.learnFlood('f1', {
    origin: '172.20.62.12',
    vni: 6001,
    vtep: '10.0.4.2',
    routeTargets: ['65000:6001'],
  });
  return { world, entries: world.entriesFor('hv1') };
}

afterEach(() => {
  vi.unstubAllEnvs();
  vi.resetModules();
});

const macs = (entries: Entry[]) => entries.flatMap((e) => (e.kind === 'mac' ? [e.mac] : [])).sort();
const floods = (entries: Entry[]) => entries.flatMap((e) => (e.kind === 'flood' ? [e.vtep] : [])).sort();

describe('controller sabotage switches', () => {
  it('are off by default: import by route target, own VNI flood lists, no other tenant, stale kept', async () => {
    const { world, entries } = await hv1With('');
    expect(macs(entries)).toEqual(['02:00:00:00:00:a1']);
    expect(floods(entries)).toEqual([]);
    world.learnMac('k1', undefined);
    world.learnMac('k2', undefined);
    world.learnFlood('f1', undefined);
    world.tick(Date.now() + 1000);
    expect(world.staleCount()).toBe(3);
  });

  it('ignore-rt imports the foreign route target; cross-tenant-arp adds the other tenant; flood-all-vteps floods to every VTEP', async () => {
    expect(macs((await hv1With('ignore-rt')).entries)).toEqual(['02:00:00:00:00:a1', '02:00:00:00:00:b1']);
    const cross = (await hv1With('cross-tenant-arp')).entries;
    expect(cross).toContainEqual(
      expect.objectContaining({
        kind: 'mac',
        vni: 5001,
        mac: '02:00:00:00:00:02',
        ip: '192.0.2.40',
        vtep: '10.0.2.2',
      }),
    );
    expect(floods((await hv1With('flood-all-vteps')).entries)).toEqual(['10.0.2.2', '10.0.4.2']);
  });

  it('no-stale drops the routes of a vanished originator', async () => {
    const { world } = await hv1With('no-stale');
    world.learnMac('k1', undefined);
    world.learnMac('k2', undefined);
    world.learnFlood('f1', undefined);
    world.tick(Date.now() + 1000);
    expect(world.staleCount()).toBe(0);
    expect(world.learnedMacs.size).toBe(0);
  });
});
