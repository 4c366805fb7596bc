/**
 * From a timeline to test results. Each expectation (one check of an `expect` step, a `wait-until`,
 * a `measure`) becomes one unit — one test result in the report; the steps before it (provision,
 * fault, wait, chaos, and expectations marked `precondition`) run inside that unit as its leading
 * steps. Steps after the last expectation (cleanup) run as trailing steps of the last unit: only
 * assertions about the system under test are results carrying conformance IDs. Units run in order; a
 * failed expectation does not stop the timeline, a broken step (or an unmet precondition) does.
 */

import { ProbeError } from '../traffic/channel.ts';
import { HarnessError } from '../util/errors.ts';
import { catalogueEntry } from './catalogue.ts';
import { ExpectationError, type ScenarioContext, SkipError } from './context.ts';
import type { Capability, ImplementationDriver } from './drivers/driver.ts';
import { chaos } from './steps/chaos.ts';
import { beginStep } from './steps/common.ts';
import { runCheck } from './steps/expect.ts';
import { fault } from './steps/fault.ts';
import { measure } from './steps/measure.ts';
import { provision } from './steps/provision.ts';
import { wait } from './steps/wait.ts';
import { waitUntil } from './steps/wait-until.ts';
import type { Check, ExpectStep, ProvisionStep, Scenario, Severity, Step, WaitUntilStep } from './types.ts';

export interface Unit {
  /** Stable key: `<step id>` or `<step id>/<check index>`. */
  key: string;
  name: string;
  /** Steps run first, each as a report step. */
  before: Step[];
  /** Steps run after the expectation (cleanup at the end of the timeline), each as a report step. */
  after: Step[];
  /** The expectation. */
  main:
    | { kind: 'check'; step: ExpectStep; check: Check; index: number }
    | { kind: 'wait-until' | 'measure' | 'provision'; step: Step }
    | { kind: 'none' };
  conformance: string[];
  severity: Severity;
}

export function planUnits(scenario: Scenario): Unit[] {
  const units: Unit[] = [];
  let pending: Step[] = [];
  for (const step of scenario.timeline) {
    if ((step.kind === 'expect' || step.kind === 'wait-until') && step.precondition) {
      pending.push(step);
    } else if (step.kind === 'expect') {
      step.checks.forEach((check, index) => {
        units.push({
          key: step.checks.length > 1 ? `${step.id}/${index}` : step.id,
          name: step.checks.length === 1 ? step.name : check.name,
          before: index === 0 ? pending : [],
          after: [],
          main: { kind: 'check', step, check, index },
          conformance: check.conformance,
          severity: check.severity ?? scenario.severity,
        });
      });
      pending = [];
    } else if (step.kind === 'provision' && step.refused !== undefined) {
      // A change that must be refused is an expectation of its own.
      units.push({
        key: step.id,
        name: step.name,
        before: pending,
        after: [],
        main: { kind: 'provision', step },
        conformance: scenario.conformance,
        severity: scenario.severity,
      });
      pending = [];
    } else if (step.kind === 'wait-until' || step.kind === 'measure') {
      units.push({
        key: step.id,
        name: step.name,
        before: pending,
        after: [],
        main: { kind: step.kind, step },
        conformance: step.kind === 'measure' ? step.conformance : step.condition.conformance,
        severity: scenario.severity,
      });
      pending = [];
    } else {
      pending.push(step);
    }
  }
  const last = units.at(-1);
  if (pending.length > 0 && last) last.after = pending;
  else if (pending.length > 0) {
    // A timeline without expectations asserts nothing: its steps run, and carry no conformance ID.
    units.push({
      key: `${pending[0]!.id}+`,
      name: 'steps (no expectation)',
      before: pending,
      after: [],
      main: { kind: 'none' },
      conformance: [],
      severity: scenario.severity,
    });
  }
  // Unique names: vitest and Allure key results by name.
  const seen = new Map<string, number>();
  for (const unit of units) {
    const n = (seen.get(unit.name) ?? 0) + 1;
    seen.set(unit.name, n);
    if (n > 1) unit.name = `${unit.name} (#${n})`;
  }
  return units;
}

/** The Allure epic (area) and feature (catalogue group) of a unit, from its first conformance ID. */
export function areaOf(conformance: string[]): { area: string; group: string } {
  const entry = conformance.map(catalogueEntry).find((e) => e !== undefined);
  return entry ? { area: entry.area, group: entry.group } : { area: 'other', group: 'other' };
}

/** Runs one step (as a report step), nested steps of `measure` included. */
export async function runStep(step: Step, ctx: ScenarioContext): Promise<void> {
  await beginStep(step, ctx);
  await ctx.reporter.step(step.name, async () => {
    switch (step.kind) {
      case 'provision':
        // Marks the act itself: when the implementation accepted the change.
        return provision(step, ctx);
      case 'fault':
        await fault(step, ctx);
        return ctx.markAct();
      case 'wait':
        await wait(step, ctx);
        return ctx.markAct();
      case 'chaos':
        await chaos(step, ctx);
        return ctx.markAct();
      case 'wait-until':
        return asPrecondition(step, () => waitUntil(step, ctx)).finally(() => ctx.markAct());
      case 'measure':
        await measure(step, ctx, (nested) => runStep(nested, ctx));
        return ctx.markAct();
      case 'expect':
        return asPrecondition(step, async () => {
          for (const check of step.checks)
            await ctx.reporter.step(check.name, () => runCheck(check, ctx).finally(() => ctx.markAct()));
        });
    }
  });
}

/** An unmet precondition: the expectation that follows cannot be judged (reported as broken). */
export class PreconditionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PreconditionError';
  }
}

async function asPrecondition(step: ExpectStep | WaitUntilStep, run: () => Promise<void>): Promise<void> {
  if (!step.precondition) return run();
  try {
    await run();
  } catch (err) {
    if (!(err instanceof ExpectationError)) throw err;
    throw new PreconditionError(
      `precondition '${step.name}' not met, so what follows cannot be judged: ${err.message}`,
    );
  }
}

/** What the traffic transport cannot do here is a skip naming the transport, not a broken harness. */
function transportSkip(err: unknown): unknown {
  return err instanceof ProbeError && err.kind === 'unsupported-transport' ? new SkipError(err.message) : err;
}

export async function runUnit(unit: Unit, ctx: ScenarioContext): Promise<void> {
  try {
    for (const step of unit.before) await runStep(step, ctx);
  } catch (err) {
    throw transportSkip(err);
  }
  const main = unit.main;
  try {
    if (main.kind === 'check') {
      if (main.index === 0) await beginStep(main.step, ctx);
      await ctx.reporter.step(main.check.name, () => runCheck(main.check, ctx).finally(() => ctx.markAct()));
    } else if (main.kind !== 'none') {
      await runStep(main.step, ctx);
    }
  } catch (caught) {
    const err = transportSkip(caught);
    // The verdict is the expectation's; cleanup still runs (a broken cleanup is only logged then).
    if (err instanceof ExpectationError || err instanceof SkipError)
      await runAfter(unit, ctx).catch((e: unknown) => ctx.reporter.log(String(e)));
    throw err;
  }
  await runAfter(unit, ctx);
}

/** Trailing (cleanup) steps: they run whatever the expectation's verdict; a failure there is the harness's. */
async function runAfter(unit: Unit, ctx: ScenarioContext): Promise<void> {
  for (const step of unit.after) {
    try {
      await runStep(step, ctx);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      throw new HarnessError(`cleanup step '${step.name}' broke after the expectation: ${message}`);
    }
  }
}

/** What the scenario needs from the implementation, derived from its intent and timeline. */
export function requiredCapabilities(scenario: Scenario): Capability[] {
  const need = new Set<Capability>();
  const i = scenario.intent;
  if (i.rules.length > 0 || i.groups.length > 0) need.add('security-groups');
  if (i.floatingIps.length > 0) need.add('floating-ips');
  if (i.domains.some((d) => d.pnat)) need.add('pnat');
  if (i.domains.some((d) => d.vni !== undefined)) need.add('l3vni');
  if (i.serviceChains.length > 0) need.add('service-chains');
  if (i.subnets.some((s) => s.gateway)) need.add('routing');
  const walk = (steps: Step[]) => {
    for (const s of steps) {
      if (s.kind === 'provision') {
        if (s.move.length) need.add('vm-move');
        if (s.setGroups.length) need.add('security-groups');
        if (s.setFloatingIps.length) need.add('floating-ips');
      }
      if (s.kind === 'measure') walk(s.during);
    }
  };
  walk(scenario.timeline);
  return [...need];
}

/** Why a scenario cannot run with this driver and these machine features, or undefined. */
export function skipReason(
  scenario: Scenario,
  driver: ImplementationDriver,
  features: ReadonlySet<string>,
): string | undefined {
  const missingFeatures = scenario.requires.filter((f) => !features.has(f));
  if (missingFeatures.length > 0) return `kernel/machine lacks ${missingFeatures.join(', ')}`;
  const missingCaps = requiredCapabilities(scenario).filter((c) => !driver.capabilities.has(c));
  if (missingCaps.length > 0)
    return `implementation ${driver.name} does not implement ${missingCaps.join(', ')}`;
  const kinds = new Set(checkKinds(scenario.timeline));
  if (kinds.has('secgroups') && !driver.securityGroupIds)
    return `implementation ${driver.name} does not report security-group ids (driver.securityGroupIds), which the secgroups check needs`;
  if (provisionSteps(scenario.timeline).some((s) => s.bulkMembers.length > 0) && !driver.setBulkMembers)
    return `implementation ${driver.name} cannot add address-only group members (driver.setBulkMembers)`;
  if (kinds.has('sg-datapath') && !driver.securityDatapath)
    return `implementation ${driver.name} does not report its security datapath (driver.securityDatapath), which the sg-datapath check needs`;
  const unsupported = [...kinds].filter((k) => driver.unsupportedChecks?.has(k));
  if (unsupported.length > 0)
    return `implementation ${driver.name} cannot take part in ${unsupported
      .map((k) => `'${k}' checks (${driver.unsupportedChecks!.get(k)})`)
      .join(', ')}`;
  return undefined;
}

function provisionSteps(steps: Step[]): ProvisionStep[] {
  return steps.flatMap((s) =>
    s.kind === 'provision' ? [s] : s.kind === 'measure' ? provisionSteps(s.during) : [],
  );
}

/** The kinds of every check a timeline evaluates (expectations, wait-until conditions, nested steps). */
function checkKinds(steps: Step[]): string[] {
  return steps.flatMap((s) => {
    if (s.kind === 'expect') return s.checks.map((c) => c.kind);
    if (s.kind === 'wait-until') return [s.condition.kind];
    if (s.kind === 'measure') return checkKinds(s.during);
    return [];
  });
}
