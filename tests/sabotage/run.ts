/**
 * Runs suite scenarios against a sabotaged private copy of the default lab through the engine's
 * `launch` API (exactly as `otwin run` does, one deployment for all files, private reports folder),
 * and gives the test the verdicts (from the run records) and the attachments of each result.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readRecord, type VerdictStatus } from '../../harness/scenario/record.ts';
import { type LaunchResult, launch, renderSummary } from '../../harness/scenario/suite/launch.ts';
import type { SabotageSetting } from '../../reference-impl/sabotage.ts';
import { type PrivateLab, privateLab, REPO } from './fixtures/private-lab.ts';

export interface Verdict {
  scenario: string;
  name: string;
  status: VerdictStatus;
  message: string;
  conformance: string[];
}

export interface SabotageRun {
  lab: PrivateLab;
  result: LaunchResult;
  verdicts: Verdict[];
  /** Text of the attachments of the result named `name` (e.g. 'matrix diff (Markdown)'). */
  attachments(name: string): Array<{ name: string; content: string }>;
  /** The console summary, for assertion messages. */
  summary: string;
}

type AllureStep = { attachments?: Array<{ name: string; source: string }>; steps?: AllureStep[] };

/** Suite scenario files by path relative to the repository (scenarios/...). */
export const suiteFile = (path: string) => resolve(REPO, path);

export async function runSabotaged(
  tag: string,
  sabotage: Record<string, SabotageSetting[]>,
  files: string[],
  faults: Record<string, string[]> = {},
  edits: Record<string, (text: string) => string> = {},
  labFile?: string,
  /** Run every file against this implementation (e.g. the reference packs on OVN). */
  implementation?: string,
): Promise<SabotageRun> {
  const lab = privateLab(tag, sabotage, faults, edits, labFile);
  const reportsDir = join(lab.dir, 'reports');
  const result = await launch({
    files,
    lab: lab.file,
    runtime: 'netns',
    reportsDir,
    stdio: 'pipe',
    implementation: implementation ?? 'reference',
    implementationOverride: implementation,
  });
  const verdicts = result.summary.records.flatMap((file) => {
    const record = readRecord(file);
    return record.verdicts.map((v) => ({
      scenario: record.scenario.name,
      name: v.name,
      status: v.status,
      message: v.message ?? '',
      conformance: v.conformance,
    }));
  });
  const results = readdirSync(result.resultsDir)
    .filter((f) => f.endsWith('-result.json'))
    .map(
      (f) => JSON.parse(readFileSync(join(result.resultsDir, f), 'utf8')) as AllureStep & { name: string },
    );
  const flat = (steps: AllureStep[]): Array<{ name: string; source: string }> =>
    steps.flatMap((s) => [...(s.attachments ?? []), ...flat(s.steps ?? [])]);
  return {
    lab,
    result,
    verdicts,
    summary: renderSummary(result),
    attachments(name) {
      const r = results.find((x) => x.name === name);
      return r
        ? flat(r.steps ?? []).map((a) => ({
            name: a.name,
            content: readFileSync(join(result.resultsDir, a.source), 'utf8'),
          }))
        : [];
    },
  };
}

/** Verdicts carrying a conformance ID. */
export function byId(run: SabotageRun, id: string): Verdict[] {
  return run.verdicts.filter((v) => v.conformance.includes(id));
}
