/**
 * The OVSDB hardware VTEP end to end on labs/gw.clab.yml (a private copy: OTWIN_GW_LAB names it,
 * default `otwin-gw-test`): the directory gets a subnet, a VM in each zone, gateway gw1 and a binding
 * of its port eth2 VLAN 0 to the subnet; zone z1's controller must register the gateway (GW-1), map
 * the logical switch to the VNI (GW-2), point the VMs' MACs at their hypervisors (GW-3) and export the
 * bare-metal host's MAC so both zones' VMs reach it (GW-4). Tables are read as typed JSON with
 * `ovsdb-client query` inside the gateway node. OTWIN_SABOTAGE for the controllers comes from
 * OTWIN_GW_SABOTAGE (tests/sabotage/gw.test.ts runs this file under each gw-* switch).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { otwinEnv } from '../harness/util/env.ts';
import { pollUntil, waitFor } from '../harness/util/poll.ts';
import { logicalSwitchName } from './controller/gateway.ts';
import { BARE_METAL as BM, deployGwLab, type GwLab, GW_VNI as VNI } from './lab-gw.ts';
import { setMembers, uuidOf } from './ovsdb/types.ts';

const NAME = otwinEnv('GW_LAB') ?? 'otwin-gw-test';
const SABOTAGE = otwinEnv('GW_SABOTAGE') ?? '';
const VMS = [
  { id: 'vm1', hv: 'hv1', ip: '198.51.100.11', mac: '02:00:16:00:00:01', vtep: '10.0.1.2' },
  { id: 'vm3', hv: 'hv3', ip: '198.51.100.13', mac: '02:00:16:00:00:03', vtep: '10.0.3.2' },
];

describe('OVSDB hardware VTEP gateway on labs/gw.clab.yml', () => {
  let gw: GwLab;
  const select = (table: string) => gw.select(table);
  const ping = async (node: string, netns: string | undefined, ip: string) => {
    const argv = ['ping', '-n', '-q', '-c', '1', '-W', '1', ip];
    return (
      (await gw.lab.node(node).exec(netns ? ['ip', 'netns', 'exec', netns, ...argv] : argv)).exitCode === 0
    );
  };
  const vmNetns = (vm: (typeof VMS)[number]) => `${NAME}-${vm.hv}-vm-${vm.id}`;

  beforeAll(async () => {
    gw = await deployGwLab(NAME, SABOTAGE);
    for (const vm of VMS)
      await gw.client.create('vports', {
        id: vm.id,
        subnet: 'sg',
        hypervisor: vm.hv,
        name: vm.id,
        mac: vm.mac,
        ip: vm.ip,
      });
  }, 300_000);

  afterAll(async () => {
    if (gw && !otwinEnv('GW_KEEP')) await gw.destroy();
  }, 120_000);

  it('GW-1: zone z1 controller registers gw1 with its tunnel IP', async () => {
    // Node folders sit next to the topology file (the copy in the temp folder).
    const log = () => readFileSync(join(gw.nodeDir, 'c1', 'cmd.log'), 'utf8');
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
        () =>
          gw.lab.node(hv).exec(['ip', 'netns', 'exec', `${NAME}-${hv}-d-dg`, 'bridge', '-j', 'fdb', 'show']),
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
