/** Captures: pcaps on several points while a stimulus is sent; counts per point (L2-2: one copy per VTEP). */
import type { CaptureCheck } from '../types.ts';
import { countProblem, sniffWhileSending } from './sniff.ts';
import type { CheckHandler } from './types.ts';

export const capture: CheckHandler<CaptureCheck> = {
  selfPolling: false,
  async evaluate(check, ctx) {
    const { results, attachments, notReady } = await sniffWhileSending(
      ctx,
      check.points,
      check.stimulus,
      check.durationMs,
      check.withinMs,
    );
    const problems = [
      ...(notReady ? [notReady] : []),
      ...results
        .map((r) => countProblem(r.point, r.packets.length))
        .filter((p): p is string => p !== undefined),
    ];
    const counts = results.map((r) => `${r.point.node}:${r.point.iface}=${r.packets.length}`).join(', ');
    return {
      ok: problems.length === 0,
      summary: problems.length === 0 ? `captured as expected (${counts})` : problems.join('\n'),
      attachments,
      nodes: [...new Set(check.points.map((p) => p.node))],
    };
  },
};
