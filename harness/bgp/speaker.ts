/**
 * BgpSpeaker: many peers, a listener, Adj-RIB-In per peer, a Loc-RIB with best-path selection, an
 * Adj-RIB-Out per peer with RFC 4271/4456 export rules, and graceful-restart helper behaviour (RFC 4724:
 * keep a restarting peer's routes as stale for its restart time, flush those not relearned by its
 * End-of-RIB). Plain node:net sockets: works in whatever network namespace the process runs in.
 *
 * Events (typed through `on`):
 *  - `established` (peer: PeerInfo)
 *  - `down` (peer: PeerInfo, reason: string)
 *  - `update` (event: UpdateEvent) — every UPDATE received, decoded, with its RFC 7606 outcome
 *  - `best` (change: BestChange) — Loc-RIB best path changed
 *  - `endOfRib` (peer: PeerInfo, family: Family)
 *  - `notification` (peer: PeerInfo, direction, n)
 *  - `log` (level, message)
 */
import { EventEmitter } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { FLAG } from './codec/attributes.ts';
import { encodeRouteRefresh, type NotificationMessage } from './codec/messages.ts';
import { routeKey } from './codec/nlri.ts';
import { type DecodedUpdate, encodeAnnounce, encodeEndOfRib, encodeWithdraw } from './codec/update.ts';
import { AdjRibIn, type BestChange, LocRib, type RibEntry } from './rib.ts';
import { Peer, type PeerConfig, type PeerInfo, type PeerOwner } from './session.ts';
import type { Family, PathAttributes, Route } from './types.ts';

export interface SpeakerOptions {
  localAs: number;
  routerId: string;
  /** Hold time we offer, seconds (default 90; 0 disables keepalives, ≥3 otherwise). */
  holdTime?: number;
  /** Connect-retry interval, ms (default 5000). */
  connectRetryMs?: number;
  /** Accept incoming connections (default port 179, all addresses). Needed for passive peers. */
  listen?: { host?: string; port?: number };
  peers?: PeerConfig[];
  /** Families offered to every peer unless the peer says otherwise (default: all three). */
  families?: Family[];
  /**
   * Advertise graceful restart (RFC 4724) with this restart time; we always act as a helper.
   * `restarting` sets the R bit, `forwardingPreserved` the F bit of every family (the data plane
   * kept forwarding while this speaker was down); `holdEndOfRib` sends End-of-RIB only once
   * releaseEndOfRib() says the routes are complete, so a helper does not flush stale routes the
   * restarted speaker has not re-announced yet.
   */
  gracefulRestart?: {
    restartTime: number;
    stalePathTimeMs?: number;
    restarting?: boolean;
    forwardingPreserved?: boolean;
    holdEndOfRib?: boolean;
  };
  /** Source address for outgoing connections. */
  localAddress?: string;
  /** Cluster id when reflecting to our route-reflector clients (default: routerId). */
  clusterId?: string;
}

export interface UpdateEvent {
  peer: PeerInfo;
  receivedAt: number;
  update: DecodedUpdate;
}

export interface SpeakerEvents {
  established: [peer: PeerInfo];
  down: [peer: PeerInfo, reason: string];
  update: [event: UpdateEvent];
  best: [change: BestChange];
  endOfRib: [peer: PeerInfo, family: Family];
  notification: [peer: PeerInfo, direction: 'sent' | 'received', n: NotificationMessage];
  log: [level: 'debug' | 'info' | 'warn', message: string];
}

const ALL_FAMILIES: Family[] = ['ipv4-unicast', 'ipv4-vpn', 'l2vpn-evpn'];

interface OutEntry {
  route: Route;
  attrs: PathAttributes;
}

interface PeerState {
  peer: Peer;
  ribIn: AdjRibIn;
  ribOut: Map<string, OutEntry>;
  /** Changes waiting to be sent: key → announcement, or null for a withdrawal. */
  pending: Map<string, OutEntry | { route: Route; attrs: null }>;
  flushScheduled: boolean;
  restartTimer: NodeJS.Timeout | undefined;
  staleTimer: NodeJS.Timeout | undefined;
}

export class BgpSpeaker extends EventEmitter<SpeakerEvents> {
  readonly options: Readonly<SpeakerOptions>;
  readonly locRib = new LocRib();
  private readonly states = new Map<string, PeerState>();
  private server: Server | undefined;
  private readonly owner: PeerOwner;
  private started = false;
  /** End-of-RIB waits for releaseEndOfRib() (graceful restart `holdEndOfRib`). */
  private endOfRibHeld: boolean;
  /** Export transforms cached per source attribute object, so many routes share one encoded set. */
  private readonly exportCache = new WeakMap<PathAttributes, Map<string, PathAttributes>>();

  constructor(options: SpeakerOptions) {
    super();
    this.options = options;
    this.endOfRibHeld = options.gracefulRestart?.holdEndOfRib ?? false;
    this.owner = {
      localAs: options.localAs,
      routerId: options.routerId,
      holdTime: options.holdTime ?? 90,
      connectRetryMs: options.connectRetryMs ?? 5000,
      families: options.families ?? ALL_FAMILIES,
      gracefulRestart: options.gracefulRestart
        ? {
            restartTime: options.gracefulRestart.restartTime,
            restarting: options.gracefulRestart.restarting ?? false,
            forwardingPreserved: options.gracefulRestart.forwardingPreserved ?? false,
          }
        : undefined,
      onEstablished: (p) => this.onEstablished(p),
      onDown: (p, reason, graceful) => this.onDown(p, reason, graceful),
      onUpdate: (p, u, t) => this.onUpdate(p, u, t),
      onRouteRefresh: (p, f) => this.resend(p, f),
      onNotification: (p, d, n) => this.emit('notification', p.info(), d, n),
      log: (level, message) => this.emit('log', level, message),
    };
    for (const pc of options.peers ?? []) this.addPeerState(pc);
  }

  private addPeerState(config: PeerConfig): PeerState {
    if (this.states.has(config.address)) throw new Error(`peer ${config.address} configured twice`);
    const st: PeerState = {
      peer: new Peer(
        { ...config, localAddress: config.localAddress ?? this.options.localAddress },
        this.owner,
      ),
      ribIn: new AdjRibIn(),
      ribOut: new Map(),
      pending: new Map(),
      flushScheduled: false,
      restartTimer: undefined,
      staleTimer: undefined,
    };
    this.states.set(config.address, st);
    return st;
  }

  /** Starts the listener (when configured) and every peer. Resolves once listening. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    const wantListen =
      this.options.listen ?? ([...this.states.values()].some((s) => s.peer.config.passive) ? {} : undefined);
    if (wantListen) {
      const server = createServer((socket) => this.onIncoming(socket));
      this.server = server;
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ port: wantListen.port ?? 179, host: wantListen.host ?? '::' }, () => {
          server.off('error', reject);
          resolve();
        });
      });
      server.on('error', (err) => this.emit('log', 'warn', `listener: ${err.message}`));
    }
    for (const st of this.states.values()) st.peer.start();
  }

  /** The port the listener is bound to (useful with port 0). */
  get listenPort(): number | undefined {
    const addr = this.server?.address();
    return addr && typeof addr === 'object' ? addr.port : undefined;
  }

  addPeer(config: PeerConfig): void {
    const st = this.addPeerState(config);
    if (this.started) st.peer.start();
  }

  async removePeer(address: string): Promise<void> {
    const st = this.states.get(address);
    if (!st) return;
    st.peer.stop(3);
    this.dropPeerRoutes(st, () => true);
    clearTimeout(st.restartTimer);
    clearTimeout(st.staleTimer);
    this.states.delete(address);
  }

  peers(): PeerInfo[] {
    return [...this.states.values()].map((s) => s.peer.info());
  }

  peer(address: string): PeerInfo | undefined {
    return this.states.get(address)?.peer.info();
  }

  /** Routes received from one peer (its Adj-RIB-In). */
  adjRibIn(address: string): RibEntry[] {
    return [...(this.states.get(address)?.ribIn.entries.values() ?? [])];
  }

  /** Routes we advertise to one peer (its Adj-RIB-Out). */
  adjRibOut(address: string): OutEntry[] {
    return [...(this.states.get(address)?.ribOut.values() ?? [])];
  }

  private onIncoming(socket: Socket): void {
    const remote = (socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    const st = this.states.get(remote);
    if (!st) {
      this.emit('log', 'info', `rejected connection from unconfigured ${remote}`);
      socket.destroy();
      return;
    }
    st.peer.accept(socket);
  }

  /**
   * Originates routes with `attrs` (`attrs.nextHop` is the next hop for every family; defaults to the
   * session's local address per peer). Replaces earlier announcements of the same routes.
   */
  announce(routes: readonly Route[], attrs: PathAttributes): void {
    const now = Date.now();
    const frozen: PathAttributes = { origin: 'igp', ...attrs };
    for (const route of routes) {
      const key = routeKey(route);
      const change = this.locRib.upsert({
        key,
        route,
        attrs: frozen,
        peer: 'local',
        peerRouterId: this.options.routerId,
        ibgp: false,
        fromClient: false,
        receivedAt: now,
      });
      if (change) this.onBestChange(change);
    }
  }

  /** Withdraws routes we originated. */
  withdraw(routes: readonly Route[]): void {
    for (const route of routes) {
      const change = this.locRib.remove(routeKey(route), 'local');
      if (change) this.onBestChange(change);
    }
  }

  /** Asks a peer to resend its routes (RFC 2918). */
  routeRefresh(address: string, family: Family): void {
    const st = this.states.get(address);
    if (!st) return;
    st.peer.send([encodeRouteRefresh(family)]);
  }

  /** Resolves when every queued UPDATE has been handed to the kernel for every peer. */
  async drained(): Promise<void> {
    for (const st of this.states.values()) {
      if (st.flushScheduled) await new Promise((r) => setImmediate(r));
      await new Promise<void>((resolve) => st.peer.onceDrained(resolve));
    }
  }

  async close(): Promise<void> {
    for (const st of this.states.values()) {
      clearTimeout(st.restartTimer);
      clearTimeout(st.staleTimer);
      st.peer.stop(2);
    }
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  // --- receiving -------------------------------------------------------------------------------

  private onEstablished(peer: Peer): void {
    const st = this.states.get(peer.address);
    if (!st) return;
    clearTimeout(st.restartTimer);
    st.restartTimer = undefined;
    if ([...st.ribIn.entries.values()].some((e) => e.stale)) {
      const ms = this.options.gracefulRestart?.stalePathTimeMs ?? 360_000;
      st.staleTimer = setTimeout(() => this.flushStale(st, undefined), ms);
    }
    st.ribOut.clear();
    st.pending.clear();
    this.emit('established', peer.info());
    // Initial advertisement: every exportable best path, then End-of-RIB per family.
    for (const best of this.locRib.bestPaths()) this.queueExport(st, best.key, best);
    this.flush(st);
    if (!this.endOfRibHeld) peer.send(peer.families.map(encodeEndOfRib));
  }

  /**
   * The local routes are complete (graceful restart `holdEndOfRib`): sends what is queued and then
   * End-of-RIB to every established peer, and at once to peers established later.
   */
  releaseEndOfRib(): void {
    if (!this.endOfRibHeld) return;
    this.endOfRibHeld = false;
    for (const st of this.states.values()) {
      if (st.peer.state !== 'Established') continue;
      this.flush(st);
      st.peer.send(st.peer.families.map(encodeEndOfRib));
    }
  }

  private onDown(peer: Peer, reason: string, graceful: boolean): void {
    const st = this.states.get(peer.address);
    if (!st) return;
    st.ribOut.clear();
    st.pending.clear();
    const gr = peer.remoteOpen?.capabilities.gracefulRestart;
    if (graceful && gr && gr.restartTime > 0 && st.ribIn.size > 0) {
      // Graceful restart helper: keep the routes, marked stale, for the peer's restart time.
      for (const e of st.ribIn.entries.values()) {
        e.stale = true;
        const change = this.locRib.upsert(e);
        if (change) this.onBestChange(change);
      }
      clearTimeout(st.restartTimer);
      st.restartTimer = setTimeout(() => this.flushStale(st, undefined), gr.restartTime * 1000);
      this.emit(
        'log',
        'info',
        `peer ${peer.address}: keeping ${st.ribIn.size} routes stale for ${gr.restartTime} s`,
      );
    } else {
      this.dropPeerRoutes(st, () => true);
    }
    this.emit('down', peer.info(), reason);
  }

  private flushStale(st: PeerState, family: Family | undefined): void {
    this.dropPeerRoutes(st, (e) => !!e.stale && (family === undefined || e.route.afi === family));
    if (family === undefined || ![...st.ribIn.entries.values()].some((e) => e.stale)) {
      clearTimeout(st.staleTimer);
      clearTimeout(st.restartTimer);
    }
  }

  private dropPeerRoutes(st: PeerState, which: (e: RibEntry) => boolean): void {
    for (const [key, e] of [...st.ribIn.entries]) {
      if (!which(e)) continue;
      st.ribIn.delete(key);
      const change = this.locRib.remove(key, st.peer.address);
      if (change) this.onBestChange(change);
    }
  }

  private onUpdate(peer: Peer, update: DecodedUpdate, receivedAt: number): void {
    const st = this.states.get(peer.address);
    if (!st) return;
    const info = peer.info();
    this.emit('update', { peer: info, receivedAt, update });
    if (update.action === 'session-reset') return;
    for (const route of update.withdrawn) {
      const key = routeKey(route);
      if (st.ribIn.delete(key)) {
        const change = this.locRib.remove(key, peer.address);
        if (change) this.onBestChange(change);
      }
    }
    if (update.announced.length) {
      // LOCAL_PREF from an external peer is ignored (RFC 4271 §5.1.5).
      let attrs = update.attrs;
      if (!peer.ibgp && attrs.localPref !== undefined) {
        attrs = { ...attrs };
        delete attrs.localPref;
      }
      const rejected = this.loopReason(peer, attrs);
      for (const route of update.announced) {
        const key = routeKey(route);
        if (rejected) {
          // Our own route reflected back, or an AS loop: not usable, and replaces nothing.
          if (st.ribIn.delete(key)) {
            const change = this.locRib.remove(key, peer.address);
            if (change) this.onBestChange(change);
          }
          continue;
        }
        const entryAttrs =
          route.afi === 'ipv4-unicast' && update.classicNextHop
            ? { ...attrs, nextHop: update.classicNextHop }
            : attrs;
        const entry: RibEntry = {
          key,
          route,
          attrs: entryAttrs,
          peer: peer.address,
          peerRouterId: info.routerId ?? '0.0.0.0',
          ibgp: peer.ibgp,
          fromClient: !!peer.config.routeReflectorClient,
          receivedAt,
        };
        st.ribIn.set(entry);
        const change = this.locRib.upsert(entry);
        if (change) this.onBestChange(change);
      }
    }
    if (update.endOfRib) {
      this.flushStale(st, update.endOfRib);
      this.emit('endOfRib', info, update.endOfRib);
    }
  }

  private loopReason(peer: Peer, a: PathAttributes): string | undefined {
    if (!peer.ibgp && a.asPath?.some((s) => s.asns.includes(this.options.localAs))) return 'AS loop';
    if (a.originatorId === this.options.routerId) return 'ORIGINATOR_ID is ours';
    if (a.clusterList?.includes(this.options.clusterId ?? this.options.routerId)) return 'CLUSTER_LIST loop';
    return undefined;
  }

  // --- sending ---------------------------------------------------------------------------------

  private onBestChange(change: BestChange): void {
    this.emit('best', change);
    for (const st of this.states.values()) {
      if (st.peer.state !== 'Established') continue;
      this.queueExport(st, change.key, change.best);
      this.scheduleFlush(st);
    }
  }

  /** RFC 4271 §9.1.3 / RFC 4456 §6: may `best` go to this peer, and with which attributes. */
  private exportFor(st: PeerState, best: RibEntry): PathAttributes | undefined {
    const peer = st.peer;
    if (!peer.families.includes(best.route.afi)) return undefined;
    if (best.peer === peer.address) return undefined;
    if (best.route.afi === 'l2vpn-evpn' && 'unknown' in best.route) return undefined;
    const local = best.peer === 'local';
    if (!local && best.ibgp && peer.ibgp) {
      // Reflect only as a route reflector: from a client to everyone, from a non-client to clients.
      if (!best.fromClient && !peer.config.routeReflectorClient) return undefined;
    }
    const role = peer.ibgp ? (!local && best.ibgp ? `reflect|${best.peerRouterId}` : 'ibgp') : 'ebgp';
    const kind = `${role}|${peer.localAddress ?? ''}`;
    let perKind = this.exportCache.get(best.attrs);
    if (!perKind) {
      perKind = new Map();
      this.exportCache.set(best.attrs, perKind);
    }
    const cached = perKind.get(kind);
    if (cached) return cached;
    const src = best.attrs;
    const out: PathAttributes = { ...src };
    if (!local && src.unknown)
      out.unknown = src.unknown.map((u) => ({ ...u, flags: u.flags | FLAG.PARTIAL }));
    if (!out.nextHop || (!local && !peer.ibgp && best.route.afi === 'ipv4-unicast'))
      out.nextHop = peer.localAddress;
    if (peer.ibgp) {
      out.localPref = src.localPref ?? 100;
      if (!local && best.ibgp) {
        out.originatorId = src.originatorId ?? best.peerRouterId;
        out.clusterList = [this.options.clusterId ?? this.options.routerId, ...(src.clusterList ?? [])];
      }
    } else {
      delete out.localPref;
      delete out.originatorId;
      delete out.clusterList;
      if (!local) delete out.med;
      const path = src.asPath ?? [];
      const first = path[0];
      out.asPath =
        first?.type === 'sequence' && first.asns.length < 255
          ? [{ type: 'sequence', asns: [this.options.localAs, ...first.asns] }, ...path.slice(1)]
          : [{ type: 'sequence', asns: [this.options.localAs] }, ...path];
    }
    perKind.set(kind, out);
    return out;
  }

  private queueExport(st: PeerState, key: string, best: RibEntry | undefined): void {
    const attrs = best ? this.exportFor(st, best) : undefined;
    if (best && attrs) {
      st.ribOut.set(key, { route: best.route, attrs });
      st.pending.set(key, { route: best.route, attrs });
    } else {
      const had = st.ribOut.get(key);
      if (had) {
        st.ribOut.delete(key);
        st.pending.set(key, { route: had.route, attrs: null });
      }
    }
  }

  private scheduleFlush(st: PeerState): void {
    if (st.flushScheduled) return;
    st.flushScheduled = true;
    setImmediate(() => this.flush(st));
  }

  private flush(st: PeerState): void {
    st.flushScheduled = false;
    if (st.pending.size === 0) return;
    const peer = st.peer;
    const announces = new Map<PathAttributes, Map<Family, Route[]>>();
    const withdraws = new Map<Family, Route[]>();
    for (const change of st.pending.values()) {
      const fam = change.route.afi;
      if (change.attrs === null) {
        let list = withdraws.get(fam);
        if (!list) {
          list = [];
          withdraws.set(fam, list);
        }
        list.push(change.route);
      } else {
        let byFam = announces.get(change.attrs);
        if (!byFam) {
          byFam = new Map();
          announces.set(change.attrs, byFam);
        }
        let list = byFam.get(fam);
        if (!list) {
          list = [];
          byFam.set(fam, list);
        }
        list.push(change.route);
      }
    }
    st.pending.clear();
    const messages: Buffer[] = [];
    try {
      for (const [fam, routes] of withdraws) messages.push(...encodeWithdraw(fam, routes, peer.encodeCtx));
      for (const [attrs, byFam] of announces)
        for (const [fam, routes] of byFam)
          messages.push(...encodeAnnounce(fam, routes, attrs, peer.encodeCtx));
    } catch (err) {
      this.emit('log', 'warn', `peer ${peer.address}: cannot encode UPDATE: ${(err as Error).message}`);
    }
    // Send in batches so one huge write does not hold every buffer at once.
    for (let i = 0; i < messages.length; i += 256) peer.send(messages.slice(i, i + 256));
  }

  private resend(peer: Peer, family: Family): void {
    const st = this.states.get(peer.address);
    if (!st) return;
    for (const [key, out] of st.ribOut) if (out.route.afi === family) st.pending.set(key, out);
    this.flush(st);
    peer.send([encodeEndOfRib(family)]);
  }
}
