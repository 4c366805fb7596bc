/** Step helpers shared by the step kinds: start-time handling (`at`, replay) and running nested steps. */
import { sleep } from '../../util/poll.ts';
import type { ScenarioContext } from '../context.ts';
import type { Step } from '../types.ts';

/**
 * Waits until the step's start time, then records it. The start time is the step's `at` or, in a
 * replay, the recorded start (relative to the scenario start), whichever is later; a step never
 * starts earlier than the one before it finished.
 */
export async function beginStep(step: Step, ctx: ScenarioContext): Promise<void> {
  const replayed = ctx.replay?.stepStarts.get(step.id);
  const target = Math.max(step.atMs ?? 0, replayed ?? 0);
  const wait = target - ctx.now();
  if (wait > 0) await sleep(wait);
  ctx.record.stepStarted(step.id, ctx.now());
}
