/**
 * wait-until: polls a condition (any expectation) until it holds; failing at the deadline is a failed
 * expectation. Like `within`, the deadline counts from the act the step follows.
 */
import { ExpectationError, type ScenarioContext } from '../context.ts';
import type { WaitUntilStep } from '../types.ts';
import { evaluateCheck } from './expect.ts';

export async function waitUntil(step: WaitUntilStep, ctx: ScenarioContext): Promise<void> {
  const result = await evaluateCheck(step.condition, ctx, step.deadlineMs, step.intervalMs);
  for (const attachment of result.attachments) await ctx.reporter.attach(attachment);
  if (!result.ok) {
    throw Object.assign(
      new ExpectationError(
        `not true within ${step.deadlineMs} ms: ${step.condition.name}: ${result.summary}`,
      ),
      {
        nodes: result.nodes,
      },
    );
  }
  ctx.reporter.log(`${step.condition.name}: true ${Math.round(result.elapsedMs)} ms after the act`);
}
