/**
 * expect: evaluates one expectation, polling until it holds or its `within` passes (handlers that
 * poll by themselves — matrices — get the budget instead). Throws ExpectationError when it does not
 * hold; lab/harness errors propagate as they are (reported as broken).
 */
import { sleep } from '../../util/poll.ts';
import { handlerFor } from '../checks/index.ts';
import type { CheckResult } from '../checks/types.ts';
import { ExpectationError, type ScenarioContext } from '../context.ts';
import type { Check } from '../types.ts';

export async function evaluateCheck(
  check: Check,
  ctx: ScenarioContext,
  budgetMs = check.withinMs,
  intervalMs = 200,
): Promise<CheckResult & { elapsedMs: number }> {
  const handler = handlerFor(check);
  const start = performance.now();
  const polled = handler.selfPolling ? { ...check, withinMs: budgetMs } : check;
  for (;;) {
    const result = await handler.evaluate(polled, ctx);
    const elapsedMs = performance.now() - start;
    if (result.ok || handler.selfPolling || elapsedMs >= budgetMs) return { ...result, elapsedMs };
    await sleep(Math.min(intervalMs, Math.max(1, budgetMs - elapsedMs)));
  }
}

export async function runCheck(check: Check, ctx: ScenarioContext): Promise<CheckResult> {
  const result = await evaluateCheck(check, ctx);
  for (const attachment of result.attachments) await ctx.reporter.attach(attachment);
  if (!result.ok) {
    throw Object.assign(new ExpectationError(`${check.name}: ${result.summary}`), { nodes: result.nodes });
  }
  ctx.reporter.log(`${check.name}: ${result.summary} (${Math.round(result.elapsedMs)} ms)`);
  return result;
}
