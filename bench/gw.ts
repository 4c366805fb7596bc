/**
 * `npm run bench -- gw [--gateway ovsdb|evpn] [--count 30] [--lab-name otb-gw]`: deploys labs/gw.clab.yml under `--lab-name`
 * (reference-impl/lab-gw.ts: directory provisioned with gateway gw1 bound to subnet VNI 1601), then
 * attaches `count` VMs round-robin over the four hypervisors (both zones) and measures, for each,
 * the time from the directory API call (POST /v1/vports) until the VM's MAC is in the gateway's
 * Ucast_Macs_Remote, at the right hypervisor's locator. The table is watched through an OVSDB
 * `monitor` (reference-impl/ovsdb/client.ts) on the gateway's own Unix socket (the node's lab folder),
 * so the figure has no polling granularity. `--gateway evpn`: the EVPN gateway gw2 (FRR) gets the VNI's
 * devices as the scenario driver creates them, and the time runs until the MAC is in gw2's VXLAN FDB
 * at the right VTEP (zebra installs it from the type-2 route), watched with `bridge monitor fdb` in the
 * node's network namespace (an event per change, no polling either). The EVPN figure includes BGP: the
 * controller's announcement, rr1's reflection and FRR's install.
 *
 * BENCH lines: gw_mac_sync_p50_ms, gw_mac_sync_p95_ms.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { addEvpnBinding } from '../harness/gateway/evpn-gateway.ts';
import { deployGwLab, GW_SUBNET, GW_VNI, type GwLab } from '../reference-impl/lab-gw.ts';
import { OvsdbClient } from '../reference-impl/ovsdb/client.ts';
import { type OvsdbRow, setMembers, uuidOf } from '../reference-impl/ovsdb/types.ts';
import { percentile } from './_attach-stages.ts';

const HVS = [
  { id: 'hv1', vtep: '10.0.1.2' },
  { id: 'hv3', vtep: '10.0.3.2' },
  { id: 'hv2', vtep: '10.0.2.2' },
  { id: 'hv4', vtep: '10.0.4.2' },
];

export async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      count: { type: 'string', default: '30' },
      'lab-name': { type: 'string', default: 'otb-gw' },
      keep: { type: 'boolean', default: false },
      gateway: { type: 'string', default: 'ovsdb' },
    },
  });
  const profile = values.gateway;
  if (profile !== 'ovsdb' && profile !== 'evpn') throw new Error('--gateway must be ovsdb or evpn');
  const count = Number(values.count);
  if (!Number.isInteger(count) || count < 1 || count > 60)
    throw new Error('--count must be an integer from 1 to 60 (VM addresses in 198.51.100.0/26)');
  console.log(`deploying ${values['lab-name']} (labs/gw.clab.yml) ...`);
  const gw: GwLab = await deployGwLab(values['lab-name'] as string);
  const arrived = new Map<string, { at: number; vtep: string }>();
  const stop = profile === 'evpn' ? await watchEvpnFdb(gw, arrived) : await watchOvsdb(gw, arrived);
  const table = profile === 'evpn' ? "gw2's VXLAN FDB" : "gw1's Ucast_Macs_Remote";
  try {
    const times: number[] = [];
    for (let i = 0; i < count; i++) {
      const hv = HVS[i % HVS.length] as (typeof HVS)[number];
      const mac = `02:00:16:01:00:${(i + 1).toString(16).padStart(2, '0')}`;
      const started = performance.now();
      await gw.client.create('vports', {
        id: `b${i}`,
        subnet: GW_SUBNET,
        hypervisor: hv.id,
        name: `b${i}`,
        mac,
        ip: `198.51.100.${2 + i}`,
      });
      const deadline = started + 15_000;
      while (!arrived.has(mac) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 2));
      const got = arrived.get(mac);
      if (!got) throw new Error(`${mac} (vport b${i} on ${hv.id}) not in ${table} within 15 s`);
      if (got.vtep !== hv.vtep) throw new Error(`${mac} arrived at locator ${got.vtep}, expected ${hv.vtep}`);
      times.push(got.at - started);
    }
    const sorted = [...times].sort((a, b) => a - b);
    console.log(`gateway profile ${profile}: attach API call → MAC in ${table}, ${count} VMs over hv1..hv4:`);
    console.log(
      `  p50 ${percentile(sorted, 50).toFixed(1)} ms, p95 ${percentile(sorted, 95).toFixed(1)} ms, max ${sorted.at(-1)?.toFixed(1)} ms`,
    );
    console.log(`BENCH gw_mac_sync_p50_ms ${percentile(sorted, 50).toFixed(1)} ms`);
    console.log(`BENCH gw_mac_sync_p95_ms ${percentile(sorted, 95).toFixed(1)} ms`);
  } finally {
    stop();
    if (!values.keep) await gw.destroy();
  }
}

type Arrivals = Map<string, { at: number; vtep: string }>;

/** gw1's Ucast_Macs_Remote through an OVSDB monitor on its Unix socket; returns the stop function. */
async function watchOvsdb(gw: GwLab, arrived: Arrivals): Promise<() => void> {
  const ovsdb = await OvsdbClient.connect(`unix:${join(gw.nodeDir, 'gw1', 'ovs', 'db.sock')}`);
  const locators = new Map<string, string>();
  const watch = (updates: Record<string, Record<string, { new?: OvsdbRow }>>) => {
    const at = performance.now();
    for (const [id, c] of Object.entries(updates.Physical_Locator ?? {}))
      if (c.new) locators.set(id, String(setMembers(c.new.dst_ip)[0]));
    for (const c of Object.values(updates.Ucast_Macs_Remote ?? {})) {
      const mac = c.new ? String(setMembers(c.new.MAC)[0]) : undefined;
      if (mac && !arrived.has(mac))
        arrived.set(mac, { at, vtep: locators.get(uuidOf(c.new?.locator) ?? '') ?? '' });
    }
  };
  watch(
    await ovsdb.monitor(
      'hardware_vtep',
      'bench',
      { Physical_Locator: { columns: ['dst_ip'] }, Ucast_Macs_Remote: { columns: ['MAC', 'locator'] } },
      watch,
    ),
  );
  return () => ovsdb.close();
}

/**
 * gw2 (the EVPN gateway) gets VNI 1601 on eth2, then its FDB is watched with `bridge monitor fdb` in
 * its network namespace: a line per change, `<mac> dev vxlan1601 dst <vtep> ... extern_learn`.
 */
async function watchEvpnFdb(gw: GwLab, arrived: Arrivals): Promise<() => void> {
  const node = gw.lab.node('gw2');
  await addEvpnBinding(node, '10.0.6.2', { vni: GW_VNI, port: 'eth2' });
  const monitor = spawn('nsenter', [`--net=${node.netnsPath}`, 'bridge', 'monitor', 'fdb'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let rest = '';
  monitor.stdout.on('data', (chunk: Buffer) => {
    const at = performance.now();
    const lines = (rest + chunk.toString()).split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) {
      const m = /^([0-9a-f:]{17}) dev vxlan\d+ dst (\S+)/.exec(line);
      if (m && !line.startsWith('Deleted') && !arrived.has(m[1]!)) arrived.set(m[1]!, { at, vtep: m[2]! });
    }
  });
  await once(monitor, 'spawn');
  return () => monitor.kill();
}
