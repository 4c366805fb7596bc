/** bgp-clear: `clear bgp l2vpn evpn <peer|*>` on a node (hard reset of the sessions). */
import { HarnessError } from '../../util/errors.ts';
import type { FaultDefinition } from './types.ts';

export interface BgpClearFault {
  kind: 'bgp-clear';
  node: string;
  peer: string;
  durationMs: undefined;
}

export const bgpClear: FaultDefinition<BgpClearFault> = {
  kind: 'bgp-clear',
  required: ['node'],
  optional: ['peer'],
  properties: { node: { $ref: '#/definitions/name' }, peer: { type: 'string' } },
  duration: false,
  chaos: true,
  undoes: false,
  parse: (raw) => ({
    kind: 'bgp-clear',
    node: String(raw.node),
    peer: (raw.peer as string | undefined) ?? '*',
    durationMs: undefined,
  }),
  describe: (f) => `bgp-clear on ${f.node} (${f.peer})`,
  target: (f) => `bgp-clear:${f.node}`,
  async apply(fault, ctx) {
    const r = await ctx.node(fault.node).exec(['vtysh', '-c', `clear bgp l2vpn evpn ${fault.peer}`]);
    if (r.exitCode !== 0)
      throw new HarnessError(`${fault.node}: clear bgp: ${(r.stderr || r.stdout).trim()}`);
    return undefined;
  },
};
