/**
 * process-kill, process-pause, process-restart for a process role on a node (bgpd, zebra, the
 * controller, an agent). With `supervisor: stop` (the default) the role's supervisor (watchfrr) is
 * held with SIGSTOP for the fault's lifetime, so the scenario measures the fault and not the
 * supervisor's restart; with `keep` the supervisor may restart the process by itself.
 */

import { isAlive, signal } from '../../kernel/procs.ts';
import { HarnessError } from '../../util/errors.ts';
import { pollUntil, waitFor } from '../../util/poll.ts';
import type { ScenarioContext } from '../context.ts';
import { type FaultDefinition, forDuration } from './types.ts';

type ProcessFaultKind = 'process-kill' | 'process-pause' | 'process-restart';

export interface ProcessFault<K extends string = ProcessFaultKind> {
  kind: K;
  node: string;
  role: string;
  /** `stop`: the supervisor (watchfrr) is held so it does not restart the process; `keep`: it may. */
  supervisor: 'stop' | 'keep';
  durationMs: number | undefined;
}

async function rolePids(ctx: ScenarioContext, fault: ProcessFault): Promise<number[]> {
  const pids = await ctx.driver.processes(fault.role, ctx.node(fault.node));
  if (pids.length === 0)
    throw new HarnessError(
      `${fault.node}: no running '${fault.role}' process to ${fault.kind.replace('process-', '')}`,
    );
  return pids;
}

async function holdSupervisor(ctx: ScenarioContext, fault: ProcessFault): Promise<number[]> {
  if (fault.supervisor !== 'stop') return [];
  const pids = await ctx.driver.supervisors(fault.role, ctx.node(fault.node));
  signal(pids, 'SIGSTOP');
  return pids;
}

/**
 * Kills the role and returns only once it is gone: no PID of it alive and (unless its supervisor may
 * restart it) no process of the role running on the node, so the "while it is down" expectations after the fault really test that.
 */
async function killRole(ctx: ScenarioContext, fault: ProcessFault): Promise<void> {
  const pids = await rolePids(ctx, fault);
  signal(pids, 'SIGKILL');
  const node = ctx.node(fault.node);
  const gone = await pollUntil(
    // With `supervisor: keep` a new instance may already be up: only the killed ones must be gone.
    async () =>
      pids.some((pid) => isAlive(pid)) || fault.supervisor === 'keep'
        ? pids.filter((pid) => isAlive(pid))
        : await ctx.driver.processes(fault.role, node),
    (left) => left.length === 0,
    { timeoutMs: 5_000, intervalMs: 10, what: `${fault.role} on ${fault.node} gone` },
  );
  if (!gone.ok)
    throw new HarnessError(
      `${fault.node}: '${fault.role}' still running 5 s after SIGKILL (PIDs ${(gone.value ?? pids).join(', ')}): the fault is not in force`,
    );
}

async function startRole(ctx: ScenarioContext, fault: ProcessFault, supervisors: number[]): Promise<void> {
  const node = ctx.node(fault.node);
  try {
    if (fault.supervisor === 'keep') {
      // The supervisor restarts it; wait for that (and start it ourselves if it does not).
      const back = await waitFor(
        () => ctx.driver.processes(fault.role, node),
        (pids) => pids.length > 0,
        {
          timeoutMs: 15_000,
          intervalMs: 100,
          what: `${fault.role} on ${fault.node} to be restarted by its supervisor`,
        },
      ).catch(() => []);
      if (back.length === 0) await ctx.driver.startProcess(fault.role, node);
    } else {
      await ctx.driver.startProcess(fault.role, node);
    }
  } finally {
    signal(supervisors, 'SIGCONT');
  }
}

type ProcessFaultOptions<K extends ProcessFaultKind> = Pick<
  FaultDefinition<ProcessFault<K>>,
  'kind' | 'duration' | 'undoes' | 'apply'
>;

function processFault<K extends ProcessFaultKind>(
  options: ProcessFaultOptions<K>,
): FaultDefinition<ProcessFault<K>> {
  return {
    ...options,
    required: ['node', 'role'],
    optional: ['supervisor'],
    properties: {
      node: { $ref: '#/definitions/name' },
      role: { type: 'string', description: 'Process role: bgpd, zebra, bfdd, controller, agent, ...' },
      supervisor: {
        enum: ['stop', 'keep'],
        description: 'stop: hold watchfrr so it does not restart the process (default); keep: let it.',
      },
    },
    chaos: true,
    parse: (raw, durationMs) => ({
      kind: options.kind,
      node: String(raw.node),
      role: String(raw.role),
      supervisor: (raw.supervisor as 'stop' | 'keep' | undefined) ?? 'stop',
      durationMs,
    }),
    describe: (f) => `${f.kind} ${f.role} on ${f.node} (supervisor ${f.supervisor})${forDuration(f)}`,
    target: (f) => `process:${f.node}:${f.role}`,
  };
}

export const processKill = processFault({
  kind: 'process-kill',
  duration: true,
  undoes: false,
  async apply(fault, ctx) {
    const supervisors = await holdSupervisor(ctx, fault);
    try {
      await killRole(ctx, fault);
    } catch (err) {
      signal(supervisors, 'SIGCONT');
      throw err;
    }
    return () => startRole(ctx, fault, supervisors);
  },
});

export const processPause = processFault({
  kind: 'process-pause',
  duration: true,
  undoes: false,
  async apply(fault, ctx) {
    const supervisors = await holdSupervisor(ctx, fault);
    const pids = await rolePids(ctx, fault);
    signal(pids, 'SIGSTOP');
    return async () => {
      signal(pids, 'SIGCONT');
      signal(supervisors, 'SIGCONT');
    };
  },
});

export const processRestart = processFault({
  kind: 'process-restart',
  duration: false,
  undoes: true,
  async apply(fault, ctx) {
    const supervisors = await holdSupervisor(ctx, fault);
    await killRole(ctx, fault);
    await startRole(ctx, fault, supervisors);
    return undefined;
  },
});
