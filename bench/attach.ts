/**
 * `npm run bench -- attach [--count 200] [--probe routed|same-subnet] [--hogs 2] [--idle-seconds 60] [--pairs 7] [--seconds 3] [--keep] [--lab-name otf-2az]`:
 * deploys labs/reference-2az.clab.yml (roles traced, OTWIN_REF_TRACE=1), attaches `count` vports
 * round-robin over the four hypervisors of both zones through the directory API, and measures for
 * each the time from the API call until the new VM answers a probe VM on every hypervisor.
 *
 * Where the probes sit (`--probe`):
 * - `routed` (the default): the probe VMs are in their own subnet of the same domain, so each probe's
 *   echo requests cross its hypervisor's distributed router. Until that hypervisor's agent has
 *   programmed the new VM, the router holds them in its neighbour queue (one ARP a second, the kernel
 *   default); the agent's neighbour entry releases them. The first reply therefore says "every
 *   hypervisor has programmed the VM". What the probes cost is one ARP per router per attach (still
 *   copied to every VM port of the subnet) instead of one every 20 ms per probe.
 * - `same-subnet`: the probe VMs are in the bench subnet with the VMs. A probe's ARP for an address
 *   nobody holds yet is flooded (the reference's declared `arp-unknown: flood`) to every VM port of
 *   the subnet on every hypervisor, every 20 ms until answered: the figure is then largely
 *   flood-and-learn (the VM answers the flooded ARP before remote agents have programmed it), and
 *   the probes' own flooding grows with the number of ports. Kept to compare; its BENCH lines carry
 *   `_same_subnet`.
 *
 * The probes cost nothing at measurement time: they run in the traffic engine's long-lived probe
 * server (harness/traffic), already inside every probe VM, and are armed (sending an echo request
 * every 5 ms) BEFORE the API call; a VM's time is the wall-clock arrival of its first reply minus
 * the call's timestamp. The roles' trace gives the per-stage table (bench/_attach-stages.ts).
 *
 * Then the idle cost: CPU of each agent (with its children) over `--idle-seconds` with nothing to do,
 * and the overlay's throughput cost, measured by the same code as `bench throughput` (bench/_throughput.ts):
 * the median of `--pairs` interleaved iperf3 pairs of `--seconds` each, VM→VM across zones over the
 * reference datapath against the same two hypervisors over the same underlay path with the VM's
 * segment size (a plain veth pair for information).
 * `--hogs N` runs N busy loops beside the benchmark (a busy CI runner) and names the figures so.
 *
 * BENCH lines (suffixed `_same_subnet` with `--probe same-subnet`): attach_reachable_p50_ms|p95|p99, attach_p95_growth_<count>_vs_100 (p95 of the last 100
 * attaches / p95 of the first 100, from 200 attaches on), idle_cpu_pct_per_agent,
 * overlay_vs_underlay_ratio (median of the pairs) and overlay_vs_underlay_ratio_min|_max.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { raiseNeighbourTables } from '../harness/kernel/neigh.ts';
import { getRuntime } from '../harness/runtime/index.ts';
import type { DeployedLab } from '../harness/runtime/runtime.ts';
import { loadTopology } from '../harness/topology/load.ts';
import { ProbeServer } from '../harness/traffic/server.ts';
import { processTreeCpuMs } from '../harness/util/cpu-time.ts';
import { run } from '../harness/util/exec.ts';
import { waitFor } from '../harness/util/poll.ts';
import { DirectoryClient } from '../reference-impl/directory/client.ts';
import { createBenchNetwork, lab2azFile, lab2azFiles } from '../reference-impl/lab-2az.ts';
import { type AttachTiming, percentile, readTraces, stageTable } from './_attach-stages.ts';
import { PROBE_SUBNET, probePlacement, warmProbes } from './_probes.ts';
import {
  DEFAULT_PAIRS,
  DEFAULT_SECONDS,
  loadAverage,
  mtuOf,
  positiveInt,
  reportThroughput,
} from './_throughput.ts';

const HVS = ['hv1', 'hv2', 'hv3', 'hv4'];
const TRACED_NODES = ['directory', 'c1', 'c2', ...HVS];
const WINDOW = 100;
/** The hypervisor's underlay (VTEP) address in labs/reference-2az.clab.yml. */
const vtepOf = (hv: string) => `10.0.${HVS.indexOf(hv) + 1}.2`;

const now = () => performance.timeOrigin + performance.now();
const load = loadAverage;

/**
 * Host PIDs of every reference role of this lab (directory, controllers, agents), by name: their
 * command lines name the lab's files (`clab-<lab>/`) or its VM prefix.
 */
function rolePids(labName: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let cmd = '';
    try {
      cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ');
    } catch {
      continue;
    }
    const role = /reference-impl\/bin\/(directory|controller|agent)\.ts /.exec(cmd)?.[1];
    if (!cmd.startsWith('node ') || !role) continue;
    if (!cmd.includes(`clab-${labName}/`) && !cmd.includes(`--prefix ${labName}- `)) continue;
    const name =
      role === 'directory'
        ? 'directory'
        : role === 'controller'
          ? `controller ${/--id (\S+)/.exec(cmd)?.[1]}`
          : `agent ${/--hypervisor (\S+)/.exec(cmd)?.[1]}`;
    out.set(name, Number(entry));
  }
  return out;
}

/** Percent of one core each agent used over `seconds` of doing nothing. */
async function idleCpu(labName: string, seconds: number): Promise<Map<string, number>> {
  const pids = new Map(
    [...rolePids(labName)]
      .filter(([role]) => role.startsWith('agent '))
      .map(([role, pid]) => [role.slice(6), pid]),
  );
  const before = new Map([...pids].map(([hv, pid]) => [hv, processTreeCpuMs(pid).total]));
  const t0 = now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const elapsed = (now() - t0) / 1000;
  return new Map(
    [...pids].map(([hv, pid]) => [
      hv,
      ((processTreeCpuMs(pid).total - (before.get(hv) ?? 0)) / 1000 / elapsed) * 100,
    ]),
  );
}

function startHogs(n: number): ChildProcess[] {
  return Array.from({ length: n }, () =>
    spawn('sh', ['-c', 'while :; do :; done'], { stdio: 'ignore', detached: false }),
  );
}

export async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      count: { type: 'string', default: '200' },
      keep: { type: 'boolean', default: false },
      // Throughput (bench/_throughput.ts): interleaved overlay/underlay iperf3 pairs, seconds each.
      pairs: { type: 'string', default: String(DEFAULT_PAIRS) },
      seconds: { type: 'string', default: String(DEFAULT_SECONDS) },
      // Lab name (and VM namespace prefix): give parallel runs distinct names.
      'lab-name': { type: 'string', default: 'otf-2az' },
      // Busy loops competing for the CPU during the whole run (a busy CI runner).
      hogs: { type: 'string', default: '0' },
      // One agent audit period (60 s): the idle figure includes the audits' cost.
      'idle-seconds': { type: 'string', default: '60' },
      // routed: probe VMs in their own subnet (see the header); same-subnet: in the bench subnet.
      probe: { type: 'string', default: 'routed' },
      // Print every attach slower than this (ms) with its per-probe replies.
      'slow-ms': { type: 'string', default: '1000' },
      // Accepted for compatibility: the roles are always traced now.
      trace: { type: 'boolean', default: false },
    },
  });
  const count = Number(values.count);
  const hogs = Number(values.hogs);
  const idleSeconds = Number(values['idle-seconds']);
  if (!Number.isInteger(count) || count < 1)
    throw new Error(`--count ${values.count}: give a positive integer`);
  // VM addresses run 10.7.1.1 … 10.7.7.250 (250 per /24 of the bench subnet's /21).
  if (count > 1750) throw new Error(`--count ${count}: at most 1750 (the bench subnet is a /21)`);
  const placement = probePlacement(values.probe as string);
  const { routed } = placement;
  /** Probe VM i (0-based): in subnet `p` (routed) or in the bench subnet `s` (10.7.0.x). */
  const probeIp = (i: number) => (routed ? placement.routedIp(i) : `10.7.0.${11 + i}`);
  if (!Number.isInteger(hogs) || hogs < 0) throw new Error(`--hogs ${values.hogs}: give an integer ≥ 0`);
  const pairs = positiveInt('pairs', values.pairs as string, 1);
  const seconds = positiveInt('seconds', values.seconds as string, 1);
  const labName = values['lab-name'] as string;
  const NS = `${labName}-`;
  const labFile = lab2azFile(labName, { traced: true });
  const topo = await loadTopology(labFile);
  const files = lab2azFiles(labName);
  const runtime = await getRuntime('netns');
  await runtime.destroy(topo).catch(() => {});
  rmSync(files.directory, { recursive: true, force: true });
  // 200 VMs seen from 4 hypervisors are ~1,600 ARP entries in the kernel's one shared neighbour table
  // (default cap 1024): raise it for this run only, so the benchmark measures the implementation, not
  // emulation overflow (see harness/kernel/neigh.ts).
  const neighbours = raiseNeighbourTables();
  for (const line of neighbours.changed) console.log(`raised for this run (restored at the end): ${line}`);
  for (const line of neighbours.problems) console.log(`could not raise the neighbour table limit: ${line}`);
  const started = now();
  console.log(`load average before deploying: ${load()}`);
  console.log(`deploying ${topo.file ?? labName} ...`);
  const lab: DeployedLab = await runtime.deploy(topo, { reconfigure: true });
  const client = new DirectoryClient({ url: `unix:${files.socket}`, token: files.token });
  const vmNs = (hv: string, vport: string) => `${NS}${hv}-vm-${vport}`;
  const vmExec = (hv: string, vport: string, args: string[]) =>
    lab.node(hv).exec(['ip', 'netns', 'exec', vmNs(hv, vport), ...args]);
  const probes = await ProbeServer.start({ requireScapy: false, prewarmScapy: false });
  const hogProcs: ChildProcess[] = [];
  const suffix = `${placement.suffix}${hogs ? `_with_${hogs}_hogs` : ''}`;
  let cleaned: Promise<void> | undefined;
  const cleanUp = () => {
    cleaned ??= (async () => {
      for (const h of hogProcs) h.kill('SIGKILL');
      await probes.stop();
      neighbours.restore();
      if (!values.keep) {
        await runtime.destroy(topo, { cleanup: true });
        rmSync(files.root, { recursive: true, force: true });
        rmSync(dirname(labFile), { recursive: true, force: true });
        const list = await run('ip', ['-j', 'netns', 'list']);
        for (const { name } of JSON.parse(list.stdout || '[]') as Array<{ name: string }>)
          if (name.startsWith(NS)) await run('ip', ['netns', 'delete', name]);
      }
    })();
    return cleaned;
  };
  // Ctrl-C or SIGTERM: the host's neighbour limits are restored and the lab destroyed all the same.
  const onSignal = (signal: NodeJS.Signals) => {
    console.error(`bench attach: ${signal}, cleaning up (lab, neighbour table limits, hogs)`);
    void cleanUp().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await waitFor(
      () => client.healthy(),
      (ok) => ok,
      { timeoutMs: 30_000, what: 'directory up' },
    );
    await createBenchNetwork(client);
    if (routed)
      await client.create('subnets', {
        id: 'p',
        domain: 'd',
        name: 'probes',
        vni: 7002,
        ...PROBE_SUBNET,
      });
    // One probe VM per hypervisor, entered by the probe server through its hypervisor node's mounts.
    const probeTargets = HVS.map((hv, i) => ({
      name: `${hv}/probe${i + 1}`,
      netnsPath: `/proc/${lab.node(hv).pid}/root/run/netns/${vmNs(hv, `probe${i + 1}`)}`,
    }));
    for (const [i, hv] of HVS.entries())
      await client.create('vports', {
        id: `probe${i + 1}`,
        subnet: routed ? 'p' : 's',
        hypervisor: hv,
        name: `probe${i + 1}`,
        mac: `02:00:00:07:ff:0${i + 1}`,
        ip: probeIp(i),
      });
    for (const [i, hv] of HVS.entries()) {
      // Probe VMs retry ARP every 20 ms (default 1 s), so a same-subnet measurement is not quantised
      // by the probe's own ARP retransmit timer (routed probes ARP only for their gateway).
      await waitFor(
        () => vmExec(hv, `probe${i + 1}`, ['sysctl', '-qw', 'net.ipv4.neigh.eth0.retrans_time_ms=20']),
        (r) => r.exitCode === 0,
        { timeoutMs: 30_000, what: `probe VM on ${hv}` },
      );
      await warmProbes(probes, probeTargets[i]!, [
        probeIp((i + 1) % 4),
        ...(routed ? [PROBE_SUBNET.gateway] : []),
      ]);
    }
    hogProcs.push(...startHogs(hogs));
    if (hogs) console.log(`${hogs} CPU hog(s) running beside the benchmark`);
    console.log(
      `attaching ${count} vports round-robin over ${HVS.join(', ')} (zones z1, z2), probes ${placement.describe}; load ${load()}`,
    );
    const attaches: Array<AttachTiming & { detail: string }> = [];
    const slowMs = Number(values['slow-ms']);
    // CPU time each role spent per attach (with its children: the processes it starts), in the first
    // and the last window: unlike latency, it hardly depends on what else runs on the machine, so it
    // shows work that grows with the number of ports apart from a load that grows during the run.
    const roles = rolePids(labName);
    const cpuAt = new Map<number, Map<string, { total: number; own: number }>>();
    const cpuMarks = count >= 2 * WINDOW ? new Set([0, WINDOW, count - WINDOW, count]) : new Set<number>();
    const markCpu = (n: number) => {
      if (cpuMarks.has(n))
        cpuAt.set(n, new Map([...roles].map(([role, pid]) => [role, processTreeCpuMs(pid)])));
    };
    for (let n = 0; n < count; n++) {
      markCpu(n);
      const hv = HVS[n % 4] as string;
      const ip = `10.7.${1 + Math.floor(n / 250)}.${(n % 250) + 1}`;
      const id = `vm${n}`;
      const mac = `02:00:00:07:${(n >> 8).toString(16).padStart(2, '0')}:${(n & 0xff).toString(16).padStart(2, '0')}`;
      // Armed first: each watch has sent its first request before the API call is made.
      const watches = await Promise.all(probeTargets.map((from) => probes.reachWatch({ from, to: ip })));
      const t0 = now();
      await client.create('vports', { id, subnet: 's', hypervisor: hv, name: id, mac, ip });
      const tApi = now() - t0;
      const replies = await Promise.all(watches.map((w) => w.wait()));
      const missing = replies.findIndex((r) => !r.reached || r.atMs === null);
      if (missing >= 0)
        throw new Error(
          `${id} (${ip} on ${hv}) not reachable from ${HVS[missing]} within 20 s of its API call`,
        );
      const tReach = replies.map((r) => (r.atMs as number) - t0);
      const detail = replies
        .map((r, i) => `${HVS[i]}: reply ${tReach[i]?.toFixed(1)} ms (request #${r.seq}, ${r.sent} sent)`)
        .join('; ');
      attaches.push({ mac, hv, t0, tApi, tReach, detail });
      const ms = Math.max(...tReach);
      if (ms > slowMs) console.log(`  slow: ${id} on ${hv}: ${detail}`);
      if ((n + 1) % 25 === 0)
        console.log(`  ${n + 1}/${count} attached, last ${ms.toFixed(0)} ms, load ${load()}`);
    }
    markCpu(count);
    const times = attaches.map((a) => Math.max(...a.tReach));
    const sorted = [...times].sort((a, b) => a - b);
    console.log(
      `attach→reachable from all 4 hypervisors: min ${sorted[0]?.toFixed(0)} ms, max ${sorted[sorted.length - 1]?.toFixed(0)} ms; load ${load()}`,
    );
    console.log('');
    const traces = readTraces(topo.labDir, TRACED_NODES, (attaches[0]?.t0 ?? 0) - 1000);
    for (const line of stageTable(traces, attaches, HVS)) console.log(line);
    console.log('');
    // Growth shows as the difference between the first and the last window's tables.
    if (count >= 2 * WINDOW)
      for (const [label, part] of [
        [`attaches 1-${WINDOW}`, attaches.slice(0, WINDOW)],
        [`attaches ${count - WINDOW + 1}-${count}`, attaches.slice(-WINDOW)],
      ] as const) {
        console.log(`stage table, ${label}:`);
        for (const line of stageTable(traces, part, HVS)) console.log(line);
        console.log('');
      }
    const windowP95 = (list: number[]) =>
      percentile(
        [...list].sort((a, b) => a - b),
        95,
      );
    const growth =
      count >= 2 * WINDOW ? windowP95(times.slice(-WINDOW)) / windowP95(times.slice(0, WINDOW)) : undefined;
    if (growth !== undefined)
      console.log(
        `p95 of attaches 1-${WINDOW}: ${windowP95(times.slice(0, WINDOW)).toFixed(1)} ms; of attaches ${count - WINDOW + 1}-${count}: ${windowP95(times.slice(-WINDOW)).toFixed(1)} ms`,
      );

    if (cpuAt.size === 4) {
      // ms of CPU over WINDOW attaches → ms per attach.
      const perAttach = (from: number, to: number, role: string, part: 'total' | 'own') =>
        ((cpuAt.get(to)?.get(role)?.[part] ?? 0) - (cpuAt.get(from)?.get(role)?.[part] ?? 0)) / WINDOW;
      console.log(
        `CPU time per attach (ms; the role with the processes it started, and its own process alone), attaches 1-${WINDOW} → ${count - WINDOW + 1}-${count}:`,
      );
      for (const role of roles.keys()) {
        const cell = (from: number, to: number) =>
          `${perAttach(from, to, role, 'total').toFixed(1).padStart(6)} (own ${perAttach(from, to, role, 'own').toFixed(1).padStart(5)})`;
        console.log(`  ${role.padEnd(16)} ${cell(0, WINDOW)} → ${cell(count - WINDOW, count)}`);
      }
      console.log('');
    }

    // Idle: nothing changes for idleSeconds; the hogs stop first (they would be charged to no agent,
    // but an idle figure is about the agents alone).
    for (const h of hogProcs.splice(0)) h.kill('SIGKILL');
    const idle = await idleCpu(labName, idleSeconds);
    const idleList = [...idle.values()];
    const idleMean = idleList.reduce((a, b) => a + b, 0) / Math.max(1, idleList.length);
    console.log(
      `idle ${idleSeconds} s with ${count + 4} ports: ${[...idle].map(([hv, pct]) => `${hv} ${pct.toFixed(2)}%`).join(', ')} of a core; load ${load()}`,
    );

    // Throughput: reference datapath VM→VM across hypervisors (z1 hv1 → z2 hv3), against the same two
    // hypervisors talking over the same underlay path (VTEP to VTEP) with the VM's TCP segment size, so
    // the ratio is what the overlay costs, not a longer path or bigger packets.
    const vmMss = (await mtuOf((x) => vmExec('hv1', 'probe1', x), 'eth0')) - 40;
    const throughput = await reportThroughput({
      overlay: {
        server: (x) => vmExec('hv3', 'probe3', x),
        client: (x) => vmExec('hv1', 'probe1', x),
        address: probeIp(2),
      },
      underlay: {
        server: (x) => lab.node('hv3').exec(x),
        client: (x) => lab.node('hv1').exec(x),
        address: vtepOf('hv3'),
        mss: vmMss,
      },
      pairs,
      seconds,
      vethPrefix: `${labName}-bench`,
      log: (line) => console.log(line),
    });
    console.log(`whole run ${((now() - started) / 1000).toFixed(0)} s; load ${load()}`);
    console.log(`BENCH attach_reachable_p50_ms${suffix} ${percentile(sorted, 50).toFixed(1)} ms`);
    console.log(`BENCH attach_reachable_p95_ms${suffix} ${percentile(sorted, 95).toFixed(1)} ms`);
    console.log(`BENCH attach_reachable_p99_ms${suffix} ${percentile(sorted, 99).toFixed(1)} ms`);
    if (growth !== undefined)
      console.log(`BENCH attach_p95_growth_${count}_vs_${WINDOW}${suffix} ${growth.toFixed(3)} ratio`);
    console.log(`BENCH idle_cpu_pct_per_agent ${idleMean.toFixed(3)} %`);
    for (const line of throughput.benchLines) console.log(line);
  } finally {
    await cleanUp();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
