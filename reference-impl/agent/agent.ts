/**
 * The hypervisor agent (VRS role): keeps one session to each controller of its zone, merges their
 * views, and reconciles the kernel incrementally. Headless: with no controller connected it keeps the
 * last programmed state and removes nothing; on reconnect the controller's full sync triggers a
 * read-diff-apply that touches only what differs.
 */
import { connect, type Socket } from 'node:net';
import {
  type AgentMessage,
  type ControllerMessage,
  type Entry,
  encode,
  entryKey,
  LineDecoder,
  PROTOCOL_MINOR,
  PROTOCOL_VERSION,
  SUPPORTED_VERSIONS,
} from '../protocol/messages.ts';
import { agentCredential } from '../protocol/secret.ts';
import { TRACE_ENABLED, trace } from '../protocol/trace.ts';
import { sabotaged } from '../sabotage.ts';
import { ApplianceLiveness, localAppliances } from './appliance-liveness.ts';
import type { Datapath } from './datapath.ts';
import { type Garp, GarpWatcher } from './garp.ts';
import { type Delta, DesiredIndex, type ViewChange } from './incremental.ts';
import { Kernel, type KernelOptions } from './kernel.ts';
import { L3VniProgrammer } from './l3vni.ts';
import { type KernelModel, portName } from './model.ts';
import { NatProgrammer } from './nat.ts';
import { agentNftSession } from './nft-session.ts';
import { type ActualExtras, noExtras, plan, planSize } from './plan.ts';
import { RedirectProgrammer } from './redirect.ts';
import { SecurityProgrammer, type SgBackend, type SgMode } from './security.ts';

/** Namespaces read per audit (besides the hypervisor namespace's devices and unknown namespaces). */
export const AUDIT_SLICE = 4;
/** Backoff of the retry after a failed pass: first retry soon, then no more than one pass per 5 s. */
const RETRY_MIN_MS = 200;
const RETRY_MAX_MS = 5000;

export interface ControllerAddress {
  host: string;
  port: number;
}

export interface AgentOptions extends KernelOptions {
  zone: string | undefined;
  vtep: string;
  mtu: number;
  controllers: ControllerAddress[];
  /** Shared secret of the controller↔agent channel: the hello carries this hypervisor's credential. */
  agentSecret?: string;
  /** Full read-diff-apply period (drift repair), ms. */
  auditMs?: number;
  /**
   * Security-group enforcement: `stateful` (default) or `stateless` (ACL-only hypervisor switch
   * profile: allow rules plus source-port mirrors, no conntrack). A hypervisor the directory marks
   * stateless is programmed stateless whatever this says.
   */
  sgMode?: SgMode;
  log?: (line: string) => void;
  /**
   * Where the plan goes (default: the kernel of `hvNetns`). A simulated hypervisor (scale tier,
   * reference-impl/agent/simulated.ts) passes an in-memory datapath and security backend: the same
   * protocol, state, derive and plan, without kernel writes, and no gratuitous-ARP watcher.
   */
  datapath?: { kernel: Datapath; security: SgBackend };
  /** Called when a reconcile pass is done, just before its acks are sent (scale measurements). */
  onProgrammed?: (effective: ReadonlyMap<string, Entry>, errors: readonly string[]) => void;
}

interface View {
  entries: Map<string, Entry>;
  epoch: string;
  seq: number;
  synced: boolean;
}

class ControllerLink {
  socket: Socket | undefined;
  connected = false;
  controllerId = '';
  view: View = { entries: new Map(), epoch: '', seq: 0, synced: false };
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private lastHeard = 0;
  private deadAfterMs = 3000;
  private stopped = false;
  private backoff = 100;

  constructor(
    readonly address: ControllerAddress,
    private readonly agent: Agent,
  ) {}

  get name(): string {
    return `${this.address.host}:${this.address.port}`;
  }

  start(): void {
    this.open();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.heartbeatTimer);
    this.socket?.destroy();
  }

  send(message: AgentMessage): void {
    if (this.socket && this.connected) this.socket.write(encode(message));
  }

  private open(): void {
    if (this.stopped) return;
    const socket = connect({ host: this.address.host, port: this.address.port });
    this.socket = socket;
    socket.setNoDelay(true);
    const decoder = new LineDecoder((m) => this.onMessage(m as ControllerMessage));
    socket.on('connect', () => {
      this.lastHeard = Date.now();
      socket.write(
        encode({
          type: 'hello',
          versions: [...SUPPORTED_VERSIONS],
          agent: this.agent.options.hypervisor,
          zone: this.agent.options.zone,
          vtep: this.agent.options.vtep,
          minor: PROTOCOL_MINOR,
          ...(this.agent.options.agentSecret === undefined
            ? {}
            : { credential: agentCredential(this.agent.options.agentSecret, this.agent.options.hypervisor) }),
        }),
      );
      this.connected = true;
    });
    socket.on('data', (chunk) => {
      this.lastHeard = Date.now();
      try {
        decoder.push(chunk);
      } catch (err) {
        this.agent.log(`controller ${this.name}: protocol error ${(err as Error).message}`);
        socket.destroy();
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(this.heartbeatTimer);
      const was = this.connected;
      this.connected = false;
      this.view.synced = false;
      if (was) this.agent.log(`controller ${this.name} (${this.controllerId || '?'}) disconnected`);
      this.agent.linkChanged();
      if (!this.stopped) {
        setTimeout(() => this.open(), this.backoff);
        this.backoff = Math.min(this.backoff * 2, 1000);
      }
    });
  }

  private onMessage(message: ControllerMessage): void {
    switch (message.type) {
      case 'welcome': {
        if (message.version !== PROTOCOL_VERSION) {
          this.socket?.destroy();
          return;
        }
        this.controllerId = message.controller;
        this.deadAfterMs = message.deadAfterMs;
        this.backoff = 100;
        this.agent.log(
          `controller ${this.name} (${message.controller}) connected, protocol v${message.version}`,
        );
        // The agent's heartbeat answers the controller's (one wake-up per heartbeatMs, not two: an
        // idle agent is idle); the watchdog wakes once per deadAfterMs of the controller being heard.
        this.watchdog(this.deadAfterMs);
        break;
      }
      case 'error':
        this.agent.log(`controller ${this.name} refused: ${message.code} ${message.message}`);
        this.socket?.destroy();
        break;
      case 'sync': {
        const entries = new Map<string, Entry>();
        for (const e of message.entries) entries.set(entryKey(e), e);
        this.view = { entries, epoch: message.epoch, seq: message.seq, synced: true };
        this.agent.viewChanged(this, true);
        break;
      }
      case 'update': {
        if (!this.view.synced || message.epoch !== this.view.epoch || message.seq !== this.view.seq + 1) {
          this.send({ type: 'resync' });
          this.view.synced = false;
          return;
        }
        if (TRACE_ENABLED)
          trace(
            `agent:${this.agent.options.hypervisor}`,
            'recv',
            `seq=${message.seq} ${message.set.map((e) => ('mac' in e ? e.mac : e.kind)).join(',')} del=${message.del.length}`,
          );
        // A membership change (only the `groups` of known entries differ) touches no kernel object;
        // nor does a floating IP given to or taken from a vport (NAT-4's move: NAT programmer only).
        const membershipOnly =
          message.del.length === 0 &&
          message.set.every((e) => {
            const old = this.view.entries.get(entryKey(e));
            return old !== undefined && sameButGroupsOrFloatingIp(old, e);
          });
        // Nor does a change of redirections only (SVC-5's failover): the pass skips derive and plan
        // and goes straight to the programmers (the redirect one replaces a route in place).
        const redirectsOnly =
          message.del.every((key) => key.startsWith('redirect/')) &&
          message.set.every((e) => e.kind === 'redirect');
        for (const key of message.del) this.view.entries.delete(key);
        for (const e of message.set) this.view.entries.set(entryKey(e), e);
        this.view.seq = message.seq;
        this.agent.viewChanged(this, false, membershipOnly || redirectsOnly, {
          del: message.del,
          set: message.set.map(entryKey),
        });
        break;
      }
      case 'heartbeat':
        this.send({ type: 'heartbeat', ts: Date.now() });
        break;
    }
  }

  /** Drops the connection when nothing was heard for deadAfterMs (checked when that time is up). */
  private watchdog(delayMs: number): void {
    clearTimeout(this.heartbeatTimer);
    this.heartbeatTimer = setTimeout(() => {
      const silentMs = Date.now() - this.lastHeard;
      if (silentMs > this.deadAfterMs) {
        this.agent.log(`controller ${this.name}: no heartbeat for ${this.deadAfterMs} ms`);
        this.socket?.destroy();
        return;
      }
      this.watchdog(this.deadAfterMs - silentMs + 1);
    }, delayMs);
  }
}

export class Agent {
  readonly kernel: Kernel;
  /** The kernel, or a simulated hypervisor's in-memory datapath (`options.datapath`). */
  private readonly datapath: Datapath;
  readonly security: SecurityProgrammer;
  readonly nat: NatProgrammer;
  readonly l3vni: L3VniProgrammer;
  readonly redirect: RedirectProgrammer;
  readonly links: ControllerLink[];
  /** The entries last programmed (kept while headless). */
  effective = new Map<string, Entry>();
  private cache: { model: KernelModel; extras: ActualExtras } | undefined;
  /** The desired model kept between passes, so an update costs work for its entries only. */
  private readonly index: DesiredIndex;
  /** The view's changes since the last derive, or `all` (a sync, a merge, another controller). */
  private changes: ViewChange[] | 'all' = 'all';
  /** The link whose view is `effective` (undefined: a merge of several). */
  private effectiveFrom: ControllerLink | undefined;
  /** The vports or their state may differ from the last report sent. */
  private reportDirty = true;
  private lastReportErrors = false;
  private needFullRead = true;
  /**
   * Something that can change the kernel model arrived since the last pass; a membership-only
   * change leaves it false, and the pass then programs security groups only (no derive, no plan:
   * both cost O(entries), about a second with 10,000 remote members on this machine).
   */
  private kernelDirty = true;
  private running = false;
  private again = false;
  private auditTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryMs = RETRY_MIN_MS;
  private programmedOnce = false;
  readonly stats = {
    reconciles: 0,
    fullReads: 0,
    /** Passes run by the retry timer after a failed pass (no controller message needed). */
    retries: 0,
    audits: 0,
    commands: 0,
    lastPlanSize: 0,
    lastErrors: [] as string[],
  };
  /** Where the next audit slice starts in the sorted list of the agent's namespaces. */
  private auditCursor = 0;
  private idleWaiters: Array<() => void> = [];
  /** Kernel applies started / in progress: an audit read overlapping one is discarded. */
  private applyStarts = 0;
  private applying = false;
  private auditing = false;
  /** A background audit read waiting to be diffed (only valid if no apply overlapped it). */
  private auditRead: { model: KernelModel; extras: ActualExtras; applyStarts: number } | undefined;
  /** Liveness probes of local appliances with a standby (SVC-5; started with `start()`). */
  private appliances: ApplianceLiveness | undefined;
  /** Gratuitous ARP watcher on the VM ports (started with `start()`, i.e. with controllers). */
  private garp: GarpWatcher | undefined;
  /** MACs local VMs announced for their address, per vport id (re-reported after every sync). */
  readonly observed = new Map<string, { mac: string; ip: string }>();

  constructor(readonly options: AgentOptions) {
    this.kernel = new Kernel(options);
    this.index = new DesiredIndex(options);
    this.datapath = options.datapath?.kernel ?? this.kernel;
    this.security = new SecurityProgrammer(
      {
        prefix: options.prefix,
        hypervisor: options.hypervisor,
        mode: options.sgMode ?? 'stateful',
      },
      options.datapath?.security,
    );
    if (!options.datapath) agentNftSession.log = (line) => this.log(line);
    this.nat = new NatProgrammer({
      prefix: options.prefix,
      hypervisor: options.hypervisor,
      hvNetns: options.hvNetns,
    });
    this.l3vni = new L3VniProgrammer({
      prefix: options.prefix,
      hypervisor: options.hypervisor,
      hvNetns: options.hvNetns,
      vtep: options.vtep,
    });
    this.redirect = new RedirectProgrammer({ prefix: options.prefix, hypervisor: options.hypervisor });
    this.links = options.controllers.map((c) => new ControllerLink(c, this));
  }

  log(line: string): void {
    this.options.log?.(`${new Date().toISOString()} agent ${this.options.hypervisor}: ${line}`);
  }

  start(): void {
    if (!this.options.datapath)
      this.appliances = new ApplianceLiveness(
        (vport, alive) => this.onAppliance(vport, alive),
        (line) => this.log(line),
      );
    if (!this.options.datapath)
      this.garp = new GarpWatcher(
        (g) => this.onGarp(g),
        (line) => this.log(line),
      );
    for (const link of this.links) link.start();
    this.auditTimer = setInterval(() => void this.audit(), this.options.auditMs ?? 60_000);
  }

  /**
   * Drift repair, rare and cheap: every `auditMs` one slice of the kernel is read (the hypervisor
   * namespace's devices, namespaces the agent does not know, and the next AUDIT_SLICE of its own
   * namespaces, round robin), so an audit costs a few processes whatever the number of VMs, and a
   * lab with nothing to do stays idle. The slice replaces those namespaces in the believed state
   * (namespaces that vanished are dropped from it); the diff and the repair happen in the reconcile
   * loop, in order with the incremental passes. The read runs outside the loop, so attaches keep
   * being programmed meanwhile, and is used only if no kernel apply started or ran while it was
   * taken (it would then not describe the kernel); otherwise it is retried a second later.
   */
  private async audit(): Promise<void> {
    if (!this.programmedOnce || this.auditing || this.needFullRead || !this.cache) return;
    if (this.applying) {
      // The read would be discarded anyway: do not spend the processes, look again in a second.
      setTimeout(() => void this.audit(), 1000).unref();
      return;
    }
    this.auditing = true;
    let overlapped = true;
    try {
      const starts = this.applyStarts;
      const believed = this.cache.model;
      const present = await this.datapath.ownNamespaces();
      const own = [...present.domains, ...present.vms];
      const pick = new Set(own.filter((n) => !believed.domains.has(n) && !believed.vms.has(n)));
      for (let i = 0; i < Math.min(AUDIT_SLICE, own.length); i++)
        pick.add(own[(this.auditCursor + i) % own.length] as string);
      this.auditCursor = own.length ? (this.auditCursor + AUDIT_SLICE) % own.length : 0;
      const domains = present.domains.filter((n) => pick.has(n));
      const vms = present.vms.filter((n) => pick.has(n));
      const read = await this.datapath.readNamespaces(domains, vms);
      overlapped = this.applying || starts !== this.applyStarts;
      if (!overlapped) this.stats.audits++;
      // The slice is as believed (the usual case): nothing to repair, no pass over the whole model.
      const asBelieved =
        !overlapped &&
        own.length === believed.domains.size + believed.vms.size &&
        own.every((n) => believed.domains.has(n) || believed.vms.has(n)) &&
        planSize(
          plan(
            {
              domains: new Map(
                domains.flatMap((n) => (believed.domains.has(n) ? [[n, believed.domains.get(n)!]] : [])),
              ),
              vms: new Map(vms.flatMap((n) => (believed.vms.has(n) ? [[n, believed.vms.get(n)!]] : []))),
            },
            read.model,
            read.extras,
          ),
        ) === 0;
      if (!overlapped && !asBelieved) {
        const seen = new Set(own);
        const model: KernelModel = {
          domains: new Map([...believed.domains].filter(([n]) => seen.has(n) && !pick.has(n))),
          vms: new Map([...believed.vms].filter(([n]) => seen.has(n) && !pick.has(n))),
        };
        for (const [n, d] of read.model.domains) model.domains.set(n, d);
        for (const [n, v] of read.model.vms) model.vms.set(n, v);
        this.auditRead = { model, extras: read.extras, applyStarts: starts };
        this.schedule();
      }
    } catch (err) {
      this.log(`audit read failed: ${(err as Error).message}`);
    } finally {
      this.auditing = false;
    }
    if (overlapped) setTimeout(() => void this.audit(), 1000).unref();
  }

  /** Runs one audit slice now and waits until what it found is repaired (tests). */
  async auditOnce(): Promise<void> {
    await this.audit();
    await this.idle();
  }

  stop(): void {
    this.garp?.stop();
    this.appliances?.stop();
    clearInterval(this.auditTimer);
    clearTimeout(this.retryTimer);
    this.kernel.close();
    this.retryTimer = undefined;
    for (const link of this.links) link.stop();
  }

  get headless(): boolean {
    return !this.links.some((l) => l.connected && l.view.synced);
  }

  linkChanged(): void {
    // Losing a controller changes nothing while another one is synced (its view is the same) and
    // nothing while none is (headless: keep the last state).
    if (!this.headless) {
      this.kernelDirty = true;
      this.recompute();
    }
  }

  /** `kernelUntouched`: only group memberships or redirections changed (no kernel model object). */
  viewChanged(link: ControllerLink, full: boolean, kernelUntouched = false, change?: ViewChange): void {
    if (!kernelUntouched) this.kernelDirty = true;
    if (full || !change) this.changes = 'all';
    else if (this.changes !== 'all') this.changes.push(change);
    if (full || !change || [...change.del, ...change.set].some((k) => k.startsWith('vport/')))
      this.reportDirty = true;
    if (full) {
      this.needFullRead = true;
      // Observations are the agent's: a (re)started controller learns them again from the sync on.
      for (const [id, o] of this.observed) {
        const entry = link.view.entries.get(`vport/${id}`);
        if (entry?.kind !== 'vport' || entry.ip !== o.ip) this.observed.delete(id);
        else if ((entry.observedMac ?? entry.mac) !== o.mac)
          link.send({ type: 'observe', vport: id, mac: o.mac, ip: o.ip });
      }
      // A (re)started controller assumes every appliance alive: tell it which are not.
      for (const vport of this.appliances?.dead() ?? [])
        link.send({ type: 'appliance', vport, alive: false });
    }
    this.recompute();
  }

  /** A local appliance stopped (or resumed) answering its liveness probe (SVC-5): every controller is told. */
  private onAppliance(vport: string, alive: boolean): void {
    this.log(
      `appliance ${vport} ${alive ? 'answers its probe again' : 'stopped answering its probe'}, reporting it`,
    );
    for (const link of this.links) link.send({ type: 'appliance', vport, alive });
  }

  /**
   * A VM sent a gratuitous ARP (ARP-3). If it is for the VM's own address with a MAC other than the
   * one its vport is reached at, every connected controller is told; the controllers make it the
   * vport's effective MAC and push it back (local proxy entry and port fdb) and to the other agents.
   */
  private onGarp(g: Garp): void {
    for (const e of this.effective.values()) {
      if (e.kind !== 'vport' || portName(e.id) !== g.ifname) continue;
      if (e.ip !== g.ip) return;
      const mac = g.mac.toLowerCase();
      // What the controller says the vport is reached at, not what this agent reported last: a report
      // the controller has not acted on yet is repeated, and a deleted vport's report never counts.
      const current = e.observedMac ?? e.mac;
      if (current === mac) return;
      this.observed.set(e.id, { mac, ip: g.ip });
      this.log(`vport ${e.id}: gratuitous ARP for ${g.ip} from ${mac} (was ${current}), reporting it`);
      for (const link of this.links) link.send({ type: 'observe', vport: e.id, mac, ip: g.ip });
      return;
    }
  }

  private recompute(): void {
    const serving = this.links.filter((l) => l.connected && l.view.synced);
    if (serving.length === 1) {
      // One controller (the usual case): its view is the state, no merge (and no copy) needed. A
      // later sync replaces the view's map, so this one stays as programmed if the link goes.
      const link = serving[0] as ControllerLink;
      if (link !== this.effectiveFrom || link.view.entries !== this.effective) {
        this.changes = 'all';
        this.reportDirty = true;
      }
      this.effectiveFrom = link;
      this.effective = link.view.entries;
      this.schedule();
      return;
    }
    this.changes = 'all';
    this.reportDirty = true;
    this.effectiveFrom = undefined;
    const merged = new Map<string, Entry>();
    for (const link of this.links) {
      if (!link.connected || !link.view.synced) continue;
      for (const [key, entry] of link.view.entries) {
        const cur = merged.get(key);
        if (cur && cur.kind === 'mac' && entry.kind === 'mac' && cur.seq > entry.seq) continue;
        merged.set(key, entry);
      }
    }
    this.effective = merged;
    this.schedule();
  }

  /** Runs reconcile passes until no change is pending (one at a time). */
  private schedule(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    void (async () => {
      try {
        do {
          this.again = false;
          try {
            await this.reconcile();
          } catch (err) {
            this.log(`reconcile failed, will retry with a full read: ${(err as Error).message}`);
            this.needFullRead = true;
            this.cache = undefined;
            await new Promise((r) => setTimeout(r, 200));
            this.again = true;
          }
        } while (this.again);
      } finally {
        this.running = false;
        for (const w of this.idleWaiters.splice(0)) w();
      }
    })();
  }

  /** Schedules a pass after a failed one, backing off to RETRY_MAX_MS while it keeps failing. */
  private retryLater(): void {
    if (this.retryTimer) return;
    const delay = this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.stats.retries++;
      this.schedule();
    }, delay);
    this.retryTimer.unref();
  }

  /** Resolves when no reconcile is running or pending. */
  idle(): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async reconcile(): Promise<void> {
    const acks = this.links
      .filter((l) => l.connected && l.view.synced)
      .map((l) => ({ link: l, epoch: l.view.epoch, seq: l.view.seq }));
    const kernelChanged =
      this.kernelDirty || this.needFullRead || !this.cache || this.auditRead !== undefined;
    this.kernelDirty = false;
    const started = performance.now();
    // An update of a few entries on a kernel as believed: derive and plan those entries only
    // (incremental.ts). Anything else: the full derive (and the index rebuilt from it).
    let delta: Delta | undefined;
    let desired: KernelModel;
    if (!kernelChanged) desired = (this.cache as { model: KernelModel }).model;
    else {
      const changes = this.changes;
      this.changes = [];
      if (
        changes !== 'all' &&
        this.cache !== undefined &&
        this.cache.model === this.index.model &&
        this.auditRead === undefined
      )
        delta = this.index.delta(this.effective, changes);
      desired = delta ? (this.cache as { model: KernelModel }).model : this.index.rebuild(this.effective);
    }
    const tDerived = performance.now();
    let full = this.needFullRead || !this.cache;
    const audited = this.auditRead;
    this.auditRead = undefined;
    if (full) {
      this.needFullRead = false;
      this.stats.fullReads++;
      this.cache = await this.datapath.read();
    } else if (audited && audited.applyStarts === this.applyStarts) {
      // Still the kernel's state: nothing was applied since the audit read it.
      full = true;
      this.cache = { model: audited.model, extras: audited.extras };
    }
    // Not under the TEST-ONLY `no-rx-normalise` sabotage (reference-impl/sabotage.ts).
    if (full && !sabotaged('no-rx-normalise')) {
      // Hypervisor-wide state outside the planner: checked on every full read (start, sync, audit).
      const nftErrors = await this.datapath.ensureVxlanRx(this.options.vtep);
      if (nftErrors.length) this.log(`VXLAN receive normalisation not programmed: ${nftErrors.join(' | ')}`);
    }
    const cache = this.cache as { model: KernelModel; extras: ActualExtras };
    const steps = delta
      ? plan(delta.want, delta.have, noExtras())
      : kernelChanged
        ? plan(desired, cache.model, cache.extras)
        : [];
    const size = planSize(steps);
    const tPlanned = performance.now();
    let errors: string[] = [];
    if (size) {
      this.applyStarts++;
      this.applying = true;
      try {
        errors = await this.datapath.apply(steps);
      } finally {
        this.applying = false;
      }
    }
    const tKernel = performance.now();
    // Security groups after the namespaces exist; in the same pass, so a VM is filtered as it appears.
    errors = [
      ...errors,
      ...(await this.security.apply(
        this.effective.values(),
        desired.domains.keys(),
        full || errors.length > 0,
      )),
    ];
    const tSecurity = performance.now();
    // Floating IPs and PNAT (docs/nat.md): uplinks into router namespaces that exist by now. A
    // simulated hypervisor (options.datapath) has no namespaces to translate in.
    const redirectChanges = this.redirect.changes;
    const tNat = performance.now();
    if (!this.options.datapath)
      errors = [
        ...errors,
        ...(await this.nat.apply(this.effective.values(), desired.domains.keys(), full)),
        // Service chaining (docs/service-chaining.md): policy routes into the same router namespaces.
        ...(await this.redirect.apply(this.effective.values(), desired.domains.keys(), full)),
        // L3 VNIs (docs/federation.md): routes to prefixes beyond the data centre (a PE's VRF).
        ...(await this.l3vni.apply(this.effective.values(), desired.domains.keys(), full)),
      ];
    if (this.redirect.changes !== redirectChanges)
      this.log(
        `redirections reprogrammed (pass of ${Math.round(performance.now() - started)} ms: full=${full} kernel ${Math.round(tKernel - started)} ms, security ${Math.round(tSecurity - tKernel)} ms, nat+redirect ${Math.round(performance.now() - tNat)} ms)`,
      );
    this.stats.reconciles++;
    this.stats.lastPlanSize = size;
    this.stats.lastErrors = errors;
    this.stats.commands = this.datapath.commands;
    this.programmedOnce = true;
    this.garp?.watch(desired.domains.keys());
    // An observation is about one vport: once it is gone (deleted, or its VM moved away), a vport
    // created later under the same id starts from its provisioned MAC.
    for (const id of this.observed.keys())
      if (this.effective.get(`vport/${id}`)?.kind !== 'vport') this.observed.delete(id);
    this.appliances?.watch(localAppliances(this.effective.values(), this.options));
    if (errors.length) {
      this.log(
        `programming errors (${errors.length}), will re-read the kernel: ${errors.join(' | ').slice(0, 800)}`,
      );
      this.needFullRead = true;
      this.cache = undefined;
      // Retry on a timer: waiting for the next controller update could leave a VM without its
      // security rules (default allow) for as long as the lab stays quiet.
      this.retryLater();
    } else {
      this.retryMs = RETRY_MIN_MS;
      // The kernel took the touched part: the kept model (the believed state) gets it too.
      delta?.commit();
      // The desired model is the kernel's state now, no copy needed (the next incremental pass
      // changes it only after the kernel took the change).
      this.cache = {
        model: desired,
        extras: {
          hvLeftovers: [],
          brokenSubnets: new Map(),
          brokenPorts: new Map(),
          vmsWithoutPort: new Set(),
        },
      };
    }
    if (TRACE_ENABLED)
      trace(
        `agent:${this.options.hypervisor}`,
        'applied',
        `seqs=${acks.map((a) => a.seq).join(',')} full=${full} incremental=${delta !== undefined} size=${size} ms=${(performance.now() - started).toFixed(1)} errors=${errors.length} derive=${(tDerived - started).toFixed(1)} plan=${(tPlanned - tDerived).toFixed(1)} kernel=${(tKernel - tPlanned).toFixed(1)} kernel_phases=${size ? (this.datapath.lastApplyPhases ?? []).map(([name, ms]) => `${name}:${ms.toFixed(1)}`).join(',') : ''} sg=${(tSecurity - tKernel).toFixed(1)} nat=${(performance.now() - tSecurity).toFixed(1)}`,
      );
    if (size)
      this.log(
        `${full ? 'resync' : 'update'}: ${size} change(s) in ${Math.round(performance.now() - started)} ms`,
      );
    // The vport report lists every local vport: sent when that list or its state changed, not on
    // every pass (an attach elsewhere changes neither, and the list is O(ports)).
    const reportNow = this.reportDirty || this.lastReportErrors !== errors.length > 0;
    this.reportDirty = false;
    this.lastReportErrors = errors.length > 0;
    const vports = reportNow
      ? [...this.effective.values()]
          .filter((e) => e.kind === 'vport')
          .map((e) => ({ id: e.id, state: errors.length ? ('error' as const) : ('up' as const) }))
      : [];
    this.options.onProgrammed?.(this.effective, errors);
    for (const { link, epoch, seq } of acks) {
      link.send({ type: 'ack', epoch, seq, applied: errors.length === 0, errors });
      if (reportNow) link.send({ type: 'report', vports });
    }
  }

  /** For tests/fixtures: program a set of entries directly (no controller). */
  async programEntries(entries: Entry[]): Promise<string[]> {
    this.effective = new Map(entries.map((e) => [entryKey(e), e]));
    this.effectiveFrom = undefined;
    this.changes = 'all';
    this.reportDirty = true;
    this.needFullRead = true;
    this.schedule();
    await this.idle();
    return this.stats.lastErrors;
  }
}

/** True when two entries of one key differ in their security `groups` at most. */
/**
 * Whether two entries differ at most in what no kernel-model object depends on: the `groups` (the
 * security programmer's) and a vport's `floatingIp` (the NAT programmer's: a floating-IP move, NAT-4).
 */
function sameButGroupsOrFloatingIp(a: Entry, b: Entry): boolean {
  if (a.kind !== b.kind || (a.kind !== 'vport' && a.kind !== 'mac')) return false;
  const { groups: _a, floatingIp: _fa, ...restA } = a as Entry & { groups?: number[]; floatingIp?: string };
  const { groups: _b, floatingIp: _fb, ...restB } = b as Entry & { groups?: number[]; floatingIp?: string };
  return JSON.stringify(restA) === JSON.stringify(restB);
}
