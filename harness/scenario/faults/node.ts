/**
 * node-kill, node-pause, node-resume, node-restart. A node's namespaces stay (the runtime owns them);
 * "kill" ends every process in the node and takes its interfaces down, like pulling the power;
 * "restart" brings the interfaces back and starts the node's software again through the driver.
 */

import { isAlive, nodeProcesses, signal } from '../../kernel/procs.ts';
import { HarnessError } from '../../util/errors.ts';
import { sleep } from '../../util/poll.ts';
import type { ScenarioContext } from '../context.ts';
import { type FaultDefinition, forDuration } from './types.ts';

export interface NodeFault<K extends string = NodeFaultKind> {
  kind: K;
  node: string;
  durationMs: number | undefined;
}
type NodeFaultKind = 'node-kill' | 'node-pause' | 'node-resume' | 'node-restart';

const downLinks = new Map<string, string[]>();
/** Static routes of killed nodes: taking interfaces down deletes the routes through them. */
const savedRoutes = new Map<string, IpRoute[]>();

interface IpRoute {
  dst: string;
  gateway?: string;
  dev?: string;
  protocol?: string;
  metric?: number;
}

async function staticRoutes(ctx: ScenarioContext, node: string): Promise<IpRoute[]> {
  const r = await ctx.node(node).exec(['ip', '-j', '-4', 'route', 'show']);
  if (r.exitCode !== 0 || !r.stdout.trim()) return [];
  // Routes the node's configuration added (exec lines: proto boot/static); the kernel re-adds its own
  // connected routes and routing daemons re-learn theirs.
  return (JSON.parse(r.stdout) as IpRoute[]).filter(
    (route) =>
      route.gateway &&
      (route.protocol === 'boot' || route.protocol === 'static' || route.protocol === undefined),
  );
}

async function interfaces(ctx: ScenarioContext, node: string): Promise<string[]> {
  const r = await ctx.node(node).exec(['ip', '-j', 'link', 'show']);
  if (r.exitCode !== 0) throw new HarnessError(`${node}: ip link show: ${r.stderr.trim()}`);
  const links = JSON.parse(r.stdout) as Array<{ ifname: string; flags: string[] }>;
  return links.filter((l) => l.ifname !== 'lo' && l.flags.includes('UP')).map((l) => l.ifname);
}

async function kill(ctx: ScenarioContext, name: string): Promise<void> {
  const node = ctx.node(name);
  const pids = nodeProcesses(node).map((p) => p.pid);
  signal(pids, 'SIGKILL');
  for (let i = 0; i < 100 && pids.some((pid) => isAlive(pid)); i += 1) await sleep(20);
  const ifaces = await interfaces(ctx, name);
  savedRoutes.set(`${ctx.lab.topology.name}/${name}`, await staticRoutes(ctx, name));
  downLinks.set(`${ctx.lab.topology.name}/${name}`, ifaces);
  for (const iface of ifaces) await node.exec(['ip', 'link', 'set', iface, 'down']);
  ctx.down.add(name);
}

async function restart(ctx: ScenarioContext, name: string): Promise<void> {
  const node = ctx.node(name);
  const key = `${ctx.lab.topology.name}/${name}`;
  for (const iface of downLinks.get(key) ?? []) {
    const r = await node.exec(['ip', 'link', 'set', iface, 'up']);
    if (r.exitCode !== 0) throw new HarnessError(`${name}: ip link set ${iface} up: ${r.stderr.trim()}`);
  }
  downLinks.delete(key);
  for (const route of savedRoutes.get(key) ?? []) {
    const argv = [
      'ip',
      'route',
      'replace',
      route.dst,
      'via',
      route.gateway!,
      ...(route.dev ? ['dev', route.dev] : []),
    ];
    const r = await node.exec(argv);
    if (r.exitCode !== 0) throw new HarnessError(`${name}: ${argv.join(' ')}: ${r.stderr.trim()}`);
  }
  savedRoutes.delete(key);
  // VXLAN/bridge devices that were UP come back with the list above; start the software.
  await ctx.driver.startNode(node);
  ctx.down.delete(name);
}

function pause(ctx: ScenarioContext, name: string, sig: 'SIGSTOP' | 'SIGCONT'): void {
  signal(
    nodeProcesses(ctx.node(name)).map((p) => p.pid),
    sig,
  );
  if (sig === 'SIGSTOP') ctx.down.add(name);
  else ctx.down.delete(name);
}

type NodeFaultOptions<K extends NodeFaultKind> = Pick<
  FaultDefinition<NodeFault<K>>,
  'kind' | 'duration' | 'chaos' | 'undoes' | 'apply'
>;

function nodeFault<K extends NodeFaultKind>(options: NodeFaultOptions<K>): FaultDefinition<NodeFault<K>> {
  return {
    ...options,
    required: ['node'],
    optional: [],
    properties: { node: { $ref: '#/definitions/name' } },
    parse: (raw, durationMs) => ({ kind: options.kind, node: String(raw.node), durationMs }),
    describe: (f) => `${f.kind} ${f.node}${forDuration(f)}`,
    target: (f) => `node:${f.node}`,
  };
}

export const nodeKill = nodeFault({
  kind: 'node-kill',
  duration: true,
  chaos: true,
  undoes: false,
  async apply(fault, ctx) {
    await kill(ctx, fault.node);
    return () => restart(ctx, fault.node);
  },
});

export const nodePause = nodeFault({
  kind: 'node-pause',
  duration: true,
  chaos: true,
  undoes: false,
  async apply(fault, ctx) {
    pause(ctx, fault.node, 'SIGSTOP');
    return async () => pause(ctx, fault.node, 'SIGCONT');
  },
});

export const nodeResume = nodeFault({
  kind: 'node-resume',
  duration: false,
  chaos: false,
  undoes: true,
  async apply(fault, ctx) {
    pause(ctx, fault.node, 'SIGCONT');
    return undefined;
  },
});

export const nodeRestart = nodeFault({
  kind: 'node-restart',
  duration: false,
  chaos: true,
  undoes: true,
  async apply(fault, ctx) {
    if (!downLinks.has(`${ctx.lab.topology.name}/${fault.node}`)) await kill(ctx, fault.node);
    await restart(ctx, fault.node);
    return undefined;
  },
});
