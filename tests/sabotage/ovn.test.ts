/**
 * OVN judged by the same packs can fail them: the ovn driver's TEST-ONLY switches (OTWIN_OVN_SABOTAGE,
 * implementations/ovn/driver.ts) on a private copy of labs/ovn.clab.yml make the OVN copies FAIL (not
 * break): `stateless` (allow-stateless ACLs mirrored on the source port where the intent is stateful:
 * unsolicited packets from the service port pass) → SG-2; `fip-snat-only` (floating IPs as `snat`: no
 * inbound translation) → NAT-1; `fip-stale` (a router's NAT written once: the moved floating IP stays on
 * its first VM) → NAT-4; `pg-stale` (port groups keep their first members: the VM moved to group
 * `closed` keeps web's rules) → NAT-6.
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { type ExpectedFailure, expectFailed } from './expect-failed.ts';
import { runSabotaged, type SabotageRun, suiteFile } from './run.ts';

const missing = ['/usr/bin/ovn-northd', '/usr/bin/ovn-controller'].filter((b) => !existsSync(b));

describe.skipIf(missing.length > 0)(
  'sabotaged OVN: stateless ACLs, floating IPs without DNAT or never moved, stale port groups',
  () => {
    let run: SabotageRun;
    const CASES: ExpectedFailure[] = [
      {
        id: 'SG-2',
        step: /unsolicited traffic from the service port/,
        message: /sg2-a1 → sg2-w\d (tcp|udp)\/40000 sport 9000: expected (blocked|dropped), got/,
      },
      {
        id: 'NAT-1',
        step: /outside ↔ VMs through the floating IPs only/,
        message: /outside → nat1-[ab] (icmp|udp\/7001): expected allowed, got dropped/,
      },
      {
        id: 'NAT-4',
        step: /new connections to 198\.18\.0\.41 reach nat4-b/,
        message: /outside → nat4-b \(198\.18\.0\.41\) tcp\/7401: expected allowed, got/,
      },
      {
        id: 'NAT-6',
        step: /after the group change, nothing reaches the floating IP/,
        message:
          /(outside → nat6-web tcp\/80|nat6-web → outside udp\/53): expected (blocked|dropped), got allowed/,
      },
    ];
    beforeAll(async () => {
      process.env.OTWIN_OVN_SABOTAGE = 'stateless,fip-snat-only,fip-stale,pg-stale';
      try {
        run = await runSabotaged(
          'ovn',
          {},
          [
            suiteFile('scenarios/ovn/sg-2-stateful.yml'),
            suiteFile('scenarios/ovn/nat-1-floating-ip.yml'),
            suiteFile('scenarios/ovn/nat-4-move.yml'),
            suiteFile('scenarios/ovn/nat-6-security-groups.yml'),
          ],
          {},
          {},
          suiteFile('labs/ovn.clab.yml'),
        );
      } finally {
        delete process.env.OTWIN_OVN_SABOTAGE;
      }
    }, 600_000);
    afterAll(() => run?.lab.remove());

    it.each(CASES.map((c) => [c.id, c]))('%s fails', (_id, c) => expectFailed(run, c));
  },
);
