/**
 * The BGP tap: a peer (passive, or an RR client that advertises nothing) whose every received UPDATE
 * becomes an ordered transcript entry (JSON lines with receive timestamps) and feeds a typed live RIB
 * for assertions (`routes({ type: 2, vni: 100 })`, `waitForRoute(...)`).
 *
 * The harness process lives in the initial network namespace, so the speaker runs as a child process
 * entered into the node's namespace (`nsenter --net=<netnsPath>`); `SpeakerProcess` is that child's
 * handle and is also what tests and benchmarks use to originate routes from inside a namespace.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { HarnessError } from '../util/errors.ts';
import { waitFor } from '../util/poll.ts';
import { routeKey } from './codec/nlri.ts';
import type { DecodedUpdate } from './codec/update.ts';
import { secgroups } from './rib.ts';
import type { PeerInfo } from './session.ts';
import type { SpeakerOptions } from './speaker.ts';
import type { ProcessCommand, ProcessEvent } from './speaker-process.ts';
import type { ErrorAction, Family, PathAttributes, Route, UpdateError } from './types.ts';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, '..', '..');

export interface SpeakerProcessOptions {
  /** Network namespace to run in: `/run/netns/<name>` or `/proc/<pid>/ns/net`; omit for this namespace. */
  netnsPath?: string;
  speaker: SpeakerOptions;
  /** How long to wait for the child to be listening/started (default 15 s). */
  startTimeoutMs?: number;
}

/** A BgpSpeaker running in a child process (possibly inside another network namespace). */
export class SpeakerProcess extends EventEmitter<{ event: [ProcessEvent] }> {
  private readonly child: ChildProcess;
  readonly pid: number;
  private exited = false;
  private readonly exitPromise: Promise<void>;
  readonly stderr: string[] = [];
  /**
   * Sessions up now (established minus down), counted from the first line: `established` can arrive in
   * the same read as `ready`, before a caller of start() could subscribe (see waitEstablished).
   */
  private sessionsUp = 0;

  private constructor(child: ChildProcess) {
    super();
    this.child = child;
    this.pid = child.pid ?? -1;
    this.exitPromise = new Promise((resolve) =>
      child.once('exit', () => {
        this.exited = true;
        resolve();
      }),
    );
    const rl = createInterface({ input: child.stdout! });
    rl.on('line', (line) => {
      let e: ProcessEvent;
      try {
        e = JSON.parse(line) as ProcessEvent;
      } catch {
        return; // Not ours (a stray library print): ignored, never fatal.
      }
      if (e.ev === 'established') this.sessionsUp += 1;
      else if (e.ev === 'down') this.sessionsUp = Math.max(0, this.sessionsUp - 1);
      this.emit('event', e);
    });
    child.stderr?.on('data', (d: Buffer) => {
      this.stderr.push(d.toString());
      if (this.stderr.length > 50) this.stderr.shift();
    });
  }

  static async start(options: SpeakerProcessOptions): Promise<SpeakerProcess> {
    const script = join(here, 'speaker-process.ts');
    // bin/run-ts.js runs the compiled speaker when the build is fresh: no transpiling at each start.
    const nodeArgs = [join(repoRoot, 'bin', 'run-ts.js'), script, JSON.stringify(options.speaker)];
    const [file, args] = options.netnsPath
      ? ['nsenter', [`--net=${options.netnsPath}`, process.execPath, ...nodeArgs]]
      : [process.execPath, nodeArgs];
    const child = spawn(file, args, { cwd: repoRoot, stdio: ['pipe', 'pipe', 'pipe'] });
    const sp = new SpeakerProcess(child);
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(new HarnessError(`BGP speaker process did not start: ${sp.stderr.join('').slice(-500)}`)),
        options.startTimeoutMs ?? 15_000,
      );
      sp.on('event', (e) => {
        if (e.ev === 'ready') {
          clearTimeout(timer);
          resolve();
        } else if (e.ev === 'log' && e.level === 'error') {
          clearTimeout(timer);
          reject(new HarnessError(`BGP speaker process failed: ${e.message}`));
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new HarnessError(`BGP speaker process exited (${code}): ${sp.stderr.join('').slice(-500)}`));
      });
    });
    try {
      await ready;
    } catch (err) {
      await sp.close();
      throw err;
    }
    return sp;
  }

  send(c: ProcessCommand): void {
    if (!this.exited) this.child.stdin?.write(`${JSON.stringify(c)}\n`);
  }

  announce(routes: Route[], attrs: PathAttributes): void {
    this.send({ cmd: 'announce', routes, attrs });
  }

  withdraw(routes: Route[]): void {
    this.send({ cmd: 'withdraw', routes });
  }

  /** Waits for an event matching `pred` (e.g. `established`). */
  waitEvent<E extends ProcessEvent>(
    pred: (e: ProcessEvent) => e is E,
    timeoutMs: number,
    what: string,
  ): Promise<E>;
  waitEvent(pred: (e: ProcessEvent) => boolean, timeoutMs: number, what: string): Promise<ProcessEvent>;
  waitEvent(pred: (e: ProcessEvent) => boolean, timeoutMs: number, what: string): Promise<ProcessEvent> {
    return new Promise((resolve, reject) => {
      const onEvent = (e: ProcessEvent) => {
        if (!pred(e)) return;
        clearTimeout(timer);
        this.off('event', onEvent);
        resolve(e);
      };
      const timer = setTimeout(() => {
        this.off('event', onEvent);
        reject(new HarnessError(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      this.on('event', onEvent);
    });
  }

  /** Resolves when a session is up: at once if one came up already (even before the caller subscribed). */
  async waitEstablished(timeoutMs: number, what: string): Promise<void> {
    if (this.sessionsUp > 0) return;
    await this.waitEvent((e) => e.ev === 'established', timeoutMs, what);
  }

  /** Stops the speaker (NOTIFICATION Cease to its peers) and the child; kills it by PID if it lingers. */
  async close(): Promise<void> {
    if (this.exited) return;
    this.send({ cmd: 'close' });
    this.child.stdin?.end();
    const timer = setTimeout(() => {
      if (!this.exited && this.pid > 0) process.kill(this.pid, 'SIGKILL');
    }, 3000);
    await this.exitPromise;
    clearTimeout(timer);
  }
}

/** One line of the tap's transcript. */
export interface TranscriptEntry {
  seq: number;
  /** Receive time, ms since the epoch, and as ISO text. */
  ts: number;
  time: string;
  peer: string;
  kind: 'announce' | 'withdraw' | 'end-of-rib' | 'malformed' | 'established' | 'down' | 'notification';
  routes?: Route[];
  attrs?: PathAttributes;
  family?: Family;
  /** RFC 7606 outcome of a malformed UPDATE, with reasons. */
  action?: ErrorAction;
  errors?: UpdateError[];
  reason?: string;
}

export interface TapRoute {
  route: Route;
  attrs: PathAttributes;
  peer: string;
  receivedAt: number;
}

/** Filter for `routes()`: every given field must match. */
export interface RouteFilter {
  afi?: Route['afi'];
  type?: number;
  rd?: string;
  mac?: string;
  ip?: string;
  prefix?: string;
  /** EVPN label field (the VNI with VXLAN): matches any of the route's labels, or the PMSI label for type 3. */
  vni?: number;
  /** A route target the route carries (`65000:100`). */
  rt?: string;
  community?: string;
  /** A security-group community the route carries (`secgroup:<asn>:<id>`). */
  secgroup?: string;
  nextHop?: string;
}

export function matchRoute(r: TapRoute, f: RouteFilter): boolean {
  const route = r.route as Route &
    Partial<{ type: number; mac: string; ip: string; prefix: string; rd: string; labels: number[] }>;
  if (f.afi !== undefined && route.afi !== f.afi) return false;
  if (f.type !== undefined && route.type !== f.type) return false;
  if (f.rd !== undefined && route.rd !== f.rd) return false;
  if (f.mac !== undefined && route.mac !== f.mac.toLowerCase()) return false;
  if (f.ip !== undefined && route.ip !== f.ip) return false;
  if (f.prefix !== undefined && route.prefix !== f.prefix) return false;
  if (f.vni !== undefined) {
    const labels = route.labels ?? (r.attrs.pmsiTunnel ? [r.attrs.pmsiTunnel.label] : []);
    if (!labels.includes(f.vni)) return false;
  }
  if (
    f.rt !== undefined &&
    !r.attrs.extCommunities?.some((c) => c.type === 'route-target' && c.value === f.rt)
  )
    return false;
  if (f.community !== undefined && !r.attrs.communities?.includes(f.community)) return false;
  if (f.secgroup !== undefined && !secgroups(r.attrs).includes(f.secgroup)) return false;
  if (f.nextHop !== undefined && r.attrs.nextHop !== f.nextHop) return false;
  return true;
}

/** The tap's live RIB: the latest announcement per (peer, route), built only from the transcript. */
export class TapRib {
  private readonly entries = new Map<string, TapRoute>();
  /** Families whose End-of-RIB each peer sent since its session came up: its initial table is complete. */
  private readonly endOfRib = new Map<string, Set<Family>>();
  readonly transcript: TranscriptEntry[] = [];
  private seq = 0;
  private readonly listeners = new Set<(e: TranscriptEntry) => void>();

  onEntry(cb: (e: TranscriptEntry) => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  private push(e: Omit<TranscriptEntry, 'seq' | 'time'>): void {
    const entry: TranscriptEntry = { seq: ++this.seq, time: new Date(e.ts).toISOString(), ...e };
    this.transcript.push(entry);
    for (const cb of this.listeners) cb(entry);
  }

  /** Applies one decoded UPDATE (in receive order). */
  applyUpdate(peer: string, receivedAt: number, u: DecodedUpdate): void {
    if (u.errors.length)
      this.push({
        ts: receivedAt,
        peer,
        kind: 'malformed',
        action: u.action === 'ok' ? 'attribute-discard' : u.action,
        errors: u.errors,
      });
    if (u.withdrawn.length) {
      for (const r of u.withdrawn) this.entries.delete(`${peer}|${routeKey(r)}`);
      this.push({ ts: receivedAt, peer, kind: 'withdraw', routes: u.withdrawn });
    }
    if (u.announced.length) {
      for (const r of u.announced) {
        const attrs =
          r.afi === 'ipv4-unicast' && u.classicNextHop ? { ...u.attrs, nextHop: u.classicNextHop } : u.attrs;
        this.entries.set(`${peer}|${routeKey(r)}`, { route: r, attrs, peer, receivedAt });
      }
      this.push({ ts: receivedAt, peer, kind: 'announce', routes: u.announced, attrs: u.attrs });
    }
    if (u.endOfRib) {
      const families = this.endOfRib.get(peer) ?? new Set<Family>();
      families.add(u.endOfRib);
      this.endOfRib.set(peer, families);
      this.push({ ts: receivedAt, peer, kind: 'end-of-rib', family: u.endOfRib });
    }
  }

  /**
   * Whether `peer` (any peer when omitted) has sent End-of-RIB for `family` in its current session:
   * before that, a route missing from the RIB may simply not have been sent yet (RFC 4724 §2).
   */
  complete(family: Family, peer?: string): boolean {
    if (peer !== undefined) return this.endOfRib.get(peer)?.has(family) ?? false;
    return [...this.endOfRib.values()].some((families) => families.has(family));
  }

  sessionEvent(peer: string, kind: 'established' | 'down', reason?: string): void {
    // A new session sends its table again, and its own End-of-RIB after it.
    this.endOfRib.delete(peer);
    if (kind === 'down')
      for (const k of [...this.entries.keys()]) if (k.startsWith(`${peer}|`)) this.entries.delete(k);
    this.push({ ts: Date.now(), peer, kind, ...(reason ? { reason } : {}) });
  }

  notification(peer: string, direction: string, code: number, subcode: number): void {
    this.push({ ts: Date.now(), peer, kind: 'notification', reason: `${direction} ${code}/${subcode}` });
  }

  routes(filter: RouteFilter = {}): TapRoute[] {
    const out: TapRoute[] = [];
    for (const r of this.entries.values()) if (matchRoute(r, filter)) out.push(r);
    return out;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The transcript as JSON lines (a report attachment). */
  jsonl(): string {
    return this.transcript.map((e) => JSON.stringify(e)).join('\n') + (this.transcript.length ? '\n' : '');
  }
}

export interface TapOptions {
  /** Namespace of the node the tap sits in (`LabNode.netnsPath`); omit to run in this namespace. */
  netnsPath?: string;
  /** Source address to bind, e.g. the tap's address on the RR's subnet. */
  localAddress?: string;
  peerAddress: string;
  peerPort?: number;
  localAs: number;
  peerAs: number;
  routerId: string;
  families?: Family[];
  /** Wait for the RR to connect to us instead of connecting (listens on port 179 or `listenPort`). */
  passive?: boolean;
  listenPort?: number;
  holdTime?: number;
  /**
   * Advertise graceful restart (RFC 4724; helper only) with this restart time. FRR sends End-of-RIB only
   * to peers that advertise it, and without End-of-RIB the tap cannot tell "absent" from "not sent yet".
   */
  gracefulRestart?: { restartTime: number };
}

/**
 * A BGP tap. It advertises nothing; everything it receives is in `rib` (live routes) and `transcript`.
 */
export class BgpTap {
  readonly rib = new TapRib();
  private peerState: PeerInfo['state'] | 'Unknown' = 'Unknown';

  private constructor(
    readonly process: SpeakerProcess,
    readonly options: TapOptions,
  ) {}

  static async start(options: TapOptions): Promise<BgpTap> {
    const speaker: SpeakerOptions = {
      localAs: options.localAs,
      routerId: options.routerId,
      holdTime: options.holdTime ?? 9,
      connectRetryMs: 1000,
      families: options.families ?? ['l2vpn-evpn', 'ipv4-vpn', 'ipv4-unicast'],
      peers: [
        {
          address: options.peerAddress,
          remoteAs: options.peerAs,
          ...(options.peerPort ? { port: options.peerPort } : {}),
          ...(options.passive ? { passive: true } : {}),
        },
      ],
      ...(options.localAddress ? { localAddress: options.localAddress } : {}),
      ...(options.passive ? { listen: { port: options.listenPort ?? 179 } } : {}),
      ...(options.gracefulRestart ? { gracefulRestart: options.gracefulRestart } : {}),
    };
    const proc = await SpeakerProcess.start({
      speaker,
      ...(options.netnsPath ? { netnsPath: options.netnsPath } : {}),
    });
    const tap = new BgpTap(proc, options);
    proc.on('event', (e) => tap.onEvent(e));
    return tap;
  }

  private onEvent(e: ProcessEvent): void {
    switch (e.ev) {
      case 'update':
        this.rib.applyUpdate(e.peer, e.receivedAt, e.update);
        break;
      case 'established':
        this.peerState = 'Established';
        this.rib.sessionEvent(e.peer.address, 'established');
        break;
      case 'down':
        this.peerState = 'Idle';
        this.rib.sessionEvent(e.peer.address, 'down', e.reason);
        break;
      case 'notification':
        this.rib.notification(e.peer, e.direction, e.code, e.subcode);
        break;
    }
  }

  get established(): boolean {
    return this.peerState === 'Established';
  }

  get transcript(): TranscriptEntry[] {
    return this.rib.transcript;
  }

  routes(filter: RouteFilter = {}): TapRoute[] {
    return this.rib.routes(filter);
  }

  async waitEstablished(timeoutMs = 30_000): Promise<void> {
    await waitFor(
      () => this.established,
      (ok) => ok,
      { timeoutMs, intervalMs: 50, what: `BGP tap session to ${this.options.peerAddress}` },
    );
  }

  /** Waits until the peer has sent End-of-RIB for `family` in the current session. */
  async waitEndOfRib(family: Family, timeoutMs = 30_000): Promise<void> {
    await waitFor(
      () => this.established && this.rib.complete(family),
      (ok) => ok,
      { timeoutMs, intervalMs: 20, what: `End-of-RIB for ${family} from ${this.options.peerAddress}` },
    );
  }

  /** Waits until a route matching `predicate` (a filter or a function) is in the RIB; returns it. */
  async waitForRoute(
    predicate: RouteFilter | ((r: TapRoute) => boolean),
    timeoutMs = 30_000,
  ): Promise<TapRoute> {
    const test = typeof predicate === 'function' ? predicate : (r: TapRoute) => matchRoute(r, predicate);
    const found = await waitFor(
      () => this.rib.routes().find(test),
      (r) => r !== undefined,
      {
        timeoutMs,
        intervalMs: 50,
        what: `a route matching ${typeof predicate === 'function' ? 'the predicate' : JSON.stringify(predicate)}`,
      },
    );
    return found!;
  }

  /** Waits until no route matches (e.g. after a withdraw). */
  async waitForNoRoute(filter: RouteFilter, timeoutMs = 30_000): Promise<void> {
    await waitFor(
      () => this.rib.routes(filter).length,
      (n) => n === 0,
      { timeoutMs, intervalMs: 50, what: `no route matching ${JSON.stringify(filter)}` },
    );
  }

  async stop(): Promise<void> {
    await this.process.close();
  }
}
