/**
 * VPNv4 expectations (RFC 4364) at an FRR node: `routes` that its VPNv4 table must hold (or not), with
 * route distinguisher, route target, next hop and label, read as typed JSON from vtysh (the control
 * plane); `labels` that its kernel MPLS table must hold (the data plane: the labels it advertises,
 * popped into their VRF). A kernel without MPLS makes the `labels` part a skip naming the reason.
 * With `source: tap` the routes are those on the wire: the BGP tap peered with the node in VPNv4
 * (node labels `otwin.bgp-tap.*`, `otwin.bgp-tap.families: vpnv4`) decodes them itself (docs/bgp.md).
 */
import type { Attachment } from '../../report/reporter.ts';
import { HarnessError } from '../../util/errors.ts';
import { type ObservedVpnRoute, type RouteSource, type ScenarioContext, SkipError } from '../context.ts';
import type { Refs } from '../refs.ts';
import type { Path } from '../schema.ts';
import type { CheckBase } from '../types.ts';
import { arr, type Obj } from '../values.ts';
import { vtyshJson } from './routes-vtysh.ts';
import { TAP_FAMILIES_LABEL, tapFamiliesOf } from './tap-families.ts';
import type { CheckDefinition } from './types.ts';

export interface VpnRouteExpectation {
  prefix: string;
  present: boolean;
  /** Route distinguisher (`ASN:NN` or `IP:NN`); any when undefined. */
  rd: string | undefined;
  /** A route target the route must carry. */
  rt: string | undefined;
  nextHop: string | undefined;
  /** The VPN label: a number, `'*'` for any label, undefined for not checked. */
  label: number | '*' | undefined;
}

/** Where the VPNv4 routes are read: FRR's table through vtysh, or the wire through the node's BGP tap. */
export type VpnRouteSource = 'vtysh' | 'tap';

export interface VpnCheck extends CheckBase {
  kind: 'vpn';
  node: string;
  source: VpnRouteSource;
  routes: VpnRouteExpectation[];
  /** Labels the node's kernel MPLS forwarding table must hold. */
  labels: number[];
}

/** One path of a VPNv4 route as FRR holds it or the tap decoded it. */
export type VpnRoute = ObservedVpnRoute;

const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

function routeTargets(path: Obj): string[] {
  const ext = path.extendedCommunity;
  const text = isObj(ext) ? String(ext.string ?? '') : '';
  return text
    .split(/\s+/)
    .filter((p) => p.startsWith('RT:'))
    .map((p) => p.slice(3));
}

function nextHopOf(path: Obj): string | undefined {
  const hops = Array.isArray(path.nexthops) ? (path.nexthops as unknown[]) : [];
  const first = hops.find(isObj);
  return first && typeof first.ip === 'string' ? first.ip : undefined;
}

/**
 * The paths of FRR's per-prefix VPNv4 JSON (`show bgp ipv4 vpn <prefix> json`): one object per route
 * distinguisher, keyed by it, each with `prefix` and `paths` (FRR 8.4). The summary table omits route
 * targets and labels, so they come from here.
 */
export function vpnRoutesOf(detail: Obj, prefix: string): VpnRoute[] {
  const out: VpnRoute[] = [];
  for (const [rd, entry] of Object.entries(detail)) {
    if (!isObj(entry) || !Array.isArray(entry.paths)) continue;
    for (const path of entry.paths as unknown[]) {
      if (!isObj(path)) continue;
      const best = path.bestpath;
      out.push({
        rd,
        prefix: String(entry.prefix ?? prefix),
        nextHop: nextHopOf(path),
        rt: routeTargets(path),
        label: typeof path.remoteLabel === 'number' ? path.remoteLabel : undefined,
        valid: path.valid === true,
        best: isObj(best) ? best.overall === true : best === true,
      });
    }
  }
  return out;
}

function show(r: VpnRoute): string {
  return `rd ${r.rd} ${r.prefix} next hop ${r.nextHop ?? '-'} rt ${r.rt.join(',') || '-'} label ${r.label ?? '-'}${r.valid ? '' : ' (invalid)'}`;
}

function problemOf(exp: VpnRouteExpectation, routes: VpnRoute[]): string | undefined {
  const candidates = routes.filter((r) => r.prefix === exp.prefix && (!exp.rd || r.rd === exp.rd));
  const where = `${exp.prefix}${exp.rd ? ` rd ${exp.rd}` : ''}`;
  if (!exp.present)
    return candidates.length === 0
      ? undefined
      : `expected no VPNv4 route ${where}, found ${candidates.map(show).join('; ')}`;
  if (candidates.length === 0) {
    const others = routes.filter((r) => r.prefix === exp.prefix);
    return `no VPNv4 route ${where}${others.length ? ` (found ${others.map(show).join('; ')})` : ''}`;
  }
  const fits = candidates.filter(
    (r) =>
      r.valid &&
      (!exp.rt || r.rt.includes(exp.rt)) &&
      (!exp.nextHop || r.nextHop === exp.nextHop) &&
      (exp.label === undefined || (exp.label === '*' ? r.label !== undefined : r.label === exp.label)),
  );
  if (fits.length > 0) return undefined;
  const want = [
    'valid',
    exp.rt && `rt ${exp.rt}`,
    exp.nextHop && `next hop ${exp.nextHop}`,
    exp.label !== undefined && `label ${exp.label === '*' ? 'any' : exp.label}`,
  ]
    .filter(Boolean)
    .join(', ');
  return `VPNv4 route ${where}: expected ${want}, found ${candidates.map(show).join('; ')}`;
}

/** With `source: tap` the lab must give the node a tap that asks for VPNv4 (node labels, docs/bgp.md). */
function tapReferences(refs: Refs, node: unknown, path: Path): void {
  const labels = typeof node === 'string' ? refs.lab.nodes.get(node)?.labels : undefined;
  if (!labels) return; // an unknown node is reported by refs.node
  const fix = `give ${String(node)} in ${refs.lab.file} the labels otwin.bgp-tap.address, otwin.bgp-tap.peer and ${TAP_FAMILIES_LABEL}: vpnv4, and activate the tap's peer group in its frr.conf's address-family ipv4 vpn (docs/bgp.md)`;
  if (!labels['otwin.bgp-tap.peer']) {
    refs.error(path, `lab node '${String(node)}' has no BGP tap (no label otwin.bgp-tap.peer)`, fix);
    return;
  }
  try {
    if (!tapFamiliesOf(String(node), labels[TAP_FAMILIES_LABEL]).includes('ipv4-vpn'))
      refs.error(
        path,
        `the BGP tap of lab node '${String(node)}' does not ask for VPNv4 (label ${TAP_FAMILIES_LABEL}: ${labels[TAP_FAMILIES_LABEL] ?? 'absent, so evpn'})`,
        fix,
      );
  } catch (err) {
    refs.error(path, (err as Error).message, fix);
  }
}

/**
 * The VPNv4 routes the node's BGP tap decoded, with why they may not be the node's whole table yet
 * when an absent route is expected; or why the tap cannot answer.
 */
async function tapVpnRoutes(
  check: VpnCheck,
  ctx: ScenarioContext,
): Promise<{ routes: VpnRoute[]; incomplete: string | undefined } | string> {
  const source: RouteSource = await ctx.routes(check.node);
  if (source.kind !== 'tap' || !source.vpnRoutes)
    return `${check.node}: no BGP tap is peered with it (its routes come from ${source.kind}; the log says why), so nothing on the wire can be checked`;
  const routes = await source.vpnRoutes();
  const incomplete = check.routes.some((r) => !r.present) ? source.incomplete() : undefined;
  return {
    routes,
    incomplete: incomplete
      ? `${check.node}'s VPNv4 table is not known complete at the tap: ${incomplete}, so an absent route proves nothing yet`
      : undefined,
  };
}

async function evaluateLabels(check: VpnCheck, ctx: ScenarioContext): Promise<string[]> {
  const node = ctx.node(check.node);
  // The kernel's MPLS forwarding (mpls_router) shows itself as /proc/sys/net/mpls.
  const probe = await node.exec(['cat', '/proc/sys/net/mpls/platform_labels'], { timeoutMs: 10_000 });
  if (probe.exitCode !== 0)
    throw new SkipError(
      `no MPLS forwarding in this kernel (/proc/sys/net/mpls absent on ${check.node}): the VPNv4 data plane (labels ${check.labels.join(', ')}) cannot be checked`,
    );
  const r = await node.exec(['ip', '-j', '-f', 'mpls', 'route', 'show'], { timeoutMs: 10_000 });
  if (r.exitCode !== 0)
    throw new HarnessError(`${check.node}: ip -j -f mpls route show: ${(r.stderr || r.stdout).trim()}`);
  const rows = (r.stdout.trim() ? JSON.parse(r.stdout) : []) as Obj[];
  const have = new Set(rows.map((row) => String(row.dst)));
  return check.labels
    .filter((l) => !have.has(String(l)))
    .map((l) => `label ${l} not in ${check.node}'s MPLS forwarding table`);
}

export const vpn: CheckDefinition<VpnCheck> = {
  kind: 'vpn',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['node'],
    properties: {
      node: { $ref: '#/definitions/name' },
      source: {
        description:
          "Where the routes are read: 'vtysh' (the node's VPNv4 table, default) or 'tap' (on the wire, decoded by the BGP tap peered with the node; needs the label otwin.bgp-tap.families to name vpnv4).",
        enum: ['vtysh', 'tap'],
      },
      routes: {
        type: 'array',
        minItems: 1,
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['prefix'],
          properties: {
            prefix: { type: 'string', pattern: '^\\d+\\.\\d+\\.\\d+\\.\\d+/\\d+$' },
            present: { type: 'boolean' },
            rd: { type: 'string', pattern: '^[^:]+:\\d+$' },
            rt: { type: 'string', pattern: '^[^:]+:\\d+$' },
            nextHop: { type: 'string' },
            label: { anyOf: [{ type: 'integer', minimum: 0, maximum: 1048575 }, { const: '*' }] },
          },
        },
      },
      labels: {
        description: "Labels the node's kernel MPLS table must hold (data plane); skipped without MPLS.",
        type: 'array',
        minItems: 1,
        items: { type: 'integer', minimum: 16, maximum: 1048575 },
      },
    },
  },
  traffic: false,
  selfPolling: false,
  parse(body, base) {
    const routes = arr(body.routes).map((r) => ({
      prefix: String(r.prefix),
      present: r.present !== false,
      rd: r.rd as string | undefined,
      rt: r.rt as string | undefined,
      nextHop: r.nextHop as string | undefined,
      label: r.label as number | '*' | undefined,
    }));
    const labels = (body.labels as number[] | undefined) ?? [];
    const node = String(body.node);
    const what = routes.length
      ? `VPNv4 routes ${[...new Set(routes.map((r) => r.prefix))].join(', ')}`
      : `MPLS labels ${labels.join(', ')}`;
    const source = (body.source as VpnRouteSource | undefined) ?? 'vtysh';
    const at = source === 'tap' ? `on the wire at ${node}'s BGP tap` : `at ${node}`;
    return { ...base, name: base.name || `${what} ${at}`, kind: 'vpn', node, source, routes, labels };
  },
  references(ctx, body, at) {
    ctx.refs.node([...at, 'node'], body.node);
    if (body.routes === undefined && body.labels === undefined)
      ctx.refs.error(
        at,
        "a 'vpn' check needs 'routes' (VPNv4 table, control plane) or 'labels' (MPLS table, data plane)",
      );
    if (body.source === 'tap') tapReferences(ctx.refs, body.node, [...at, 'source']);
    if (body.source === 'tap' && body.labels !== undefined)
      ctx.refs.error(
        [...at, 'labels'],
        "'labels' reads the node's kernel MPLS table, which the BGP tap does not see",
        "put the labels in a 'vpn' check without 'source: tap'",
      );
  },
  async evaluate(check, ctx) {
    const problems: string[] = [];
    const attachments: Attachment[] = [];
    const routes: VpnRoute[] = [];
    let tapless = false;
    if (check.source === 'tap') {
      const read = await tapVpnRoutes(check, ctx);
      if (typeof read === 'string') {
        problems.push(read);
        tapless = true;
      } else {
        routes.push(...read.routes);
        if (read.incomplete) problems.push(read.incomplete);
        attachments.push({
          name: `VPNv4 routes on the wire at ${check.node} (BGP tap)`,
          content: routes.map(show).join('\n') || '(none)',
          type: 'text/plain',
        });
      }
    } else
      for (const prefix of new Set(check.routes.map((r) => r.prefix))) {
        const command = `show bgp ipv4 vpn ${prefix} json`;
        const detail = await vtyshJson(ctx.node(check.node), command);
        attachments.push({
          name: `${check.node}: vtysh -c '${command}'`,
          content: JSON.stringify(detail, null, 2),
          type: 'application/json',
        });
        routes.push(...vpnRoutesOf(detail, prefix));
      }
    if (!tapless)
      for (const exp of check.routes) {
        const problem = problemOf(exp, routes);
        if (problem) problems.push(problem);
      }
    if (check.labels.length) problems.push(...(await evaluateLabels(check, ctx)));
    return {
      ok: problems.length === 0,
      summary:
        problems.length === 0
          ? `${check.node}: ${routes.map(show).join('; ') || `labels ${check.labels.join(', ')} installed`}`
          : `${check.node}: ${problems.join('; ')}`,
      attachments,
      nodes: [check.node],
    };
  },
};
