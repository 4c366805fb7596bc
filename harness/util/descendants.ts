/**
 * The processes a process started and still owns: its descendants that stayed in its session.
 * Processes that left the session (setsid: lab node inits, daemons) are not ours to end here; the
 * runtime's destroy finds those by their namespaces and markers.
 */
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcStat {
  pid: number;
  ppid: number;
  session: number;
}

/** The fields of /proc/<pid>/stat after the command name (state, ppid, pgrp, session, ...). */
export function procStatFields(pid: number): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may contain spaces and parentheses: fields restart after the last ')'.
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

function readStat(pid: number): ProcStat | undefined {
  const fields = procStatFields(pid);
  return fields && { pid, ppid: Number(fields[1]), session: Number(fields[3]) };
}

/** Every process now running, by parent PID (one pass over /proc). */
export function processChildren(): Map<number, ProcStat[]> {
  const children = new Map<number, ProcStat[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(name)) continue;
    const s = readStat(Number(name));
    if (!s) continue;
    const list = children.get(s.ppid) ?? [];
    children.set(s.ppid, list);
    list.push(s);
  }
  return children;
}

export function sessionDescendants(root: number = process.pid): number[] {
  const session = readStat(root)?.session;
  if (session === undefined) return [];
  const children = processChildren();
  const out: number[] = [];
  const visit = (pid: number): void => {
    for (const child of children.get(pid) ?? []) {
      if (child.session !== session) continue;
      out.push(child.pid);
      visit(child.pid);
    }
  };
  visit(root);
  return out;
}

/** SIGKILLs every descendant still in our session (children of children included); returns how many. */
export function killSessionDescendants(root: number = process.pid): number {
  let killed = 0;
  for (const pid of sessionDescendants(root)) {
    try {
      process.kill(pid, 'SIGKILL');
      killed += 1;
    } catch {
      // already gone
    }
  }
  return killed;
}
