/**
 * Simulated hypervisors (scale tier, docs/scale.md): the real Agent — controller sessions, merged
 * view, deriveDesired, plan, security derive and nft script — with its writes going to memory
 * instead of the kernel, many per process. A simulated hypervisor acknowledges a controller update
 * exactly when a real one would: after its reconcile pass has derived and planned the full state
 * (the plan is computed, then "applied" by counting its steps), so the control-plane path is timed
 * as it is, minus the `ip`/`nft` processes.
 *
 * A simulated hypervisor's full read finds what it last "applied" is unknown (it keeps no kernel
 * model): it reports an empty kernel, as at its first start, so a resync re-plans everything — the
 * worst case, never a shortcut.
 */
import type { Entry } from '../protocol/messages.ts';
import { Agent, type ControllerAddress } from './agent.ts';
import type { Datapath } from './datapath.ts';
import type { KernelModel } from './model.ts';
import { type ActualExtras, noExtras, type Step } from './plan.ts';
import { type ActualSg, emptySg, type SgBackend } from './security.ts';

/** Plans go to memory: counted, never written. */
export class MemoryDatapath implements Datapath {
  commands = 0;
  steps = 0;

  async ownNamespaces(): Promise<{ domains: string[]; vms: string[] }> {
    return { domains: [], vms: [] };
  }

  async read(): Promise<{ model: KernelModel; extras: ActualExtras }> {
    return { model: { domains: new Map(), vms: new Map() }, extras: noExtras() };
  }

  readNamespaces(): Promise<{ model: KernelModel; extras: ActualExtras }> {
    return this.read();
  }

  async apply(steps: Step[]): Promise<string[]> {
    this.commands++;
    this.steps += steps.length;
    return [];
  }

  async ensureVxlanRx(): Promise<string[]> {
    return [];
  }
}

/**
 * Security programming into memory: the scripts the real agent would run through `nft -f` are
 * computed, not run; what each namespace then holds is kept, read back on full reads (as `nft -j`
 * would be), and counted in set elements and rules for SCALE-3.
 */
export class MemorySgBackend implements SgBackend {
  scripts = 0;
  private readonly state = new Map<string, ActualSg>();
  private nextHandle = 1;

  async read(ns: string): Promise<ActualSg> {
    const have = this.state.get(ns);
    if (!have) return { ...emptySg(), handles: new Map(), exists: false, guardExists: false };
    return {
      sets: new Map([...have.sets].map(([g, ips]) => [g, new Set(ips)])),
      rules: new Map(have.rules),
      guard: new Map(have.guard),
      handles: new Map(have.handles),
      exists: have.exists,
      guardExists: have.guardExists,
    };
  }

  async run(): Promise<string | undefined> {
    this.scripts++;
    return undefined;
  }

  /** Handles for the rules the last script added (the programmer keeps them for deletion). */
  async handles(): Promise<Map<string, number>> {
    return new Map();
  }

  applied(ns: string, state: ActualSg): void {
    for (const comment of state.rules.keys())
      if (!state.handles.has(comment)) state.handles.set(comment, this.nextHandle++);
    this.state.set(ns, state);
  }

  /** Set elements (group members and guard bindings) and rules held over every namespace. */
  counts(): { elements: number; rules: number } {
    let elements = 0;
    let rules = 0;
    for (const s of this.state.values()) {
      for (const ips of s.sets.values()) elements += ips.size;
      elements += s.guard.size;
      rules += s.rules.size;
    }
    return { elements, rules };
  }
}

/** When each simulated hypervisor first acknowledged a MAC (local vport or remote), and with which groups. */
export interface ProgrammedLog {
  /** MAC → ms (performance.now()) of the first acknowledged pass that held it. */
  firstSeen: Map<string, number>;
  /** MAC → groups (joined) as last acknowledged, and since when. */
  groups: Map<string, { groups: string; at: number }>;
}

export interface SimulatedHypervisorsOptions {
  /** Hypervisor ids, as in the directory. */
  hypervisors: Array<{ id: string; vtep: string }>;
  zone: string;
  controllers: ControllerAddress[];
  agentSecret?: string;
  log?: (line: string) => void;
}

/** Many simulated hypervisors in this process, each with its own Agent and acknowledgement log. */
export class SimulatedHypervisors {
  readonly agents = new Map<string, Agent>();
  readonly programmed = new Map<string, ProgrammedLog>();
  readonly datapath = new Map<string, MemoryDatapath>();
  readonly security = new MemorySgBackend();
  /** Why sessions were lost: the agent heard no heartbeat in time, or the connection closed. */
  readonly sessionLosses = { heartbeat: 0, closed: 0 };

  constructor(readonly options: SimulatedHypervisorsOptions) {
    for (const hv of options.hypervisors) {
      const log: ProgrammedLog = { firstSeen: new Map(), groups: new Map() };
      const datapath = new MemoryDatapath();
      this.programmed.set(hv.id, log);
      this.datapath.set(hv.id, datapath);
      const agent = new Agent({
        prefix: 'osim-',
        hypervisor: hv.id,
        hvNetns: undefined,
        zone: options.zone,
        vtep: hv.vtep,
        mtu: 1450,
        controllers: options.controllers,
        auditMs: 3_600_000,
        datapath: { kernel: datapath, security: this.security },
        onProgrammed: (effective, errors) => {
          if (!errors.length) record(log, effective);
        },
        ...(options.agentSecret === undefined ? {} : { agentSecret: options.agentSecret }),
        log: (line) => {
          if (line.includes(': no heartbeat for ')) this.sessionLosses.heartbeat++;
          else if (line.endsWith(' disconnected')) this.sessionLosses.closed++;
          options.log?.(line);
        },
      });
      this.agents.set(hv.id, agent);
    }
  }

  start(): void {
    for (const agent of this.agents.values()) agent.start();
  }

  stop(): void {
    for (const agent of this.agents.values()) agent.stop();
  }

  /** Full passes beyond each hypervisor's first sync (reconnects, resyncs): 0 in a healthy run. */
  get resyncs(): number {
    let n = 0;
    for (const agent of this.agents.values()) n += Math.max(0, agent.stats.fullReads - 1);
    return n;
  }

  /** Hypervisors whose every controller session has a sync (or update) acknowledged at least once. */
  get connected(): number {
    let n = 0;
    for (const agent of this.agents.values()) if (!agent.headless) n++;
    return n;
  }
}

/** Notes the MACs (and their groups) of an acknowledged pass: O(entries), like the pass itself. */
function record(log: ProgrammedLog, effective: ReadonlyMap<string, Entry>): void {
  const now = performance.now();
  for (const e of effective.values()) {
    if (e.kind !== 'vport' && e.kind !== 'mac') continue;
    if (!log.firstSeen.has(e.mac)) log.firstSeen.set(e.mac, now);
    const groups = (e.groups ?? []).join(',');
    const cur = log.groups.get(e.mac);
    if (cur?.groups !== groups) log.groups.set(e.mac, { groups, at: now });
  }
}
