/**
 * The controller's incremental recompute (World.takeDirty + entriesChanged + type2Changes) must give
 * every agent exactly what the full computation (entriesFor, originations) gives, after any sequence
 * of attaches, moves, detaches, MAC observations and BGP learns/withdrawals: a seeded random walk
 * checks it step by step, and counts that one attach touches a bounded number of entries.
 */
import { describe, expect, it } from 'vitest';
import type { Change, Hypervisor, Snapshot, Subnet, Vport } from '../directory/model.ts';
import { type Entry, entryKey } from '../protocol/messages.ts';
import { originationKey, World } from './world.ts';

const HVS: Hypervisor[] = [
  { id: 'hv1', name: 'hv1', zone: 'z1', vtep: '10.0.1.2' },
  { id: 'hv2', name: 'hv2', zone: 'z1', vtep: '10.0.2.2' },
  { id: 'hv3', name: 'hv3', zone: 'z1', vtep: '10.0.3.2' },
  { id: 'hv9', name: 'hv9', zone: 'z2', vtep: '10.0.9.2' },
] as Hypervisor[];
const SUBNETS = [
  {
    id: 's1',
    domain: 'd1',
    vni: 101,
    prefix: '10.1.0.0/24',
    gateway: '10.1.0.1',
    gatewayMac: '02:aa:00:00:00:01',
    routeTarget: '65000:101',
  },
  {
    id: 's2',
    domain: 'd1',
    vni: 102,
    prefix: '10.2.0.0/24',
    gateway: '10.2.0.1',
    gatewayMac: '02:aa:00:00:00:02',
    routeTarget: '65000:102',
  },
  {
    id: 's3',
    domain: 'd2',
    vni: 103,
    prefix: '10.3.0.0/24',
    gateway: '10.3.0.1',
    gatewayMac: '02:aa:00:00:00:03',
    routeTarget: '65000:103',
  },
] as unknown as Subnet[];

function snapshot(): Snapshot {
  return {
    revision: 1,
    objects: {
      zones: [],
      hypervisors: HVS,
      tenants: [],
      domains: [
        { id: 'd1', tenant: 't', name: 'd1' },
        { id: 'd2', tenant: 't', name: 'd2' },
      ],
      subnets: SUBNETS,
      vports: [],
    },
  } as unknown as Snapshot;
}

/** Deterministic PRNG (mulberry32). */
function rng(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An agent's entries as the controller keeps them: key → JSON. */
const asMap = (entries: Entry[]) => new Map(entries.map((e) => [entryKey(e), JSON.stringify(e)]));

describe('World: incremental recompute equals the full one', () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    it(`random walk, seed ${seed}`, () => {
      const random = rng(seed);
      const pick = <T>(list: T[]) => list[Math.floor(random() * list.length)] as T;
      const world = new World('z1');
      world.loadSnapshot(snapshot());
      const sent = new Map<string, Map<string, string>>();
      let originated = new Map<string, string>();
      const sync = () => {
        for (const hv of ['hv1', 'hv2', 'hv3']) sent.set(hv, asMap(world.entriesFor(hv)));
        originated = new Map(world.originations().map((o) => [originationKey(o), JSON.stringify(o)]));
      };
      expect(world.takeDirty().all).toBe(true);
      sync();
      let revision = 1;
      const macs = Array.from({ length: 12 }, (_, i) => `02:00:00:00:00:${i.toString(16).padStart(2, '0')}`);
      const ips = Array.from({ length: 8 }, (_, i) => i + 10);
      for (let step = 0; step < 400; step++) {
        const r = random();
        const id = `v${Math.floor(random() * 10)}`;
        if (r < 0.5) {
          const subnet = pick(SUBNETS);
          const v = {
            id,
            subnet: subnet.id,
            hypervisor: pick(HVS).id,
            name: id,
            mac: pick(macs),
            ip: `${subnet.prefix.split('.').slice(0, 3).join('.')}.${pick(ips)}`,
          } as Vport;
          world.applyChange({
            revision: ++revision,
            collection: 'vports',
            op: 'update',
            id,
            object: v,
          } as unknown as Change);
        } else if (r < 0.6) {
          world.applyChange({
            revision: ++revision,
            collection: 'vports',
            op: 'delete',
            id,
          } as unknown as Change);
        } else if (r < 0.7) {
          const v = world.vports.get(id);
          if (v) world.observeMac(v.hypervisor, v.id, pick(macs), v.ip);
        } else if (r < 0.9) {
          const subnet = pick(SUBNETS);
          const key = `bgp${Math.floor(random() * 6)}`;
          world.learnMac(key, {
            origin: pick(['172.20.0.12', '172.20.0.13']),
            vni: subnet.vni,
            mac: pick(macs),
            ip: random() < 0.8 ? `${subnet.prefix.split('.').slice(0, 3).join('.')}.${pick(ips)}` : undefined,
            vtep: pick(['10.0.9.2', '10.0.8.2', '10.0.1.2']),
            seq: Math.floor(random() * 3),
            routeTargets: [random() < 0.9 ? subnet.routeTarget : '65000:999'],
          });
        } else {
          world.learnMac(`bgp${Math.floor(random() * 6)}`, undefined);
        }
        const dirty = world.takeDirty();
        if (dirty.all) {
          sync();
          continue;
        }
        // As the controller does: agents a hosting change reaches are recomputed in full.
        const inFull = world.recomputedInFull(dirty);
        for (const hv of ['hv1', 'hv2', 'hv3']) {
          if (inFull.has(hv)) {
            sent.set(hv, asMap(world.entriesFor(hv)));
            continue;
          }
          const have = sent.get(hv) as Map<string, string>;
          for (const [key, entry] of world.entriesChanged(hv, dirty)) {
            if (entry) have.set(key, JSON.stringify(entry));
            else have.delete(key);
          }
          expect(have, `step ${step}, ${hv}`).toEqual(asMap(world.entriesFor(hv)));
        }
        for (const { set, remove } of [world.hostingChanges(dirty), world.type2Changes(dirty.vports)]) {
          for (const k of remove) originated.delete(k);
          for (const o of set) originated.set(originationKey(o), JSON.stringify(o));
        }
        const full = new Map(world.originations().map((o) => [originationKey(o), JSON.stringify(o)]));
        expect(originated, `step ${step}, originations`).toEqual(full);
      }
    });
  }

  it('one attach touches a bounded number of entries, whatever the number of ports', () => {
    const world = new World('z1');
    world.loadSnapshot(snapshot());
    const attach = (n: number) =>
      world.applyChange({
        revision: n + 2,
        collection: 'vports',
        op: 'create',
        id: `vm${n}`,
        object: {
          id: `vm${n}`,
          subnet: 's1',
          hypervisor: HVS[n % 3]?.id,
          name: `vm${n}`,
          mac: `02:00:00:07:${(n >> 8).toString(16).padStart(2, '0')}:${(n & 0xff).toString(16).padStart(2, '0')}`,
          ip: `10.1.${Math.floor(n / 250)}.${(n % 250) + 1}`,
        },
      } as unknown as Change);
    for (let n = 0; n < 1000; n++) attach(n);
    world.takeDirty();
    attach(1000);
    const dirty = world.takeDirty();
    expect(dirty.all).toBe(false);
    expect(dirty.vports.size).toBe(1);
    for (const hv of ['hv1', 'hv2', 'hv3'])
      expect(world.entriesChanged(hv, dirty).size).toBeLessThanOrEqual(3);
  });

  it('a domain starting on one hypervisor recomputes in full only the hypervisors hosting it', () => {
    const world = new World('z1');
    world.loadSnapshot(snapshot());
    const attach = (id: string, subnet: string, hypervisor: string, n: number) =>
      world.applyChange({
        revision: n,
        collection: 'vports',
        op: 'create',
        id,
        object: { id, subnet, hypervisor, name: id, mac: `02:00:00:08:00:0${n}`, ip: `10.0.0.${n}` },
      } as unknown as Change);
    attach('a', 's1', 'hv1', 2);
    attach('b', 's3', 'hv3', 3);
    world.takeDirty();
    attach('c', 's1', 'hv2', 4);
    const dirty = world.takeDirty();
    expect(dirty.all).toBe(false);
    expect([...world.recomputedInFull(dirty)].sort()).toEqual(['hv1', 'hv2']);
    // hv2 now originates a type-3 for both of d1's VNIs.
    expect(world.hostingChanges(dirty).set.map(originationKey).sort()).toEqual([
      '3/101/10.0.2.2',
      '3/102/10.0.2.2',
    ]);
    world.applyChange({ revision: 5, collection: 'vports', op: 'delete', id: 'c' } as unknown as Change);
    expect(world.hostingChanges(world.takeDirty())).toEqual({
      set: [],
      remove: ['3/101/10.0.2.2', '3/102/10.0.2.2'],
    });
  });
});

describe('World: floating IPs (docs/nat.md)', () => {
  const vport = (id: string, hypervisor: string) =>
    ({
      id,
      subnet: 's1',
      hypervisor,
      name: id,
      mac: `02:00:00:00:00:0${id.slice(-1)}`,
      ip: `10.1.0.${id.slice(-1)}`,
    }) as unknown as Vport;
  const change = (revision: number, object: unknown, op: Change['op'] = 'create'): Change =>
    ({ revision, op, collection: 'floatingIps', id: 'f1', object, at: '' }) as unknown as Change;

  it('announces a /32 from the zone of the VM, to its hypervisor, and moves it with a reassignment', () => {
    const z1 = new World('z1');
    const z2 = new World('z2');
    for (const w of [z1, z2]) {
      w.loadSnapshot(snapshot());
      for (const [i, v] of [vport('v1', 'hv1'), vport('v2', 'hv9')].entries())
        w.applyChange({
          revision: 2 + i,
          op: 'create',
          collection: 'vports',
          id: v.id,
          object: v,
          at: '',
        } as unknown as Change);
      w.applyChange(change(5, { id: 'f1', tenant: 't', address: '198.18.0.7', vport: 'v1' }));
    }
    expect(z1.floatingRoutes()).toEqual([{ prefix: '198.18.0.7/32', nextHop: '10.0.1.2' }]);
    expect(z2.floatingRoutes()).toEqual([]);
    const onHv1 = z1.entriesFor('hv1').find((e) => e.kind === 'vport' && e.id === 'v1');
    expect(onHv1).toMatchObject({ floatingIp: '198.18.0.7' });
    for (const w of [z1, z2])
      w.applyChange(change(6, { id: 'f1', tenant: 't', address: '198.18.0.7', vport: 'v2' }, 'update'));
    expect(z1.floatingRoutes()).toEqual([]);
    expect(z2.floatingRoutes()).toEqual([{ prefix: '198.18.0.7/32', nextHop: '10.0.9.2' }]);
    expect(z1.entriesFor('hv1').find((e) => e.kind === 'vport' && e.id === 'v1')).not.toHaveProperty(
      'floatingIp',
    );
  });
});
