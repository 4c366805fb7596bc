/**
 * fault: applies a fault; with a duration, reverts it after that long; without one, the fault stays
 * in force until a later step undoes it (link-up after link-down, node-resume after node-pause,
 * node-restart after node-kill, process-restart after process-kill) or the scenario ends.
 */
import { sleep } from '../../util/poll.ts';
import type { ScenarioContext } from '../context.ts';
import { applyFault, describeFault, type Fault, faultKind, faultTarget } from '../faults/index.ts';
import type { FaultStep } from '../types.ts';

/** Applies a fault with its duration semantics; records it. Returns when the fault is applied (and reverted, if timed). */
export async function runFault(fault: Fault, ctx: ScenarioContext, stepId: string): Promise<void> {
  const key = faultTarget(fault);
  const pending = ctx.pendingReverts.get(key);
  const entry = ctx.record.fault({
    step: stepId,
    fault,
    appliedMs: Math.round(ctx.now()),
    revertedMs: undefined,
  });
  if (faultKind(fault.kind)?.undoes && pending) {
    ctx.pendingReverts.delete(key);
    await pending();
    entry.revertedMs = entry.appliedMs;
    return;
  }
  const revert = await applyFault(fault, ctx);
  if (!revert) return;
  if (fault.durationMs !== undefined) {
    ctx.pendingReverts.set(key, revert);
    await sleep(fault.durationMs);
    ctx.pendingReverts.delete(key);
    await ctx.reporter.step(`revert ${describeFault(fault)}`, revert);
    entry.revertedMs = Math.round(ctx.now());
  } else {
    ctx.pendingReverts.set(key, async () => {
      await revert();
      entry.revertedMs = Math.round(ctx.now());
    });
  }
}

export async function fault(step: FaultStep, ctx: ScenarioContext): Promise<void> {
  await runFault(step.fault, ctx, step.id);
}
