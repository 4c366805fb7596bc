/**
 * `otwin report [--single-file] [--reports <dir>]`: the Allure HTML report of the last run in <dir>/html, generated
 * offline with allure-commandline (the machine's Java), analytics off. The previous report's history
 * is carried into the results first so trends show.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import { carryHistory, writeCategories } from '../../report/extras.ts';
import { REPO_ROOT } from '../../scenario/suite/launch.ts';
import { HarnessError, UserError } from '../../util/errors.ts';

export const summary = 'generate the Allure HTML report (reports/html) from the last run, offline';

export async function generateReport(
  options: { singleFile?: boolean; reportsDir?: string; quiet?: boolean } = {},
): Promise<string> {
  const reports = options.reportsDir ?? join(REPO_ROOT, 'reports');
  const results = join(reports, 'allure-results');
  const html = join(reports, 'html');
  if (!existsSync(results) || !readdirSync(results).some((f) => f.endsWith('-result.json'))) {
    throw new UserError(`no Allure results in ${results}`, { hint: 'run `otwin run` first' });
  }
  if (!existsSync(join(results, 'categories.json'))) writeCategories(results);
  if (!existsSync(join(results, 'history'))) carryHistory(html, results);
  const allure = join(REPO_ROOT, 'node_modules', 'allure-commandline', 'bin', 'allure');
  const args = ['generate', results, '-o', html, '--clean', ...(options.singleFile ? ['--single-file'] : [])];
  const r = await execa(allure, args, {
    reject: false,
    env: { ALLURE_NO_ANALYTICS: 'true' },
    stdin: 'ignore',
    timeout: 180_000,
  });
  if (r.exitCode !== 0) {
    const text = `${r.stderr}\n${r.stdout}`.trim();
    if (/java: (command )?not found|JAVA_HOME/i.test(text)) {
      throw new UserError('allure needs Java (>= 8)', {
        hint: 'scripts/setup.sh installs openjdk-17-jre-headless',
      });
    }
    throw new HarnessError(`allure generate failed (exit ${r.exitCode}): ${text.slice(0, 500)}`);
  }
  if (!options.quiet) console.log(r.stdout.trim());
  return join(html, 'index.html');
}

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      'single-file': { type: 'boolean' },
      reports: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(
      'usage: otwin report [--single-file] [--reports <dir>]\n\n  Writes <dir>/html/index.html from <dir>/allure-results (default dir: reports; offline; serve the folder over http, or use --single-file to open it from disk).',
    );
    return 0;
  }
  const index = await generateReport({
    singleFile: values['single-file'] ?? false,
    ...(values.reports ? { reportsDir: values.reports } : {}),
  });
  console.log(
    `report: ${index}${values['single-file'] ? '' : ' (serve its folder over http, or use --single-file to open it from disk)'}`,
  );
  return 0;
}
