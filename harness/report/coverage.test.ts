import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CATALOGUE } from '../scenario/catalogue.ts';
import {
  catalogueCoverage,
  NOT_COVERED,
  NOT_RUN,
  renderCoverage,
  scenarioIdsUnder,
  writeUncoveredResults,
} from './coverage.ts';

const dir = mkdtempSync(join(tmpdir(), 'otwin-coverage-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Result = { name: string; status: string; labels: Array<{ name: string; value: string }> };

describe('catalogue coverage in the report', () => {
  it('lists every catalogue ID: covered ones with their verdicts, the others as not covered', () => {
    const labelled = (id: string, status: string, name: string) =>
      writeFileSync(
        join(dir, `${name}-result.json`),
        JSON.stringify({ name, status, labels: [{ name: 'conformance_id', value: id }] }),
      );
    labelled('L2-1', 'passed', 'a');
    labelled('L2-1', 'failed', 'b');
    labelled('EVPN-2', 'skipped', 'c');
    writeFileSync(
      join(dir, 'd-result.json'),
      JSON.stringify({ name: 'no id', status: 'passed', labels: [] }),
    );

    const coverage = catalogueCoverage(dir);
    expect(coverage.total).toBe(CATALOGUE.size);
    expect([...coverage.covered]).toEqual([
      ['L2-1', ['passed', 'failed']],
      ['EVPN-2', ['skipped']],
    ]);
    expect(coverage.uncovered.length).toBe(CATALOGUE.size - 2);
    writeUncoveredResults(dir, coverage.uncovered);

    const results = readdirSync(dir).map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as Result);
    const ids = new Set(
      results.flatMap((r) => r.labels.filter((l) => l.name === 'conformance_id').map((l) => l.value)),
    );
    expect([...ids].sort()).toEqual([...CATALOGUE.keys()].sort());
    const sg1 = results.find((r) => r.name === `SG-1 ${NOT_COVERED}`)!;
    expect(sg1.status).toBe('unknown');
    expect(sg1.labels).toEqual(expect.arrayContaining([{ name: 'epic', value: 'services' }]));
    expect(catalogueCoverage(dir).uncovered).toEqual([]);

    const lines = renderCoverage(coverage);
    expect(lines[0]).toBe(`coverage: 2 of ${CATALOGUE.size} catalogue IDs`);
    expect(lines[1]).toMatch(/not covered: no scenario yet: VX-1 VX-2 .*, SG-1 SG-2/);
  });

  it("says 'not covered in this run' for an ID a scenario of the repository names", () => {
    const repoIds = scenarioIdsUnder(join(import.meta.dirname, '..', '..', 'scenarios'));
    expect(repoIds.get('L2-1')).toEqual(expect.arrayContaining(['scenarios/l2/l2-1-matrix.yml']));
    expect(repoIds.has('AZ-2')).toBe(false);
    const runDir = join(dir, 'partial');
    mkdirSync(runDir);
    const coverage = catalogueCoverage(runDir);
    writeUncoveredResults(runDir, coverage.uncovered, repoIds);
    const results = readdirSync(runDir).map(
      (f) => JSON.parse(readFileSync(join(runDir, f), 'utf8')) as Result,
    );
    expect(results.map((r) => r.name)).toEqual(
      expect.arrayContaining([`L2-1 ${NOT_RUN}`, `AZ-2 ${NOT_COVERED}`]),
    );
    const lines = renderCoverage(coverage, repoIds);
    expect(lines[0]).toBe(`coverage: 0 of ${CATALOGUE.size} catalogue IDs`);
    expect(lines[1]).toMatch(/not covered in this run: VX-1 .*L2-1/);
    expect(lines[2]).toMatch(/not covered: no scenario yet: .*AZ-2/);
  });
});
