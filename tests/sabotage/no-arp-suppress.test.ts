/**
 * Sabotage: the agents leave `neigh_suppress` off on their VXLAN bridge ports (OTWIN_SABOTAGE=
 * no-arp-suppress on every hypervisor), so ARP for a known remote VM is flooded over the underlay
 * instead of being answered locally. The ARP-1 suite file must FAIL (not break), naming the capture
 * points where ARP was seen; reachability itself still passes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { byId, runSabotaged, type SabotageRun, suiteFile } from './run.ts';

let run: SabotageRun;

describe('sabotage no-arp-suppress: ARP-1 fails', () => {
  beforeAll(async () => {
    const all = ['no-arp-suppress' as const];
    run = await runSabotaged('arp', { hv1: all, hv2: all, hv3: all, hv4: all }, [
      suiteFile('scenarios/arp/arp-1-local-reply.yml'),
    ]);
  }, 240_000);
  afterAll(() => run?.lab.remove());

  it('reports ARP on the underlay as a failed ARP-1 expectation, with the capture counts', () => {
    const arp = byId(run, 'ARP-1');
    expect(arp.length, run.summary).toBeGreaterThan(0);
    expect(
      arp.filter((v) => v.status === 'broken'),
      run.summary,
    ).toEqual([]);
    const failed = arp.filter((v) => v.status === 'failed');
    expect(failed.map((v) => v.name)).toEqual(
      expect.arrayContaining([expect.stringMatching(/zero ARP on the underlay/)]),
    );
    // The diff names where the frames were seen: "hvN eth1: expected exactly 0 packet(s), captured N".
    expect(failed.map((v) => v.message).join('\n')).toMatch(
      /eth1.*expected exactly 0 packet\(s\), captured [1-9]/,
    );
  });

  it('still passes what the sabotage does not touch (reachability)', () => {
    const reach = run.verdicts.filter((v) => /reach each other/.test(v.name));
    expect(reach.length).toBeGreaterThan(0);
    expect(reach.map((v) => v.status)).toEqual(reach.map(() => 'passed'));
  });
});
