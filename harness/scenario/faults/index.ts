/** Fault dispatch: one handler per fault family (one file each). */
import type { ScenarioContext } from '../context.ts';
import type { Fault } from '../types.ts';
import { bgpAnnounce } from './bgp-announce.ts';
import { bgpClear } from './bgp-clear.ts';
import { linkDown, linkFlap, linkUp } from './link.ts';
import { nodeFault } from './node.ts';
import { packetLoss } from './packet-loss.ts';
import { partition } from './partition.ts';
import { processFault } from './process.ts';
import type { Revert } from './types.ts';

export type { Revert } from './types.ts';

export function applyFault(fault: Fault, ctx: ScenarioContext): Promise<Revert | undefined> {
  switch (fault.kind) {
    case 'link-down':
    case 'link-up':
      return fault.kind === 'link-down' ? linkDown(fault, ctx) : linkUp(fault, ctx);
    case 'link-flap':
      return linkFlap(fault, ctx);
    case 'node-kill':
    case 'node-pause':
    case 'node-resume':
    case 'node-restart':
      return nodeFault(fault, ctx);
    case 'process-kill':
    case 'process-pause':
    case 'process-restart':
      return processFault(fault, ctx);
    case 'partition':
      return partition(fault, ctx);
    case 'bgp-clear':
      return bgpClear(fault, ctx);
    case 'packet-loss':
      return packetLoss(fault, ctx);
    case 'bgp-announce':
      return bgpAnnounce(fault, ctx);
  }
}
