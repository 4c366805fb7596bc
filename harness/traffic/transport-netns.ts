/**
 * The netns transport (default): one local probe server; a request names the node's namespace by
 * path and the server enters it with setns(2). Needs the harness on the nodes' kernel, as root.
 */
import { type ChannelOptions, ProbeChannel } from './channel.ts';
import type { ExecNode, ProbeRoute, ProbeTransport } from './transport.ts';
import type { ProbeTarget } from './types.ts';

export interface LocalServerOptions extends ChannelOptions {
  pythonPath: string;
  pythonOptions: string[];
  script: string;
  prewarmScapy: boolean;
}

/** The probe server run by a local python (the netns transport's only one, the exec transport's home). */
export function localChannel(options: LocalServerOptions): ProbeChannel {
  return new ProbeChannel(
    {
      argv: [options.pythonPath, ...options.pythonOptions, options.script],
      env: { ...process.env, OTWIN_PREWARM_SCAPY: options.prewarmScapy ? '1' : '0' },
      describe: options.pythonPath,
    },
    options,
  );
}

export class NetnsTransport implements ProbeTransport {
  readonly name = 'netns' as const;
  readonly sharesFiles = true;
  readonly home: ProbeChannel;

  constructor(options: LocalServerOptions) {
    this.home = localChannel(options);
  }

  start(): Promise<void> {
    return this.home.launch();
  }

  async route(target: ProbeTarget): Promise<ProbeRoute> {
    return { channel: this.home, ns: target.netnsPath };
  }

  useNodes(_nodes: Iterable<ExecNode>): void {}

  async release(targets: readonly ProbeTarget[]): Promise<void> {
    if (!this.home.running) return;
    await this.home.request('release', { paths: targets.map((t) => t.netnsPath) });
  }

  stop(): Promise<void> {
    return this.home.stop();
  }
}
