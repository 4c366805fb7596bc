/**
 * The typed client of the probe server (harness/traffic/probe_server/, a Python package): long-lived
 * /usr/bin/python3 processes spoken to in JSON lines, reached through a transport (transport.ts): one
 * local server entering namespaces (netns), or one server inside each node (exec). Requests carry ids
 * and run concurrently in the server.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../util/exec.ts';
import { type ChannelOptions, type ProbeChannel, ProbeError } from './channel.ts';
import { comparePackets } from './expect.ts';
import { writePcap } from './pcap.ts';
import {
  type ExecNode,
  type ProbeRoute,
  type ProbeTransport,
  resolveTransportName,
  type TransportName,
} from './transport.ts';
import { ExecTransport } from './transport-exec.ts';
import { NetnsTransport } from './transport-netns.ts';
import type {
  ArpRequest,
  ArpResult,
  CaptureRequest,
  CaptureResult,
  DecodedLayer,
  DecodedPacket,
  ExpectPacketsRequest,
  ExpectPacketsResult,
  IcmpProbe,
  InterfaceInfo,
  ListenerHandle,
  ListenSpec,
  PacketDescription,
  ProbeResult,
  ProbeTarget,
  RunningCapture,
  SendRequest,
  SniffRequest,
  TcpProbe,
  UdpProbe,
} from './types.ts';

const here = dirname(fileURLToPath(import.meta.url));
// A Python package run as a folder (its __main__.py): probes, packets, streams and the server loop.
export const PROBE_SERVER_SCRIPT = join(here, 'probe_server');
export const DEFAULT_PYTHON = '/usr/bin/python3';

export { ProbeError, type ProbeErrorKind } from './channel.ts';

export interface ProbeServerOptions extends ChannelOptions {
  /** Interpreter; Debian's scapy lives under /usr/bin/python3 only (also the one run inside nodes). */
  pythonPath?: string;
  pythonOptions?: string[];
  /** Import scapy in the background right after start (default true). */
  prewarmScapy?: boolean;
  /** How nodes are reached (default: --transport / $OTWIN_TRANSPORT, else netns). See transport.ts. */
  transport?: TransportName;
}

export interface ServerStats {
  threads: number;
  namespaces: string[];
  listeners: number;
  captures: number;
  streams: number;
  scapyLoaded: boolean;
}

/** The first echo reply of a reachability watch (`atMs`: wall clock, ms since the epoch). */
export interface ReachResult {
  reached: boolean;
  atMs: number | null;
  seq: number | null;
  sent: number;
  sendErrors: number;
}

export interface ReachWatch {
  /** When the first request was sent (wall clock, ms since the epoch). */
  armedAtMs: number;
  wait(): Promise<ReachResult>;
}

export class ProbeServer {
  /** Which channel serves each listener handle (handles are the server's, so per channel). */
  private readonly listenerChannels = new Map<string, ProbeChannel>();

  private constructor(readonly transport: ProbeTransport) {}

  static async start(options: ProbeServerOptions = {}): Promise<ProbeServer> {
    const local = {
      ...options,
      pythonPath: options.pythonPath ?? DEFAULT_PYTHON,
      pythonOptions: options.pythonOptions ?? ['-u'],
      script: PROBE_SERVER_SCRIPT,
      prewarmScapy: options.prewarmScapy ?? true,
    };
    const name = options.transport ?? resolveTransportName();
    const transport = name === 'exec' ? new ExecTransport(local) : new NetnsTransport(local);
    await transport.start();
    return new ProbeServer(transport);
  }

  /** The transport's name, for skip reasons ("not over the exec transport"). */
  get transportName(): TransportName {
    return this.transport.name;
  }

  /** Lab nodes the exec transport may start servers in (the netns transport ignores them). */
  useNodes(nodes: Iterable<ExecNode>): void {
    this.transport.useNodes(nodes);
  }

  private get home(): ProbeChannel {
    return this.transport.home;
  }

  get restartCount(): number {
    return this.home.restartCount;
  }

  get crashLog(): string | undefined {
    return this.home.crashLog;
  }

  get pid(): number | undefined {
    return this.home.pid;
  }

  get startSeconds(): number {
    return this.home.startSeconds;
  }

  get strayLines(): string[] {
    return this.home.strayLines;
  }

  /** Everything the local server wrote to stderr (tail). */
  get stderr(): string {
    return this.home.stderr;
  }

  get running(): boolean {
    return this.home.running;
  }

  /** Sends one request to the local server (ops that need no namespace). */
  request<T>(op: string, payload: Record<string, unknown> = {}): Promise<T> {
    return this.home.request<T>(op, payload);
  }

  /** The server that reaches `target`, and how it names the target's namespace. */
  route(target: ProbeTarget): Promise<ProbeRoute> {
    return this.transport.route(target);
  }

  /** Sends one request about `target` (its `ns` field set for the serving channel). */
  private async requestIn<T>(target: ProbeTarget, op: string, payload: Record<string, unknown>): Promise<T> {
    const { channel, ns } = await this.route(target);
    return channel.request<T>(op, { ...payload, ns });
  }

  /**
   * Starts (exec) and warms the servers that reach `targets`, scapy imported: call before arming
   * several sniffers together, so that none waits on another's start-up and times out early.
   */
  async prepare(targets: readonly ProbeTarget[]): Promise<void> {
    const channels = new Set<ProbeChannel>();
    for (const route of await Promise.all(targets.map((t) => this.route(t)))) channels.add(route.channel);
    await Promise.all([...channels].map((c) => c.request('warm')));
  }

  /** Stops every server: they close every listener, capture, stream and namespace thread. */
  async stop(): Promise<void> {
    await this.transport.stop();
  }

  // ------------------------------------------------------------------------------------------------
  // probes

  /**
   * Arms a reachability watch: echo requests from `from` to `to` every `intervalMs` until the first
   * reply. The first request has left when this resolves, so a watch armed before a change (an API
   * call) times the change, not the probe's start-up. `wait()` gives the reply's wall-clock arrival.
   */
  async reachWatch(req: {
    from: ProbeTarget;
    to: string;
    intervalMs?: number;
    timeoutMs?: number;
  }): Promise<ReachWatch> {
    const { channel, ns } = await this.route(req.from);
    const started = await channel.request<{ watch: number; armedAtMs: number }>('reach_start', {
      ns,
      to: req.to,
      intervalMs: req.intervalMs ?? 5,
      timeoutMs: req.timeoutMs ?? 20_000,
    });
    return {
      armedAtMs: started.armedAtMs,
      wait: () => channel.request<ReachResult>('reach_wait', { watch: started.watch }),
    };
  }

  icmp(probe: IcmpProbe): Promise<ProbeResult> {
    return this.requestIn<ProbeResult>(probe.from, 'icmp', probeFields(probe));
  }

  tcp(probe: TcpProbe): Promise<ProbeResult> {
    return this.requestIn<ProbeResult>(probe.from, 'tcp', {
      ...probeFields(probe),
      port: probe.port,
      ...(probe.sport !== undefined ? { sport: probe.sport } : {}),
    });
  }

  udp(probe: UdpProbe): Promise<ProbeResult> {
    return this.requestIn<ProbeResult>(probe.from, 'udp', {
      ...probeFields(probe),
      port: probe.port,
      ...(probe.sport !== undefined ? { sport: probe.sport } : {}),
    });
  }

  /** Opens a TCP accept-and-close listener or a UDP echo responder on all addresses of the target. */
  async listen(spec: ListenSpec): Promise<ListenerHandle> {
    const { channel, ns } = await this.route(spec.target);
    const handle = await channel.request<ListenerHandle>('listen', {
      ns,
      proto: spec.proto,
      port: spec.port,
    });
    // Each server numbers its own handles: the public id names the serving channel too.
    const id = channel === this.home ? handle.id : `${spec.target.netnsPath}#${handle.id}`;
    this.listenerChannels.set(id, channel);
    return { ...handle, id };
  }

  async unlisten(handles: ListenerHandle | ListenerHandle[]): Promise<void> {
    const list = Array.isArray(handles) ? handles : [handles];
    const byChannel = new Map<ProbeChannel, string[]>();
    for (const h of list) {
      const channel = this.listenerChannels.get(h.id) ?? this.home;
      this.listenerChannels.delete(h.id);
      byChannel.set(channel, [...(byChannel.get(channel) ?? []), h.id.replace(/^.*#/, '')]);
    }
    await Promise.all(
      [...byChannel].map(([channel, ids]) =>
        channel.running ? channel.request('unlisten', { ids }) : Promise.resolve(),
      ),
    );
  }

  async arp(req: ArpRequest): Promise<ArpResult> {
    const result = await this.requestIn<ArpResult>(req.from, 'arp', {
      iface: req.iface,
      ip: req.ip,
      senderIp: req.senderIp,
      timeoutMs: req.timeoutMs ?? 1000,
      all: req.all ?? false,
    });
    if (req.candidates?.length) {
      const owners = new Map<string, { node: string; ifname: string }>();
      for (const candidate of req.candidates) {
        for (const iface of await this.interfaces(candidate)) {
          if (iface.mac) owners.set(iface.mac, { node: candidate.name, ifname: iface.ifname });
        }
      }
      for (const reply of result.replies) {
        const owner = owners.get(reply.mac);
        if (owner) Object.assign(reply, owner);
      }
    }
    return result;
  }

  interfaces(target: ProbeTarget): Promise<InterfaceInfo[]> {
    return this.requestIn<{ interfaces: InterfaceInfo[] }>(target, 'interfaces', {}).then(
      (r) => r.interfaces,
    );
  }

  /** Sends a crafted frame (on `iface`, Ether first; Ether.src defaults to the interface MAC) or L3 packet. */
  send(req: SendRequest): Promise<{ sent: number; bytes: number }> {
    return this.requestIn(req.target, 'send', {
      iface: req.iface,
      packet: req.packet,
      count: req.count ?? 1,
      intervalMs: req.intervalMs ?? 0,
    });
  }

  /** Builds a description and returns it decoded with every default and checksum computed. */
  build(packet: PacketDescription): Promise<{ layers: DecodedLayer[]; hex: string }> {
    return this.home.request('build', { packet });
  }

  /** Sniffs until `count` packets or `timeoutMs`; resolves with the decoded packets. */
  async sniff(req: SniffRequest): Promise<DecodedPacket[]> {
    const running = await this.startSniff(req);
    return running.packets;
  }

  /**
   * Starts sniffing and resolves once the socket and filter are in place (so the caller can send
   * afterwards without a race); `packets` settles when the sniff ends.
   */
  async startSniff(req: SniffRequest): Promise<{ packets: Promise<DecodedPacket[]> }> {
    let ready!: () => void;
    const readyP = new Promise<void>((resolve) => {
      ready = resolve;
    });
    const { channel, ns } = await this.route(req.target);
    // A server inside a node writes files there: the harness writes the pcap from the frames instead.
    const localPcap = this.transport.sharesFiles ? undefined : req.pcapPath;
    const packets = channel
      .request<{ packets: DecodedPacket[] }>(
        'sniff',
        {
          ns,
          iface: req.iface,
          filter: req.filter,
          count: req.count ?? 0,
          timeoutMs: req.timeoutMs,
          pcapPath: localPcap === undefined ? req.pcapPath : undefined,
          readyEvent: true,
        },
        ready,
      )
      .then((r) => {
        if (localPcap !== undefined) writePcap(localPcap, r.packets);
        return r.packets;
      });
    // Whichever comes first: ready, or the request failing.
    await Promise.race([readyP, packets.then(() => undefined)]);
    return { packets };
  }

  /** Captures to a pcap file until stop() (or `durationMs`). */
  async capture(req: CaptureRequest): Promise<RunningCapture> {
    if (!this.transport.sharesFiles)
      throw new ProbeError(
        'unsupported-transport',
        `capture to ${req.path}: the ${this.transport.name} transport's servers cannot write files the harness reads; use sniff with pcapPath`,
      );
    const { channel, ns } = await this.route(req.target);
    const { id } = await channel.request<{ id: string }>('capture_start', {
      ns,
      iface: req.iface,
      filter: req.filter,
      pcapPath: req.path,
      durationMs: req.durationMs,
    });
    let result: Promise<CaptureResult> | undefined;
    return {
      path: req.path,
      stop: () => {
        result ??= channel.request<{ packets: number }>('capture_stop', { capture: id }).then((r) => ({
          path: req.path,
          packets: r.packets,
        }));
        return result;
      },
    };
  }

  /**
   * Sniffs and checks the packets against a masked expectation (PTF style). Call `trigger` (if given)
   * once the sniffer is ready, e.g. to send the packet under test.
   */
  async expectPackets(
    req: ExpectPacketsRequest,
    trigger?: () => Promise<unknown>,
  ): Promise<ExpectPacketsResult> {
    const expected = await this.build(req.expected.packet);
    const wanted = req.count ?? 1;
    const running = await this.startSniff({ ...req, count: req.noOthers ? 0 : wanted });
    if (trigger) await trigger();
    const packets = await running.packets;
    return comparePackets(expected.layers, packets, {
      dontCare: req.expected.dontCare ?? [],
      count: wanted,
      noOthers: req.noOthers ?? false,
    });
  }

  /** The local server's counters (with the exec transport, the servers in nodes are not counted). */
  stats(): Promise<ServerStats> {
    return this.home.request<ServerStats>('stats');
  }

  /** Drops the server's threads and listeners for these namespaces (before deleting them). */
  async release(targets: ProbeTarget[]): Promise<void> {
    await this.transport.release(targets);
  }

  /** Test hook: makes the local server exit abruptly. */
  async crashForTest(): Promise<void> {
    await this.home.crashForTest();
  }
}

function probeFields(probe: IcmpProbe): Record<string, unknown> {
  return {
    to: probe.to,
    timeoutMs: probe.timeoutMs ?? 1000,
    mode: probe.mode ?? 'single',
    attemptMs: probe.attemptMs ?? 250,
  };
}

/** True when `/usr/bin/python3 -c 'import scapy'` works (for skip reasons in tests). */
export async function scapyAvailable(pythonPath = DEFAULT_PYTHON): Promise<boolean> {
  const result = await run(pythonPath, ['-c', 'import scapy']);
  return result.exitCode === 0;
}
