/**
 * Attach-latency tracing, off unless `OTWIN_REF_TRACE=1`: one line per event,
 * `TRACE <epoch ms, 0.1 ms resolution> <role> <event> <detail>`, written to stdout (the node's cmd.log
 * in a lab). Every role on one machine shares the clock, so lines of the directory, controllers,
 * agents and the benchmark can be merged and sorted to follow one vport from the API call to the
 * kernel (`bench/attach.ts --trace` does that).
 */
import { otwinEnv } from '../../harness/util/env.ts';

export const TRACE_ENABLED = otwinEnv('REF_TRACE') === '1';

export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

export function trace(role: string, event: string, detail: string): void {
  if (TRACE_ENABLED) process.stdout.write(`TRACE ${nowMs().toFixed(1)} ${role} ${event} ${detail}\n`);
}
