/**
 * provision: apply an intent change to the model and through the implementation driver. With
 * `refused`, the change must be refused by the implementation with a matching error (an expectation:
 * accepted, or refused for another reason, is a failed one); the intent then stays as it was.
 */
import { ExpectationError, type ScenarioContext } from '../context.ts';
import type { ProvisionStep } from '../types.ts';

export async function provision(step: ProvisionStep, ctx: ScenarioContext): Promise<void> {
  const before = ctx.intent;
  if (step.refused !== undefined) ctx.intent = structuredClone(before);
  for (const name of step.attach) ctx.intent.vms.find((v) => v.name === name)!.attached = true;
  for (const name of step.detach) ctx.intent.vms.find((v) => v.name === name)!.attached = false;
  for (const m of step.move) ctx.intent.vms.find((v) => v.name === m.vm)!.hypervisor = m.to;
  for (const s of step.setGroups) ctx.intent.vms.find((v) => v.name === s.vm)!.groups = [...s.groups];
  const change = {
    apply: step.apply,
    attach: step.attach,
    detach: step.detach,
    move: step.move,
    setGroups: step.setGroups,
  };
  if (step.refused === undefined) {
    await ctx.driver.provision(change, ctx.driverContext());
    return;
  }
  const pattern = new RegExp(step.refused);
  try {
    await ctx.driver.provision(change, ctx.driverContext());
  } catch (err) {
    ctx.intent = before;
    const message = err instanceof Error ? err.message : String(err);
    ctx.reporter.log(`${step.name}: refused: ${message}`);
    if (!pattern.test(message))
      throw new ExpectationError(
        `${step.name}: refused, but not as expected (/${step.refused}/): ${message}`,
      );
    return;
  }
  // Accepted: the implementation now holds the change, so the model follows it; the expectation fails.
  throw new ExpectationError(
    `${step.name}: the change was accepted, but it must be refused with an error matching /${step.refused}/`,
  );
}
