/**
 * One probe-server process and its JSON-lines conversation: requests with ids out on stdin, replies
 * and events back on stdout. How the process is started (a local python, or a python exec'd inside a
 * node) is the transport's business; the channel only needs the argv. Crashes restart it once.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { HarnessError } from '../util/errors.ts';

export type ProbeErrorKind =
  | 'unknown-namespace'
  | 'missing-scapy'
  | 'missing-python'
  | 'bad-request'
  | 'crashed'
  | 'stopped'
  | 'unsupported-transport'
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

export interface ChannelOptions {
  /** Fail start() when scapy cannot be imported (default true). */
  requireScapy?: boolean;
  /** Restart automatically once after a crash (default true). */
  restartOnCrash?: boolean;
  /** Start timeout (default 10 s). */
  startTimeoutMs?: number;
}

/** What to run: argv[0] is looked up on PATH; `describe` names it in errors ("/usr/bin/python3 in hv1"). */
export interface ChannelCommand {
  argv: readonly string[];
  env?: NodeJS.ProcessEnv;
  describe: string;
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

/** Lines that are not JSON are kept, never thrown. */
function parseLine(line: string): ServerLine {
  try {
    return JSON.parse(line) as ServerLine;
  } catch {
    return { event: 'non-json', line };
  }
}

const STDERR_KEEP = 64 * 1024;

export class ProbeChannel {
  private child: ChildProcessWithoutNullStreams | undefined;
  private readonly pending = new Map<number, Pending>();
  private readonly readyWaiters = new Map<number, () => void>();
  private nextId = 1;
  private stopping = false;
  private dead: ProbeError | undefined;
  private restarts = 0;
  private restarting: Promise<void> | undefined;
  private stderrText = '';
  private readonly options: Required<ChannelOptions>;
  /** stderr of the instance that crashed (kept across the restart). */
  crashLog: string | undefined;
  /** PID of the local process (the python, or the exec client such as nsenter / docker). */
  pid: number | undefined;
  /** Seconds the last start took (until the server said hello). */
  startSeconds = 0;
  /** Non-JSON lines the server printed on stdout (should stay empty). */
  readonly strayLines: string[] = [];

  constructor(
    private readonly command: ChannelCommand,
    options: ChannelOptions = {},
  ) {
    this.options = {
      requireScapy: options.requireScapy ?? true,
      restartOnCrash: options.restartOnCrash ?? true,
      startTimeoutMs: options.startTimeoutMs ?? 10_000,
    };
  }

  get restartCount(): number {
    return this.restarts;
  }

  /** Everything the current instance wrote to stderr (tail). */
  get stderr(): string {
    return this.stderrText;
  }

  get running(): boolean {
    return this.child !== undefined && !this.stopping;
  }

  launch(): Promise<void> {
    const started = performance.now();
    this.stderrText = '';
    const [file, ...args] = this.command.argv;
    const child = spawn(file as string, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      ...(this.command.env ? { env: this.command.env } : {}),
    });
    this.child = child;
    this.pid = child.pid;
    // Writing to a dead child's stdin must not become an uncaught EPIPE.
    child.stdin.on('error', () => {});
    const lines = createInterface({ input: child.stdout });
    const errLines = createInterface({ input: child.stderr });
    errLines.on('line', (line) => {
      this.stderrText = `${this.stderrText}${line}\n`.slice(-STDERR_KEEP);
    });
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        fail(
          new ProbeError(
            'internal',
            `probe server (${this.command.describe}) did not start within ${this.options.startTimeoutMs} ms`,
          ),
        );
        child.kill('SIGKILL');
      }, this.options.startTimeoutMs);
      const fail = (err: ProbeError) => {
        if (settled) return;
        settled = true;
        if (this.child === child) this.child = undefined;
        clearTimeout(timer);
        reject(err);
      };
      lines.on('line', (raw) => {
        if (!raw.trim()) return;
        const msg = parseLine(raw);
        if ('event' in msg && msg.event === 'hello') {
          const hello = msg as unknown as Hello;
          if (settled) return;
          if (!hello.scapy && this.options.requireScapy) {
            // Reject only once the child is gone, so no process outlives the failed start.
            settled = true;
            clearTimeout(timer);
            this.child = undefined;
            child.once('close', () =>
              reject(
                new ProbeError(
                  'missing-scapy',
                  `${this.command.describe} cannot import scapy: install the Debian package python3-scapy (apt-get install python3-scapy)`,
                ),
              ),
            );
            child.stdin.end();
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
      child.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') {
          fail(
            new ProbeError(
              'missing-python',
              `cannot run the probe server: ${file} not found (${this.command.describe}; install python3 and python3-scapy)`,
            ),
          );
        } else {
          fail(new ProbeError('internal', `probe server process error: ${err.message}`));
        }
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        if (!settled) {
          fail(
            new ProbeError(
              'crashed',
              `probe server (${this.command.describe}) exited during start (code ${code}, signal ${signal}): ${this.stderrText.trim().slice(-2000)}`,
              this.stderrText,
            ),
          );
          return;
        }
        if (this.child === child) this.onExit(code, signal);
      });
    });
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
    this.child = undefined;
    this.pid = undefined;
    if (this.stopping) return;
    const stderr = this.stderrText;
    this.crashLog = stderr;
    const err = new ProbeError(
      'crashed',
      `probe server (${this.command.describe}) crashed (exit code ${code}, signal ${signal})${stderr.trim() ? `; stderr: ${stderr.trim().slice(-2000)}` : ''}`,
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

  /**
   * Sends one request; resolves with its result or rejects with a ProbeError. `onReady` is called when
   * the server announces the request's sniffer is in place (`sniff-ready`).
   */
  async request<T>(op: string, payload: Record<string, unknown> = {}, onReady?: () => void): Promise<T> {
    if (this.restarting) {
      await this.restarting;
      this.restarting = undefined;
    }
    if (this.stopping) throw new ProbeError('stopped', `${op}: the probe server was stopped`);
    if (this.dead) throw this.dead;
    const child = this.child;
    if (!child) throw new ProbeError('crashed', `${op}: the probe server is not running`);
    const id = this.nextId++;
    if (onReady) this.readyWaiters.set(id, onReady);
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, op });
      child.stdin.write(`${JSON.stringify({ ...payload, id, op })}\n`);
    });
  }

  /** Stops the server: it closes every listener, capture, stream and namespace thread; waits for exit. */
  async stop(): Promise<void> {
    if (this.restarting) await this.restarting.catch(() => {});
    this.stopping = true;
    const child = this.child;
    if (!child) return;
    const closed = new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once('close', () => resolve());
    });
    child.stdin.write(`${JSON.stringify({ id: this.nextId++, op: 'shutdown' })}\n`);
    child.stdin.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await closed;
    clearTimeout(timer);
    // Node closes the child's handles asynchronously after 'exit': let that happen before returning.
    await new Promise<void>((resolve) => setTimeout(resolve, 5));
    for (const [id, pending] of this.pending) {
      this.pending.delete(id);
      pending.reject(new ProbeError('stopped', `${pending.op}: the probe server was stopped`));
    }
    child.removeAllListeners();
    child.stdout.removeAllListeners();
    child.stderr.removeAllListeners();
    this.child = undefined;
    this.pid = undefined;
  }

  /** Test hook: makes the server exit abruptly. */
  async crashForTest(): Promise<void> {
    await this.request('crash').catch(() => undefined);
  }
}
