/**
 * BGP expectations: routes present/absent (optionally how many) with field values, read from the
 * route source of a node (the BGP tap peered with that route reflector; FRR's RIB as a fallback).
 * `vm: h1` in a match stands for the VM's MAC (and IP, for MAC/IP routes); `originator: leaf1`
 * stands for that node's VTEP address.
 */

import { HarnessError } from '../../util/errors.ts';
import type { ObservedRoute, ScenarioContext } from '../context.ts';
import { IntentIndex, isIpv4 } from '../intent.ts';
import type { CheckBase } from '../types.ts';
import { arr, type Obj } from '../values.ts';
import { type CheckDefinition, subsetMatches } from './types.ts';

export interface BgpCheck extends CheckBase {
  kind: 'bgp';
  /** Node whose RIB the tap listens to (a route reflector). */
  node: string;
  routes: BgpRouteExpectation[];
}

export interface BgpRouteExpectation {
  type: 2 | 3 | 5;
  present: boolean;
  /** How many such routes (exact), when given. */
  count: number | undefined;
  /** Field values the route must carry (vni, mac, ip, originator, rd, rt, nextHop, ...). */
  match: Record<string, unknown>;
  /** Extra fields checked on every matched route (label, pmsiTunnelType, encapsulation, ...). */
  fields: Record<string, unknown>;
}

async function resolveFields(
  fields: Record<string, unknown>,
  ctx: ScenarioContext,
): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = { ...fields };
  if (typeof out.vm === 'string') {
    const vm = new IntentIndex(ctx.intent).vm(out.vm);
    delete out.vm;
    // Without a MAC the match would be empty and match every route (validation refuses that).
    const mac = vm.mac ?? ctx.driver.locate(vm, ctx.driverContext()).mac;
    if (!mac) throw new HarnessError(`VM ${vm.name}: no MAC to match BGP routes on`);
    out.mac = mac.toLowerCase();
  }
  for (const key of ['originator', 'nextHop'] as const) {
    const v = out[key];
    if (typeof v === 'string' && ctx.lab.nodes.has(v)) out[key] = await ctx.vtepAddress(v);
  }
  if (typeof out.rt === 'string') out.rt = [out.rt];
  return out;
}

function describe(r: ObservedRoute): string {
  const parts = [`type-${r.type}`, `rd ${r.rd ?? '-'}`];
  if (r.mac) parts.push(`mac ${r.mac}`);
  if (r.ip) parts.push(`ip ${r.ip}`);
  if (r.prefix) parts.push(`prefix ${r.prefix}`);
  parts.push(`vni ${r.vni ?? '-'}`, `originator ${r.originator ?? '-'}`, `rt ${r.rt.join(',') || '-'}`);
  if (r.encapsulation !== undefined) parts.push(`encap ${r.encapsulation}`);
  if (r.pmsiTunnelType !== undefined) parts.push(`pmsi ${r.pmsiTunnelType}`);
  if (r.mobilitySeq !== undefined) parts.push(`mobility seq ${r.mobilitySeq}`);
  if (r.type === 5) parts.push(`router-mac ${r.routerMac ?? '-'}`, `gateway ${r.gateway ?? '-'}`);
  return parts.join(' ');
}

async function evaluateOne(
  exp: BgpRouteExpectation,
  routes: ObservedRoute[],
  ctx: ScenarioContext,
): Promise<string | undefined> {
  const match = await resolveFields(exp.match, ctx);
  const fields = await resolveFields(exp.fields, ctx);
  const matched = routes.filter((r) => r.type === exp.type && subsetMatches(r, match));
  const what = `type-${exp.type} route${Object.keys(match).length ? ` matching ${JSON.stringify(match)}` : ''}`;
  if (!exp.present)
    return matched.length === 0
      ? undefined
      : `expected no ${what}, found ${matched.length}: ${matched.map(describe).join('; ')}`;
  if (exp.count !== undefined && matched.length !== exp.count) {
    return `expected ${exp.count} ${what}, found ${matched.length}${matched.length ? `: ${matched.map(describe).join('; ')}` : ''}`;
  }
  if (matched.length === 0) return `expected a ${what}, found none`;
  const bad = matched.filter((r) => !subsetMatches(r, fields));
  if (bad.length > 0)
    return `${what}: fields ${JSON.stringify(fields)} not carried by ${bad.map(describe).join('; ')}`;
  return undefined;
}

export const bgp: CheckDefinition<BgpCheck> = {
  kind: 'bgp',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['node', 'routes'],
    properties: {
      node: { $ref: '#/definitions/name', description: 'Route reflector the tap peers with.' },
      routes: {
        type: 'array',
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['type'],
          properties: {
            type: { enum: [2, 3, 5] },
            present: { type: 'boolean' },
            count: { type: 'integer', minimum: 0 },
            match: { $ref: '#/definitions/routeFields' },
            fields: { $ref: '#/definitions/routeFields' },
          },
        },
      },
    },
  },
  traffic: false,
  parse(body, base) {
    const routes = arr(body.routes).map(
      (r): BgpRouteExpectation => ({
        type: r.type as 2 | 3 | 5,
        present: r.present !== false,
        count: r.count as number | undefined,
        match: (r.match as Obj | undefined) ?? {},
        fields: (r.fields as Obj | undefined) ?? {},
      }),
    );
    return {
      ...base,
      name:
        base.name ||
        `BGP routes at ${String(body.node)}: ${routes.map((r) => `type-${r.type}${r.present ? '' : ' absent'}`).join(', ')}`,
      kind: 'bgp',
      node: String(body.node),
      routes,
    };
  },
  references(ctx, body, at) {
    const { refs } = ctx;
    refs.node([...at, 'node'], body.node);
    arr(body.routes).forEach((r, j) => {
      for (const part of ['match', 'fields'] as const) {
        const fields = (r[part] ?? {}) as Obj;
        if (typeof fields.vm === 'string' && !ctx.vms.has(fields.vm)) {
          refs.unknown([...at, 'routes', j, part, 'vm'], 'VM', fields.vm, ctx.vms);
        } else if (typeof fields.vm === 'string' && !ctx.vmsWithMac.has(fields.vm)) {
          refs.error(
            [...at, 'routes', j, part, 'vm'],
            `VM '${fields.vm}' has no 'mac:' in the intent, so 'vm: ${fields.vm}' would ${part === 'match' ? 'match every route' : 'check nothing'}`,
            `give ${fields.vm} a MAC in intent.vms (e.g. mac: "02:00:00:00:00:11")`,
          );
        }
        if (typeof fields.originator === 'string' && !isIpv4(fields.originator)) {
          refs.node([...at, 'routes', j, part, 'originator'], fields.originator);
        }
      }
    });
  },
  selfPolling: false,
  async evaluate(check, ctx) {
    const source = await ctx.routes(check.node);
    const routes = await source.routes();
    // Read in the same tick as the routes: the RIB has been as it is since its last change arrived.
    const changedAt = source.changedAt?.();
    const problems: string[] = [];
    // "Absent" and "exactly N" are only proven against the whole RIB; "present" is proven by the route.
    const incomplete = check.routes.some((r) => !r.present || r.count !== undefined)
      ? source.incomplete()
      : undefined;
    if (incomplete)
      problems.push(
        `${check.node}'s RIB is not known complete: ${incomplete}, so an absent route or a route count proves nothing yet`,
      );
    for (const exp of check.routes) {
      const problem = await evaluateOne(exp, routes, ctx);
      if (problem) problems.push(problem);
    }
    return {
      ok: problems.length === 0,
      summary:
        problems.length === 0
          ? `${check.routes.length} route expectations hold (${source.kind})`
          : problems.join('\n'),
      attachments: [
        {
          name: `BGP routes at ${check.node} (${source.kind})`,
          content: routes.map(describe).join('\n') || '(none)',
          type: 'text/plain',
        },
      ],
      nodes: [check.node],
      ...(changedAt !== undefined ? { observedAt: changedAt - performance.timeOrigin } : {}),
    };
  },
};
