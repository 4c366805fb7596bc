/**
 * The whole catalogue in every report: after a run, every catalogue ID that no result carries (label
 * `conformance_id`) gets a result of its own, status `unknown` and "not covered: no scenario yet", so
 * what the suite does not check is as visible as what it does.
 */
import { createHash, randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CATALOGUE, type CatalogueEntry } from '../scenario/catalogue.ts';

export const NOT_COVERED = 'not covered: no scenario yet';

export interface CatalogueCoverage {
  /** Covered ID → the statuses of the results that carry it, in catalogue order. */
  covered: Map<string, string[]>;
  uncovered: CatalogueEntry[];
  total: number;
}

interface AllureResultFile {
  status?: string;
  labels?: Array<{ name: string; value: string }>;
}

function resultFiles(resultsDir: string): AllureResultFile[] {
  return readdirSync(resultsDir)
    .filter((f) => f.endsWith('-result.json'))
    .map((f) => JSON.parse(readFileSync(join(resultsDir, f), 'utf8')) as AllureResultFile);
}

export function catalogueCoverage(resultsDir: string): CatalogueCoverage {
  const statuses = new Map<string, string[]>();
  for (const result of resultFiles(resultsDir)) {
    for (const label of result.labels ?? []) {
      if (label.name !== 'conformance_id' || !CATALOGUE.has(label.value)) continue;
      const list = statuses.get(label.value) ?? [];
      list.push(result.status ?? 'unknown');
      statuses.set(label.value, list);
    }
  }
  const covered = new Map<string, string[]>();
  const uncovered: CatalogueEntry[] = [];
  for (const [id, entry] of CATALOGUE) {
    const list = statuses.get(id);
    if (list) covered.set(id, list);
    else uncovered.push(entry);
  }
  return { covered, uncovered, total: CATALOGUE.size };
}

/** One Allure result per uncovered ID (stable history id, so trends follow an ID across runs). */
export function writeUncoveredResults(resultsDir: string, uncovered: readonly CatalogueEntry[]): void {
  const now = Date.now();
  for (const entry of uncovered) {
    const uuid = randomUUID();
    const key = createHash('md5').update(`catalogue:${entry.id}`).digest('hex');
    const result = {
      uuid,
      historyId: key,
      testCaseId: key,
      fullName: `catalogue:${entry.id}`,
      name: `${entry.id} ${NOT_COVERED}`,
      status: 'unknown',
      statusDetails: { message: `${entry.id}: ${NOT_COVERED}` },
      stage: 'finished',
      description: `**${entry.id}** (${entry.group})\n\nStimulus: ${entry.stimulus}\n\nObservable: ${entry.observable}\n\nPass: ${entry.pass}`,
      steps: [],
      attachments: [],
      parameters: [],
      links: [],
      labels: [
        { name: 'conformance_id', value: entry.id },
        { name: 'epic', value: entry.area },
        { name: 'feature', value: entry.group },
        { name: 'story', value: NOT_COVERED },
        { name: 'parentSuite', value: 'catalogue coverage' },
        { name: 'suite', value: entry.group },
      ],
      start: now,
      stop: now,
    };
    writeFileSync(join(resultsDir, `${uuid}-result.json`), JSON.stringify(result));
  }
}

/** `coverage: N of M catalogue IDs`, then the uncovered IDs grouped by prefix. */
export function renderCoverage(coverage: CatalogueCoverage): string[] {
  const lines = [`coverage: ${coverage.covered.size} of ${coverage.total} catalogue IDs`];
  if (coverage.uncovered.length > 0) {
    const byPrefix = new Map<string, string[]>();
    for (const e of coverage.uncovered) {
      const prefix = e.id.split('-')[0]!;
      byPrefix.set(prefix, [...(byPrefix.get(prefix) ?? []), e.id]);
    }
    lines.push(
      `  ${NOT_COVERED}: ${[...byPrefix.values()].map((ids) => ids.join(' ')).join(', ')} (listed in the report)`,
    );
  }
  return lines;
}
