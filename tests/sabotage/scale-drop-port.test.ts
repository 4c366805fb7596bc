/**
 * SCALE-1 can fail: under the TEST-ONLY `scale-drop-port` switch the controller never pushes one VM
 * in a hundred (by MAC) to any agent, and the scale tier's verdict names exactly those ports.
 */
import { describe, expect, it } from 'vitest';
import { runScale, scale1Verdict } from '../../harness/scale/run.ts';

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
