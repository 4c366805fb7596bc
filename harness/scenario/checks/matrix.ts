/**
 * Reachability matrix: expected cells from the oracle (intent + faults in force + overrides),
 * actual cells from the traffic engine; attachments: expected/actual/diff as Markdown and HTML, plus
 * the oracle's reason for every cell.
 *
 * Every probe is a round trip (TCP handshake, UDP echo, ICMP echo), so a cell passes as `allowed`
 * only when the request AND its reply get through: the expected round trip is the oracle's request
 * verdict combined with its reply verdict. Unsolicited traffic the other way (SG-2) is a cell of its
 * own, from the service port (`tcp/40000 sport 80`).
 */
import { type ExpectedCell, expectedMatrix, probeKey } from '../../oracle/index.ts';
import {
  columnKey,
  type MatrixCell,
  type MatrixEndpoint,
  type MatrixResult,
  renderMatrix,
  runMatrix,
} from '../../traffic/index.ts';
import { endpoint } from '../refs.ts';
import type { CheckBase, ProbeSpec } from '../types.ts';
import { arr, parseProbe, probeText, strs } from '../values.ts';
import { attemptFor, MATRIX_HOLD_MS, positiveDeadline } from './timing.ts';
import type { CheckDefinition, CheckResult } from './types.ts';

export interface MatrixCheck extends CheckBase {
  kind: 'matrix';
  probes: ProbeSpec[];
  /** Endpoints (VM names, `ext:<name>`) to include; all attached VMs by default. */
  among: string[] | undefined;
  overrides: MatrixOverride[];
}

export interface MatrixOverride {
  from: string;
  to: string;
  probe: string | undefined;
  expect: 'reach' | 'drop';
  reason: string | undefined;
}

export const matrix: CheckDefinition<MatrixCheck> = {
  kind: 'matrix',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      probes: { type: 'array', items: { $ref: '#/definitions/probe' } },
      among: { type: 'array', items: { type: 'string' } },
      overrides: {
        type: 'array',
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['from', 'to', 'expect'],
          properties: {
            from: { type: 'string' },
            to: { type: 'string' },
            probe: { $ref: '#/definitions/probe' },
            expect: { enum: ['reach', 'drop'] },
            reason: { type: 'string' },
          },
        },
      },
    },
  },
  traffic: true,
  parse(body, base) {
    const probes = ((body.probes as string[] | undefined) ?? ['icmp']).map(parseProbe);
    return {
      ...base,
      name: base.name || `reachability matrix (${probes.map(probeText).join(', ')})`,
      kind: 'matrix',
      probes,
      among: body.among as string[] | undefined,
      overrides: arr(body.overrides).map(
        (o): MatrixOverride => ({
          from: String(o.from),
          to: String(o.to),
          probe: o.probe as string | undefined,
          expect: o.expect as 'reach' | 'drop',
          reason: o.reason as string | undefined,
        }),
      ),
    };
  },
  references(ctx, body, at) {
    strs(body.among).forEach((n, j) => {
      endpoint(ctx, [...at, 'among', j], n);
    });
    arr(body.overrides).forEach((o, j) => {
      endpoint(ctx, [...at, 'overrides', j, 'from'], o.from, true);
      endpoint(ctx, [...at, 'overrides', j, 'to'], o.to, true);
    });
  },
  minimumMs: () => ({
    ms: MATRIX_HOLD_MS,
    why: `expected-dropped cells must stay dropped for ${MATRIX_HOLD_MS} ms`,
    listens: false,
  }),
  selfPolling: true,
  async evaluate(check, ctx): Promise<CheckResult> {
    const expected = expectedMatrix(ctx.intent, {
      among: check.among,
      probes: check.probes,
      down: ctx.down,
      overrides: check.overrides,
    });
    const cells: MatrixCell[] = expected.map((cell) => {
      const from = ctx.endpoint(cell.from);
      const to = ctx.endpoint(cell.to);
      const dest: MatrixEndpoint = { name: to.name, netnsPath: to.target.netnsPath, address: cell.address };
      return {
        from: from.target,
        to: dest,
        proto: cell.probe.proto,
        ...(cell.probe.port !== undefined ? { port: cell.probe.port } : {}),
        ...(cell.probe.sport !== undefined ? { sport: cell.probe.sport } : {}),
        expected: roundTrip(cell) === 'reach' ? 'allowed' : 'blocked',
      };
    });
    // Expected-reachable cells first (retried until `within`), then the expected-dropped ones: a drop
    // observed before the network has shown it converged proves nothing.
    const positive = cells.filter((c) => c.expected === 'allowed');
    const negative = cells.filter((c) => c.expected !== 'allowed');
    const positiveDeadlineMs = positiveDeadline(check.withinMs, negative.length > 0 ? MATRIX_HOLD_MS : 0);
    const options = { positiveDeadlineMs, holdMs: MATRIX_HOLD_MS, attemptMs: attemptFor(positiveDeadlineMs) };
    const parts = [
      ...(positive.length ? [await runMatrix(ctx.traffic, positive, options)] : []),
      ...(negative.length ? [await runMatrix(ctx.traffic, negative, options)] : []),
    ];
    const result = mergeResults(parts);
    const reasons = [
      '| from | to | probe | request | reply | round trip | why (oracle) |',
      '|---|---|---|---|---|---|---|',
      ...expected.map(
        (c) =>
          `| ${c.from} | ${c.to} | ${probeKey(c.probe)} | ${c.verdict} | ${c.reply} | ${roundTrip(c)} | ${c.reason.replace(/\|/g, '\\|')} |`,
      ),
    ].join('\n');
    const md = (views: Parameters<typeof renderMatrix>[2]) => renderMatrix(result, 'markdown', views);
    const attachments = [
      { name: 'matrix expected (Markdown)', content: md(['expected']), type: 'text/markdown' },
      { name: 'matrix actual (Markdown)', content: md(['actual']), type: 'text/markdown' },
      { name: 'matrix diff (Markdown)', content: md(['mismatch']), type: 'text/markdown' },
      {
        name: 'matrix expected/actual/diff (HTML)',
        content: renderMatrix(result, 'html'),
        type: 'text/html',
      },
      { name: 'oracle reasons', content: reasons, type: 'text/markdown' },
    ];
    const byKey = new Map(expected.map((c) => [`${c.from}|${c.to}|${probeKey(c.probe)}`, c]));
    const lines = result.mismatches.slice(0, 10).map((m) => {
      const probe = columnKey(m.cell.proto, m.cell.port, m.cell.sport);
      const oracle = byKey.get(`${m.cell.from.name}|${m.cell.to.name}|${probe}`);
      const legs = oracle ? `request ${oracle.verdict}, reply ${oracle.reply}: ` : '';
      return `${m.cell.from.name} → ${m.cell.to.name} ${probe}: expected ${m.cell.expected}, got ${m.actual} (${legs}${oracle?.reason ?? ''})`;
    });
    const summary = result.ok
      ? `${result.cells.length} cells as expected`
      : `${result.mismatches.length} of ${result.cells.length} cells differ from the intent:\n${lines.join('\n')}${result.mismatches.length > 10 ? '\n...' : ''}`;
    const nodes = [...new Set(result.mismatches.flatMap((m) => [m.cell.from.name, m.cell.to.name]))].flatMap(
      (name) => {
        const vm = ctx.intent.vms.find((v) => v.name === name);
        return vm ? [vm.hypervisor] : [];
      },
    );
    return { ok: result.ok, summary, attachments, nodes: [...new Set(nodes)] };
  },
};

/** What a round-trip probe must show: reach only when the request and its reply both pass. */
export function roundTrip(cell: Pick<ExpectedCell, 'verdict' | 'reply'>): 'reach' | 'drop' {
  return cell.verdict === 'reach' && cell.reply === 'reach' ? 'reach' : 'drop';
}

/** One MatrixResult from the results of several runs over disjoint cells. */
export function mergeResults(parts: MatrixResult[]): MatrixResult {
  const union = (pick: (r: MatrixResult) => string[]) => [...new Set(parts.flatMap(pick))];
  const cells = parts.flatMap((r) => r.cells);
  const elapsedMs = parts.reduce((sum, r) => sum + r.elapsedMs, 0);
  return {
    ok: parts.every((r) => r.ok),
    cells,
    mismatches: parts.flatMap((r) => r.mismatches),
    sources: union((r) => r.sources),
    destinations: union((r) => r.destinations),
    columns: union((r) => r.columns),
    elapsedMs,
    probesPerSecond: elapsedMs > 0 ? (cells.length * 1000) / elapsedMs : 0,
  };
}
