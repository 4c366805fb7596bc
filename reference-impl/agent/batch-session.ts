/**
 * Long-lived `ip -force -batch -` and `bridge -force -batch -` processes, one per (tool, namespace),
 * for the namespaces an agent writes to on every attach (its router namespaces): a write then costs
 * no process start. On a busy 2-core machine a process start waits 30-150 ms for the CPU, and an
 * attach used to start one per namespace and tool one after another (docs/reference-impl.md).
 *
 * Where a batch ends: after the caller's lines the session sends a line that is sure to fail (a show
 * of a device that cannot exist). With `-force` the tool goes on after a failed line and reports each
 * one on stderr as its message, then `Command failed -:N` with N the line's number in the whole input,
 * so the sentinel's N ends the batch and any other N is an error of one of the caller's lines. Both
 * come on stderr in order; nothing else is read (write commands print nothing on stdout).
 *
 * A namespace deleted and created again under its name is a new inode: the process holding the old
 * one is replaced before the next batch (the same rule as the GARP watcher's).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { socketOf } from './helper-process.ts';

export type BatchTool = 'ip' | 'bridge';

/** Cannot be a device: names are at most 15 characters. */
const SENTINEL_DEV = 'otwin-batch-end-marker';
const SENTINEL: Record<BatchTool, string> = {
  ip: `link show dev ${SENTINEL_DEV}`,
  bridge: `fdb show dev ${SENTINEL_DEV}`,
};

export interface BatchResult {
  ok: boolean;
  /** The tool's messages for the caller's failed lines (empty when ok). */
  errors: string;
}

interface Pending {
  /** Input line number of this batch's sentinel. */
  sentinel: number;
  errors: string[];
  resolve(result: BatchResult): void;
}

function namespaceInode(ns: string): number | undefined {
  try {
    return statSync(`/run/netns/${ns}`).ino;
  } catch {
    return undefined;
  }
}

class BatchProcess {
  readonly child: ChildProcess;
  readonly inode: number | undefined;
  private lineNo = 0;
  private readonly queue: Pending[] = [];
  /** Messages since the last `Command failed` line. */
  private messages: string[] = [];
  exited = false;

  constructor(
    readonly tool: BatchTool,
    readonly ns: string,
    onExit: () => void,
  ) {
    this.inode = namespaceInode(ns);
    this.child = spawn(tool, ['-n', ns, '-force', '-batch', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
    this.child.stdin?.on('error', () => {});
    createInterface({ input: this.child.stderr as NodeJS.ReadableStream }).on('line', (line) =>
      this.onLine(line),
    );
    const fail = (why: string) => {
      this.exited = true;
      for (const p of this.queue.splice(0)) p.resolve({ ok: false, errors: why });
      onExit();
    };
    this.child.on('error', (err) => fail(`cannot start ${tool}: ${err.message}`));
    this.child.on('exit', (code, signal) =>
      fail(`${tool} -n ${ns} -batch session ended (${signal ?? `exit ${code}`})`),
    );
    // An idle session never keeps the agent (or a test worker) alive; it ends on EOF when the agent does.
    this.child.unref();
    socketOf(this.child.stdin).unref();
    socketOf(this.child.stderr).unref();
  }

  run(lines: readonly string[]): Promise<BatchResult> {
    this.lineNo += lines.length + 1;
    const sentinel = this.lineNo;
    return new Promise<BatchResult>((resolve) => {
      if (this.queue.length === 0) socketOf(this.child.stderr).ref();
      this.queue.push({ sentinel, errors: [], resolve });
      this.child.stdin?.write(`${[...lines, SENTINEL[this.tool]].join('\n')}\n`);
    });
  }

  private onLine(line: string): void {
    const failed = /^Command failed -:(\d+)$/.exec(line);
    if (!failed) {
      this.messages.push(line);
      return;
    }
    const n = Number(failed[1]);
    const messages = this.messages;
    this.messages = [];
    const head = this.queue[0];
    if (!head) return;
    if (n < head.sentinel) {
      head.errors.push(`${messages.join('; ')} (line ${n})`);
      return;
    }
    this.queue.shift();
    if (this.queue.length === 0) socketOf(this.child.stderr).unref();
    head.resolve({ ok: head.errors.length === 0, errors: head.errors.join(' | ') });
  }

  close(): void {
    this.child.stdin?.end();
    this.child.kill();
  }
}

/** The sessions of one agent, by tool and namespace. */
export class BatchSessions {
  private readonly sessions = new Map<string, BatchProcess>();
  /** Session processes started (each once per namespace and tool, again after the namespace is re-created). */
  starts = 0;

  /** Runs `lines` as one batch in `ns` through its session (started on first use). */
  run(tool: BatchTool, ns: string, lines: readonly string[]): Promise<BatchResult> {
    const key = `${tool} ${ns}`;
    let session = this.sessions.get(key);
    if (session && (session.exited || session.inode !== namespaceInode(ns))) {
      session.close();
      this.sessions.delete(key);
      session = undefined;
    }
    if (!session) {
      this.starts++;
      const created = new BatchProcess(tool, ns, () => {
        if (this.sessions.get(key) === created) this.sessions.delete(key);
      });
      session = created;
      this.sessions.set(key, session);
    }
    return session.run(lines);
  }

  /** Ends the sessions of `ns` (before it is deleted: they would keep it alive). */
  forget(ns: string): void {
    for (const [key, session] of this.sessions)
      if (session.ns === ns) {
        session.close();
        this.sessions.delete(key);
      }
  }

  close(): void {
    for (const session of this.sessions.values()) session.close();
    this.sessions.clear();
  }
}
