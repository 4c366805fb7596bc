/**
 * The typed client of the probe server (harness/traffic/probe_server/, a Python package): one long-lived
 * /usr/bin/python3 per run, driven through python-shell in JSON mode. Requests carry ids and run concurrently in the server.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PythonShell } from 'python-shell';
import { HarnessError } from '../util/errors.ts';
import { run } from '../util/exec.ts';
import { comparePackets } from './expect.ts';
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

export type ProbeErrorKind =
  | 'unknown-namespace'
  | 'missing-scapy'
  | 'missing-python'
  | 'bad-request'
  | 'crashed'
  | 'stopped'
  | 'internal';

/** A probe that could not run. `kind` says why; crashes carry the server's stderr. */
export class ProbeError extends HarnessError {
  readonly kind: ProbeErrorKind;
  readonly stderr: string | undefined;
  constructor(kind: ProbeErrorKind, message: string, stderr?: string) {
    super(message);
    this.name = 'ProbeError';
    this.kind = kind;
    this.stderr = stderr;
  }
}

export interface ProbeServerOptions {
  /** Interpreter; Debian's scapy lives under /usr/bin/python3 only. */
  pythonPath?: string;
  pythonOptions?: string[];
  /** Fail start() when scapy cannot be imported (default true). */
  requireScapy?: boolean;
  /** Restart automatically once after a crash (default true). */
  restartOnCrash?: boolean;
  /** Start timeout (default 10 s). */
  startTimeoutMs?: number;
  /** Import scapy in the background right after start (default true). */
  prewarmScapy?: boolean;
}

export interface ServerStats {
  threads: number;
  namespaces: string[];
  listeners: number;
  captures: number;
  streams: number;
  scapyLoaded: boolean;
}

interface Pending {
  resolve(value: unknown): void;
  reject(err: Error): void;
  op: string;
}

interface Hello {
  event: 'hello';
  pid: number;
  python: string;
  scapy: boolean;
}

interface ReplyLine {
  id: number;
  ok: boolean;
  result?: unknown;
  kind?: ProbeErrorKind;
  error?: string;
}

interface EventLine {
  event: string;
  ref?: unknown;
  line?: string;
}

type ServerLine = ReplyLine | EventLine;

/** Lines that are not JSON are kept, never thrown (python-shell would crash Node on them). */
function parseLine(line: string): ServerLine {
  try {
    return JSON.parse(line) as ServerLine;
  } catch {
    return { event: 'non-json', line };
  }
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

const STDERR_KEEP = 64 * 1024;

export class ProbeServer {
  private shell: PythonShell | undefined;
  private readonly pending = new Map<number, Pending>();
  private readonly readyWaiters = new Map<number, () => void>();
  private nextId = 1;
  private stopping = false;
  private dead: ProbeError | undefined;
  private restarts = 0;
  private stderrText = '';
  private readonly options: Required<ProbeServerOptions>;
  /** stderr of the instance that crashed (kept across the restart). */
  crashLog: string | undefined;
  pid: number | undefined;
  /** Seconds the last start took (until the server said hello). */
  startSeconds = 0;
  /** Non-JSON lines the server printed on stdout (should stay empty). */
  readonly strayLines: string[] = [];

  private constructor(options: ProbeServerOptions) {
    this.options = {
      pythonPath: options.pythonPath ?? DEFAULT_PYTHON,
      pythonOptions: options.pythonOptions ?? ['-u'],
      requireScapy: options.requireScapy ?? true,
      restartOnCrash: options.restartOnCrash ?? true,
      startTimeoutMs: options.startTimeoutMs ?? 10_000,
      prewarmScapy: options.prewarmScapy ?? true,
    };
  }

  static async start(options: ProbeServerOptions = {}): Promise<ProbeServer> {
    const server = new ProbeServer(options);
    await server.launch();
    return server;
  }

  get restartCount(): number {
    return this.restarts;
  }

  /** Everything the current instance wrote to stderr (tail). */
  get stderr(): string {
    return this.stderrText;
  }

  private launch(): Promise<void> {
    const started = performance.now();
    this.stderrText = '';
    const shell = new PythonShell(PROBE_SERVER_SCRIPT, {
      mode: 'json',
      parser: parseLine,
      stderrParser: (line: string) => line,
      pythonPath: this.options.pythonPath,
      pythonOptions: this.options.pythonOptions,
      env: { ...process.env, OTWIN_PREWARM_SCAPY: this.options.prewarmScapy ? '1' : '0' },
    });
    this.shell = shell;
    this.pid = shell.childProcess.pid;
    // Writing to a dead child's stdin must not become an uncaught EPIPE.
    shell.stdin?.on('error', () => {});
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        fail(
          new ProbeError('internal', `probe server did not start within ${this.options.startTimeoutMs} ms`),
        );
        shell.kill('SIGKILL');
      }, this.options.startTimeoutMs);
      const fail = (err: ProbeError) => {
        if (settled) return;
        settled = true;
        if (this.shell === shell) this.shell = undefined;
        clearTimeout(timer);
        reject(err);
      };
      shell.on('message', (msg: ServerLine) => {
        if ('event' in msg && msg.event === 'hello') {
          const hello = msg as unknown as Hello;
          if (settled) return;
          if (!hello.scapy && this.options.requireScapy) {
            // Reject only once the child is gone, so no process outlives the failed start.
            settled = true;
            clearTimeout(timer);
            this.shell = undefined;
            shell.once('close', () =>
              reject(
                new ProbeError(
                  'missing-scapy',
                  `${this.options.pythonPath} cannot import scapy: install the Debian package python3-scapy (apt-get install python3-scapy)`,
                ),
              ),
            );
            this.shutdownShell(shell);
            return;
          }
          settled = true;
          clearTimeout(timer);
          this.startSeconds = (performance.now() - started) / 1000;
          resolve();
          return;
        }
        this.onMessage(msg);
      });
      shell.on('stderr', (line: string) => {
        this.stderrText = `${this.stderrText}${line}\n`.slice(-STDERR_KEEP);
      });
      shell.on('pythonError', () => {
        // Reported through 'close' with the exit code and the kept stderr.
      });
      shell.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') {
          fail(
            new ProbeError(
              'missing-python',
              `cannot run the probe server: ${this.options.pythonPath} not found (install python3 and python3-scapy)`,
            ),
          );
        } else {
          fail(new ProbeError('internal', `probe server process error: ${err.message}`));
        }
      });
      shell.on('close', () => {
        clearTimeout(timer);
        const code = shell.exitCode;
        const signal = shell.exitSignal;
        if (!settled) {
          fail(
            new ProbeError(
              'crashed',
              `probe server exited during start (code ${code}, signal ${signal}): ${this.stderrText.trim().slice(-2000)}`,
              this.stderrText,
            ),
          );
          return;
        }
        if (this.shell === shell) this.onExit(code, signal);
      });
    });
  }

  private shutdownShell(shell: PythonShell): void {
    shell.stdin?.end();
  }

  private onMessage(msg: ServerLine): void {
    if ('id' in msg && typeof msg.id === 'number') {
      const pending = this.pending.get(msg.id);
      if (!pending) return;
      this.pending.delete(msg.id);
      if (msg.ok) pending.resolve(msg.result);
      else pending.reject(new ProbeError(msg.kind ?? 'internal', `${pending.op}: ${msg.error}`));
      return;
    }
    if ('event' in msg) {
      if (msg.event === 'non-json') this.strayLines.push(String(msg.line));
      else if (msg.event === 'sniff-ready') {
        const ref = Number(msg.ref);
        this.readyWaiters.get(ref)?.();
        this.readyWaiters.delete(ref);
      }
    }
  }

  private onExit(code: number | null, signal: string | null): void {
    this.shell = undefined;
    this.pid = undefined;
    if (this.stopping) return;
    const stderr = this.stderrText;
    this.crashLog = stderr;
    const err = new ProbeError(
      'crashed',
      `probe server crashed (exit code ${code}, signal ${signal})${stderr.trim() ? `; stderr: ${stderr.trim().slice(-2000)}` : ''}`,
      stderr,
    );
    for (const [id, pending] of this.pending) {
      this.pending.delete(id);
      pending.reject(new ProbeError('crashed', `${pending.op}: ${err.message}`, stderr));
    }
    this.readyWaiters.clear();
    if (this.options.restartOnCrash && this.restarts === 0) {
      this.restarts += 1;
      this.restarting = this.launch().catch((startErr: unknown) => {
        this.dead = startErr instanceof ProbeError ? startErr : err;
      });
    } else {
      this.dead = new ProbeError(
        'crashed',
        `${err.message} (after ${this.restarts} restart${this.restarts === 1 ? '' : 's'}; not restarting again)`,
        stderr,
      );
    }
  }

  private restarting: Promise<void> | undefined;

  /** Sends one request; resolves with its result or rejects with a ProbeError. */
  async request<T>(
    op: string,
    payload: Record<string, unknown> = {},
    onId?: (id: number) => void,
  ): Promise<T> {
    if (this.restarting) {
      await this.restarting;
      this.restarting = undefined;
    }
    if (this.stopping) throw new ProbeError('stopped', `${op}: the probe server was stopped`);
    if (this.dead) throw this.dead;
    const shell = this.shell;
    if (!shell) throw new ProbeError('crashed', `${op}: the probe server is not running`);
    const id = this.nextId++;
    onId?.(id);
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, op });
      shell.send({ ...payload, id, op });
    });
  }

  /** Stops the server: closes every listener, capture, stream and namespace thread, waits for exit. */
  async stop(): Promise<void> {
    if (this.restarting) await this.restarting.catch(() => {});
    this.stopping = true;
    const shell = this.shell;
    if (!shell) return;
    const closed = new Promise<void>((resolve) => {
      if (shell.terminated) resolve();
      else shell.once('close', () => resolve());
    });
    const id = this.nextId++;
    shell.send({ id, op: 'shutdown' });
    shell.stdin?.end();
    const timer = setTimeout(() => shell.kill('SIGKILL'), 5_000);
    await closed;
    clearTimeout(timer);
    // Node closes the child's handles asynchronously after 'exit': let that happen before returning.
    await new Promise<void>((resolve) => setTimeout(resolve, 5));
    for (const [pid, pending] of this.pending) {
      this.pending.delete(pid);
      pending.reject(new ProbeError('stopped', `${pending.op}: the probe server was stopped`));
    }
    shell.removeAllListeners();
    shell.stdout?.removeAllListeners();
    shell.stderr?.removeAllListeners();
    this.shell = undefined;
    this.pid = undefined;
  }

  get running(): boolean {
    return this.shell !== undefined && !this.stopping;
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
    const started = await this.request<{ watch: number; armedAtMs: number }>('reach_start', {
      ns: req.from.netnsPath,
      to: req.to,
      intervalMs: req.intervalMs ?? 5,
      timeoutMs: req.timeoutMs ?? 20_000,
    });
    return {
      armedAtMs: started.armedAtMs,
      wait: () => this.request<ReachResult>('reach_wait', { watch: started.watch }),
    };
  }

  icmp(probe: IcmpProbe): Promise<ProbeResult> {
    return this.request<ProbeResult>('icmp', probeFields(probe));
  }

  tcp(probe: TcpProbe): Promise<ProbeResult> {
    return this.request<ProbeResult>('tcp', {
      ...probeFields(probe),
      port: probe.port,
      ...(probe.sport !== undefined ? { sport: probe.sport } : {}),
    });
  }

  udp(probe: UdpProbe): Promise<ProbeResult> {
    return this.request<ProbeResult>('udp', {
      ...probeFields(probe),
      port: probe.port,
      ...(probe.sport !== undefined ? { sport: probe.sport } : {}),
    });
  }

  /** Opens a TCP accept-and-close listener or a UDP echo responder on all addresses of the target. */
  listen(spec: ListenSpec): Promise<ListenerHandle> {
    return this.request<ListenerHandle>('listen', {
      ns: spec.target.netnsPath,
      proto: spec.proto,
      port: spec.port,
    });
  }

  async unlisten(handles: ListenerHandle | ListenerHandle[]): Promise<void> {
    const list = Array.isArray(handles) ? handles : [handles];
    if (list.length === 0 || !this.running) return;
    await this.request('unlisten', { ids: list.map((h) => h.id) });
  }

  async arp(req: ArpRequest): Promise<ArpResult> {
    const result = await this.request<ArpResult>('arp', {
      ns: req.from.netnsPath,
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
    return this.request<{ interfaces: InterfaceInfo[] }>('interfaces', { ns: target.netnsPath }).then(
      (r) => r.interfaces,
    );
  }

  /** Sends a crafted frame (on `iface`, Ether first; Ether.src defaults to the interface MAC) or L3 packet. */
  send(req: SendRequest): Promise<{ sent: number; bytes: number }> {
    return this.request('send', {
      ns: req.target.netnsPath,
      iface: req.iface,
      packet: req.packet,
      count: req.count ?? 1,
      intervalMs: req.intervalMs ?? 0,
    });
  }

  /** Builds a description and returns it decoded with every default and checksum computed. */
  build(packet: PacketDescription): Promise<{ layers: DecodedLayer[]; hex: string }> {
    return this.request('build', { packet });
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
    const packets = this.request<{ packets: DecodedPacket[] }>(
      'sniff',
      {
        ns: req.target.netnsPath,
        iface: req.iface,
        filter: req.filter,
        count: req.count ?? 0,
        timeoutMs: req.timeoutMs,
        pcapPath: req.pcapPath,
        readyEvent: true,
      },
      (id) => {
        this.readyWaiters.set(id, ready);
      },
    ).then((r) => r.packets);
    // Whichever comes first: ready, or the request failing.
    await Promise.race([readyP, packets.then(() => undefined)]);
    return { packets };
  }

  /** Captures to a pcap file until stop() (or `durationMs`). */
  async capture(req: CaptureRequest): Promise<RunningCapture> {
    const { id } = await this.request<{ id: string }>('capture_start', {
      ns: req.target.netnsPath,
      iface: req.iface,
      filter: req.filter,
      pcapPath: req.path,
      durationMs: req.durationMs,
    });
    let result: Promise<CaptureResult> | undefined;
    return {
      path: req.path,
      stop: () => {
        result ??= this.request<{ packets: number }>('capture_stop', { capture: id }).then((r) => ({
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

  stats(): Promise<ServerStats> {
    return this.request<ServerStats>('stats');
  }

  /** Drops the server's threads and listeners for these namespaces (before deleting them). */
  async release(targets: ProbeTarget[]): Promise<void> {
    if (!this.running) return;
    await this.request('release', { paths: targets.map((t) => t.netnsPath) });
  }

  /** Test hook: makes the server exit abruptly. */
  async crashForTest(): Promise<void> {
    await this.request('crash').catch(() => undefined);
  }
}

function probeFields(probe: IcmpProbe): Record<string, unknown> {
  return {
    ns: probe.from.netnsPath,
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
