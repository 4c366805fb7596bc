/**
 * `npm run bench -- attach [--count 200] [--keep]`: deploys labs/reference-2az.clab.yml, attaches
 * `count` vports round-robin over the four hypervisors of both zones through the directory API, and
 * measures for each the time from the API call until the new VM answers a ping from a probe VM on
 * every hypervisor. Then iperf3 VM→VM across hypervisors (zone 1 → zone 2) over the reference datapath,
 * divided by iperf3 over a plain veth pair in the same run.
 * Ends with `BENCH attach_reachable_p50_ms|p95|p99 <v> ms` and `BENCH overlay_vs_veth_ratio <v> ratio`.
 */

import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { raiseNeighbourTables } from '../harness/kernel/neigh.ts';
import { getRuntime } from '../harness/runtime/index.ts';
import type { DeployedLab } from '../harness/runtime/runtime.ts';
import { loadTopology } from '../harness/topology/load.ts';
import { run, runOk } from '../harness/util/exec.ts';
import { waitFor } from '../harness/util/poll.ts';
import { DirectoryClient } from '../reference-impl/directory/client.ts';
import { lab2azFile, lab2azFiles } from '../reference-impl/lab-2az.ts';

const HVS = ['hv1', 'hv2', 'hv3', 'hv4'];
const TRACED_NODES = ['directory', 'c1', 'c2', ...HVS];

interface TraceLine {
  t: number;
  role: string;
  event: string;
  detail: string;
}

function readTraces(labDir: string, since: number): TraceLine[] {
  const out: TraceLine[] = [];
  for (const node of TRACED_NODES) {
    const file = join(labDir, node, 'cmd.log');
    if (!existsSync(file)) continue;
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const m = /^TRACE (\S+) (\S+) (\S+) ?(.*)$/.exec(line);
      if (m && Number(m[1]) >= since)
        out.push({ t: Number(m[1]), role: m[2] as string, event: m[3] as string, detail: m[4] ?? '' });
    }
  }
  return out.sort((a, b) => a.t - b.t);
}

/** Per attach: when each stage first saw the new MAC, relative to the API call (medians/p95 printed). */
function traceBreakdown(
  traces: TraceLine[],
  attaches: Array<{ mac: string; hv: string; t0: number; tApi: number; tReach: number[] }>,
): void {
  // agent seq → time the programming that covered it finished
  const appliedAt = new Map<string, number>();
  for (const l of traces) {
    if (l.event !== 'applied') continue;
    const seqs = /seqs=(\S*)/.exec(l.detail)?.[1]?.split(',') ?? [];
    for (const s of seqs) if (s && !appliedAt.has(`${l.role}/${s}`)) appliedAt.set(`${l.role}/${s}`, l.t);
  }
  const stages = new Map<string, number[]>();
  const add = (stage: string, v: number | undefined) => {
    if (v === undefined || !Number.isFinite(v)) return;
    const list = stages.get(stage) ?? [];
    stages.set(stage, list);
    list.push(v);
  };
  for (const a of attaches) {
    const own = HVS.indexOf(a.hv) < 2 ? 'c1' : 'c2';
    const other = own === 'c1' ? 'c2' : 'c1';
    const first = (pred: (l: TraceLine) => boolean) => traces.find((l) => l.t >= a.t0 && pred(l));
    const rel = (l: TraceLine | undefined) => (l ? l.t - a.t0 : undefined);
    add('api call returned', a.tApi);
    add(
      'own controller: directory change',
      rel(
        first((l) => l.role === `controller:${own}` && l.event === 'dir-change' && l.detail.includes(a.mac)),
      ),
    );
    add(
      'other controller: BGP learned',
      rel(
        first((l) => l.role === `controller:${other}` && l.event === 'bgp-learn' && l.detail.includes(a.mac)),
      ),
    );
    for (const hv of HVS) {
      const recv = first((l) => l.role === `agent:${hv}` && l.event === 'recv' && l.detail.includes(a.mac));
      const where =
        hv === a.hv ? 'hosting' : HVS.indexOf(hv) < 2 === HVS.indexOf(a.hv) < 2 ? 'same-zone' : 'other-zone';
      add(`${where} agent: update received`, rel(recv));
      const seq = recv ? /seq=(\d+)/.exec(recv.detail)?.[1] : undefined;
      const done = seq ? appliedAt.get(`agent:${hv}/${seq}`) : undefined;
      add(`${where} agent: programmed`, done === undefined ? undefined : done - a.t0);
    }
    for (const [i, t] of a.tReach.entries())
      add(
        `${HVS[i] === a.hv ? 'hosting' : HVS.indexOf(HVS[i] as string) < 2 === HVS.indexOf(a.hv) < 2 ? 'same-zone' : 'other-zone'} probe: reply`,
        t,
      );
  }
  console.log('trace breakdown (ms after the API call: p50 / p95 / max, n):');
  for (const [stage, list] of stages) {
    const sorted = [...list].sort((x, y) => x - y);
    console.log(
      `  ${stage.padEnd(36)} ${percentile(sorted, 50).toFixed(1)} / ${percentile(sorted, 95).toFixed(1)} / ${sorted[sorted.length - 1]?.toFixed(1)}  (${sorted.length})`,
    );
  }
}

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return Number.NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx] as number;
}

async function iperf(
  server: (argv: string[]) => Promise<{ exitCode: number; stdout: string }>,
  client: (argv: string[]) => Promise<{ exitCode: number; stdout: string; stderr: string }>,
  address: string,
  seconds: number,
): Promise<number> {
  const srv = server(['iperf3', '-s', '-1', '-p', '5399']);
  await new Promise((r) => setTimeout(r, 400));
  const out = await client(['iperf3', '-c', address, '-p', '5399', '-t', String(seconds), '-J']);
  await srv;
  if (out.exitCode !== 0) throw new Error(`iperf3 failed: ${out.stderr || out.stdout.slice(0, 300)}`);
  const json = JSON.parse(out.stdout) as { end: { sum_received: { bits_per_second: number } } };
  return json.end.sum_received.bits_per_second;
}

export async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      count: { type: 'string', default: '200' },
      keep: { type: 'boolean', default: false },
      seconds: { type: 'string', default: '5' },
      // Lab name (and VM namespace prefix): give parallel runs distinct names.
      'lab-name': { type: 'string', default: 'otf-2az' },
      // Start the roles with OTF_REF_TRACE=1 and print where attach latency goes.
      trace: { type: 'boolean', default: false },
    },
  });
  const count = Number(values.count);
  const labName = values['lab-name'] as string;
  const NS = `${labName}-`;
  const topo = await loadTopology(lab2azFile(labName, { traced: values.trace as boolean }));
  const files = lab2azFiles(labName);
  const runtime = await getRuntime('netns');
  await runtime.destroy(topo).catch(() => {});
  // The directory's database and API socket live under the repository's labs/clab-<name>/directory.
  rmSync(files.directory, { recursive: true, force: true });
  // 200 VMs seen from 4 hypervisors are ~1,600 ARP entries in the kernel's one shared neighbour table
  // (default cap 1024): raise it for this run only, so the benchmark measures the implementation, not
  // emulation overflow (see harness/kernel/neigh.ts).
  const neighbours = raiseNeighbourTables();
  for (const line of neighbours.changed) console.log(`raised for this run (restored at the end): ${line}`);
  for (const line of neighbours.problems) console.log(`could not raise the neighbour table limit: ${line}`);
  console.log(`deploying ${topo.file ?? labName} ...`);
  const lab: DeployedLab = await runtime.deploy(topo, { reconfigure: true });
  const client = new DirectoryClient({
    url: `unix:${files.socket}`,
    token: files.token,
  });
  const vmExec = (hv: string, vport: string, args: string[]) =>
    lab.node(hv).exec(['ip', 'netns', 'exec', `${NS}${hv}-vm-${vport}`, ...args]);
  try {
    await waitFor(
      () => client.healthy(),
      (ok) => ok,
      { timeoutMs: 30_000, what: 'directory up' },
    );
    await client.create('zones', { id: 'z1', name: 'z1' });
    await client.create('zones', { id: 'z2', name: 'z2' });
    for (const [i, hv] of HVS.entries())
      await client.create('hypervisors', {
        id: hv,
        name: hv,
        zone: i < 2 ? 'z1' : 'z2',
        vtep: `10.0.${i + 1}.2`,
      });
    await client.create('tenants', { id: 't', name: 'bench' });
    await client.create('domains', { id: 'd', tenant: 't', name: 'bench' });
    await client.create('subnets', {
      id: 's',
      domain: 'd',
      name: 'bench',
      vni: 7001,
      prefix: '10.7.0.0/22',
      gateway: '10.7.0.1',
    });
    // One probe VM per hypervisor.
    for (const [i, hv] of HVS.entries())
      await client.create('vports', {
        id: `probe${i + 1}`,
        subnet: 's',
        hypervisor: hv,
        name: `probe${i + 1}`,
        mac: `02:00:00:07:ff:0${i + 1}`,
        ip: `10.7.3.${i + 1}`,
      });
    for (const [i, hv] of HVS.entries()) {
      // Probe VMs retry ARP every 20 ms (default 1 s), so the measurement is not quantised by the
      // probe's own ARP retransmit timer; the new VM is answered by the agent-installed neighbour.
      await waitFor(
        () => vmExec(hv, `probe${i + 1}`, ['sysctl', '-qw', 'net.ipv4.neigh.eth0.retrans_time_ms=20']),
        (r) => r.exitCode === 0,
        {
          timeoutMs: 30_000,
          what: `probe VM on ${hv}`,
        },
      );
      const other = `10.7.3.${((i + 1) % 4) + 1}`;
      await waitFor(
        () => vmExec(hv, `probe${i + 1}`, ['ping', '-c', '1', '-W', '1', other]),
        (r) => r.exitCode === 0,
        {
          timeoutMs: 30_000,
          what: `probe on ${hv} reaches ${other}`,
        },
      );
    }
    console.log(`attaching ${count} vports round-robin over ${HVS.join(', ')} (zones z1, z2) ...`);
    const times: number[] = [];
    const attaches: Array<{
      mac: string;
      hv: string;
      t0: number;
      tApi: number;
      tReach: number[];
      detail: string[];
    }> = [];
    const now = () => performance.timeOrigin + performance.now();
    for (let n = 0; n < count; n++) {
      const hv = HVS[n % 4] as string;
      const ip = `10.7.${1 + Math.floor(n / 250)}.${(n % 250) + 1}`;
      const id = `vm${n}`;
      const mac = `02:00:00:07:${(n >> 8).toString(16).padStart(2, '0')}:${(n & 0xff).toString(16).padStart(2, '0')}`;
      const t0 = now();
      await client.create('vports', { id, subnet: 's', hypervisor: hv, name: id, mac, ip });
      const tApi = now() - t0;
      // One ping per probe VM sending every 10 ms, stopped at its first reply (grep -m1); the time is
      // the reply's receive timestamp (-D), so neither the 200 ms per-round timeout of a `ping -W`
      // loop nor process start/teardown is counted. (No `-w`/`-c`: with a deadline ping stops at the
      // first "Destination Host Unreachable"; stdbuf -oL: ping block-buffers stdout into a pipe.)
      const detail: string[] = [];
      const tReach = await Promise.all(
        HVS.map(async (probeHv, i) => {
          const r = await vmExec(probeHv, `probe${i + 1}`, [
            'sh',
            '-c',
            `date +%s.%N; timeout 20 stdbuf -oL ping -D -n -i 0.01 ${ip} 2>&1 | grep -m1 'bytes from'`,
          ]);
          if (r.exitCode !== 0)
            throw new Error(
              `${id} (${ip} on ${hv}) not reachable from ${probeHv} after 20 s: ${r.stdout.slice(-200)}`,
            );
          const [started, reply] = r.stdout.split('\n');
          detail[i] =
            `${probeHv}: ping started +${(Number(started) * 1000 - t0).toFixed(0)} ms, ${/icmp_seq=\d+.*/.exec(reply ?? '')?.[0] ?? reply}`;
          // The reply's own receive timestamp (ping -D), not when the process ended.
          const at = Number(/^\[(\d+\.\d+)\]/.exec(reply ?? '')?.[1]);
          return Number.isFinite(at) ? at * 1000 - t0 : now() - t0;
        }),
      );
      const ms = Math.max(...tReach);
      times.push(ms);
      attaches.push({ mac, hv, t0, tApi, tReach, detail });
      if ((n + 1) % 25 === 0) console.log(`  ${n + 1}/${count} attached, last ${ms.toFixed(0)} ms`);
    }
    const sorted = [...times].sort((a, b) => a - b);
    console.log(
      `attach→reachable from all 4 hypervisors: min ${sorted[0]?.toFixed(0)} ms, max ${sorted[sorted.length - 1]?.toFixed(0)} ms`,
    );

    // Throughput: reference datapath VM→VM across hypervisors (z1 hv1 → z2 hv3), then a plain veth pair.
    const seconds = Number(values.seconds);
    const overlay = await iperf(
      (a) => vmExec('hv3', 'probe3', a),
      (a) => vmExec('hv1', 'probe1', a),
      '10.7.3.3',
      seconds,
    );
    const a = `${labName}-bench-veth-a`;
    const b = `${labName}-bench-veth-b`;
    await run('ip', ['netns', 'delete', a]);
    await run('ip', ['netns', 'delete', b]);
    await runOk('ip', ['netns', 'add', a]);
    await runOk('ip', ['netns', 'add', b]);
    let veth = 0;
    try {
      await runOk('ip', ['-n', a, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', b]);
      for (const [ns, addr] of [
        [a, '10.255.0.1/30'],
        [b, '10.255.0.2/30'],
      ] as const) {
        await runOk('ip', ['-n', ns, 'addr', 'add', addr, 'dev', 'eth0']);
        await runOk('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
        await runOk('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      }
      veth = await iperf(
        (x) => run('ip', ['netns', 'exec', b, ...x]),
        (x) => run('ip', ['netns', 'exec', a, ...x]),
        '10.255.0.2',
        seconds,
      );
    } finally {
      await run('ip', ['netns', 'delete', a]);
      await run('ip', ['netns', 'delete', b]);
    }
    console.log(
      `iperf3 ${seconds}s: overlay VM→VM ${(overlay / 1e9).toFixed(2)} Gbit/s, plain veth ${(veth / 1e9).toFixed(2)} Gbit/s`,
    );
    if (values.trace) {
      // cmd.log files are appended to across runs of the same lab: only this run's lines count.
      traceBreakdown(readTraces(topo.labDir, attaches[0]?.t0 ?? 0), attaches);
      for (const a of attaches.filter((x) => Math.max(...x.tReach) > 300))
        console.log(
          `  slow: ${a.mac} on ${a.hv} at ${new Date(a.t0).toISOString()}: replies ${a.tReach.map((t, i) => `${HVS[i]} ${t.toFixed(0)}`).join(', ')} ms\n    ${a.detail.join('\n    ')}`,
        );
    }
    console.log(`BENCH attach_reachable_p50_ms ${percentile(sorted, 50).toFixed(1)} ms`);
    console.log(`BENCH attach_reachable_p95_ms ${percentile(sorted, 95).toFixed(1)} ms`);
    console.log(`BENCH attach_reachable_p99_ms ${percentile(sorted, 99).toFixed(1)} ms`);
    console.log(`BENCH overlay_vs_veth_ratio ${(overlay / veth).toFixed(3)} ratio`);
  } finally {
    neighbours.restore();
    if (!values.keep) {
      await runtime.destroy(topo);
      const list = await run('ip', ['-j', 'netns', 'list']);
      for (const { name } of JSON.parse(list.stdout || '[]') as Array<{ name: string }>)
        if (name.startsWith(NS)) await run('ip', ['netns', 'delete', name]);
    }
  }
}
