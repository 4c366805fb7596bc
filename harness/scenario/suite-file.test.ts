import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateAll } from '../cli/commands/run.ts';
import { driverCapabilities } from './drivers/index.ts';
import { collectScenarioFiles, ScenarioError } from './parse.ts';
import { collectScenarioEntries, loadSuiteFile, SUITE_SCHEMA, SUITE_SCHEMA_FILE } from './suite-file.ts';

const REPO = resolve(import.meta.dirname, '..', '..');
const OVN = join(REPO, 'scenarios', 'ovn');

/** The ScenarioError loading `text` as a suite file in a scratch folder next to a real lab gives. */
function suiteError(text: string): ScenarioError {
  const dir = mkdtempSync(join(tmpdir(), 'suite-'));
  const file = join(dir, 'x.suite.yml');
  writeFileSync(file, text.replaceAll('LAB', join(REPO, 'labs', 'ovn.clab.yml')).replaceAll('REPO', REPO));
  try {
    loadSuiteFile(file);
  } catch (err) {
    if (err instanceof ScenarioError) return err;
    throw err;
  }
  throw new Error('expected a ScenarioError');
}

describe('suite files', () => {
  it('the committed editor schema is SUITE_SCHEMA (else: npm run gen:schema)', () => {
    expect(JSON.stringify(JSON.parse(readFileSync(SUITE_SCHEMA_FILE, 'utf8')))).toBe(
      JSON.stringify(SUITE_SCHEMA),
    );
  });

  it('expands to its scenario files, each with the suite lab and implementation', () => {
    const entries = loadSuiteFile(join(OVN, 'suite.yml'));
    expect(entries.length).toBeGreaterThan(0);
    for (const e of entries) {
      expect(e).toEqual({ file: e.file, lab: join(REPO, 'labs', 'ovn.clab.yml'), implementation: 'ovn' });
      expect(e.file.startsWith(join(REPO, 'scenarios'))).toBe(true);
    }
  });

  it('reports bad input at file:line:col with what to do', () => {
    const unknownKey = suiteError('implementation: ovn\nlab: LAB\nscenario: [a.yml]\n');
    expect(unknownKey.issues.map((i) => [i.line, i.col, i.message])).toEqual([
      [1, 1, "missing required key 'scenarios'"],
      [3, 1, "unknown key 'scenario'"],
    ]);
    const bad = suiteError(
      'implementation: ovm\nlab: nowhere.yml\nscenarios:\n  - REPO/scenarios/sg/sg-1-rule-table.yml\n  - REPO/scenarios/sg/none.yml\n  - REPO/scenarios/sg/sg-1-rule-table.yml\n  - REPO/scenarios/ovn/suite.yml\n',
    );
    expect(bad.issues.map((i) => [i.line, i.col, i.message.replace(REPO, '')])).toEqual([
      [1, 17, "unknown implementation driver 'ovm'"],
      [2, 6, expect.stringMatching(/^lab file not found: .*nowhere\.yml$/)],
      [5, 5, expect.stringMatching(/^scenario file not found: .*none\.yml$/)],
      [6, 5, "'/scenarios/sg/sg-1-rule-table.yml' is listed twice"],
      [7, 5, "'/scenarios/ovn/suite.yml' is a suite file"],
    ]);
    expect(bad.issues[0]!.hint).toMatch(/known drivers: .*ovn/);
    expect(bad.describe()).toMatch(/x\.suite\.yml:1:17: unknown implementation driver 'ovm'/);
  });

  it('a folder gives its scenario files and its suite files expanded; the same file may run on two implementations', () => {
    const entries = collectScenarioEntries([OVN, join(REPO, 'scenarios', 'sg', 'sg-1-rule-table.yml')]);
    const suite = loadSuiteFile(join(OVN, 'suite.yml'));
    const own = collectScenarioFiles([OVN]).map((file) => ({ file }));
    expect(own.some((e) => e.file.endsWith('suite.yml'))).toBe(false);
    expect(entries).toEqual([
      ...own,
      ...suite,
      { file: join(REPO, 'scenarios', 'sg', 'sg-1-rule-table.yml') },
    ]);
  });

  it('scenarios/ovn validates as the CLI validates it: reference files on the OVN lab, zones without controllers', async () => {
    const entries = collectScenarioEntries([OVN]);
    const capabilitiesOf = await driverCapabilities(['ovn']);
    const scenarios = validateAll(entries, undefined, undefined, capabilitiesOf);
    expect(scenarios.every((s) => s.implementation === 'ovn')).toBe(true);
    expect(scenarios.every((s) => s.lab === join(REPO, 'labs', 'ovn.clab.yml'))).toBe(true);
    // A reference pack named directly and through the suite runs once on each implementation.
    const sg1 = join(REPO, 'scenarios', 'sg', 'sg-1-rule-table.yml');
    const both = validateAll(
      collectScenarioEntries([sg1, join(OVN, 'suite.yml')]),
      undefined,
      undefined,
      await driverCapabilities(['ovn', 'reference']),
    ).filter((s) => s.file === sg1);
    expect(both.map((s) => [s.implementation, s.lab])).toEqual([
      ['reference', join(REPO, 'labs', 'default.clab.yml')],
      ['ovn', join(REPO, 'labs', 'ovn.clab.yml')],
    ]);
    // Without the driver's capabilities the reference's zone controllers are looked for in the OVN lab.
    expect(() => validateAll(loadSuiteFile(join(OVN, 'suite.yml')), undefined)).toThrow(
      /unknown lab node 'c1'/,
    );
  });
});
