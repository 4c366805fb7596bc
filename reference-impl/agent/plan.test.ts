import { describe, expect, it } from 'vitest';
import type { Entry } from '../protocol/messages.ts';
import { cloneModel, deriveDesired, type KernelModel } from './model.ts';
import { plan, planSize } from './plan.ts';

const opts = { prefix: 'otf-u-', hypervisor: 'hv1', vtep: '10.0.0.1', mtu: 1450 };
const base: Entry[] = [
  { kind: 'domain', id: 'd1', tenant: 't1' },
  {
    kind: 'subnet',
    id: 's1',
    domain: 'd1',
    vni: 100,
    prefix: '10.1.0.0/24',
    gateway: '10.1.0.1',
    gatewayMac: '02:0a:00:00:00:64',
  },
  {
    kind: 'subnet',
    id: 's2',
    domain: 'd1',
    vni: 200,
    prefix: '10.2.0.0/24',
    gateway: '10.2.0.1',
    gatewayMac: '02:0a:00:00:00:c8',
  },
  { kind: 'vport', id: 'v1', subnet: 's1', vni: 100, mac: '02:00:00:00:00:01', ip: '10.1.0.10' },
  { kind: 'mac', vni: 100, mac: '02:00:00:00:00:02', ip: '10.1.0.11', vtep: '10.0.0.2', seq: 0 },
  { kind: 'mac', vni: 200, mac: '02:00:00:00:00:03', ip: '10.2.0.12', vtep: '10.0.0.3', seq: 0 },
  { kind: 'flood', vni: 100, vtep: '10.0.0.2' },
  { kind: 'flood', vni: 200, vtep: '10.0.0.3' },
];
const empty: KernelModel = { domains: new Map(), vms: new Map() };
const lines = (steps: ReturnType<typeof plan>) =>
  steps.flatMap((s) =>
    s.kind === 'ip' || s.kind === 'bridge' ? s.lines.map((l) => `${s.kind} ${l}`) : [`${s.kind} ${s.ns}`],
  );

describe('agent planner (desired vs actual diff)', () => {
  it('sets the outer DF bit on an existing VXLAN device in place (no recreation)', () => {
    const desired = deriveDesired(base, opts);
    const actual = cloneModel(desired);
    for (const ns of actual.domains.values()) for (const dev of ns.subnets.values()) dev.df = false;
    const all = lines(plan(desired, actual));
    expect(all).toContain('ip link set vx100 type vxlan df set');
    expect(all.some((l) => l.includes('link add') || l.includes('link del'))).toBe(false);
  });

  it('builds everything from scratch in dependency order', () => {
    const steps = plan(deriveDesired(base, opts), empty);
    const all = lines(steps);
    expect(all[0]).toBe('netns-add otf-u-hv1-d-d1');
    expect(all).toContain('netns-add otf-u-hv1-vm-v1');
    expect(all).toContain(
      'ip link add otv100 type vxlan id 100 local 10.0.0.1 dstport 4789 nolearning df set',
    );
    expect(all).toContain('ip link set otv100 netns otf-u-hv1-d-d1');
    expect(all).toContain('bridge link set dev vx100 neigh_suppress on learning off');
    expect(all).toContain('ip neigh replace 10.1.0.11 lladdr 02:00:00:00:00:02 dev br100 nud permanent');
    expect(all).toContain('bridge fdb replace 02:00:00:00:00:02 dev vx100 dst 10.0.0.2 self static');
    expect(all).toContain('bridge fdb append 00:00:00:00:00:00 dev vx200 dst 10.0.0.3 self permanent');
    // The VXLAN device is created in the hypervisor namespace before the domain batch renames it.
    const hvIndex = steps.findIndex((s) => s.kind === 'ip' && s.ns === undefined);
    const domIndex = steps.findIndex((s) => s.kind === 'ip' && s.ns === 'otf-u-hv1-d-d1');
    expect(hvIndex).toBeGreaterThan(-1);
    expect(hvIndex).toBeLessThan(domIndex);
    // Subnet 200 has no local VM but is instantiated (asymmetric IRB needs it).
    expect(all).toContain('ip link add br200 type bridge mcast_snooping 0');
    expect(all.some((l) => /flush/.test(l))).toBe(false);
  });

  it('plans nothing when the kernel matches', () => {
    const desired = deriveDesired(base, opts);
    expect(plan(desired, cloneModel(desired))).toEqual([]);
  });

  it('changes only what differs: a moved MAC is one replace pair, nothing else', () => {
    const before = deriveDesired(base, opts);
    const moved = base.map((e) =>
      e.kind === 'mac' && e.mac === '02:00:00:00:00:02' ? { ...e, vtep: '10.0.0.9', seq: 1 } : e,
    );
    const all = lines(plan(deriveDesired(moved, opts), cloneModel(before)));
    expect(all).toEqual([
      'bridge fdb replace 02:00:00:00:00:02 dev vx100 master static',
      'bridge fdb replace 02:00:00:00:00:02 dev vx100 dst 10.0.0.9 self static',
    ]);
  });

  it('removes withdrawn entries individually', () => {
    const before = deriveDesired(base, opts);
    const fewer = base.filter(
      (e) => !(e.kind === 'flood' && e.vni === 100) && !(e.kind === 'mac' && e.vni === 200),
    );
    const all = lines(plan(deriveDesired(fewer, opts), cloneModel(before)));
    expect(all.sort()).toEqual(
      [
        'bridge fdb del 00:00:00:00:00:00 dev vx100 dst 10.0.0.2 self',
        'bridge fdb del 02:00:00:00:00:03 dev vx200 master',
        'bridge fdb del 02:00:00:00:00:03 dev vx200 self',
        'ip neigh del 10.2.0.12 dev br200',
      ].sort(),
    );
  });

  it('tears down a domain when its last VM leaves, and never touches foreign objects', () => {
    const before = deriveDesired(base, opts);
    const none = base.filter((e) => e.kind !== 'vport');
    const all = lines(plan(deriveDesired(none, opts), cloneModel(before)));
    expect(all).toContain('netns-del otf-u-hv1-vm-v1');
    expect(all).toContain('netns-del otf-u-hv1-d-d1');
    expect(all.every((l) => /otf-u-hv1-|vx\d+|br\d+|vp[0-9a-f]{12}/.test(l))).toBe(true);
  });

  it('ignores remote entries pointing at its own VTEP and prefers a local VM over a stale remote MAC', () => {
    const entries: Entry[] = [
      ...base,
      { kind: 'flood', vni: 100, vtep: '10.0.0.1' },
      { kind: 'mac', vni: 100, mac: '02:00:00:00:00:01', ip: '10.1.0.10', vtep: '10.0.0.5', seq: 3 },
    ];
    const desired = deriveDesired(entries, opts);
    const ns = desired.domains.get('otf-u-hv1-d-d1')!;
    expect([...ns.floods.keys()]).not.toContain('100/10.0.0.1');
    expect(ns.remoteMacs.has('100/02:00:00:00:00:01')).toBe(false);
    expect(planSize(plan(desired, cloneModel(deriveDesired(base, opts))))).toBe(0);
  });
});
