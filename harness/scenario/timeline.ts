/**
 * From a timeline to test results. Each expectation (one check of an `expect` step, a `wait-until`,
 * a `measure`) becomes one unit — one test result in the report; the steps before it (provision,
 * fault, wait, chaos) run inside that unit as its leading steps. Steps after the last expectation form
 * a final "remaining steps" unit. Units run in order; a failed expectation does not stop the timeline,
 * a broken step does.
 */
import { catalogueEntry } from './catalogue.ts';
import type { ScenarioContext } from './context.ts';
import type { Capability, ImplementationDriver } from './drivers/driver.ts';
import { chaos } from './steps/chaos.ts';
import { beginStep } from './steps/common.ts';
import { runCheck } from './steps/expect.ts';
import { fault } from './steps/fault.ts';
import { measure } from './steps/measure.ts';
import { provision } from './steps/provision.ts';
import { wait } from './steps/wait.ts';
import { waitUntil } from './steps/wait-until.ts';
import type { Check, ExpectStep, Scenario, Severity, Step } from './types.ts';

export interface Unit {
  /** Stable key: `<step id>` or `<step id>/<check index>`. */
  key: string;
  name: string;
  /** Steps run first, each as a report step. */
  before: Step[];
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
    if (step.kind === 'expect') {
      step.checks.forEach((check, index) => {
        units.push({
          key: step.checks.length > 1 ? `${step.id}/${index}` : step.id,
          name: step.checks.length === 1 ? step.name : check.name,
          before: index === 0 ? pending : [],
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
        main: { kind: step.kind, step },
        conformance: step.kind === 'measure' ? step.conformance : step.condition.conformance,
        severity: scenario.severity,
      });
      pending = [];
    } else {
      pending.push(step);
    }
  }
  if (pending.length > 0) {
    units.push({
      key: `${pending[0]!.id}+`,
      name: 'remaining steps',
      before: pending,
      main: { kind: 'none' },
      conformance: scenario.conformance,
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
        return provision(step, ctx);
      case 'fault':
        return fault(step, ctx);
      case 'wait':
        return wait(step, ctx);
      case 'chaos':
        return chaos(step, ctx);
      case 'wait-until':
        return waitUntil(step, ctx);
      case 'measure':
        return measure(step, ctx, (nested) => runStep(nested, ctx));
      case 'expect':
        for (const check of step.checks)
          await ctx.reporter.step(check.name, () => runCheck(check, ctx).then(() => undefined));
        return;
    }
  });
}

export async function runUnit(unit: Unit, ctx: ScenarioContext): Promise<void> {
  for (const step of unit.before) await runStep(step, ctx);
  const main = unit.main;
  if (main.kind === 'none') return;
  if (main.kind === 'check') {
    if (main.index === 0) await beginStep(main.step, ctx);
    await ctx.reporter.step(main.check.name, () => runCheck(main.check, ctx).then(() => undefined));
    return;
  }
  await runStep(main.step, ctx);
}

/** What the scenario needs from the implementation, derived from its intent and timeline. */
export function requiredCapabilities(scenario: Scenario): Capability[] {
  const need = new Set<Capability>();
  const i = scenario.intent;
  if (i.rules.length > 0 || i.groups.length > 0) need.add('security-groups');
  if (i.floatingIps.length > 0) need.add('floating-ips');
  if (i.domains.some((d) => d.pnat)) need.add('pnat');
  if (i.serviceChains.length > 0) need.add('service-chains');
  if (i.subnets.some((s) => s.gateway)) need.add('routing');
  const walk = (steps: Step[]) => {
    for (const s of steps) {
      if (s.kind === 'provision') {
        if (s.move.length) need.add('vm-move');
        if (s.setGroups.length) need.add('security-groups');
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
  return undefined;
}
