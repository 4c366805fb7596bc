/**
 * Feature detection for honest skips: every kernel feature is tested by actually doing it inside a
 * throwaway network namespace of our own (create the device/qdisc/table, then delete the namespace),
 * every tool by running it for its version. Nothing is inferred from config files or guessed.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { release } from 'node:os';
import { netnsAdd, netnsDelete } from '../kernel/netns.ts';
import { type ExecResult, run } from '../util/exec.ts';
import { onInterrupt } from '../util/interrupt.ts';

export const KERNEL_FEATURES = [
  'netns',
  'veth',
  'bridge',
  'vxlan',
  'vrf',
  '8021q',
  'mpls',
  'netem',
  'nftables',
  'tun',
  'gre',
  'dummy',
  'macvlan',
  'tcFlower',
  'ovsKernel',
] as const;
export type KernelFeature = (typeof KERNEL_FEATURES)[number];

export const TOOLS = [
  'frr',
  'ovs',
  'ovsVtep',
  'scapy',
  'tshark',
  'java',
  'gobgpd',
  'iproute2',
  'nft',
  'tcpdump',
  'iperf3',
  'ethtool',
  'perl',
] as const;
export type Tool = (typeof TOOLS)[number];

export interface FeatureCheck {
  ok: boolean;
  /** What was tried and what happened (the error when not ok). */
  reason: string;
}

export interface ToolCheck extends FeatureCheck {
  version: string | undefined;
}

export interface Features {
  kernelRelease: string;
  root: boolean;
  kernel: Record<KernelFeature, FeatureCheck>;
  tools: Record<Tool, ToolCheck>;
  durationMs: number;
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0]?.trim() ?? '';
}

function failure(what: string, result: ExecResult): FeatureCheck {
  return {
    ok: false,
    reason: `${what}: ${firstLine(result.stderr || result.stdout) || `exit ${result.exitCode}`}`,
  };
}

/** Awaits all of `checks` at once (like `Promise.all`); their results under the same keys, in the same order. */
async function allOf<T extends Record<string, Promise<unknown>>>(
  checks: T,
): Promise<{ [K in keyof T]: Awaited<T[K]> }> {
  const keys = Object.keys(checks);
  const results = await Promise.all(Object.values(checks));
  return Object.fromEntries(keys.map((k, i) => [k, results[i]])) as { [K in keyof T]: Awaited<T[K]> };
}

/** Runs steps in order inside `ns`; ok if all succeed, else the first failure's message. */
async function tryAll(what: string, steps: Array<[string, string[]]>): Promise<FeatureCheck> {
  for (const [file, args] of steps) {
    const result = await run(file, args, { timeoutMs: 10_000 });
    if (result.exitCode !== 0) return failure(`cannot ${what} (${[file, ...args].join(' ')})`, result);
  }
  return { ok: true, reason: `can ${what}` };
}

async function kernelChecks(ns: string): Promise<Record<Exclude<KernelFeature, 'netns'>, FeatureCheck>> {
  const ipn = (...args: string[]): [string, string[]] => ['ip', ['-n', ns, ...args]];
  const inNs = (...argv: string[]): [string, string[]] => ['ip', ['netns', 'exec', ns, ...argv]];
  return allOf({
    veth: tryAll('create a veth pair', [
      ipn('link', 'add', 'name', 'dv0', 'type', 'veth', 'peer', 'name', 'dv1'),
    ]),
    bridge: tryAll('create a bridge', [ipn('link', 'add', 'name', 'dbr0', 'type', 'bridge')]),
    vxlan: tryAll('create a VXLAN device', [
      ipn(
        'link',
        'add',
        'name',
        'dvx0',
        'type',
        'vxlan',
        'id',
        '42',
        'dstport',
        '4789',
        'local',
        '127.0.0.1',
      ),
    ]),
    vrf: tryAll('create a VRF device', [ipn('link', 'add', 'name', 'dvrf0', 'type', 'vrf', 'table', '10')]),
    '8021q': tryAll('create an 802.1Q VLAN device', [
      ipn('link', 'add', 'name', 'dq0', 'type', 'veth', 'peer', 'name', 'dq1'),
      ipn('link', 'add', 'link', 'dq0', 'name', 'dq0.10', 'type', 'vlan', 'id', '10'),
    ]),
    mpls: tryAll('enable MPLS labels and add an MPLS route', [
      inNs('sysctl', '-qw', 'net.mpls.platform_labels=100'),
      ipn('-f', 'mpls', 'route', 'add', '100', 'dev', 'lo'),
    ]),
    netem: tryAll('add a netem qdisc', [
      inNs('tc', 'qdisc', 'add', 'dev', 'lo', 'root', 'netem', 'delay', '1ms'),
    ]),
    nftables: tryAll('add an nftables table', [inNs('nft', 'add', 'table', 'inet', 'otwin_doctor')]),
    tun: tryAll('create a tun device', [ipn('tuntap', 'add', 'mode', 'tun', 'name', 'dtun0')]),
    gre: tryAll('create a GRE tunnel', [
      ipn('link', 'add', 'name', 'dgre0', 'type', 'gre', 'local', '127.0.0.1', 'remote', '127.0.0.2'),
    ]),
    dummy: tryAll('create a dummy device', [ipn('link', 'add', 'name', 'ddum0', 'type', 'dummy')]),
    macvlan: tryAll('create a macvlan device', [
      ipn('link', 'add', 'name', 'dm0', 'type', 'veth', 'peer', 'name', 'dm1'),
      ipn('link', 'add', 'link', 'dm0', 'name', 'dmv0', 'type', 'macvlan'),
    ]),
    tcFlower: tryAll('add a clsact qdisc and a flower filter', [
      ipn('link', 'add', 'name', 'df0', 'type', 'veth', 'peer', 'name', 'df1'),
      inNs('tc', 'qdisc', 'add', 'dev', 'df0', 'clsact'),
      inNs(
        'tc',
        'filter',
        'add',
        'dev',
        'df0',
        'ingress',
        'protocol',
        'ip',
        'flower',
        'ip_proto',
        'tcp',
        'action',
        'drop',
      ),
    ]),
    ovsKernel: tryAll('create an OVS kernel datapath', [
      inNs('ovs-dpctl', 'add-dp', 'otwdoctor'),
      inNs('ovs-dpctl', 'del-dp', 'otwdoctor'),
    ]),
  });
}

async function version(
  file: string,
  args: string[],
  pick: (out: string) => string | undefined,
  missingHint: string,
): Promise<ToolCheck> {
  const result = await run(file, args, { timeoutMs: 15_000 });
  if (result.exitCode !== 0) {
    return {
      ok: false,
      version: undefined,
      reason: `${[file, ...args].join(' ')}: ${firstLine(result.stderr || result.stdout) || `exit ${result.exitCode}`} (${missingHint})`,
    };
  }
  const text = `${result.stdout}\n${result.stderr}`;
  const v = pick(text);
  return { ok: true, version: v, reason: `${file} ${args.join(' ')}`.trim() };
}

const m = (re: RegExp) => (text: string) => re.exec(text)?.[1];

async function toolChecks(): Promise<Record<Tool, ToolCheck>> {
  const { frr, ovs, ...rest } = await allOf({
    frr: version('/usr/lib/frr/zebra', ['--version'], m(/version\s+(\S+)/), 'Debian package frr'),
    ovs: version(
      'ovs-vswitchd',
      ['--version'],
      m(/Open vSwitch\)\s+(\S+)/),
      'Debian package openvswitch-switch',
    ),
    scapy: version(
      '/usr/bin/python3',
      ['-c', 'import scapy; print(scapy.VERSION)'],
      m(/^(\S+)/),
      'Debian package python3-scapy',
    ),
    tshark: version('tshark', ['--version'], m(/TShark \(Wireshark\)\s+(\S+)/), 'Debian package tshark'),
    java: version('java', ['-version'], m(/version "([^"]+)"/), 'Debian package openjdk-17-jre-headless'),
    gobgpd: version('gobgpd', ['--version'], m(/version\s+(\S+)/), 'Debian package gobgpd'),
    iproute2: version('ip', ['-V'], m(/iproute2-([\d.]+\d)/), 'Debian package iproute2'),
    nft: version('nft', ['--version'], m(/v(\d\S*)/), 'Debian package nftables'),
    tcpdump: version('tcpdump', ['--version'], m(/tcpdump version\s+(\S+)/), 'Debian package tcpdump'),
    iperf3: version('iperf3', ['--version'], m(/iperf\s+(\S+)/), 'Debian package iperf3'),
    ethtool: version('ethtool', ['--version'], m(/version\s+(\S+)/), 'Debian package ethtool'),
    perl: version('perl', ['-e', 'print $^V'], m(/v(\S+)/), 'Debian package perl-base'),
  });
  const vtepScript = '/usr/share/openvswitch/scripts/ovs-vtep';
  const ovsVtep: ToolCheck = existsSync(vtepScript)
    ? { ok: true, version: ovs.version, reason: `${vtepScript} present` }
    : { ok: false, version: undefined, reason: `${vtepScript} missing (Debian package openvswitch-vtep)` };
  return { frr, ovs, ovsVtep, ...rest };
}

let cached: Promise<Features> | undefined;

/**
 * Detects kernel features and tools. Cached per process (pass `fresh` to re-run): tests call it in
 * many files and the answers do not change while they run.
 */
export function detectFeatures(options: { fresh?: boolean } = {}): Promise<Features> {
  if (!cached || options.fresh) cached = detect();
  return cached;
}

async function detect(): Promise<Features> {
  const start = performance.now();
  const root = process.getuid?.() === 0;
  const ns = `otwin-doctor-${process.pid.toString(36)}-${randomBytes(3).toString('hex')}`;
  let netns: FeatureCheck;
  let kernel: Record<Exclude<KernelFeature, 'netns'>, FeatureCheck> | undefined;
  const toolsPromise = toolChecks();
  const adding = netnsAdd(ns);
  // On Ctrl-C: once the add has settled (so it cannot come after), delete the namespace.
  const stopCleanup = onInterrupt({
    name: `doctor namespace ${ns}`,
    run: () => adding.then(undefined, () => undefined).then(() => netnsDelete(ns)),
  });
  try {
    await adding;
    netns = { ok: true, reason: 'can create a named network namespace' };
    kernel = await kernelChecks(ns);
  } catch (err) {
    netns = {
      ok: false,
      reason: `cannot create a network namespace: ${err instanceof Error ? firstLine(err.message) : String(err)}`,
    };
  } finally {
    await netnsDelete(ns).catch(() => {});
    stopCleanup();
  }
  const untested: FeatureCheck = { ok: false, reason: 'not tested: no network namespace' };
  const kernelAll = {
    netns,
    ...(kernel ??
      (Object.fromEntries(KERNEL_FEATURES.filter((f) => f !== 'netns').map((f) => [f, untested])) as Record<
        Exclude<KernelFeature, 'netns'>,
        FeatureCheck
      >)),
  };
  return {
    kernelRelease: release(),
    root,
    kernel: kernelAll,
    tools: await toolsPromise,
    durationMs: Math.round(performance.now() - start),
  };
}

/**
 * A skip reason when any of `needs` is missing, else undefined: `it.skipIf(!!reason)` with the
 * reason in the test name or a `console.warn`, so a skipped check always says why.
 */
export function missing(features: Features, needs: ReadonlyArray<KernelFeature | Tool>): string | undefined {
  const reasons: string[] = [];
  for (const need of needs) {
    const check =
      (features.kernel as Record<string, FeatureCheck>)[need] ??
      (features.tools as Record<string, FeatureCheck>)[need];
    if (!check) reasons.push(`${need}: unknown feature`);
    else if (!check.ok) reasons.push(`${need} unavailable (${check.reason})`);
  }
  return reasons.length > 0 ? reasons.join('; ') : undefined;
}
