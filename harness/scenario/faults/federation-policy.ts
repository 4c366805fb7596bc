/**
 * federation-policy: configures what a route reflector does, inbound on its federation peering (the
 * session to the other zone's reflector, `peer`), with the security-group communities (FED-4):
 * `keep` changes nothing; `strip` removes them from every route learned on that session, keeping
 * every other extended community (route targets, encapsulation, MAC mobility), since the importing
 * zone still needs those. FRR can express that only with `set extended-comm-list <list> delete`.
 * FRR 8.4 (this machine's) has no such command and `set extcommunity none` would drop the route
 * targets too, so where the reflector's FRR lacks it the rest of the scenario is skipped with that
 * reason rather than emulated (design.md: never fake a missing feature).
 */

import { HarnessError } from '../../util/errors.ts';
import { SkipError } from '../context.ts';
import type { FaultDefinition } from './types.ts';

export interface FederationPolicyFault {
  kind: 'federation-policy';
  node: string;
  /** The federation peer's address as the node's BGP configuration names it. */
  peer: string;
  secgroupCommunities: 'keep' | 'strip';
  durationMs: undefined;
}

const PROBE_MAP = 'OTWIN-FED-PROBE';

/** Whether the node's FRR accepts `set extended-comm-list <list> delete` in a route-map. */
async function canDeleteExtCommunities(
  exec: (argv: readonly string[]) => Promise<{ exitCode: number; stdout: string; stderr: string }>,
): Promise<boolean> {
  const probe = await exec([
    'vtysh',
    '-c',
    'configure terminal',
    '-c',
    `route-map ${PROBE_MAP} permit 10`,
    '-c',
    'set extended-comm-list OTWIN-FED-PROBE delete',
  ]);
  await exec(['vtysh', '-c', 'configure terminal', '-c', `no route-map ${PROBE_MAP}`]);
  return probe.exitCode === 0 && !/Unknown command|% /.test(probe.stdout + probe.stderr);
}

export const federationPolicy: FaultDefinition<FederationPolicyFault> = {
  kind: 'federation-policy',
  required: ['node', 'peer', 'secgroupCommunities'],
  optional: [],
  properties: {
    node: { $ref: '#/definitions/name' },
    peer: { type: 'string' },
    secgroupCommunities: {
      enum: ['keep', 'strip'],
      description: 'FED-4: what the federation peering does with the security-group communities.',
    },
  },
  duration: false,
  chaos: false,
  undoes: false,
  parse: (raw) => ({
    kind: 'federation-policy',
    node: String(raw.node),
    peer: String(raw.peer),
    secgroupCommunities: raw.secgroupCommunities === 'strip' ? 'strip' : 'keep',
    durationMs: undefined,
  }),
  describe: (f) =>
    `federation policy on ${f.node} from ${f.peer}: ${f.secgroupCommunities} security-group communities`,
  target: (f) => `federation-policy:${f.node}:${f.peer}`,
  async apply(fault, ctx) {
    if (fault.secgroupCommunities === 'keep') return undefined;
    const node = ctx.node(fault.node);
    const version = await node.exec(['vtysh', '-c', 'show version']);
    if (version.exitCode !== 0)
      throw new HarnessError(`${fault.node}: federation-policy needs FRR (vtysh): ${version.stderr.trim()}`);
    if (!(await canDeleteExtCommunities((argv) => node.exec(argv)))) {
      const frr = /FRRouting (\S+)/.exec(version.stdout)?.[1] ?? 'unknown version';
      throw new SkipError(
        `${fault.node}'s FRR ${frr} cannot strip selected extended communities (no route-map command \`set extended-comm-list <list> delete\`; \`set extcommunity none\` would drop the route targets too), so a federation policy that strips the security-group communities cannot be configured on this peering`,
        { rest: true },
      );
    }
    throw new HarnessError(
      `${fault.node}: this FRR accepts \`set extended-comm-list … delete\`, but the strip policy is not written for it yet (untested here: this machine's FRR lacks the command)`,
    );
  },
};
