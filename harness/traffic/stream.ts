/**
 * Continuous sequenced probe streams for loss-window measurement: the server sends at a fixed rate
 * and records each arrival's sequence number and CLOCK_MONOTONIC time at the receiver; the longest
 * gap between consecutive arrivals is the blackout window.
 */
import { ProbeError } from './channel.ts';
import type { ProbeServer } from './server.ts';
import type { ProbeTarget } from './types.ts';

export interface StreamOptions {
  from: ProbeTarget;
  /** Receiver (UDP: where the engine opens the sequence receiver; ICMP: the node that answers). */
  to: ProbeTarget;
  /** Destination address on `to`. */
  address: string;
  proto?: 'udp' | 'icmp';
  /** Packets per second (default 1000). */
  ratePps?: number;
  /** UDP destination port (default 9999). */
  port?: number;
  payloadBytes?: number;
}

export interface StreamGap {
  /** Length of the gap, ms. */
  ms: number;
  /** CLOCK_MONOTONIC (ms) of the last arrival before and the first after the gap; compare with monoNowMs(). */
  startMonoMs: number;
  endMonoMs: number;
  startEpochMs: number;
  endEpochMs: number;
  lastSeqBefore: number;
  firstSeqAfter: number;
}

export interface StreamReport {
  proto: 'udp' | 'icmp';
  ratePps: number;
  sent: number;
  /** Sends the kernel refused (e.g. no route while a link was down); counted in `sent`. */
  sendErrors: number;
  received: number;
  lost: number;
  duplicates: number;
  reordered: number;
  startMonoMs: number;
  stopMonoMs: number;
  firstArrivalMonoMs: number | null;
  lastArrivalMonoMs: number | null;
  longestGap: StreamGap | null;
  /** Lost packets expressed as time at the stream's rate, ms. */
  lossMs: number;
}

export interface RunningStream {
  readonly id: string;
  readonly startMonoMs: number;
  stop(): Promise<StreamReport>;
}

/** CLOCK_MONOTONIC now, ms: the clock the server stamps arrivals with. */
export function monoNowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

export async function startStream(server: ProbeServer, options: StreamOptions): Promise<RunningStream> {
  const proto = options.proto ?? 'udp';
  const ratePps = options.ratePps ?? 1000;
  const sender = await server.route(options.from);
  // A UDP stream's receiver socket lives in the same server as its sender (one clock stamps both ends).
  const receiver = proto === 'udp' ? await server.route(options.to) : sender;
  if (receiver.channel !== sender.channel)
    throw new ProbeError(
      'unsupported-transport',
      `UDP stream ${options.from.name} -> ${options.to.name}: the ${server.transportName} transport runs one server per node, and a UDP stream needs sender and receiver in one (use proto icmp)`,
    );
  const started = await sender.channel.request<{ id: string; startMonoMs: number }>('stream_start', {
    ns: sender.ns,
    toNs: receiver.ns,
    to: options.address,
    proto,
    ratePps,
    port: options.port ?? 9999,
    payloadBytes: options.payloadBytes ?? 64,
  });
  let report: Promise<StreamReport> | undefined;
  return {
    id: started.id,
    startMonoMs: started.startMonoMs,
    stop: () => {
      report ??= sender.channel
        .request<Omit<StreamReport, 'lossMs'>>('stream_stop', { stream: started.id })
        .then((r) => ({ ...r, lossMs: (r.lost / r.ratePps) * 1000 }));
      return report;
    },
  };
}
