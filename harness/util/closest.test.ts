import { describe, expect, it } from 'vitest';
import { closest, editDistance } from './closest.ts';

describe('closest', () => {
  it('suggests a near miss, a prefix, and nothing for an unrelated word', () => {
    expect(closest('imagee', ['image', 'kind'])).toBe('image');
    expect(closest('LINUX', ['linux', 'bridge'])).toBe('linux');
    expect(closest('vni10', ['vni100', 'vni200'])).toBe('vni100');
    expect(closest('zzzzzz', ['image', 'kind'])).toBeUndefined();
    expect(closest('x', [])).toBeUndefined();
  });

  it('measures edits', () => {
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('', 'ab')).toBe(2);
  });
});
