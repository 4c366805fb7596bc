/** link-down, link-up, link-flap: `ip link set <iface> down|up` inside the node. */
import { HarnessError } from '../../util/errors.ts';
import { sleep } from '../../util/poll.ts';
import type { ScenarioContext } from '../context.ts';
import type { LinkRef } from '../types.ts';
import { durationOr } from '../values.ts';
import { type FaultDefinition, forDuration, parseLinkRef } from './types.ts';

export interface LinkDownFault {
  kind: 'link-down';
  link: LinkRef;
  durationMs: number | undefined;
}

export interface LinkUpFault {
  kind: 'link-up';
  link: LinkRef;
  durationMs: undefined;
}

export interface LinkFlapFault {
  kind: 'link-flap';
  link: LinkRef;
  count: number;
  intervalMs: number;
  durationMs: undefined;
}

const LINK = { link: { $ref: '#/definitions/linkRef' } };

async function setLink(ctx: ScenarioContext, link: LinkRef, state: 'up' | 'down'): Promise<void> {
  const r = await ctx.node(link.node).exec(['ip', 'link', 'set', link.iface, state]);
  if (r.exitCode !== 0)
    throw new HarnessError(`${link.node}: ip link set ${link.iface} ${state}: ${r.stderr.trim()}`);
}

const linkTarget = (f: { link: LinkRef }) => `link:${f.link.node}:${f.link.iface}`;

export const linkDown: FaultDefinition<LinkDownFault> = {
  kind: 'link-down',
  required: ['link'],
  optional: [],
  properties: LINK,
  duration: true,
  chaos: true,
  undoes: false,
  parse: (raw, durationMs) => ({ kind: 'link-down', link: parseLinkRef(raw.link), durationMs }),
  describe: (f) => `${f.kind} ${f.link.node}:${f.link.iface}${forDuration(f)}`,
  target: linkTarget,
  async apply(fault, ctx) {
    await setLink(ctx, fault.link, 'down');
    return () => setLink(ctx, fault.link, 'up');
  },
};

export const linkUp: FaultDefinition<LinkUpFault> = {
  kind: 'link-up',
  required: ['link'],
  optional: [],
  properties: LINK,
  duration: false,
  chaos: false,
  undoes: true,
  parse: (raw) => ({ kind: 'link-up', link: parseLinkRef(raw.link), durationMs: undefined }),
  describe: (f) => `${f.kind} ${f.link.node}:${f.link.iface}`,
  target: linkTarget,
  async apply(fault, ctx) {
    await setLink(ctx, fault.link, 'up');
    return undefined;
  },
};

export const linkFlap: FaultDefinition<LinkFlapFault> = {
  kind: 'link-flap',
  required: ['link'],
  optional: ['count', 'interval'],
  properties: {
    ...LINK,
    count: {
      type: 'integer',
      minimum: 1,
      maximum: 1000,
      description: 'link-flap: how many flaps (at most 1,000).',
    },
    interval: { $ref: '#/definitions/duration' },
  },
  duration: false,
  chaos: true,
  undoes: false,
  parse: (raw) => ({
    kind: 'link-flap',
    link: parseLinkRef(raw.link),
    count: (raw.count as number | undefined) ?? 3,
    intervalMs: durationOr(raw.interval, 500),
    durationMs: undefined,
  }),
  describe: (f) => `link-flap ${f.link.node}:${f.link.iface} ×${f.count}`,
  target: linkTarget,
  async apply(fault, ctx) {
    for (let i = 0; i < fault.count; i += 1) {
      await setLink(ctx, fault.link, 'down');
      await sleep(fault.intervalMs);
      await setLink(ctx, fault.link, 'up');
      if (i < fault.count - 1) await sleep(fault.intervalMs);
    }
    return undefined;
  },
};
