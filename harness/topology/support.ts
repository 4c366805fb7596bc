/**
 * What a runtime can honour. The loader keeps every field it does not model in `extra` (node, link,
 * mgmt, top level); a runtime declares what it supports and `rejectUnsupported` turns everything
 * else into a UserError naming the field, the node and the position — never silently ignored.
 */
import { UserError } from '../util/errors.ts';
import { ProblemReport } from './problems.ts';
import type { SourcePos, Topology } from './types.ts';

export interface SupportPolicy {
  /** Runtime name for messages ("not supported by the netns runtime"). */
  runtime?: string;
  /** Extra node fields (containerlab names, e.g. `startup-config`) honoured for every node. */
  nodeFields?: readonly string[];
  /** Extra node fields honoured only for nodes of a kind (e.g. `{ linux: ['type'] }`). */
  kindFields?: Readonly<Record<string, readonly string[]>>;
  /** Node kinds the runtime can run; undefined accepts every kind. */
  kinds?: readonly string[];
  /** Link types the runtime can build; default `['veth']`. */
  linkTypes?: readonly string[];
  /** Extra link fields honoured (e.g. `vars`, `labels`); default none. */
  linkFields?: readonly string[];
  /** Extra `mgmt` fields honoured (e.g. `ipv4-gw`); default none. */
  mgmtFields?: readonly string[];
  /** Extra top-level fields honoured (e.g. `debug`); default none. */
  topologyFields?: readonly string[];
}

export interface Unsupported {
  /** The field (or `kind`, or `type` for a link type) that cannot be honoured. */
  field: string;
  /** The node it belongs to; undefined for links, mgmt and top-level fields. */
  node: string | undefined;
  message: string;
  pos: SourcePos;
}

/** Every field, kind or link type of the topology that the policy does not support, in file order. */
export function findUnsupported(
  topology: Topology,
  supported: readonly string[] | SupportPolicy,
): Unsupported[] {
  const policy: SupportPolicy = Array.isArray(supported)
    ? { nodeFields: supported }
    : (supported as SupportPolicy);
  const runtime = policy.runtime ?? 'netns';
  const by = `by the ${runtime} runtime`;
  const out: Unsupported[] = [];

  for (const node of topology.nodes) {
    if (policy.kinds && !policy.kinds.includes(node.kind)) {
      out.push({
        field: 'kind',
        node: node.name,
        message: `node '${node.name}' has kind '${node.kind}', which is not supported ${by} (supported: ${policy.kinds.join(', ')})`,
        pos: node.pos,
      });
    }
    const allowed = new Set([...(policy.nodeFields ?? []), ...(policy.kindFields?.[node.kind] ?? [])]);
    for (const field of Object.keys(node.extra)) {
      if (allowed.has(field)) continue;
      out.push({
        field,
        node: node.name,
        message: `field '${field}' of node '${node.name}' is not supported ${by}`,
        pos: node.extraPos[field] ?? node.pos,
      });
    }
  }

  const linkTypes = policy.linkTypes ?? ['veth'];
  const linkFields = new Set(policy.linkFields ?? []);
  topology.links.forEach((link, index) => {
    const node = link.endpoints[0].node;
    if (!linkTypes.includes(link.type)) {
      out.push({
        field: 'type',
        node,
        message: `link #${index + 1} (node '${node}') is of type '${link.type}', which is not supported ${by} (supported: ${linkTypes.join(', ')})`,
        pos: link.pos,
      });
    }
    for (const field of Object.keys(link.extra)) {
      if (linkFields.has(field)) continue;
      out.push({
        field,
        node,
        message: `field '${field}' of link #${index + 1} (node '${node}') is not supported ${by}`,
        pos: link.extraPos?.[field] ?? link.pos,
      });
    }
  });

  const mgmtFields = new Set(policy.mgmtFields ?? []);
  for (const field of Object.keys(topology.mgmt.extra)) {
    if (mgmtFields.has(field)) continue;
    out.push({
      field,
      node: undefined,
      message: `field 'mgmt.${field}' is not supported ${by}`,
      pos: topology.mgmt.extraPos?.[field] ?? topology.pos,
    });
  }
  const topologyFields = new Set(policy.topologyFields ?? []);
  for (const field of Object.keys(topology.extra)) {
    if (topologyFields.has(field)) continue;
    out.push({
      field,
      node: undefined,
      message: `top-level field '${field}' is not supported ${by}`,
      pos: topology.extraPos?.[field] ?? topology.pos,
    });
  }
  out.sort((a, b) => a.pos.line - b.pos.line || a.pos.col - b.pos.col);
  return out;
}

/**
 * Throws one report naming every unsupported field (file order), each with the field, the node and
 * file:line:col. `supported` is either the list of extra node fields the runtime honours or a full
 * SupportPolicy.
 */
export function rejectUnsupported(topology: Topology, supported: readonly string[] | SupportPolicy): void {
  const problems = findUnsupported(topology, supported);
  if (problems.length === 0) return;
  const runtime = (Array.isArray(supported) ? undefined : (supported as SupportPolicy).runtime) ?? 'netns';
  const hint =
    runtime === 'containerlab'
      ? 'remove the field from the topology file'
      : 'remove the field, or deploy with --runtime containerlab (Docker), which honours every containerlab field';
  throw new ProblemReport(
    topology.pos?.file ?? topology.file,
    problems.map(
      (p) =>
        new UserError(`${p.message} (at ${p.pos.path})`, {
          where: `${p.pos.file}:${p.pos.line}:${p.pos.col}`,
          hint,
        }),
    ),
  );
}
