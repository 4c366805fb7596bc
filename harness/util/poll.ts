/**
 * Poll-until-deadline, as FRR topotests' `run_and_expect`: call `probe` until `accept` says yes or the
 * deadline passes. Never a fixed sleep: the interval only spaces out attempts.
 */
export interface PollOptions {
  timeoutMs: number;
  intervalMs?: number;
  /** Used in the timeout message: what we were waiting for. */
  what: string;
}

export interface PollResult<T> {
  ok: boolean;
  value: T | undefined;
  attempts: number;
  elapsedMs: number;
  lastError: unknown;
}

export async function pollUntil<T>(
  probe: () => Promise<T> | T,
  accept: (value: T) => boolean,
  options: PollOptions,
): Promise<PollResult<T>> {
  const start = performance.now();
  const interval = options.intervalMs ?? 100;
  let attempts = 0;
  let value: T | undefined;
  let lastError: unknown;
  for (;;) {
    attempts += 1;
    try {
      value = await probe();
      lastError = undefined;
      if (accept(value))
        return { ok: true, value, attempts, elapsedMs: performance.now() - start, lastError };
    } catch (err) {
      lastError = err;
    }
    const elapsed = performance.now() - start;
    if (elapsed >= options.timeoutMs) return { ok: false, value, attempts, elapsedMs: elapsed, lastError };
    await sleep(Math.min(interval, Math.max(1, options.timeoutMs - elapsed)));
  }
}

/** Like pollUntil but throws with a message naming what was awaited and the last value/error seen. */
export async function waitFor<T>(
  probe: () => Promise<T> | T,
  accept: (value: T) => boolean,
  options: PollOptions,
): Promise<T> {
  const result = await pollUntil(probe, accept, options);
  if (result.ok) return result.value as T;
  const last =
    result.lastError !== undefined
      ? `last error: ${result.lastError instanceof Error ? result.lastError.message : String(result.lastError)}`
      : `last value: ${JSON.stringify(result.value)?.slice(0, 500)}`;
  throw new Error(`timed out after ${Math.round(result.elapsedMs)} ms waiting for ${options.what} (${last})`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
