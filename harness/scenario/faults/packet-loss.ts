/**
 * packet-loss: N % of the frames arriving on both ends of a link are dropped by nftables
 * (`numgen random mod 100 < N drop` in a netdev ingress chain) — the kernel here has no netem.
 */
import { HarnessError } from '../../util/errors.ts';
import type { ScenarioContext } from '../context.ts';
import type { LinkRef } from '../types.ts';
import { type FaultDefinition, forDuration, parseLinkRef, type Revert } from './types.ts';

export interface PacketLossFault {
  kind: 'packet-loss';
  link: LinkRef;
  percent: number;
  durationMs: number | undefined;
}

function peerOf(ctx: ScenarioContext, link: LinkRef): LinkRef | undefined {
  for (const l of ctx.lab.topology.links) {
    const [a, b] = l.endpoints;
    if (a.node === link.node && a.iface === link.iface) return { node: b.node, iface: b.iface };
    if (b.node === link.node && b.iface === link.iface) return { node: a.node, iface: a.iface };
  }
  return undefined;
}

async function applyLoss(fault: PacketLossFault, ctx: ScenarioContext): Promise<Revert> {
  const ends = [fault.link, peerOf(ctx, fault.link)].filter(
    (e): e is LinkRef => e !== undefined && ctx.lab.nodes.has(e.node),
  );
  const applied: LinkRef[] = [];
  const table = (end: LinkRef) => `ote_loss_${end.iface.replace(/[^A-Za-z0-9_]/g, '_')}`;
  const revert = async () => {
    for (const end of applied)
      await ctx.node(end.node).exec(['nft', 'delete', 'table', 'netdev', table(end)]);
  };
  try {
    for (const end of ends) {
      const rules = `table netdev ${table(end)} {
  chain ingress { type filter hook ingress device "${end.iface}" priority -10; numgen random mod 100 < ${Math.round(fault.percent)} drop; }
}
`;
      const r = await ctx.node(end.node).exec(['nft', '-f', '-'], { input: rules });
      if (r.exitCode !== 0)
        throw new HarnessError(`${end.node}: nft loss rule on ${end.iface}: ${r.stderr.trim()}`);
      applied.push(end);
    }
  } catch (err) {
    await revert();
    throw err;
  }
  return revert;
}

export const packetLoss: FaultDefinition<PacketLossFault> = {
  kind: 'packet-loss',
  required: ['link', 'percent'],
  optional: [],
  properties: {
    link: { $ref: '#/definitions/linkRef' },
    percent: { type: 'number', minimum: 0, maximum: 100 },
  },
  duration: true,
  chaos: true,
  undoes: false,
  parse: (raw, durationMs) => ({
    kind: 'packet-loss',
    link: parseLinkRef(raw.link),
    percent: Number(raw.percent),
    durationMs,
  }),
  describe: (f) => `packet-loss ${f.percent}% on ${f.link.node}:${f.link.iface}${forDuration(f)}`,
  // Its own target: loss on a link does not undo (nor is undone by) link-down/up on it.
  target: (f) => `loss:${f.link.node}:${f.link.iface}`,
  apply: applyLoss,
};
