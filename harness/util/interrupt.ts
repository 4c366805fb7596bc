/**
 * Ctrl-C and SIGTERM for the commands that change the machine (`otwin run`, `otwin lab deploy`,
 * `otwin doctor`). The first signal aborts `interruptSignal` (so work in flight stops at its next
 * checkpoint) and runs the registered cleanups, newest first — revert faults, destroy what this
 * process deployed — then exits 130 (SIGINT) or 143 (SIGTERM). A second signal stops at once: each
 * cleanup's `force` hook gets one synchronous chance (kill a child process group) and may say what is
 * left behind and how to remove it.
 */

export interface Cleanup {
  name: string;
  run(): Promise<void> | void;
  /** On a second signal: last synchronous action; returns what may be left behind, if anything. */
  force?(): string | undefined;
}

export class InterruptedError extends Error {
  constructor(readonly signal: NodeJS.Signals) {
    super(`interrupted by ${signal}`);
    this.name = 'InterruptedError';
  }
}

const controller = new AbortController();
const cleanups: Cleanup[] = [];
let installed: ((signal: NodeJS.Signals) => void) | undefined;

/** Aborted at the first SIGINT/SIGTERM once handlers are installed; the reason is an InterruptedError. */
export const interruptSignal: AbortSignal = controller.signal;

export function interruptHandlersInstalled(): boolean {
  return installed !== undefined;
}

/** Registers a cleanup for the first signal; returns the function that unregisters it. */
export function onInterrupt(cleanup: Cleanup): () => void {
  cleanups.push(cleanup);
  return () => {
    const i = cleanups.indexOf(cleanup);
    if (i >= 0) cleanups.splice(i, 1);
  };
}

export interface InterruptOptions {
  log?: (line: string) => void;
  /** How to end the process (default process.exit(code)). */
  exit?: (code: number, signal: NodeJS.Signals) => void;
  /** What to call the process in messages (default "otwin"). */
  who?: string;
  /**
   * A repeated signal forces (the default, for the CLI), or is ignored: a worker whose parent
   * forces by SIGKILL, and whose parent may send SIGTERM again on its own, finishes its cleanup.
   */
  repeat?: 'force' | 'ignore';
}

/** Installs the SIGINT/SIGTERM handlers (once per process); returns the function that removes them. */
export function installInterruptHandlers(options: InterruptOptions = {}): () => void {
  const log = options.log ?? ((line: string) => console.error(line));
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const who = options.who ?? 'otwin';
  if (installed) return () => undefined;
  const handler = (signal: NodeJS.Signals): void => {
    const code = signal === 'SIGINT' ? 130 : 143;
    const again = signal === 'SIGINT' ? 'Ctrl-C' : 'SIGTERM';
    if (controller.signal.aborted) {
      if (options.repeat === 'ignore') return;
      const left = [...cleanups]
        .reverse()
        .map((c) => {
          try {
            return c.force?.();
          } catch {
            return undefined;
          }
        })
        .filter((line): line is string => Boolean(line));
      log(`${who}: ${signal} again: stopping now, without finishing the cleanup`);
      for (const line of left) log(`${who}: left behind: ${line}`);
      exit(code, signal);
      return;
    }
    log(
      `${who}: ${signal}: reverting faults and removing what this run deployed (${again} again to stop at once)`,
    );
    controller.abort(new InterruptedError(signal));
    void (async () => {
      for (const cleanup of [...cleanups].reverse()) {
        try {
          await cleanup.run();
        } catch (err) {
          log(
            `${who}: cleanup '${cleanup.name}' failed: ${err instanceof Error ? err.message : String(err)}`,
          );
        }
      }
      log(`${who}: interrupted; cleanup done`);
      exit(code, signal);
    })();
  };
  installed = handler;
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
    installed = undefined;
  };
}
