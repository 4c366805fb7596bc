import { describe, expect, it } from 'vitest';
import { lossWindowMs } from './measure.ts';

const base = { startMonoMs: 1_000, stopMonoMs: 6_000, longestGap: null };

describe('loss window', () => {
  it('counts an outage at the start of the stream: the first packets never arrived', () => {
    const report = { ...base, lost: 300, firstArrivalMonoMs: 4_000, lastArrivalMonoMs: 5_990 };
    expect(lossWindowMs({ ...report, longestGap: { ms: 20 } as never })).toBe(3_000);
  });

  it('counts an outage at the end, and the whole stream when nothing arrived', () => {
    expect(lossWindowMs({ ...base, lost: 100, firstArrivalMonoMs: 1_001, lastArrivalMonoMs: 4_500 })).toBe(
      1_500,
    );
    expect(lossWindowMs({ ...base, lost: 500, firstArrivalMonoMs: null, lastArrivalMonoMs: null })).toBe(
      5_000,
    );
  });

  it('is the longest gap between arrivals when nothing was lost', () => {
    const report = { ...base, lost: 0, firstArrivalMonoMs: 1_002, lastArrivalMonoMs: 5_999 };
    expect(lossWindowMs({ ...report, longestGap: { ms: 35 } as never })).toBe(35);
  });
});
