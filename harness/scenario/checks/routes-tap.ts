/**
 * The primary RouteSource: the harness's BGP tap (harness/bgp) peered with a route reflector as a
 * route-reflector client that advertises nothing. It runs inside the RR's network namespace and
 * connects between two addresses the lab puts on the RR's lo (FRR refuses peers on 127.0.0.1), named
 * by the node labels `otwin.bgp-tap.address` and `otwin.bgp-tap.peer`; the RR's frr.conf needs a
 * `bgp listen range` (peer group, route-reflector-client) covering the tap's address.
 *
 * The label `otwin.bgp-tap.families` (comma-separated `evpn`, `vpnv4`; default `evpn`) says which
 * families the tap asks for in its OPEN; the node's frr.conf must activate the tap's peer group in each.
 */
import { BgpTap, type Family, secgroups, type TapRib, type TapRoute } from '../../bgp/index.ts';
import type { LabNode } from '../../runtime/runtime.ts';
import type { ObservedRoute, ObservedVpnRoute, RouteSource } from '../context.ts';

export { tapFamiliesOf } from './tap-families.ts';

export interface TapSettings {
  asn: number;
  peerAddress: string;
  localAddress: string | undefined;
  routerId: string;
  /** Families the tap negotiates (default EVPN only). */
  families?: Family[];
}

/** The vtysh address-family words whose summary gives the node's AS number for `family`. */
export const VTYSH_FAMILY: Readonly<Record<Family, string>> = {
  'l2vpn-evpn': 'l2vpn evpn',
  'ipv4-vpn': 'ipv4 vpn',
  'ipv4-unicast': 'ipv4 unicast',
};

/** A VPN-IPv4 route as the tap decoded it: every route the peer sent is its best path. */
export function tapRouteToVpn(r: TapRoute): ObservedVpnRoute | undefined {
  if (r.route.afi !== 'ipv4-vpn') return undefined;
  return {
    rd: r.route.rd,
    prefix: r.route.prefix,
    nextHop: r.attrs.nextHop,
    rt: (r.attrs.extCommunities ?? []).flatMap((c) => (c.type === 'route-target' ? [c.value] : [])),
    label: r.route.labels.at(-1),
    valid: true,
    best: true,
  };
}

export function tapRouteToObserved(r: TapRoute): ObservedRoute {
  const route = r.route as unknown as Record<string, unknown>;
  const ext = r.attrs.extCommunities ?? [];
  const type = Number(route.type ?? 0);
  const labels = (route.labels as number[] | undefined) ?? [];
  const label = type === 3 ? r.attrs.pmsiTunnel?.label : labels[0];
  const rt = ext.flatMap((c) => (c.type === 'route-target' ? [c.value] : []));
  const encap = ext.find((c) => c.type === 'encapsulation');
  const mm = ext.find((c) => c.type === 'mac-mobility');
  const rmac = ext.find((c) => c.type === 'router-mac');
  return {
    type,
    rd: route.rd as string | undefined,
    vni: label,
    label,
    mac: (route.mac as string | undefined)?.toLowerCase(),
    ip: type === 3 ? (route.originatorIp as string | undefined) : (route.ip as string | undefined),
    prefix: route.prefix as string | undefined,
    originator: type === 3 ? (route.originatorIp as string | undefined) : r.attrs.nextHop,
    nextHop: r.attrs.nextHop,
    rt,
    encapsulation: encap && encap.type === 'encapsulation' ? encap.tunnelType : undefined,
    pmsiTunnelType: r.attrs.pmsiTunnel?.tunnelType,
    mobilitySeq: mm && mm.type === 'mac-mobility' ? mm.seq : undefined,
    routerMac: rmac && rmac.type === 'router-mac' ? rmac.mac.toLowerCase() : undefined,
    gateway: type === 5 ? (route.gateway as string | undefined) : undefined,
    communities: r.attrs.communities ?? [],
    secgroups: secgroups(r.attrs),
  };
}

/** Why a tap's RIB may not be the peer's whole table yet (RouteSource.incomplete). */
export function ribIncompleteness(
  established: boolean,
  rib: TapRib,
  peer: string,
  families: readonly Family[] = ['l2vpn-evpn'],
): string | undefined {
  if (!established) return `the tap's session with ${peer} is not Established`;
  const missing = families.filter((f) => !rib.complete(f));
  if (missing.length)
    return `no End-of-RIB for ${missing.join(', ')} from ${peer} yet (its table may still be arriving)`;
  return undefined;
}

export async function tapRouteSource(
  node: LabNode,
  settings: TapSettings,
  timeoutMs = 20_000,
): Promise<RouteSource> {
  const families = settings.families ?? ['l2vpn-evpn'];
  const tap = await BgpTap.start({
    netnsPath: node.netnsPath,
    peerAddress: settings.peerAddress,
    ...(settings.localAddress ? { localAddress: settings.localAddress } : {}),
    localAs: settings.asn,
    peerAs: settings.asn,
    routerId: settings.routerId,
    families,
    gracefulRestart: { restartTime: 120 },
  });
  const deadline = Date.now() + timeoutMs;
  try {
    await tap.waitEstablished(timeoutMs);
  } catch (err) {
    await tap.stop().catch(() => undefined);
    throw err;
  }
  // The initial table: a check that opens the tap must not read a RIB still being sent. A peer that
  // never sends End-of-RIB leaves the source incomplete, and absent-route checks then say so.
  for (const family of families)
    await tap.waitEndOfRib(family, Math.max(0, deadline - Date.now())).catch(() => undefined);
  return {
    kind: 'tap',
    async routes() {
      return tap.routes({ afi: 'l2vpn-evpn' }).map(tapRouteToObserved);
    },
    async vpnRoutes() {
      return tap.routes({ afi: 'ipv4-vpn' }).flatMap((r) => tapRouteToVpn(r) ?? []);
    },
    incomplete: () => ribIncompleteness(tap.established, tap.rib, settings.peerAddress, families),
    changedAt: () => tap.rib.transcript.at(-1)?.ts,
    transcript: () => tap.rib.jsonl(),
    close: () => tap.stop(),
  };
}
