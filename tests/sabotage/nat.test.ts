/**
 * Floating IPs and PNAT (NAT-1..NAT-6): each file of scenarios/nat FAILS (not breaks) under a switch
 * of reference-impl/sabotage.ts, on two private labs whose switches do not touch each other's checks:
 *   nat-a  agents nat-central=10.0.1.2 (hv1 is a central NAT node for every other hypervisor),
 *          nat-translate-internal (a VM's tenant traffic leaves as its floating IP) and
 *          sg-ignore-external (outside traffic is never filtered); controllers fip-stale-route (a
 *          floating IP's /32 never moves) → NAT-2, NAT-3, NAT-4, NAT-5, NAT-6 and SG-7;
 *   nat-b  controllers fip-no-announce (no /32 for the PE) → NAT-1.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import { type ExpectedFailure, expectFailed } from './expect-failed.ts';
import { runSabotaged, type SabotageRun, suiteFile } from './run.ts';

const AGENTS = ['hv1', 'hv2', 'hv3', 'hv4'] as const;

describe('sabotaged NAT, lab nat-a: a central node, internal translation, a stale route, unfiltered outside', () => {
  let run: SabotageRun;
  const CASES: ExpectedFailure[] = [
    {
      id: 'NAT-2',
      step: /nat2-b's PNAT traffic|PNAT traffic of nat2-b/,
      message: /the probes must not pass here, captured \d+/,
    },
    {
      id: 'NAT-3',
      step: /nat3-b and nat3-c see nat3-a's private address/,
      message: /nat3-b saw 198\.18\.0\.31 → .*, expected 10\.83\.1\.31/,
    },
    {
      id: 'NAT-4',
      step: /new connections to 198\.18\.0\.41 reach nat4-b/,
      message: /outside → nat4-b \(198\.18\.0\.41\) tcp\/7401: expected reach, got/,
    },
    {
      id: 'NAT-5',
      step: /sources = their hypervisors' addresses/,
      message: /nat5-[bcde]: (outside saw|nothing reached|the reply did not come back)/,
    },
    {
      id: 'NAT-6',
      step: /verdicts as the rules declare/,
      message: /outside → nat6-web tcp\/22: expected blocked, got (allowed|refused)/,
    },
    {
      id: 'SG-7',
      step: /verdicts as the rules declare/,
      message: /outside → nat6-web tcp\/22: expected blocked, got (allowed|refused)/,
    },
  ];
  beforeAll(async () => {
    run = await runSabotaged(
      'nat-a',
      {
        c1: ['fip-stale-route'],
        c2: ['fip-stale-route'],
        ...Object.fromEntries(
          AGENTS.map((hv) => [
            hv,
            [
              'nat-central=10.0.1.2' as const,
              'nat-translate-internal' as const,
              'sg-ignore-external' as const,
            ],
          ]),
        ),
      },
      [
        suiteFile('scenarios/nat/nat-2-distributed.yml'),
        suiteFile('scenarios/nat/nat-3-no-internal-translation.yml'),
        suiteFile('scenarios/nat/nat-4-move.yml'),
        suiteFile('scenarios/nat/nat-5-pnat.yml'),
        suiteFile('scenarios/nat/nat-6-security-groups.yml'),
      ],
    );
  }, 900_000);
  afterAll(() => run?.lab.remove());
  for (const c of CASES) it(`fails ${c.id} (${c.step.source})`, () => expectFailed(run, c));
});

describe('sabotaged NAT, lab nat-b: no route announcement', () => {
  let run: SabotageRun;
  const CASES: ExpectedFailure[] = [
    {
      id: 'NAT-1',
      step: /outside ↔ VMs through the floating IPs only/,
      message: /outside → nat1-[ab] (icmp|udp\/7001): expected allowed, got/,
    },
  ];
  beforeAll(async () => {
    run = await runSabotaged(
      'nat-b',
      {
        c1: ['fip-no-announce'],
        c2: ['fip-no-announce'],
        ...Object.fromEntries(AGENTS.map((hv) => [hv, ['sg-ignore-external' as const]])),
      },
      [
        suiteFile('scenarios/nat/nat-1-floating-ip.yml'),
        suiteFile('scenarios/nat/nat-6-security-groups.yml'),
      ],
    );
  }, 900_000);
  afterAll(() => run?.lab.remove());
  for (const c of CASES) it(`fails ${c.id} (${c.step.source})`, () => expectFailed(run, c));
});
