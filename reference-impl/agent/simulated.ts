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
 * computed and kept per namespace as their element count, so group growth is measured in elements.
 */
export class MemorySgBackend implements SgBackend {
  scripts = 0;
  /** Set elements currently programmed (added minus deleted), over every namespace. */
  elements = 0;
  /** Security rules currently programmed, over every namespace. */
  rules = 0;
  private readonly handlesByNs = new Map<string, Map<string, number>>();
  private nextHandle = 1;

  async read(): Promise<ActualSg> {
    return { ...emptySg(), handles: new Map(), exists: false, guardExists: false };
  }

  async run(ns: string, script: string): Promise<string | undefined> {
    this.scripts++;
    const handles = this.handlesByNs.get(ns) ?? new Map<string, number>();
    this.handlesByNs.set(ns, handles);
    for (const line of script.split('\n')) {
      const elements = /^(add|delete) element .*\{ (.*) \}$/.exec(line);
      if (elements) {
        const count = (elements[2] as string).split(', ').length;
        this.elements += elements[1] === 'add' ? count : -count;
        continue;
      }
      const added = /^(?:add|insert) rule .* comment "([^"]+)"$/.exec(line);
      if (added) {
        handles.set(added[1] as string, this.nextHandle++);
        this.rules++;
        continue;
      }
      const removed = /^delete rule .* handle (\d+)$/.exec(line);
      if (removed)
        for (const [comment, handle] of handles)
          if (handle === Number(removed[1])) {
            handles.delete(comment);
            this.rules--;
          }
    }
    return undefined;
  }

  async handles(ns: string): Promise<Map<string, number>> {
    return new Map(this.handlesByNs.get(ns));
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
        ...(options.log ? { log: options.log } : {}),
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
