import { describe, expect, it } from 'vitest';
import { parseProbe, probeText } from '../parse.ts';
import { roundTrip } from './matrix.ts';

describe('matrix probes and reply cells', () => {
  it('parses and prints probes with a source port, and without', () => {
    expect(parseProbe('tcp/40000 sport 80')).toEqual({ proto: 'tcp', port: 40000, sport: 80 });
    expect(parseProbe('udp/53')).toEqual({ proto: 'udp', port: 53 });
    expect(parseProbe('icmp')).toEqual({ proto: 'icmp', port: undefined });
    for (const text of ['tcp/40000 sport 80', 'udp/53', 'icmp'])
      expect(probeText(parseProbe(text))).toBe(text);
  });

  it('expects a round trip only when the request and its reply both pass', () => {
    expect(roundTrip({ verdict: 'reach', reply: 'reach' })).toBe('reach');
    expect(roundTrip({ verdict: 'reach', reply: 'drop' })).toBe('drop');
    expect(roundTrip({ verdict: 'drop', reply: 'reach' })).toBe('drop');
  });
});

describe('attempt length for a positive deadline', () => {
  it('keeps 250 ms attempts for budgets of a second or more and without a budget, a quarter below', async () => {
    const { attemptFor } = await import('./timing.ts');
    expect(attemptFor(250)).toBe(250);
    expect(attemptFor(5000)).toBe(250);
    expect(attemptFor(500)).toBe(125);
    expect(attemptFor(300)).toBe(100);
  });
});
