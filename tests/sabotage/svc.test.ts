/**
 * Service chaining (SVC-1..SVC-5): each file of scenarios/svc FAILS (not breaks) under a switch
 * of reference-impl/sabotage.ts, on two private labs whose switches do not touch each other's checks:
 *   svc-a  agents svc-bypass (nothing is steered: chained traffic goes straight to B) → SVC-1, SVC-2;
 *   svc-b  agents svc-asymmetric (replies are not steered back through the appliance) → SVC-4, and
 *          svc-ignore-ports (a chain's port match is ignored: tcp/22 crosses the appliance) → SVC-3;
 *   svc-c  agents svc-no-failover (a dead appliance is never reported, so the chain stays on it) → SVC-5.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import { type ExpectedFailure, expectFailed } from './expect-failed.ts';
import { runSabotaged, type SabotageRun, suiteFile } from './run.ts';

const AGENTS = ['hv1', 'hv2', 'hv3', 'hv4'] as const;

describe('sabotaged service chaining, lab svc-a: the appliance is bypassed', () => {
  let run: SabotageRun;
  const CASES: ExpectedFailure[] = [
    {
      id: 'SVC-1',
      step: /every A → B flow crosses the appliance before B/,
      message: /a request reached svc1-b without crossing the appliance svc1-fw \(bypass/,
    },
    {
      id: 'SVC-2',
      step: /every A → B flow inside the subnet crosses the appliance/,
      message: /a request reached svc2-b without crossing the appliance svc2-fw \(bypass/,
    },
  ];
  beforeAll(async () => {
    run = await runSabotaged('svc-a', Object.fromEntries(AGENTS.map((hv) => [hv, ['svc-bypass' as const]])), [
      suiteFile('scenarios/svc/svc-1-l3-redirect.yml'),
      suiteFile('scenarios/svc/svc-2-l2-insertion.yml'),
    ]);
  }, 900_000);
  afterAll(() => run?.lab.remove());
  for (const c of CASES) it(`fails ${c.id} (${c.step.source})`, () => expectFailed(run, c));
});

describe('sabotaged service chaining, lab svc-b: asymmetric return, ports ignored', () => {
  let run: SabotageRun;
  const CASES: ExpectedFailure[] = [
    {
      id: 'SVC-3',
      step: /tcp\/22 goes straight to B/,
      message: /the request crossed svc3-fw, which is not on its path/,
    },
    {
      id: 'SVC-4',
      step: /udp requests and replies both cross the appliance/,
      message: /a reply reached svc4-a without crossing the appliance svc4-fw \(bypass/,
    },
  ];
  beforeAll(async () => {
    run = await runSabotaged(
      'svc-b',
      Object.fromEntries(AGENTS.map((hv) => [hv, ['svc-asymmetric' as const, 'svc-ignore-ports' as const]])),
      [suiteFile('scenarios/svc/svc-3-by-port.yml'), suiteFile('scenarios/svc/svc-4-reply-path.yml')],
    );
  }, 900_000);
  afterAll(() => run?.lab.remove());
  for (const c of CASES) it(`fails ${c.id} (${c.step.source})`, () => expectFailed(run, c));
});

describe('sabotaged service chaining, lab svc-c: no failover to the standby appliance', () => {
  let run: SabotageRun;
  const CASES: ExpectedFailure[] = [
    {
      id: 'SVC-5',
      step: /stream svc5-a → svc5-b through the chain while the active appliance svc5-fw1 dies/,
      message: /loss window \d+ ms \(bound 1000 ms\)/,
    },
  ];
  beforeAll(async () => {
    run = await runSabotaged(
      'svc-c',
      Object.fromEntries(AGENTS.map((hv) => [hv, ['svc-no-failover' as const]])),
      [suiteFile('scenarios/svc/svc-5-failover.yml')],
    );
  }, 900_000);
  afterAll(() => run?.lab.remove());
  for (const c of CASES) it(`fails ${c.id} (${c.step.source})`, () => expectFailed(run, c));
});
