import { describe, expect, it } from 'vitest';
import { DuplicateMacDetector, RFC7432_DUPLICATE_MAC } from './duplicate-mac.ts';

const at = (vtep: string, seq: number) => ({ vtep, seq });

describe('duplicate MAC detection (RFC 7432 §15.1)', () => {
  it('defaults to the RFC: the 5th move within 180 s freezes the MAC where it was', () => {
    const d = new DuplicateMacDetector();
    expect(d.policy).toEqual(RFC7432_DUPLICATE_MAC);
    const verdicts = [0, 1, 2, 3].map((i) => d.noteMove('7201/m', at(i % 2 ? 'b' : 'a', i), i * 1000));
    expect(verdicts).toEqual(['moved', 'moved', 'moved', 'moved']);
    expect(d.noteMove('7201/m', at('a', 4), 4000)).toBe('frozen-now');
    expect(d.frozen('7201/m')).toMatchObject({ vtep: 'a', seq: 4, moves: 5, since: 4000 });
    expect(d.noteMove('7201/m', at('b', 4), 5000)).toBe('frozen');
    expect(d.allFrozen()).toHaveLength(1);
  });

  it('moves spread wider than the window start a new count', () => {
    const d = new DuplicateMacDetector({ moves: 3, windowMs: 10_000 });
    expect(d.noteMove('k', at('a', 0), 0)).toBe('moved');
    expect(d.noteMove('k', at('b', 1), 5_000)).toBe('moved');
    expect(d.noteMove('k', at('a', 2), 10_001)).toBe('moved'); // window expired: count 1 again
    expect(d.noteMove('k', at('b', 3), 12_000)).toBe('moved');
    expect(d.noteMove('k', at('a', 4), 13_000)).toBe('frozen-now');
  });

  it('counts each MAC on its own and clears on operator action', () => {
    const d = new DuplicateMacDetector({ moves: 2, windowMs: 1000 });
    expect(d.noteMove('x', at('a', 0), 0)).toBe('moved');
    expect(d.noteMove('y', at('a', 0), 1)).toBe('moved');
    expect(d.noteMove('x', at('b', 1), 2)).toBe('frozen-now');
    expect(d.frozen('y')).toBeUndefined();
    expect(d.clear('x')).toBe(true);
    expect(d.noteMove('x', at('b', 1), 3)).toBe('moved');
  });

  it('off: every move is processed', () => {
    const d = new DuplicateMacDetector(null);
    for (let i = 0; i < 20; i++) expect(d.noteMove('k', at('a', i), i)).toBe('moved');
  });

  it('refuses a policy that cannot detect anything', () => {
    expect(() => new DuplicateMacDetector({ moves: 1, windowMs: 1000 })).toThrow(/moves must be/);
    expect(() => new DuplicateMacDetector({ moves: 5, windowMs: 0 })).toThrow(/window must be/);
  });
});
