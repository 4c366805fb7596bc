/** One connection attempt with an explicit expectation (reach or drop). */
import { runMatrix } from '../../traffic/index.ts';
import type { ReachCheck } from '../types.ts';
import { probeText } from '../values.ts';
import { ATTEMPT_MS, MATRIX_HOLD_MS, positiveDeadline } from './timing.ts';
import type { CheckHandler } from './types.ts';

export const reach: CheckHandler<ReachCheck> = {
  selfPolling: true,
  async evaluate(check, ctx) {
    const from = ctx.endpoint(check.from);
    const to = ctx.endpoint(check.to);
    const result = await runMatrix(
      ctx.traffic,
      [
        {
          from: from.target,
          to: { name: to.name, netnsPath: to.target.netnsPath, address: to.address },
          proto: check.probe.proto,
          ...(check.probe.port !== undefined ? { port: check.probe.port } : {}),
          expected: check.expect === 'reach' ? 'allowed' : 'blocked',
        },
      ],
      {
        positiveDeadlineMs: positiveDeadline(check.withinMs, 0),
        holdMs: MATRIX_HOLD_MS,
        attemptMs: ATTEMPT_MS,
      },
    );
    const cell = result.cells[0]!;
    const hv = ctx.intent.vms
      .filter((v) => v.name === check.from || v.name === check.to)
      .map((v) => v.hypervisor);
    return {
      ok: result.ok,
      summary: `${check.from} → ${check.to} (${to.address}) ${probeText(check.probe)}: expected ${check.expect}, got ${cell.actual}${cell.probe.detail ? ` (${cell.probe.detail})` : ''}`,
      attachments: [],
      nodes: hv,
    };
  },
};
