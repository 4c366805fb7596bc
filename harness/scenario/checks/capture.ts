/** Captures: pcaps on several points while a stimulus is sent; counts per point (L2-2: one copy per VTEP). */

import { vmOrNode } from '../refs.ts';
import type { CapturePoint, CheckBase, PacketSend } from '../types.ts';
import { arr, durationOr, type Obj } from '../values.ts';
import { countProblem, parsePoint, parseSend, sniffWhileSending } from './sniff.ts';
import { type CheckDefinition, listenMs } from './types.ts';

export interface CaptureCheck extends CheckBase {
  kind: 'capture';
  points: CapturePoint[];
  /** What is sent while the captures run. */
  stimulus: PacketSend;
  durationMs: number;
}

export const capture: CheckDefinition<CaptureCheck> = {
  kind: 'capture',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['points', 'send'],
    properties: {
      points: { type: 'array', minItems: 1, items: { $ref: '#/definitions/capturePoint' } },
      send: { $ref: '#/definitions/send' },
      duration: { $ref: '#/definitions/duration' },
    },
  },
  traffic: true,
  captureWindow: true,
  parse(body, base) {
    const send = parseSend(body.send as Obj);
    return {
      ...base,
      name: base.name || `capture while ${send.from} sends ${send.type}`,
      kind: 'capture',
      points: arr(body.points).map(parsePoint),
      stimulus: send,
      durationMs: durationOr(body.duration, 2000),
    };
  },
  references(ctx, body, at) {
    // A capture point is a lab node or a VM (its interface: captures inside the VM).
    arr(body.points).forEach((p, j) => {
      vmOrNode(ctx, [...at, 'points', j, 'node'], p.node);
      if (p.count === undefined && p.min === undefined && p.max === undefined)
        ctx.refs.error(
          [...at, 'points', j],
          'a capture point needs a bound on its packet count (count, min or max): without one it checks nothing',
          'e.g. `count: 1` (exactly one copy), `min: 1`, or `count: 0` (nothing may come out there)',
        );
    });
    vmOrNode(ctx, [...at, 'send', 'from'], (body.send as Obj | undefined)?.from);
  },
  minimumMs: (body) => ({ ms: listenMs(body, 2000), why: 'it listens for its duration', listens: true }),
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
