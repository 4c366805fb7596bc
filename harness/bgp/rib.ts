/**
 * Adj-RIB-In and Loc-RIB with best-path selection (RFC 4271 §9.1.2, RFC 4456 §9, and RFC 7432 §15.2
 * MAC mobility for EVPN type-2 routes: higher sequence number wins, sticky beats non-sticky, equal
 * sequence numbers from different PEs → the lower next hop wins).
 */
import { routeKey } from './codec/nlri.ts';
import type { PathAttributes, Route } from './types.ts';

/** One path for a route: who sent it (a peer address, or `local`), with which attributes. */
export interface RibEntry {
  key: string;
  route: Route;
  attrs: PathAttributes;
  /** Peer address, or `local` for routes this speaker originates. */
  peer: string;
  peerRouterId: string;
  ibgp: boolean;
  /** Whether the sending peer is our route-reflector client (RFC 4456). */
  fromClient: boolean;
  receivedAt: number;
  /** Kept as a graceful-restart helper after the peer went down (RFC 4724 §4.2). */
  stale?: boolean;
}

export interface BestChange {
  key: string;
  /** The new best path, undefined when the route is gone. */
  best: RibEntry | undefined;
  previous: RibEntry | undefined;
}

const ORIGIN_RANK = { igp: 0, egp: 1, incomplete: 2 } as const;

function asPathLength(a: PathAttributes): number {
  let n = 0;
  for (const s of a.asPath ?? []) {
    if (s.type === 'sequence') n += s.asns.length;
    else if (s.type === 'set') n += 1;
  }
  return n;
}

export function macMobility(a: PathAttributes): { seq: number; sticky: boolean } | undefined {
  for (const c of a.extCommunities ?? [])
    if (c.type === 'mac-mobility') return { seq: c.seq, sticky: c.sticky };
  return undefined;
}

/** The security-group communities of a path in text form `secgroup:<asn>:<id>`, in wire order. */
export function secgroups(a: PathAttributes): string[] {
  return (a.extCommunities ?? []).flatMap((c) =>
    c.type === 'secgroup' ? [`secgroup:${c.asn}:${c.id}`] : [],
  );
}

function ipToNumber(ip: string | undefined): number {
  if (!ip) return Number.MAX_SAFE_INTEGER;
  const parts = ip.split('.');
  if (parts.length !== 4) return Number.MAX_SAFE_INTEGER;
  return parts.reduce((acc, p) => acc * 256 + Number(p), 0);
}

/** Negative when `a` is the better path. */
export function comparePaths(a: RibEntry, b: RibEntry): number {
  if (a.stale !== b.stale) return a.stale ? 1 : -1;
  if (a.route.afi === 'l2vpn-evpn' && a.route.type === 2) {
    const ma = macMobility(a.attrs);
    const mb = macMobility(b.attrs);
    if (ma || mb) {
      if (!!ma?.sticky !== !!mb?.sticky) return ma?.sticky ? -1 : 1;
      const sa = ma?.seq ?? 0;
      const sb = mb?.seq ?? 0;
      if (sa !== sb) return sb - sa;
      // Same sequence number from different PEs: the lower IP (next hop) wins (RFC 7432 §15.1).
      const na = ipToNumber(a.attrs.nextHop);
      const nb = ipToNumber(b.attrs.nextHop);
      if (na !== nb) return na - nb;
    }
  }
  if ((a.peer === 'local') !== (b.peer === 'local')) return a.peer === 'local' ? -1 : 1;
  const lpa = a.attrs.localPref ?? 100;
  const lpb = b.attrs.localPref ?? 100;
  if (lpa !== lpb) return lpb - lpa;
  const la = asPathLength(a.attrs);
  const lb = asPathLength(b.attrs);
  if (la !== lb) return la - lb;
  const oa = ORIGIN_RANK[a.attrs.origin ?? 'incomplete'];
  const ob = ORIGIN_RANK[b.attrs.origin ?? 'incomplete'];
  if (oa !== ob) return oa - ob;
  const meda = a.attrs.med ?? 0;
  const medb = b.attrs.med ?? 0;
  if (meda !== medb) return meda - medb;
  if (a.ibgp !== b.ibgp) return a.ibgp ? 1 : -1;
  const ida = ipToNumber(a.attrs.originatorId ?? a.peerRouterId);
  const idb = ipToNumber(b.attrs.originatorId ?? b.peerRouterId);
  if (ida !== idb) return ida - idb;
  const ca = a.attrs.clusterList?.length ?? 0;
  const cb = b.attrs.clusterList?.length ?? 0;
  if (ca !== cb) return ca - cb;
  return ipToNumber(a.peer) - ipToNumber(b.peer);
}

/** Per-peer received routes. */
export class AdjRibIn {
  readonly entries = new Map<string, RibEntry>();

  set(entry: RibEntry): void {
    this.entries.set(entry.key, entry);
  }

  delete(key: string): RibEntry | undefined {
    const e = this.entries.get(key);
    if (e) this.entries.delete(key);
    return e;
  }

  get size(): number {
    return this.entries.size;
  }
}

/** All paths per route key and the best one. */
export class LocRib {
  private readonly paths = new Map<string, Map<string, RibEntry>>();
  private readonly bests = new Map<string, RibEntry>();

  /** Adds or replaces `entry.peer`'s path for `entry.key`; returns the change of best path, if any. */
  upsert(entry: RibEntry): BestChange | undefined {
    let byPeer = this.paths.get(entry.key);
    if (!byPeer) {
      byPeer = new Map();
      this.paths.set(entry.key, byPeer);
    }
    byPeer.set(entry.peer, entry);
    return this.reselect(entry.key, byPeer);
  }

  remove(key: string, peer: string): BestChange | undefined {
    const byPeer = this.paths.get(key);
    if (!byPeer?.delete(peer)) return undefined;
    if (byPeer.size === 0) this.paths.delete(key);
    return this.reselect(key, byPeer);
  }

  private reselect(key: string, byPeer: Map<string, RibEntry>): BestChange | undefined {
    const previous = this.bests.get(key);
    let best: RibEntry | undefined;
    for (const e of byPeer.values()) if (!best || comparePaths(e, best) < 0) best = e;
    if (best) this.bests.set(key, best);
    else this.bests.delete(key);
    if (best === previous) return undefined;
    return { key, best, previous };
  }

  best(route: Route | string): RibEntry | undefined {
    return this.bests.get(typeof route === 'string' ? route : routeKey(route));
  }

  /** Every path for a route (best first). */
  pathsOf(route: Route | string): RibEntry[] {
    const byPeer = this.paths.get(typeof route === 'string' ? route : routeKey(route));
    return byPeer ? [...byPeer.values()].sort(comparePaths) : [];
  }

  bestPaths(): IterableIterator<RibEntry> {
    return this.bests.values();
  }

  get size(): number {
    return this.bests.size;
  }
}
