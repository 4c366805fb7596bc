/**
 * How the traffic engine reaches a node's network namespace: the transport seam. `netns` (default)
 * runs one local probe server that enters every namespace with setns(2); `exec` starts a probe server
 * inside each node through the runtime's exec (nsenter, `docker exec -i`, `kubectl exec -i`) and talks
 * to it over that process's stdin/stdout, so the harness never needs the node's namespace.
 */
import { UserError } from '../util/errors.ts';
import type { ProbeChannel } from './channel.ts';
import type { ProbeTarget } from './types.ts';

export type TransportName = 'netns' | 'exec';
export const TRANSPORT_NAMES: readonly TransportName[] = ['netns', 'exec'];

/** A node the exec transport can start a probe server in (a runtime LabNode fits). */
export interface ExecNode {
  name: string;
  netnsPath: string;
  /** The host command that runs `argv` inside the node with stdin/stdout attached; absent: the runtime cannot. */
  interactive?(argv: readonly string[]): { argv: string[]; env?: Record<string, string> };
  /** A namespace inside another node: served by that node's server, which opens it at `netnsPath`. */
  within?: { node: ExecNode; netnsPath: string };
}

/** Where a request about a target goes, and the namespace field that server understands for it. */
export interface ProbeRoute {
  channel: ProbeChannel;
  ns: string;
}

export interface ProbeTransport {
  readonly name: TransportName;
  /** The local server: ops that need no namespace (build, stats) and the test hooks. */
  readonly home: ProbeChannel;
  /** True when the servers write files where the harness reads them (pcaps). */
  readonly sharesFiles: boolean;
  start(): Promise<void>;
  route(target: ProbeTarget): Promise<ProbeRoute>;
  /** Nodes the transport may reach (exec); the netns transport needs none. */
  useNodes(nodes: Iterable<ExecNode>): void;
  /** Lets go of these namespaces (before they are deleted). */
  release(targets: readonly ProbeTarget[]): Promise<void>;
  stop(): Promise<void>;
}

/** The transport to use: the CLI flag, else $OTWIN_TRANSPORT, else netns. */
export function resolveTransportName(flag?: string, env: NodeJS.ProcessEnv = process.env): TransportName {
  const value = flag ?? (env.OTWIN_TRANSPORT || undefined) ?? 'netns';
  if ((TRANSPORT_NAMES as readonly string[]).includes(value)) return value as TransportName;
  throw new UserError(
    `unknown traffic transport '${value}' (from ${flag === undefined ? 'OTWIN_TRANSPORT' : '--transport'})`,
    {
      hint: `use one of: ${TRANSPORT_NAMES.join(', ')}`,
    },
  );
}
