/** One connection attempt with an explicit expectation (reach or drop). */
import { Oracle } from '../../oracle/index.ts';
import { runMatrix } from '../../traffic/index.ts';
import { endpoint } from '../refs.ts';
import type { CheckBase, ProbeSpec } from '../types.ts';
import { parseProbe, probeText } from '../values.ts';
import { attemptFor, MATRIX_HOLD_MS, positiveDeadline } from './timing.ts';
import type { CheckDefinition } from './types.ts';

export interface ReachCheck extends CheckBase {
  kind: 'reach';
  from: string;
  to: string;
  probe: ProbeSpec;
  expect: 'reach' | 'drop';
}

export const reach: CheckDefinition<ReachCheck> = {
  kind: 'reach',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['from', 'to'],
    properties: {
      from: { type: 'string' },
      to: { type: 'string' },
      probe: { $ref: '#/definitions/probe' },
      expect: { enum: ['reach', 'drop'] },
    },
  },
  traffic: true,
  parse(body, base) {
    const probe = parseProbe((body.probe as string | undefined) ?? 'icmp');
    const expect = (body.expect as 'reach' | 'drop' | undefined) ?? 'reach';
    return {
      ...base,
      name:
        base.name ||
        `${String(body.from)} ${expect === 'reach' ? '→' : '↛'} ${String(body.to)} (${probeText(probe)})`,
      kind: 'reach',
      from: String(body.from),
      to: String(body.to),
      probe,
      expect,
    };
  },
  references(ctx, body, at) {
    endpoint(ctx, [...at, 'from'], body.from);
    endpoint(ctx, [...at, 'to'], body.to);
  },
  minimumMs: (body) =>
    body.expect === 'drop'
      ? { ms: MATRIX_HOLD_MS, why: `a drop must hold for ${MATRIX_HOLD_MS} ms`, listens: false }
      : undefined,
  selfPolling: true,
  async evaluate(check, ctx) {
    const from = ctx.endpoint(check.from);
    const to = ctx.endpoint(check.to);
    // The address the source sends to, from the intent: an outside host reaches a VM on its floating IP.
    const address =
      new Oracle(ctx.intent, ctx.down).cell(check.from, check.to, check.probe).address || to.address;
    const positiveDeadlineMs = positiveDeadline(check.withinMs, 0);
    const result = await runMatrix(
      ctx.traffic,
      [
        {
          from: from.target,
          to: { name: to.name, netnsPath: to.target.netnsPath, address },
          proto: check.probe.proto,
          ...(check.probe.port !== undefined ? { port: check.probe.port } : {}),
          ...(check.probe.sport !== undefined ? { sport: check.probe.sport } : {}),
          expected: check.expect === 'reach' ? 'allowed' : 'blocked',
        },
      ],
      { positiveDeadlineMs, holdMs: MATRIX_HOLD_MS, attemptMs: attemptFor(positiveDeadlineMs) },
    );
    const cell = result.cells[0]!;
    const hv = ctx.intent.vms
      .filter((v) => v.name === check.from || v.name === check.to)
      .map((v) => v.hypervisor);
    return {
      ok: result.ok,
      summary: `${check.from} → ${check.to} (${address}) ${probeText(check.probe)}: expected ${check.expect}, got ${cell.actual}${cell.probe.detail ? ` (${cell.probe.detail})` : ''}`,
      attachments: [],
      nodes: hv,
    };
  },
};
