/**
 * SCALE-1 and SCALE-2 can fail. Under the TEST-ONLY `scale-drop-port` switch the controller never pushes one VM
 * in a hundred (by MAC) to any agent, and the scale tier's verdict names exactly those ports; under
 * `sg-drop-membership-update` a VM's new groups never reach the other hypervisors of its domain. Under
 * `delay-type2` (type-2 routes leave the controller late, here later than the deadline) the scale tier's FRR
 * route reflector lacks every type-2 route the intent implies, while the agents (fed by their zone's
 * controller directly) are all programmed.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupPrefix } from '../../reference-impl/agent/fixtures/underlay.ts';
import { runScale, scale1Verdict } from '../../reference-impl/scale/run.ts';

const PREFIX = process.env.OTWIN_SCALE_PREFIX ?? `osab${process.pid % 1000}-`;

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

describe('sabotage delay-type2 → the scale reflector lacks the type-2 routes', () => {
  afterAll(() => cleanupPrefix(PREFIX));

  it('names the type-2 routes FRR never received; the type-3 routes and the agents are complete', async () => {
    const result = await runScale({
      ports: 200,
      hypervisors: 20,
      settleMs: 5_000,
      reflector: { prefix: PREFIX },
      sabotage: 'delay-type2=600000',
    });
    expect(scale1Verdict(result).ok).toBe(true);
    const rr = result.reflector;
    expect(rr?.readyMs).toBeUndefined();
    expect(rr?.verdict.ok).toBe(false);
    // Two domains of 100 VMs, each on 10 hypervisors: 20 type-3 routes, 200 type-2.
    expect(rr?.verdict.message).toMatch(
      /^0\/200 type-2, 20\/20 type-3: 200 type-2 missing: 02:5c:00:00:00:01 10\.0\.0\.10, /,
    );
  }, 90_000);
});
