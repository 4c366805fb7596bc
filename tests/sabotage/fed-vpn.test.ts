/**
 * FED-2's sabotage row (docs/sabotage.md), on a private copy of labs/fed-vpn.clab.yml: the controllers
 * export their type-5 routes with the wrong route target (`type5-wrong-rt` on c1 and c2: `<ASN>:<L3
 * VNI + 1>`), so the PE imports tenant fed2-a's subnet into VRF fed-b and re-advertises it to pe2 as
 * VPNv4 under fed-b's RD, and tenant fed2-b's subnet into no VRF at all: pe2's VPNv4 table lacks both
 * under their own VRF's RD, in its table (vtysh JSON) and on the wire (the BGP tap peered with pe2).
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import { type ExpectedFailure, expectFailed } from './expect-failed.ts';
import { runSabotaged, type SabotageRun, suiteFile } from './run.ts';

describe('type-5 routes exported with the wrong route target on the VPNv4 lab: FED-2 fails', () => {
  let run: SabotageRun;
  const CASES: ExpectedFailure[] = [
    {
      id: 'FED-2',
      step: /pe2's VPNv4 table holds each tenant's subnet from the PE/,
      message: /no VPNv4 route 192\.0\.2\.0\/25 rd 10\.0\.0\.1:15001/,
    },
    {
      // The same on the wire: the BGP tap peered with pe2 decodes the subnet under fed-b's RD.
      id: 'FED-2',
      step: /on the wire at pe2's BGP tap/,
      message: /no VPNv4 route 192\.0\.2\.0\/25 rd 10\.0\.0\.1:15001/,
    },
  ];
  beforeAll(async () => {
    run = await runSabotaged(
      'fed2',
      { c1: ['type5-wrong-rt'], c2: ['type5-wrong-rt'] },
      [suiteFile('scenarios/fed/fed-2-vpnv4.yml')],
      {},
      {},
      suiteFile('labs/fed-vpn.clab.yml'),
    );
  }, 600_000);
  afterAll(() => run?.lab.remove());

  for (const c of CASES) it(`fails ${c.id} (${c.step.source})`, () => expectFailed(run, c));
});
