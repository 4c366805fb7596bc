/**
 * The whole catalogue in every report: after a run, every catalogue ID that no result carries (label
 * `conformance_id`) gets a result of its own, status `unknown` and "not covered: no scenario yet", so
 * what the suite does not check is as visible as what it does.
 */
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parse } from 'yaml';
import { CATALOGUE, type CatalogueEntry } from '../scenario/catalogue.ts';

export const NOT_COVERED = 'not covered: no scenario yet';
export const NOT_RUN = 'not covered in this run';

/**
 * Catalogue ID → the scenario files under `root` that name it (any `conformance:` list in them), so a
 * partial run can say "not in this run" instead of "no scenario yet". Unreadable files are ignored:
 * validation reports them.
 */
export function scenarioIdsUnder(root: string): Map<string, string[]> {
  const ids = new Map<string, string[]>();
  const collect = (value: unknown, file: string): void => {
    if (Array.isArray(value)) {
      for (const v of value) collect(v, file);
    } else if (value !== null && typeof value === 'object') {
      for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
        if (key === 'conformance' && Array.isArray(child)) {
          for (const id of child) if (typeof id === 'string') ids.set(id, [...(ids.get(id) ?? []), file]);
        } else collect(child, file);
      }
    }
  };
  const visit = (dir: string): void => {
    for (const entry of readdirSync(dir).sort()) {
      if (entry.startsWith('.') || entry === 'testdata') continue;
      const path = join(dir, entry);
      if (statSync(path).isDirectory()) visit(path);
      else if (/\.ya?ml$/.test(entry)) {
        try {
          collect(parse(readFileSync(path, 'utf8')), relative(join(root, '..'), path));
        } catch {
          // not a scenario we can read
        }
      }
    }
  };
  if (existsSync(root)) visit(root);
  for (const [id, files] of ids) ids.set(id, [...new Set(files)]);
  return ids;
}

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

/**
 * One Allure result per uncovered ID (stable history id, so trends follow an ID across runs): "no
 * scenario yet", or "not covered in this run" naming the scenarios that would cover it.
 */
export function writeUncoveredResults(
  resultsDir: string,
  uncovered: readonly CatalogueEntry[],
  scenarios: ReadonlyMap<string, string[]> = new Map(),
): void {
  const now = Date.now();
  for (const entry of uncovered) {
    const files = scenarios.get(entry.id) ?? [];
    const why = files.length > 0 ? `${NOT_RUN} (${files.join(', ')})` : NOT_COVERED;
    const uuid = randomUUID();
    const key = createHash('md5').update(`catalogue:${entry.id}`).digest('hex');
    const result = {
      uuid,
      historyId: key,
      testCaseId: key,
      fullName: `catalogue:${entry.id}`,
      name: `${entry.id} ${files.length > 0 ? NOT_RUN : NOT_COVERED}`,
      status: 'unknown',
      statusDetails: { message: `${entry.id}: ${why}` },
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
        { name: 'story', value: files.length > 0 ? NOT_RUN : NOT_COVERED },
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
export function renderCoverage(
  coverage: CatalogueCoverage,
  scenarios: ReadonlyMap<string, string[]> = new Map(),
): string[] {
  const lines = [`coverage: ${coverage.covered.size} of ${coverage.total} catalogue IDs`];
  const grouped = (entries: CatalogueEntry[]): string => {
    const byPrefix = new Map<string, string[]>();
    for (const e of entries) {
      const prefix = e.id.split('-')[0]!;
      byPrefix.set(prefix, [...(byPrefix.get(prefix) ?? []), e.id]);
    }
    return [...byPrefix.values()].map((ids) => ids.join(' ')).join(', ');
  };
  const notRun = coverage.uncovered.filter((e) => scenarios.has(e.id));
  const none = coverage.uncovered.filter((e) => !scenarios.has(e.id));
  if (notRun.length > 0) lines.push(`  ${NOT_RUN}: ${grouped(notRun)}`);
  if (none.length > 0) lines.push(`  ${NOT_COVERED}: ${grouped(none)}`);
  return lines;
}
