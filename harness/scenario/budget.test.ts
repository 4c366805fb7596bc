/**
 * `within` budgets count from the act: after a provision step, from the moment the implementation's
 * API accepted the change, so work the driver does afterwards (pinning a VM, waiting for it) is part
 * of the budget. A right answer that comes after the deadline fails. Preconditions are steps, not
 * results, and an unmet one makes the next result broken.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MemoryReporter } from '../report/reporter.ts';
import { sleep } from '../util/poll.ts';
import { ExpectationError, ScenarioContext } from './context.ts';
import type { DriverContext, ImplementationDriver, IntentChange } from './drivers/driver.ts';
import { fakeLab } from './fixtures/scenario-errors.ts';
import { parseScenarioText } from './parse.ts';
import { RecordBuilder } from './record.ts';
import { PreconditionError, planUnits, runUnit } from './timeline.ts';

const LAB = resolve('labs/frr-evpn.clab.yml');
const FILE = resolve('scenarios/budget-fixture.yml');
const H2_MAC = '02:00:00:00:00:12';

const SCENARIO = `name: budget fixture
conformance: [EVPN-2]
lab: ${LAB}
intent:
  tenants: [{ name: t }]
  domains: [{ name: d, tenant: t }]
  subnets: [{ name: s, domain: d, cidr: 192.0.2.0/24, vni: 100 }]
  vms:
    - { name: h1, subnet: s, hypervisor: leaf1, port: eth2, ip: 192.0.2.11, mac: "02:00:00:00:00:11" }
    - { name: h2, subnet: s, hypervisor: leaf2, port: eth2, ip: 192.0.2.12, mac: "${H2_MAC}", attached: false }
timeline:
  - name: leaf1 is up
    precondition: true
    expect: { table: { node: leaf1, command: "bridge -j fdb show", path: "", count: __ROWS__ } }
  - provision: { attach: [h2] }
  - name: h2's MAC in leaf1's table within 1 s of the attach
    expect:
      within: 1s
      table: { node: leaf1, command: "bridge -j fdb show", contains: [{ mac: "${H2_MAC}" }] }
`;

/** A driver whose API accepts at once and then keeps working for `afterMs` (a VM namespace wait). */
function slowDriver(afterMs: number): ImplementationDriver {
  return {
    name: 'fake',
    capabilities: new Set(['l2']),
    async provision(_change: IntentChange, ctx: DriverContext) {
      ctx.accepted();
      await sleep(afterMs);
    },
  } as unknown as ImplementationDriver;
}

/** leaf1's FDB holds h2's MAC as soon as the change is made: the implementation's part is instant. */
function run(afterMs: number, rows = 1) {
  const scenario = parseScenarioText(SCENARIO.replace('__ROWS__', String(rows)), FILE);
  const dir = mkdtempSync(join(tmpdir(), 'ote-budget-'));
  const lab = fakeLab([], LAB, () => ({ stdout: JSON.stringify([{ mac: H2_MAC, dev: 'vxlan100' }]) }));
  const ctx = new ScenarioContext({
    scenario,
    lab,
    driver: slowDriver(afterMs),
    traffic: undefined,
    reporter: new MemoryReporter(),
    record: new RecordBuilder(scenario, { runsDir: join(dir, 'runs'), runId: 't', runtime: 'netns' }),
    runtime: 'netns',
    artifactsDir: join(dir, 'artifacts'),
  });
  ctx.startClock();
  const units = planUnits(scenario);
  return { units, done: (async () => runUnit(units[0]!, ctx))() };
}

describe('budgets timed from the act', () => {
  it('a precondition is a step of the next result, which alone carries the conformance ID', () => {
    const { units } = run(0);
    expect(units.map((u) => [u.name, u.before.map((s) => s.kind), u.conformance])).toEqual([
      ["h2's MAC in leaf1's table within 1 s of the attach", ['expect', 'provision'], ['EVPN-2']],
    ]);
  });

  it('passes when the driver returns soon after the API accepted the change', async () => {
    await expect(run(100).done).resolves.toBeUndefined();
  });

  it('fails "within 1s" when the driver takes 1.5 s after the API call, although the answer is right', async () => {
    const err = await run(1_500).done.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExpectationError);
    expect(String((err as Error).message)).toMatch(/only 1[5-9]\d\d ms after the act .*budget is 1000 ms/);
  });

  it('an unmet precondition breaks the result that follows, it does not fail it', async () => {
    const err = await run(0, 7).done.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PreconditionError);
    expect(err).not.toBeInstanceOf(ExpectationError);
    expect(String((err as Error).message)).toMatch(/precondition 'leaf1 is up' not met.*expected 7 row/);
  });
});
