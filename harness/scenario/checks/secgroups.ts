/**
 * SG-4 on the wire: every type-2 route of each VM, as the BGP tap on `node` decodes it, carries
 * exactly one security-group community per group the VM is in now (intent), with the id the
 * implementation allocated for that group (driver.securityGroupIds: the harness never guesses ids),
 * and no other. The result attaches the decoded communities, so a check before and one after a
 * membership change show both states.
 */
import { HarnessError } from '../../util/errors.ts';
import type { ObservedRoute } from '../context.ts';
import { IntentIndex } from '../intent.ts';
import { knownVm } from '../refs.ts';
import type { CheckBase } from '../types.ts';
import { strs } from '../values.ts';
import type { CheckDefinition } from './types.ts';

/**
 * SG-4: the security-group communities on each VM's type-2 routes (tap on `node`) are exactly the
 * implementation's ids of the VM's current groups.
 */
export interface SecgroupsCheck extends CheckBase {
  kind: 'secgroups';
  node: string;
  vms: string[];
  /**
   * What the route-carrying path does with the communities (FED-4): `keep` (default) = exactly the
   * VM's groups; `strip` = a federation policy between the VM's zone and `node` removes them: none.
   */
  policy: 'keep' | 'strip';
}

/** `secgroup:<asn>:<id>` -> id. */
function groupId(community: string): number {
  return Number(community.slice(community.lastIndexOf(':') + 1));
}

function sameIds(a: number[], b: number[]): boolean {
  const x = [...a].sort((p, q) => p - q);
  const y = [...b].sort((p, q) => p - q);
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

export const secgroups: CheckDefinition<SecgroupsCheck> = {
  kind: 'secgroups',
  schema: {
    description:
      "SG-4: every type-2 route of each VM (BGP tap at `node`) carries exactly one security-group community (secgroup:<asn>:<id>) per group the VM is in now, with the implementation's id for it.",
    type: 'object',
    additionalProperties: false,
    required: ['node', 'vms'],
    properties: {
      node: { $ref: '#/definitions/name', description: 'The route reflector the tap peers with.' },
      vms: { type: 'array', minItems: 1, items: { $ref: '#/definitions/name' } },
      policy: {
        enum: ['keep', 'strip'],
        description:
          "FED-4: the federation policy between the VMs' zone and `node`: `keep` (default) expects exactly their groups' communities, `strip` none.",
      },
    },
  },
  traffic: false,
  parse(body, base) {
    const vms = strs(body.vms);
    return {
      ...base,
      name: base.name || `security-group communities of ${vms.join(', ')} at ${String(body.node)}`,
      kind: 'secgroups',
      node: String(body.node),
      vms,
      policy: body.policy === 'strip' ? 'strip' : 'keep',
    };
  },
  references(ctx, body, at) {
    ctx.refs.node([...at, 'node'], body.node);
    strs(body.vms).forEach((vm, j) => {
      knownVm(ctx, [...at, 'vms', j], vm);
    });
  },
  selfPolling: false,
  async evaluate(check, ctx) {
    const idsOf = ctx.driver.securityGroupIds;
    // skipReason() skips scenarios with this check on drivers without it; this is the last guard.
    if (!idsOf)
      throw new HarnessError(`implementation ${ctx.driver.name} does not report security-group ids`);
    const ids = await idsOf.call(ctx.driver, ctx.driverContext());
    const source = await ctx.routes(check.node);
    const routes = await source.routes();
    const index = new IntentIndex(ctx.intent);
    const problems: string[] = [];
    const table = [
      '| VM | groups (intent) | expected ids | route | secgroup communities |',
      '|---|---|---|---|---|',
    ];
    for (const name of check.vms) {
      const vm = index.vm(name);
      const mac = (vm.mac ?? ctx.driver.locate(vm, ctx.driverContext()).mac)?.toLowerCase();
      if (!mac) throw new HarnessError(`VM ${name}: no MAC to find its routes by`);
      const missing = vm.groups.filter((g) => !ids.has(g));
      if (missing.length)
        throw new HarnessError(
          `implementation ${ctx.driver.name} reports no id for group(s) ${missing.join(', ')} of VM ${name}`,
        );
      const want = check.policy === 'strip' ? [] : vm.groups.map((g) => ids.get(g)!);
      const mine = routes.filter((r: ObservedRoute) => r.type === 2 && r.mac === mac);
      if (mine.length === 0) problems.push(`${name}: no type-2 route for ${mac} at ${check.node}`);
      for (const r of mine) {
        if (r.secgroups === undefined)
          throw new HarnessError(
            `the route source at ${check.node} (${source.kind}) does not decode security-group communities: SG checks need the BGP tap`,
          );
        const route = `${r.ip ? `${mac}/${r.ip}` : mac} via ${r.nextHop ?? '-'}`;
        table.push(
          `| ${name} | ${vm.groups.join(', ') || '(none)'} | ${want.join(', ') || '(none)'} | ${route} | ${r.secgroups.join(', ') || '(none)'} |`,
        );
        const got = r.secgroups.map(groupId);
        if (!sameIds(got, want))
          problems.push(
            `${name} (${route}): carries [${r.secgroups.join(', ') || 'no secgroup community'}], expected ids [${want.join(', ') || 'none'}] of its groups [${vm.groups.join(', ') || 'none'}]${check.policy === 'strip' ? ' (the federation policy strips them)' : ''}`,
          );
      }
    }
    return {
      ok: problems.length === 0,
      summary:
        problems.length === 0
          ? check.policy === 'strip'
            ? `no type-2 route of ${check.vms.join(', ')} carries a security-group community: stripped as configured (${source.kind})`
            : `every type-2 route of ${check.vms.join(', ')} carries exactly its groups' communities (${source.kind})`
          : problems.join('\n'),
      attachments: [
        {
          name: `security-group communities at ${check.node} (decoded)`,
          content: table.join('\n'),
          type: 'text/markdown',
        },
      ],
      nodes: [check.node, ...check.vms.map((n) => index.vm(n).hypervisor)],
    };
  },
};
