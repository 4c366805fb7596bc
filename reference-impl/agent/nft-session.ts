/**
 * A persistent nftables session (nft_session.py): one long-lived `/usr/bin/python3` per agent process
 * holding one libnftables context per namespace, fed scripts over a pipe. A change costs no process
 * start: an `nft` process costs 200-290 ms to start on this busy 2-core machine, most of the agent's
 * share of security-group propagation. Same semantics as `nft -f -`: one script is one atomic batch,
 * and a failure answers with nft's own error text naming the failing command.
 *
 * The helper is restarted when it dies (each start bumps `generation`, so callers that cache what
 * the kernel holds re-read it: a request in flight may or may not have been committed). When
 * python3-nftables is missing the session says so once and `available` turns false; callers fall
 * back to one `nft` process per change. The same helper replaces policy routes (a service chain's
 * failover, redirect.ts) by rtnetlink, so that costs no `ip` process either.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { type ExecResult, run } from '../../harness/util/exec.ts';
import { PYTHON, socketOf } from './helper-process.ts';

const HELPER = join(import.meta.dirname, 'nft_session.py');
/** A helper that died sooner than this after its start is not restarted at once (crash loop). */
const CRASH_LOOP_MS = 1_000;
const RESTART_DELAY_MS = 2_000;

export interface NftResult {
  /** 0: applied. */
  rc: number;
  out: string;
  err: string;
}

export interface NftRequest {
  /** Router or hypervisor namespace by name; undefined: the helper's own (the agent's) namespace. */
  ns: string | undefined;
  script: string;
  /** JSON output with handles (reads). */
  json?: boolean;
  /** Echo what the batch added, as JSON with handles: no read-after-add needed. */
  echo?: boolean;
}

/** An onlink default route of a policy-routing table. */
export interface DefaultRoute {
  gateway: string;
  dev: string;
  table: number;
}

/** A named namespace created (and its sysctls set) by the helper: no process start (nft_session.py). */
export interface NetnsAddRequest {
  op: 'netns-add';
  ns: string;
  sysctls: Array<[string, string]>;
}

/** A VM namespace's `ip -batch` lines applied by rtnetlink inside the helper (rtnl_vm.py). */
export interface IpLinesRequest {
  op: 'ip-lines';
  ns: string;
  lines: string[];
}

interface Pending {
  resolve: (r: NftResult) => void;
}

interface Running {
  child: ChildProcessWithoutNullStreams;
  ready: Promise<boolean>;
  pending: Map<number, Pending>;
  startedAt: number;
}

export class NftSession {
  /** Helper processes started (tests: process starts per change, never timings). */
  starts = 0;
  /** Requests answered or in flight (tests: one per read or batch). */
  requests = 0;
  /** Bumped at every helper start: state read through an earlier helper may be stale. */
  generation = 0;
  /** False once the helper reported that libnftables bindings are missing. */
  available = true;
  unavailableReason = '';
  private current: Running | undefined;
  private nextId = 1;
  private restartTimer: NodeJS.Timeout | undefined;
  private closed = false;

  /** Where the session says it restarted or is unavailable (the agent points it at its log). */
  constructor(public log: (line: string) => void = () => {}) {}

  /** The helper's pid (tests), starting it if needed. */
  async pid(): Promise<number | undefined> {
    const r = this.ensure();
    await r.ready;
    return r.child.pid;
  }

  async run(req: NftRequest): Promise<NftResult> {
    return this.request(req);
  }

  /**
   * Replaces default routes in a router namespace by rtnetlink inside the helper (rtnl_routes.py),
   * as `ip route replace default via GW dev DEV onlink table T` would: no `ip` process.
   */
  async replaceRoutes(ns: string, routes: DefaultRoute[]): Promise<NftResult> {
    return this.request({ ns, routes });
  }

  /** Creates a named namespace with its sysctls inside the helper (see `sessionNetnsAdd`). */
  async addNetns(ns: string, sysctls: Array<[string, string]>): Promise<NftResult> {
    return this.request({ op: 'netns-add', ns, sysctls });
  }

  /** Applies a VM namespace's `ip -batch` lines inside the helper (see `sessionIpLines`). */
  async ipLines(ns: string, lines: string[]): Promise<NftResult> {
    return this.request({ op: 'ip-lines', ns, lines });
  }

  private async request(
    req: NftRequest | { ns: string; routes: DefaultRoute[] } | NetnsAddRequest | IpLinesRequest,
  ): Promise<NftResult> {
    const r = this.ensure();
    if (!(await r.ready)) return { rc: -1, out: '', err: this.unavailableReason };
    if (this.current !== r) return { rc: -1, out: '', err: 'nft session restarted before the request' };
    const id = this.nextId++;
    this.requests++;
    return new Promise<NftResult>((resolve) => {
      // Only a pending answer keeps the process alive (an idle helper never does).
      if (r.pending.size === 0) socketOf(r.child.stdout).ref();
      r.pending.set(id, { resolve });
      r.child.stdin.write(`${JSON.stringify({ id, ...req })}\n`);
    });
  }

  /** Ends the helper (agent stop, tests); a later request starts a new one. */
  close(): void {
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    const r = this.current;
    this.current = undefined;
    if (r) {
      r.child.stdin.end();
      r.child.kill();
    }
  }

  /** Stops restarting for good (process exit paths). */
  dispose(): void {
    this.closed = true;
    this.close();
  }

  private ensure(): Running {
    if (this.current) return this.current;
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    const child = spawn(PYTHON, [HELPER], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.starts++;
    this.generation++;
    const pending = new Map<number, Pending>();
    let readyResolve: (ok: boolean) => void = () => {};
    const ready = new Promise<boolean>((resolve) => {
      readyResolve = resolve;
    });
    const running: Running = { child, ready, pending, startedAt: Date.now() };
    this.current = running;
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-2_000);
    });
    child.stdin.on('error', () => {});
    createInterface({ input: child.stdout }).on('line', (line) => {
      let msg: Partial<NftResult> & { id?: number; ready?: boolean; err?: string };
      try {
        msg = JSON.parse(line) as typeof msg;
      } catch {
        this.log(`nft session: unexpected output ${line.slice(0, 200)}`);
        return;
      }
      if (msg.ready !== undefined) {
        if (!msg.ready) {
          this.available = false;
          this.unavailableReason = msg.err ?? 'nft session unavailable';
          this.log(`nft session unavailable, one nft process per change instead: ${this.unavailableReason}`);
        }
        readyResolve(msg.ready);
        if (pending.size === 0) socketOf(child.stdout).unref();
        return;
      }
      const p = msg.id === undefined ? undefined : pending.get(msg.id);
      if (!p || msg.id === undefined) return;
      pending.delete(msg.id);
      if (pending.size === 0) socketOf(child.stdout).unref();
      p.resolve({ rc: msg.rc ?? -1, out: msg.out ?? '', err: msg.err ?? '' });
    });
    child.on('error', (err) => {
      this.available = false;
      this.unavailableReason = `cannot start ${PYTHON}: ${err.message}`;
      readyResolve(false);
    });
    child.on('exit', (code, signal) => {
      readyResolve(false);
      const why = `nft session helper exited (${signal ?? `code ${code}`})${stderr ? `: ${stderr.trim().slice(-300)}` : ''}`;
      for (const p of pending.values()) p.resolve({ rc: -1, out: '', err: why });
      pending.clear();
      if (this.current !== running) return;
      this.current = undefined;
      if (!this.available || this.closed) return;
      this.log(`${why}; restarting it`);
      // Restart now so the next change pays no process start; not in a tight loop if it keeps dying.
      const delay = Date.now() - running.startedAt < CRASH_LOOP_MS ? RESTART_DELAY_MS : 0;
      this.restartTimer = setTimeout(() => {
        this.restartTimer = undefined;
        if (!this.current && !this.closed) this.ensure();
      }, delay);
      this.restartTimer.unref();
    });
    // The helper never keeps the agent (or a test worker) alive; it exits on EOF when the agent does.
    child.unref();
    socketOf(child.stderr).unref();
    socketOf(child.stdin).unref();
    return running;
  }
}

/**
 * The agent's one session: security groups, NAT, redirections and the VXLAN receive rules all go
 * through it, so no change of any of them starts an `nft` process once it is up.
 */
export const agentNftSession = new NftSession();

let fallbackStarts = 0;
/** `nft` processes the agent starts: session helpers and fallback runs (tests: counts, not timings). */
export const nftProcesses = {
  get count(): number {
    return fallbackStarts + agentNftSession.starts;
  },
};

/**
 * Runs nft in a namespace (undefined: the agent's own): `session` through the session when it is up,
 * else `nft args` (with `input` on stdin) as one process, the same command for the CLI.
 */
export async function nftCall(
  ns: string | undefined,
  session: { script: string; json?: boolean; echo?: boolean },
  args: string[],
  input?: string,
): Promise<ExecResult> {
  if (agentNftSession.available) {
    const r = await agentNftSession.run({ ns, ...session });
    if (r.rc === 0 || agentNftSession.available)
      return { exitCode: r.rc === 0 ? 0 : 1, stdout: r.out, stderr: r.err };
  }
  fallbackStarts++;
  const options = input === undefined ? {} : { input };
  return ns ? run('ip', ['netns', 'exec', ns, 'nft', ...args], options) : run('nft', args, options);
}

/** Applies one nft script (one atomic batch) in a namespace. */
export const nftApply = (ns: string | undefined, script: string): Promise<ExecResult> =>
  nftCall(ns, { script }, ['-f', '-'], script);

/** One table as nft JSON (a non-zero exit code: no such table). */
export const nftListTable = (ns: string | undefined, family: string, table: string): Promise<ExecResult> =>
  nftCall(ns, { script: `list table ${family} ${table}`, json: true }, [
    '-j',
    'list',
    'table',
    family,
    table,
  ]);

/** The comment of a table as the kernel has it (undefined: no such table). */
export async function nftTableComment(ns: string | undefined, family: string, table: string) {
  const r = await nftListTable(ns, family, table);
  if (r.exitCode !== 0 || !r.stdout.trim()) return undefined;
  const listed = JSON.parse(r.stdout) as { nftables?: Array<{ table?: { comment?: string } }> };
  return listed.nftables?.find((x) => x.table)?.table?.comment;
}

/**
 * Creates a named namespace with its sysctls through the session helper: `created`, `exists` (the
 * name is taken), or `unavailable` (no helper, or /run/netns not set up yet: use `ip netns add`).
 * Any other failure is its error text.
 */
export async function sessionNetnsAdd(
  ns: string,
  sysctls: Array<[string, string]>,
): Promise<'created' | 'exists' | 'unavailable' | { error: string }> {
  if (!agentNftSession.available) return 'unavailable';
  const r = await agentNftSession.addNetns(ns, sysctls);
  if (r.rc === 0) return 'created';
  if (r.rc === 17) return 'exists';
  if (r.rc === 2 || !agentNftSession.available) return 'unavailable';
  return { error: r.err };
}

/**
 * A VM namespace's `ip -batch` lines through the session helper, by rtnetlink (an attach's VM set up
 * without an `ip` process): `done` (errors, if any, name their lines as `ip -batch` would) or
 * `unavailable` (no helper, or a line form it does not handle: run `ip`).
 */
export async function sessionIpLines(
  ns: string,
  lines: string[],
): Promise<{ done: true; errors: string } | 'unavailable'> {
  if (!agentNftSession.available) return 'unavailable';
  const r = await agentNftSession.ipLines(ns, lines);
  if (r.rc === 0) return { done: true, errors: '' };
  if (r.rc === 1) return { done: true, errors: r.err };
  return 'unavailable';
}
