/**
 * Sabotage of the agents (hv1–hv4), the controllers' zone-failure handling (c1, c2) and one fault the
 * test injects into hv2, on one private lab (reference-impl/sabotage.ts for the switches):
 *   fixed-srcport            one outer UDP source port for every flow → VX-2;
 *   no-df                    VXLAN devices without `df set`: the underlay fragments → VX-3;
 *   no-rx-normalise          no RFC 7348 §5 receive normalisation: reserved bits dropped → VX-5;
 *   no-remote-macs           known remote unicast flooded to every VTEP of the VNI → L3-1 (copies at
 *                            hv2 and hv3, not straight hv1 → hv4);
 *   local-gateway-mac        (hv2, hv4) the gateway MAC differs per hypervisor → L3-2;
 *   no-stale                 a vanished originator's routes are dropped → AZ-1 (zone z2 cannot reach
 *                            headless zone z1), AZ-6 (across the zones not back within T_conv);
 *   forget-on-directory-loss losing the directory withdraws every VM → AZ-5;
 *   no-dup-mac-detection     a MAC flapping 5 times in 180 s keeps moving, no alarm → EVPN-6;
 *   fault on hv2             an nftables rule rewrites VNIs 7102 and 7999 to 7101 before the VXLAN
 *                            socket sees them (a VTEP that demultiplexes foreign VNIs into a tenant) → VX-4.
 * No switch reaches what another ID's check looks at, so each failure below is the named sabotage's.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import type { SabotageSetting } from '../../reference-impl/sabotage.ts';
import { type ExpectedFailure, expectFailed } from './expect-failed.ts';
import { runSabotaged, type SabotageRun, suiteFile } from './run.ts';

let run: SabotageRun;

/**
 * hv2's VTEP is 10.0.2.2, hv1's 10.0.1.2 (labs/default.clab.yml); VX-4's tenants use VNIs 7101 and
 * 7102. Only packets from hv1 (where VX-4 injects; hv1 hosts no VM of VNI 7102) are rewritten, so the
 * tenants' own traffic is untouched.
 */
const FOREIGN_VNI_FAULT =
  "nft 'add table inet otj_fault; add chain inet otj_fault rx { type filter hook prerouting priority raw - 1; policy accept; }; " +
  'add rule inet otj_fault rx ip saddr 10.0.1.2 ip daddr 10.0.2.2 udp dport 4789 @th,96,24 { 7102, 7999 } @th,96,24 set 7101 @th,48,16 set 0 ' +
  'comment "sabotage test fault: foreign and unknown VNIs delivered into VNI 7101"\'';

const CASES: ExpectedFailure[] = [
  { id: 'VX-2', step: /64 inner flows/, message: /1 distinct outer source port\(s\), expected at least 2/ },
  { id: 'VX-3', step: /1500-byte underlay/, message: /IP fragment\(s\) on the underlay/ },
  { id: 'VX-4', step: /unknown VNI \(7999\) reaches no VM/, message: /delivered to: vx-a2/ },
  { id: 'VX-4', step: /another tenant's VNI/, message: /delivered to: vx-a2/ },
  { id: 'VX-5', step: /reserved flag bits set/, message: /delivered to: none/ },
  {
    id: 'L3-1',
    step: /tunnelled directly hv1 → hv4/,
    message: /hv[23]:eth1 \[.*\]: expected exactly 0 packet\(s\), captured [1-9]/,
  },
  {
    id: 'L3-2',
    step: /p1 \(hv2\) and p2 \(hv4\) resolve their gateway/,
    message: /the gateway answers with different MACs on different hypervisors/,
  },
  {
    id: 'AZ-1',
    step: /still reaches every other while c1 is down/,
    message: /z[ab]\d → z[ab]\d icmp: expected allowed, got/,
  },
  // When the controller notices the directory is gone (and so when the sabotage empties its world) is
  // its own timing: the first AZ-5 check after that moment fails, whichever it is.
  {
    id: 'AZ-5',
    step: /while the directory is down|programmed nowhere|no forwarding table|answers nobody|after the directory restart/,
    message: /lost|differ from the intent|expected allowed, got|expected|must be absent/,
  },
  // No duplicate MAC detection: the fifth move is processed like the others (hv2, sequence 5).
  {
    id: 'EVPN-6',
    step: /fifth move within 180 s raises a duplicate-MAC alarm/,
    message: /expected a duplicate-mac alarm for ev6-x .*found none/,
  },
  // The partition's nested steps report under the outermost stream's name (engine behaviour); the
  // message is the failed "back after the partition heals" condition.
  {
    id: 'AZ-6',
    step: /during the partition|back after the partition|after the partition healed/,
    message: /za1 → zb1 .*expected reach, got dropped|loss window/,
  },
];

describe('sabotaged agents and zone-failure handling: VX-2..5, L3-1/2, EVPN-6, AZ-1/5/6 fail', () => {
  beforeAll(async () => {
    const agent: SabotageSetting[] = ['fixed-srcport', 'no-df', 'no-rx-normalise', 'no-remote-macs'];
    const controller: SabotageSetting[] = ['no-stale', 'forget-on-directory-loss', 'no-dup-mac-detection'];
    run = await runSabotaged(
      'agz',
      {
        hv1: agent,
        hv2: [...agent, 'local-gateway-mac'],
        hv3: agent,
        hv4: [...agent, 'local-gateway-mac'],
        c1: controller,
        c2: controller,
      },
      [
        suiteFile('scenarios/vx/vx-2-entropy.yml'),
        suiteFile('scenarios/vx/vx-3-mtu.yml'),
        suiteFile('scenarios/vx/vx-4-foreign-vni.yml'),
        suiteFile('scenarios/vx/vx-5-reserved-bits.yml'),
        suiteFile('scenarios/l3/l3-1-direct-routing.yml'),
        suiteFile('scenarios/l3/l3-2-anycast-gateway.yml'),
        suiteFile('scenarios/evpn/evpn-6-duplicate-mac.yml'),
        suiteFile('scenarios/az/az-1-controller-kill.yml'),
        suiteFile('scenarios/az/az-5-directory-kill.yml'),
        suiteFile('scenarios/az/az-6-zone-partition.yml'),
      ],
      { hv2: [FOREIGN_VNI_FAULT] },
    );
  }, 600_000);
  afterAll(() => run?.lab.remove());

  for (const c of CASES) it(`fails ${c.id} (${c.step.source})`, () => expectFailed(run, c));
});
