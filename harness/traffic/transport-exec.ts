/**
 * The exec transport: one probe server inside each node, started through the runtime's exec with
 * stdin/stdout attached, and spoken to over them. The server's package travels in its argv (deflated,
 * base64), so the node needs python3 and scapy but no copy of the project; requests name the server's
 * own namespace ("self"), never a path on the harness's machine.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { type ChannelOptions, ProbeChannel, ProbeError } from './channel.ts';
import type { ExecNode, ProbeRoute, ProbeTransport } from './transport.ts';
import { type LocalServerOptions, localChannel } from './transport-netns.ts';
import type { ProbeTarget } from './types.ts';

/**
 * The last argument of every server the exec transport starts: it names the process in `ps` and lets
 * harness/kernel/procs.ts tell it from the node's own software (a node-kill must not kill it).
 */
export const EXEC_SERVER_MARK = 'otwin-probe-server';

/** The namespace a server was started in, as the probe server names it. */
export const OWN_NAMESPACE = 'self';

// Unpacks the package to a temporary folder, imports it (every module is imported up front), removes
// the folder and serves: nothing is left in the node when the server exits.
const BOOTSTRAP = `import base64,json,os,shutil,sys,tempfile,zlib
files=json.loads(zlib.decompress(base64.b64decode(sys.argv[1])))
os.environ["OTWIN_PREWARM_SCAPY"]=sys.argv[2]
d=tempfile.mkdtemp(prefix="otwin-probe-")
os.mkdir(os.path.join(d,"probe_server"))
for name,text in files.items():
    with open(os.path.join(d,"probe_server",name),"w") as f: f.write(text)
sys.path.insert(0,d)
import probe_server.loop as loop
shutil.rmtree(d,ignore_errors=True)
sys.path.remove(d)
loop.run()`;

/** The probe server's modules, deflated and base64-encoded for an argv. */
export function packServer(script: string): string {
  const files: Record<string, string> = {};
  for (const name of readdirSync(script).sort()) {
    if (name.endsWith('.py')) files[name] = readFileSync(join(script, name), 'utf8');
  }
  return deflateSync(JSON.stringify(files), { level: 9 }).toString('base64');
}

export class ExecTransport implements ProbeTransport {
  readonly name = 'exec' as const;
  // The servers write pcaps inside their nodes: sniffs return frames and the harness writes the files.
  readonly sharesFiles = false;
  readonly home: ProbeChannel;
  private readonly nodes = new Map<string, ExecNode>();
  private readonly channels = new Map<string, Promise<ProbeChannel>>();
  private readonly bundle: string;
  private readonly channelOptions: ChannelOptions;
  private stopped = false;

  constructor(private readonly options: LocalServerOptions) {
    this.home = localChannel(options);
    this.bundle = packServer(options.script);
    // Under load a node's exec (nsenter, docker exec) plus python's start-up takes longer than a local start.
    this.channelOptions = { ...options, startTimeoutMs: Math.max(options.startTimeoutMs ?? 0, 30_000) };
  }

  start(): Promise<void> {
    return this.home.launch();
  }

  /**
   * Registers nodes; the servers of top-level nodes start right away in the background, so that a
   * check's budget does not pay for their start-up (a failed start is reported by the first route).
   */
  useNodes(nodes: Iterable<ExecNode>): void {
    for (const node of nodes) {
      const known = this.nodes.get(node.netnsPath);
      // A VM not yet pinned to its own namespace shows its hypervisor's path: keep the hypervisor.
      if (node.within && known && !known.within) continue;
      const fresh = known === undefined;
      this.nodes.set(node.netnsPath, node);
      if (fresh && !node.within && !this.stopped) this.channel(node).catch(() => undefined);
    }
  }

  route(target: ProbeTarget): Promise<ProbeRoute> {
    if (this.stopped) return Promise.reject(new ProbeError('stopped', 'the probe server was stopped'));
    const node = this.nodes.get(target.netnsPath);
    if (!node)
      return Promise.reject(
        new ProbeError(
          'unsupported-transport',
          `exec transport: no lab node is known for ${target.name} (${target.netnsPath}), so no probe server can be started in it`,
        ),
      );
    // A VM's namespace is opened by its hypervisor's server: one server per lab node, started early.
    if (node.within) {
      const { node: host, netnsPath } = node.within;
      return this.channel(host).then((c) => ({ channel: c, ns: netnsPath }));
    }
    return this.channel(node).then((c) => ({ channel: c, ns: OWN_NAMESPACE }));
  }

  private channel(node: ExecNode): Promise<ProbeChannel> {
    let channel = this.channels.get(node.netnsPath);
    if (!channel) {
      channel = this.open(node);
      this.channels.set(node.netnsPath, channel);
      channel.catch(() => this.channels.delete(node.netnsPath));
    }
    return channel;
  }

  private async open(node: ExecNode): Promise<ProbeChannel> {
    if (!node.interactive)
      throw new ProbeError(
        'unsupported-transport',
        `exec transport: the runtime of node ${node.name} cannot exec with stdin/stdout attached`,
      );
    const command = node.interactive([
      this.options.pythonPath,
      '-u',
      '-c',
      BOOTSTRAP,
      this.bundle,
      // Dozens of servers importing scapy at once would starve a busy machine: probes need none, and
      // sniffing checks warm the servers they use (ProbeServer.prepare).
      '0',
      EXEC_SERVER_MARK,
    ]);
    const channel = new ProbeChannel(
      {
        argv: command.argv,
        ...(command.env ? { env: { ...process.env, ...command.env } } : {}),
        describe: `${this.options.pythonPath} in node ${node.name} (exec transport)`,
      },
      this.channelOptions,
    );
    await channel.launch();
    return channel;
  }

  async release(targets: readonly ProbeTarget[]): Promise<void> {
    await Promise.all(
      targets.map(async (target) => {
        const within = this.nodes.get(target.netnsPath)?.within;
        if (within) {
          const host = await this.channels.get(within.node.netnsPath)?.catch(() => undefined);
          if (host?.running) await host.request('release', { paths: [within.netnsPath] });
          return;
        }
        const channel = this.channels.get(target.netnsPath);
        this.channels.delete(target.netnsPath);
        await (await channel?.catch(() => undefined))?.stop();
      }),
    );
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const channels = [...this.channels.values()];
    this.channels.clear();
    await Promise.all(channels.map(async (c) => (await c.catch(() => undefined))?.stop()));
    await this.home.stop();
  }
}
