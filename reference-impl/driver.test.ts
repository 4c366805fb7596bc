/** The reference driver reads a lab's conventions from its roles' command lines (no deployment). */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadTopology } from '../harness/topology/load.ts';
import { otwinEnv } from '../harness/util/env.ts';
import { HarnessError } from '../harness/util/errors.ts';
import { DirectoryClient } from './directory/client.ts';
import { DirectoryServer } from './directory/server.ts';
import { createOrConfirm, isMembershipOnly, labConventions, nsPrefixFor } from './driver.ts';

const repo = join(import.meta.dirname, '..');

describe('reference driver: lab conventions', () => {
  it('reads the directory socket, token, agent zones and prefixes of the default lab', async () => {
    const c = labConventions(await loadTopology(join(repo, 'labs', 'default.clab.yml')));
    expect(c.socket).toBe(join(repo, 'labs', 'clab-otwin-default', 'directory', 'api.sock'));
    // The token is read from the lab's 0600 token file when first needed (the roles create it).
    expect(c.tokenFile).toBe(join(repo, 'labs', 'clab-otwin-default', 'secrets', 'directory.token'));
    if (!otwinEnv('DIRECTORY_TOKEN')) expect(typeof c.token).toBe('function');
    expect(Object.fromEntries(c.agents)).toEqual({
      hv1: { zone: 'z1', prefix: 'otwin-default-' },
      hv2: { zone: 'z1', prefix: 'otwin-default-' },
      hv3: { zone: 'z2', prefix: 'otwin-default-' },
      hv4: { zone: 'z2', prefix: 'otwin-default-' },
    });
  });

  it('gives the reference-2az lab the names its own tests use', async () => {
    const c = labConventions(await loadTopology(join(repo, 'labs', 'reference-2az.clab.yml')));
    expect(c.socket).toBe(join(repo, 'labs', 'clab-otf-2az', 'directory', 'api.sock'));
    expect(c.agents.get('hv3')).toEqual({ zone: 'z2', prefix: 'otf-2az-' });
    expect(nsPrefixFor('otf-2az')).toBe('otf-2az-');
  });
});

describe('reference driver: already exists', () => {
  it('is success only when the existing object equals the intent', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'otwin-driver-'));
    const server = new DirectoryServer({
      dbPath: join(dir, 'db.sqlite'),
      token: 't',
      host: '127.0.0.1',
      port: 0,
    });
    const { port } = await server.listen();
    const client = new DirectoryClient({ url: `http://127.0.0.1:${port}`, token: 't' });
    try {
      await client.create('zones', { id: 'z1', name: 'z1' });
      const hv = { id: 'hv1', name: 'hv1', zone: 'z1', vtep: '10.0.0.1' };
      expect(await createOrConfirm(client, 'hypervisors', hv)).toBe(true);
      expect(await createOrConfirm(client, 'hypervisors', hv)).toBe(false);
      const moved = createOrConfirm(client, 'hypervisors', { ...hv, vtep: '10.0.0.9' });
      await expect(moved).rejects.toThrow(HarnessError);
      await expect(moved).rejects.toThrow(
        /hypervisors\/hv1 already exists and differs from the intent \(vtep: "10.0.0.1", intent "10.0.0.9"\)/,
      );
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('reference driver: security groups as directory objects', () => {
  it('turns intent rules into group rules (ingress to a group, else egress), one per port range', async () => {
    const { securityObjects, bulkMemberVports } = await import('./driver-security.ts');
    const { emptyIntent } = await import('../harness/scenario/intent.ts');
    const intent = emptyIntent();
    intent.tenants.push({ name: 'T' });
    intent.domains.push({ name: 'net', tenant: 'T', vni: undefined, pnat: false, zone: undefined });
    intent.subnets.push({
      name: 's',
      domain: 'net',
      cidr: '10.0.0.0/29',
      vni: 10,
      gateway: '10.0.0.1',
      routeTarget: undefined,
    });
    intent.groups.push({ name: 'web', domain: 'net' }, { name: 'db', domain: undefined });
    intent.vms.push({
      name: 'd1',
      subnet: 's',
      hypervisor: 'hv1',
      ip: '10.0.0.2',
      mac: undefined,
      groups: ['db'],
      node: undefined,
      iface: 'eth0',
      port: undefined,
      attached: true,
    });
    intent.rules.push(
      {
        from: 'any',
        to: 'web',
        proto: 'tcp',
        ports: [
          [80, 80],
          [443, 443],
        ],
        domain: undefined,
      },
      { from: 'web', to: '203.0.113.0/24', proto: 'icmp', ports: [], domain: undefined },
      { from: 'web', to: 'db', proto: 'udp', ports: [], domain: undefined },
    );
    const { groups, rules } = securityObjects(intent);
    expect(groups).toEqual([
      { id: 'sg.t.web', tenant: 't', name: 'web', domain: 't.net' },
      { id: 'sg.t.db', tenant: 't', name: 'db', domain: 't.net' },
    ]);
    expect(rules.map(({ id: _, ...r }) => r)).toEqual([
      { securityGroup: 'sg.t.web', direction: 'ingress', protocol: 'tcp', portMin: 80, portMax: 80 },
      { securityGroup: 'sg.t.web', direction: 'ingress', protocol: 'tcp', portMin: 443, portMax: 443 },
      { securityGroup: 'sg.t.web', direction: 'egress', protocol: 'icmp', remotePrefix: '203.0.113.0/24' },
      { securityGroup: 'sg.t.db', direction: 'ingress', protocol: 'udp', remoteGroup: 'sg.t.web' },
    ]);
    intent.rules.push({ from: 'any', to: '10.0.0.0/8', proto: 'any', ports: [], domain: undefined });
    expect(() => securityObjects(intent)).toThrow(/name a group on one side/);
    // Bulk members: addresses from the top of the subnet, skipping the VMs and the gateway.
    const bulk = bulkMemberVports(intent, { group: 'web', count: 3, subnet: 's' }, 'sg.t.web', 'bulk');
    expect(bulk.map((v) => v.ip)).toEqual(['10.0.0.6', '10.0.0.5', '10.0.0.4']);
    expect(() =>
      bulkMemberVports(intent, { group: 'web', count: 5, subnet: 's' }, 'sg.t.web', 'bulk'),
    ).toThrow(/room for 4, 5 asked/);
  });
});

describe('reference driver: membership-only changes', () => {
  const none = { apply: false, attach: [], detach: [], move: [], setGroups: [] };
  it('takes only setGroups as membership-only (one PATCH per VM, no re-confirmation of the objects)', () => {
    expect(isMembershipOnly({ ...none, setGroups: [{ vm: 'x', groups: ['app'] }] })).toBe(true);
    expect(isMembershipOnly(none)).toBe(false);
    expect(isMembershipOnly({ ...none, apply: true, setGroups: [{ vm: 'x', groups: [] }] })).toBe(false);
    expect(isMembershipOnly({ ...none, attach: ['y'], setGroups: [{ vm: 'x', groups: [] }] })).toBe(false);
    expect(
      isMembershipOnly({ ...none, move: [{ vm: 'y', to: 'hv2' }], setGroups: [{ vm: 'x', groups: [] }] }),
    ).toBe(false);
    expect(
      isMembershipOnly({
        ...none,
        setFloatingIps: [{ ip: '198.18.0.5', vm: null }],
        setGroups: [{ vm: 'x', groups: [] }],
      }),
    ).toBe(false);
  });
});
