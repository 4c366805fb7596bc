/**
 * The persistent appliance prober (appliance_prober.py): one long-lived `/usr/bin/python3` per agent
 * that sends every liveness echo from a raw ICMP socket per router namespace and writes one JSON line
 * per verdict. Targets are replaced by a message, never by a restart. Its own clock paces the probes,
 * so a busy agent event loop or a slow process start delays neither an echo nor its verdict.
 *
 * When the prober cannot run (no raw ICMP socket, no python3) `onUnavailable` is called once with why,
 * and the caller falls back to one `ping` process per probe. A prober that dies after it was up is
 * restarted; one that dies within CRASH_LOOP_MS of its start counts as unavailable.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { PYTHON, socketOf } from './helper-process.ts';

const HELPER = join(import.meta.dirname, 'appliance_prober.py');
const CRASH_LOOP_MS = 1_000;

export interface ProberTarget {
  /** The caller's name for this probe series (a verdict names it). */
  key: string;
  ns: string;
  ip: string;
}

/** One echo's outcome: answered within the timeout, not answered, or not sent (`error`). */
export interface ProberVerdict {
  key: string;
  seq: number;
  answered?: boolean;
  error?: string;
}

export interface ProberEvents {
  verdict: (v: ProberVerdict) => void;
  unavailable: (why: string) => void;
  log: (line: string) => void;
}

export class ApplianceProber {
  /** Prober processes started (tests: process starts, never timings). */
  starts = 0;
  private child: ChildProcessWithoutNullStreams | undefined;
  private targets: ProberTarget[] = [];
  private closed = false;

  constructor(
    private readonly intervalMs: number,
    private readonly timeoutMs: number,
    private readonly events: ProberEvents,
    /** The interpreter (tests: a missing one, to prove the fallback). */
    private readonly python = PYTHON,
  ) {}

  /** The targets to probe from now on (started on first use; an empty set keeps it idle). */
  setTargets(targets: ProberTarget[]): void {
    this.targets = targets;
    if (this.closed) return;
    const child = this.child ?? this.start();
    child.stdin.write(`${JSON.stringify({ targets })}\n`);
  }

  /** The prober's pid (tests). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  close(): void {
    this.closed = true;
    const child = this.child;
    this.child = undefined;
    if (child) {
      child.stdin.end();
      child.kill();
    }
  }

  private start(): ChildProcessWithoutNullStreams {
    const child = spawn(this.python, [HELPER, `${this.intervalMs}`, `${this.timeoutMs}`], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.starts++;
    this.child = child;
    const startedAt = Date.now();
    let ready = false;
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-2_000);
    });
    child.stdin.on('error', () => {});
    createInterface({ input: child.stdout }).on('line', (line) => {
      let msg: ProberVerdict & { ready?: boolean; err?: string; warning?: string };
      try {
        msg = JSON.parse(line) as typeof msg;
      } catch {
        this.events.log(`appliance prober: unexpected output ${line.slice(0, 200)}`);
        return;
      }
      if (msg.ready !== undefined) {
        ready = msg.ready;
        if (!msg.ready) this.giveUp(msg.err ?? 'appliance prober unavailable');
      } else if (msg.warning) this.events.log(`appliance prober: ${msg.warning}`);
      else this.events.verdict(msg);
    });
    child.on('error', (err) => this.giveUp(`cannot start ${this.python}: ${err.message}`));
    child.on('exit', (code, signal) => {
      if (this.child !== child || this.closed) return;
      this.child = undefined;
      const why = `appliance prober exited (${signal ?? `code ${code}`})${stderr ? `: ${stderr.trim().slice(-300)}` : ''}`;
      if (!ready || Date.now() - startedAt < CRASH_LOOP_MS) this.giveUp(why);
      else {
        this.events.log(`${why}; restarting it`);
        this.setTargets(this.targets);
      }
    });
    // The prober never keeps the agent (or a test worker) alive; it exits on EOF when the agent does.
    child.unref();
    for (const stream of [child.stdin, child.stdout, child.stderr]) socketOf(stream).unref();
    return child;
  }

  private giveUp(why: string): void {
    if (this.closed) return;
    this.closed = true;
    this.child?.kill();
    this.child = undefined;
    this.events.unavailable(why);
  }
}
