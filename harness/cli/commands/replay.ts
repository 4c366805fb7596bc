/**
 * `otwin replay <record> [--lab <file>] [--keep]`: re-executes a recorded run — the same scenario
 * text, seed, step start times and chaos schedules — and prints the verdicts side by side with the
 * recorded ones. Exit 0 when they are the same, 1 when they differ.
 */
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { resolveRuntimeName } from '../../runtime/index.ts';
import { diffVerdicts, readRecord, renderVerdictDiff } from '../../scenario/record.ts';
import { launch, renderSummary } from '../../scenario/suite/launch.ts';
import { UserError } from '../../util/errors.ts';
import { installInterruptHandlers } from '../../util/interrupt.ts';

export const summary = 'replay a recorded run (same seed and timings) and diff its verdicts';

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      lab: { type: 'string', short: 'l' },
      keep: { type: 'boolean' },
      runtime: { type: 'string', short: 'r' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || positionals.length !== 1) {
    console.log(
      'usage: otwin replay <reports/runs/<record>.json> [--lab <file>] [--keep] [--runtime netns|containerlab]',
    );
    return values.help ? 0 : 2;
  }
  const file = positionals[0]!;
  if (!existsSync(file))
    throw new UserError(`no such run record: ${file}`, { hint: 'records are under reports/runs/' });
  const recorded = readRecord(file);
  const runtime = resolveRuntimeName(values.runtime ?? recorded.runtime);
  console.log(
    `otwin replay: ${recorded.scenario.name} (seed ${recorded.seed}, recorded ${recorded.startedAt})`,
  );
  installInterruptHandlers();
  const result = await launch({
    files: [],
    replay: file,
    lab: values.lab,
    keep: values.keep ?? false,
    runtime,
    implementation: recorded.implementation,
  });
  console.log(renderSummary(result));
  const replayed = result.summary.records[0] ? readRecord(result.summary.records[0]) : undefined;
  const diff = diffVerdicts(recorded.verdicts, replayed?.verdicts ?? []);
  console.log(`\n${renderVerdictDiff(diff)}`);
  return diff.same ? 0 : 1;
}
