/** bgp-clear: `clear bgp l2vpn evpn <peer|*>` on a node (hard reset of the sessions). */
import { HarnessError } from '../../util/errors.ts';
import type { ScenarioContext } from '../context.ts';
import type { Fault } from '../types.ts';

export async function bgpClear(
  fault: Extract<Fault, { kind: 'bgp-clear' }>,
  ctx: ScenarioContext,
): Promise<undefined> {
  const r = await ctx.node(fault.node).exec(['vtysh', '-c', `clear bgp l2vpn evpn ${fault.peer}`]);
  if (r.exitCode !== 0) throw new HarnessError(`${fault.node}: clear bgp: ${(r.stderr || r.stdout).trim()}`);
  return undefined;
}
