/**
 * Processes from /proc alone (no `ip netns pids` per namespace), for the netns runtime and the faults:
 * finding and ending a lab's processes in one pass over /proc (by network namespace, by PID namespace
 * of a node init, or by the node marker in argv[0], for an init that had not yet entered its namespace
 * when the harness died), and listing or signalling the processes of one lab node.
 */
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import type { LabNode } from '../runtime/runtime.ts';
import { sleep } from '../util/poll.ts';

interface ProcStat {
  state: string;
  startTime: number;
}

function procStat(pid: number): ProcStat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: fields restart after the last ')'.
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: rest[0] ?? '?', startTime: Number(rest[19]) };
  } catch {
    return undefined;
  }
}

/** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot), or undefined if gone. */
export function procStartTime(pid: number): number | undefined {
  return procStat(pid)?.startTime;
}

/** True when `pid` runs (not a zombie) and, if given, started at `startTime` (not a reused PID). */
export function isAlive(pid: number, startTime?: number): boolean {
  const stat = procStat(pid);
  if (!stat || stat.state === 'Z' || stat.state === 'X') return false;
  return startTime === undefined || stat.startTime === startTime;
}

function nsLink(pid: number, ns: 'net' | 'pid'): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/${ns}`);
  } catch {
    return undefined;
  }
}

export interface ProcessMatch {
  netInodes: ReadonlySet<string>;
  pidInodes: ReadonlySet<string>;
  markerPrefix: string;
}

/** PIDs of live processes in any of the lab's network or PID namespaces, or carrying its marker. */
export function findLabProcesses(match: ProcessMatch): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid <= 1 || pid === process.pid) continue;
    const net = nsLink(pid, 'net');
    if (net === undefined) continue; // kernel thread, zombie or gone
    let hit = match.netInodes.has(net);
    if (!hit && match.pidInodes.size > 0) {
      const pidNs = nsLink(pid, 'pid');
      hit = pidNs !== undefined && match.pidInodes.has(pidNs);
    }
    if (!hit) {
      try {
        hit = readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith(match.markerPrefix);
      } catch {
        hit = false;
      }
    }
    if (hit && isAlive(pid)) found.push(pid);
  }
  return found;
}

/** The PID namespace of a process (`pid:[...]`), to find everything a node init's namespace holds. */
export function pidNamespaceOf(pid: number): string | undefined {
  return nsLink(pid, 'pid');
}

/**
 * SIGKILLs every matching process until none is left (new forks included) or the deadline passes.
 * `inits` (node inits) go first, alone: each one's parent (`unshare`, still waiting for it) then reaps
 * it and exits, instead of both being killed at once and the init left to a PID 1 that may not reap.
 */
export async function killLabProcesses(
  match: ProcessMatch,
  inits: readonly number[] = [],
  timeoutMs = 3_000,
): Promise<number[]> {
  const killed = new Set<number>();
  const deadline = performance.now() + timeoutMs;
  for (const pid of inits) {
    try {
      process.kill(pid, 'SIGKILL');
      killed.add(pid);
    } catch {
      // gone
    }
  }
  const reaped = performance.now() + 300;
  while (inits.some((pid) => procStat(pid) !== undefined) && performance.now() < reaped) await sleep(5);
  for (;;) {
    const pids = findLabProcesses(match);
    if (pids.length === 0) return [...killed];
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
        killed.add(pid);
      } catch {
        // already gone
      }
    }
    if (performance.now() > deadline) {
      const left = findLabProcesses(match);
      if (left.length > 0) throw new Error(`processes still running after SIGKILL: ${left.join(', ')}`);
      return [...killed];
    }
    await sleep(10);
  }
}

export interface ProcInfo {
  pid: number;
  comm: string;
  cmdline: string;
}

function netInode(path: string): string | undefined {
  try {
    return `net:[${statSync(path).ino}]`;
  } catch {
    return undefined;
  }
}

// The exec traffic transport's servers carry `otwin-probe-server` (harness/traffic/transport-exec.ts).
const HARNESS_HELPERS = /speaker-process\.ts|traffic\/probe_server|otwin-probe-server/;

/**
 * Every live process in a lab node's network namespace except the node's own holder/init process.
 * Works on both runtimes: `netnsPath` is `/run/netns/<name>` or `/proc/<pid>/ns/net`.
 */
export function nodeProcesses(node: LabNode): ProcInfo[] {
  const want = netInode(node.netnsPath);
  if (!want) return [];
  const out: ProcInfo[] = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid <= 1 || pid === process.pid || pid === node.pid) continue;
    try {
      if (readlinkSync(`/proc/${pid}/ns/net`) !== want || !isAlive(pid)) continue;
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      // The harness's own helpers that enter a node (BGP tap, probe server) are not the node's software.
      if (HARNESS_HELPERS.test(cmdline)) continue;
      out.push({ pid, comm: readFileSync(`/proc/${pid}/comm`, 'utf8').trim(), cmdline });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Sends `sig` to each PID still there. */
export function signal(pids: readonly number[], sig: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch {
      // already gone
    }
  }
}
