/**
 * A lab variant whose route reflectors have no zone ownership policy (labs/default/rr{1,2}/frr.conf
 * without their `route-map FROM-ZONE-* in` lines): a zone's rogue speaker injecting a route with the
 * other zone's route target is reflected into the other zone, so AZ-7 must FAIL (not break).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ExpectedFailure, expectFailed } from './expect-failed.ts';
import { runSabotaged, type SabotageRun, suiteFile } from './run.ts';

let run: SabotageRun;

/** The reflector's configuration without its inbound policy (the route-maps stay defined, unused). */
const withoutPolicy = (text: string) => {
  const stripped = text.replace(/^ {2}neighbor \S+ route-map FROM-ZONE-Z[12] in\n/gm, '');
  expect(stripped).not.toBe(text);
  return stripped;
};

const CASES: ExpectedFailure[] = [
  {
    id: 'AZ-7',
    step: /zone z1's reflector holds neither route/,
    message: /expected no type-2 route matching .*02:00:72:07:00:e1.*found 1/,
  },
];

describe('reflectors without the zone ownership policy: AZ-7 fails', () => {
  beforeAll(async () => {
    run = await runSabotaged(
      'rrp',
      {},
      [suiteFile('scenarios/az/az-7-zone-ownership.yml')],
      {},
      {
        'default/rr1/frr.conf': withoutPolicy,
        'default/rr2/frr.conf': withoutPolicy,
      },
    );
  }, 600_000);
  afterAll(() => run?.lab.remove());

  for (const c of CASES) it(`fails ${c.id} (${c.step.source})`, () => expectFailed(run, c));
});
