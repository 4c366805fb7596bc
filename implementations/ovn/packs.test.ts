/**
 * The OVN copies of the reference packs (scenarios/ovn files whose first comment names their source)
 * judge OVN by the same expectations: against their source, only the name, lab, implementation, tags
 * and the intent's `zones` (the reference's controller placement, which the oracle ignores) may differ.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadScenario } from '../../harness/scenario/parse.ts';
import type { Scenario } from '../../harness/scenario/types.ts';

const REPO = resolve(import.meta.dirname, '..', '..');
const DIR = join(REPO, 'scenarios', 'ovn');
const SOURCE = /^# (scenarios\/[a-z]+\/[a-z0-9-]+\.yml) on OVN:/m;

/** What judges an implementation: everything but where and on what it runs. */
function judged(s: Scenario): unknown {
  // Step positions are the file's line numbers, which the copy's header comment shifts.
  const steps = JSON.parse(JSON.stringify(s.timeline), (key, value) => (key === 'pos' ? undefined : value));
  return {
    conformance: s.conformance,
    severity: s.severity,
    budgets: s.budgets,
    requires: s.requires,
    intent: { ...s.intent, zones: [] },
    timeline: steps,
  };
}

describe('the OVN copies of the reference packs', () => {
  const copies = readdirSync(DIR)
    .filter((f) => f.endsWith('.yml'))
    .map((f) => ({ file: join(DIR, f), source: SOURCE.exec(readFileSync(join(DIR, f), 'utf8'))?.[1] }))
    .filter((c): c is { file: string; source: string } => c.source !== undefined);

  it('exist for SG-1, SG-2 and NAT-1 at least', () => {
    const ids = copies.flatMap((c) => loadScenario(c.file).conformance);
    expect(ids).toEqual(expect.arrayContaining(['SG-1', 'SG-2', 'NAT-1']));
  });

  it.each(copies.map((c) => [c.source, c.file]))('%s: same expectations on OVN', (source, file) => {
    const copy = loadScenario(file);
    expect(copy.implementation).toBe('ovn');
    expect(copy.lab).toBe(join(REPO, 'labs', 'ovn.clab.yml'));
    expect(judged(copy)).toEqual(judged(loadScenario(join(REPO, source))));
  });
});
