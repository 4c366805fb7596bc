import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateAll } from '../cli/commands/run.ts';
import { REPO_ROOT } from './suite/launch.ts';

describe('otwin run --implementation', () => {
  const dir = join(REPO_ROOT, 'scenarios', 'l2');
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.yml'))
    .map((f) => join(dir, f));

  it('overrides every scenario implementation, and leaves them alone without it', () => {
    expect(files.length).toBeGreaterThan(0);
    const own = validateAll(files, undefined);
    expect(new Set(own.map((s) => s.implementation))).toEqual(new Set(['reference']));
    const overridden = validateAll(files, undefined, 'reference-stateless');
    expect(overridden.map((s) => s.implementation)).toEqual(files.map(() => 'reference-stateless'));
  });
});
