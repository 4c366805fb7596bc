/**
 * What the netns runtime can honour. The topology loader keeps every containerlab field; anything
 * this runtime cannot do is refused here with the field, the node and the place in the file —
 * never silently ignored — and every problem of a file is reported at once. A field set in
 * `topology.defaults`, `kinds` or `groups` is reported once, where it is written, naming the nodes
 * that inherit it. Values that reach commands are checked against anchored patterns here too
 * (independently of the schema file).
 */

import {
  IPV4_CIDR_PATTERN,
  IPV6_CIDR_PATTERN,
  LAB_NAME_PATTERN,
  MAC_PATTERN,
  NODE_NAME_PATTERN,
  SYSCTL_KEY_PATTERN,
} from '../../topology/names.ts';
import { ProblemList } from '../../topology/problems.ts';
import type { SourcePos, Topology, TopologyLink, TopologyNode } from '../../topology/types.ts';
import { UserError } from '../../util/errors.ts';
import { networkModeOf, parsePort, REACHABLE_STAGES, stageWaits } from './fields.ts';
import { SUPPORTED_KINDS } from './kinds/index.ts';
import { isValidIfName } from './names.ts';
import { routerWithoutSuite } from './routing.ts';

/** Node fields beyond the modelled ones that the netns runtime implements (see docs/netns-runtime.md). */
const SUPPORTED_NODE_EXTRA: Record<string, string> = {
  sysctls: 'written inside the node namespace',
  hostname: 'the node UTS hostname',
  'startup-delay': 'seconds to wait before starting the node',
  'image-pull-policy': 'no images are pulled: nothing to do',
  privileged: 'nodes always run as root with all capabilities',
  'cap-add': 'nodes always run as root with all capabilities',
  ports: 'a TCP forwarder from the host port to the node management address',
  'network-mode': 'none, or container:<node> (share that node network namespace)',
  stages: 'wait-for and exec (on-enter/on-exit) for create, create-links, configure, healthy',
};

const SUPPORTED_MGMT_EXTRA = new Set(['ipv4-gw', 'ipv6-gw', 'mtu']);
export const SUPPORTED_LINK_TYPES = ['veth', 'host', 'mgmt-net'] as const;
/** The only fields a `kind: host` node may carry: it is the machine itself. */
const HOST_NODE_FIELDS = new Set(['exec']);

export function where(pos: SourcePos): string {
  return `${pos.file}:${pos.line}:${pos.col}`;
}

const RUNTIME_HINT = 'or deploy with --runtime containerlab (Docker), which honours every containerlab field';

/** Which level of inheritance a position is in: '' for the node itself, else `topology.defaults`, ... */
function inheritedFrom(pos: SourcePos, node: TopologyNode): string {
  if (pos.path.startsWith(`topology.nodes.${node.name}`) || pos.path.startsWith('topology.nodes[')) return '';
  const m = /^(topology\.(?:defaults|kinds\.[^.[]+|groups\.[^.[]+))/.exec(pos.path);
  return m ? m[1]! : '';
}

/** Field problems, grouped so a field written once in defaults/kinds/groups is reported once. */
class FieldProblems {
  private readonly byPlace = new Map<
    string,
    { pos: SourcePos; field: string; nodes: string[]; level: string; why: string; hint: string }
  >();

  add(node: TopologyNode, field: string, why: string, hint: string): void {
    const pos = node.extraPos[field] ?? node.pos;
    const level = inheritedFrom(pos, node);
    const key = level ? `${level}\n${field}\n${why}` : `${node.name}\n${field}\n${why}`;
    const entry = this.byPlace.get(key);
    if (entry) entry.nodes.push(node.name);
    else this.byPlace.set(key, { pos, field, nodes: [node.name], level, why, hint });
  }

  into(problems: ProblemList): void {
    for (const p of this.byPlace.values()) {
      const whose = p.level
        ? `field '${p.field}' set in ${p.level} (inherited by node${p.nodes.length > 1 ? 's' : ''} ${p.nodes.map((n) => `'${n}'`).join(', ')})`
        : `node '${p.nodes[0]}': field '${p.field}'`;
      problems.add(
        new UserError(`${whose} ${p.why} (at ${p.pos.path})`, { where: where(p.pos), hint: p.hint }),
      );
    }
  }
}

export interface ValidationResult {
  /** Things that deploy but may not do what the file's author meant (e.g. a router with no routing suite). */
  warnings: string[];
}

/**
 * Checks everything the netns runtime needs before it creates anything; throws one ProblemReport
 * naming every problem. Returns the warnings.
 */
export function checkSupported(topology: Topology): ValidationResult {
  const problems = new ProblemList();
  const fields = new FieldProblems();
  const fileWhere = topology.pos ? where(topology.pos) : topology.file;

  if (!LAB_NAME_PATTERN.test(topology.name)) {
    problems.add(
      new UserError(`lab name ${JSON.stringify(topology.name)} is not a containerlab lab name`, {
        where: fileWhere,
        hint: `lab names match ${LAB_NAME_PATTERN.source}`,
      }),
    );
  }
  for (const key of Object.keys(topology.extra ?? {})) {
    const pos = topology.extraPos?.[key];
    problems.add(
      new UserError(`top-level field '${key}' is not supported by the netns runtime`, {
        where: pos ? where(pos) : fileWhere,
        hint: `remove '${key}', ${RUNTIME_HINT}`,
      }),
    );
  }
  for (const key of Object.keys(topology.mgmt.extra ?? {})) {
    if (SUPPORTED_MGMT_EXTRA.has(key)) continue;
    const pos = topology.mgmt.extraPos?.[key];
    problems.add(
      new UserError(`mgmt field '${key}' is not supported by the netns runtime`, {
        where: pos ? where(pos) : fileWhere,
        hint: `the netns runtime supports mgmt network, bridge, ipv4-subnet, ipv6-subnet, ${[...SUPPORTED_MGMT_EXTRA].join(', ')}`,
      }),
    );
  }

  const byName = new Map(topology.nodes.map((n) => [n.name, n]));
  for (const node of topology.nodes) checkNode(node, byName, problems, fields);
  fields.into(problems);
  checkStageCycles(topology, problems);
  topology.links.forEach((link, index) => {
    checkLink(link, index, byName, problems);
  });
  problems.throwIfAny(topology.pos?.file ?? topology.file);

  const warnings: string[] = [];
  for (const node of topology.nodes) {
    const why = routerWithoutSuite(node);
    if (why) {
      warnings.push(
        `${where(node.pos)}: node '${node.name}' looks like a router (${why}) but the netns runtime runs no routing suite for it: it runs as a plain Linux host (FRR runs for images containing "frr" or nodes binding FRR config under /etc/frr/)`,
      );
    }
  }
  return { warnings };
}

function checkNode(
  node: TopologyNode,
  byName: Map<string, TopologyNode>,
  problems: ProblemList,
  fields: FieldProblems,
): void {
  if (!NODE_NAME_PATTERN.test(node.name)) {
    problems.add(
      new UserError(`node name ${JSON.stringify(node.name)} is not a containerlab node name`, {
        where: where(node.pos),
        hint: `node names match ${NODE_NAME_PATTERN.source}`,
      }),
    );
  }
  if (!SUPPORTED_KINDS.includes(node.kind)) {
    problems.add(
      new UserError(`node '${node.name}' has kind '${node.kind}', which the netns runtime cannot run`, {
        where: where(node.pos),
        hint: `the netns runtime runs kinds ${SUPPORTED_KINDS.join(', ')} (FRR for linux nodes whose image contains "frr" or that bind FRR config under /etc/frr/); deploy with --runtime containerlab for other kinds`,
      }),
    );
    return;
  }
  if (node.kind === 'host') {
    checkHostNode(node, problems);
    return;
  }
  const refuse: Refuse = (field, why, hint) =>
    fields.add(
      node,
      field,
      why,
      hint ??
        `remove '${field}', ${RUNTIME_HINT}; the netns runtime supports ${Object.keys(SUPPORTED_NODE_EXTRA).join(', ')} besides kind/image/binds/exec/cmd/env/env-files/labels/mgmt-ipv4/mgmt-ipv6`,
    );
  checkNodeExtras(node, refuse);
  const mode = networkModeOf(node);
  checkNetworkMode(node, mode, byName, refuse);
  checkPorts(node, mode, refuse);
  checkStages(node, byName, refuse);
  checkBinds(node, problems);
}

/** Refuses a node field with why and what to do (FieldProblems groups them per field). */
type Refuse = (field: string, why: string, hint?: string) => void;

/** A `kind: host` node is the machine itself: it takes only exec lines. */
function checkHostNode(node: TopologyNode, problems: ProblemList): void {
  const modelled = [
    ...(node.image ? ['image'] : []),
    ...(node.binds.length > 0 ? ['binds'] : []),
    ...(node.cmd ? ['cmd'] : []),
    ...(node.mgmtIPv4 ? ['mgmt-ipv4'] : []),
    ...(node.mgmtIPv6 ? ['mgmt-ipv6'] : []),
  ];
  for (const field of [...modelled, ...Object.keys(node.extra)]) {
    if (HOST_NODE_FIELDS.has(field)) continue;
    problems.add(
      new UserError(
        `node '${node.name}' is of kind host (the machine itself): its field '${field}' has no meaning here`,
        {
          where: where(node.extraPos[field] ?? node.pos),
          hint: 'a kind: host node takes only exec lines (run on the host, as containerlab does)',
        },
      ),
    );
  }
}

/** Fields beyond the model: supported at all, and privileged, hostname, startup-delay, sysctls well formed. */
function checkNodeExtras(node: TopologyNode, refuse: Refuse): void {
  for (const field of Object.keys(node.extra)) {
    if (!(field in SUPPORTED_NODE_EXTRA)) refuse(field, 'is not supported by the netns runtime');
  }
  if (node.extra.privileged === false)
    refuse('privileged', 'is false, but nodes here always run privileged', 'remove privileged: false');
  const hostname = node.extra.hostname;
  if (
    hostname !== undefined &&
    (typeof hostname !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9.-]{0,63}$/.test(hostname))
  )
    refuse(
      'hostname',
      'is not a host name (letters, digits, "." and "-", at most 64)',
      'use a valid host name',
    );
  const delay = node.extra['startup-delay'];
  if (delay !== undefined && (!Number.isInteger(delay) || (delay as number) < 0 || (delay as number) > 3600))
    refuse('startup-delay', 'must be a whole number of seconds between 0 and 3600', 'fix startup-delay');
  const sysctls = node.extra.sysctls;
  if (sysctls !== undefined) {
    const bad = Object.keys((sysctls as Record<string, unknown>) ?? {}).find(
      (k) => !SYSCTL_KEY_PATTERN.test(k),
    );
    if (bad !== undefined || typeof sysctls !== 'object' || sysctls === null)
      refuse(
        'sysctls',
        `has key ${JSON.stringify(bad)}, which is not a sysctl name`,
        'write sysctls as dotted names, e.g. net.ipv4.ip_forward',
      );
  }
}

/** network-mode: none or container:<another linux node of this lab with its own network>. */
function checkNetworkMode(
  node: TopologyNode,
  mode: ReturnType<typeof networkModeOf>,
  byName: Map<string, TopologyNode>,
  refuse: Refuse,
): void {
  if (typeof mode === 'string')
    refuse('network-mode', `: ${mode}`, 'use none or container:<node of this lab>');
  else if (mode.mode === 'host')
    refuse(
      'network-mode',
      "is 'host', which the netns runtime refuses: the node would share the machine's network namespace, so its exec lines, sysctls and destroy would act on the machine itself",
      'remove network-mode: host and reach the node through its management address or a ports: entry',
    );
  else if (mode.mode === 'container') {
    const target = byName.get(mode.node);
    if (!target)
      refuse(
        'network-mode',
        `names '${mode.node}', which is not a node of this lab (external containers cannot be joined here)`,
        'use container:<node of this lab>',
      );
    else if (
      target.kind !== 'linux' ||
      mode.node === node.name ||
      typeof networkModeOf(target) !== 'object' ||
      (networkModeOf(target) as { mode: string }).mode === 'container'
    )
      refuse(
        'network-mode',
        `names '${mode.node}', whose network namespace cannot be shared (it must be another linux node with its own namespace)`,
        'point container: at a linux node that has its own network',
      );
    if (node.mgmtIPv4 || node.mgmtIPv6)
      refuse(
        'network-mode',
        'container: shares another node network, so the node cannot have its own mgmt-ipv4/mgmt-ipv6',
        'remove mgmt-ipv4/mgmt-ipv6',
      );
    if (node.extra.ports !== undefined)
      refuse(
        'ports',
        'cannot be published for a node in network-mode container: (as with Docker); publish them on the node that owns the network',
        'move the ports to the node named in network-mode',
      );
  }
}

/** Published ports: parseable, and only for a node with a management address. */
function checkPorts(node: TopologyNode, mode: ReturnType<typeof networkModeOf>, refuse: Refuse): void {
  const ports = node.extra.ports;
  if (ports !== undefined) {
    if (!Array.isArray(ports))
      refuse('ports', 'must be a list', 'write ports as a list of "host:node" strings');
    else {
      for (const spec of ports) {
        const parsed = parsePort(String(spec));
        if (typeof parsed === 'string')
          refuse('ports', `: ${parsed}`, 'write each entry as [address:]hostPort:nodePort[/tcp]');
      }
      if (typeof mode === 'object' && mode.mode === 'none')
        refuse(
          'ports',
          'needs a management address, but the node has network-mode none',
          'remove network-mode: none or the ports',
        );
    }
  }
}

/** stages: well formed, waiting only for other nodes of this lab. */
function checkStages(node: TopologyNode, byName: Map<string, TopologyNode>, refuse: Refuse): void {
  const stages = stageWaits(node);
  for (const why of stages.problems)
    refuse('stages', `: ${why}`, "see containerlab's stages: wait-for and exec (on-enter/on-exit)");
  for (const wait of stages.waits) {
    if (!byName.has(wait.node))
      refuse(
        'stages',
        `: stages.${wait.stage}.wait-for names node '${wait.node}', which is not in the lab`,
        'name a node of this lab',
      );
    else if (wait.node === node.name)
      refuse('stages', `: stages.${wait.stage}.wait-for names the node itself`, 'wait for another node');
  }
}

/** Bind options the runtime honours, and targets that stay inside the node's mount namespace. */
function checkBinds(node: TopologyNode, problems: ProblemList): void {
  for (const bind of node.binds) {
    for (const option of bind.options ?? []) {
      if (!['ro', 'rw', 'z', 'Z'].includes(option)) {
        problems.add(
          new UserError(
            `node '${node.name}': bind option '${option}' is not supported by the netns runtime`,
            {
              where: where(bind.pos),
              hint: 'the netns runtime supports the bind options ro and rw (z/Z SELinux labels are accepted and have no effect)',
            },
          ),
        );
      }
    }
    if (!bind.target.startsWith('/') || bind.target.split('/').includes('..')) {
      problems.add(
        new UserError(
          `node '${node.name}': bind target '${bind.target}' must be an absolute path without '..'`,
          {
            where: where(bind.pos),
          },
        ),
      );
    }
  }
}

/** wait-for dependencies must not form a cycle (containerlab would wait forever). */
function checkStageCycles(topology: Topology, problems: ProblemList): void {
  const key = (node: string, stage: string): string => `${node}/${stage}`;
  const edges = new Map<string, string[]>();
  for (const node of topology.nodes) {
    // Within a node, each stage follows the one before it.
    for (let i = 1; i < REACHABLE_STAGES.length; i++)
      edges.set(key(node.name, REACHABLE_STAGES[i]!), [key(node.name, REACHABLE_STAGES[i - 1]!)]);
    const mode = networkModeOf(node);
    if (typeof mode === 'object' && mode.mode === 'container')
      edges.get(key(node.name, 'create-links'))?.push(key(mode.node, 'create'));
  }
  for (const node of topology.nodes) {
    for (const wait of stageWaits(node).waits) {
      const from = key(node.name, wait.stage);
      edges.set(from, [...(edges.get(from) ?? []), key(wait.node, wait.waitFor)]);
    }
  }
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (n: string, path: string[]): string[] | undefined => {
    if (state.get(n) === 'done') return undefined;
    if (state.get(n) === 'visiting') return [...path.slice(path.indexOf(n)), n];
    state.set(n, 'visiting');
    for (const next of edges.get(n) ?? []) {
      const cycle = visit(next, [...path, n]);
      if (cycle) return cycle;
    }
    state.set(n, 'done');
    return undefined;
  };
  for (const node of topology.nodes) {
    const cycle = visit(key(node.name, 'healthy'), []);
    if (cycle) {
      problems.add(
        new UserError(`stages wait-for forms a cycle: ${cycle.join(' waits for ')}`, {
          where: where(node.extraPos.stages ?? node.pos),
          hint: 'remove one of the wait-for entries so the nodes can start',
        }),
      );
      return;
    }
  }
}

function checkLink(
  link: TopologyLink,
  index: number,
  byName: Map<string, TopologyNode>,
  problems: ProblemList,
): void {
  const at = (pos: SourcePos | undefined): string => where(pos ?? link.pos);
  const type = link.type ?? 'veth';
  if (!(SUPPORTED_LINK_TYPES as readonly string[]).includes(type)) {
    problems.add(
      new UserError(`link #${index + 1}: link type '${type}' is not supported by the netns runtime`, {
        where: at(link.pos),
        hint: `the netns runtime builds link types ${SUPPORTED_LINK_TYPES.join(', ')} (use a kind: bridge node to join several nodes), ${RUNTIME_HINT}`,
      }),
    );
    return;
  }
  for (const key of Object.keys(link.extra ?? {})) {
    problems.add(
      new UserError(`link #${index + 1}: field '${key}' is not supported by the netns runtime`, {
        where: at(link.extraPos?.[key]),
        hint: `remove '${key}', ${RUNTIME_HINT}`,
      }),
    );
  }
  if (link.mtu !== undefined && (!Number.isInteger(link.mtu) || link.mtu < 68 || link.mtu > 65535)) {
    problems.add(
      new UserError(`link #${index + 1}: mtu ${link.mtu} is not between 68 and 65535`, {
        where: at(link.pos),
      }),
    );
  }
  const nodeEnds = type === 'veth' ? link.endpoints : [link.endpoints[0]];
  for (const end of link.endpoints) {
    const isPseudo = !nodeEnds.includes(end);
    if (!isValidIfName(end.iface) && !(isPseudo && end.iface === '')) {
      problems.add(
        new UserError(
          `link #${index + 1}: interface name ${JSON.stringify(end.iface)} of ${isPseudo ? `the ${type} side` : `node '${end.node}'`} is not a valid Linux interface name`,
          {
            where: at(end.pos),
            hint: 'Linux interface names have at most 15 characters and no "/", ":" or spaces',
          },
        ),
      );
    }
    if (isPseudo && end.iface === '') {
      problems.add(
        new UserError(`link #${index + 1}: a ${type} link needs host-interface (the name of its other end)`, {
          where: at(link.pos),
        }),
      );
    }
    if (end.mac !== undefined && !MAC_PATTERN.test(end.mac)) {
      problems.add(
        new UserError(
          `link #${index + 1}: mac ${JSON.stringify(end.mac)} of '${end.node}:${end.iface}' is not a MAC address`,
          {
            where: at(end.pos),
            hint: 'write six hex pairs separated by ":" or "-", e.g. 02:00:00:00:00:01',
          },
        ),
      );
    }
    if (end.ipv4 !== undefined && !IPV4_CIDR_PATTERN.test(end.ipv4))
      problems.add(
        new UserError(`link #${index + 1}: ipv4 ${JSON.stringify(end.ipv4)} is not an IPv4 address/prefix`, {
          where: at(end.pos),
        }),
      );
    if (end.ipv6 !== undefined && !IPV6_CIDR_PATTERN.test(end.ipv6))
      problems.add(
        new UserError(`link #${index + 1}: ipv6 ${JSON.stringify(end.ipv6)} is not an IPv6 address/prefix`, {
          where: at(end.pos),
        }),
      );
  }
  for (const end of nodeEnds) {
    const node = byName.get(end.node);
    if (!node) continue;
    const mode = networkModeOf(node);
    if (typeof mode === 'object' && (mode.mode === 'container' || mode.mode === 'host')) {
      problems.add(
        new UserError(
          `link #${index + 1}: node '${end.node}' has network-mode ${mode.mode === 'host' ? 'host' : `container:${mode.node}`}, so it has no interfaces of its own to link`,
          { where: at(end.pos), hint: `link the node that owns the network instead` },
        ),
      );
    }
    if (node.kind === 'host' && type !== 'veth') {
      problems.add(
        new UserError(`link #${index + 1}: a kind: host node can only be the host end of a veth link`, {
          where: at(end.pos),
        }),
      );
    }
  }
  if (type === 'veth' && link.endpoints.every((e) => byName.get(e.node)?.kind === 'host')) {
    problems.add(new UserError(`link #${index + 1} joins the host to itself`, { where: at(link.pos) }));
  }
}
