import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { processCpuMs, processTreeCpuMs } from './cpu-time.ts';
import { waitFor } from './poll.ts';

/** A child that spins on the CPU for `ms` (no processes of its own: all of it is its own time). */
const busyFor = (ms: number) =>
  spawn(process.execPath, ['-e', `const end = Date.now() + ${ms}; while (Date.now() < end) {}`]);

describe('cpu-time', () => {
  it('counts a busy child, live and after it ended, and not a sleeping one', async () => {
    const sleeper = spawn('sleep', ['5']);
    const busy = busyFor(20_000);
    try {
      // Until the busy child has run 100 ms (a loaded machine gives it the CPU later).
      await waitFor(
        async () => processCpuMs(busy.pid as number),
        (ms) => ms > 100,
        { timeoutMs: 10_000, what: 'busy child ran 100 ms' },
      );
      const live = processTreeCpuMs(process.pid);
      // A sleeping process has run almost nothing.
      expect(processCpuMs(sleeper.pid as number)).toBeLessThan(20);
      expect(live.total - live.own).toBeGreaterThan(100);
      busy.kill('SIGKILL');
      await once(busy, 'exit');
      // Ended and waited for: its time is now in the parent's ended children's ticks (tick-sampled,
      // so a few ticks either way).
      const after = processTreeCpuMs(process.pid);
      expect(after.total - after.own).toBeGreaterThan(live.total - live.own - 30);
      expect(after.total - after.own).toBeGreaterThan(100);
    } finally {
      sleeper.kill('SIGKILL');
      busy.kill('SIGKILL');
    }
  });

  it('is 0 for a process that does not exist', () => {
    expect(processCpuMs(2 ** 22 + 1)).toBe(0);
  });
});
