/**
 * `otwin run [scenario files or folders] [--lab <file>] [--tags a,b] [--keep] [--runtime netns]`:
 * validates every scenario first (any problem: exit 2, nothing deployed), then runs them on vitest
 * (labs deployed as needed, destroyed afterwards unless --keep), writes Allure results, JUnit and run
 * records, prints a summary. Exit 0 only if every expectation passed or was skipped.
 */

import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { resolveRuntimeName } from '../../runtime/index.ts';
import { getDriver } from '../../scenario/drivers/index.ts';
import { collectScenarioFiles, loadScenario, ScenarioError } from '../../scenario/parse.ts';
import { exitCodeOf, launch, REPO_ROOT, renderSummary } from '../../scenario/suite/launch.ts';
import type { Scenario } from '../../scenario/types.ts';
import { UserError } from '../../util/errors.ts';

export const summary = 'run scenarios (default: scenarios/) and write Allure results, JUnit and run records';

const USAGE = `usage: otwin run [scenario files or folders...] [--lab <file>] [--tags a,b] [--keep] [--runtime netns|containerlab]

  With no files, runs the default suite (scenarios/) on each scenario's own lab.
  --lab      run every scenario on this lab file instead
  --tags     only scenarios carrying one of these tags
  --keep     leave the labs deployed afterwards
  Results: reports/allure-results (otwin report → reports/html), reports/junit.xml, reports/runs/*.json`;

/** Loads and validates every file; all problems of all files at once. */
export function validateAll(files: string[], lab: string | undefined): Scenario[] {
  const scenarios: Scenario[] = [];
  const problems: ScenarioError[] = [];
  for (const file of files) {
    try {
      scenarios.push(loadScenario(file, lab ? { lab } : {}));
    } catch (err) {
      if (err instanceof ScenarioError) problems.push(err);
      else throw err;
    }
  }
  if (problems.length === 1) throw problems[0]!;
  if (problems.length > 1) {
    throw new ScenarioError(problems.flatMap((p) => p.issues));
  }
  return scenarios;
}

export async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (err) {
    throw new UserError(err instanceof Error ? err.message : String(err), { hint: 'otwin run --help' });
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const runtime = resolveRuntimeName(values.runtime);
  const files = collectScenarioFiles(positionals.length ? positionals : [join(REPO_ROOT, 'scenarios')]);
  if (files.length === 0)
    throw new UserError('no scenario files found', { hint: 'scenario files end in .yml or .yaml' });
  const scenarios = validateAll(files, values.lab);
  const tags =
    values.tags
      ?.split(',')
      .map((t) => t.trim())
      .filter(Boolean) ?? [];
  const selected = tags.length ? scenarios.filter((s) => s.tags.some((t) => tags.includes(t))) : scenarios;
  if (selected.length === 0) {
    throw new UserError(`no scenario carries any of the tags ${tags.join(', ')}`, {
      hint: `tags in these files: ${[...new Set(scenarios.flatMap((s) => s.tags))].join(', ') || '(none)'}`,
    });
  }
  for (const s of selected) await getDriver(s.implementation);
  console.log(`otwin run: ${selected.length} scenario(s) on the ${runtime} runtime`);
  const result = await launch({
    files: selected.map((s) => s.file),
    lab: values.lab,
    keep: values.keep ?? false,
    runtime,
    implementation: [...new Set(selected.map((s) => s.implementation))].join(','),
  });
  console.log(renderSummary(result));
  return exitCodeOf(result);
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      lab: { type: 'string', short: 'l' },
      tags: { type: 'string' },
      keep: { type: 'boolean' },
      runtime: { type: 'string', short: 'r' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}
