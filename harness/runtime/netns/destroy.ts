/**
 * Teardown from the lab state alone (no Topology needed, so `destroy --all` and destroy after a crash
 * work): SIGKILL every process of the lab (by network namespace, by node PID namespace, by marker),
 * delete the namespaces (their veths go with them), remove the files created outside the lab
 * directory and the state. The lab directory stays (containerlab keeps it) unless `cleanup`.
 */
import { lstatSync, rmdirSync, rmSync, unlinkSync } from 'node:fs';
import { ipBatch, netnsInode, netnsList } from '../../kernel/netns.ts';
import { isAlive, killLabProcesses, pidNamespaceOf } from '../../kernel/procs.ts';
import { HarnessError } from '../../util/errors.ts';
import { type LabState, removeState } from './state.ts';

export async function labIsUp(state: LabState): Promise<boolean> {
  const existing = new Set(await netnsList());
  if (state.namespaces.some((ns) => existing.has(ns))) return true;
  return Object.values(state.nodes).some((n) => n.pid !== undefined && isAlive(n.pid, n.pidStartTime));
}

/** What teardown needs: a full LabState, or the names a topology implies when no state survived. */
export type TeardownTarget = Pick<
  LabState,
  'namespaces' | 'nodes' | 'files' | 'markerPrefix' | 'labDir' | 'registryFile'
>;

export async function teardown(state: TeardownTarget, options: { cleanup?: boolean } = {}): Promise<void> {
  const existing = new Set(await netnsList());
  const namespaces = state.namespaces.filter((ns) => existing.has(ns));
  const netInodes = new Set(namespaces.map(netnsInode).filter((i): i is string => i !== undefined));
  const pidInodes = new Set<string>();
  const inits: number[] = [];
  for (const node of Object.values(state.nodes)) {
    if (node.pid !== undefined && isAlive(node.pid, node.pidStartTime)) {
      const pidNs = pidNamespaceOf(node.pid);
      if (pidNs) pidInodes.add(pidNs);
      inits.push(node.pid);
    }
  }
  await killLabProcesses({ netInodes, pidInodes, markerPrefix: state.markerPrefix }, inits);

  const result = await ipBatch(
    undefined,
    namespaces.map((ns) => `netns del ${ns}`),
    { force: true },
  );
  const left = (await netnsList()).filter((ns) => state.namespaces.includes(ns));
  if (left.length > 0) {
    throw new HarnessError(`could not delete namespaces ${left.join(', ')}: ${result.stderr.trim()}`);
  }

  // Files made outside the lab directory (bind mount points), newest first; only if still ours (empty).
  for (const file of [...state.files].reverse()) {
    try {
      const stat = lstatSync(file);
      if (stat.isDirectory()) rmdirSync(file);
      else if (stat.size === 0) unlinkSync(file);
    } catch {
      // gone, or no longer empty (someone else's now): leave it
    }
  }
  removeState(state);
  if (options.cleanup) rmSync(state.labDir, { recursive: true, force: true });
}
