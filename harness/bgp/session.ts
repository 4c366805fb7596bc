/**
 * One configured peer and its RFC 4271 §8 finite state machine over node:net sockets: Idle → Connect /
 * Active → OpenSent → OpenConfirm → Established, with connect-retry, hold and keepalive timers
 * (negotiated hold time = min of both, keepalive = hold/3) and connection-collision detection (§6.8,
 * higher BGP identifier keeps the connection it initiated). The peer knows nothing of RIBs: it hands
 * decoded UPDATEs to its owner (the speaker) through callbacks.
 */
import { isIPv4, type Socket, connect as tcpConnect } from 'node:net';
import {
  type Capabilities,
  decodeNotification,
  decodeOpen,
  decodeRouteRefresh,
  describeNotification,
  encodeKeepalive,
  encodeNotification,
  encodeOpen,
  MSG,
  type NotificationMessage,
  type OpenMessage,
  splitMessages,
} from './codec/messages.ts';
import { type DecodedUpdate, decodeUpdate, type UpdateEncodeContext } from './codec/update.ts';
import type { Family } from './types.ts';

export type PeerState = 'Idle' | 'Connect' | 'Active' | 'OpenSent' | 'OpenConfirm' | 'Established';

export interface PeerConfig {
  /** The peer's address (IPv4 or IPv6); incoming connections are matched on their source address. */
  address: string;
  remoteAs: number;
  /** TCP port to connect to (default 179). */
  port?: number;
  /** Never connect; only accept the peer's connection. */
  passive?: boolean;
  /** Families to negotiate (default: the speaker's). */
  families?: Family[];
  /** This peer is our route-reflector client (we reflect iBGP routes to it, RFC 4456). */
  routeReflectorClient?: boolean;
  /** Source address for outgoing connections (default: the speaker's `localAddress`). */
  localAddress?: string;
  /** Hold time to offer (default: the speaker's). */
  holdTime?: number;
  /** Ask the peer to send ADD-PATH identifiers for these families (RFC 7911, receive side). */
  addPathReceive?: Family[];
  /** Free-form label for logs and events. */
  name?: string;
}

export interface PeerInfo {
  address: string;
  name: string | undefined;
  remoteAs: number;
  state: PeerState;
  ibgp: boolean;
  /** Peer's BGP identifier once its OPEN arrived. */
  routerId: string | undefined;
  localAddress: string | undefined;
  negotiatedHoldTime: number | undefined;
  families: Family[];
  capabilities: Capabilities | undefined;
  establishedAt: number | undefined;
}

export interface PeerOwner {
  localAs: number;
  routerId: string;
  holdTime: number;
  connectRetryMs: number;
  families: Family[];
  gracefulRestart: { restartTime: number; restarting: boolean; forwardingPreserved: boolean } | undefined;
  onEstablished(peer: Peer): void;
  onDown(peer: Peer, reason: string, graceful: boolean): void;
  onUpdate(peer: Peer, update: DecodedUpdate, receivedAt: number): void;
  onRouteRefresh(peer: Peer, family: Family): void;
  onNotification(peer: Peer, direction: 'sent' | 'received', n: NotificationMessage): void;
  log(level: 'debug' | 'info' | 'warn', message: string): void;
}

/** Hold time before the peer's OPEN arrives (RFC 4271 §8.2.2 suggests 4 minutes). */
const OPEN_HOLD_MS = 240_000;

class Connection {
  buffer: Buffer = Buffer.alloc(0);
  state: 'OpenSent' | 'OpenConfirm' | 'Established' = 'OpenSent';
  remoteOpen: OpenMessage | undefined;
  holdTimer: NodeJS.Timeout | undefined;
  keepaliveTimer: NodeJS.Timeout | undefined;
  closed = false;

  constructor(
    readonly socket: Socket,
    readonly direction: 'in' | 'out',
  ) {}
}

export class Peer {
  readonly config: PeerConfig;
  private readonly owner: PeerOwner;
  state: PeerState = 'Idle';
  private conn: Connection | undefined;
  /** A second connection during collision detection. */
  private extra: Connection | undefined;
  private connecting: Socket | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = true;
  remoteOpen: OpenMessage | undefined;
  negotiatedHoldTime: number | undefined;
  establishedAt: number | undefined;
  /** Families negotiated with this peer (both sides announced multiprotocol support). */
  families: Family[] = [];
  encodeCtx: UpdateEncodeContext = { asn4: true };
  private decodeCtx = { asn4: true, ibgp: false, addPathReceive: new Set<Family>() };
  localAddress: string | undefined;

  constructor(config: PeerConfig, owner: PeerOwner) {
    this.config = config;
    this.owner = owner;
  }

  get address(): string {
    return this.config.address;
  }

  get ibgp(): boolean {
    return this.config.remoteAs === this.owner.localAs;
  }

  info(): PeerInfo {
    return {
      address: this.config.address,
      name: this.config.name,
      remoteAs: this.config.remoteAs,
      state: this.state,
      ibgp: this.ibgp,
      routerId: this.remoteOpen?.routerId,
      localAddress: this.localAddress,
      negotiatedHoldTime: this.negotiatedHoldTime,
      families: [...this.families],
      capabilities: this.remoteOpen?.capabilities,
      establishedAt: this.establishedAt,
    };
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.enterIdleThenStart(0);
  }

  /** Stops the peer: NOTIFICATION Cease (administrative shutdown) when a session is up. */
  stop(subcode = 2): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.connecting?.destroy();
    this.connecting = undefined;
    for (const c of [this.conn, this.extra]) {
      if (c && !c.closed) {
        this.sendNotification(c, { code: 6, subcode, data: '' });
        this.closeConnection(c, 'administrative shutdown', false);
      }
    }
    this.state = 'Idle';
  }

  private enterIdleThenStart(delayMs: number): void {
    this.state = 'Idle';
    clearTimeout(this.retryTimer);
    if (this.stopped) return;
    this.retryTimer = setTimeout(() => {
      if (this.stopped || this.conn) return;
      if (this.config.passive) {
        this.state = 'Active';
        return;
      }
      this.connectOut();
    }, delayMs);
  }

  private connectOut(): void {
    this.state = 'Connect';
    const localAddress = this.config.localAddress;
    const socket = tcpConnect({
      host: this.config.address,
      port: this.config.port ?? 179,
      ...(localAddress ? { localAddress } : {}),
    });
    this.connecting = socket;
    socket.setNoDelay(true);
    const onFail = (err?: Error) => {
      if (this.connecting !== socket) return;
      this.connecting = undefined;
      socket.destroy();
      if (this.conn) return;
      this.owner.log('debug', `peer ${this.address}: connect failed: ${err?.message ?? 'closed'}`);
      // Connect-retry: stay Active (accepting) until the timer fires again.
      this.state = 'Active';
      this.enterIdleThenStart(this.owner.connectRetryMs);
      this.state = 'Active';
    };
    socket.once('error', onFail);
    socket.once('close', () => onFail());
    socket.setTimeout(this.owner.connectRetryMs, () => onFail(new Error('connect timeout')));
    socket.once('connect', () => {
      if (this.connecting !== socket) return;
      this.connecting = undefined;
      socket.removeAllListeners('error');
      socket.removeAllListeners('close');
      socket.setTimeout(0);
      this.adopt(socket, 'out');
    });
  }

  /** An incoming TCP connection from this peer's address (the speaker's listener matched it). */
  accept(socket: Socket): void {
    if (this.stopped) {
      socket.destroy();
      return;
    }
    if (this.conn && this.conn.state === 'Established') {
      // RFC 4271 §6.8: a connection colliding with an Established session is closed.
      const c = new Connection(socket, 'in');
      this.sendNotification(c, { code: 6, subcode: 7, data: '' });
      socket.destroy();
      return;
    }
    if (this.connecting) {
      this.connecting.destroy();
      this.connecting = undefined;
    }
    socket.setNoDelay(true);
    this.adopt(socket, 'in');
  }

  private adopt(socket: Socket, direction: 'in' | 'out'): void {
    const c = new Connection(socket, direction);
    if (this.conn && !this.conn.closed) {
      if (this.extra && !this.extra.closed) this.closeConnection(this.extra, 'superseded', false);
      this.extra = c;
    } else this.conn = c;
    this.localAddress = socket.localAddress?.replace(/^::ffff:/, '');
    clearTimeout(this.retryTimer);
    socket.on('data', (chunk: Buffer) => this.onData(c, chunk));
    socket.on('error', (err) => this.closeConnection(c, `socket error: ${err.message}`, true));
    socket.on('close', () => this.closeConnection(c, 'connection closed by peer', true));
    this.state = 'OpenSent';
    const gr = this.owner.gracefulRestart;
    const families = this.config.families ?? this.owner.families;
    socket.write(
      encodeOpen({
        asn: this.owner.localAs,
        holdTime: this.config.holdTime ?? this.owner.holdTime,
        routerId: this.owner.routerId,
        families,
        ...(gr ? { gracefulRestart: { ...gr, families } } : {}),
        ...(this.config.addPathReceive?.length
          ? { addPath: this.config.addPathReceive.map((family) => ({ family, mode: 'receive' as const })) }
          : {}),
      }),
    );
    this.armHold(c, OPEN_HOLD_MS);
  }

  private armHold(c: Connection, ms: number): void {
    clearTimeout(c.holdTimer);
    if (ms <= 0) return;
    c.holdTimer = setTimeout(() => {
      this.sendNotification(c, { code: 4, subcode: 0, data: '' });
      this.closeConnection(c, 'hold timer expired', true);
    }, ms);
  }

  private onData(c: Connection, chunk: Buffer): void {
    if (c.closed) return;
    c.buffer = c.buffer.length ? Buffer.concat([c.buffer, chunk]) : chunk;
    const { messages, used, error } = splitMessages(c.buffer);
    c.buffer = c.buffer.subarray(used);
    for (const m of messages) {
      if (c.closed) return;
      this.onMessage(c, m.type, m.body);
    }
    if (error && !c.closed) {
      this.sendNotification(c, { code: error.code, subcode: error.subcode, data: error.data ?? '' });
      this.closeConnection(c, `message header error: ${describeNotification(error)}`, true);
    }
    // Copy the tail so a large chunk's buffer can be released.
    if (c.buffer.length) c.buffer = Buffer.from(c.buffer);
  }

  private onMessage(c: Connection, type: number, body: Buffer): void {
    const receivedAt = Date.now();
    // Any message restarts the hold timer once negotiated (RFC 4271 §8.2.2).
    if (c.state !== 'OpenSent' && this.negotiatedHoldTime) this.armHold(c, this.negotiatedHoldTime * 1000);
    switch (type) {
      case MSG.OPEN:
        this.onOpen(c, body);
        return;
      case MSG.KEEPALIVE:
        if (c.state === 'OpenConfirm') {
          this.onEstablished(c);
          return;
        }
        if (c.state === 'OpenSent') {
          this.fsmError(c, 'KEEPALIVE in OpenSent');
          return;
        }
        return;
      case MSG.NOTIFICATION: {
        const n = decodeNotification(body);
        this.owner.onNotification(this, 'received', n);
        this.closeConnection(c, `NOTIFICATION received: ${describeNotification(n)}`, false);
        return;
      }
      case MSG.UPDATE: {
        if (c.state !== 'Established') {
          this.fsmError(c, `UPDATE in ${c.state}`);
          return;
        }
        const update = decodeUpdate(body, this.decodeCtx);
        if (update.action === 'session-reset') {
          const err = update.errors.find((e) => e.action === 'session-reset');
          const n = err?.notification ?? { code: 3, subcode: 1 };
          this.sendNotification(c, { ...n, data: '' });
          this.owner.onUpdate(this, update, receivedAt);
          this.closeConnection(c, `malformed UPDATE: ${err?.reason ?? 'session reset'}`, false);
          return;
        }
        this.owner.onUpdate(this, update, receivedAt);
        return;
      }
      case MSG.ROUTE_REFRESH: {
        if (c.state !== 'Established') return;
        try {
          const rr = decodeRouteRefresh(body);
          if (this.families.includes(rr.family as Family) && rr.subtype === 0)
            this.owner.onRouteRefresh(this, rr.family as Family);
        } catch {
          this.sendNotification(c, { code: 7, subcode: 1, data: '' });
          this.closeConnection(c, 'malformed ROUTE-REFRESH', false);
        }
        return;
      }
    }
  }

  private fsmError(c: Connection, what: string): void {
    this.sendNotification(c, { code: 5, subcode: 0, data: '' });
    this.closeConnection(c, `FSM error: ${what}`, false);
  }

  private onOpen(c: Connection, body: Buffer): void {
    if (c.state !== 'OpenSent') {
      this.fsmError(c, `OPEN in ${c.state}`);
      return;
    }
    let open: OpenMessage;
    try {
      open = decodeOpen(body);
    } catch (err) {
      this.sendNotification(c, { code: 2, subcode: 0, data: '' });
      this.closeConnection(c, `malformed OPEN: ${(err as Error).message}`, false);
      return;
    }
    if (open.version !== 4) {
      this.sendNotification(c, { code: 2, subcode: 1, data: '0004' });
      this.closeConnection(c, `unsupported version ${open.version}`, false);
      return;
    }
    if (open.asn !== this.config.remoteAs) {
      this.sendNotification(c, { code: 2, subcode: 2, data: '' });
      this.closeConnection(c, `bad peer AS ${open.asn}, configured ${this.config.remoteAs}`, false);
      return;
    }
    if (
      !isIPv4(open.routerId) ||
      open.routerId === '0.0.0.0' ||
      (this.ibgp && open.routerId === this.owner.routerId)
    ) {
      this.sendNotification(c, { code: 2, subcode: 3, data: '' });
      this.closeConnection(c, `bad BGP identifier ${open.routerId}`, false);
      return;
    }
    if (open.holdTime === 1 || open.holdTime === 2) {
      this.sendNotification(c, { code: 2, subcode: 6, data: '' });
      this.closeConnection(c, `unacceptable hold time ${open.holdTime}`, false);
      return;
    }
    c.remoteOpen = open;
    // Collision detection (RFC 4271 §6.8) once both connections have the peer's OPEN.
    const other = c === this.conn ? this.extra : this.conn;
    if (other && !other.closed && other.remoteOpen) {
      const localWins = ipNum(this.owner.routerId) > ipNum(open.routerId);
      const keep = localWins ? (c.direction === 'out' ? c : other) : c.direction === 'in' ? c : other;
      const drop = keep === c ? other : c;
      this.sendNotification(drop, { code: 6, subcode: 7, data: '' });
      this.closeConnection(drop, 'connection collision', false, true);
      this.conn = keep;
      this.extra = undefined;
      if (keep !== c) return;
    } else if (other && !other.closed && c === this.extra) {
      // The peer's OPEN came first on the second connection: the first one waits for its own OPEN.
    }
    const hold = Math.min(this.config.holdTime ?? this.owner.holdTime, open.holdTime);
    this.negotiatedHoldTime = hold;
    const families = this.config.families ?? this.owner.families;
    this.families = families.filter((f) => open.capabilities.multiprotocol.includes(f));
    // Without any multiprotocol capability the peer speaks IPv4 unicast only (RFC 4760 §8).
    if (open.capabilities.multiprotocol.length === 0 && families.includes('ipv4-unicast'))
      this.families = ['ipv4-unicast'];
    const asn4 = open.capabilities.asn4 !== undefined;
    const addPathReceive = new Set<Family>();
    for (const ap of open.capabilities.addPath) {
      if (
        (ap.mode === 'send' || ap.mode === 'both') &&
        this.config.addPathReceive?.includes(ap.family as Family)
      )
        addPathReceive.add(ap.family as Family);
    }
    this.decodeCtx = { asn4, ibgp: this.ibgp, addPathReceive };
    this.encodeCtx = { asn4 };
    c.state = 'OpenConfirm';
    this.state = 'OpenConfirm';
    c.socket.write(encodeKeepalive());
    this.armHold(c, hold * 1000);
    if (hold > 0) {
      clearInterval(c.keepaliveTimer);
      const every = Math.max(1, Math.floor(hold / 3)) * 1000;
      c.keepaliveTimer = setInterval(() => {
        if (!c.closed) c.socket.write(encodeKeepalive());
      }, every);
    }
  }

  private onEstablished(c: Connection): void {
    if (this.extra && c === this.extra) {
      // Collision not yet resolved by OPENs: the first connection to reach Established wins.
      if (this.conn && !this.conn.closed) {
        this.sendNotification(this.conn, { code: 6, subcode: 7, data: '' });
        this.closeConnection(this.conn, 'connection collision', false, true);
      }
      this.conn = c;
      this.extra = undefined;
    }
    c.state = 'Established';
    this.state = 'Established';
    this.remoteOpen = c.remoteOpen;
    this.establishedAt = Date.now();
    this.localAddress = c.socket.localAddress?.replace(/^::ffff:/, '');
    this.owner.onEstablished(this);
  }

  private sendNotification(c: Connection, n: NotificationMessage): void {
    if (c.closed || c.socket.destroyed) return;
    try {
      c.socket.write(encodeNotification(n));
    } catch {
      // Socket already gone: nothing to tell.
    }
    this.owner.onNotification(this, 'sent', n);
  }

  private closeConnection(c: Connection, reason: string, graceful: boolean, quiet = false): void {
    if (c.closed) return;
    c.closed = true;
    clearTimeout(c.holdTimer);
    clearInterval(c.keepaliveTimer);
    c.socket.end();
    // Give the NOTIFICATION a moment to leave, then drop the socket for good.
    setTimeout(() => c.socket.destroy(), 100).unref();
    if (c === this.extra) {
      this.extra = undefined;
      return;
    }
    if (c !== this.conn) return;
    this.conn = this.extra;
    this.extra = undefined;
    if (this.conn) {
      this.state = this.conn.state;
      return;
    }
    const wasEstablished = c.state === 'Established';
    this.state = 'Idle';
    this.establishedAt = undefined;
    if (!quiet) this.owner.log('info', `peer ${this.address}: ${reason}`);
    if (wasEstablished) this.owner.onDown(this, reason, graceful);
    this.enterIdleThenStart(this.stopped ? 0 : this.owner.connectRetryMs);
    if (!this.stopped && this.config.passive) this.state = 'Active';
  }

  /** Writes encoded messages on the Established connection; false when there is none. */
  send(messages: Buffer[]): boolean {
    const c = this.conn;
    if (c?.state !== 'Established' || c.closed) return false;
    if (messages.length === 1) c.socket.write(messages[0]!);
    else if (messages.length > 1) c.socket.write(Buffer.concat(messages));
    return true;
  }

  /** Bytes queued in the socket, for back-pressure. */
  get writableLength(): number {
    return this.conn?.socket.writableLength ?? 0;
  }

  onceDrained(cb: () => void): void {
    const s = this.conn?.socket;
    if (!s || s.writableLength === 0) cb();
    else s.once('drain', cb);
  }
}

function ipNum(ip: string): number {
  return ip.split('.').reduce((acc, p) => acc * 256 + Number(p), 0);
}
