/**
 * OVN judged by the same packs can fail them: the ovn driver's TEST-ONLY switches (OTWIN_OVN_SABOTAGE,
 * implementations/ovn/driver.ts) on a private copy of labs/ovn.clab.yml make the reference packs, run on
 * OVN unmodified as scenarios/ovn/suite.yml runs them, FAIL (not break): `stateless` (allow-stateless ACLs mirrored on the source port where the intent is stateful:
 * unsolicited packets from the service port pass) → SG-2; `fip-snat-only` (floating IPs as `snat`: no
 * inbound translation) → NAT-1; then, on a second lab (fip-snat-only would hide them), `fip-stale` (a
 * router's NAT written once: the moved floating IP stays on its first VM) → NAT-4; `pg-stale` (port
 * groups keep their first members: the VM moved to group `closed` keeps web's rules) → NAT-6;
 * `fip-centralized` (floating IPs without logical_port/external_mac: OVN translates them on the
 * router's gateway chassis hv1, not on the VM's hv2) → NAT-2, whose captures see the flow on hv1.
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { type ExpectedFailure, expectFailed } from './expect-failed.ts';
import { runSabotaged, type SabotageRun, suiteFile } from './run.ts';

const missing = ['/usr/bin/ovn-northd', '/usr/bin/ovn-controller'].filter((b) => !existsSync(b));

/** The reference files `files` run on OVN with the driver's `switches` on a private lab `tag`; each case FAILS. */
function sabotagedSet(
  title: string,
  tag: string,
  switches: string,
  files: string[],
  cases: ExpectedFailure[],
) {
  describe.skipIf(missing.length > 0)(title, () => {
    let run: SabotageRun;
    beforeAll(async () => {
      process.env.OTWIN_OVN_SABOTAGE = switches;
      try {
        run = await runSabotaged(
          tag,
          {},
          files.map(suiteFile),
          {},
          {},
          suiteFile('labs/ovn.clab.yml'),
          'ovn',
        );
      } finally {
        delete process.env.OTWIN_OVN_SABOTAGE;
      }
    }, 600_000);
    afterAll(() => run?.lab.remove());

    it.each(cases.map((c) => [c.id, c]))('%s fails', (_id, c) => expectFailed(run, c));
  });
}

sabotagedSet(
  'sabotaged OVN: stateless ACLs, floating IPs without DNAT',
  'ovn',
  'stateless,fip-snat-only',
  ['scenarios/sg/sg-2-stateful.yml', 'scenarios/nat/nat-1-floating-ip.yml'],
  [
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
  ],
);

sabotagedSet(
  'sabotaged OVN: floating IPs never moved and centralised, port groups never changed',
  'ovn2',
  'fip-stale,pg-stale,fip-centralized',
  [
    'scenarios/nat/nat-4-move.yml',
    'scenarios/nat/nat-6-security-groups.yml',
    'scenarios/ovn/nat-2-distributed.yml',
  ],
  [
    {
      // The gateway chassis hv1 translates: nat2-a's outbound flow crosses the tunnel to hv1 and leaves
      // by hv1's provider port. (The inbound step is not asserted here: in one CI run of four on record it
      // passed under this switch, the outside host's probes reaching hv2's provider port only.)
      id: 'NAT-2',
      step: /nat2-a's packets leave from hv2 only, with its floating IP/,
      message: /hv1:eth[12]: the probes must not pass here, captured [1-9]/,
    },
    {
      id: 'NAT-4',
      step: /new connections to 198\.18\.0\.41 reach nat4-b/,
      message: /outside → nat4-b \(198\.18\.0\.41\) tcp\/7401: expected reach, got (dropped|refused)/,
    },
    {
      id: 'NAT-6',
      step: /after the group change, nothing reaches the floating IP/,
      message:
        /(outside → nat6-web tcp\/80|nat6-web → outside udp\/53): expected (blocked|dropped), got allowed/,
    },
  ],
);
