/**
 * Bind targets other labs' nodes are mounted on. The netns runtime creates a missing bind target on
 * the host (e.g. /opt/otwin-vtep) and mounts over it inside the node's mount namespace only. Since
 * Linux 3.18, removing that folder on the host succeeds and silently detaches the mount in every
 * other namespace: two labs binding the same target (test files running in parallel) must not remove
 * it under each other. Read from /proc/<pid>/mountinfo, one process per mount namespace.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';

function mountNamespace(pid: string): number | undefined {
  try {
    return statSync(`/proc/${pid}/ns/mnt`).ino;
  } catch {
    return undefined;
  }
}

/** mountinfo writes space, tab, newline and backslash as octal escapes. */
function unescapeMountPoint(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
}

/** Which of `paths` are a mount point in a mount namespace other than this process's. */
export function mountedElsewhere(paths: readonly string[]): Set<string> {
  const wanted = new Set(paths);
  const found = new Set<string>();
  if (wanted.size === 0) return found;
  const own = mountNamespace('self');
  const seen = new Set<number>();
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const ns = mountNamespace(pid);
    if (ns === undefined || ns === own || seen.has(ns)) continue;
    seen.add(ns);
    let mountinfo: string;
    try {
      mountinfo = readFileSync(`/proc/${pid}/mountinfo`, 'utf8');
    } catch {
      continue;
    }
    for (const line of mountinfo.split('\n')) {
      const field = line.split(' ')[4];
      if (field === undefined) continue;
      const mountPoint = unescapeMountPoint(field);
      if (wanted.has(mountPoint)) found.add(mountPoint);
    }
  }
  return found;
}
