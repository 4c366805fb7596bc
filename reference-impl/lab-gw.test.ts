/**
 * The OVSDB hardware VTEP end to end on labs/gw.clab.yml (a private copy: OTWIN_GW_LAB names it,
 * default `otwin-gw-test`): the directory gets a subnet, a VM in each zone, gateway gw1 and a binding
 * of its port eth2 VLAN 0 to the subnet; zone z1's controller must register the gateway (GW-1), map
 * the logical switch to the VNI (GW-2), point the VMs' MACs at their hypervisors (GW-3) and export the
 * bare-metal host's MAC so both zones' VMs reach it (GW-4). Tables are read as typed JSON with
 * `ovsdb-client query` inside the gateway node. OTWIN_SABOTAGE for the controllers comes from
 * OTWIN_GW_SABOTAGE (tests/sabotage/gw.test.ts runs this file under each gw-* switch).
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getRuntime } from '../harness/runtime/index.ts';
import type { DeployedLab, Runtime } from '../harness/runtime/runtime.ts';
import { loadTopology } from '../harness/topology/load.ts';
import type { Topology } from '../harness/topology/types.ts';
import { otwinEnv } from '../harness/util/env.ts';
import { pollUntil, waitFor } from '../harness/util/poll.ts';
import { logicalSwitchName } from './controller/gateway.ts';
import { DirectoryClient, labTokenReader } from './directory/client.ts';
import type { OvsdbOperationResult, OvsdbRow } from './ovsdb/types.ts';
import { setMembers, uuidOf } from './ovsdb/types.ts';

const REPO = join(import.meta.dirname, '..');
const NAME = otwinEnv('GW_LAB') ?? 'otwin-gw-test';
const SABOTAGE = otwinEnv('GW_SABOTAGE') ?? '';
const VNI = 1601;
const BM = { ip: '198.51.100.50', mac: '02:00:16:00:00:50' };
const VMS = [
  { id: 'vm1', hv: 'hv1', ip: '198.51.100.11', mac: '02:00:16:00:00:01', vtep: '10.0.1.2' },
  { id: 'vm3', hv: 'hv3', ip: '198.51.100.13', mac: '02:00:16:00:00:03', vtep: '10.0.3.2' },
];

function labFile(): string {
  let text = readFileSync(join(REPO, 'labs', 'gw.clab.yml'), 'utf8')
    .replaceAll('otwin-gw', NAME)
    .replaceAll('- ..:/srv', `- ${REPO}:/srv`)
    .replaceAll('- default/', `- ${join(REPO, 'labs', 'default')}/`)
    .replaceAll('- gw/', `- ${join(REPO, 'labs', 'gw')}/`)
    .replaceAll('- gw:/opt', `- ${join(REPO, 'labs', 'gw')}:/opt`);
  if (SABOTAGE)
    text = text.replaceAll(
      '&& exec node bin/run-ts.js reference-impl/bin/controller.ts',
      `&& exec env OTWIN_SABOTAGE=${SABOTAGE} node bin/run-ts.js reference-impl/bin/controller.ts`,
    );
  const file = join(tmpdir(), `${NAME}.clab.yml`);
  writeFileSync(file, text);
  return file;
}

describe('OVSDB hardware VTEP gateway on labs/gw.clab.yml', () => {
  let topo: Topology;
  let runtime: Runtime;
  let lab: DeployedLab;
  const root = join(REPO, 'labs', `clab-${NAME}`);
  const client = new DirectoryClient({
    url: `unix:${join(root, 'directory', 'api.sock')}`,
    token: labTokenReader(join(root, 'secrets', 'directory.token')),
    timeoutMs: 10_000,
  });
  /** Rows of a hardware_vtep table, as the gateway's own ovsdb-server returns them (JSON). */
  const select = async (table: string): Promise<Map<string, OvsdbRow>> => {
    const query = JSON.stringify(['hardware_vtep', { op: 'select', table, where: [] }]);
    const r = await lab
      .node('gw1')
      .exec(['ovsdb-client', 'query', 'unix:/var/lib/openvswitch/db.sock', query]);
    if (r.exitCode !== 0) throw new Error(`ovsdb-client query ${table}: ${r.stderr.trim()}`);
    const [result] = JSON.parse(r.stdout) as OvsdbOperationResult[];
    return new Map((result?.rows ?? []).map((row) => [uuidOf(row._uuid) ?? '', row]));
  };
  const ping = async (node: string, netns: string | undefined, ip: string) => {
    const argv = ['ping', '-n', '-q', '-c', '1', '-W', '1', ip];
    return (await lab.node(node).exec(netns ? ['ip', 'netns', 'exec', netns, ...argv] : argv)).exitCode === 0;
  };
  const vmNetns = (vm: (typeof VMS)[number]) => `${NAME}-${vm.hv}-vm-${vm.id}`;

  beforeAll(async () => {
    topo = await loadTopology(labFile());
    runtime = await getRuntime('netns');
    await runtime.destroy(topo).catch(() => {});
    rmSync(join(root, 'directory'), { recursive: true, force: true });
    lab = await runtime.deploy(topo, { reconfigure: true });
    await waitFor(
      () => client.healthy(),
      (ok) => ok,
      { timeoutMs: 60_000, what: 'directory up' },
    );
    await client.create('zones', { id: 'z1', name: 'zone 1' });
    await client.create('zones', { id: 'z2', name: 'zone 2' });
    for (const n of [1, 2, 3, 4])
      await client.create('hypervisors', {
        id: `hv${n}`,
        name: `hv${n}`,
        zone: n <= 2 ? 'z1' : 'z2',
        vtep: `10.0.${n}.2`,
      });
    await client.create('tenants', { id: 'tg', name: 'gw tenant' });
    await client.create('domains', { id: 'dg', tenant: 'tg', name: 'main' });
    await client.create('subnets', {
      id: 'sg',
      domain: 'dg',
      name: 'gw-net',
      vni: VNI,
      prefix: '198.51.100.0/26',
      gateway: '198.51.100.1',
    });
    for (const vm of VMS)
      await client.create('vports', {
        id: vm.id,
        subnet: 'sg',
        hypervisor: vm.hv,
        name: vm.id,
        mac: vm.mac,
        ip: vm.ip,
      });
    await client.create('gateways', { id: 'gw1', name: 'gw1', zone: 'z1', ovsdb: 'tcp:172.20.64.40:6640' });
    await client.create('gatewayBindings', {
      id: 'gw1-eth2-0',
      gateway: 'gw1',
      port: 'eth2',
      vlan: 0,
      subnet: 'sg',
    });
  }, 300_000);

  afterAll(async () => {
    if (runtime && topo && !otwinEnv('GW_KEEP')) await runtime.destroy(topo);
  }, 120_000);

  it('GW-1: zone z1 controller registers gw1 with its tunnel IP', async () => {
    // Node folders sit next to the topology file (the copy in the temp folder).
    const log = () => readFileSync(join(tmpdir(), `clab-${NAME}`, 'c1', 'cmd.log'), 'utf8');
    await waitFor(
      log,
      (text) => /gateway gw1: registered, physical switch gw1 tunnel IP 10\.0\.5\.2/.test(text),
      {
        timeoutMs: 30_000,
        what: "c1's log to show gw1 registered",
      },
    );
  }, 40_000);

  it('GW-2: the logical switch bound to eth2 VLAN 0 has tunnel_key = VNI', async () => {
    const bound = await waitFor(
      async () => {
        const ports = await select('Physical_Port');
        const eth2 = [...ports.values()].find((p) => setMembers(p.name)[0] === 'eth2');
        const ls = await select('Logical_Switch');
        const binding = eth2?.vlan_bindings;
        const lsId =
          Array.isArray(binding) && binding[0] === 'map'
            ? uuidOf((binding[1] as [number, never][])[0]?.[1])
            : undefined;
        return lsId ? ls.get(lsId) : undefined;
      },
      (row) => row !== undefined,
      { timeoutMs: 30_000, what: 'eth2 VLAN 0 bound' },
    );
    expect(setMembers(bound?.name)[0]).toBe(logicalSwitchName(VNI));
    expect(setMembers(bound?.tunnel_key)[0]).toBe(VNI);
  }, 40_000);

  it('GW-3: each VM MAC points at its hypervisor VTEP, once', async () => {
    const rows = await pollUntil(
      async () => {
        const locators = await select('Physical_Locator');
        return [...(await select('Ucast_Macs_Remote')).values()]
          .map(
            (r) => `${setMembers(r.MAC)[0]} ${setMembers(locators.get(uuidOf(r.locator) ?? '')?.dst_ip)[0]}`,
          )
          .sort();
      },
      (got) => got.length === VMS.length,
      { timeoutMs: 30_000, what: 'Ucast_Macs_Remote' },
    );
    expect(rows.value).toEqual(VMS.map((vm) => `${vm.mac} ${vm.vtep}`).sort());
  }, 40_000);

  it('GW-4: VMs in both zones reach the bare-metal host, whose MAC the gateway learned', async () => {
    for (const vm of VMS) {
      const r = await pollUntil(
        () => ping(vm.hv, vmNetns(vm), BM.ip),
        (ok) => ok,
        {
          timeoutMs: 40_000,
          intervalMs: 200,
          what: `${vm.id} → bm1`,
        },
      );
      expect(r.ok, `${vm.id} (${vm.hv}) → bm1 ${BM.ip}`).toBe(true);
      const back = await pollUntil(
        () => ping('bm1', undefined, vm.ip),
        (ok) => ok,
        { timeoutMs: 20_000, what: `bm1 → ${vm.id}` },
      );
      expect(back.ok, `bm1 → ${vm.id} ${vm.ip}`).toBe(true);
    }
    // ovs-vtep writes what it learned on its next poll (≈1.3 s; it ages entries out after 15 s idle).
    const local = await pollUntil(
      async () => [...(await select('Ucast_Macs_Local')).values()].map((r) => setMembers(r.MAC)[0]),
      (macs) => macs.includes(BM.mac),
      { timeoutMs: 10_000, intervalMs: 200, what: 'Ucast_Macs_Local' },
    );
    expect(local.value).toContain(BM.mac);
    // Exported: c1 pushes it to its own agents and announces it as EVPN type-2, which zone z2's
    // controller imports: both zones' hypervisors hold it at the gateway's tunnel IP.
    for (const hv of ['hv1', 'hv3']) {
      const fdb = await pollUntil(
        () => lab.node(hv).exec(['ip', 'netns', 'exec', `${NAME}-${hv}-d-dg`, 'bridge', '-j', 'fdb', 'show']),
        (r) =>
          (JSON.parse(r.stdout || '[]') as { mac: string; dst?: string }[]).some(
            (e) => e.mac === BM.mac && e.dst === '10.0.5.2',
          ),
        { timeoutMs: 10_000, intervalMs: 200, what: `${hv}'s FDB entry for ${BM.mac}` },
      );
      expect(fdb.ok, `${hv} has ${BM.mac} at 10.0.5.2`).toBe(true);
    }
  }, 120_000);
});
