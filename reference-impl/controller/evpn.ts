/**
 * The controller's BGP seam: a small interface (originate a set of routes, learn remote ones) with
 * two implementations: `BgpEvpnTransport` over the project's BgpSpeaker (harness/bgp), peering with
 * the zone's route reflector, and `MemoryEvpnFabric` for tests without BGP.
 *
 * Route encoding (RFC 7432 / RFC 8365):
 *   type-2 MAC/IP: RD routerId:n (n = VNI mod 65536), ESI 0, ethTag 0, label = L2 VNI, next hop = the
 *     hypervisor's VTEP, ext communities: route target (as provisioned), encapsulation VXLAN (8),
 *     MAC mobility {seq} once the MAC has moved, one secgroup community (type 0x80, sub-type 0x04,
 *     2-octet AS of the originating controller, 4-octet group id) per security group of the VM.
 *   type-3 IMET: same RD, originator = VTEP, PMSI tunnel {type 6 ingress replication, label VNI,
 *     endpoint VTEP}, route target, encapsulation VXLAN.
 *   type-5 IP prefix (RFC 9136, docs/federation.md): per subnet of a domain with an L3 VNI, per
 *     hypervisor hosting it: RD vtep:n (n = L3 VNI mod 65536), ESI 0, ethTag 0, gateway IP 0, label =
 *     L3 VNI, next hop = the VTEP, ext communities: the domain's route target, encapsulation VXLAN,
 *     router MAC (the hypervisor's end of the L3 VNI). Learned type-5 routes go to World.learnPrefix.
 * Floating IPs (docs/nat.md) go out in IPv4 unicast on the same sessions: one /32 per floating IP,
 * next hop = the underlay address of the hypervisor that translates it.
 */
import {
  type BestChange,
  BgpSpeaker,
  type EvpnInclusiveMulticast,
  type EvpnIpPrefix,
  type EvpnMacIp,
  type ExtCommunity,
  type Ipv4Route,
  macMobility,
  type PathAttributes,
  type PeerConfig,
  ZERO_ESI,
} from '../../harness/bgp/index.ts';
import { TRACE_ENABLED, trace } from '../protocol/trace.ts';
import { sabotaged, type2DelayMs } from '../sabotage.ts';
import { secgroupCommunity, secgroupIds } from './security.ts';
import {
  type LearnedFlood,
  type LearnedMac,
  type LearnedPrefix,
  type OriginatedType5,
  type Origination,
  originationKey,
} from './world.ts';

export interface EvpnLearnHandlers {
  onMac(key: string, mac: LearnedMac | undefined): void;
  onFlood(key: string, flood: LearnedFlood | undefined): void;
  /** Type-5 routes (absent: the transport ignores them). */
  onPrefix?(key: string, prefix: LearnedPrefix | undefined): void;
}

type OriginatedRoute = EvpnMacIp | EvpnInclusiveMulticast | EvpnIpPrefix;

/** A type-5 route's BGP form (see the header). */
export function type5ToBgp(o: OriginatedType5): { route: EvpnIpPrefix; attrs: PathAttributes } {
  // TEST-ONLY `type5-wrong-rt` sabotage (reference-impl/sabotage.ts): the next L3 VNI's route target.
  const rt = sabotaged('type5-wrong-rt')
    ? `${o.routeTarget.slice(0, o.routeTarget.lastIndexOf(':'))}:${o.l3Vni + 1}`
    : o.routeTarget;
  const ext: ExtCommunity[] = [
    { type: 'route-target', value: rt },
    { type: 'encapsulation', tunnelType: 8 },
  ];
  // TEST-ONLY `type5-no-router-mac` sabotage: no router MAC extended community (RFC 9136 §4.1 needs it).
  if (!sabotaged('type5-no-router-mac')) ext.push({ type: 'router-mac', mac: o.routerMac });
  return {
    route: {
      afi: 'l2vpn-evpn',
      type: 5,
      rd: rdFor(o.vtep, o.l3Vni),
      esi: ZERO_ESI,
      ethTag: 0,
      prefix: o.prefix,
      gateway: '0.0.0.0',
      labels: [o.l3Vni],
    },
    attrs: { origin: 'igp', nextHop: o.vtep, extCommunities: ext },
  };
}

export interface EvpnTransport {
  start(handlers: EvpnLearnHandlers): Promise<void>;
  stop(): Promise<void>;
  /** The full set of routes to originate now; the transport announces/withdraws the difference. */
  setOriginations(list: Origination[]): void;
  /** Announces (or re-announces when changed) `set` and withdraws the routes with keys `remove`. */
  patchOriginations(set: Origination[], remove: string[]): void;
  /** The full set of floating-IP /32 routes to announce now (IPv4 unicast); the difference is sent. */
  setUnicastRoutes(routes: UnicastRoute[]): void;
  /** True once the initial routes of every peer are in (End-of-RIB) or the wait timed out. */
  ready(): boolean;
  status(): Record<string, unknown>;
}

/** A floating IP's /32 and the hypervisor underlay address it is reached through. */
export interface UnicastRoute {
  prefix: string;
  nextHop: string;
}

export function rdFor(routerId: string, vni: number): string {
  return `${routerId}:${vni & 0xffff}`;
}

export function toBgp(
  routerId: string,
  o: Origination,
  localAs = 0,
): { route: OriginatedRoute; attrs: PathAttributes } {
  if (o.kind === 'type5') return type5ToBgp(o);
  const ext: ExtCommunity[] = [
    { type: 'route-target', value: o.routeTarget },
    { type: 'encapsulation', tunnelType: 8 },
  ];
  if (o.kind === 'type2') {
    if (o.seq > 0) ext.push({ type: 'mac-mobility', seq: o.seq, sticky: false });
    for (const sgid of o.groups ?? []) ext.push(secgroupCommunity(localAs, sgid));
    return {
      route: {
        afi: 'l2vpn-evpn',
        type: 2,
        rd: rdFor(routerId, o.vni),
        esi: ZERO_ESI,
        ethTag: 0,
        mac: o.mac,
        ip: o.ip,
        labels: [o.vni],
      },
      attrs: { origin: 'igp', nextHop: o.vtep, extCommunities: ext },
    };
  }
  return {
    route: { afi: 'l2vpn-evpn', type: 3, rd: rdFor(routerId, o.vni), ethTag: 0, originatorIp: o.vtep },
    attrs: {
      origin: 'igp',
      nextHop: o.vtep,
      // Without the encapsulation community only under the TEST-ONLY `type3-no-encap` sabotage.
      extCommunities: sabotaged('type3-no-encap') ? ext.filter((c) => c.type !== 'encapsulation') : ext,
      pmsiTunnel: { flags: 0, tunnelType: 6, label: o.vni, tunnelId: o.vtep },
    },
  };
}

function routeTargets(attrs: PathAttributes): string[] {
  return (attrs.extCommunities ?? [])
    .filter((c) => c.type === 'route-target')
    .map((c) => (c as { value: string }).value);
}

export interface BgpEvpnOptions {
  localAs: number;
  routerId: string;
  peers: Array<{ address: string; remoteAs: number; port?: number }>;
  holdTime?: number;
  /** Max wait for peers' End-of-RIB before the first agent sync, ms (default 8000). */
  readyTimeoutMs?: number;
  log?: (line: string) => void;
  /** Role name in trace lines (protocol/trace.ts), e.g. `controller:c1`. */
  traceRole?: string;
  /**
   * Graceful restart (RFC 4724) with this restart time, s: the reflector keeps this controller's
   * routes stale while it restarts (the agents keep forwarding: F bit set), and End-of-RIB leaves
   * only after the first full set of routes from the directory snapshot (FED-5).
   */
  gracefulRestartTime?: number;
}

export class BgpEvpnTransport implements EvpnTransport {
  readonly speaker: BgpSpeaker;
  private announced = new Map<string, { sig: string; route: OriginatedRoute }>();
  private readonly eor = new Set<string>();
  private readonly startedAt = Date.now();

  constructor(private readonly options: BgpEvpnOptions) {
    const peers: PeerConfig[] = options.peers.map((p) => ({
      address: p.address,
      remoteAs: p.remoteAs,
      families: ['l2vpn-evpn', 'ipv4-unicast'],
      ...(p.port ? { port: p.port } : {}),
      name: `rr-${p.address}`,
    }));
    this.speaker = new BgpSpeaker({
      localAs: options.localAs,
      routerId: options.routerId,
      holdTime: options.holdTime ?? 9,
      connectRetryMs: 1000,
      families: ['l2vpn-evpn', 'ipv4-unicast'],
      peers,
      // Not under the TEST-ONLY `no-graceful-restart` sabotage (reference-impl/sabotage.ts).
      ...(options.gracefulRestartTime && !sabotaged('no-graceful-restart')
        ? {
            gracefulRestart: {
              restartTime: options.gracefulRestartTime,
              restarting: true,
              forwardingPreserved: true,
              holdEndOfRib: true,
            },
          }
        : {}),
    });
  }

  async start(handlers: EvpnLearnHandlers): Promise<void> {
    const log = this.options.log ?? (() => {});
    this.speaker.on('established', (p) => log(`bgp: session with ${p.address} established`));
    this.speaker.on('down', (p, reason) => {
      this.eor.delete(p.address);
      log(`bgp: session with ${p.address} down: ${reason}`);
    });
    this.speaker.on('endOfRib', (p, family) => {
      if (family === 'l2vpn-evpn') this.eor.add(p.address);
    });
    this.speaker.on('log', (level, message) => {
      if (level !== 'debug') log(`bgp ${level}: ${message}`);
    });
    this.speaker.on('best', (change: BestChange) => this.onBest(change, handlers));
    await this.speaker.start();
  }

  private onBest(change: BestChange, handlers: EvpnLearnHandlers): void {
    const entry = change.best ?? change.previous;
    if (entry?.route.afi !== 'l2vpn-evpn') return;
    if (change.best?.peer === 'local' || (!change.best && change.previous?.peer === 'local')) return;
    const route = entry.route as OriginatedRoute;
    if (route.type === 5) {
      const best = change.best;
      if (!best || best.peer === 'local') {
        handlers.onPrefix?.(change.key, undefined);
        return;
      }
      const r = best.route as EvpnIpPrefix;
      const rmac = best.attrs.extCommunities?.find((c) => c.type === 'router-mac');
      handlers.onPrefix?.(change.key, {
        prefix: r.prefix,
        l3Vni: r.labels[0],
        vtep: best.attrs.nextHop ?? '',
        routerMac: rmac?.type === 'router-mac' ? rmac.mac : undefined,
        routeTargets: routeTargets(best.attrs),
      });
      return;
    }
    if (route.type === 2) {
      const best = change.best;
      if (!best || best.peer === 'local') {
        handlers.onMac(change.key, undefined);
        return;
      }
      const r = best.route as EvpnMacIp;
      handlers.onMac(change.key, {
        origin: r.rd.split(':')[0] ?? '',
        vni: r.labels[0] ?? 0,
        mac: r.mac,
        ip: r.ip,
        vtep: best.attrs.nextHop ?? '',
        seq: macMobility(best.attrs)?.seq ?? 0,
        routeTargets: routeTargets(best.attrs),
        groups: secgroupIds(best.attrs.extCommunities),
      });
    } else if (route.type === 3) {
      const best = change.best;
      if (!best || best.peer === 'local') {
        handlers.onFlood(change.key, undefined);
        return;
      }
      const r = best.route as EvpnInclusiveMulticast;
      const vni = best.attrs.pmsiTunnel?.label ?? r.ethTag;
      handlers.onFlood(change.key, {
        origin: r.rd.split(':')[0] ?? '',
        vni,
        vtep: best.attrs.pmsiTunnel?.tunnelId ?? r.originatorIp,
        routeTargets: routeTargets(best.attrs),
      });
    }
  }

  setOriginations(list: Origination[]): void {
    // The first full set follows the directory snapshot: the routes are complete once the floating
    // IPs of the same recompute are queued too (next tick), so End-of-RIB may leave (graceful restart).
    setImmediate(() => this.speaker.releaseEndOfRib());
    const next = new Set(list.map(originationKey));
    this.patchOriginations(
      list,
      [...this.announced.keys()].filter((k) => !next.has(k)),
    );
  }

  patchOriginations(set: Origination[], remove: string[]): void {
    // TEST-ONLY `delay-type2` sabotage (reference-impl/sabotage.ts): type-2 updates leave late (in order:
    // equal timeouts fire in the order they were set).
    const delayMs = type2DelayMs();
    const send = (route: OriginatedRoute, act: () => void) => {
      if (delayMs > 0 && route.type === 2) setTimeout(act, delayMs).unref();
      else act();
    };
    const withdraw = remove.flatMap((k) => {
      const cur = this.announced.get(k);
      this.announced.delete(k);
      // TEST-ONLY `no-type2-withdraw` sabotage: type-2 routes are never withdrawn.
      if (cur?.route.type === 2 && sabotaged('no-type2-withdraw')) return [];
      return cur ? [cur.route] : [];
    });
    if (delayMs === 0) {
      if (withdraw.length) this.speaker.withdraw(withdraw);
    } else for (const route of withdraw) send(route, () => this.speaker.withdraw([route]));
    for (const o of set) {
      const key = originationKey(o);
      const { route, attrs } = toBgp(this.options.routerId, o, this.options.localAs);
      const sig = JSON.stringify(attrs);
      if (this.announced.get(key)?.sig === sig) continue;
      send(route, () => this.speaker.announce([route], attrs));
      this.announced.set(key, { sig, route });
      if (TRACE_ENABLED && route.type === 2)
        trace(this.options.traceRole ?? `bgp:${this.options.routerId}`, 'bgp-announce', route.mac);
    }
  }

  private unicast = new Map<string, string>();

  setUnicastRoutes(routes: UnicastRoute[]): void {
    // TEST-ONLY `fip-no-announce` sabotage (reference-impl/sabotage.ts): floating IPs are never announced.
    const next = new Map(sabotaged('fip-no-announce') ? [] : routes.map((r) => [r.prefix, r.nextHop]));
    // TEST-ONLY `fip-stale-route` sabotage: a floating IP's /32 is never withdrawn or moved once announced.
    if (sabotaged('fip-stale-route')) for (const [p, nh] of this.unicast) next.set(p, nh);
    const gone: Ipv4Route[] = [];
    for (const prefix of this.unicast.keys())
      if (!next.has(prefix)) gone.push({ afi: 'ipv4-unicast', prefix });
    if (gone.length) this.speaker.withdraw(gone);
    for (const [prefix, nextHop] of next)
      if (this.unicast.get(prefix) !== nextHop)
        this.speaker.announce([{ afi: 'ipv4-unicast', prefix }], { origin: 'igp', nextHop });
    this.unicast = next;
  }

  ready(): boolean {
    if (Date.now() - this.startedAt > (this.options.readyTimeoutMs ?? 8000)) return true;
    return this.options.peers.every((p) => this.eor.has(p.address));
  }

  status(): Record<string, unknown> {
    return {
      routerId: this.options.routerId,
      peers: this.speaker.peers().map((p) => ({ address: p.address, state: p.state })),
      originated: this.announced.size,
      floatingRoutes: this.unicast.size,
    };
  }

  async stop(): Promise<void> {
    await this.speaker.close();
  }
}

/** In-process stand-in for the route reflectors: every member sees every other member's routes. */
export class MemoryEvpnFabric {
  private readonly members = new Set<MemoryEvpnTransport>();

  member(routerId: string): MemoryEvpnTransport {
    const m = new MemoryEvpnTransport(this, routerId);
    return m;
  }

  join(m: MemoryEvpnTransport): void {
    this.members.add(m);
    for (const other of this.members)
      if (other !== m) for (const [k, o] of other.current) m.deliver(other.routerId, k, o);
  }

  leave(m: MemoryEvpnTransport): void {
    this.members.delete(m);
    for (const other of this.members)
      for (const k of m.current.keys()) other.deliver(m.routerId, k, undefined);
  }

  publish(from: MemoryEvpnTransport, key: string, o: Origination | undefined): void {
    for (const other of this.members) if (other !== from) other.deliver(from.routerId, key, o);
  }
}

export class MemoryEvpnTransport implements EvpnTransport {
  current = new Map<string, Origination>();
  private handlers: EvpnLearnHandlers | undefined;

  constructor(
    private readonly fabric: MemoryEvpnFabric,
    readonly routerId: string,
  ) {}

  async start(handlers: EvpnLearnHandlers): Promise<void> {
    this.handlers = handlers;
    this.fabric.join(this);
  }

  async stop(): Promise<void> {
    this.fabric.leave(this);
    this.handlers = undefined;
  }

  deliver(from: string, key: string, o: Origination | undefined): void {
    const k = `${from}|${key}`;
    if (!this.handlers) return;
    if (key.startsWith('2/')) {
      this.handlers.onMac(
        k,
        o && o.kind === 'type2'
          ? {
              origin: from,
              vni: o.vni,
              mac: o.mac,
              ip: o.ip,
              vtep: o.vtep,
              seq: o.seq,
              routeTargets: [o.routeTarget],
              groups: o.groups ?? [],
            }
          : undefined,
      );
    } else if (key.startsWith('5/')) {
      this.handlers.onPrefix?.(
        k,
        o && o.kind === 'type5'
          ? {
              prefix: o.prefix,
              l3Vni: o.l3Vni,
              vtep: o.vtep,
              routerMac: o.routerMac,
              routeTargets: [o.routeTarget],
            }
          : undefined,
      );
    } else {
      this.handlers.onFlood(
        k,
        o && o.kind === 'type3'
          ? { origin: from, vni: o.vni, vtep: o.vtep, routeTargets: [o.routeTarget] }
          : undefined,
      );
    }
  }

  setOriginations(list: Origination[]): void {
    const next = new Set(list.map(originationKey));
    this.patchOriginations(
      list,
      [...this.current.keys()].filter((k) => !next.has(k)),
    );
  }

  patchOriginations(set: Origination[], remove: string[]): void {
    for (const k of remove) if (this.current.delete(k)) this.fabric.publish(this, k, undefined);
    for (const o of set) {
      const k = originationKey(o);
      const cur = this.current.get(k);
      if (cur && JSON.stringify(cur) === JSON.stringify(o)) continue;
      this.current.set(k, o);
      this.fabric.publish(this, k, o);
    }
  }

  /** Floating-IP routes (not exchanged between members: only the PE in a lab uses them). */
  unicast: UnicastRoute[] = [];

  setUnicastRoutes(routes: UnicastRoute[]): void {
    this.unicast = [...routes];
  }

  ready(): boolean {
    return true;
  }

  status(): Record<string, unknown> {
    return { routerId: this.routerId, originated: this.current.size };
  }
}
