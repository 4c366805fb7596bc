/**
 * OVN judged by the same packs can fail them: the ovn driver's TEST-ONLY switches (OTWIN_OVN_SABOTAGE,
 * implementations/ovn/driver.ts) on a private copy of labs/ovn.clab.yml make the OVN copies FAIL (not
 * break): `stateless` (allow-stateless ACLs mirrored on the source port where the intent is stateful:
 * unsolicited packets from the service port pass) → SG-2; `fip-snat-only` (floating IPs as `snat`: no inbound translation) → NAT-1.
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { type ExpectedFailure, expectFailed } from './expect-failed.ts';
import { runSabotaged, type SabotageRun, suiteFile } from './run.ts';

const missing = ['/usr/bin/ovn-northd', '/usr/bin/ovn-controller'].filter((b) => !existsSync(b));

describe.skipIf(missing.length > 0)('sabotaged OVN: stateless ACLs, floating IPs without DNAT', () => {
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
  ];
  beforeAll(async () => {
    process.env.OTWIN_OVN_SABOTAGE = 'stateless,fip-snat-only';
    try {
      run = await runSabotaged(
        'ovn',
        {},
        [suiteFile('scenarios/ovn/sg-2-stateful.yml'), suiteFile('scenarios/ovn/nat-1-floating-ip.yml')],
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
});
