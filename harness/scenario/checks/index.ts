/**
 * The check kinds: one line each. A kind's file declares its key, schema fragment, parse, reference
 * checks and behaviour (checks/types.ts); the scenario schema, the validator, the parser, the expect
 * step and the Check type all follow this list.
 */
import { alarm } from './alarm.ts';
import { bgp } from './bgp.ts';
import { capture } from './capture.ts';
import { forwarding } from './forwarding.ts';
import { gateway } from './gateway.ts';
import { matrix } from './matrix.ts';
import { nat } from './nat.ts';
import { packet } from './packet.ts';
import { path } from './path.ts';
import { reach } from './reach.ts';
import { secgroups } from './secgroups.ts';
import { sgDatapath } from './sg-datapath.ts';
import { table } from './table.ts';
import type { CheckDefinition, CheckShape } from './types.ts';
import { vpn } from './vpn.ts';
import { vtep } from './vtep.ts';
import { vxlan } from './vxlan.ts';

export type { CheckDefinition, CheckResult } from './types.ts';

export const CHECK_KINDS = [
  matrix,
  reach,
  bgp,
  table,
  capture,
  packet,
  gateway,
  vxlan,
  secgroups,
  sgDatapath,
  forwarding,
  alarm,
  nat,
  path,
  vtep,
  vpn,
] as const;

type CheckOf<D> = D extends CheckDefinition<infer C> ? C : never;

/** A parsed expectation: the union of what the registered kinds parse to. */
export type Check = CheckOf<(typeof CHECK_KINDS)[number]>;
export type CheckKind = Check['kind'];

const BY_KIND = new Map<string, CheckDefinition<Check>>(
  CHECK_KINDS.map((d) => [d.kind, d as CheckDefinition<CheckShape> as CheckDefinition<Check>]),
);

/** The keys that select a check kind, in registration order. */
export const CHECK_KEYS: readonly string[] = CHECK_KINDS.map((d) => d.kind);

/** The registered kind's definition; undefined for a key nobody registered. */
export function checkKind(kind: string): CheckDefinition<Check> | undefined {
  return BY_KIND.get(kind);
}

export function handlerFor(check: Check): CheckDefinition<Check> {
  const d = BY_KIND.get(check.kind);
  if (!d) throw new Error(`check kind '${check.kind}' is not registered`);
  return d;
}
