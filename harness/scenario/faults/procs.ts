/**
 * Processes of a lab node, found through /proc by the node's network namespace (works on both
 * runtimes: `netnsPath` is `/run/netns/<name>` or `/proc/<pid>/ns/net`).
 */
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import type { LabNode } from '../../runtime/runtime.ts';

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

const HARNESS_HELPERS = /speaker-process\.ts|probe_server\.py/;

/** Every live process in the node's network namespace except the node's own holder/init process. */
export function nodeProcesses(node: LabNode): ProcInfo[] {
  const want = netInode(node.netnsPath);
  if (!want) return [];
  const out: ProcInfo[] = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid <= 1 || pid === process.pid || pid === node.pid) continue;
    try {
      if (readlinkSync(`/proc/${pid}/ns/net`) !== want) continue;
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      if (state === 'Z' || state === 'X') continue;
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      // The harness's own helpers that enter a node (BGP tap, probe server) are not the node's software.
      if (HARNESS_HELPERS.test(cmdline)) continue;
      out.push({
        pid,
        comm: readFileSync(`/proc/${pid}/comm`, 'utf8').trim(),
        cmdline,
      });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

export function signal(pids: number[], sig: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch {
      // already gone
    }
  }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}
