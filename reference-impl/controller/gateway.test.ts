/**
 * The controller's OVSDB hardware VTEP session (gateway.ts) against a real ovsdb-server serving the
 * hardware_vtep schema, the physical switch registered the way the gateway node does it (vtep-ctl):
 * expected rows come from the intent (VNI, the VMs' MACs, their hypervisors' VTEPs), read back with
 * vtep-ctl, the gateway's own client.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway, GatewayBinding, Hypervisor, Snapshot, Subnet, Vport } from '../directory/model.ts';
import { OvsdbClient } from '../ovsdb/client.ts';
import { startVtepServer, type VtepServer, vtepServerMissing } from '../ovsdb/fixtures/vtep-server.ts';
import { namedUuid } from '../ovsdb/types.ts';
import { GatewaySync, logicalSwitchName } from './gateway.ts';
import { World } from './world.ts';

const VNI = 1601;
const HVS = [
  { id: 'hv1', name: 'hv1', zone: 'z1', vtep: '10.0.1.2' },
  { id: 'hv2', name: 'hv2', zone: 'z1', vtep: '10.0.2.2' },
  { id: 'hv3', name: 'hv3', zone: 'z2', vtep: '10.0.3.2' },
] as Hypervisor[];
const SUBNET = {
  id: 's1',
  domain: 'd1',
  name: 'gw-net',
  vni: VNI,
  prefix: '198.51.100.0/26',
  gateway: '198.51.100.1',
  gatewayMac: '02:0a:00:00:06:41',
  routeTarget: '65000:1601',
} as Subnet;
const vport = (id: string, hypervisor: string, mac: string, ip: string) =>
  ({ id, subnet: 's1', hypervisor, name: id, mac, ip, securityGroups: [], revision: 1 }) as unknown as Vport;
const BM_MAC = '02:00:16:00:00:50';

function snapshot(target: string): Snapshot {
  return {
    revision: 1,
    objects: {
      zones: [],
      hypervisors: HVS,
      tenants: [],
      domains: [{ id: 'd1', tenant: 't', name: 'd1', description: '', revision: 1 }],
      subnets: [SUBNET],
      vports: [
        vport('vm1', 'hv1', '02:00:16:00:00:01', '198.51.100.11'),
        vport('vm3', 'hv3', '02:00:16:00:00:03', '198.51.100.13'),
      ],
      securityGroups: [],
      securityRules: [],
      floatingIps: [],
      redirectionTargets: [],
      gateways: [
        { id: 'gw1', name: 'gw1', zone: 'z1', ovsdb: target, description: '', revision: 1 } as Gateway,
      ],
      gatewayBindings: [
        {
          id: 'b1',
          gateway: 'gw1',
          port: 'eth2',
          vlan: 0,
          subnet: 's1',
          description: '',
          revision: 1,
        } as GatewayBinding,
      ],
    },
  };
}

const missing = vtepServerMissing();

describe.skipIf(missing !== undefined)('GatewaySync against a real hardware_vtep ovsdb-server', () => {
  let server: VtepServer;
  let world: World;
  let sync: GatewaySync;
  const log: string[] = [];
  const remoteMacs = () =>
    server
      .vtepCtl(['list-remote-macs', logicalSwitchName(VNI)])
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => /^[0-9a-f]{2}:|^unknown-dst/.test(l))
      .sort();

  beforeAll(async () => {
    server = await startVtepServer();
    // What labs/gw/vtep-node.sh does on the gateway itself.
    server.vtepCtl(['add-ps', 'gw1']);
    server.vtepCtl(['set', 'Physical_Switch', 'gw1', 'tunnel_ips=10.0.5.2']);
    server.vtepCtl(['add-port', 'gw1', 'eth2']);
    world = new World('z1');
    world.loadSnapshot(snapshot(server.target));
    sync = new GatewaySync({
      gateway: world.gateways.get('gw1') as Gateway,
      world,
      onWorldChange: () => sync?.requestSync(),
      log: (l) => log.push(l),
      reconnectMs: 2000,
    });
    sync.start();
  }, 20_000);
  afterAll(async () => {
    sync?.stop();
    await server?.stop();
  });

  it('GW-1: reads the registration (physical switch, tunnel IP)', async () => {
    await expect.poll(() => world.gatewayState.get('gw1')?.tunnelIp, { timeout: 5000 }).toBe('10.0.5.2');
    expect(log.join('\n')).toMatch(/gateway gw1: registered, physical switch gw1 tunnel IP 10.0.5.2/);
  });

  it('GW-2: one logical switch per bound subnet, tunnel_key = VNI, bound to port eth2 VLAN 0', async () => {
    await expect
      .poll(() => server.vtepCtl(['--columns=name,tunnel_key', 'list', 'Logical_Switch']), { timeout: 5000 })
      .toMatch(new RegExp(`name\\s+: ${logicalSwitchName(VNI)}\\s+tunnel_key\\s+: ${VNI}`));
    await expect
      .poll(() => server.vtepCtl(['list-bindings', 'gw1', 'eth2']).trim(), { timeout: 5000 })
      .toBe(`0000 ${logicalSwitchName(VNI)}`);
  });

  it('GW-3/GW-5: VMs at their hypervisors, unknown-dst to every hypervisor of the VNI; a move and a delete follow', async () => {
    await expect
      .poll(remoteMacs, { timeout: 5000 })
      .toEqual([
        '02:00:16:00:00:01 -> vxlan_over_ipv4/10.0.1.2',
        '02:00:16:00:00:03 -> vxlan_over_ipv4/10.0.3.2',
        'unknown-dst -> vxlan_over_ipv4/10.0.1.2',
        'unknown-dst -> vxlan_over_ipv4/10.0.3.2',
      ]);
    world.applyChange({
      revision: 2,
      op: 'update',
      collection: 'vports',
      id: 'vm1',
      object: vport('vm1', 'hv2', '02:00:16:00:00:01', '198.51.100.11') as never,
      at: '',
    });
    world.applyChange({
      revision: 3,
      op: 'delete',
      collection: 'vports',
      id: 'vm3',
      object: vport('vm3', 'hv3', '02:00:16:00:00:03', '198.51.100.13') as never,
      at: '',
    });
    sync.requestSync();
    await expect
      .poll(remoteMacs, { timeout: 5000 })
      .toEqual(['02:00:16:00:00:01 -> vxlan_over_ipv4/10.0.2.2', 'unknown-dst -> vxlan_over_ipv4/10.0.2.2']);
  });

  it('GW-4: a MAC the gateway learned is exported as a MAC-only type-2 at its tunnel IP and pushed to agents', async () => {
    // What ovs-vtep writes when the bare-metal host sends.
    const client = await OvsdbClient.connect(server.target);
    const [ls] = await client.transact('hardware_vtep', [
      {
        op: 'select',
        table: 'Logical_Switch',
        where: [['name', '==', logicalSwitchName(VNI)]],
        columns: ['_uuid'],
      },
    ]);
    const lsUuid = ls?.rows?.[0]?._uuid;
    await client.transact('hardware_vtep', [
      {
        op: 'insert',
        table: 'Physical_Locator',
        row: { dst_ip: '10.0.5.2', encapsulation_type: 'vxlan_over_ipv4' },
        'uuid-name': 'me',
      },
      {
        op: 'insert',
        table: 'Ucast_Macs_Local',
        row: { MAC: BM_MAC, logical_switch: lsUuid as never, locator: namedUuid('me') },
      },
    ]);
    client.close();
    await expect
      .poll(() => [...(world.gatewayState.get('gw1')?.macs ?? [])], { timeout: 5000 })
      .toEqual([`${VNI}/${BM_MAC}`]);
    expect(world.originations()).toContainEqual({
      kind: 'type2',
      vni: VNI,
      mac: BM_MAC,
      ip: undefined,
      vtep: '10.0.5.2',
      seq: 0,
      routeTarget: '65000:1601',
    });
    expect(world.originations()).toContainEqual({
      kind: 'type3',
      vni: VNI,
      vtep: '10.0.5.2',
      routeTarget: '65000:1601',
    });
    // Wherever vm1 is now (GW-3 moves it): a zone z1 hypervisor hosting the VNI.
    const entries = world.entriesFor(world.vports.get('vm1')?.hypervisor ?? 'hv1');
    expect(entries).toContainEqual(expect.objectContaining({ kind: 'mac', mac: BM_MAC, vtep: '10.0.5.2' }));
    expect(entries).toContainEqual({ kind: 'flood', vni: VNI, vtep: '10.0.5.2' });
  });

  it('GW-6: after the session drops and the database is changed meanwhile, it is resynced with no duplicate or missing row', async () => {
    const before = remoteMacs();
    const connects = sync.status().connects as number;
    server.dropSessions();
    // While the controller is away: a row lost, a stray one and a duplicate of a wanted one added.
    server.vtepCtl(['del-ucast-remote', logicalSwitchName(VNI), '02:00:16:00:00:01']);
    server.vtepCtl(['add-ucast-remote', logicalSwitchName(VNI), '02:00:16:00:00:99', '10.0.9.9']);
    server.vtepCtl(['set', 'Logical_Switch', logicalSwitchName(VNI), `tunnel_key=${VNI + 7}`]);
    await expect.poll(() => sync.status().connects, { timeout: 10_000 }).toBeGreaterThan(connects);
    await expect.poll(remoteMacs, { timeout: 5000 }).toEqual(before);
    await expect
      .poll(() => server.vtepCtl(['get', 'Logical_Switch', logicalSwitchName(VNI), 'tunnel_key']).trim(), {
        timeout: 5000,
      })
      .toBe(String(VNI));
    expect(server.vtepCtl(['list-ls']).trim().split('\n')).toEqual([logicalSwitchName(VNI)]);
  });
});
