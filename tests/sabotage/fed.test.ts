/**
 * The federation pack's sabotage rows (docs/sabotage.md).
 * FED-3: the controllers number MAC moves only from their own zone's view (`mobility-zone-local` on
 * c1 and c2), so a move back across the zone boundary restarts the sequence instead of continuing it.
 * FED-4: a lab variant whose federation peering strips every extended community (rr1's inbound
 * policy from rr2 gets `set extcommunity none`) where the lab declares that it keeps them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ExpectedFailure, expectFailed } from './expect-failed.ts';
import { runSabotaged, type SabotageRun, suiteFile } from './run.ts';

describe('controllers that number moves from their own zone only: FED-3 fails', () => {
  let run: SabotageRun;
  const CASES: ExpectedFailure[] = [
    {
      id: 'FED-3',
      step: /back into zone z1 — rr1 holds one route, from hv2, mobility sequence 2/,
      message: /"mobilitySeq":2.* not carried by type-2 .*mobility seq 1/,
    },
  ];
  beforeAll(async () => {
    run = await runSabotaged('fed3', { c1: ['mobility-zone-local'], c2: ['mobility-zone-local'] }, [
      suiteFile('scenarios/fed/fed-3-stretched-move.yml'),
    ]);
  }, 600_000);
  afterAll(() => run?.lab.remove());

  for (const c of CASES) it(`fails ${c.id} (${c.step.source})`, () => expectFailed(run, c));
});

/** rr1's policy on its federation peering (from rr2) drops every extended community. */
const stripAll = (text: string) => {
  const edited = text.replace(
    /^route-map FROM-ZONE-Z2 permit 20\nexit$/m,
    'route-map FROM-ZONE-Z2 permit 20\n set extcommunity none\nexit',
  );
  expect(edited).not.toBe(text);
  return edited;
};

describe('a federation peering that strips what it should keep: FED-4 fails', () => {
  let run: SabotageRun;
  const CASES: ExpectedFailure[] = [
    {
      id: 'FED-4',
      step: /zone z1 \(rr1\) sees zone z2's VMs with exactly their groups' communities \(kept\)/,
      message: /fed4-d3 .*carries \[no secgroup community\], expected ids \[\d+\]/,
    },
  ];
  beforeAll(async () => {
    run = await runSabotaged(
      'fed4',
      {},
      [suiteFile('scenarios/fed/fed-4-keep-communities.yml')],
      {},
      {
        'default/rr1/frr.conf': stripAll,
      },
    );
  }, 600_000);
  afterAll(() => run?.lab.remove());

  for (const c of CASES) it(`fails ${c.id} (${c.step.source})`, () => expectFailed(run, c));
});

describe('a controller without graceful restart on the graceful-restart lab: FED-5 fails', () => {
  let run: SabotageRun;
  const CASES: ExpectedFailure[] = [
    {
      id: 'FED-5',
      step: /flow fed5-b3 → fed5-a1 \(into zone z1\) while c1 restarts/,
      message: /rr1 keeps c1's floating-IP route, marked stale|stale/,
    },
  ];
  beforeAll(async () => {
    run = await runSabotaged(
      'fed5',
      { c1: ['no-graceful-restart'] },
      [suiteFile('scenarios/fed/fed-5-graceful-restart.yml')],
      {},
      {},
      suiteFile('labs/fed-gr.clab.yml'),
    );
  }, 600_000);
  afterAll(() => run?.lab.remove());

  for (const c of CASES) it(`fails ${c.id} (${c.step.source})`, () => expectFailed(run, c));
});
