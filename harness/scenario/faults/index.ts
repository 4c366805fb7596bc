/**
 * The fault kinds: one line each. A kind's file declares its YAML keys, parse, reference checks and
 * behaviour (faults/types.ts); the scenario schema, the validator, the parser, the `fault` and
 * `chaos` steps and the Fault type all follow this list.
 */
import type { ScenarioContext } from '../context.ts';
import { bgpAnnounce } from './bgp-announce.ts';
import { bgpClear } from './bgp-clear.ts';
import { federationPolicy } from './federation-policy.ts';
import { linkDown, linkFlap, linkUp } from './link.ts';
import { nodeKill, nodePause, nodeRestart, nodeResume } from './node.ts';
import { ovsdbSessionDrop } from './ovsdb-session-drop.ts';
import { packetLoss } from './packet-loss.ts';
import { partition } from './partition.ts';
import { processKill, processPause, processRestart } from './process.ts';
import type { FaultDefinition, FaultShape, Revert } from './types.ts';
import { vmKill } from './vm.ts';

export type { FaultDefinition, Revert } from './types.ts';

export const FAULT_KINDS = [
  linkDown,
  linkUp,
  linkFlap,
  nodeKill,
  nodePause,
  nodeResume,
  nodeRestart,
  processKill,
  processPause,
  processRestart,
  partition,
  bgpClear,
  packetLoss,
  bgpAnnounce,
  ovsdbSessionDrop,
  vmKill,
  federationPolicy,
] as const;

type FaultOf<D> = D extends FaultDefinition<infer F> ? F : never;

/** A parsed fault: the union of what the registered kinds parse to. */
export type Fault = FaultOf<(typeof FAULT_KINDS)[number]>;
export type FaultKind = Fault['kind'];

const BY_KIND = new Map<string, FaultDefinition<Fault>>(
  FAULT_KINDS.map((d) => [d.kind, d as FaultDefinition<FaultShape> as FaultDefinition<Fault>]),
);

/** The registered kind's definition; undefined for a kind nobody registered. */
export function faultKind(kind: string): FaultDefinition<Fault> | undefined {
  return BY_KIND.get(kind);
}

function definitionOf(fault: Fault): FaultDefinition<Fault> {
  const d = BY_KIND.get(fault.kind);
  if (!d) throw new Error(`fault kind '${fault.kind}' is not registered`);
  return d;
}

export function applyFault(fault: Fault, ctx: ScenarioContext): Promise<Revert | undefined> {
  return definitionOf(fault).apply(fault, ctx);
}

export function describeFault(fault: Fault): string {
  return definitionOf(fault).describe(fault);
}

export function faultTarget(fault: Fault): string {
  return definitionOf(fault).target(fault);
}
