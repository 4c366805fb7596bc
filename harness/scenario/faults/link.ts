/** link-down, link-up, link-flap: `ip link set <iface> down|up` inside the node. */
import { HarnessError } from '../../util/errors.ts';
import { sleep } from '../../util/poll.ts';
import type { ScenarioContext } from '../context.ts';
import type { Fault, LinkRef } from '../types.ts';
import type { Revert } from './types.ts';

type LinkFault = Extract<Fault, { kind: 'link-down' | 'link-up' }>;

async function setLink(ctx: ScenarioContext, link: LinkRef, state: 'up' | 'down'): Promise<void> {
  const r = await ctx.node(link.node).exec(['ip', 'link', 'set', link.iface, state]);
  if (r.exitCode !== 0)
    throw new HarnessError(`${link.node}: ip link set ${link.iface} ${state}: ${r.stderr.trim()}`);
}

export async function linkDown(fault: LinkFault, ctx: ScenarioContext): Promise<Revert> {
  await setLink(ctx, fault.link, 'down');
  return () => setLink(ctx, fault.link, 'up');
}

export async function linkUp(fault: LinkFault, ctx: ScenarioContext): Promise<undefined> {
  await setLink(ctx, fault.link, 'up');
  return undefined;
}

export async function linkFlap(
  fault: Extract<Fault, { kind: 'link-flap' }>,
  ctx: ScenarioContext,
): Promise<undefined> {
  for (let i = 0; i < fault.count; i += 1) {
    await setLink(ctx, fault.link, 'down');
    await sleep(fault.intervalMs);
    await setLink(ctx, fault.link, 'up');
    if (i < fault.count - 1) await sleep(fault.intervalMs);
  }
  return undefined;
}
