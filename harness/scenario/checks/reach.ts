/** One connection attempt with an explicit expectation (reach or drop). */
import { runMatrix } from '../../traffic/index.ts';
import { probeText } from '../parse.ts';
import type { ReachCheck } from '../types.ts';
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
      { positiveDeadlineMs: Math.max(1_000, check.withinMs), holdMs: 500, attemptMs: 250 },
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
