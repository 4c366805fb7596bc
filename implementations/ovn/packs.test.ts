/**
 * OVN is judged by the reference packs themselves: scenarios/ovn/suite.yml names reference files
 * (run unmodified on the OVN lab), and every other file in scenarios/ovn is OVN-only and says why in
 * its header. No ID is judged twice on OVN, and the IDs the issue asks for are all judged.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_SUITES } from '../../harness/cli/commands/run.ts';
import { loadScenario } from '../../harness/scenario/parse.ts';
import { isSuiteFile, loadSuiteFile } from '../../harness/scenario/suite-file.ts';

const REPO = resolve(import.meta.dirname, '..', '..');
const DIR = join(REPO, 'scenarios', 'ovn');
const OVN_ONLY = /^# OVN-only( until [^:]+)?: \S/m;

describe('OVN runs the reference packs', () => {
  const suite = loadSuiteFile(join(DIR, 'suite.yml'));
  const own = readdirSync(DIR)
    .filter((f) => f.endsWith('.yml') && !isSuiteFile(f))
    .map((f) => join(DIR, f));

  it('the suite names reference files, on the OVN lab against the ovn driver', () => {
    expect(suite.length).toBeGreaterThan(0);
    for (const entry of suite) {
      const [pack] = relative(join(REPO, 'scenarios'), entry.file).split('/');
      expect(DEFAULT_SUITES as readonly string[], entry.file).toContain(pack);
      expect(loadScenario(entry.file).implementation, entry.file).toBe('reference');
      expect(entry).toMatchObject({ implementation: 'ovn', lab: join(REPO, 'labs', 'ovn.clab.yml') });
    }
  });

  it('every other file of scenarios/ovn is OVN-only and says why in its header', () => {
    for (const file of own) {
      expect(readFileSync(file, 'utf8'), `${relative(REPO, file)} has no '# OVN-only: why' header`).toMatch(
        OVN_ONLY,
      );
      expect(loadScenario(file).implementation).toBe('ovn');
    }
  });

  it('judges each ID once, and L2-1, L3-1, L3-4, ARP-1, SG-1, SG-2 and NAT-1 at least', () => {
    const ids = [...suite.map((e) => e.file), ...own].flatMap((f) => loadScenario(f).conformance);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual(expect.arrayContaining(['L2-1', 'L3-1', 'L3-4', 'ARP-1', 'SG-1', 'SG-2', 'NAT-1']));
  });
});
