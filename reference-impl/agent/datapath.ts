/**
 * The seam between the agent's control-plane path (protocol, state, derive, plan) and where the plan
 * is written: the kernel (kernel.ts) on a real hypervisor, memory on a simulated one (simulated.ts).
 */
import type { KernelModel } from './model.ts';
import type { ActualExtras, Step } from './plan.ts';

export interface Datapath {
  /** Work done (kernel: commands run; simulated: steps taken), for diagnostics. */
  readonly commands: number;
  /** The agent's namespaces (by their prefixes), domains first. */
  ownNamespaces(): Promise<{ domains: string[]; vms: string[] }>;
  /** Everything the agent owns. */
  read(): Promise<{ model: KernelModel; extras: ActualExtras }>;
  /** The given namespaces only (an audit slice). */
  readNamespaces(domains: string[], vms: string[]): Promise<{ model: KernelModel; extras: ActualExtras }>;
  /** Applies a plan; returns the errors (empty: all applied). */
  apply(steps: Step[]): Promise<string[]>;
  /**
   * Where the last apply's time went, ms per phase in the order they ran (kernel: new namespaces,
   * hypervisor namespace, router namespaces, then bridges and VM namespaces), for the trace.
   */
  readonly lastApplyPhases?: ReadonlyArray<readonly [string, number]>;
  /** Hypervisor-wide VXLAN receive normalisation; returns the errors. */
  ensureVxlanRx(vtep: string): Promise<string[]>;
}
