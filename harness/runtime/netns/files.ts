/**
 * Deploy phase 1, files: the lab directory, each node's folder, its profile's folders and every
 * bind mount point. A mount point missing on the host is created there, recorded in the state
 * first, and removed again by destroy.
 */
import { existsSync, lstatSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';
import type { TopologyNode } from '../../topology/types.ts';
import { UserError } from '../../util/errors.ts';
import type { ProfileContext, ProfileMount } from './kinds/index.ts';
import type { DeployPlan } from './plan.ts';
import { type LabState, listRegistry, writeState } from './state.ts';
import { where } from './validate.ts';

export type NodeContext = ProfileContext & { mounts: ProfileMount[] };

/** Every path from the first missing ancestor of `path` down to `path` itself (to create, in order). */
function missingPaths(path: string): string[] {
  const missing: string[] = [];
  let current = path;
  while (!existsSync(current)) {
    missing.unshift(current);
    const parent = dirname(current);
    if (parent === current) break;
    current = parent;
  }
  return missing;
}

function madeByAnotherLab(path: string, state: LabState): boolean {
  return listRegistry().some(
    (other) =>
      other.registryFile !== state.registryFile && Array.isArray(other.files) && other.files.includes(path),
  );
}

export function isInside(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir + sep);
}

export function prepareFiles(plan: DeployPlan, state: LabState): Map<string, NodeContext> {
  const contexts = new Map<string, NodeContext>();
  for (const p of plan.nodes) {
    const nodeDir = join(plan.topology.labDir, p.node.name);
    mkdirSync(nodeDir, { recursive: true });
    const ctx: ProfileContext = {
      node: p.node,
      nodeState: state.nodes[p.node.name]!,
      lab: state,
      nodeDir,
      ports: p.ifaces,
    };
    const profileMounts = p.profile?.prepare(ctx) ?? [];
    const userMounts = p.profile ? prepareBinds(p.node, profileMounts, state) : [];
    contexts.set(p.node.name, { ...ctx, mounts: [...profileMounts, ...userMounts] });
  }
  return contexts;
}

/**
 * Makes every bind mount point exist. Targets under a profile mount (e.g. /etc/frr/frr.conf under
 * the node's own /etc/frr) are created in the lab directory; a target missing on the host is
 * created there, recorded in the state first, and removed again by destroy.
 */
function prepareBinds(node: TopologyNode, profileMounts: ProfileMount[], state: LabState): ProfileMount[] {
  const binds = [...node.binds].sort((a, b) => a.target.split('/').length - b.target.split('/').length);
  const byDepth = [...profileMounts].sort((a, b) => b.target.length - a.target.length);
  for (const bind of binds) {
    if (!existsSync(bind.source)) {
      if (isInside(bind.source, state.labDir)) mkdirSync(bind.source, { recursive: true });
      else {
        throw new UserError(`node '${node.name}': bind source '${bind.source}' does not exist`, {
          where: where(bind.pos),
          hint: "bind sources are relative to the topology file's folder",
        });
      }
    }
    const sourceIsDir = statSync(bind.source).isDirectory();
    const under = byDepth.find((m) => bind.target === m.target || bind.target.startsWith(`${m.target}/`));
    const hostPath = under ? under.source + bind.target.slice(under.target.length) : bind.target;
    const missing = missingPaths(hostPath);
    if (missing.length === 0) {
      // Made by another lab still deployed (its state records it): this lab uses it too and records
      // it as well, so whichever destroy comes last removes it (destroy.ts leaves a mount point another
      // lab's node holds). A folder the host had before is no lab's, and stays.
      if (!under && !isInside(hostPath, state.labDir) && madeByAnotherLab(hostPath, state)) {
        state.files.push(hostPath);
        writeState(state);
      }
      continue;
    }
    if (!under && !isInside(hostPath, state.labDir)) {
      state.files.push(...missing);
      writeState(state);
    }
    for (const path of missing) {
      if (path === hostPath && !sourceIsDir) writeFileSync(path, '', { flag: 'wx' });
      else mkdirSync(path);
    }
    if (lstatSync(hostPath).isDirectory() !== sourceIsDir) {
      throw new UserError(
        `node '${node.name}': bind ${bind.source} → ${bind.target} mixes a file and a folder`,
        {
          where: where(bind.pos),
        },
      );
    }
  }
  return binds.map((b) => ({ source: b.source, target: b.target, readOnly: b.readOnly }));
}
