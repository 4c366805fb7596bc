/**
 * The zone controller (VSC role). Follows the directory's change stream into a World, originates and
 * learns EVPN routes through an EvpnTransport (BGP to the zone's route reflector), and serves its
 * zone's agents over the JSON-lines protocol (protocol/messages.ts): a full `sync` when an agent
 * connects, then incremental `update`s computed as the difference of the agent's entry set.
 *
 * Safety rules that keep the data plane up through control-plane failures:
 *   - no agent gets a sync before the controller has a directory snapshot and its BGP peers have sent
 *     their initial routes (End-of-RIB, or a timeout): an empty or partial sync would make agents
 *     remove working state;
 *   - losing the directory freezes the world (nothing is withdrawn, agents keep their state);
 *   - agents keep forwarding when this controller dies (headless) and resync without flushing.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { type DirectoryClient, DirectoryWatcher } from '../directory/client.ts';
import { type DuplicateMacAlarm, duplicateMacAlarmId } from '../directory/model.ts';
import {
  type AgentMessage,
  type ControllerMessage,
  type Entry,
  encode,
  entryKey,
  type Hello,
  LineDecoder,
  PROTOCOL_MINOR,
  PROTOCOL_VERSION,
  type Report,
} from '../protocol/messages.ts';
import { credentialProves } from '../protocol/secret.ts';
import { TRACE_ENABLED, trace } from '../protocol/trace.ts';
import { droppedAtScale, FLUSH_HOLD_MS, type Sabotage, sabotaged } from '../sabotage.ts';

const FULL_PATH_SABOTAGES: readonly Sabotage[] = [
  'flush-on-restart',
  'cross-tenant-arp',
  'ignore-rt',
  'flood-all-vteps',
];

import type { DuplicateMacPolicy, FrozenMac } from './duplicate-mac.ts';
import type { EvpnTransport } from './evpn.ts';
import { GatewaySync } from './gateway.ts';
import { World } from './world.ts';

export interface ControllerOptions {
  id: string;
  zone: string;
  listen: { host: string; port: number };
  directory: DirectoryClient;
  evpn: EvpnTransport;
  heartbeatMs?: number;
  deadAfterMs?: number;
  /**
   * Shared secret of the controller↔agent channel (secret.ts). When set, an agent's hello must carry
   * the credential of the hypervisor it names; anything else is refused and the connection closed.
   */
  agentSecret?: string;
  /** Duplicate MAC detection: N moves within M ms (default RFC 7432 §15.1's 5 in 180 s); null: off. */
  duplicateMac?: DuplicateMacPolicy | null;
  log?: (line: string) => void;
}

class AgentSession {
  hello: Hello | undefined;
  hypervisorId: string | undefined;
  readonly epoch = randomUUID();
  seq = 0;
  synced = false;
  sent = new Map<string, string>();
  ackedSeq = 0;
  lastHeard = Date.now();
  report: Report['vports'] = [];
  heartbeat: NodeJS.Timeout | undefined;

  constructor(readonly socket: Socket) {}

  send(message: ControllerMessage): void {
    if (!this.socket.destroyed) this.socket.write(encode(message));
  }
}

export class Controller {
  readonly world: World;
  private readonly watcher: DirectoryWatcher;
  private server: Server | undefined;
  private readonly sessions = new Set<AgentSession>();
  /** OVSDB sessions to this zone's hardware VTEPs (directory collection `gateways`), by gateway id. */
  private readonly gateways = new Map<string, GatewaySync>();
  private worldReady = false;
  private scheduled = false;
  private readyTimer: NodeJS.Timeout | undefined;
  readonly stats = { syncs: 0, updates: 0, lastRecomputeMs: 0 };
  /** Alarms raised here, and those the directory has not stored yet (retried until it has). */
  private readonly alarms = new Map<string, DuplicateMacAlarm>();
  private readonly unreported = new Set<string>();
  private alarmRetry: NodeJS.Timeout | undefined;

  constructor(readonly options: ControllerOptions) {
    this.world = new World(options.zone, options.duplicateMac);
    this.world.onDuplicateMac = (frozen) => this.raiseDuplicateMac(frozen);
    this.watcher = new DirectoryWatcher(options.directory, {
      onSnapshot: (snapshot) => {
        this.world.loadSnapshot(snapshot);
        this.worldReady = true;
        this.log(`directory snapshot at revision ${snapshot.revision}`);
        this.schedule();
      },
      onChange: (change) => {
        if (TRACE_ENABLED)
          trace(
            `controller:${options.id}`,
            'dir-change',
            `${change.collection} ${change.id} ${(change.object as { mac?: string } | undefined)?.mac ?? ''}`,
          );
        this.world.applyChange(change);
        this.schedule();
      },
      onStatus: (connected, error) => {
        this.log(
          connected
            ? `directory ${options.directory.url} connected`
            : `directory unreachable (${error instanceof Error ? error.message.split(':')[0] : String(error)}): world frozen at revision ${this.world.revision}`,
        );
        // TEST-ONLY `forget-on-directory-loss` sabotage (reference-impl/sabotage.ts): instead of freezing,
        // the world is emptied, so every VM is withdrawn from agents and BGP.
        if (!connected && sabotaged('forget-on-directory-loss') && this.world.vports.size) {
          this.world.vports.clear();
          this.world.markAllDirty(); // the incremental path tracks changes, not a cleared map
          this.schedule();
        }
      },
    });
  }

  log(line: string): void {
    this.options.log?.(`${new Date().toISOString()} controller ${this.options.id}: ${line}`);
  }

  async start(): Promise<{ port: number }> {
    await this.options.evpn.start({
      onMac: (key, mac) => {
        if (TRACE_ENABLED)
          trace(`controller:${this.options.id}`, 'bgp-learn', `${mac ? mac.mac : `withdraw ${key}`}`);
        this.world.learnMac(key, mac);
        this.schedule();
      },
      onFlood: (key, flood) => {
        this.world.learnFlood(key, flood);
        this.schedule();
      },
      onPrefix: (key, prefix) => {
        this.world.learnPrefix(key, prefix);
        this.schedule();
      },
    });
    void this.watcher.run();
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.listen.port, this.options.listen.host, () => resolve());
    });
    // Until BGP is ready, re-check periodically so waiting agents get their first sync.
    this.readyTimer = setInterval(() => {
      if (this.world.tick()) this.schedule();
      else if (this.sessions.size && [...this.sessions].some((s) => !s.synced)) this.schedule();
    }, 100);
    const address = server.address() as { port: number };
    this.log(
      `listening for agents on ${this.options.listen.host}:${address.port} (zone ${this.options.zone})`,
    );
    return { port: address.port };
  }

  /** RFC 7432 §15.1: alert the operator. The alarm goes to the directory's API (GET /v1/alarms). */
  private raiseDuplicateMac(frozen: FrozenMac): void {
    const slash = frozen.key.indexOf('/');
    const vni = Number(frozen.key.slice(0, slash));
    const mac = frozen.key.slice(slash + 1);
    const policy = this.world.duplicateMacs.policy;
    const alarm: DuplicateMacAlarm = {
      id: duplicateMacAlarmId(this.options.zone, vni, mac),
      kind: 'duplicate-mac',
      controller: this.options.id,
      zone: this.options.zone,
      vni,
      mac,
      vtep: frozen.vtep,
      seq: frozen.seq,
      moves: frozen.moves,
      windowSeconds: (policy?.windowMs ?? 0) / 1000,
      raisedAt: new Date(frozen.since).toISOString(),
    };
    this.log(
      `ALARM duplicate MAC ${mac} in VNI ${vni}: ${frozen.moves} moves within ${alarm.windowSeconds} s; frozen at ${frozen.vtep} (sequence ${frozen.seq})`,
    );
    this.alarms.set(alarm.id, alarm);
    this.unreported.add(alarm.id);
    void this.reportAlarms();
  }

  private async reportAlarms(): Promise<void> {
    clearTimeout(this.alarmRetry);
    this.alarmRetry = undefined;
    for (const id of [...this.unreported]) {
      const alarm = this.alarms.get(id);
      if (!alarm) continue;
      try {
        await this.options.directory.raiseAlarm(alarm);
        this.unreported.delete(id);
      } catch (err) {
        this.log(`alarm ${id} not stored in the directory yet (${(err as Error).message}); retrying`);
        this.alarmRetry = setTimeout(() => void this.reportAlarms(), 2000);
        return;
      }
    }
  }

  async stop(): Promise<void> {
    clearTimeout(this.alarmRetry);
    clearInterval(this.readyTimer);
    this.watcher.stop();
    for (const s of this.sessions) {
      clearInterval(s.heartbeat);
      s.socket.destroy();
    }
    for (const g of this.gateways.values()) g.stop();
    this.gateways.clear();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    await this.options.evpn.stop();
  }

  status(): Record<string, unknown> {
    return {
      id: this.options.id,
      zone: this.options.zone,
      revision: this.world.revision,
      directoryConnected: this.watcher.connected,
      worldReady: this.worldReady,
      evpn: this.options.evpn.status(),
      alarms: [...this.alarms.values()],
      gateways: [...this.gateways.values()].map((g) => g.status()),
      agents: [...this.sessions].map((s) => ({
        agent: s.hello?.agent,
        hypervisor: s.hypervisorId,
        synced: s.synced,
        seq: s.seq,
        acked: s.ackedSeq,
        vports: s.report.length,
      })),
    };
  }

  /** Agents whose last update has been acknowledged (programmed). */
  agentsInSync(): string[] {
    return [...this.sessions]
      .filter((s) => s.synced && s.ackedSeq === s.seq)
      .map((s) => s.hypervisorId ?? '');
  }

  private accept(socket: Socket): void {
    socket.setNoDelay(true);
    const session = new AgentSession(socket);
    this.sessions.add(session);
    const decoder = new LineDecoder((m) => this.onMessage(session, m as AgentMessage));
    socket.on('data', (chunk) => {
      session.lastHeard = Date.now();
      try {
        decoder.push(chunk);
      } catch (err) {
        session.send({ type: 'error', code: 'protocol', message: (err as Error).message });
        socket.destroy();
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearInterval(session.heartbeat);
      this.sessions.delete(session);
      if (session.hello) this.log(`agent ${session.hello.agent} disconnected`);
      // Which hypervisors host a domain does not depend on connections: nothing to withdraw.
    });
  }

  /** Refuses a hello that does not prove its hypervisor name; true when the session may proceed. */
  private admit(session: AgentSession, message: Hello): boolean {
    const refuse = (why: string) => {
      const from = `${session.socket.remoteAddress}:${session.socket.remotePort}`;
      this.log(`agent connection from ${from} refused: ${why}`);
      session.send({ type: 'error', code: 'unauthenticated', message: why });
      session.socket.end();
      return false;
    };
    if (session.hello) return refuse(`a second hello on a session of ${session.hello.agent}`);
    const secret = this.options.agentSecret;
    if (secret === undefined) return true;
    if (typeof message.agent !== 'string' || !message.agent) return refuse('hello without an agent name');
    if (!credentialProves(secret, message.agent, message.credential))
      return refuse(
        `the credential does not prove hypervisor ${JSON.stringify(message.agent)} (start the agent with the lab's --secret-file)`,
      );
    return true;
  }

  private onMessage(session: AgentSession, message: AgentMessage): void {
    // Nothing but a hello is heard from a connection that has not said (and proved) who it is.
    if (message.type !== 'hello' && !session.hello) return;
    switch (message.type) {
      case 'hello': {
        if (!this.admit(session, message)) return;
        if (!message.versions?.includes(PROTOCOL_VERSION)) {
          session.send({
            type: 'error',
            code: 'version',
            message: `this controller speaks protocol version ${PROTOCOL_VERSION}; the agent offered ${JSON.stringify(message.versions)}`,
          });
          session.socket.end();
          return;
        }
        session.hello = message;
        const heartbeatMs = this.options.heartbeatMs ?? 1000;
        const deadAfterMs = this.options.deadAfterMs ?? 3000;
        session.send({
          type: 'welcome',
          version: PROTOCOL_VERSION,
          controller: this.options.id,
          heartbeatMs,
          deadAfterMs,
          minor: PROTOCOL_MINOR,
        });
        session.heartbeat = setInterval(() => {
          if (Date.now() - session.lastHeard > deadAfterMs) {
            this.log(`agent ${message.agent}: no heartbeat for ${deadAfterMs} ms`);
            session.socket.destroy();
            return;
          }
          session.send({ type: 'heartbeat', ts: Date.now() });
        }, heartbeatMs);
        this.log(`agent ${message.agent} (vtep ${message.vtep}) connected, protocol v${PROTOCOL_VERSION}`);
        this.schedule();
        break;
      }
      case 'ack':
        if (message.epoch === session.epoch) session.ackedSeq = Math.max(session.ackedSeq, message.seq);
        if (!message.applied)
          this.log(
            `agent ${session.hello?.agent}: programming errors: ${message.errors.join(' | ').slice(0, 300)}`,
          );
        break;
      case 'report':
        session.report = message.vports;
        break;
      case 'resync':
        session.synced = false;
        this.schedule();
        break;
      case 'miss':
        // Everything the controller knows is pushed proactively; a miss is logged for diagnosis.
        this.log(`agent ${session.hello?.agent}: neighbour miss vni ${message.vni} ${message.ip}`);
        break;
      case 'observe': {
        // (1.1) A VM announced a new MAC for its address (ARP-3): it becomes the vport's effective MAC.
        const hv = this.resolveHypervisor(session);
        if (hv && this.world.observeMac(hv, message.vport, message.mac, message.ip)) {
          this.log(
            `agent ${session.hello?.agent}: vport ${message.vport} (${message.ip}) now at MAC ${message.mac}`,
          );
          this.schedule();
        }
        break;
      }
      case 'appliance': {
        // (1.5) SVC-5: an appliance's own hypervisor probes it; redirections fail over to the standby.
        const hv = this.resolveHypervisor(session);
        if (hv && this.world.applianceLiveness(hv, message.vport, message.alive)) {
          this.log(
            `agent ${session.hello?.agent}: appliance ${message.vport} ${message.alive ? 'answers again' : 'stopped answering'}`,
          );
          this.schedule();
        }
        break;
      }
      case 'heartbeat':
        break;
    }
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.recompute();
    });
  }

  private resolveHypervisor(session: AgentSession): string | undefined {
    const name = session.hello?.agent;
    if (!name) return undefined;
    if (this.world.hypervisors.has(name)) return name;
    for (const h of this.world.hypervisors.values()) if (h.name === name) return h.id;
    return undefined;
  }

  /**
   * TEST-ONLY `flush-on-restart`: whether remote reachability is still withheld from this agent. The
   * hold runs from the agent's first sync, not from the process start, so however slowly the
   * controller came up (a busy machine), every agent is flushed for FLUSH_HOLD_MS.
   */
  private withholding(session: object): boolean {
    let until = this.flushUntil.get(session);
    if (until === undefined) {
      until = performance.now() + FLUSH_HOLD_MS;
      this.flushUntil.set(session, until);
      setTimeout(() => this.schedule(), FLUSH_HOLD_MS + 10).unref();
    }
    return performance.now() < until;
  }

  private readonly flushUntil = new WeakMap<object, number>();

  private recompute(): void {
    if (!this.worldReady) return;
    const started = performance.now();
    // Only what changed is recomputed (World.takeDirty): one attach costs the same with 10 or 1,000 ports.
    const dirty = this.world.takeDirty();
    if (dirty.all) this.options.evpn.setOriginations(this.world.originations());
    else {
      const type2 = this.world.type2Changes(dirty.vports);
      const hosting = this.world.hostingChanges(dirty);
      const set = [...hosting.set, ...type2.set];
      const remove = [...hosting.remove, ...type2.remove];
      if (set.length || remove.length) this.options.evpn.patchOriginations(set, remove);
    }
    if (dirty.all || dirty.vports.size) this.options.evpn.setUnicastRoutes(this.world.floatingRoutes());
    this.syncGateways();
    if (!this.options.evpn.ready() && !sabotaged('flush-on-restart')) {
      // Agents wait for BGP; what changed meanwhile reaches them with the full sync.
      this.world.markAllDirty();
      return;
    }
    // A hosting change recomputes the agents it reaches in full, the others follow the changed keys.
    const inFull = dirty.all ? undefined : this.world.recomputedInFull(dirty);
    for (const session of this.sessions) {
      if (!session.hello) continue;
      const hv = this.resolveHypervisor(session);
      if (!hv) continue;
      const hypervisor = this.world.hypervisors.get(hv);
      if (hypervisor && hypervisor.zone !== this.options.zone) {
        session.send({
          type: 'error',
          code: 'unknown_agent',
          message: `hypervisor ${hv} is in zone ${hypervisor.zone}, this controller serves ${this.options.zone}`,
        });
        session.socket.end();
        continue;
      }
      session.hypervisorId = hv;
      // TEST-ONLY sabotages live in World.entriesFor (the full path) only: under any of them, take it.
      if (session.synced && inFull && !inFull.has(hv) && !FULL_PATH_SABOTAGES.some(sabotaged)) {
        this.pushChanges(session, hv, this.world.entriesChanged(hv, dirty));
        continue;
      }
      let entries = this.world.entriesFor(hv);
      // Rule entries are protocol 1.2: an older agent keeps programming reachability without them.
      if ((session.hello.minor ?? 0) < 2) entries = entries.filter((e) => e.kind !== 'rule');
      if ((session.hello.minor ?? 0) < 4) entries = entries.filter((e) => e.kind !== 'redirect');
      if ((session.hello.minor ?? 0) < 6) entries = entries.filter((e) => e.kind !== 'prefix');
      // TEST-ONLY `flush-on-restart` sabotage (reference-impl/sabotage.ts): remote reachability is
      // withheld from agents for a while after start, so they flush it and rebuild it later.
      if (sabotaged('flush-on-restart') && this.withholding(session))
        entries = entries.filter((e) => e.kind !== 'mac' && e.kind !== 'flood');
      // TEST-ONLY `scale-drop-port` sabotage: one VM in a hundred never reaches any agent.
      if (sabotaged('scale-drop-port')) entries = entries.filter((e) => !droppedAtScale(e));
      const next = new Map<string, string>();
      const byKey = new Map<string, Entry>();
      for (const e of entries) {
        const key = entryKey(e);
        next.set(key, JSON.stringify(e));
        byKey.set(key, e);
      }
      if (!session.synced) {
        session.seq += 1;
        session.send({ type: 'sync', epoch: session.epoch, seq: session.seq, entries });
        session.sent = next;
        session.synced = true;
        this.stats.syncs++;
        continue;
      }
      const set: Entry[] = [];
      const del: string[] = [];
      for (const [key, json] of next) if (session.sent.get(key) !== json) set.push(byKey.get(key) as Entry);
      for (const key of session.sent.keys()) if (!next.has(key)) del.push(key);
      session.sent = next;
      this.sendUpdate(session, hv, set, del);
    }
    this.stats.lastRecomputeMs = performance.now() - started;
  }

  /** Starts (or stops) a session per gateway of this zone and asks each to bring its database in line. */
  private syncGateways(): void {
    for (const [id, sync] of this.gateways) {
      const g = this.world.gateways.get(id);
      if (g && g.zone === this.options.zone && sync.ovsdb === g.ovsdb) continue;
      sync.stop();
      this.gateways.delete(id);
      this.world.gatewayState.delete(id);
    }
    for (const g of this.world.gateways.values()) {
      if (g.zone !== this.options.zone || this.gateways.has(g.id) || sabotaged('gw-no-session')) continue;
      const sync = new GatewaySync({
        gateway: g,
        world: this.world,
        onWorldChange: () => this.schedule(),
        log: (line) => this.log(line),
      });
      this.gateways.set(g.id, sync);
      sync.start();
    }
    for (const sync of this.gateways.values()) sync.requestSync();
  }

  /** Sends the entries of `changes` (key → entry now, or undefined = gone) that differ from what the agent has. */
  private pushChanges(session: AgentSession, hv: string, changes: Map<string, Entry | undefined>): void {
    const set: Entry[] = [];
    const del: string[] = [];
    for (const [key, entry] of changes) {
      if (entry && droppedAtScale(entry)) continue;
      if (!entry) {
        if (session.sent.delete(key)) del.push(key);
        continue;
      }
      const json = JSON.stringify(entry);
      if (session.sent.get(key) === json) continue;
      session.sent.set(key, json);
      set.push(entry);
    }
    this.sendUpdate(session, hv, set, del);
  }

  private sendUpdate(session: AgentSession, hv: string, set: Entry[], del: string[]): void {
    if (!set.length && !del.length) return;
    session.seq += 1;
    session.send({ type: 'update', epoch: session.epoch, seq: session.seq, set, del });
    if (TRACE_ENABLED)
      trace(
        `controller:${this.options.id}`,
        'push',
        `${hv} seq=${session.seq} ${set.map((e) => ('mac' in e ? e.mac : e.kind)).join(',')} del=${del.length}`,
      );
    this.stats.updates++;
  }
}
