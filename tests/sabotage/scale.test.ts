/**
 * SCALE-1 and SCALE-2 can fail. Under the TEST-ONLY `scale-drop-port` switch the controller never pushes one VM
 * in a hundred (by MAC) to any agent, and the scale tier's verdict names exactly those ports; under
 * `sg-drop-membership-update` a VM's new groups never reach the other hypervisors of its domain.
 */
import { describe, expect, it } from 'vitest';
import { runScale, scale1Verdict } from '../../reference-impl/scale/run.ts';

describe('sabotage scale-drop-port → SCALE-1 fails', () => {
  it('names the ports no relevant hypervisor acknowledged', async () => {
    const result = await runScale({
      ports: 300,
      hypervisors: 20,
      settleMs: 5_000,
      sabotage: 'scale-drop-port',
    });
    const verdict = scale1Verdict(result);
    expect(verdict.ok).toBe(false);
    // MACs 02:5c:00:00:00:64 (100), …:00:c8 (200), …:01:2c (300): ports p99, p199, p299.
    expect(result.missing).toEqual(['p99', 'p199', 'p299']);
    expect(verdict.message).toMatch(
      /297\/300 ports ready: never programmed on every relevant hypervisor: p99, p199, p299/,
    );
  }, 90_000);
});

describe('sabotage sg-drop-membership-update → SCALE-2 fails', () => {
  it('membership changes never reach the hypervisors that learn them from the VM route', async () => {
    const result = await runScale({
      ports: 200,
      hypervisors: 20,
      churn: { changes: 20, perSecond: 20 },
      settleMs: 5_000,
      sabotage: 'sg-drop-membership-update',
    });
    expect(scale1Verdict(result).ok).toBe(true);
    expect(result.churn).toBeDefined();
    expect(result.churn?.ready ?? 0).toBeLessThan(result.churn?.count ?? 0);
  }, 90_000);
});
