/**
 * `otwin doctor [--format table|json]`: what this machine can do — kernel features (each tried for
 * real in a throwaway namespace) and tools with versions. Later checks skip on the same answers.
 */
import {
  detectFeatures,
  type FeatureCheck,
  KERNEL_FEATURES,
  TOOLS,
  type ToolCheck,
} from '../../doctor/index.ts';
import { UserError } from '../../util/errors.ts';
import { installInterruptHandlers } from '../../util/interrupt.ts';

export const summary = 'kernel features and tools this machine offers (what later checks may skip)';

const HELP = `usage: otwin doctor [--format table|json]

Tries every kernel feature the harness may use (vrf, 8021q, mpls, netem, vxlan, bridge, nftables, tun,
gre, dummy, macvlan, tc flower, OVS kernel datapath) inside a throwaway network namespace, and reports
the tools and versions (FRR, OVS, scapy under /usr/bin/python3, tshark, java, gobgpd, ...).
Exit code 0 when the netns runtime can run (namespaces, veth, bridge, FRR, perl), 1 otherwise.`;

function row(name: string, check: FeatureCheck | ToolCheck, width: number): string {
  const version = 'version' in check && check.version ? ` ${check.version}` : '';
  return `  ${name.padEnd(width)} ${check.ok ? 'yes' : 'no '}${version.padEnd(12)} ${check.ok ? '' : check.reason}`.trimEnd();
}

export async function main(argv: string[]): Promise<number> {
  let format = 'table';
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') {
      console.log(HELP);
      return 0;
    }
    if (arg === '--format' || arg === '-f') format = argv[++i] ?? '';
    else if (arg.startsWith('--format=')) format = arg.slice('--format='.length);
    else
      throw new UserError(`otwin doctor: unknown argument '${arg}'`, { hint: 'run `otwin doctor --help`' });
  }
  if (format !== 'table' && format !== 'json') {
    throw new UserError(`otwin doctor: --format must be table or json, not '${format}'`);
  }
  installInterruptHandlers(); // the throwaway namespace goes with a Ctrl-C too (doctor/features.ts)
  const features = await detectFeatures();
  const runtimeOk =
    ['netns', 'veth', 'bridge'].every((f) => features.kernel[f as 'netns'].ok) &&
    features.tools.frr.ok &&
    features.tools.perl.ok &&
    features.root;
  if (format === 'json') {
    console.log(JSON.stringify({ ...features, netnsRuntime: runtimeOk }, null, 2));
    return runtimeOk ? 0 : 1;
  }
  const width = Math.max(...[...KERNEL_FEATURES, ...TOOLS].map((n) => n.length));
  const lines = [
    `kernel ${features.kernelRelease}, ${features.root ? 'running as root' : 'NOT root (namespaces need root)'}`,
    '',
    'kernel features (tried in a throwaway namespace):',
    ...KERNEL_FEATURES.map((f) => row(f, features.kernel[f], width)),
    '',
    'tools:',
    ...TOOLS.map((t) => row(t, features.tools[t], width)),
    '',
    runtimeOk
      ? `netns runtime: ready (checked in ${features.durationMs} ms)`
      : 'netns runtime: NOT ready (needs root, netns, veth, bridge, FRR and perl)',
  ];
  console.log(lines.join('\n'));
  return runtimeOk ? 0 : 1;
}
