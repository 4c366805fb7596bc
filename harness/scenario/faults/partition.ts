/**
 * partition: nodes of set A and set B stop exchanging traffic addressed to each other's own
 * addresses (nftables in every node of both sets, input and output hooks). Traffic a node merely
 * forwards is untouched, so partitioning a route reflector from a leaf cuts the BGP session, not the
 * underlay path through it.
 */
import { createHash } from 'node:crypto';
import { HarnessError } from '../../util/errors.ts';
import type { ScenarioContext } from '../context.ts';
import { strs } from '../values.ts';
import { type FaultDefinition, forDuration, type Revert } from './types.ts';

export interface PartitionFault {
  kind: 'partition';
  a: string[];
  b: string[];
  durationMs: number | undefined;
}

async function addresses(ctx: ScenarioContext, node: string): Promise<string[]> {
  const r = await ctx.node(node).exec(['ip', '-j', '-4', 'addr', 'show']);
  if (r.exitCode !== 0) throw new HarnessError(`${node}: ip addr show: ${r.stderr.trim()}`);
  const links = JSON.parse(r.stdout) as Array<{ ifname: string; addr_info: Array<{ local: string }> }>;
  return links
    .filter((l) => l.ifname !== 'lo' && l.ifname !== 'eth0')
    .flatMap((l) => l.addr_info.map((a) => a.local));
}

async function applyPartition(fault: PartitionFault, ctx: ScenarioContext): Promise<Revert> {
  const table = `ote_part_${createHash('sha1')
    .update(JSON.stringify([fault.a, fault.b]))
    .digest('hex')
    .slice(0, 8)}`;
  const addrsOf = async (nodes: string[]) => (await Promise.all(nodes.map((n) => addresses(ctx, n)))).flat();
  const sides: Array<[string[], string[]]> = [
    [fault.a, await addrsOf(fault.b)],
    [fault.b, await addrsOf(fault.a)],
  ];
  // Every node at once, both ways: applied (or lifted) one node after the other, the partition would be
  // partial for as long as the slowest commands take — seconds on a busy machine — and the outage a
  // scenario measures would grow by that much.
  const applied: string[] = [];
  const revert = async () => {
    await Promise.all(applied.map((node) => ctx.node(node).exec(['nft', 'delete', 'table', 'inet', table])));
  };
  const results = await Promise.allSettled(
    sides.flatMap(([nodes, peers]) => {
      if (peers.length === 0) return [];
      const set = peers.join(', ');
      const rules = `table inet ${table} {
  chain inbound { type filter hook input priority -10; ip saddr { ${set} } drop; }
  chain outbound { type filter hook output priority -10; ip daddr { ${set} } drop; }
}
`;
      return nodes.map(async (node) => {
        const r = await ctx.node(node).exec(['nft', '-f', '-'], { input: rules });
        if (r.exitCode !== 0) throw new HarnessError(`${node}: nft partition rules: ${r.stderr.trim()}`);
        applied.push(node);
      });
    }),
  );
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await revert();
    throw failed.reason;
  }
  return revert;
}

export const partition: FaultDefinition<PartitionFault> = {
  kind: 'partition',
  required: ['a', 'b'],
  optional: [],
  properties: { a: { $ref: '#/definitions/names' }, b: { $ref: '#/definitions/names' } },
  duration: true,
  chaos: true,
  undoes: false,
  parse: (raw, durationMs) => ({ kind: 'partition', a: raw.a as string[], b: raw.b as string[], durationMs }),
  references({ refs }, raw, path) {
    for (const side of ['a', 'b'] as const)
      strs(raw[side]).forEach((n, j) => {
        refs.node([...path, side, j], n);
      });
    const a = new Set(strs(raw.a));
    strs(raw.b).forEach((n, j) => {
      if (a.has(n)) refs.error([...path, 'b', j], `node '${n}' is on both sides of the partition`);
    });
  },
  describe: (f) => `partition [${f.a.join(', ')}] | [${f.b.join(', ')}]${forDuration(f)}`,
  target: (f) => `partition:${[...f.a].sort().join(',')}|${[...f.b].sort().join(',')}`,
  apply: applyPartition,
};
