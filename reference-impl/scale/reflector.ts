/**
 * The scale tier's FRR route reflector (docs/scale.md): real zebra + bgpd (FRR 8.4) in a namespace
 * `<prefix>rr`, joined to the host namespace by a veth (`<prefix>rr` on the host), so the controller
 * process (host namespace, like the directory and the simulated hypervisors) peers with it by
 * `--peer`. The /30 on that veth is picked from 100.64.0.0/10 (shared address space, RFC 6598) by a
 * hash of the prefix, skipping any /30 already on a host interface, so concurrent runs of the tier
 * with different prefixes do not collide.
 *
 * What it must hold is computed from the intent (expectedEvpnRoutes), never read from the controller.
 */
import { createHash } from 'node:crypto';
import { type FrrInstance, NamespaceSet, startFrr } from '../../harness/bgp/fixtures/frr.ts';
import { ip, links } from '../../harness/kernel/netns.ts';
import { run } from '../../harness/util/exec.ts';

export const REFLECTOR_ASN = 65000;

export interface ScaleReflector {
  ns: string;
  /** FRR's address (the controller's `--peer`). */
  address: string;
  /** The host end's address: the controller's source address and router id. */
  controllerAddress: string;
  frr: FrrInstance;
  /** The controller's session as FRR sees it (`show bgp l2vpn evpn summary json`). */
  client(): Promise<ReflectorClient>;
  /** Every EVPN route in FRR's table (`show bgp l2vpn evpn route json`). */
  routes(): Promise<ReflectedRoute[]>;
  destroy(): Promise<void>;
}

export interface ReflectorClient {
  state: string;
  /** EVPN prefixes accepted from the controller. */
  received: number;
  /** Sessions with the controller that went down (each one a full re-announcement). */
  dropped: number;
}

interface SummaryPeerJson {
  state?: string;
  pfxRcd?: number;
  connectionsDropped?: number;
}

export type ReflectedRoute =
  | { type: 2; rd: string; mac: string; ip: string | undefined; nextHop: string }
  | { type: 3; rd: string; originator: string; nextHop: string };

/** Routes the intent says the zone originates: one type-2 per port (MAC/IP), one type-3 per VNI per VTEP. */
export interface ExpectedEvpnRoutes {
  /** `mac|ip` → the VTEP of the port's hypervisor (the route's next hop). */
  macIp: Map<string, string>;
  /** VTEP → how many VNIs it hosts (one type-3 each). */
  floodPerVtep: Map<string, number>;
  total: number;
}

export function expectedEvpnRoutes(
  ports: Array<{ mac: string; ip: string; vtep: string; vni: number }>,
): ExpectedEvpnRoutes {
  const macIp = new Map<string, string>();
  const vnisPerVtep = new Map<string, Set<number>>();
  for (const p of ports) {
    macIp.set(`${p.mac}|${p.ip}`, p.vtep);
    const vnis = vnisPerVtep.get(p.vtep) ?? new Set<number>();
    vnis.add(p.vni);
    vnisPerVtep.set(p.vtep, vnis);
  }
  const floodPerVtep = new Map([...vnisPerVtep].map(([vtep, vnis]) => [vtep, vnis.size]));
  const type3 = [...floodPerVtep.values()].reduce((a, b) => a + b, 0);
  return { macIp, floodPerVtep, total: macIp.size + type3 };
}

/**
 * Compares the reflector's table with the intent: every expected type-2 present with its VTEP as
 * next hop, every VTEP with one type-3 per VNI it hosts, nothing else. The message names what differs.
 */
export function reflectorVerdict(
  expected: ExpectedEvpnRoutes,
  got: ReflectedRoute[],
): { ok: boolean; type2: number; type3: number; message: string } {
  const problems: string[] = [];
  const seen = new Set<string>();
  const floodSeen = new Map<string, number>();
  let type2 = 0;
  let type3 = 0;
  for (const r of got) {
    if (r.type === 2) {
      type2 += 1;
      const key = `${r.mac}|${r.ip ?? ''}`;
      const vtep = expected.macIp.get(key);
      if (vtep === undefined) problems.push(`unexpected type-2 ${r.mac} ${r.ip ?? '(no IP)'}`);
      else if (vtep !== r.nextHop) problems.push(`type-2 ${r.mac} via ${r.nextHop}, expected ${vtep}`);
      seen.add(key);
    } else {
      type3 += 1;
      floodSeen.set(r.originator, (floodSeen.get(r.originator) ?? 0) + 1);
    }
  }
  const missing = [...expected.macIp.keys()].filter((k) => !seen.has(k));
  if (missing.length)
    problems.push(
      `${missing.length} type-2 missing: ${missing
        .slice(0, 5)
        .map((k) => k.replace('|', ' '))
        .join(', ')}${missing.length > 5 ? ' …' : ''}`,
    );
  for (const vtep of new Set([...expected.floodPerVtep.keys(), ...floodSeen.keys()])) {
    const want = expected.floodPerVtep.get(vtep) ?? 0;
    const have = floodSeen.get(vtep) ?? 0;
    if (want !== have) problems.push(`VTEP ${vtep}: ${have} type-3, expected ${want}`);
  }
  const wantType3 = expected.total - expected.macIp.size;
  const counts = `${type2}/${expected.macIp.size} type-2, ${type3}/${wantType3} type-3`;
  return problems.length
    ? {
        ok: false,
        type2,
        type3,
        message: `${counts}: ${problems.slice(0, 8).join('; ')}${problems.length > 8 ? ` (${problems.length} problems)` : ''}`,
      }
    : { ok: true, type2, type3, message: `${counts}, each with its VTEP` };
}

/** A free /30 in 100.64.0.0/10 for this prefix: [host end, FRR end]. */
async function freeSubnet(prefix: string): Promise<[string, string]> {
  const used = new Set(
    (await links(undefined)).flatMap((l) =>
      l.addr_info.filter((a) => a.family === 'inet').map((a) => a.local.split('.').slice(0, 3).join('.')),
    ),
  );
  const seed = createHash('sha256').update(prefix).digest().readUInt32BE(0);
  for (let i = 0; i < 64 * 256; i++) {
    const n = (seed + i) % (64 * 256);
    const net = `100.${64 + (n >> 8)}.${n & 0xff}`;
    // One /30 per /24 keeps the used-check simple (by /24).
    if (!used.has(net)) return [`${net}.1`, `${net}.2`];
  }
  throw new Error('no free /24 in 100.64.0.0/10 for the scale reflector');
}

function reflectorConfig(routerId: string, client: string): string {
  return `frr defaults datacenter
hostname scale-rr
!
router bgp ${REFLECTOR_ASN}
 bgp router-id ${routerId}
 bgp cluster-id ${routerId}
 no bgp default ipv4-unicast
 neighbor ${client} remote-as ${REFLECTOR_ASN}
 neighbor ${client} timers connect 1
 address-family l2vpn evpn
  neighbor ${client} activate
  neighbor ${client} route-reflector-client
 exit-address-family
exit
!
`;
}

interface EvpnPathJson {
  routeType?: number;
  mac?: string;
  ip?: string;
  nexthops?: Array<{ ip: string }>;
}

/** Flattens `show bgp l2vpn evpn route json` (RD → prefix → {paths}) to one entry per route. */
export function parseEvpnRoutes(json: Record<string, unknown>): ReflectedRoute[] {
  const out: ReflectedRoute[] = [];
  for (const [rd, byPrefix] of Object.entries(json)) {
    if (!byPrefix || typeof byPrefix !== 'object') continue;
    for (const [prefix, entry] of Object.entries(byPrefix as Record<string, unknown>)) {
      if (prefix === 'rd' || !entry || typeof entry !== 'object') continue;
      const paths = ((entry as { paths?: unknown }).paths ?? []) as Array<EvpnPathJson | EvpnPathJson[]>;
      const best = paths.flat()[0];
      if (!best) continue;
      const nextHop = best.nexthops?.[0]?.ip ?? '';
      if (best.routeType === 2)
        out.push({ type: 2, rd, mac: best.mac ?? '', ip: best.ip || undefined, nextHop });
      else if (best.routeType === 3) out.push({ type: 3, rd, originator: best.ip ?? '', nextHop });
    }
  }
  return out;
}

/** Starts the reflector; on any failure removes what it had made and throws. */
export async function startScaleReflector(prefix: string): Promise<ScaleReflector> {
  const set = new NamespaceSet();
  const hostIf = `${prefix}rr`.slice(0, 15);
  let frr: FrrInstance | undefined;
  const destroy = async () => {
    await frr?.stop().catch(() => {});
    await set.destroy();
    // Deleting the namespace deletes the veth; this covers a failure between creating and moving it.
    await run('ip', ['link', 'del', hostIf]);
  };
  try {
    const ns = await set.add(`${prefix}rr`);
    const [controllerAddress, address] = await freeSubnet(prefix);
    await run('ip', ['link', 'del', hostIf]);
    await ip(undefined, ['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', 'eth1', 'netns', ns]);
    await ip(undefined, ['addr', 'add', `${controllerAddress}/30`, 'dev', hostIf]);
    await ip(undefined, ['link', 'set', hostIf, 'up']);
    await ip(ns, ['addr', 'add', `${address}/30`, 'dev', 'eth1']);
    await ip(ns, ['link', 'set', 'eth1', 'up']);
    frr = await startFrr(ns, `${prefix}rr`, reflectorConfig(address, controllerAddress));
    const instance = frr;
    return {
      ns,
      address,
      controllerAddress,
      frr: instance,
      async client() {
        const summary = await instance.vtyshJson<{ peers?: Record<string, SummaryPeerJson> }>(
          'show bgp l2vpn evpn summary json',
        );
        const peer = summary.peers?.[controllerAddress];
        return {
          state: peer?.state ?? 'absent',
          received: peer?.pfxRcd ?? 0,
          dropped: peer?.connectionsDropped ?? 0,
        };
      },
      async routes() {
        return parseEvpnRoutes(await instance.vtyshJson('show bgp l2vpn evpn route json'));
      },
      destroy,
    };
  } catch (err) {
    await destroy();
    throw err;
  }
}
