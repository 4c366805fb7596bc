/**
 * `npm run bench -- throughput [--pairs 7] [--seconds 3] [--lab-name otf-tput] [--keep] [--reuse]`:
 * deploys labs/reference-2az.clab.yml under `--lab-name`, attaches one VM on hv1 (zone z1) and one on
 * hv3 (zone z2), and measures the overlay's throughput cost (bench/_throughput.ts): the median of
 * `--pairs` interleaved iperf3 pairs, VM→VM over the reference datapath against hv1→hv3's VTEP over
 * the same underlay path with the VM's TCP segment size, each `--seconds` long plus one omitted second.
 *
 * `--keep` leaves the lab running; `--reuse` measures a lab a `--keep` run left (no deploy, no
 * destroy), so datapath changes can be compared A/B on one lab.
 *
 * BENCH lines: overlay_vs_underlay_ratio (median of the pairs), overlay_vs_underlay_ratio_min|_max.
 */
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { getRuntime } from '../harness/runtime/index.ts';
import type { DeployedLab } from '../harness/runtime/runtime.ts';
import { loadTopology } from '../harness/topology/load.ts';
import { run } from '../harness/util/exec.ts';
import { waitFor } from '../harness/util/poll.ts';
import { DirectoryClient } from '../reference-impl/directory/client.ts';
import { createBenchNetwork, LAB_2AZ_FILE, lab2azFile, lab2azFiles } from '../reference-impl/lab-2az.ts';
import {
  DEFAULT_PAIRS,
  DEFAULT_SECONDS,
  loadAverage,
  mtuOf,
  positiveInt,
  reportThroughput,
} from './_throughput.ts';

/** The two VMs: one per zone, so the path crosses the spine as inter-zone traffic does. */
const VMS = [
  { hv: 'hv1', id: 'tput1', mac: '02:00:00:07:fe:01', ip: '10.7.7.1' },
  { hv: 'hv3', id: 'tput3', mac: '02:00:00:07:fe:03', ip: '10.7.7.3' },
] as const;
const vtepOf = (hv: string) => `10.0.${hv.slice(2)}.2`;

export async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      pairs: { type: 'string', default: String(DEFAULT_PAIRS) },
      seconds: { type: 'string', default: String(DEFAULT_SECONDS) },
      // Lab name (and VM namespace prefix): give parallel runs distinct names.
      'lab-name': { type: 'string', default: 'otf-tput' },
      keep: { type: 'boolean', default: false },
      reuse: { type: 'boolean', default: false },
    },
  });
  const pairs = positiveInt('pairs', values.pairs as string, 1);
  const seconds = positiveInt('seconds', values.seconds as string, 1);
  const labName = values['lab-name'] as string;
  const NS = `${labName}-`;
  const labFile = lab2azFile(labName);
  const topo = await loadTopology(labFile);
  const files = lab2azFiles(labName);
  const runtime = await getRuntime('netns');
  const client = new DirectoryClient({ url: `unix:${files.socket}`, token: files.token });
  console.log(`load average before: ${loadAverage()}`);

  let lab: DeployedLab;
  if (values.reuse) {
    const kept = await runtime.attach(topo);
    if (!kept)
      throw new Error(`--reuse: no lab ${labName} is running; run once with --keep --lab-name ${labName}`);
    lab = kept;
  } else {
    await runtime.destroy(topo).catch(() => {});
    rmSync(files.directory, { recursive: true, force: true });
    console.log(`deploying ${topo.file ?? labName} ...`);
    lab = await runtime.deploy(topo, { reconfigure: true });
  }
  const cleanUp = async () => {
    if (values.keep || values.reuse) return;
    await runtime.destroy(topo, { cleanup: true });
    rmSync(files.root, { recursive: true, force: true });
    // The renamed copy's folder only, never labs/ (the shipped file is used for its own name).
    if (labFile !== LAB_2AZ_FILE) rmSync(dirname(labFile), { recursive: true, force: true });
    const list = await run('ip', ['-j', 'netns', 'list']);
    for (const { name } of JSON.parse(list.stdout || '[]') as Array<{ name: string }>)
      if (name.startsWith(NS)) await run('ip', ['netns', 'delete', name]);
  };
  const onSignal = (signal: NodeJS.Signals) => {
    console.error(`bench throughput: ${signal}, cleaning up`);
    void cleanUp().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const vmExec = (hv: string, vport: string, args: string[]) =>
    lab.node(hv).exec(['ip', 'netns', 'exec', `${NS}${hv}-vm-${vport}`, ...args]);
  try {
    if (!values.reuse) {
      await waitFor(
        () => client.healthy(),
        (ok) => ok,
        { timeoutMs: 30_000, what: 'directory up' },
      );
      await createBenchNetwork(client);
      for (const vm of VMS)
        await client.create('vports', {
          id: vm.id,
          subnet: 's',
          hypervisor: vm.hv,
          name: vm.id,
          mac: vm.mac,
          ip: vm.ip,
        });
    }
    const [from, to] = VMS;
    await waitFor(
      () => vmExec(from.hv, from.id, ['ping', '-c', '1', '-W', '1', to.ip]),
      (r) => r.exitCode === 0,
      { timeoutMs: 60_000, intervalMs: 200, what: `${from.id} on ${from.hv} reaches ${to.ip} on ${to.hv}` },
    );
    const vmMss = (await mtuOf((x) => vmExec(from.hv, from.id, x), 'eth0')) - 40;
    const { benchLines } = await reportThroughput({
      overlay: {
        server: (x) => vmExec(to.hv, to.id, x),
        client: (x) => vmExec(from.hv, from.id, x),
        address: to.ip,
      },
      underlay: {
        server: (x) => lab.node(to.hv).exec(x),
        client: (x) => lab.node(from.hv).exec(x),
        address: vtepOf(to.hv),
        mss: vmMss,
      },
      pairs,
      seconds,
      vethPrefix: `${labName}-bench`,
      log: (line) => console.log(line),
    });
    for (const line of benchLines) console.log(line);
  } finally {
    await cleanUp();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
