/**
 * expect: evaluates one expectation, polling until it holds or its `within` passes (handlers that
 * poll by themselves — matrices — get what is left of the budget instead). The budget counts from the
 * act the expectation follows (ctx.actAt: the implementation accepting a change, the end of a fault or
 * wait), not from when the check started, and an answer that comes after the deadline fails even when
 * it is right. Throws ExpectationError when it does not hold; lab/harness errors propagate as they
 * are (reported as broken).
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
  // Polls a twentieth of the budget apart (20..200 ms): a 1 s budget is not spent waiting to look.
  intervalMs = Math.min(200, Math.max(20, budgetMs / 20)),
): Promise<CheckResult & { elapsedMs: number; noticedMs: number }> {
  const handler = handlerFor(check);
  const from = ctx.actAt;
  // Without a budget the expectation must hold now: one evaluation, however long it takes.
  const deadline = budgetMs > 0 ? from + budgetMs : undefined;
  // Traffic checks need the VMs located: the driver's wait for them is inside the budget.
  if (handler.traffic) await ctx.driver.ready?.(ctx.driverContext());
  for (;;) {
    const remaining = deadline === undefined ? 0 : Math.max(0, deadline - performance.now());
    // Every handler sees what is left of the budget (self-polling ones poll within it; captures wait
    // for their interfaces within it).
    const polled = { ...check, withinMs: remaining };
    const result = await handler.evaluate(polled, ctx);
    const now = performance.now();
    // A state that holds was observed at observedAt when the handler knows (never before the act,
    // never later than now): the wait for the next poll and the work after the read are the harness's.
    const seenAt = result.ok ? Math.min(now, Math.max(from, result.observedAt ?? now)) : now;
    const elapsedMs = seenAt - from;
    const noticedMs = now - from;
    if (deadline === undefined) return { ...result, elapsedMs, noticedMs };
    if (result.ok && seenAt > deadline) {
      // The answer is right, but it was not known within the budget: that is not "within".
      return {
        ...result,
        ok: false,
        summary: `${result.summary}, but only ${Math.round(elapsedMs)} ms after the act it follows: the budget is ${budgetMs} ms`,
        elapsedMs,
        noticedMs,
      };
    }
    if (result.ok || handler.selfPolling || now >= deadline) return { ...result, elapsedMs, noticedMs };
    await sleep(Math.min(intervalMs, Math.max(1, deadline - now)));
  }
}

export async function runCheck(check: Check, ctx: ScenarioContext): Promise<CheckResult> {
  const result = await evaluateCheck(check, ctx);
  ctx.record.noteFigures({ measuredMs: Math.round(result.elapsedMs), budgetMs: check.withinMs });
  for (const attachment of result.attachments) await ctx.reporter.attach(attachment);
  if (!result.ok) {
    throw Object.assign(new ExpectationError(`${check.name}: ${result.summary}`), { nodes: result.nodes });
  }
  ctx.reporter.log(
    `${check.name}: ${result.summary} (${Math.round(result.elapsedMs)} ms after the act${result.noticedMs - result.elapsedMs >= 1 ? `; noticed by the harness ${Math.round(result.noticedMs)} ms after it` : ''})`,
  );
  return result;
}
