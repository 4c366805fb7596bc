import { describe, expect, it } from 'vitest';
import { runFuzz } from './fuzz.ts';

describe('UPDATE decoder under fuzzing', () => {
  it('maps 100,000 mutated and random UPDATEs to ok or an RFC 7606 action, without exceptions or hangs', () => {
    const report = runFuzz(100_000, 0x0bd5eed);
    expect(report.findings).toEqual([]);
    const total = Object.values(report.outcomes).reduce((a, b) => a + b, 0);
    expect(total).toBe(100_000);
    // Every class of outcome is exercised, so the mutations reach each RFC 7606 branch.
    for (const n of Object.values(report.outcomes)) expect(n).toBeGreaterThan(100);
    expect(report.elapsedMs).toBeLessThan(30_000);
  });
});
