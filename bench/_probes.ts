/**
 * Where the attach benchmarks' probe VMs sit (`--probe`), one definition for bench/attach.ts (the
 * reference) and bench/ovn-attach.ts (OVN), so `bench compare-impl` compares like with like.
 * (A leading underscore: bench/run.ts does not list it as a benchmark.)
 *
 * - `routed` (the default): the probes are in a subnet of their own (PROBE_SUBNET) in the bench
 *   domain; each echo crosses the probe's hypervisor's router, which forwards it once that
 *   hypervisor has programmed the new VM.
 * - `same-subnet`: the probes are beside the attached VMs; the first reply may be flood-and-learn.
 */
import type { ProbeServer } from '../harness/traffic/server.ts';
import type { ProbeTarget } from '../harness/traffic/types.ts';
import { waitFor } from '../harness/util/poll.ts';

/** The routed probes' subnet and its gateway (inside the lab's namespaces only). */
export const PROBE_SUBNET = { prefix: '10.8.0.0/24', gateway: '10.8.0.1' } as const;

export interface ProbePlacement {
  routed: boolean;
  /** Appended to the BENCH metric names: `_same_subnet`, or nothing for the default. */
  suffix: string;
  /** Probe VM i's (0-based) address in PROBE_SUBNET (used when routed). */
  routedIp(i: number): string;
  /** Log text. */
  describe: string;
}

export function probePlacement(value: string): ProbePlacement {
  if (value !== 'routed' && value !== 'same-subnet')
    throw new Error(`--probe ${value}: give routed or same-subnet`);
  const routed = value === 'routed';
  return {
    routed,
    suffix: routed ? '' : '_same_subnet',
    routedIp: (i) => `10.8.0.${11 + i}`,
    describe: routed ? `routed from ${PROBE_SUBNET.prefix}` : 'in the same subnet',
  };
}

/**
 * Before timing: each probe reaches `others` (another probe; when routed, also its gateway), so
 * the probe's own ARP is resolved and not part of any attach's figure.
 */
export async function warmProbes(probes: ProbeServer, from: ProbeTarget, others: string[]): Promise<void> {
  for (const other of others)
    await waitFor(
      async () => (await (await probes.reachWatch({ from, to: other, timeoutMs: 1000 })).wait()).reached,
      (ok) => ok,
      { timeoutMs: 30_000, what: `probe ${from.name} reaches ${other}` },
    );
}
