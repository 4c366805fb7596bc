/**
 * What the netns runtime can honour. The topology loader keeps every containerlab field; anything
 * this runtime cannot do is refused here with the field, the node and the place in the file —
 * never silently ignored.
 */
import type { SourcePos, Topology, TopologyNode } from '../../topology/types.ts';
import { UserError } from '../../util/errors.ts';
import { isValidIfName } from './names.ts';

/** Node fields beyond the modelled ones that the netns runtime implements (see docs/netns-runtime.md). */
const SUPPORTED_NODE_EXTRA: Record<string, string> = {
  sysctls: 'written inside the node namespace',
  hostname: 'the node UTS hostname',
  'startup-delay': 'seconds to wait before starting the node',
  'image-pull-policy': 'no images are pulled: nothing to do',
  privileged: 'nodes always run as root with all capabilities',
  'cap-add': 'nodes always run as root with all capabilities',
};

const SUPPORTED_MGMT_EXTRA = new Set(['ipv4-gw', 'ipv6-gw', 'mtu']);
export const SUPPORTED_KINDS = ['linux', 'bridge'] as const;

export function where(pos: SourcePos): string {
  return `${pos.file}:${pos.line}:${pos.col}`;
}

function refuseField(node: TopologyNode, field: string): never {
  const pos = node.extraPos[field] ?? node.pos;
  throw new UserError(
    `node '${node.name}': field '${field}' is not supported by the netns runtime (${pos.path || `topology.nodes.${node.name}.${field}`})`,
    {
      where: where(pos),
      hint: `remove '${field}', or deploy with --runtime containerlab; the netns runtime supports ${Object.keys(SUPPORTED_NODE_EXTRA).join(', ')} besides kind/image/binds/exec/cmd/env/labels/mgmt-ipv4/mgmt-ipv6`,
    },
  );
}

export function checkSupported(topology: Topology): void {
  for (const key of Object.keys(topology.extra ?? {})) {
    throw new UserError(`top-level field '${key}' is not supported by the netns runtime`, {
      where: topology.pos ? where(topology.pos) : topology.file,
      hint: `remove '${key}' or deploy with --runtime containerlab`,
    });
  }
  for (const key of Object.keys(topology.mgmt.extra ?? {})) {
    if (!SUPPORTED_MGMT_EXTRA.has(key)) {
      throw new UserError(`mgmt field '${key}' is not supported by the netns runtime`, {
        where: topology.pos ? where(topology.pos) : topology.file,
        hint: `the netns runtime supports mgmt network, bridge, ipv4-subnet, ipv6-subnet, ${[...SUPPORTED_MGMT_EXTRA].join(', ')}`,
      });
    }
  }
  for (const node of topology.nodes) {
    if (!(SUPPORTED_KINDS as readonly string[]).includes(node.kind)) {
      throw new UserError(`node '${node.name}' has kind '${node.kind}', which the netns runtime cannot run`, {
        where: where(node.pos),
        hint: `the netns runtime runs kinds ${SUPPORTED_KINDS.join(', ')} (FRR via image frrouting/frr*); deploy with --runtime containerlab for other kinds`,
      });
    }
    for (const field of Object.keys(node.extra)) {
      if (!(field in SUPPORTED_NODE_EXTRA)) refuseField(node, field);
    }
    if (node.extra.privileged === false) refuseField(node, 'privileged');
    const hostname = node.extra.hostname;
    if (hostname !== undefined && (typeof hostname !== 'string' || hostname.length > 64))
      refuseField(node, 'hostname');
    for (const bind of node.binds) {
      for (const option of bind.options ?? []) {
        if (!['ro', 'rw', 'z', 'Z'].includes(option)) {
          throw new UserError(
            `node '${node.name}': bind option '${option}' is not supported by the netns runtime`,
            {
              where: where(bind.pos),
              hint: 'the netns runtime supports the bind options ro and rw (z/Z SELinux labels are accepted and have no effect)',
            },
          );
        }
      }
      if (!bind.target.startsWith('/')) {
        throw new UserError(`node '${node.name}': bind target '${bind.target}' must be an absolute path`, {
          where: where(bind.pos),
        });
      }
    }
  }
  for (const link of topology.links) {
    const type = link.type ?? 'veth';
    if (type !== 'veth') {
      throw new UserError(`link type '${type}' is not supported by the netns runtime`, {
        where: where(link.pos),
        hint: 'the netns runtime creates veth links between nodes (use a `kind: bridge` node to join several nodes)',
      });
    }
    for (const key of Object.keys(link.extra ?? {})) {
      throw new UserError(`link field '${key}' is not supported by the netns runtime`, {
        where: where(link.pos),
        hint: `remove '${key}' or deploy with --runtime containerlab`,
      });
    }
    for (const end of link.endpoints) {
      if (!isValidIfName(end.iface)) {
        throw new UserError(
          `interface name '${end.iface}' of node '${end.node}' is not a valid Linux interface name`,
          {
            where: where(end.pos ?? link.pos),
            hint: 'Linux interface names have at most 15 characters and no "/", ":" or spaces',
          },
        );
      }
    }
  }
}
