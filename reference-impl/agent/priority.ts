/**
 * The agent's scheduling priority (`--nice`, reference-impl/bin/agent.ts). An attach is a chain of
 * short `ip`/`bridge` processes; on a loaded host each start waits for the CPU, so the agent runs
 * above ordinary work, as ovs-ctl runs ovs-vswitchd at nice -10.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { setPriority } from 'node:os';

/**
 * Sets this process's nice value and, where the kernel groups scheduling by session (autogroup, on by
 * default: every lab node is its own session), the session's: a nice value alone only orders the
 * processes of one session, so among the sessions of a loaded host the agent's `ip` chain would
 * still get one share in N. Returns what could not be set (no CAP_SYS_NICE, say).
 */
export function raisePriority(value: number): string[] {
  const problems: string[] = [];
  try {
    setPriority(value);
  } catch (err) {
    problems.push(`nice ${value} not set (${(err as Error).message})`);
  }
  const autogroup = '/proc/self/autogroup';
  if (existsSync(autogroup)) {
    try {
      writeFileSync(autogroup, String(value));
    } catch (err) {
      problems.push(`session (autogroup) nice ${value} not set (${(err as Error).message})`);
    }
  }
  return problems;
}
