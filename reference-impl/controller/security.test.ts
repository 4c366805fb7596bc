/**
 * Security groups in the controller: group ids ride on type-2 routes as secgroup communities, remote
 * members come from those communities, rules become per-domain `rule` entries, and a membership
 * change is incremental (the VM's own entries and route only).
 */
import { describe, expect, it } from 'vitest';
import type { Change, Snapshot, Vport } from '../directory/model.ts';
import { entryKey } from '../protocol/messages.ts';
import { toBgp } from './evpn.ts';
import { secgroupCommunity, secgroupIds } from './security.ts';
import { type OriginatedType2, World } from './world.ts';

const WEB = 8_000_001;
const DB = 8_000_002;

function vport(id: string, hypervisor: string, ip: string, groups: string[]): Vport {
  return {
    id,
    revision: 1,
    subnet: 's1',
    hypervisor,
    name: id,
    mac: `02:00:00:00:00:${ip.split('.')[3]!.padStart(2, '0')}`,
    ip,
    securityGroups: groups,
    description: '',
  };
}

function world(): World {
  const w = new World('z1');
  w.loadSnapshot({
    revision: 1,
    objects: {
      zones: [],
      tenants: [],
      hypervisors: [
        { id: 'hv1', name: 'hv1', zone: 'z1', vtep: '10.0.1.2' },
        { id: 'hv2', name: 'hv2', zone: 'z1', vtep: '10.0.2.2' },
      ],
      domains: [{ id: 'd1', tenant: 't', name: 'd1' }],
      subnets: [
        {
          id: 's1',
          domain: 'd1',
          vni: 101,
          prefix: '10.1.0.0/24',
          gateway: '10.1.0.1',
          gatewayMac: '02:aa:00:00:00:01',
          routeTarget: '65000:101',
        },
      ],
      securityGroups: [
        { id: 'web', tenant: 't', name: 'web', domain: null, sgid: WEB },
        { id: 'db', tenant: 't', name: 'db', domain: 'd1', sgid: DB },
      ],
      securityRules: [
        {
          id: 'r1',
          securityGroup: 'db',
          direction: 'ingress',
          protocol: 'tcp',
          portMin: 5432,
          portMax: 5432,
          remoteGroup: 'web',
          remotePrefix: null,
        },
        {
          id: 'r2',
          securityGroup: 'web',
          direction: 'egress',
          protocol: 'icmp',
          portMin: null,
          portMax: null,
          remoteGroup: null,
          remotePrefix: '203.0.113.0/24',
        },
      ],
      vports: [vport('a', 'hv1', '10.1.0.10', ['web']), vport('b', 'hv2', '10.1.0.20', ['db'])],
    },
  } as unknown as Snapshot);
  w.takeDirty();
  return w;
}

describe('security groups in the controller', () => {
  it('encodes one secgroup community per group and decodes it back', () => {
    expect(secgroupCommunity(65000, WEB)).toEqual({ type: 'raw', hex: '8004fde8007a1201' });
    const o = world()
      .originations()
      .find((x): x is OriginatedType2 => x.kind === 'type2' && x.ip === '10.1.0.10');
    expect(o?.groups).toEqual([WEB]);
    const attrs = toBgp('1.1.1.1', o!, 65000).attrs;
    expect(secgroupIds(attrs.extCommunities)).toEqual([WEB]);
    // A 4-octet AS is carried as AS_TRANS; a codec that names the community is read as well.
    expect(secgroupCommunity(4_200_000_000, DB)).toEqual({ type: 'raw', hex: '80045ba0007a1202' });
    expect(secgroupIds([{ type: 'secgroup', asn: 65000, id: DB } as never])).toEqual([DB]);
  });

  it('pushes rules in group ids, own groups on vports and members on MAC entries', () => {
    const entries = world().entriesFor('hv1');
    const rules = entries.filter((e) => e.kind === 'rule');
    expect(rules).toEqual([
      {
        kind: 'rule',
        id: 'r1',
        domain: 'd1',
        from: { kind: 'group', sgid: WEB },
        to: { kind: 'group', sgid: DB },
        proto: 'tcp',
        ports: [5432, 5432],
      },
      {
        kind: 'rule',
        id: 'r2',
        domain: 'd1',
        from: { kind: 'group', sgid: WEB },
        to: { kind: 'cidr', cidr: '203.0.113.0/24' },
        proto: 'icmp',
      },
    ]);
    expect(entries.find((e) => e.kind === 'vport')).toMatchObject({ id: 'a', groups: [WEB] });
    expect(entries.find((e) => e.kind === 'mac')).toMatchObject({ ip: '10.1.0.20', groups: [DB] });
  });

  it('learns remote members from the communities of learned routes only', () => {
    const w = world();
    w.learnMac('remote', {
      origin: '172.20.0.99',
      vni: 101,
      mac: '02:00:00:00:00:99',
      ip: '10.1.0.99',
      vtep: '10.0.9.2',
      seq: 0,
      routeTargets: ['65000:101'],
      groups: [DB],
    });
    const dirty = w.takeDirty();
    expect(dirty.all).toBe(false);
    const changed = w.entriesChanged('hv1', dirty);
    expect(changed.get('mac/101/02:00:00:00:00:99')).toMatchObject({ ip: '10.1.0.99', groups: [DB] });
  });

  it('announces an address-only vport (attachment none) as a member everywhere, its own hypervisor included', () => {
    const w = world();
    w.applyChange({
      revision: 2,
      op: 'create',
      collection: 'vports',
      id: 'm',
      object: { ...vport('m', 'hv1', '10.1.0.50', ['web']), attachment: 'none' },
      at: '',
    } as unknown as Change);
    const dirty = w.takeDirty();
    const own = w.entriesChanged('hv1', dirty);
    expect(own.get('vport/m')).toBeUndefined();
    expect(own.get('mac/101/02:00:00:00:00:50')).toMatchObject({ vtep: '10.0.1.2', groups: [WEB] });
    const full = w.entriesFor('hv1');
    expect(full.some((e) => e.kind === 'vport' && e.id === 'm')).toBe(false);
    expect(full.find((e) => e.kind === 'mac' && e.ip === '10.1.0.50')).toMatchObject({ vtep: '10.0.1.2' });
    expect(w.originations().some((o) => o.kind === 'type2' && o.ip === '10.1.0.50')).toBe(true);
  });

  it('a membership change touches the VM own entries and route only', () => {
    const w = world();
    w.applyChange({
      revision: 2,
      op: 'update',
      collection: 'vports',
      id: 'a',
      object: vport('a', 'hv1', '10.1.0.10', ['web', 'db']),
      previous: vport('a', 'hv1', '10.1.0.10', ['web']),
      at: '',
    } as unknown as Change);
    const dirty = w.takeDirty();
    expect(dirty.all).toBe(false);
    const own = w.entriesChanged('hv1', dirty);
    expect([...own.keys()].filter((k) => own.get(k))).toEqual(['vport/a']);
    expect(own.get('vport/a')).toMatchObject({ groups: [WEB, DB] });
    const other = w.entriesChanged('hv2', dirty);
    const set = [...other.entries()].filter(([, e]) => e);
    expect(set.map(([k]) => k)).toEqual(['mac/101/02:00:00:00:00:10']);
    expect(set[0]![1]).toMatchObject({ groups: [WEB, DB] });
    const routes = w.type2Changes(dirty.vports);
    expect(routes.remove).toEqual([]);
    expect(routes.set.map((o) => (o as OriginatedType2).groups)).toEqual([[WEB, DB]]);
    expect(w.entriesFor('hv2').map(entryKey)).toContain('rule/r1');
  });
});
