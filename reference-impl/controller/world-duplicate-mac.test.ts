/**
 * Duplicate MAC detection in the controller's world (RFC 7432 §15.1): a VM moved back and forth
 * between two hypervisors of the zone N times within M seconds is alarmed once and its type-2 route
 * stays where it was before the N-th move, with that sequence; under a policy it never reaches, every
 * move is processed.
 */
import { describe, expect, it } from 'vitest';
import type { Change, Vport } from '../directory/model.ts';
import type { FrozenMac } from './duplicate-mac.ts';
import type { OriginatedType2, World } from './world.ts';
import { worldFrom } from './world-fixture.ts';

const VTEP = { hv1: '10.0.1.2', hv2: '10.0.2.2' } as const;

function world(policy?: { moves: number; windowMs: number } | null): World {
  return worldFrom(
    'z1',
    {
      hypervisors: Object.entries(VTEP).map(([id, vtep]) => ({ id, name: id, zone: 'z1', vtep })),
      domains: [{ id: 'd1', tenant: 't', name: 'd1' }],
      subnets: [
        {
          id: 's1',
          domain: 'd1',
          vni: 7206,
          prefix: '192.0.2.0/24',
          gateway: '192.0.2.1',
          gatewayMac: '02:aa:00:00:00:01',
          routeTarget: '65000:7206',
        },
      ],
    },
    policy,
  );
}

const vport = (hypervisor: string): Vport =>
  ({
    id: 'vm1',
    subnet: 's1',
    hypervisor,
    name: 'vm1',
    mac: '02:00:72:06:00:11',
    ip: '192.0.2.11',
  }) as unknown as Vport;

/** Attaches vm1 on hv1, then moves it to the hypervisors given, one directory change each. */
function flap(w: World, moves: string[]): OriginatedType2 {
  let revision = 2;
  let current = vport('hv1');
  w.applyChange({
    revision,
    op: 'create',
    collection: 'vports',
    id: 'vm1',
    object: current,
  } as unknown as Change);
  for (const to of moves) {
    const next = vport(to);
    revision += 1;
    w.applyChange({
      revision,
      op: 'update',
      collection: 'vports',
      id: 'vm1',
      object: next,
      previous: current,
    } as unknown as Change);
    current = next;
  }
  const routes = w.originations().filter((o): o is OriginatedType2 => o.kind === 'type2');
  expect(routes).toHaveLength(1);
  return routes[0] as OriginatedType2;
}

const FIVE_MOVES = ['hv2', 'hv1', 'hv2', 'hv1', 'hv2'];

describe('World: duplicate MAC detection', () => {
  it('the 5th move within 180 s (RFC defaults) raises one alarm and freezes the route at hv1, sequence 4', () => {
    const w = world();
    const alarms: FrozenMac[] = [];
    w.onDuplicateMac = (f) => alarms.push(f);
    const route = flap(w, [...FIVE_MOVES, 'hv1', 'hv2']);
    expect(route).toMatchObject({ vtep: VTEP.hv1, seq: 4 });
    expect(alarms).toEqual([
      expect.objectContaining({ key: '7206/02:00:72:06:00:11', vtep: VTEP.hv1, seq: 4 }),
    ]);
    // Only the advertisement is frozen: hv2's agent still gets the VM's port, as the directory says.
    expect(w.entriesFor('hv2').some((e) => e.kind === 'vport' && e.id === 'vm1')).toBe(true);
  });

  it('four moves are processed: the route follows the VM with sequence 4', () => {
    const w = world();
    expect(flap(w, FIVE_MOVES.slice(0, 4))).toMatchObject({ vtep: VTEP.hv1, seq: 4 });
    expect(w.duplicateMacs.allFrozen()).toEqual([]);
  });

  it('detection off: the 5th move is processed (sequence 5 from hv2)', () => {
    const w = world(null);
    expect(flap(w, FIVE_MOVES)).toMatchObject({ vtep: VTEP.hv2, seq: 5 });
  });

  it('a configured policy (3 moves) freezes at the 3rd', () => {
    const w = world({ moves: 3, windowMs: 60_000 });
    expect(flap(w, FIVE_MOVES)).toMatchObject({ vtep: VTEP.hv1, seq: 2 });
  });
});
