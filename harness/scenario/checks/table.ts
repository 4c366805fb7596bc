/**
 * Table expectations: a command printing JSON in a node (`vtysh -c '... json'`, `ip -j`, `bridge -j`,
 * `nft -j`), rows at `path`, and rows that must be there (`contains`), must not (`absent`), or how many
 * match `where` (`count`). Rows match by subset: only the fields given are compared.
 */
import { HarnessError } from '../../util/errors.ts';
import type { CheckBase } from '../types.ts';
import { type Obj, splitCommand } from '../values.ts';
import { type CheckDefinition, subsetMatches } from './types.ts';

export interface TableCheck extends CheckBase {
  kind: 'table';
  node: string;
  /** argv run in the node; prints JSON. */
  command: string[];
  /** Dotted path into the JSON to the list of rows (`routes`, empty: the top level). */
  path: string;
  contains: Array<Record<string, unknown>>;
  absent: Array<Record<string, unknown>>;
  count: number | undefined;
  /** Row filter applied before `count`. */
  where: Record<string, unknown> | undefined;
}

function rowsAt(data: unknown, path: string): unknown[] {
  let current: unknown = data;
  for (const part of path.split('.').filter(Boolean)) {
    if (current === null || typeof current !== 'object') return [];
    current = (current as Record<string, unknown>)[part];
  }
  if (Array.isArray(current)) return current;
  if (current !== null && typeof current === 'object') {
    const values = Object.values(current as Record<string, unknown>);
    // A map of lists (FRR's `show ip route [vrf X] json`: prefix → its routes): the rows are the items.
    return values.length > 0 && values.every(Array.isArray) ? values.flat() : values;
  }
  return current === undefined ? [] : [current];
}

export const table: CheckDefinition<TableCheck> = {
  kind: 'table',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['node', 'command'],
    properties: {
      node: { $ref: '#/definitions/name' },
      command: {
        description:
          "argv printing JSON (vtysh -c '... json', ip -j, bridge -j, nft -j), or one string split on spaces.",
        anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }],
      },
      path: { type: 'string' },
      contains: { type: 'array', items: { type: 'object' } },
      absent: { type: 'array', items: { type: 'object' } },
      where: { type: 'object' },
      count: { type: 'integer', minimum: 0 },
    },
  },
  traffic: false,
  parse(body, base) {
    const command = Array.isArray(body.command)
      ? (body.command as string[])
      : splitCommand(String(body.command));
    return {
      ...base,
      name: base.name || `table ${command.join(' ')} on ${String(body.node)}`,
      kind: 'table',
      node: String(body.node),
      command,
      path: (body.path as string | undefined) ?? '',
      contains: (body.contains as Obj[] | undefined) ?? [],
      absent: (body.absent as Obj[] | undefined) ?? [],
      count: body.count as number | undefined,
      where: body.where as Obj | undefined,
    };
  },
  references(ctx, body, at) {
    ctx.refs.node([...at, 'node'], body.node);
  },
  selfPolling: false,
  async evaluate(check, ctx) {
    const r = await ctx.node(check.node).exec(check.command, { timeoutMs: 15_000 });
    if (r.exitCode !== 0)
      throw new HarnessError(
        `${check.node}: ${check.command.join(' ')} exited ${r.exitCode}: ${(r.stderr || r.stdout).trim().slice(0, 300)}`,
      );
    let data: unknown;
    try {
      data = r.stdout.trim() ? JSON.parse(r.stdout) : [];
    } catch {
      throw new HarnessError(
        `${check.node}: ${check.command.join(' ')} did not print JSON: ${r.stdout.slice(0, 200)}`,
      );
    }
    const rows = rowsAt(data, check.path);
    const problems: string[] = [];
    for (const pattern of check.contains) {
      if (!rows.some((row) => subsetMatches(row, pattern)))
        problems.push(`no row matches ${JSON.stringify(pattern)}`);
    }
    for (const pattern of check.absent) {
      const hits = rows.filter((row) => subsetMatches(row, pattern));
      if (hits.length > 0)
        problems.push(
          `${hits.length} row(s) match ${JSON.stringify(pattern)}, expected none: ${JSON.stringify(hits[0]).slice(0, 200)}`,
        );
    }
    if (check.count !== undefined) {
      const n = rows.filter((row) => (check.where ? subsetMatches(row, check.where) : true)).length;
      if (n !== check.count)
        problems.push(
          `expected ${check.count} row(s)${check.where ? ` matching ${JSON.stringify(check.where)}` : ''}, found ${n}`,
        );
    }
    return {
      ok: problems.length === 0,
      summary:
        problems.length === 0
          ? `${rows.length} rows as expected`
          : `${check.node}: ${check.command.join(' ')}: ${problems.join('; ')}`,
      attachments: [
        {
          name: `${check.node}: ${check.command.join(' ')}`,
          content: JSON.stringify(data, null, 2),
          type: 'application/json',
        },
      ],
      nodes: [check.node],
    };
  },
};
