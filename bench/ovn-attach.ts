/**
 * `npm run bench -- ovn-attach [--count 30] [--probe routed|same-subnet] [--lab-name otb-ovn]`: deploys labs/ovn.clab.yml under
 * `--lab-name`, puts one probe VM on each of the four chassis through the ovn driver, then attaches
 * `count` VMs round-robin and measures for each the time from the driver's provision call (the NB
 * transaction, then the VIF plug a hypervisor would do) until the new VM answers the probe VM of every
 * chassis. Measured as bench/attach.ts measures the reference: the probes run in the traffic engine's
 * probe server inside the probe VMs and are armed (an echo request every 5 ms) before the call.
 * `--probe` places the probe VMs as bench/attach.ts does: `routed` (the default) in a subnet of their
 * own in the same domain, so each echo crosses the probe chassis' logical router (which knows every
 * logical port's address: no ARP); `same-subnet` beside the VMs (BENCH lines `…_same_subnet`).
 *
 * Where the time goes (_ovn-attach-stages.ts): each attach's NB transaction also sets
 * `NB_Global.nb_cfg` (no wait added), and after its replies the benchmark reads OVN's own stamps of
 * that change (ovn-northd, every chassis' ovn-controller) and, at the end, the hosting chassis' own
 * logs (ovs-vswitchd adding the VIF, ovn-controller binding the port): a stage table like the
 * reference's.
 *
 * BENCH lines: ovn_attach_reachable_p50_ms|p95, and ovn_attach_stage_<stage>_p50_ms|p95 per stage.
 * `npm run bench -- compare-impl` runs it in one run beside the reference's attach_reachable_* (same
 * count, four hypervisors each); see docs/ovn.md.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { getRuntime } from '../harness/runtime/index.ts';
import type { DriverContext } from '../harness/scenario/drivers/driver.ts';
import { emptyIntent, type Vm } from '../harness/scenario/intent.ts';
import type { Scenario } from '../harness/scenario/types.ts';
import { loadTopology } from '../harness/topology/load.ts';
import { ProbeServer } from '../harness/traffic/server.ts';
import { OvnDriver } from '../implementations/ovn/driver.ts';
import { ovnNames } from '../implementations/ovn/names.ts';
import { percentile } from './_attach-stages.ts';
import {
  currentNbCfg,
  type OvnAttachTiming,
  ovnStageReport,
  ovnStages,
  readPortEvents,
  readStamps,
} from './_ovn-attach-stages.ts';
import { PROBE_SUBNET, probePlacement, warmProbes } from './_probes.ts';

const CHASSIS = ['hv1', 'hv2', 'hv3', 'hv4'];
const REPO = resolve(import.meta.dirname, '..');
const now = () => performance.timeOrigin + performance.now();

function benchVm(name: string, hypervisor: string, ip: string, subnet = 's'): Vm {
  return {
    name,
    subnet,
    hypervisor,
    ip,
    mac: undefined,
    groups: [],
    node: undefined,
    iface: 'eth0',
    port: undefined,
    attached: true,
  };
}

export async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      count: { type: 'string', default: '30' },
      'lab-name': { type: 'string', default: 'otb-ovn' },
      // routed: probe VMs in their own subnet (10.8.0.0/24); same-subnet: beside the VMs.
      probe: { type: 'string', default: 'routed' },
    },
  });
  const placement = probePlacement(values.probe as string);
  const { routed, suffix } = placement;
  const probeIp = (i: number) => (routed ? placement.routedIp(i) : `10.7.7.${i + 1}`);
  const count = Number(values.count);
  if (!Number.isInteger(count) || count < 1 || count > 250)
    throw new Error(`--count ${values.count}: 1..250`);
  const dir = mkdtempSync(join(tmpdir(), 'otb-ovn-bench-'));
  const file = join(dir, 'ovn.clab.yml');
  writeFileSync(
    file,
    readFileSync(join(REPO, 'labs/ovn.clab.yml'), 'utf8')
      .replace(/^name: .*$/m, `name: ${values['lab-name']}`)
      .replace('- ovn:/srv:ro', `- ${join(REPO, 'labs/ovn')}:/srv:ro`),
  );
  const topo = await loadTopology(file);
  const runtime = await getRuntime('netns');
  const probes = await ProbeServer.start({ requireScapy: false, prewarmScapy: false });
  try {
    const lab = await runtime.deploy(topo, { reconfigure: true });
    const intent = {
      ...emptyIntent(),
      tenants: [{ name: 't' }],
      domains: [{ name: 'd', tenant: 't', vni: undefined, pnat: false, zone: undefined }],
      subnets: [
        // Routed: both subnets have a gateway on the domain's logical router.
        {
          name: 's',
          domain: 'd',
          cidr: '10.7.0.0/16',
          vni: 7,
          gateway: routed ? '10.7.0.1' : undefined,
          routeTarget: undefined,
        },
        ...(routed
          ? [
              {
                name: 'p',
                domain: 'd',
                cidr: PROBE_SUBNET.prefix,
                vni: 8,
                gateway: PROBE_SUBNET.gateway,
                routeTarget: undefined,
              },
            ]
          : []),
      ],
      vms: CHASSIS.map((hv, i) => benchVm(`probe${i + 1}`, hv, probeIp(i), routed ? 'p' : 's')),
    };
    const driver = new OvnDriver();
    // When the NB transaction of the attach under way returned (the driver calls accepted() then).
    let acceptedAt = 0;
    const ctx: DriverContext = {
      lab,
      intent,
      scenario: { name: 'ovn-attach bench' } as Scenario,
      log: (m) => console.log(m),
      accepted: () => {
        acceptedAt = now();
      },
    };
    await driver.provision({ apply: true, attach: [], detach: [], move: [], setGroups: [] }, ctx);
    await driver.ready(ctx);
    // Probe VMs retry ARP every 20 ms (default 1 s), as in bench/attach.ts: otherwise the figure is
    // quantised by the probe's own ARP retransmit timer, not OVN.
    for (const vm of intent.vms)
      await driver.locate(vm, ctx).node.exec(['sysctl', '-qw', 'net.ipv4.neigh.eth0.retrans_time_ms=20']);
    const probeTargets = intent.vms.map((vm) => ({
      name: vm.name,
      netnsPath: driver.locate(vm, ctx).node.netnsPath,
    }));
    for (const [i, from] of probeTargets.entries()) {
      await warmProbes(probes, from, [
        probeIp((i + 1) % CHASSIS.length),
        ...(routed ? [PROBE_SUBNET.gateway] : []),
      ]);
    }
    console.log(
      `attaching ${count} VMs round-robin over ${CHASSIS.join(', ')}, probes ${placement.describe}; load ${loadavg()[0]?.toFixed(2)}`,
    );
    const central = lab.node('central');
    const names = ovnNames(intent);
    const attaches: OvnAttachTiming[] = [];
    let nbCfg = await currentNbCfg(lab, central);
    for (let n = 0; n < count; n++) {
      const vm = benchVm(`vm${n}`, CHASSIS[n % CHASSIS.length]!, `10.7.1.${n + 1}`);
      intent.vms.push(vm);
      const watches = await Promise.all(probeTargets.map((from) => probes.reachWatch({ from, to: vm.ip })));
      nbCfg += 1;
      driver.markNextTransaction(nbCfg);
      const t0 = now();
      await driver.provision({ apply: false, attach: [vm.name], detach: [], move: [], setGroups: [] }, ctx);
      const tPlugged = now() - t0;
      const replies = await Promise.all(watches.map((w) => w.wait()));
      if (replies.some((r) => !r.reached || r.atMs === null))
        throw new Error(`${vm.name} on ${vm.hypervisor} not reachable from every chassis within 20 s`);
      // After the fact, outside the timed path: OVN's stamps of this attach's NB change.
      const stamps = await readStamps(lab, central, nbCfg);
      if (!stamps) console.log(`  ${vm.name}: no nb_cfg ${nbCfg} stamps from every chassis within 15 s`);
      attaches.push({
        port: names.portOf(vm.name),
        vif: names.tapOf(vm.name),
        hv: vm.hypervisor,
        t0,
        tNb: acceptedAt - t0,
        tPlugged,
        tReach: replies.map((r) => (r.atMs as number) - t0),
        stamps,
      });
      // The next mark must be above what OVN holds, whoever else bumped it.
      nbCfg = Math.max(nbCfg, await currentNbCfg(lab, central));
    }
    const times = attaches.map((a) => Math.max(...a.tReach));
    const sorted = [...times].sort((a, b) => a - b);
    console.log(
      `attach→reachable from all ${CHASSIS.length} chassis: min ${sorted[0]?.toFixed(0)} ms, max ${sorted.at(-1)?.toFixed(0)} ms; load ${loadavg()[0]?.toFixed(2)}`,
    );
    const events = new Map(CHASSIS.map((hv) => [hv, readPortEvents(topo.labDir, hv)]));
    const report = ovnStageReport(ovnStages(attaches, CHASSIS, events));
    console.log('');
    for (const line of report.table) console.log(line);
    console.log('');
    for (const line of report.bench) console.log(line);
    console.log(`BENCH ovn_attach_reachable_p50_ms${suffix} ${percentile(sorted, 50).toFixed(1)} ms`);
    console.log(`BENCH ovn_attach_reachable_p95_ms${suffix} ${percentile(sorted, 95).toFixed(1)} ms`);
  } finally {
    await probes.stop();
    await runtime.destroy(topo).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
}
