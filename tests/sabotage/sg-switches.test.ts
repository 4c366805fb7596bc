/**
 * The security-group sabotage switches (reference-impl/sabotage.ts) each change exactly what they
 * claim, in the agent's derived nftables state or the controller's routes; off, the reference
 * installs one rule per security rule and one set element per member. Fast: no kernel, no lab.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Change, Snapshot, Vport } from '../../reference-impl/directory/model.ts';
import type { Entry } from '../../reference-impl/protocol/messages.ts';

const WEB = 8_000_001;
const DB = 8_000_002;
const naming = { prefix: 'otj-sg-', hypervisor: 'hv1', mode: 'stateful' as const };
const NS = 'otj-sg-hv1-d-da';
const entries: Entry[] = [
  { kind: 'domain', id: 'da', tenant: 'ta' },
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
    kind: 'rule',
    id: 'r1',
    domain: 'da',
    from: { kind: 'group', sgid: WEB },
    to: { kind: 'group', sgid: DB },
    proto: 'tcp',
    ports: [5432, 5432],
  },
  {
    kind: 'vport',
    id: 'w1',
    subnet: 'a',
    vni: 5001,
    mac: '02:00:00:00:00:01',
    ip: '192.0.2.11',
    groups: [WEB],
  },
  {
    kind: 'vport',
    id: 'w2',
    subnet: 'a',
    vni: 5001,
    mac: '02:00:00:00:00:02',
    ip: '192.0.2.12',
    groups: [WEB],
  },
  {
    kind: 'mac',
    vni: 5001,
    mac: '02:00:00:00:00:09',
    ip: '192.0.2.21',
    vtep: '10.0.2.2',
    seq: 0,
    groups: [DB],
  },
  {
    kind: 'mac',
    vni: 5001,
    mac: '02:00:00:00:00:0a',
    ip: '192.0.2.22',
    vtep: '10.0.2.2',
    seq: 0,
    groups: [DB],
  },
];

async function deriveWith(switches: string) {
  vi.resetModules();
  vi.stubEnv('OTWIN_SABOTAGE', switches);
  const { deriveSecurity } = await import('../../reference-impl/agent/security.ts');
  const state = deriveSecurity(entries, naming).get(NS);
  if (!state) throw new Error(`no security state for ${NS}`);
  return { rules: [...state.rules.values()], sets: state.sets, guard: state.guard };
}

afterEach(() => {
  vi.unstubAllEnvs();
  vi.resetModules();
});

describe('security-group sabotage switches', () => {
  it('off: one rule per security rule, stateful, default deny, one element per member, anti-spoofing', async () => {
    const { rules, sets, guard } = await deriveWith('');
    expect(rules).toEqual([
      'ct state established,related accept',
      `ip saddr @g${WEB} ip daddr @g${DB} tcp dport 5432 accept`,
      'drop',
    ]);
    expect([...(sets.get(WEB) ?? [])]).toEqual(['192.0.2.11', '192.0.2.12']);
    expect([...(sets.get(DB) ?? [])]).toEqual(['192.0.2.21', '192.0.2.22']);
    expect(guard.size).toBe(2);
  });

  it('sg-allow-all enforces nothing; sg-stateless drops conntrack and adds the source-port mirror', async () => {
    expect((await deriveWith('sg-allow-all')).rules).toEqual([]);
    expect((await deriveWith('sg-stateless')).rules).toEqual([
      `ip saddr @g${WEB} ip daddr @g${DB} tcp dport 5432 accept`,
      `ip saddr @g${DB} ip daddr @g${WEB} tcp sport 5432 accept`,
      'drop',
    ]);
  });

  it('sg-cartesian expands members × members into rules (4 here), without sets', async () => {
    const { rules, sets } = await deriveWith('sg-cartesian');
    expect(rules.filter((r) => r.includes('dport 5432'))).toHaveLength(4);
    expect(sets.size).toBe(0);
  });

  it('sg-no-intra-subnet, sg-ignore-external and sg-egress-only accept before the rules', async () => {
    expect((await deriveWith('sg-no-intra-subnet')).rules).toContain(
      'ip saddr 192.0.2.0/26 ip daddr 192.0.2.0/26 accept',
    );
    expect((await deriveWith('sg-ignore-external')).rules).toContain('ip saddr != { 192.0.2.0/26 } accept');
    expect((await deriveWith('sg-egress-only')).rules).toContain(
      'ip saddr != { 192.0.2.11, 192.0.2.12 } accept',
    );
  });

  it('sg-no-community and sg-drop-membership-update change what the routes carry', async () => {
    const routeGroups = async (switches: string) => {
      vi.resetModules();
      vi.stubEnv('OTWIN_SABOTAGE', switches);
      const { World } = await import('../../reference-impl/controller/world.ts');
      const w = new World('z1');
      const vport = (groups: string[]) =>
        ({
          id: 'v',
          subnet: 's',
          hypervisor: 'hv1',
          name: 'v',
          mac: '02:00:00:00:00:01',
          ip: '10.0.0.5',
          securityGroups: groups,
        }) as unknown as Vport;
      w.loadSnapshot({
        revision: 1,
        objects: {
          hypervisors: [{ id: 'hv1', name: 'hv1', zone: 'z1', vtep: '10.0.1.2' }],
          domains: [{ id: 'd', tenant: 't', name: 'd' }],
          subnets: [
            {
              id: 's',
              domain: 'd',
              vni: 10,
              prefix: '10.0.0.0/24',
              gateway: '10.0.0.1',
              routeTarget: '65000:10',
            },
          ],
          securityGroups: [
            { id: 'web', tenant: 't', name: 'web', domain: 'd', sgid: WEB },
            { id: 'db', tenant: 't', name: 'db', domain: 'd', sgid: DB },
          ],
          securityRules: [],
          vports: [vport(['web'])],
        },
      } as unknown as Snapshot);
      const first = w.originations().find((o) => o.kind === 'type2');
      w.applyChange({
        revision: 2,
        op: 'update',
        collection: 'vports',
        id: 'v',
        object: vport(['web', 'db']),
      } as unknown as Change);
      const after = w.type2Changes(w.takeDirty().vports).set[0];
      return [
        first?.kind === 'type2' ? first.groups : undefined,
        after?.kind === 'type2' ? after.groups : undefined,
      ];
    };
    expect(await routeGroups('')).toEqual([[WEB], [WEB, DB]]);
    expect(await routeGroups('sg-no-community')).toEqual([[], []]);
    expect(await routeGroups('sg-drop-membership-update')).toEqual([[WEB], [WEB]]);
  });
});
