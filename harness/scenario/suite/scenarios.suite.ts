/**
 * The vitest file behind `otwin run`: every scenario of the run plan becomes a `describe` suite and
 * every expectation of its timeline one test, with the steps before it as Allure steps. Verdicts:
 * passed; failed (expectation not met: an AssertionError); broken (harness or lab error: any other
 * Error); skipped with the reason (`ctx.skip(reason)`, plus a `skip_reason` label the CLI moves into
 * the Allure result). Each scenario writes a run record under reports/runs/.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as allure from 'allure-js-commons';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { AllureStepReporter } from '../../report/allure.ts';
import { maskSecrets } from '../../report/mask.ts';
import { graphDot, topologyGraph } from '../../topology/graph.ts';
import { graphSvg } from '../../topology/graph-svg.ts';
import { killSessionDescendants } from '../../util/descendants.ts';
import { errorMessage, HarnessError } from '../../util/errors.ts';
import { installInterruptHandlers, interruptSignal, onInterrupt } from '../../util/interrupt.ts';
import { sleep } from '../../util/poll.ts';
import { catalogueEntry } from '../catalogue.ts';
import { ExpectationError, type ReplayPlan, type ScenarioContext, SkipError } from '../context.ts';
import type { ImplementationDriver } from '../drivers/driver.ts';
import { driverCapabilities, getDriver } from '../drivers/index.ts';
import { intentForProfile, profileRuns } from '../gateway-profile.ts';
import { declaredImplementation, loadScenario, parseScenarioText } from '../parse.ts';
import { readRecord, type VerdictStatus } from '../record.ts';
import type { ScenarioEntry } from '../suite-file.ts';
import { areaOf, planUnits, runUnit, skipReason, type Unit } from '../timeline.ts';
import type { Scenario, Step } from '../types.ts';
import type { WorkerSummary } from './launch.ts';
import { readPlan } from './plan.ts';
import { createContext, createRecord, LabPool, machineFeatures, stopTraffic } from './worker.ts';

const plan = readPlan();
// A lane's plan carries its own files (readPlan) and the run's entries: this worker runs its lane's.
const laneFiles = new Set(plan.files);
const entries: ScenarioEntry[] = (plan.entries ?? plan.files.map((file) => ({ file }))).filter((e) =>
  laneFiles.has(e.file),
);
// Validation needs the capabilities of the drivers under test (zone controllers or none), as the CLI's did.
const implementationOf = (e: ScenarioEntry) =>
  plan.implementation ?? e.implementation ?? declaredImplementation(e.file);
const capabilitiesOf = await driverCapabilities(
  plan.replay && !plan.implementation
    ? [readRecord(plan.replay).implementation]
    : entries.map(implementationOf),
);
/** Files this run judges on more than one implementation (a reference pack and a suite naming it). */
const onSeveral = new Set(
  entries
    .map((e) => e.file)
    .filter((f) => new Set(entries.filter((e) => e.file === f).map(implementationOf)).size > 1),
);
const log = (line: string) => {
  // After a Ctrl-C, straight to stderr: vitest holds console output per test and would lose it.
  if (interruptSignal.aborted) process.stderr.write(`[otwin] ${line}\n`);
  else console.log(`[otwin] ${line}`);
};
const labs = new LabPool(plan.runtime, log, { reuse: plan.reuse, signal: interruptSignal });
if (plan.transport === 'exec') log('traffic: exec transport (one probe server started inside each node)');

// Ctrl-C (handed over by the CLI as SIGTERM): undo what this run did, then end by the same signal
// (vitest replaces process.exit in its workers).
const stopInterrupts = installInterruptHandlers({
  log: (line) => process.stderr.write(`[otwin] ${line}\n`),
  who: 'worker',
  repeat: 'ignore',
  exit: (_code, signal) => {
    stopInterrupts();
    process.kill(process.pid, signal);
  },
});
writeFileSync(plan.workerPidFile, String(process.pid));
/**
 * After a Ctrl-C, tests and hooks wait here: vitest must not finish the file and stop this worker
 * while the interruption still reverts faults and destroys labs (the worker then ends by the signal).
 */
const parkWhileInterrupted = async (): Promise<void> => {
  if (interruptSignal.aborted) await new Promise<never>(() => undefined);
};
/** The scenario running now, whose faults an interruption reverts. */
let active: { ctx: ScenarioContext; labDeployedHere: boolean } | undefined;
onInterrupt({
  name: 'scenario run',
  async run() {
    // Commands in flight (a node's FRR start, a probe, a capture) fail now instead of finishing their
    // work: the deploy or step that waits on them gives up at once. Lab nodes run in sessions of
    // their own and are not touched here.
    killSessionDescendants();
    if (active) {
      const { ctx, labDeployedHere } = active;
      // Bounded: a revert that hangs must not hold the lab's destruction hostage.
      const reverted = await Promise.race([
        ctx.cleanup(),
        sleep(10_000).then(() => ['fault reverts timed out']),
      ]);
      for (const problem of reverted) log(`${ctx.scenario.name}: ${problem}`);
      // A lab that stays (--keep, --reuse) must not keep this scenario's objects either.
      if (plan.keep || !labDeployedHere)
        await ctx.driver.teardown(ctx.driverContext()).catch((err: unknown) => {
          log(`${ctx.scenario.name}: driver teardown: ${errorMessage(err)}`);
        });
    }
    for (const problem of await labs.release(plan.keep)) log(`teardown: ${problem}`);
    await stopTraffic();
    killSessionDescendants();
    saveSummary();
    rmSync(plan.workerPidFile, { force: true });
  },
});
const summary: WorkerSummary = {
  verdicts: [],
  lossWindows: [],
  records: [],
};

function saveSummary(): void {
  writeFileSync(plan.summaryFile, JSON.stringify(summary, null, 2));
}

/** The scenarios to run: from files, or from the record being replayed. */
function scenarios(): Array<{
  scenario?: Scenario;
  error?: unknown;
  file: string;
  replay?: ReplayPlan;
  replayOf?: string;
  /** Why this run does not apply (a gateway profile the scenario does not declare). */
  skip?: string;
}> {
  if (plan.replay) {
    const rec = readRecord(plan.replay);
    const scenario = parseScenarioText(rec.scenario.source, rec.scenario.file, {
      lab: plan.lab ?? rec.scenario.lab,
      // The implementation the recorded run judged (a CLI override is not in the scenario's source).
      implementation: plan.implementation ?? rec.implementation,
      capabilitiesOf,
    });
    scenario.seed = rec.seed;
    return [
      {
        scenario,
        file: rec.scenario.file,
        replay: {
          stepStarts: new Map(Object.entries(rec.stepStarts)),
          chaos: new Map(Object.entries(rec.chaos)),
        },
        replayOf: plan.replay,
      },
    ];
  }
  return entries.flatMap(
    ({ file, ...on }): Array<{ scenario?: Scenario; error?: unknown; file: string; skip?: string }> => {
      const lab = plan.lab ?? on.lab;
      const implementation = plan.implementation ?? on.implementation;
      try {
        const loaded = loadScenario(file, {
          ...(lab ? { lab } : {}),
          ...(implementation ? { implementation } : {}),
          capabilitiesOf,
          ...(plan.labs ? { labs: plan.labs } : {}),
        });
        return profileRuns(loaded, plan.gatewayProfiles).map(({ scenario, skip }) => ({
          scenario,
          file,
          ...(skip ? { skip } : {}),
        }));
      } catch (error) {
        return [{ error, file }];
      }
    },
  );
}

/** A generous per-test timeout: everything the unit may wait for, plus two minutes. */
function unitTimeout(unit: Unit): number {
  const stepMs = (s: Step): number => {
    switch (s.kind) {
      case 'wait':
        return s.ms;
      case 'fault':
        return (
          (s.fault.durationMs ?? 0) +
          (s.fault.kind === 'link-flap' ? s.fault.count * s.fault.intervalMs * 2 : 0)
        );
      case 'wait-until':
        return s.deadlineMs;
      case 'measure':
        return s.during.reduce((sum, d) => sum + stepMs(d), 0);
      case 'chaos':
        return s.windowMs + s.settleMs + s.durationMs[1];
      case 'expect':
        return s.checks.reduce((sum, c) => sum + c.withinMs + 5_000, 0);
      default:
        return (s.atMs ?? 0) + 5_000;
    }
  };
  const main =
    unit.main.kind === 'none'
      ? 0
      : unit.main.kind === 'check'
        ? unit.main.check.withinMs + 10_000
        : stepMs(unit.main.step);
  return 120_000 + main + unit.before.reduce((sum, s) => sum + stepMs(s) + (s.atMs ?? 0), 0);
}

async function attachNodeLogs(ctx: ScenarioContext, nodes: string[]): Promise<void> {
  for (const name of nodes) {
    const node = ctx.lab.nodes.get(name);
    if (!node) continue;
    try {
      for (const l of await ctx.driver.logs(node)) await allure.attachment(l.name, l.content, 'text/plain');
    } catch {
      // logs are best effort
    }
  }
}

afterAll(async () => {
  await parkWhileInterrupted();
  stopInterrupts();
  const problems = await labs.release(plan.keep);
  await stopTraffic();
  for (const p of problems) log(`teardown: ${p}`);
  saveSummary();
});

for (const entry of scenarios()) {
  if (!entry.scenario) {
    describe(entry.file, () => {
      it('scenario file loads', () => {
        summary.verdicts.push({
          scenario: entry.file,
          file: entry.file,
          name: 'scenario file loads',
          status: 'broken',
          area: 'other',
          message: errorMessage(entry.error),
        });
        throw new HarnessError(errorMessage(entry.error));
      });
    });
    continue;
  }
  let scenario = entry.scenario;
  const units = planUnits(scenario);
  const state: {
    ctx?: ScenarioContext;
    driver?: ImplementationDriver;
    skip?: string;
    broken?: Error;
    aborted?: string;
  } = {};
  // Every scenario gets a run record, also when it is skipped or its lab never comes up.
  const record = createRecord(scenario, plan, entry.replayOf);

  // Several profiles in one run: one suite per profile (Allure tells them apart by the parameter).
  const title = [
    scenario.name,
    ...((plan.gatewayProfiles?.length ?? 0) > 1 && scenario.gateway ? [`[gateway ${scenario.gateway}]`] : []),
    ...(onSeveral.has(scenario.file) ? [`[${scenario.implementation}]`] : []),
  ].join(' ');
  describe(title, () => {
    beforeAll(async () => {
      await parkWhileInterrupted();
      record.begin();
      if (entry.skip) {
        state.skip = entry.skip;
        return;
      }
      try {
        const driver = await getDriver(scenario.implementation);
        state.driver = driver;
        const driverProblems = driver.validate(scenario);
        if (driverProblems.length > 0)
          throw new HarnessError(`scenario does not fit driver ${driver.name}: ${driverProblems.join('; ')}`);
        const reason = skipReason(scenario, driver, await machineFeatures());
        if (reason) {
          state.skip = reason;
          return;
        }
        const { lab, deployedHere } = await labs.get(scenario.lab);
        scenario = intentForProfile(scenario, lab.topology);
        state.ctx = await createContext({
          scenario,
          lab,
          driver,
          reporter: new AllureStepReporter(log),
          runtime: plan.runtime,
          transport: plan.transport ?? 'netns',
          artifactsDir: plan.artifactsDir,
          replay: entry.replay,
          record,
        });
        state.ctx.startClock();
        active = { ctx: state.ctx, labDeployedHere: deployedHere };
      } catch (err) {
        state.broken = err instanceof Error ? err : new HarnessError(String(err));
      }
    });

    afterAll(async () => {
      await parkWhileInterrupted();
      const ctx = state.ctx;
      active = undefined;
      if (!ctx) {
        summary.records.push(record.finish());
        saveSummary();
        return;
      }
      for (const problem of await ctx.cleanup()) log(`${scenario.name}: ${problem}`);
      // Undo what the scenario provisioned: the next scenario may run on the same deployed lab.
      try {
        await ctx.driver.teardown(ctx.driverContext());
      } catch (err) {
        log(`${scenario.name}: driver teardown: ${errorMessage(err)}`);
      }
      for (const [node, source] of ctx.routeSources()) {
        const path = ctx.artifactPath(`bgp-transcript-${node}.${source.kind === 'tap' ? 'jsonl' : 'txt'}`);
        writeFileSync(path, source.transcript());
        ctx.record.artifact(`BGP transcript (${node}, ${source.kind})`, path);
      }
      summary.lossWindows.push(...ctx.lossWindows);
      summary.records.push(ctx.record.finish());
      saveSummary();
    });

    units.forEach((unit, index) => {
      it(unit.name, { timeout: unitTimeout(unit) }, async (tctx) => {
        await parkWhileInterrupted();
        const { area, group } = areaOf(unit.conformance.length ? unit.conformance : scenario.conformance);
        for (const id of unit.conformance) await allure.label('conformance_id', id);
        await allure.epic(area);
        await allure.feature(group);
        await allure.story(scenario.name);
        await allure.severity(unit.severity);
        await allure.parameter('runtime', plan.runtime);
        await allure.parameter('implementation', scenario.implementation);
        await allure.parameter('gateway profile', scenario.gateway ?? 'none');
        if (scenario.tags.length) await allure.tags(...scenario.tags);
        const ids = unit.conformance.map((id) => `${id}: ${catalogueEntry(id)?.stimulus ?? ''}`).join('\n\n');
        await allure.description(
          `${scenario.description ?? ''}\n\nScenario file: \`${scenario.file}\`${ids ? `\n\n${ids}` : ''}`,
        );

        const started = performance.now();
        const startMs = state.ctx?.now() ?? 0;
        // Figures noted by earlier units' steps are not this expectation's.
        record.takeFigures();
        const verdict = (status: VerdictStatus, message?: string) => {
          const figures = record.takeFigures();
          // For `otwin compare` on Allure results: the figures as typed JSON beside the verdict.
          if (figures) void allure.attachment('figures', JSON.stringify(figures), 'application/json');
          summary.verdicts.push({
            scenario: scenario.name,
            file: entry.file,
            name: unit.name,
            status,
            area,
            ...(message ? { message } : {}),
          });
          record.verdict({
            key: unit.key,
            name: unit.name,
            status,
            message,
            conformance: unit.conformance,
            area,
            startMs: Math.round(startMs),
            durationMs: Math.round(performance.now() - started),
            ...(figures ? { figures } : {}),
          });
          record.save();
        };
        const skip = state.skip ?? state.aborted;
        if (skip) {
          verdict('skipped', skip);
          await allure.label('skip_reason', skip);
          tctx.skip(skip);
          return;
        }
        if (state.broken || !state.ctx) {
          const err = state.broken ?? new HarnessError('scenario context missing');
          verdict('broken', err.message);
          throw err;
        }
        const ctx = state.ctx;
        if (index === 0) {
          const topology = maskSecrets(readFileSync(ctx.lab.topology.file, 'utf8'));
          await allure.attachment('topology', topology, 'text/yaml');
          const graph = topologyGraph(ctx.lab.topology);
          await allure.attachment('topology picture', graphSvg(graph), 'image/svg+xml');
          await allure.attachment('topology (Graphviz DOT)', graphDot(graph), 'text/plain');
          await allure.attachment('scenario', scenario.source, 'text/yaml');
        }
        try {
          await runUnit(unit, ctx);
          verdict('passed');
        } catch (err) {
          const nodes = (err as { nodes?: string[] }).nodes ?? [];
          // The implementation cannot be observed this way (a driver without forwardingEntries): no verdict.
          if (err instanceof SkipError) {
            // A step that cannot run here (not one check): the rest of the timeline depends on it.
            if (err.rest) state.aborted = `not run: ${err.reason}`;
            verdict('skipped', err.reason);
            await allure.label('skip_reason', err.reason);
            tctx.skip(err.reason);
            return;
          }
          if (err instanceof ExpectationError) {
            verdict('failed', err.message);
            await attachNodeLogs(ctx, nodes);
            throw err;
          }
          const message = errorMessage(err);
          verdict('broken', message);
          state.aborted = `not run: an earlier step broke (${message.slice(0, 200)})`;
          await attachNodeLogs(
            ctx,
            [...ctx.lab.nodes.keys()].filter((n) => /frr/.test(ctx.lab.nodes.get(n)!.image)),
          );
          throw err instanceof Error ? err : new HarnessError(message);
        }
      });
    });
  });
}
