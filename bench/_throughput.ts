/**
 * The overlay's throughput cost, shared by `bench throughput` and `bench attach`: iperf3 VM→VM across
 * two hypervisors over the reference datapath against iperf3 between the same two hypervisors over
 * the same underlay path with the VM's TCP segment size.
 *
 * One sample of each side taken one after the other measures the neighbours as much as the overlay
 * (on a shared machine the underlay alone moved between 7.5 and 14 Gbit/s from one run to the next),
 * so the ratio is the median of K interleaved pairs (overlay, underlay, overlay, underlay, …), each
 * sample short and with iperf3's first second omitted (slow start, the first ARP), and the per-pair
 * ratios are printed with their spread.
 */
import { loadavg } from 'node:os';
import { run, runOk } from '../harness/util/exec.ts';
import { waitFor } from '../harness/util/poll.ts';

type Exec = (argv: string[]) => Promise<{ exitCode: number; stdout: string; stderr: string }>;

/** One iperf3 endpoint pair: where the server runs, where the client runs, the server's address. */
export interface IperfPath {
  server: Exec;
  client: Exec;
  address: string;
  /** TCP MSS for the client (`-M`); the kernel's choice when absent. */
  mss?: number;
}

export interface ThroughputPair {
  overlayBps: number;
  underlayBps: number;
  ratio: number;
  load: string;
}

export interface ThroughputResult {
  pairs: ThroughputPair[];
  median: number;
  min: number;
  max: number;
}

const PORT = '5399';
/**
 * Pairs and seconds per sample by default. At load 15-28 on these 2 cores single pairs ranged from
 * 0.5 to 1.6 and the medians of 5 pairs from 0.79 to 1.11; 7 pairs of 3 s take about 70 s.
 */
export const DEFAULT_PAIRS = 7;
export const DEFAULT_SECONDS = 3;

/** A command-line integer option ≥ `min`, or an error naming the option. */
export function positiveInt(name: string, text: string, min: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} ${text}: give an integer ≥ ${min}`);
  return n;
}

export const loadAverage = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

/** Received bits per second of one iperf3 TCP run of `seconds` (plus one omitted second). */
export async function iperf(path: IperfPath, seconds: number): Promise<number> {
  const srv = path.server(['iperf3', '-s', '-1', '-p', PORT]);
  // The client starts once the server listens (its own namespace's socket table), not after a guess.
  await waitFor(
    () => path.server(['ss', '-Hltn', `sport = :${PORT}`]),
    (r) => r.exitCode === 0 && r.stdout.trim() !== '',
    { timeoutMs: 10_000, intervalMs: 20, what: `iperf3 server listening for ${path.address}` },
  );
  const out = await path.client([
    'iperf3',
    '-c',
    path.address,
    '-p',
    PORT,
    '-t',
    String(seconds),
    '--omit',
    '1',
    ...(path.mss ? ['-M', String(path.mss)] : []),
    '-J',
  ]);
  await srv;
  if (out.exitCode !== 0) throw new Error(`iperf3 failed: ${out.stderr || out.stdout.slice(0, 300)}`);
  const json = JSON.parse(out.stdout) as { end: { sum_received: { bits_per_second: number } } };
  return json.end.sum_received.bits_per_second;
}

/** The MTU of `ifname` as `exec` sees it (a VM's or a hypervisor's namespace). */
export async function mtuOf(exec: Exec, ifname: string): Promise<number> {
  const out = await exec(['ip', '-j', 'link', 'show', ifname]);
  const [link] = JSON.parse(out.stdout || '[]') as Array<{ mtu?: number }>;
  if (out.exitCode !== 0 || !link?.mtu) throw new Error(`no MTU for ${ifname}: ${out.stdout.slice(0, 200)}`);
  return link.mtu;
}

const median = (sorted: number[]) => {
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

/** K interleaved overlay/underlay pairs; `log` gets one line per pair. */
export async function overlayVsUnderlay(options: {
  overlay: IperfPath;
  underlay: IperfPath;
  pairs: number;
  seconds: number;
  log?: (line: string) => void;
}): Promise<ThroughputResult> {
  const pairs: ThroughputPair[] = [];
  for (let k = 0; k < options.pairs; k++) {
    const overlayBps = await iperf(options.overlay, options.seconds);
    const underlayBps = await iperf(options.underlay, options.seconds);
    const pair = { overlayBps, underlayBps, ratio: overlayBps / underlayBps, load: loadAverage() };
    pairs.push(pair);
    options.log?.(
      `  pair ${k + 1}/${options.pairs}: overlay ${(overlayBps / 1e9).toFixed(2)} Gbit/s, underlay ${(underlayBps / 1e9).toFixed(2)} Gbit/s, ratio ${pair.ratio.toFixed(3)}; load ${pair.load}`,
    );
  }
  const ratios = pairs.map((p) => p.ratio).sort((a, b) => a - b);
  return { pairs, median: median(ratios), min: ratios[0] ?? 0, max: ratios[ratios.length - 1] ?? 0 };
}

/** For information: iperf3 over one plain veth pair between two fresh namespaces `<prefix>-veth-a|b`. */
export async function vethPairBps(prefix: string, seconds: number): Promise<number> {
  const a = `${prefix}-veth-a`;
  const b = `${prefix}-veth-b`;
  await run('ip', ['netns', 'delete', a]);
  await run('ip', ['netns', 'delete', b]);
  await runOk('ip', ['netns', 'add', a]);
  await runOk('ip', ['netns', 'add', b]);
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
    return await iperf(
      {
        server: (x) => run('ip', ['netns', 'exec', b, ...x]),
        client: (x) => run('ip', ['netns', 'exec', a, ...x]),
        address: '10.255.0.2',
      },
      seconds,
    );
  } finally {
    await run('ip', ['netns', 'delete', a]);
    await run('ip', ['netns', 'delete', b]);
  }
}

/**
 * The whole measurement as both benches print it: the pairs, the veth pair for information, and the
 * BENCH lines overlay_vs_underlay_ratio (median of the pairs), _min and _max.
 */
export async function reportThroughput(options: {
  overlay: IperfPath;
  underlay: IperfPath;
  pairs: number;
  seconds: number;
  vethPrefix: string;
  log: (line: string) => void;
}): Promise<{ result: ThroughputResult; benchLines: string[] }> {
  const { log, seconds } = options;
  log(
    `iperf3 ${options.pairs} interleaved pairs of ${seconds} s (+1 s omitted), TCP MSS ${options.underlay.mss ?? 'default'} on the underlay; load ${loadAverage()}`,
  );
  const result = await overlayVsUnderlay({ ...options, log });
  const veth = await vethPairBps(options.vethPrefix, seconds);
  const overlays = result.pairs.map((p) => p.overlayBps).sort((a, b) => a - b);
  const underlays = result.pairs.map((p) => p.underlayBps).sort((a, b) => a - b);
  const gbit = (bps: number) => (bps / 1e9).toFixed(2);
  log(
    `overlay/underlay ratio: median ${result.median.toFixed(3)}, spread ${result.min.toFixed(3)}–${result.max.toFixed(3)} over ${result.pairs.length} pairs; overlay median ${gbit(median(overlays))} Gbit/s (${gbit(overlays[0] ?? 0)}–${gbit(overlays[overlays.length - 1] ?? 0)}), underlay median ${gbit(median(underlays))} Gbit/s (${gbit(underlays[0] ?? 0)}–${gbit(underlays[underlays.length - 1] ?? 0)})`,
  );
  log(
    `for information, one plain veth pair ${gbit(veth)} Gbit/s (overlay median / veth ${(median(overlays) / veth).toFixed(3)}); load ${loadAverage()}`,
  );
  return {
    result,
    benchLines: [
      `BENCH overlay_vs_underlay_ratio ${result.median.toFixed(3)} ratio`,
      `BENCH overlay_vs_underlay_ratio_min ${result.min.toFixed(3)} ratio`,
      `BENCH overlay_vs_underlay_ratio_max ${result.max.toFixed(3)} ratio`,
    ],
  };
}
