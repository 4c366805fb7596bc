/**
 * Federation with the PE (FED-1, EVPN-7): scenarios/fed FAILS (not breaks) under switches of
 * reference-impl/sabotage.ts, on two private labs:
 *   fed-a  controllers type5-wrong-rt (type-5 routes carry the next L3 VNI's route target): the PE
 *          imports tenant fed1-a's subnet into the wrong VRF → FED-1; the route target on the wire → EVPN-7;
 *   fed-b  controllers type5-no-router-mac (no router MAC extended community) → EVPN-7's fields, and
 *          agents type5-no-import (the PE's prefixes never programmed): VMs cannot answer the site → FED-1.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import { type ExpectedFailure, expectFailed } from './expect-failed.ts';
import { runSabotaged, type SabotageRun, suiteFile } from './run.ts';

const FILES = [
  suiteFile('scenarios/fed/fed-1-pe-vrf-export.yml'),
  suiteFile('scenarios/fed/evpn-7-type5-fields.yml'),
];
const AGENTS = ['hv1', 'hv2', 'hv3', 'hv4'] as const;

describe('sabotaged federation, lab fed-a: type-5 routes with the wrong route target', () => {
  let run: SabotageRun;
  const CASES: ExpectedFailure[] = [
    {
      id: 'FED-1',
      step: /the PE's VRF fed-a holds tenant fed1-a's subnet from BGP/,
      message: /no row matches .*192\.0\.2\.0\/25/,
    },
    {
      id: 'EVPN-7',
      step: /the domain's subnet as a type-5 route from each hypervisor/,
      message: /rt 65000:15002/,
    },
  ];
  beforeAll(async () => {
    run = await runSabotaged('fed-a', { c1: ['type5-wrong-rt'], c2: ['type5-wrong-rt'] }, FILES);
  }, 900_000);
  afterAll(() => run?.lab.remove());
  for (const c of CASES) it(`fails ${c.id} (${c.step.source})`, () => expectFailed(run, c));
});

describe('sabotaged federation, lab fed-b: no router MAC, PE prefixes not imported', () => {
  let run: SabotageRun;
  const CASES: ExpectedFailure[] = [
    {
      id: 'FED-1',
      step: /PE's VRF fed-a holds|site ↔ VM matrix/,
      message: /no row matches|expected allowed, got dropped/,
    },
    {
      id: 'EVPN-7',
      step: /the domain's subnet as a type-5 route from each hypervisor/,
      message: /not carried by .*router-mac -/,
    },
  ];
  beforeAll(async () => {
    run = await runSabotaged(
      'fed-b',
      {
        c1: ['type5-no-router-mac'],
        c2: ['type5-no-router-mac'],
        ...Object.fromEntries(AGENTS.map((hv) => [hv, ['type5-no-import' as const]])),
      },
      FILES,
    );
  }, 900_000);
  afterAll(() => run?.lab.remove());
  for (const c of CASES) it(`fails ${c.id} (${c.step.source})`, () => expectFailed(run, c));
});
