/**
 * SG-4 and SG-6 in the datapath: each hypervisor's security-group installation, counted by the
 * driver (securityDatapath: ACL entries keyed by groups/protocol/ports, and membership elements).
 * - `record: <label>` remembers this reading for later checks and the growth table;
 * - `aclUnchangedSince: <label>`: a membership change touched membership data only, never the rules;
 * - `allMembers`: every node read holds an element per member (a wait for bulk members to land; name the hypervisors that host the domain);
 * - `linear`: between consecutive recorded points (and this reading), on every hypervisor, the growth
 *   of entries + elements is at most perUnit × the growth of members + rules. Growth, not totals: a
 *   constant base (default rules of a table) cancels out, and a members × members expansion shows
 *   as soon as the members added outnumber perUnit. The growth table goes to the report.
 * Members and rules come from the intent: group memberships of attached VMs, the address-only
 * members the provision steps set, and the rules.
 */
import { HarnessError } from '../../util/errors.ts';
import type { ScenarioContext, SgRecord } from '../context.ts';
import type { SecurityDatapathCounts } from '../drivers/driver.ts';
import type { Intent } from '../intent.ts';
import type { CheckBase } from '../types.ts';
import { strs } from '../values.ts';
import type { CheckDefinition } from './types.ts';

/** SG-4/SG-6: what each hypervisor installed for security groups, counted. */
export interface SgDatapathCheck extends CheckBase {
  kind: 'sg-datapath';
  /** Hypervisors to read; default every hypervisor of the intent's zones. */
  nodes: string[] | undefined;
  /** Remember these counts under this label (for later `aclUnchangedSince` and the growth table). */
  record: string | undefined;
  /** ACL entries on every node equal those recorded under this label. */
  aclUnchangedSince: string | undefined;
  /** Every node read holds at least one membership element per member (all members programmed). */
  allMembers: boolean;
  /** Between consecutive recorded points: growth of entries + elements <= perUnit × growth of members + rules. */
  linear: { perUnit: number } | undefined;
}

/** Group memberships the datapath must know: one per (attached VM, group). */
export function intentMembers(intent: Intent): number {
  return intent.vms.filter((v) => v.attached).reduce((n, v) => n + v.groups.length, 0);
}

async function read(check: SgDatapathCheck, ctx: ScenarioContext): Promise<SgRecord> {
  const readOne = ctx.driver.securityDatapath;
  if (!readOne)
    throw new HarnessError(`implementation ${ctx.driver.name} does not report its security datapath`);
  const names = check.nodes ?? ctx.intent.zones.flatMap((z) => z.hypervisors);
  const nodes = new Map<string, SecurityDatapathCounts>();
  for (const name of names)
    nodes.set(name, await readOne.call(ctx.driver, ctx.node(name), ctx.driverContext()));
  const bulk = [...ctx.bulkMembers.values()].reduce((a, b) => a + b, 0);
  return { members: intentMembers(ctx.intent) + bulk, rules: ctx.intent.rules.length, nodes };
}

function growthTable(records: Array<[string, SgRecord]>): string {
  const lines = [
    '| point | members | rules | hypervisor | ACL entries | member elements | elements per member |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const [label, r] of records)
    for (const [node, c] of r.nodes)
      lines.push(
        `| ${label} | ${r.members} | ${r.rules} | ${node} | ${c.aclEntries} | ${c.memberElements} | ${r.members ? (c.memberElements / r.members).toFixed(2) : '-'} |`,
      );
  return lines.join('\n');
}

export const sgDatapath: CheckDefinition<SgDatapathCheck> = {
  kind: 'sg-datapath',
  schema: {
    description:
      "SG-4/SG-6: each hypervisor's security datapath counted (ACL entries, membership elements): record under a label, ACL entries unchanged since a label, every member programmed, growth linear in members + rules (table in the report).",
    type: 'object',
    additionalProperties: false,
    properties: {
      nodes: { type: 'array', minItems: 1, items: { $ref: '#/definitions/name' } },
      record: { type: 'string', description: 'Remember this reading under this label.' },
      aclUnchangedSince: {
        type: 'string',
        description: 'ACL entries equal those recorded under this label.',
      },
      allMembers: {
        type: 'boolean',
        description:
          'Every node read holds at least one membership element per member (VM memberships + address-only members): all programmed.',
      },
      linear: {
        type: 'object',
        additionalProperties: false,
        description:
          'Between consecutive recorded points, on every node: the growth of entries + elements is at most perUnit (default 4) x the growth of members + rules.',
        properties: { perUnit: { type: 'number', minimum: 1 } },
      },
    },
  },
  traffic: false,
  parse(body, base) {
    const linear = body.linear as Record<string, unknown> | undefined;
    return {
      ...base,
      name: base.name || 'security datapath counts per hypervisor',
      kind: 'sg-datapath',
      nodes: body.nodes !== undefined ? strs(body.nodes) : undefined,
      record: body.record as string | undefined,
      aclUnchangedSince: body.aclUnchangedSince as string | undefined,
      allMembers: body.allMembers === true,
      linear: linear ? { perUnit: (linear.perUnit as number | undefined) ?? 4 } : undefined,
    };
  },
  references(ctx, body, at) {
    strs(body.nodes).forEach((n, j) => {
      ctx.refs.node([...at, 'nodes', j], n);
    });
  },
  selfPolling: false,
  async evaluate(check, ctx) {
    const now = await read(check, ctx);
    const problems: string[] = [];
    if (check.aclUnchangedSince !== undefined) {
      const before = ctx.sgRecords.get(check.aclUnchangedSince);
      if (!before)
        throw new HarnessError(
          `no sg-datapath reading was recorded as '${check.aclUnchangedSince}' before this check`,
        );
      for (const [node, c] of now.nodes) {
        const was = before.nodes.get(node);
        if (was && was.aclEntries !== c.aclEntries)
          problems.push(
            `${node}: ${c.aclEntries} ACL entries, ${was.aclEntries} at '${check.aclUnchangedSince}' (a membership change must touch membership data only)`,
          );
      }
    }
    if (check.allMembers)
      for (const [node, c] of now.nodes)
        if (c.memberElements < now.members)
          problems.push(`${node}: ${c.memberElements} member elements for ${now.members} members`);
    const label = check.record ?? '(this check)';
    const points: Array<[string, SgRecord]> = [
      ...[...ctx.sgRecords].filter(([l]) => l !== check.record),
      [label, now],
    ];
    if (check.linear) {
      const { perUnit } = check.linear;
      for (let i = 1; i < points.length; i++) {
        const [fromLabel, from] = points[i - 1]!;
        const [toLabel, to] = points[i]!;
        const units = to.members + to.rules - (from.members + from.rules);
        for (const [node, c] of to.nodes) {
          const was = from.nodes.get(node);
          if (!was) continue;
          const grew = c.aclEntries + c.memberElements - (was.aclEntries + was.memberElements);
          if (grew > perUnit * Math.max(0, units))
            problems.push(
              `${node} from '${fromLabel}' to '${toLabel}': entries + elements grew by ${grew} (${was.aclEntries}+${was.memberElements} → ${c.aclEntries}+${c.memberElements}) for ${units} more members + rules: more than ${perUnit} per member or rule, not linear`,
            );
        }
      }
    }
    // Recorded only when it passes: a later comparison against a failed reading would mislead.
    if (check.record !== undefined && problems.length === 0) ctx.sgRecords.set(check.record, now);
    const counts = [...now.nodes]
      .map(([node, c]) => `${node} ${c.aclEntries} entries/${c.memberElements} elements`)
      .join(', ');
    const excerpts = [...now.nodes].flatMap(([node, c]) =>
      c.excerpt ? [{ name: `security datapath on ${node}`, content: c.excerpt, type: 'text/plain' }] : [],
    );
    return {
      ok: problems.length === 0,
      summary:
        problems.length === 0 ? `${now.members} members, ${now.rules} rules: ${counts}` : problems.join('\n'),
      attachments: [
        { name: 'security datapath growth', content: growthTable(points), type: 'text/markdown' },
        ...excerpts,
      ],
      nodes: [...now.nodes.keys()],
    };
  },
};
