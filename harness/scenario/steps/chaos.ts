/**
 * chaos: a seeded random schedule of faults from a set over a window. The schedule depends only on
 * the seed, the window, the count, the durations and the fault list, so a replay (or a rerun with the
 * same seed) applies the same faults at the same offsets. Faults drawn for the same target never
 * overlap. Every fault is reverted after its duration; the step ends after the last revert plus `settle`.
 */
import { sleep } from '../../util/poll.ts';
import { randInt, rng } from '../../util/rng.ts';
import type { ScenarioContext } from '../context.ts';
import { applyFault, describeFault, faultTarget } from '../faults/index.ts';
import type { ChaosEvent } from '../record.ts';
import type { ChaosStep } from '../types.ts';

export function chaosSchedule(
  step: Pick<ChaosStep, 'seed' | 'windowMs' | 'count' | 'durationMs' | 'faults'>,
): ChaosEvent[] {
  const next = rng(step.seed);
  const events: ChaosEvent[] = [];
  for (let i = 0; i < step.count; i += 1) {
    for (let attempt = 0; attempt < 20; attempt += 1) {
      const fault = randInt(next, 0, step.faults.length - 1);
      const durationMs = randInt(next, step.durationMs[0], step.durationMs[1]);
      const atMs = randInt(next, 0, Math.max(0, step.windowMs - durationMs));
      const target = faultTarget(step.faults[fault]!);
      const clash = events.some(
        (e) =>
          faultTarget(step.faults[e.fault]!) === target &&
          atMs < e.atMs + e.durationMs + 100 &&
          e.atMs < atMs + durationMs + 100,
      );
      if (!clash) {
        events.push({ atMs, durationMs, fault });
        break;
      }
    }
  }
  return events.sort((a, b) => a.atMs - b.atMs || a.fault - b.fault);
}

export async function chaos(step: ChaosStep, ctx: ScenarioContext): Promise<void> {
  const schedule = ctx.replay?.chaos.get(step.id) ?? chaosSchedule(step);
  ctx.record.chaos(step.id, schedule);
  await ctx.reporter.attach({
    name: 'chaos schedule',
    content: schedule
      .map((e) => `+${e.atMs} ms for ${e.durationMs} ms: ${describeFault(step.faults[e.fault]!)}`)
      .join('\n'),
    type: 'text/plain',
  });
  const start = ctx.now();
  const reverts: Array<Promise<void>> = [];
  let failure: unknown;
  for (const event of schedule) {
    const wait = start + event.atMs - ctx.now();
    if (wait > 0) await sleep(wait);
    const fault = step.faults[event.fault]!;
    const key = `chaos:${step.id}:${event.atMs}:${faultTarget(fault)}`;
    const entry = ctx.record.fault({
      step: step.id,
      fault,
      appliedMs: Math.round(ctx.now()),
      revertedMs: undefined,
    });
    try {
      const revert = await ctx.reporter.step(
        `+${event.atMs} ms ${describeFault(fault)} for ${event.durationMs} ms`,
        () => applyFault(fault, ctx),
      );
      if (!revert) continue;
      ctx.pendingReverts.set(key, revert);
      reverts.push(
        (async () => {
          await sleep(event.durationMs);
          if (!ctx.pendingReverts.has(key)) return;
          ctx.pendingReverts.delete(key);
          await revert();
          entry.revertedMs = Math.round(ctx.now());
        })(),
      );
    } catch (err) {
      failure = err;
      break;
    }
  }
  const settled = await Promise.allSettled(reverts);
  if (failure) throw failure;
  const rejected = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (rejected) throw rejected.reason;
  if (step.settleMs > 0) await sleep(step.settleMs);
}
