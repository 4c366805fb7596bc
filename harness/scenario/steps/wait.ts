/** wait: a fixed pause (prefer wait-until; a fixed wait is for letting a fault last). */
import { sleep } from '../../util/poll.ts';
import type { ScenarioContext } from '../context.ts';
import type { WaitStep } from '../types.ts';

export async function wait(step: WaitStep, _ctx: ScenarioContext): Promise<void> {
  await sleep(step.ms);
}
