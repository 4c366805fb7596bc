/**
 * The containerlab node fields the netns runtime interprets beyond the modelled ones, parsed into
 * typed values: `ports`, `network-mode`, `stages`. Parsers return a value or a reason (for the
 * validation report); the deploy only ever sees parsed, checked values.
 */
import type { TopologyNode } from '../../topology/types.ts';

// ---- ports ----

export interface PublishedPort {
  /** Host address the forwarder listens on: 127.0.0.1 unless the entry names one. */
  hostAddress: string;
  hostPort: number;
  nodePort: number;
  protocol: 'tcp';
  /** The entry as written, for messages. */
  spec: string;
}

const IPV4 =
  /^(?:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])$/;
const PORT_SPEC = /^(?:([0-9.]+):)?([0-9]{1,5}):([0-9]{1,5})(?:\/(tcp|udp|sctp))?$/;

/** Docker's `[ip:]hostPort:containerPort[/proto]`; the host side defaults to 127.0.0.1 here (not 0.0.0.0). */
export function parsePort(spec: string): PublishedPort | string {
  const m = PORT_SPEC.exec(spec);
  if (!m) return `'${spec}' is not of the form [host address:]host port:node port[/tcp]`;
  const [, address, host, node, proto] = m;
  const hostPort = Number(host);
  const nodePort = Number(node);
  if (address !== undefined && !IPV4.test(address)) return `'${address}' in '${spec}' is not an IPv4 address`;
  if (hostPort < 1 || hostPort > 65535 || nodePort < 1 || nodePort > 65535)
    return `ports in '${spec}' must be between 1 and 65535`;
  if (proto !== undefined && proto !== 'tcp')
    return `'${spec}' publishes ${proto}: the netns runtime forwards TCP only`;
  return { hostAddress: address ?? '127.0.0.1', hostPort, nodePort, protocol: 'tcp', spec };
}

export function nodePorts(node: TopologyNode): PublishedPort[] {
  const raw = node.extra.ports;
  if (!Array.isArray(raw)) return [];
  return raw.map((p) => parsePort(String(p))).filter((p): p is PublishedPort => typeof p !== 'string');
}

// ---- network-mode ----

export type NetworkMode =
  | { mode: 'bridge' }
  | { mode: 'none' }
  | { mode: 'container'; node: string }
  | { mode: 'host' };

export function networkModeOf(node: TopologyNode): NetworkMode | string {
  const raw = node.extra['network-mode'];
  if (raw === undefined) return { mode: 'bridge' };
  if (typeof raw !== 'string') return 'network-mode must be a string';
  if (raw === 'none') return { mode: 'none' };
  if (raw === 'host') return { mode: 'host' };
  if (raw === 'bridge') return { mode: 'bridge' };
  const m = /^container:(\S+)$/.exec(raw);
  if (m) return { mode: 'container', node: m[1]! };
  return `network-mode '${raw}' is not one of none, host, bridge, container:<node>`;
}

// ---- stages ----

/** containerlab's node stages, in the order a node passes them. */
export const STAGES = ['create', 'create-links', 'configure', 'healthy', 'exit'] as const;
export type Stage = (typeof STAGES)[number];
/** The stages this runtime can reach (no `exit`: a node here runs until destroyed). */
export const REACHABLE_STAGES: readonly Stage[] = ['create', 'create-links', 'configure', 'healthy'];

export interface StageWait {
  /** The stage of this node that waits. */
  stage: Stage;
  node: string;
  /** The stage the other node must reach. */
  waitFor: Stage;
}

/** A stage exec command (containerlab `stages.<stage>.exec`). */
export interface StageExec {
  stage: Stage;
  phase: 'on-enter' | 'on-exit';
  command: string;
  /** `container` (inside the node, the default) or `host` (on the machine). */
  target: 'container' | 'host';
}

/** `stages.<stage>.exec` in either of containerlab's forms; reasons for what is malformed. */
function stageExecs(stage: Stage, raw: unknown, problems: string[]): StageExec[] {
  const out: StageExec[] = [];
  const add = (phase: unknown, command: unknown, target: unknown = 'container'): void => {
    if ((phase !== 'on-enter' && phase !== 'on-exit') || typeof command !== 'string' || command === '') {
      problems.push(`stages.${stage}.exec entries need a command and a phase (on-enter or on-exit)`);
      return;
    }
    if (target !== 'container' && target !== 'host') {
      problems.push(`stages.${stage}.exec target '${String(target)}' is not container or host`);
      return;
    }
    if (stage === 'create' && phase === 'on-enter' && target === 'container') {
      problems.push(
        'stages.create.exec on-enter cannot run in the node: it does not exist yet (use target: host)',
      );
      return;
    }
    out.push({ stage, phase, command, target });
  };
  if (Array.isArray(raw)) {
    for (const e of raw as Array<Record<string, unknown>>)
      add(e?.phase, e?.command, e?.target ?? 'container');
  } else if (raw !== null && typeof raw === 'object') {
    for (const [phase, list] of Object.entries(raw as Record<string, unknown>)) {
      if (!Array.isArray(list)) add(phase, undefined);
      else for (const command of list) add(phase, command);
    }
  } else problems.push(`stages.${stage}.exec must be a list or a mapping of on-enter/on-exit`);
  return out;
}

/** `stages.<stage>.wait-for` and `exec` of a node as flat lists; reasons for everything else. */
export function stageWaits(node: TopologyNode): {
  waits: StageWait[];
  execs: StageExec[];
  problems: string[];
} {
  const raw = node.extra.stages;
  const waits: StageWait[] = [];
  const execs: StageExec[] = [];
  const problems: string[] = [];
  if (raw === undefined) return { waits, execs, problems };
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    return { waits, execs, problems: ['stages must be a mapping of stage names'] };
  for (const [stage, config] of Object.entries(raw as Record<string, unknown>)) {
    if (!(REACHABLE_STAGES as readonly string[]).includes(stage)) {
      problems.push(
        stage === 'exit'
          ? "stage 'exit' cannot be reached here: nodes run until the lab is destroyed"
          : `'${stage}' is not a containerlab stage (${STAGES.join(', ')})`,
      );
      continue;
    }
    if (config === null || typeof config !== 'object' || Array.isArray(config)) {
      problems.push(`stages.${stage} must be a mapping with wait-for`);
      continue;
    }
    for (const key of Object.keys(config)) {
      if (key === 'exec')
        execs.push(...stageExecs(stage as Stage, (config as Record<string, unknown>).exec, problems));
      else if (key !== 'wait-for')
        problems.push(`stages.${stage}.${key} is not a stage setting (wait-for, exec)`);
    }
    const list = (config as Record<string, unknown>)['wait-for'];
    if (list === undefined) continue;
    if (!Array.isArray(list)) {
      problems.push(`stages.${stage}.wait-for must be a list of {node, stage}`);
      continue;
    }
    for (const entry of list) {
      const e = entry as { node?: unknown; stage?: unknown };
      const waitFor = e?.stage ?? 'create';
      if (typeof e?.node !== 'string' || typeof waitFor !== 'string') {
        problems.push(`stages.${stage}.wait-for entries need a node name (and optionally a stage)`);
        continue;
      }
      if (!(REACHABLE_STAGES as readonly string[]).includes(waitFor)) {
        problems.push(
          `stages.${stage}.wait-for: stage '${waitFor}' of node '${e.node}' cannot be waited for here`,
        );
        continue;
      }
      waits.push({ stage: stage as Stage, node: e.node, waitFor: waitFor as Stage });
    }
  }
  return { waits, execs, problems };
}
