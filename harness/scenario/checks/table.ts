/**
 * Table expectations: a command printing JSON in a node (`vtysh -c '... json'`, `ip -j`, `bridge -j`,
 * `nft -j`), rows at `path`, and rows that must be there (`contains`), must not (`absent`), or how many
 * match `where` (`count`). Rows match by subset: only the fields given are compared.
 */
import { HarnessError } from '../../util/errors.ts';
import type { TableCheck } from '../types.ts';
import { type CheckHandler, subsetMatches } from './types.ts';

function rowsAt(data: unknown, path: string): unknown[] {
  let current: unknown = data;
  for (const part of path.split('.').filter(Boolean)) {
    if (current === null || typeof current !== 'object') return [];
    current = (current as Record<string, unknown>)[part];
  }
  if (Array.isArray(current)) return current;
  if (current !== null && typeof current === 'object')
    return Object.values(current as Record<string, unknown>);
  return current === undefined ? [] : [current];
}

export const table: CheckHandler<TableCheck> = {
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
