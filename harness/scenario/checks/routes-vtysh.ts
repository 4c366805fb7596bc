/**
 * A RouteSource read from FRR itself (`vtysh ... json` in the node) — used when the BGP tap is not
 * available. The tap (harness/bgp) is the primary source: it sees UPDATEs on the wire, independent of
 * the implementation under test.
 */
import type { LabNode } from '../../runtime/runtime.ts';
import { HarnessError } from '../../util/errors.ts';
import type { ObservedRoute, RouteSource } from '../context.ts';

type Obj = Record<string, unknown>;

const TUNNEL_TYPES: Record<string, number> = {
  'Ingress Replication': 6,
  'PIM-SSM Tree': 3,
  'PIM-SM Tree': 4,
};

/** `vtysh -c '<command>'` in the node, its JSON output parsed (a clear error when it is not JSON). */
export async function vtyshJson(node: LabNode, command: string): Promise<Obj> {
  const r = await node.exec(['vtysh', '-c', command], { timeoutMs: 10_000 });
  if (r.exitCode !== 0)
    throw new HarnessError(
      `${node.name}: vtysh -c '${command}': ${(r.stderr || r.stdout).trim().slice(0, 200)}`,
    );
  try {
    return JSON.parse(r.stdout) as Obj;
  } catch {
    throw new HarnessError(
      `${node.name}: vtysh -c '${command}' did not print JSON: ${r.stdout.slice(0, 200)}`,
    );
  }
}

function parseExtCommunities(text: string): {
  rt: string[];
  encapsulation: number | undefined;
  mobilitySeq: number | undefined;
} {
  const rt: string[] = [];
  let encapsulation: number | undefined;
  let mobilitySeq: number | undefined;
  for (const part of text.split(/\s+/)) {
    if (part.startsWith('RT:')) rt.push(part.slice(3));
    else if (part.startsWith('ET:')) encapsulation = Number(part.slice(3));
    else if (part.startsWith('MM:')) mobilitySeq = Number(part.slice(3).split(',')[0]);
  }
  return { rt, encapsulation, mobilitySeq };
}

/** Parses `[2]:[0]:[48]:[mac]:[32]:[ip]`, `[3]:[0]:[32]:[ip]`, `[5]:[0]:[24]:[prefix]`. */
function parsePrefix(prefix: string): { type: number; mac?: string; ip?: string; prefix?: string } {
  const parts = [...prefix.matchAll(/\[([^\]]*)\]/g)].map((m) => m[1]!);
  const type = Number(parts[0]);
  if (type === 2) return { type, mac: parts[3], ip: parts[5] };
  if (type === 3) return { type, ip: parts[3] };
  if (type === 5) return { type, prefix: `${parts[3]}/${parts[2]}` };
  return { type };
}

export async function readFrrEvpnRoutes(node: LabNode): Promise<ObservedRoute[]> {
  const summary = await vtyshJson(node, 'show bgp l2vpn evpn json');
  const rds = Object.keys(summary).filter((k) => typeof summary[k] === 'object' && summary[k] !== null);
  const out: ObservedRoute[] = [];
  for (const rd of rds) {
    const detail = (await vtyshJson(node, `show bgp l2vpn evpn route rd ${rd} json`))[rd] as Obj | undefined;
    for (const [key, value] of Object.entries(detail ?? {})) {
      if (!key.startsWith('[') || typeof value !== 'object' || value === null) continue;
      const parsed = parsePrefix(key);
      const pathsRaw = (value as Obj).paths as unknown[];
      const paths = (pathsRaw ?? []).flatMap((p) => (Array.isArray(p) ? p : [p])) as Obj[];
      const best = paths.find((p) => (p.bestpath as Obj | undefined)?.overall === true) ?? paths[0];
      if (!best) continue;
      const ext = parseExtCommunities(String((best.extendedCommunity as Obj | undefined)?.string ?? ''));
      const pmsi = best.pmsi as Obj | undefined;
      const vni =
        best.vni !== undefined
          ? Number(best.vni)
          : pmsi?.label !== undefined
            ? Number(pmsi.label)
            : undefined;
      const nh = ((best.nexthops as Obj[] | undefined) ?? [])[0]?.ip as string | undefined;
      out.push({
        type: parsed.type,
        rd,
        vni,
        label: vni,
        mac: parsed.mac?.toLowerCase(),
        ip: parsed.ip,
        prefix: parsed.prefix,
        originator: parsed.type === 3 ? parsed.ip : nh,
        nextHop: nh,
        rt: ext.rt,
        encapsulation: ext.encapsulation,
        pmsiTunnelType: pmsi ? (TUNNEL_TYPES[String(pmsi.tunnelType)] ?? Number(pmsi.tunnelType)) : undefined,
        mobilitySeq: ext.mobilitySeq,
        communities: [],
      });
    }
  }
  return out;
}

export function vtyshRouteSource(node: LabNode): RouteSource {
  const log: string[] = [];
  return {
    kind: 'vtysh',
    // FRR's own RIB is the RIB: nothing is in flight between it and us.
    incomplete: () => undefined,
    async routes() {
      const routes = await readFrrEvpnRoutes(node);
      log.push(`${new Date().toISOString()} ${node.name} RIB: ${routes.length} EVPN routes`);
      for (const r of routes)
        log.push(
          `  type-${r.type} rd ${r.rd} ${r.mac ?? ''} ${r.ip ?? ''} ${r.prefix ?? ''} vni ${r.vni ?? '-'} nh ${r.nextHop ?? '-'} rt ${r.rt.join(',')}`,
        );
      return routes;
    },
    transcript: () => log.join('\n'),
    close: async () => undefined,
  };
}
