/**
 * measure: a continuous sequenced stream between two endpoints while nested steps run (faults,
 * waits); the longest gap between arrivals is the loss window, bounded by `maxLossWindow` (T_loss).
 */
import { type StreamReport, startStream } from '../../traffic/index.ts';
import { ExpectationError, type ScenarioContext } from '../context.ts';
import type { RecordedFault } from '../record.ts';
import type { MeasureStep, Step } from '../types.ts';

/**
 * The longest blackout of a stream: between two arrivals, and also at its edges. A flow that stops and
 * has not come back when the stream ends has no "next arrival": its blackout runs from the last
 * arrival to the end. A flow whose first packets are lost has no "arrival before": its blackout runs
 * from the start of the stream to the first arrival (the whole stream when nothing arrived).
 */
export function lossWindowMs(
  report: Pick<
    StreamReport,
    'lost' | 'startMonoMs' | 'stopMonoMs' | 'firstArrivalMonoMs' | 'lastArrivalMonoMs' | 'longestGap'
  >,
): number {
  if (report.firstArrivalMonoMs === null || report.lastArrivalMonoMs === null)
    return report.stopMonoMs - report.startMonoMs;
  if (report.lost === 0) return report.longestGap?.ms ?? 0;
  const leading = report.firstArrivalMonoMs - report.startMonoMs;
  const trailing = report.stopMonoMs - report.lastArrivalMonoMs;
  return Math.max(report.longestGap?.ms ?? 0, leading, trailing);
}

/**
 * The loss window's bound: `maxLossWindow`, or with `maxLossBeyondFaults` the time the faults applied
 * inside the measure were held — from the start of the first apply to the end of the last revert, the
 * longest they can have been in force — plus that allowance. So "back within T_conv after the heal"
 * is timed from the heal, and a slow apply or revert by the harness is not charged to the system.
 */
export function lossBound(
  step: Pick<MeasureStep, 'maxLossWindowMs' | 'maxLossBeyondFaultsMs'>,
  faults: ReadonlyArray<Pick<RecordedFault, 'appliedMs' | 'revertedMs'>>,
): { boundMs: number; basis: string } {
  if (step.maxLossBeyondFaultsMs === undefined) return { boundMs: step.maxLossWindowMs, basis: '' };
  if (faults.length === 0)
    throw new ExpectationError(
      'maxLossBeyondFaults: no fault was applied inside the measure to time the bound by',
    );
  const reverted = faults.filter((f) => f.revertedMs !== undefined);
  if (reverted.length !== faults.length)
    throw new ExpectationError(
      `maxLossBeyondFaults: ${faults.length - reverted.length} of the ${faults.length} fault(s) applied in the measure were not reverted in it, so the time they were held is unknown`,
    );
  const heldMs =
    Math.max(...reverted.map((f) => f.revertedMs as number)) - Math.min(...reverted.map((f) => f.appliedMs));
  return {
    boundMs: heldMs + step.maxLossBeyondFaultsMs,
    basis: ` = faults held ${heldMs} ms + ${step.maxLossBeyondFaultsMs} ms`,
  };
}

export async function measure(
  step: MeasureStep,
  ctx: ScenarioContext,
  runNested: (s: Step) => Promise<void>,
): Promise<void> {
  await ctx.driver.ready?.(ctx.driverContext());
  const from = ctx.endpoint(step.stream.from);
  const to = ctx.endpoint(step.stream.to);
  const stream = await startStream(ctx.traffic, {
    from: from.target,
    to: to.target,
    address: to.address,
    proto: step.stream.proto === 'icmp' ? 'icmp' : 'udp',
    ratePps: Math.max(1, Math.round(1000 / step.stream.intervalMs)),
    port: step.stream.port,
  });
  const faultsBefore = ctx.record.record.faults.length;
  let nestedError: unknown;
  try {
    for (const nested of step.during) await runNested(nested);
  } catch (err) {
    nestedError = err;
  }
  const report = await stream.stop();
  if (nestedError) throw nestedError;
  const gap = lossWindowMs(report);
  const { boundMs, basis } = lossBound(step, ctx.record.record.faults.slice(faultsBefore));
  ctx.lossWindows.push({ name: `${ctx.scenario.name}: ${step.name}`, ms: gap, boundMs });
  ctx.record.record.lossWindows.push({ name: step.name, ms: Math.round(gap), boundMs });
  ctx.record.noteFigures({ lossWindowMs: Math.round(gap), lossBoundMs: boundMs });
  await ctx.reporter.attach({
    name: 'stream report',
    content: JSON.stringify(report, null, 2),
    type: 'application/json',
  });
  const text = `loss window ${Math.round(gap)} ms (bound ${boundMs} ms${basis}); ${report.lost} of ${report.sent} lost (${Math.round(report.lossMs)} ms at ${report.ratePps} pps)`;
  ctx.reporter.log(`${step.name}: ${text}`);
  if (report.received === 0)
    throw new ExpectationError(`${step.name}: no packet of the stream arrived (${report.sent} sent)`);
  if (gap > boundMs) throw new ExpectationError(`${step.name}: ${text}`);
  if (step.maxLost !== undefined && report.lost > step.maxLost) {
    throw new ExpectationError(`${step.name}: ${report.lost} packets lost, bound ${step.maxLost}; ${text}`);
  }
}
