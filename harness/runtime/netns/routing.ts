/**
 * Which nodes are routers and what runs for them. containerlab labs pick FRR by image, but many
 * use derived images (`frr-ssh:latest`, `myorg/router:1`) whose only tell is the FRR config they
 * bind under /etc/frr/. Such a node runs this machine's FRR; a node that looks like a router for
 * another suite (BIRD, GoBGP, ...) gets a warning instead of silently running nothing.
 */
import { execFileSync } from 'node:child_process';
import type { TopologyNode } from '../../topology/types.ts';

/** Files whose presence under /etc/frr/ makes a node an FRR router. */
const FRR_CONFIG_FILES = new Set([
  'daemons',
  'frr.conf',
  'vtysh.conf',
  'bgpd.conf',
  'zebra.conf',
  'ospfd.conf',
]);

/** Why a node runs FRR (for the deploy table and docs), or undefined when it does not. */
export function frrEvidence(node: Pick<TopologyNode, 'image' | 'binds' | 'kind'>): string | undefined {
  if (node.kind !== 'linux') return undefined;
  if (/frr/i.test(node.image)) return `image '${node.image}'`;
  const bind = node.binds.find((b) => {
    if (b.target === '/etc/frr' || b.target === '/etc/frr/') return true;
    const m = /^\/etc\/frr\/([^/]+)$/.exec(b.target);
    return m !== null && FRR_CONFIG_FILES.has(m[1]!);
  });
  return bind ? `bind ${bind.target}` : undefined;
}

/** Config locations and image names of routing suites this runtime does not run. */
const OTHER_SUITES: ReadonlyArray<{ suite: string; image: RegExp; paths: RegExp; commands: RegExp }> = [
  { suite: 'BIRD', image: /(^|[/:_-])bird/i, paths: /^\/etc\/bird/, commands: /\bbirdc?\b/ },
  { suite: 'GoBGP', image: /gobgp/i, paths: /gobgp/i, commands: /\bgobgpd?\b/ },
  { suite: 'Quagga', image: /quagga/i, paths: /^\/etc\/quagga/, commands: /\bquagga\b/ },
  { suite: 'OpenBGPD', image: /openbgpd/i, paths: /^\/etc\/bgpd\.conf/, commands: /\bbgpctl\b/ },
  { suite: 'ExaBGP', image: /exabgp/i, paths: /exabgp/i, commands: /\bexabgp\b/ },
  { suite: 'VyOS', image: /vyos/i, paths: /^\/config\//, commands: /\bvyos\b/ },
];

/**
 * Why a node that gets no routing suite looks like a router (for a warning), or undefined. FRR
 * nodes are not asked: they run FRR.
 */
export function routerWithoutSuite(node: TopologyNode): string | undefined {
  if (node.kind !== 'linux' || frrEvidence(node)) return undefined;
  for (const s of OTHER_SUITES) {
    if (s.image.test(node.image)) return `its image '${node.image}' suggests ${s.suite}`;
    const bind = node.binds.find((b) => s.paths.test(b.target));
    if (bind) return `it binds ${bind.target} (${s.suite})`;
    const line = [...node.exec, node.cmd ?? ''].find((l) => s.commands.test(l));
    if (line) return `it runs \`${line}\` (${s.suite})`;
  }
  const vtysh = [...node.exec, node.cmd ?? ''].find((l) => /\bvtysh\b/.test(l));
  if (vtysh) return `it runs \`${vtysh}\` but neither its image nor its binds make it an FRR node`;
  if (/(^|[/:_-])(router|rtr|bgp|ospf)/i.test(node.image))
    return `its image '${node.image}' suggests a router`;
  return undefined;
}

let frrVersion: string | undefined;

/** The version of this machine's FRR (what stands in for every FRR image), e.g. `8.4.4`. */
export function hostFrrVersion(): string {
  if (frrVersion !== undefined) return frrVersion;
  try {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format syntax
    const out = execFileSync('dpkg-query', ['-W', '-f', '${Version}', 'frr'], { encoding: 'utf8' });
    frrVersion = /^(?:\d+:)?([0-9][0-9.]*)/.exec(out.trim())?.[1] ?? (out.trim() || 'unknown');
  } catch {
    frrVersion = 'unknown';
  }
  return frrVersion;
}
