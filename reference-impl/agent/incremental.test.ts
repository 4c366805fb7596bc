import { describe, expect, it } from 'vitest';
import { rng } from '../../harness/util/rng.ts';
import { type Entry, entryKey } from '../protocol/messages.ts';
import { DesiredIndex, type ViewChange } from './incremental.ts';
import { cloneModel, deriveDesired, type KernelModel } from './model.ts';
import { plan, type Step } from './plan.ts';

const OPTIONS = { prefix: 'oinc-', hypervisor: 'hv1', vtep: '10.0.1.2', mtu: 1450 };
const VTEPS = ['10.0.1.2', '10.0.2.2', '10.0.3.2'];

/** Models compared as sorted plain data: Map order is not part of the kernel state. */
function plain(model: KernelModel): unknown {
  const sorted = (m: Map<unknown, unknown>) =>
    [...m.entries()].map(([k, v]) => [String(k), v]).sort(([a], [b]) => (String(a) < String(b) ? -1 : 1));
  return {
    vms: sorted(model.vms),
    domains: [...model.domains.values()]
      .map((ns) => ({
        name: ns.name,
        subnets: sorted(ns.subnets),
        ports: sorted(ns.ports),
        neighs: sorted(ns.neighs),
        remoteMacs: sorted(ns.remoteMacs),
        localMacs: sorted(ns.localMacs),
        floods: sorted(ns.floods),
      }))
      .sort((a, b) => (a.name < b.name ? -1 : 1)),
  };
}

/** A plan as the sorted set of what it does (the order of lines within a batch is not compared). */
function commands(steps: Step[]): string[] {
  return steps
    .flatMap((s) =>
      s.kind === 'ip' || s.kind === 'bridge'
        ? s.lines.map((l) => `${s.kind} ${s.ns} ${l}`)
        : [`${s.kind} ${s.ns}`],
    )
    .sort();
}

function baseEntries(): Entry[] {
  return [
    {
      kind: 'subnet',
      id: 'a1',
      domain: 'da',
      vni: 101,
      prefix: '10.1.1.0/24',
      gateway: '10.1.1.1',
      gatewayMac: '02:aa:00:00:00:01',
    },
    {
      kind: 'subnet',
      id: 'a2',
      domain: 'da',
      vni: 102,
      prefix: '10.1.2.0/24',
      gateway: '10.1.2.1',
      gatewayMac: '02:aa:00:00:00:01',
    },
    {
      kind: 'subnet',
      id: 'b1',
      domain: 'db',
      vni: 201,
      prefix: '10.1.1.0/24',
      gateway: '10.1.1.1',
      gatewayMac: '02:bb:00:00:00:01',
    },
    { kind: 'flood', vni: 101, vtep: '10.0.2.2' },
    { kind: 'flood', vni: 201, vtep: '10.0.3.2' },
  ];
}

/**
 * One random controller update: attach, detach or move a vport (subnet, address, MAC, observed MAC),
 * add, move or withdraw a MAC route (some on this hypervisor's VTEP, addresses that collide with
 * vports and each other), or a change outside the kernel model (a rule).
 */
function randomUpdate(view: Map<string, Entry>, next: () => number): { set: Entry[]; del: string[] } {
  const pick = <T>(list: readonly T[]) => list[Math.floor(next() * list.length)] as T;
  const subnets = [
    ['a1', 101],
    ['a2', 102],
    ['b1', 201],
  ] as const;
  const ip = (vni: number) => `10.1.${vni === 102 ? 2 : 1}.${10 + Math.floor(next() * 12)}`;
  const mac = () => `02:00:00:00:00:${(16 + Math.floor(next() * 16)).toString(16)}`;
  const vports = [...view.values()].filter((e) => e.kind === 'vport');
  const macs = [...view.values()].filter((e) => e.kind === 'mac');
  const r = next();
  if (r < 0.3 || vports.length === 0) {
    const [subnet, vni] = pick(subnets);
    return {
      set: [
        {
          kind: 'vport',
          id: `v${Math.floor(next() * 12)}`,
          subnet,
          vni,
          mac: mac(),
          ip: ip(vni),
          groups: [],
        },
      ],
      del: [],
    };
  }
  if (r < 0.42) return { set: [], del: [entryKey(pick(vports))] };
  if (r < 0.55) {
    const v = pick(vports);
    if (v.kind !== 'vport') return { set: [], del: [] };
    const [subnet, vni] = next() < 0.5 ? pick(subnets) : ([v.subnet, v.vni] as const);
    const moved = { ...v, subnet, vni, ip: next() < 0.5 ? ip(vni) : v.ip, mac: next() < 0.3 ? mac() : v.mac };
    const observed = next();
    if (observed < 0.3) moved.observedMac = mac();
    else if (observed < 0.5) delete moved.observedMac;
    return { set: [moved], del: [] };
  }
  if (r < 0.8 || macs.length === 0) {
    const [, vni] = pick(subnets);
    return {
      set: [
        { kind: 'mac', vni, mac: mac(), ip: next() < 0.8 ? ip(vni) : undefined, vtep: pick(VTEPS), seq: 0 },
      ],
      del: [],
    };
  }
  if (r < 0.92) return { set: [], del: [entryKey(pick(macs))] };
  return {
    set: [
      {
        kind: 'rule',
        id: `r${Math.floor(next() * 3)}`,
        domain: 'da',
        from: { kind: 'any' },
        to: { kind: 'any' },
        proto: 'any',
      } as Entry,
    ],
    del: [],
  };
}

describe('incremental derive and plan', () => {
  it('gives the full recompute’s model and plan on random attach/detach/move/route sequences', () => {
    let incremental = 0;
    let full = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const next = rng(seed);
      const view = new Map<string, Entry>(baseEntries().map((e) => [entryKey(e), e]));
      const index = new DesiredIndex(OPTIONS);
      let believed = index.rebuild(view);
      let pending: ViewChange[] = [];
      for (let step = 0; step < 150; step++) {
        const update = randomUpdate(view, next);
        // As the agent's view applies an update: deletions, then sets.
        for (const key of update.del) view.delete(key);
        for (const e of update.set) view.set(entryKey(e), e);
        pending.push({ del: update.del, set: update.set.map(entryKey) });
        // Sometimes a pass takes several updates at once.
        if (next() < 0.3) continue;
        const before = cloneModel(believed);
        const expected = deriveDesired(view.values(), OPTIONS);
        const delta = index.delta(view, pending);
        pending = [];
        if (!delta) {
          full++;
          believed = index.rebuild(view);
          expect(plain(believed), `seed ${seed} step ${step}`).toEqual(plain(expected));
          continue;
        }
        incremental++;
        expect(commands(plan(delta.want, delta.have)), `seed ${seed} step ${step}`).toEqual(
          commands(plan(expected, before)),
        );
        delta.commit();
        believed = index.model as KernelModel;
        expect(plain(believed), `seed ${seed} step ${step}`).toEqual(plain(expected));
      }
    }
    // Both paths were exercised, the incremental one most of the time.
    expect(incremental).toBeGreaterThan(full);
    expect(full).toBeGreaterThan(0);
  });

  it('takes the full path when a subnet or flood list changes', () => {
    const view = new Map<string, Entry>(baseEntries().map((e) => [entryKey(e), e]));
    view.set('vport/v1', {
      kind: 'vport',
      id: 'v1',
      subnet: 'a1',
      vni: 101,
      mac: '02:00:00:00:00:11',
      ip: '10.1.1.11',
    });
    const index = new DesiredIndex(OPTIONS);
    index.rebuild(view);
    const flood = { kind: 'flood', vni: 101, vtep: '10.0.3.2' } as const;
    view.set(entryKey(flood), flood);
    expect(index.delta(view, [{ del: [], set: [entryKey(flood)] }])).toBeUndefined();
  });
});
