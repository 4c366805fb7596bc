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
  // A timer can fire up to a millisecond before performance.now() reaches its target (libuv measures
  // timers on its own millisecond-truncated loop clock): sleep again until the target has passed, or a
  // replayed step would start before the recorded one.
  for (let wait = target - ctx.now(); wait > 0; wait = target - ctx.now()) await sleep(wait);
  ctx.record.stepStarted(step.id, ctx.now());
}
