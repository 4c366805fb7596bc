/**
 * Kernel-wide neighbour (ARP/NDP) table limits, for runs that pack many machines into one kernel.
 *
 * A lab node or VM namespace stands for a machine with its own neighbour table, but the kernel has ONE
 * table per family shared by every network namespace: `gc_thresh3` (default 1024) caps the
 * non-permanent entries of all namespaces together. A few hundred emulated hosts that each talk to a
 * handful of peers exceed it; the kernel then refuses new entries ("neighbor table overflow!",
 * `table_fulls` in /proc/net/stat/arp_cache) and a host's first packet to a new address is dropped
 * until forced GC frees an entry older than 5 s: seconds of unreachability no real machine would see.
 *
 * These are host settings, so nothing changes them implicitly: a run that needs more (the attach
 * benchmark) raises them for its own duration, says so, and puts the previous values back.
 */
import { readFileSync, writeFileSync } from 'node:fs';

/** Lower bounds for a large run (about 64 machines with the default 1024 entries each). */
export const NEIGH_TABLE_MIN: Readonly<Record<'gc_thresh2' | 'gc_thresh3', number>> = {
  gc_thresh2: 32768,
  gc_thresh3: 65536,
};

export interface NeighbourTableRaise {
  /** One line per value that could not be read or written (e.g. a read-only /proc/sys). */
  problems: string[];
  /** The values that were raised, as `file: old → new`. */
  changed: string[];
  /** Writes back every value this call changed. */
  restore(): void;
}

/** Raises gc_thresh2/gc_thresh3 of IPv4 and IPv6 to at least NEIGH_TABLE_MIN; never lowers them. */
export function raiseNeighbourTables(root = '/proc/sys/net'): NeighbourTableRaise {
  const problems: string[] = [];
  const previous: Array<{ file: string; value: string }> = [];
  for (const family of ['ipv4', 'ipv6']) {
    for (const [key, min] of Object.entries(NEIGH_TABLE_MIN)) {
      const file = `${root}/${family}/neigh/default/${key}`;
      try {
        const current = readFileSync(file, 'utf8').trim();
        if (Number(current) >= min) continue;
        writeFileSync(file, String(min));
        previous.push({ file, value: current });
      } catch (err) {
        problems.push(`${file}: ${(err as Error).message}`);
      }
    }
  }
  return {
    problems,
    changed: previous.map(
      ({ file, value }) =>
        `${file}: ${value} → ${NEIGH_TABLE_MIN[file.endsWith('gc_thresh2') ? 'gc_thresh2' : 'gc_thresh3']}`,
    ),
    restore() {
      for (const { file, value } of previous.splice(0)) writeFileSync(file, value);
    },
  };
}
