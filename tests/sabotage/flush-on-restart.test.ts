/**
 * Sabotage: zone z1's controller flushes its agents when it (re)starts — for 2.5 s they are synced
 * without remote reachability — and hv1's agent flushes its remote MACs, neighbours and flood lists
 * when it starts (OTWIN_SABOTAGE=flush-on-restart on c1 and hv1). AZ-3 (restore the controller) and
 * AZ-4 (restart an agent) must FAIL on their measured streams: probes lost, the loss window reported.
 * On the same deployment zone z2's controller never withdraws a type-2 route (OTWIN_SABOTAGE=
 * no-type2-withdraw on c2): EVPN-3 (a VM on hv3 detaches) must FAIL — its route stays at rr1 and its
 * MAC in zone z1's tables. It runs last: the routes it leaves behind touch no other file's VNI.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectFailed } from './expect-failed.ts';
import { byId, runSabotaged, type SabotageRun, suiteFile } from './run.ts';

let run: SabotageRun;

describe('sabotage flush-on-restart: AZ-3 and AZ-4 fail on their loss windows', () => {
  beforeAll(async () => {
    run = await runSabotaged(
      'flush',
      { c1: ['flush-on-restart'], hv1: ['flush-on-restart'], c2: ['no-type2-withdraw'] },
      [
        suiteFile('scenarios/az/az-3-controller-restore.yml'),
        suiteFile('scenarios/az/az-4-agent-restart.yml'),
        suiteFile('scenarios/evpn/evpn-3-detach.yml'),
      ],
    );
  }, 360_000);
  afterAll(() => run?.lab.remove());

  for (const id of ['AZ-3', 'AZ-4']) {
    it(`fails ${id}'s stream while the role restarts, with the loss window and the lost probes`, () => {
      const verdicts = byId(run, id);
      expect(
        verdicts.filter((v) => v.status === 'broken'),
        run.summary,
      ).toEqual([]);
      const stream = verdicts.filter((v) => v.status === 'failed' && /zero loss/.test(v.name));
      expect(stream.length, run.summary).toBe(1);
      // "... loss window N ms (bound 1000 ms); K of M lost ..."
      const m = /loss window (\d+) ms \(bound (\d+) ms\); (\d+) of (\d+) lost/.exec(stream[0]!.message);
      expect(m, stream[0]!.message).not.toBeNull();
      expect(Number(m![3])).toBeGreaterThan(0);
      expect(run.result.summary.lossWindows.some((w) => w.ms > 50)).toBe(true);
    });
  }

  it("fails EVPN-3: the detached VM's route is never withdrawn, its MAC stays in zone z1's tables", () => {
    // The tap's RIB is complete (End-of-RIB received) before the absence is judged, so the route that
    // stays at rr1 fails the check instead of being missed.
    expectFailed(run, {
      id: 'EVPN-3',
      step: /ev-a3's type-2 route withdrawn within T_conv/,
      message: /expected no type-2 route matching .*02:00:72:01:00:13/,
    });
    for (const hv of ['hv1', 'hv2'])
      expectFailed(run, {
        id: 'EVPN-3',
        step: new RegExp(`ev-a3's MAC gone from ${hv}'s VXLAN table`),
        message: /02:00:72:01:00:13/,
      });
  });
});
