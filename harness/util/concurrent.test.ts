import { describe, expect, it } from 'vitest';
import { forEachConcurrent } from './concurrent.ts';

describe('forEachConcurrent', () => {
  it('visits every item once with at most `limit` calls in flight', async () => {
    let inFlight = 0;
    let peak = 0;
    const seen: number[] = [];
    await forEachConcurrent([...Array(50).keys()], 8, async (item) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setTimeout(r, 1));
      seen.push(item);
      inFlight--;
    });
    expect(seen.sort((a, b) => a - b)).toEqual([...Array(50).keys()]);
    expect(peak).toBe(8);
  });

  it('stops starting new calls after a failure and rejects with it', async () => {
    const started: number[] = [];
    const run = forEachConcurrent([...Array(100).keys()], 4, async (item) => {
      started.push(item);
      if (item === 5) throw new Error('create 5 refused');
    });
    await expect(run).rejects.toThrow('create 5 refused');
    expect(started.length).toBeLessThan(100);
  });
});
