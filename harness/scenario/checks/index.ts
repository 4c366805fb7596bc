/** Check dispatch: one handler per expectation kind (one file each). */
import type { Check } from '../types.ts';
import { bgp } from './bgp.ts';
import { capture } from './capture.ts';
import { gateway } from './gateway.ts';
import { matrix } from './matrix.ts';
import { packet } from './packet.ts';
import { reach } from './reach.ts';
import { table } from './table.ts';
import type { CheckHandler } from './types.ts';
import { vxlan } from './vxlan.ts';

export type { CheckHandler, CheckResult } from './types.ts';

export function handlerFor(check: Check): CheckHandler {
  const handlers: Record<Check['kind'], CheckHandler> = {
    matrix: matrix as CheckHandler,
    reach: reach as CheckHandler,
    bgp: bgp as CheckHandler,
    table: table as CheckHandler,
    capture: capture as CheckHandler,
    packet: packet as CheckHandler,
    gateway: gateway as CheckHandler,
    vxlan: vxlan as CheckHandler,
  };
  return handlers[check.kind];
}
