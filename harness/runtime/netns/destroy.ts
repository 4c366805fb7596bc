/**
 * Teardown from the lab state (no Topology needed, so `destroy --all` and destroy after a crash
 * work): SIGKILL every process of the lab, delete its namespaces (their veths go with them), remove
 * the files created outside the lab directory and the state. The lab directory stays (containerlab
 * keeps it) unless `cleanup`.
 *
 * The state is a file a user (or a crash) may have changed, so nothing in it is trusted as is:
 * names (namespace prefix, process marker, registry file, lab directory) are recomputed from the
 * lab name and folder; only namespaces carrying the lab's prefix are deleted and never the host's;
 * a recorded PID is killed only if the process still carries the marker the runtime gave it
 * (argv[0] `otwin-node <lab>-<hash> <node>`), checked right before the kill; files are removed only
 * when they are bind mount points of the topology and still empty.
 */

import { lstatSync, readFileSync, readlinkSync, rmdirSync, rmSync, unlinkSync } from 'node:fs';
import { basename, dirname, sep } from 'node:path';
import { ipBatch, ipJson, netnsInode, netnsList } from '../../kernel/netns.ts';
import { isAlive, killLabProcesses, pidNamespaceOf } from '../../kernel/procs.ts';
import { LAB_NAME_PATTERN } from '../../topology/names.ts';
import type { Topology } from '../../topology/types.ts';
import { HarnessError, UserError } from '../../util/errors.ts';
import { pollUntil } from '../../util/poll.ts';
import { parsePort } from './fields.ts';
import { mountedElsewhere } from './mountpoints.ts';
import { type LabNames, labNames, nodeMarker } from './names.ts';
import { forwarderMarker } from './ports.ts';
import { type ForwarderState, type LabState, stateFile } from './state.ts';

/** What teardown acts on: only names it derived itself and PIDs it will verify before killing. */
export interface TeardownTarget {
  labName: string;
  names: LabNames;
  namespaces: string[];
  nodes: Record<string, { name: string; pid?: number | undefined; pidStartTime?: number | undefined }>;
  files: string[];
  forwarders: ForwarderState[];
  /** Host ends of `host` links: veths the kernel removes with their peer's namespace. */
  hostInterfaces: string[];
  labDir: string;
}

/** Refuses a lab name outside containerlab's pattern (it would become paths and namespace names). */
export function assertLabName(name: string, where?: string): void {
  if (LAB_NAME_PATTERN.test(name)) return;
  throw new UserError(`lab name ${JSON.stringify(name)} is not a containerlab lab name`, {
    ...(where ? { where } : {}),
    hint: `lab names match ${LAB_NAME_PATTERN.source}`,
  });
}

function bindTargetsOf(topology: Topology): Set<string> {
  const allowed = new Set<string>();
  for (const node of topology.nodes) {
    for (const bind of node.binds) {
      let path = bind.target;
      while (path !== '/' && path !== '') {
        allowed.add(path);
        path = dirname(path);
      }
    }
  }
  return allowed;
}

/**
 * The parts of a recorded state teardown may act on. With the topology (destroy -t), names and the
 * lab directory come from the topology; without it (destroy --all, from the root-owned registry),
 * from the state's lab name and folder, which must still form a valid lab name.
 */
export function trustedTarget(state: LabState, topology?: Topology): TeardownTarget {
  const lab = topology ?? { name: String(state.labName), labDir: String(state.labDir) };
  assertLabName(lab.name);
  const names = labNames(lab);
  const ours = (ns: unknown): ns is string =>
    typeof ns === 'string' &&
    (ns === names.mgmtNetns || (ns.startsWith(`${names.nsPrefix}-`) && !ns.includes('/')));
  const allowedFiles = topology ? bindTargetsOf(topology) : undefined;
  return {
    labName: lab.name,
    names,
    namespaces: (Array.isArray(state.namespaces) ? state.namespaces : []).filter(ours),
    nodes: state.nodes && typeof state.nodes === 'object' ? state.nodes : {},
    files: (Array.isArray(state.files) ? state.files : []).filter(
      (f): f is string =>
        typeof f === 'string' && f.startsWith('/') && (allowedFiles === undefined || allowedFiles.has(f)),
    ),
    forwarders: Array.isArray(state.forwarders) ? state.forwarders : [],
    hostInterfaces: (Array.isArray(state.hostInterfaces) ? state.hostInterfaces : []).filter(
      (i): i is string => typeof i === 'string' && /^[\w.-]{1,15}$/.test(i),
    ),
    labDir: lab.labDir,
  };
}

function link(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}

/** argv of a process, or undefined when it is gone. */
function argvOf(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return undefined;
  }
}

/** True when `pid` is alive, started at `startTime` and its argv[0] is exactly `marker`. */
export function carriesMarker(pid: unknown, startTime: unknown, marker: string): pid is number {
  if (!Number.isInteger(pid) || (pid as number) <= 1 || pid === process.pid) return false;
  if (!isAlive(pid as number, typeof startTime === 'number' ? startTime : undefined)) return false;
  // Perl's `$0 =` may pad argv[0] with spaces.
  return argvOf(pid as number)?.[0]?.trimEnd() === marker;
}

export async function labIsUp(target: TeardownTarget): Promise<boolean> {
  const existing = new Set(await netnsList());
  if (target.namespaces.some((ns) => existing.has(ns))) return true;
  return Object.values(target.nodes).some(
    (n) =>
      n !== null &&
      typeof n === 'object' &&
      carriesMarker(n.pid, n.pidStartTime, nodeMarker(target.names, n.name)),
  );
}

/**
 * The kernel dismantles a deleted namespace in a work queue, so the host end of a `host` link can
 * outlive `ip netns del` for a moment (seconds on a loaded machine); a redeploy in that window
 * would find its name taken. Only veths are awaited: the state names them, nothing here deletes them.
 */
async function awaitHostVethsGone(names: string[]): Promise<void> {
  if (names.length === 0) return;
  const remaining = async () =>
    (
      await ipJson<Array<{ ifname: string; linkinfo?: { info_kind?: string } }>>(undefined, [
        '-d',
        'link',
        'show',
      ])
    )
      .filter((l) => names.includes(l.ifname) && l.linkinfo?.info_kind === 'veth')
      .map((l) => l.ifname);
  const result = await pollUntil(remaining, (left) => left.length === 0, {
    timeoutMs: 15_000,
    intervalMs: 50,
    what: 'host ends of host links gone',
  });
  if (!result.ok)
    throw new HarnessError(
      `host interfaces ${(result.value ?? []).join(', ')} still exist 15 s after their lab's namespaces were deleted`,
    );
}

export async function teardown(target: TeardownTarget, options: { cleanup?: boolean } = {}): Promise<void> {
  const { names } = target;
  const existing = new Set(await netnsList());
  const namespaces = target.namespaces.filter((ns) => existing.has(ns));
  // Never the host's own namespaces, whatever a namespace entry points at.
  const hostNet = new Set([link('/proc/1/ns/net'), link('/proc/self/ns/net')]);
  const hostPid = new Set([link('/proc/1/ns/pid'), link('/proc/self/ns/pid')]);
  const netInodes = new Set(
    namespaces.map(netnsInode).filter((i): i is string => i !== undefined && !hostNet.has(i)),
  );
  const pidInodes = new Set<string>();
  const verified: number[] = [];
  for (const node of Object.values(target.nodes)) {
    if (node === null || typeof node !== 'object') continue;
    if (!carriesMarker(node.pid, node.pidStartTime, nodeMarker(names, String(node.name)))) continue;
    const pidNs = pidNamespaceOf(node.pid);
    if (pidNs && !hostPid.has(pidNs)) pidInodes.add(pidNs);
    verified.push(node.pid);
  }
  for (const f of target.forwarders) {
    const port = parsePort(String(f.spec));
    if (typeof port === 'string') continue;
    if (carriesMarker(f.pid, f.startTime, forwarderMarker(names.markerPrefix, String(f.node), port)))
      verified.push(f.pid);
  }
  await killLabProcesses({ netInodes, pidInodes, markerPrefix: names.markerPrefix }, verified);

  const result = await ipBatch(
    undefined,
    namespaces.map((ns) => `netns del ${ns}`),
    { force: true },
  );
  const left = (await netnsList()).filter((ns) => target.namespaces.includes(ns));
  if (left.length > 0) {
    throw new HarnessError(`could not delete namespaces ${left.join(', ')}: ${result.stderr.trim()}`);
  }
  await awaitHostVethsGone(target.hostInterfaces);

  // Files made outside the lab directory (bind mount points), newest first; only if still ours (empty)
  // and no other lab's node is mounted on it (removing it would detach that mount: mountpoints.ts).
  const inUse = mountedElsewhere(target.files);
  for (const file of [...target.files].reverse()) {
    if (inUse.has(file)) continue;
    try {
      const stat = lstatSync(file);
      if (stat.isDirectory()) rmdirSync(file);
      else if (stat.isFile() && stat.size === 0) unlinkSync(file);
    } catch {
      // gone, or no longer empty (someone else's now): leave it
    }
  }
  rmSync(names.registryFile, { force: true });
  rmSync(stateFile(target.labDir), { force: true });
  if (options.cleanup) {
    // Only a folder named clab-<lab>, as the topology implies: never a path a name could bend.
    if (basename(target.labDir) !== `clab-${target.labName}` || target.labDir.split(sep).includes('..'))
      throw new HarnessError(`refusing to remove ${target.labDir}: not the lab's own directory`);
    rmSync(target.labDir, { recursive: true, force: true });
  }
}
