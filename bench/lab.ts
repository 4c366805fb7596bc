/**
 * `npm run bench -- lab [--runs N]`: deploys and destroys a generated 20-node lab (6 FRR routers in a
 * ring with chords, 14 hosts, 24 links) with the netns runtime, N times (default 5), and prints
 * min/median/max. Goal on 2 cores: deploy ≤ 5 s, destroy ≤ 2 s.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NetnsRuntime } from '../harness/runtime/netns/index.ts';
import { loadTopology } from '../harness/topology/load.ts';

const ROUTERS = 6;
const HOSTS = 14;
const CHORDS: Array<[number, number]> = [
  [1, 4],
  [2, 5],
  [3, 6],
  [1, 3],
];

const DAEMONS = `zebra=yes
bgpd=yes
staticd=yes
vtysh_enable=yes
zebra_options="  -A 127.0.0.1 -s 90000000"
bgpd_options="   -A 127.0.0.1"
staticd_options="-A 127.0.0.1"
`;

/** Writes the lab into `dir` and returns the topology file; 6 + 4 router links + 14 host links = 24. */
export function generateLab(dir: string, name: string): string {
  const ports = new Map<number, number>();
  const nextPort = (r: number): string => {
    const n = (ports.get(r) ?? 0) + 1;
    ports.set(r, n);
    return `eth${n}`;
  };
  const links: string[] = [];
  const bgpIfaces = new Map<number, string[]>();
  const hostIfaces = new Map<number, Array<{ iface: string; gw: string }>>();
  const routerLink = (a: number, b: number): void => {
    const pa = nextPort(a);
    const pb = nextPort(b);
    links.push(`    - endpoints: ["r${a}:${pa}", "r${b}:${pb}"]`);
    bgpIfaces.set(a, [...(bgpIfaces.get(a) ?? []), pa]);
    bgpIfaces.set(b, [...(bgpIfaces.get(b) ?? []), pb]);
  };
  for (let r = 1; r <= ROUTERS; r++) routerLink(r, (r % ROUTERS) + 1);
  for (const [a, b] of CHORDS) routerLink(a, b);
  const hostNodes: string[] = [];
  for (let h = 1; h <= HOSTS; h++) {
    const r = ((h - 1) % ROUTERS) + 1;
    const port = nextPort(r);
    const base = 16 * (h - 1);
    hostIfaces.set(r, [...(hostIfaces.get(r) ?? []), { iface: port, gw: `192.0.2.${base + 1}/28` }]);
    links.push(`    - endpoints: ["r${r}:${port}", "h${h}:eth1"]`);
    hostNodes.push(
      `    h${h}:\n      kind: linux\n      image: ghcr.io/hellt/network-multitool\n      exec:\n        - ip addr add 192.0.2.${base + 2}/28 dev eth1\n        - ip route replace default via 192.0.2.${base + 1}`,
    );
  }
  const routerNodes: string[] = [];
  for (let r = 1; r <= ROUTERS; r++) {
    const nodeDir = join(dir, 'configs', `r${r}`);
    mkdirSync(nodeDir, { recursive: true });
    writeFileSync(join(nodeDir, 'daemons'), DAEMONS);
    const conf = [
      'frr defaults datacenter',
      `hostname r${r}`,
      'service integrated-vtysh-config',
      '!',
      ...(hostIfaces.get(r) ?? []).flatMap(({ iface, gw }) => [
        `interface ${iface}`,
        ` ip address ${gw}`,
        'exit',
        '!',
      ]),
      `router bgp ${65000 + r}`,
      ` bgp router-id 203.0.113.${r}`,
      ' timers bgp 1 3',
      ...(bgpIfaces.get(r) ?? []).map((iface) => ` neighbor ${iface} interface remote-as external`),
      ' address-family ipv4 unicast',
      '  redistribute connected',
      ' exit-address-family',
      'exit',
      '!',
    ];
    writeFileSync(join(nodeDir, 'frr.conf'), `${conf.join('\n')}\n`);
    routerNodes.push(
      `    r${r}:\n      kind: linux\n      image: quay.io/frrouting/frr:8.4.1\n      binds:\n        - configs/r${r}/daemons:/etc/frr/daemons\n        - configs/r${r}/frr.conf:/etc/frr/frr.conf`,
    );
  }
  const file = join(dir, 'bench20.clab.yml');
  writeFileSync(
    file,
    `name: ${name}\ntopology:\n  nodes:\n${[...routerNodes, ...hostNodes].join('\n')}\n  links:\n${links.join('\n')}\n`,
  );
  return file;
}

function stats(values: number[]): { min: number; median: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { min: sorted[0]!, median, max: sorted[sorted.length - 1]! };
}

export async function main(argv: string[]): Promise<void> {
  const runsArg = argv.indexOf('--runs');
  const runs = runsArg >= 0 ? Number(argv[runsArg + 1]) : 5;
  const dir = mkdtempSync(join(tmpdir(), 'otb-bench-'));
  const runtime = new NetnsRuntime();
  const topology = await loadTopology(generateLab(dir, `otb-bench-${process.pid.toString(36)}`));
  const links = topology.links.length;
  const frr = topology.nodes.filter((n) => n.image.includes('frrouting/frr')).length;
  console.log(
    `lab: ${topology.nodes.length} nodes (${frr} FRR, ${topology.nodes.length - frr} hosts), ${links} links; ${runs} runs`,
  );
  const deploys: number[] = [];
  const destroys: number[] = [];
  try {
    for (let i = 1; i <= runs; i++) {
      const t0 = performance.now();
      const lab = await runtime.deploy(topology);
      const t1 = performance.now();
      // Sanity: a host reaches its router (the lab is really up), outside the timed part.
      const ping = await lab.node('h1').exec(['ping', '-c', '1', '-W', '2', '192.0.2.1']);
      if (ping.exitCode !== 0) throw new Error(`run ${i}: h1 cannot reach r1: ${ping.stdout}${ping.stderr}`);
      const t2 = performance.now();
      await runtime.destroy(topology);
      const t3 = performance.now();
      deploys.push((t1 - t0) / 1000);
      destroys.push((t3 - t2) / 1000);
      console.log(
        `run ${i}: deploy ${((t1 - t0) / 1000).toFixed(2)} s, destroy ${((t3 - t2) / 1000).toFixed(2)} s`,
      );
    }
  } finally {
    await runtime.destroy(topology).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
  const d = stats(deploys);
  const x = stats(destroys);
  console.log(
    `deploy  min ${d.min.toFixed(2)} s  median ${d.median.toFixed(2)} s  max ${d.max.toFixed(2)} s`,
  );
  console.log(
    `destroy min ${x.min.toFixed(2)} s  median ${x.median.toFixed(2)} s  max ${x.max.toFixed(2)} s`,
  );
  console.log(`BENCH lab_deploy_s ${d.median.toFixed(3)} s`);
  console.log(`BENCH lab_destroy_s ${x.median.toFixed(3)} s`);
}
