/**
 * `otwin compare <run> <run> [...] [--baseline <run>] [--out <dir>] [--label <name>=<run>...]`: the
 * side-by-side conformance table of several runs (harness/compare), as compare.html and compare.md in
 * the output folder. Exit 1 when a column fails or breaks an ID the baseline passed, 2 on bad input.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { type CompareInput, loadColumns } from '../../compare/load.ts';
import { renderHtml } from '../../compare/render-html.ts';
import { renderMarkdown } from '../../compare/render-md.ts';
import { buildTable, columnCounts, regressionLines } from '../../compare/table.ts';
import { UserError } from '../../util/errors.ts';

export const summary = 'side-by-side conformance table of runs (HTML + Markdown), --baseline gate';

const USAGE = `usage: otwin compare <run> <run> [...] [--baseline <run>] [--out <dir>] [--label <name>=<run>...]

  A run is a run record (reports/runs/*.json), a folder of records, a --reports folder, or an Allure
  results folder (reports/allure-results). Each implementation / gateway profile in a run is a column,
  so one results folder holding both gateway profiles of a run compares them.
  --baseline  this run is the reference: exit 1 when another column fails or breaks an ID it passed
  --out       where compare.html and compare.md go (default: reports/compare)
  --label     name a run's column (a release, a vendor): --label v1.2=reports-a`;

/** The inputs in order: positionals, then --baseline and --label runs not already named. */
export function compareInputs(
  positionals: string[],
  baseline: string | undefined,
  labels: string[],
): { inputs: CompareInput[]; baseline: number | undefined } {
  const inputs: CompareInput[] = positionals.map((path) => ({ path }));
  const find = (path: string) => inputs.findIndex((i) => resolve(i.path) === resolve(path));
  const add = (path: string): CompareInput => {
    const at = find(path);
    if (at >= 0) return inputs[at]!;
    const input = { path };
    inputs.push(input);
    return input;
  };
  for (const spec of labels) {
    const at = spec.indexOf('=');
    if (at <= 0 || at === spec.length - 1)
      throw new UserError(`--label ${spec}: expected <name>=<run>`, { hint: 'e.g. --label v1.2=reports-a' });
    add(spec.slice(at + 1)).label = spec.slice(0, at);
  }
  if (baseline !== undefined) add(baseline);
  return { inputs, baseline: baseline === undefined ? undefined : find(baseline) };
}

export async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (err) {
    throw new UserError(err instanceof Error ? err.message : String(err), { hint: 'otwin compare --help' });
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const { inputs, baseline } = compareInputs(positionals, values.baseline, values.label ?? []);
  if (inputs.length === 0)
    throw new UserError('compare needs at least two runs', { hint: USAGE.split('\n')[0] });
  const columns = loadColumns(inputs);
  // One Allure folder may hold both gateway profiles of one run: two columns from one input.
  if (columns.length < 2) {
    throw new UserError(
      `compare needs at least two runs; ${inputs.map((i) => i.path).join(', ')} holds one (${columns.map((c) => c.name).join(', ')})`,
      {
        hint: USAGE.split('\n')[0],
      },
    );
  }
  let baselineColumn: number | undefined;
  if (baseline !== undefined) {
    const base = inputs[baseline]!;
    const matching = columns.flatMap((c, i) => (c.input === base.path ? [i] : []));
    if (matching.length !== 1) {
      throw new UserError(
        `the baseline ${base.path} holds ${matching.length} implementation / gateway profile columns (${matching.map((i) => columns[i]!.name).join(', ')}); a baseline is one`,
        { hint: 'give the baseline as one run record or the results of one profile' },
      );
    }
    baselineColumn = matching[0];
  }
  const table = buildTable(columns, baselineColumn);
  const out = values.out ?? 'reports/compare';
  mkdirSync(out, { recursive: true });
  const html = join(out, 'compare.html');
  const md = join(out, 'compare.md');
  writeFileSync(html, renderHtml(table, new Date().toISOString()));
  writeFileSync(md, renderMarkdown(table));
  table.columns.forEach((c, i) => {
    const n = columnCounts(table, i);
    console.log(
      `${c.name}${i === table.baseline ? ' (baseline)' : ''}: ${n.passed} passed, ${n.failed} failed, ${n.broken} broken, ${n.skipped} skipped, ${n['not covered']} not covered`,
    );
  });
  console.log(`${table.rows.filter((r) => r.differs).length} of ${table.rows.length} catalogue IDs differ`);
  for (const line of regressionLines(table)) console.log(line);
  console.log(`html: ${html}\nmarkdown: ${md}`);
  return table.regressions.length > 0 ? 1 : 0;
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      baseline: { type: 'string', short: 'b' },
      out: { type: 'string', short: 'o' },
      label: { type: 'string', multiple: true },
      help: { type: 'boolean', short: 'h' },
    },
  });
}
