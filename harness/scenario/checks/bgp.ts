/**
 * BGP expectations: routes present/absent (optionally how many) with field values, read from the
 * route source of a node (the BGP tap peered with that route reflector; FRR's RIB as a fallback).
 * `vm: h1` in a match stands for the VM's MAC (and IP, for MAC/IP routes); `originator: leaf1`
 * stands for that node's VTEP address.
 */

import { HarnessError } from '../../util/errors.ts';
import type { ObservedRoute, ScenarioContext } from '../context.ts';
import { IntentIndex } from '../intent.ts';
import type { BgpCheck, BgpRouteExpectation } from '../types.ts';
import { type CheckHandler, subsetMatches } from './types.ts';

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

export const bgp: CheckHandler<BgpCheck> = {
  selfPolling: false,
  async evaluate(check, ctx) {
    const source = await ctx.routes(check.node);
    const routes = await source.routes();
    const problems: string[] = [];
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
    };
  },
};
