/**
 * `npm run bench -- attach [--count 200] [--keep]`: deploys labs/reference-2az.clab.yml, attaches
 * `count` vports round-robin over the four hypervisors of both zones through the directory API, and
 * measures for each the time from the API call until the new VM answers a ping from a probe VM on
 * every hypervisor. Then iperf3 VM→VM across hypervisors (zone 1 → zone 2) over the reference datapath,
 * divided by iperf3 over a plain veth pair in the same run.
 * Ends with `BENCH attach_reachable_p50_ms|p95|p99 <v> ms` and `BENCH overlay_vs_veth_ratio <v> ratio`.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { getRuntime } from '../harness/runtime/index.ts';
import type { DeployedLab } from '../harness/runtime/runtime.ts';
import { loadTopology } from '../harness/topology/load.ts';
import { run, runOk } from '../harness/util/exec.ts';
import { waitFor } from '../harness/util/poll.ts';
import { DirectoryClient } from '../reference-impl/directory/client.ts';

const NS = 'otf-2az-';
const HVS = ['hv1', 'hv2', 'hv3', 'hv4'];

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
    },
  });
  const count = Number(values.count);
  const topo = await loadTopology(join(import.meta.dirname, '..', 'labs', 'reference-2az.clab.yml'));
  const runtime = await getRuntime('netns');
  await runtime.destroy(topo).catch(() => {});
  rmSync(join(topo.labDir, 'directory'), { recursive: true, force: true });
  console.log('deploying labs/reference-2az.clab.yml ...');
  const lab: DeployedLab = await runtime.deploy(topo, { reconfigure: true });
  const client = new DirectoryClient({
    url: `unix:${join(topo.labDir, 'directory', 'api.sock')}`,
    token: 'otf-lab-token',
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
    for (let n = 0; n < count; n++) {
      const hv = HVS[n % 4] as string;
      const ip = `10.7.${1 + Math.floor(n / 250)}.${(n % 250) + 1}`;
      const id = `vm${n}`;
      const t0 = performance.now();
      await client.create('vports', {
        id,
        subnet: 's',
        hypervisor: hv,
        name: id,
        mac: `02:00:00:07:${(n >> 8).toString(16).padStart(2, '0')}:${(n & 0xff).toString(16).padStart(2, '0')}`,
        ip,
      });
      const pending = new Set(HVS.map((_, i) => i));
      while (pending.size) {
        await Promise.all(
          [...pending].map(async (i) => {
            const r = await vmExec(HVS[i] as string, `probe${i + 1}`, [
              'ping',
              '-n',
              '-c',
              '1',
              '-W',
              '0.2',
              ip,
            ]);
            if (r.exitCode === 0) pending.delete(i);
          }),
        );
        if (performance.now() - t0 > 20_000)
          throw new Error(
            `${id} (${ip} on ${hv}) not reachable from ${[...pending].map((i) => HVS[i]).join(', ')} after 20 s`,
          );
      }
      const ms = performance.now() - t0;
      times.push(ms);
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
    const a = 'otf-bench-veth-a';
    const b = 'otf-bench-veth-b';
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
    console.log(`BENCH attach_reachable_p50_ms ${percentile(sorted, 50).toFixed(1)} ms`);
    console.log(`BENCH attach_reachable_p95_ms ${percentile(sorted, 95).toFixed(1)} ms`);
    console.log(`BENCH attach_reachable_p99_ms ${percentile(sorted, 99).toFixed(1)} ms`);
    console.log(`BENCH overlay_vs_veth_ratio ${(overlay / veth).toFixed(3)} ratio`);
  } finally {
    if (!values.keep) {
      await runtime.destroy(topo);
      const list = await run('ip', ['-j', 'netns', 'list']);
      for (const { name } of JSON.parse(list.stdout || '[]') as Array<{ name: string }>)
        if (name.startsWith(NS)) await run('ip', ['netns', 'delete', name]);
    }
  }
}
