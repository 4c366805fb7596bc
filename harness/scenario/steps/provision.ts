/** provision: apply an intent change to the model and through the implementation driver. */
import type { ScenarioContext } from '../context.ts';
import type { ProvisionStep } from '../types.ts';

export async function provision(step: ProvisionStep, ctx: ScenarioContext): Promise<void> {
  for (const name of step.attach) ctx.intent.vms.find((v) => v.name === name)!.attached = true;
  for (const name of step.detach) ctx.intent.vms.find((v) => v.name === name)!.attached = false;
  for (const m of step.move) ctx.intent.vms.find((v) => v.name === m.vm)!.hypervisor = m.to;
  for (const s of step.setGroups) ctx.intent.vms.find((v) => v.name === s.vm)!.groups = [...s.groups];
  await ctx.driver.provision(
    {
      apply: step.apply,
      attach: step.attach,
      detach: step.detach,
      move: step.move,
      setGroups: step.setGroups,
    },
    ctx.driverContext(),
  );
}
