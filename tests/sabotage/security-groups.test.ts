/**
 * Security-group sabotage (docs/sabotage.md rows SG-1..SG-6): the suite's own scenarios/sg files run
 * on private labs with TEST-ONLY switches and must FAIL (not break). Three deployments:
 * - agents with `sg-stateless`, `sg-no-intra-subnet` and `sg-cartesian` (SG-2, SG-5, SG-6: each
 *   switch breaks a different check, none makes a start-up connection fail);
 * - agents with `sg-allow-all` (SG-1: nothing is enforced);
 * - controllers with `sg-drop-membership-update` (SG-3 and SG-4: a VM's route keeps its first groups).
 * Skipped where the pack is absent (scenarios/sg is added by the harness side of issue 13).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { type ExpectedFailure, expectFailed } from './expect-failed.ts';
import { REPO } from './fixtures/private-lab.ts';
import { runSabotaged, type SabotageRun, suiteFile } from './run.ts';

const PACK = join(REPO, 'scenarios', 'sg');
const present = existsSync(PACK);
const HVS = ['hv1', 'hv2', 'hv3', 'hv4'] as const;
const CONTROLLERS = ['c1', 'c2'] as const;

const on = (nodes: readonly string[], switches: Parameters<typeof runSabotaged>[1][string]) =>
  Object.fromEntries(nodes.map((n) => [n, switches]));

describe.skipIf(!present)(
  'sabotaged agents: SG-2 (stateless), SG-5 (no intra-subnet), SG-6 (Cartesian) fail',
  () => {
    let run: SabotageRun;
    beforeAll(async () => {
      run = await runSabotaged('sga', on(HVS, ['sg-stateless', 'sg-no-intra-subnet', 'sg-cartesian']), [
        suiteFile('scenarios/sg/sg-2-stateful.yml'),
        suiteFile('scenarios/sg/sg-5-microsegmentation.yml'),
        suiteFile('scenarios/sg/sg-6-growth.yml'),
      ]);
    }, 900_000);
    afterAll(() => run?.lab.remove());
    const cases: ExpectedFailure[] = [
      {
        id: 'SG-2',
        step: /unsolicited traffic from the service port/,
        message: /expected blocked, got allowed/,
      },
      { id: 'SG-5', step: /intra-subnet cells equal the oracle/, message: /expected blocked, got allowed/ },
      { id: 'SG-6', step: /growth linear/, message: /not linear/ },
    ];
    for (const c of cases) it(`fails ${c.id} (${c.step.source})`, () => expectFailed(run, c));
  },
);

describe.skipIf(!present)('sabotaged agents: SG-1 fails when nothing is enforced (sg-allow-all)', () => {
  let run: SabotageRun;
  beforeAll(async () => {
    run = await runSabotaged('sgb', on(HVS, ['sg-allow-all']), [
      suiteFile('scenarios/sg/sg-1-rule-table.yml'),
    ]);
  }, 600_000);
  afterAll(() => run?.lab.remove());
  it('fails SG-1 with the denied cells allowed', () =>
    expectFailed(run, {
      id: 'SG-1',
      step: /every cell .* equals the oracle/,
      message: /expected blocked, got allowed/,
    }));
});

describe.skipIf(!present)(
  'sabotaged controllers: SG-3 and SG-4 fail when a membership update is dropped',
  () => {
    let run: SabotageRun;
    beforeAll(async () => {
      run = await runSabotaged('sgc', on(CONTROLLERS, ['sg-drop-membership-update']), [
        suiteFile('scenarios/sg/sg-3-membership-propagation.yml'),
        suiteFile('scenarios/sg/sg-4-communities.yml'),
      ]);
    }, 600_000);
    afterAll(() => run?.lab.remove());
    const cases: ExpectedFailure[] = [
      {
        id: 'SG-3',
        step: /reaches db on hv4 \(other zone\) within T_sg/,
        message: /expected allowed, got blocked/,
      },
      { id: 'SG-4', step: /after — sg4-x carries web's and app's communities/, message: /expected ids/ },
    ];
    for (const c of cases) it(`fails ${c.id} (${c.step.source})`, () => expectFailed(run, c));
  },
);
