/**
 * SCALE-3 can fail: under the TEST-ONLY agent switch `sg-cartesian` (rules expanded into one rule per
 * member pair), switched on in this process where the simulated hypervisors run, the programmed
 * rules grow with the square of a group's members. One domain of 100 VMs over 10 hypervisors.
 */
import { afterAll, describe, expect, it, vi } from 'vitest';

describe('sabotage sg-cartesian → SCALE-3 fails', () => {
  const before = process.env.OTWIN_SABOTAGE;
  afterAll(() => {
    if (before === undefined) delete process.env.OTWIN_SABOTAGE;
    else process.env.OTWIN_SABOTAGE = before;
  });

  it('rules + elements per port grow with the members', async () => {
    process.env.OTWIN_SABOTAGE = 'sg-cartesian';
    vi.resetModules();
    const { runScale, scale3Verdict } = await import('../../reference-impl/scale/run.ts');
    const result = await runScale({
      ports: 100,
      hypervisors: 10,
      portsPerDomain: 100,
      churn: { changes: 2, perSecond: 20 },
      settleMs: 20_000,
    });
    expect(result.missing).toEqual([]);
    const verdict = scale3Verdict(result);
    expect(verdict.ok, verdict.message).toBe(false);
    expect(verdict.message).toMatch(/x\d+\.\d+, at most x1\.5 for linear growth/);
  }, 120_000);
});
