/**
 * provision: apply an intent change to the model and through the implementation driver. With
 * `refused`, the change must be refused by the implementation with a matching error (an expectation:
 * accepted, or refused for another reason, is a failed one); the intent then stays as it was. With
 * `attempt`, the change is tried while the implementation may not be able to make it (its management
 * plane is down): the outcome is logged, not judged, and the model keeps the intent as it was, so the
 * expectations that follow check the change was programmed nowhere.
 *
 * The budgets of the expectations that follow count from the moment the implementation accepted the
 * change (the driver says when, see DriverContext.accepted), not from when the driver returned.
 */
import { ExpectationError, type ScenarioContext } from '../context.ts';
import type { ProvisionStep, Step } from '../types.ts';

/** Nodes whose BGP routes the timeline's expectations read (bgp and secgroups checks). */
function bgpNodes(steps: Step[]): Set<string> {
  const nodes = new Set<string>();
  for (const step of steps) {
    const checks = step.kind === 'expect' ? step.checks : step.kind === 'wait-until' ? [step.condition] : [];
    for (const c of checks) if (c.kind === 'bgp' || c.kind === 'secgroups') nodes.add(c.node);
    if (step.kind === 'measure') for (const n of bgpNodes(step.during)) nodes.add(n);
  }
  return nodes;
}

async function prefetchVteps(ctx: ScenarioContext): Promise<void> {
  const hypervisors = new Set(ctx.intent.vms.map((v) => v.hypervisor));
  await Promise.all(
    [...hypervisors]
      .filter((hv) => ctx.lab.nodes.has(hv))
      .map((hv) => ctx.vtepAddress(hv).catch(() => undefined)),
  );
}

export async function provision(step: ProvisionStep, ctx: ScenarioContext): Promise<void> {
  // The route sources the scenario's BGP expectations read are up before the act: peering the tap
  // is the harness's time, not the implementation's.
  for (const node of bgpNodes(ctx.scenario.timeline)) await ctx.routes(node);
  // So are the VTEP addresses expectations name hypervisors by (read once per scenario; a driver that
  // cannot tell is asked again when a check needs one).
  await prefetchVteps(ctx).catch(() => undefined);
  const before = ctx.intent;
  const judged = step.refused !== undefined || step.attempt;
  if (judged) ctx.intent = structuredClone(before);
  for (const name of step.attach) ctx.intent.vms.find((v) => v.name === name)!.attached = true;
  for (const name of step.detach) ctx.intent.vms.find((v) => v.name === name)!.attached = false;
  for (const m of step.move) ctx.intent.vms.find((v) => v.name === m.vm)!.hypervisor = m.to;
  for (const s of step.setGroups) ctx.intent.vms.find((v) => v.name === s.vm)!.groups = [...s.groups];
  for (const f of step.setFloatingIps) {
    ctx.intent.floatingIps = ctx.intent.floatingIps.filter((x) => x.ip !== f.ip);
    if (f.vm !== null) ctx.intent.floatingIps.push({ ip: f.ip, vm: f.vm });
  }
  const change = {
    apply: step.apply,
    attach: step.attach,
    detach: step.detach,
    move: step.move,
    setGroups: step.setGroups,
    setFloatingIps: step.setFloatingIps,
  };
  let acceptedAt: number | undefined;
  const driverContext = {
    ...ctx.driverContext(),
    accepted: () => {
      acceptedAt = performance.now();
    },
  };
  const onlyBulk =
    !step.apply &&
    ![step.attach, step.detach, step.move, step.setGroups, step.setFloatingIps].some((l) => l.length > 0);
  const apply = async () => {
    try {
      if (!(onlyBulk && step.bulkMembers.length > 0)) await ctx.driver.provision(change, driverContext);
      for (const bulk of step.bulkMembers) {
        // skipReason() skips scenarios with bulk members on drivers without setBulkMembers.
        await ctx.driver.setBulkMembers?.(bulk, driverContext);
        ctx.bulkMembers.set(bulk.group, bulk.count);
      }
    } finally {
      ctx.markAct(acceptedAt ?? performance.now());
    }
  };
  if (!judged) return apply();
  if (step.attempt) {
    try {
      await apply();
      ctx.reporter.log(`${step.name}: the implementation accepted the change; the model keeps it unmade`);
    } catch (err) {
      ctx.reporter.log(`${step.name}: refused: ${err instanceof Error ? err.message : String(err)}`);
    }
    ctx.intent = before;
    return;
  }
  const pattern = new RegExp(step.refused ?? '');
  try {
    await apply();
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
