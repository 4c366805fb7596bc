/**
 * Sabotage: zone z1's controller flushes its agents when it (re)starts — for 2.5 s they are synced
 * without remote reachability — and hv1's agent flushes its remote MACs, neighbours and flood lists
 * when it starts (OTWIN_SABOTAGE=flush-on-restart on c1 and hv1). AZ-3 (restore the controller) and
 * AZ-4 (restart an agent) must FAIL on their measured streams: probes lost, the loss window reported.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { byId, runSabotaged, type SabotageRun, suiteFile } from './run.ts';

let run: SabotageRun;

describe('sabotage flush-on-restart: AZ-3 and AZ-4 fail on their loss windows', () => {
  beforeAll(async () => {
    run = await runSabotaged('flush', { c1: ['flush-on-restart'], hv1: ['flush-on-restart'] }, [
      suiteFile('scenarios/az/az-3-controller-restore.yml'),
      suiteFile('scenarios/az/az-4-agent-restart.yml'),
    ]);
  }, 240_000);
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
});
