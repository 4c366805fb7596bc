import { describe, expect, it } from 'vitest';
import { pollUntil, waitFor } from './poll.ts';

describe('pollUntil', () => {
  it('returns as soon as the condition holds', async () => {
    let calls = 0;
    const result = await pollUntil(
      () => ++calls,
      (n) => n >= 3,
      { timeoutMs: 5_000, intervalMs: 1, what: 'three calls' },
    );
    expect(result.ok).toBe(true);
    expect(result.value).toBe(3);
    expect(result.attempts).toBe(3);
  });

  it('gives up at the deadline and names what it waited for', async () => {
    await expect(
      waitFor(
        () => 'never',
        () => false,
        { timeoutMs: 30, intervalMs: 5, what: 'the impossible' },
      ),
    ).rejects.toThrow(/waiting for the impossible \(last value: "never"\)/);
  });

  it('keeps polling through thrown errors and reports the last one', async () => {
    let calls = 0;
    const result = await pollUntil(
      () => {
        calls += 1;
        if (calls < 3) throw new Error('not yet');
        return calls;
      },
      () => true,
      { timeoutMs: 5_000, intervalMs: 1, what: 'no error' },
    );
    expect(result.ok).toBe(true);
    expect(result.attempts).toBe(3);
  });
});
