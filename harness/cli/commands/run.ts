/**
 * `otwin run [scenario files or folders] [--lab <file>] [--implementation <name>] [--tags a,b] [--keep] [--report] [--runtime netns]`:
 * validates every scenario first (any problem: exit 2, nothing deployed), then runs them on vitest
 * (labs deployed as needed — scenarios naming the same lab share one deployment — and destroyed
 * afterwards unless --keep), writes Allure results, JUnit and run records, prints a summary; with
 * --report (implied by the default suite) also the Allure HTML report. Exit 0 only if every
 * expectation passed or was skipped.
 */

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { resolveRuntimeName } from '../../runtime/index.ts';
import { type Capability, driverCapabilities, getDriver } from '../../scenario/drivers/index.ts';
import { parseGatewayProfiles } from '../../scenario/gateway-profile.ts';
import { declaredImplementation, loadScenario, ScenarioError } from '../../scenario/parse.ts';
import { DEFAULT_CONCURRENCY, MAX_LANES, parseConcurrency } from '../../scenario/suite/lanes.ts';
import { exitCodeOf, launch, REPO_ROOT, renderSummary } from '../../scenario/suite/launch.ts';
import { collectScenarioEntries, type ScenarioEntry } from '../../scenario/suite-file.ts';
import type { Scenario } from '../../scenario/types.ts';
import { privateLabCopies, privateLabCopy } from '../../topology/private-copy.ts';
import { resolveTransportName } from '../../traffic/transport.ts';
import { UserError } from '../../util/errors.ts';
import { installInterruptHandlers } from '../../util/interrupt.ts';
import { generateReport } from './report.ts';

/**
 * The default suite: the reference implementation's conformance packs, on labs/default.clab.yml (one
 * deployment) and, for two federation scenarios, labs of their own. scenarios/frr-evpn (FRR as the implementation) runs only when named.
 */
export const DEFAULT_SUITES = ['vx', 'l2', 'l3', 'arp', 'evpn', 'az', 'sg', 'nat', 'fed'] as const;

/** The default suite's folders that exist in this checkout. */
export function defaultScenarioRoots(): string[] {
  return DEFAULT_SUITES.map((s) => join(REPO_ROOT, 'scenarios', s)).filter((p) => existsSync(p));
}

export const summary = 'run scenarios (default: scenarios/) and write Allure results, JUnit and run records';

const USAGE = `usage: otwin run [scenario files or folders...] [--lab <file>] [--tags a,b] [--keep] [--reuse] [--report] [--lab-prefix <p>] [--concurrency N] [--runtime netns|containerlab] [--transport netns|exec] [--implementation <name>] [--gateway ovsdb,evpn]

  With no files, runs the default suite — scenarios/{${DEFAULT_SUITES.join(',')}} on the reference
  implementation, one deployment of each lab they name (labs/default.clab.yml and the two federation
  labs) — and writes the HTML report (--report).
  scenarios/frr-evpn (FRR as the implementation, its own lab) runs when named.
  --lab      run every scenario on this lab file instead
  --lab-prefix  run on private copies of the labs named <p>-<lab> (otwin-default → <p>-default, in
             $TMPDIR/<p>/labs): two checkouts or a CI job and a developer on one machine never share a
             lab. Also $OTWIN_LAB_PREFIX
  --implementation  run every scenario against this implementation (a name in package.json
             otwin.drivers) instead of the one it names; the report and run records show this name
             (also --impl)
  --gateway  run gateway scenarios against these profiles (ovsdb, evpn; comma-separated): once per
             profile each declares in \`gateway:\`, skipped with the reason on one it does not; the
             report's parameter \`gateway profile\` tells the runs apart (default: each its first)
  --concurrency  how many labs run at the same time (default ${DEFAULT_CONCURRENCY}, at most ${MAX_LANES}; 1: one
             after another; also -j). Scenarios on one lab always run one after another; each lab
             runs in a worker of its own, so scenarios of different labs share nothing but the CPU
  --tags     only scenarios carrying one of these tags
  --transport  how the traffic engine reaches nodes: netns (default; enters their namespaces from
             this machine) or exec (a probe server started in each node through the runtime's exec;
             docs/scale-out.md). Also $OTWIN_TRANSPORT
  --keep     leave the labs deployed afterwards (also after Ctrl-C)
  --reuse    run on a lab left deployed by an earlier run as it is (otherwise it is redeployed)
  --reports  the folder for results, JUnit and run records (default: reports; give concurrent runs their own)
  --report   also generate the Allure HTML report (<reports>/html/index.html), as \`otwin report\`
  Results: reports/allure-results, reports/junit.xml, reports/runs/*.json`;

/**
 * Loads and validates every file (a path, or an entry of a suite file with its lab and
 * implementation; `lab` and `implementation` given here win over both); all problems of all files at once.
 */
export function validateAll(
  files: Array<string | ScenarioEntry>,
  lab: string | undefined,
  implementation?: string | undefined,
  capabilitiesOf?: (implementation: string) => ReadonlySet<Capability> | undefined,
): Scenario[] {
  const scenarios: Scenario[] = [];
  const problems: ScenarioError[] = [];
  for (const entry of files.map((f): ScenarioEntry => (typeof f === 'string' ? { file: f } : f))) {
    const labFile = lab ?? entry.lab;
    const impl = implementation ?? entry.implementation;
    try {
      scenarios.push(
        loadScenario(entry.file, {
          ...(labFile ? { lab: labFile } : {}),
          ...(impl ? { implementation: impl } : {}),
          ...(capabilitiesOf ? { capabilitiesOf } : {}),
        }),
      );
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
  const transport = resolveTransportName(values.transport);
  const gatewayProfiles = parseGatewayProfiles(values.gateway);
  let concurrency: number;
  try {
    concurrency = parseConcurrency(values.concurrency);
  } catch (err) {
    throw new UserError(err instanceof Error ? err.message : String(err), { hint: 'otwin run --help' });
  }
  const defaultRun = positionals.length === 0;
  const files = collectScenarioEntries(defaultRun ? defaultScenarioRoots() : positionals);
  // Lanes group files by their own lab; a suite runs a file on another lab, so a run with one stays in one lane.
  if (concurrency > 1 && files.some((f) => f.lab !== undefined)) {
    console.log(
      `otwin run: a suite file is among the scenarios; running them one at a time (--concurrency ${concurrency} ignored)`,
    );
    concurrency = 1;
  }
  if (files.length === 0)
    throw new UserError('no scenario files found', { hint: 'scenario files end in .yml or .yaml' });
  if (values.impl && values.implementation && values.impl !== values.implementation)
    throw new UserError(`--impl ${values.impl} and --implementation ${values.implementation} disagree`, {
      hint: 'give one of them',
    });
  const implementation = values.implementation ?? values.impl;
  const capabilitiesOf = await driverCapabilities(
    implementation ? [implementation] : files.map((f) => f.implementation ?? declaredImplementation(f.file)),
  );
  const scenarios = validateAll(files, values.lab, implementation, capabilitiesOf);
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
  const labPrefix = values['lab-prefix'] ?? (process.env.OTWIN_LAB_PREFIX || undefined);
  const privateLabs = labPrefix ? privateLabsFor(selected, values.lab, labPrefix) : {};
  console.log(
    `otwin run: ${selected.length} scenario(s) on the ${runtime} runtime${transport === 'netns' ? '' : ` (${transport} traffic transport)`}`,
  );
  installInterruptHandlers();
  const result = await launch({
    files: selected.map((s) => s.file),
    // Each scenario with the lab and implementation it was validated with (its own, its suite's or the
    // CLI's), on its private copy under --lab-prefix.
    entries: selected.map((s) => ({
      file: s.file,
      lab: privateLabs.labs?.[s.lab] ?? s.lab,
      implementation: s.implementation,
    })),
    lab: privateLabs.lab ?? values.lab,
    labs: privateLabs.labs,
    implementationOverride: implementation,
    gatewayProfiles,
    concurrency,
    keep: values.keep ?? false,
    reuse: values.reuse ?? false,
    runtime,
    transport,
    ...(values.reports ? { reportsDir: values.reports } : {}),
    implementation: [...new Set(selected.map((s) => s.implementation))].join(','),
  });
  if (values.report || defaultRun) {
    try {
      const index = await generateReport({
        quiet: true,
        ...(values.reports ? { reportsDir: values.reports } : {}),
      });
      console.log(`Allure report: ${index}`);
    } catch (err) {
      // The run's verdicts stand without the HTML; say why it is missing.
      console.log(`Allure report not generated: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  console.log(renderSummary(result));
  return exitCodeOf(result);
}

/** `--lab-prefix`: the private copy of `--lab`, or of every lab the scenarios name. */
export function privateLabsFor(
  scenarios: Scenario[],
  lab: string | undefined,
  prefix: string,
): { lab?: string; labs?: Record<string, string> } {
  if (lab) return { lab: privateLabCopy(lab, prefix) };
  return {
    labs: privateLabCopies(
      scenarios.map((s) => s.lab),
      prefix,
    ),
  };
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      lab: { type: 'string', short: 'l' },
      'lab-prefix': { type: 'string' },
      concurrency: { type: 'string', short: 'j' },
      implementation: { type: 'string', short: 'i' },
      // The short spelling the docs of other implementations use (`--impl ovn`).
      impl: { type: 'string' },
      gateway: { type: 'string' },
      tags: { type: 'string' },
      keep: { type: 'boolean' },
      reuse: { type: 'boolean' },
      report: { type: 'boolean' },
      reports: { type: 'string' },
      runtime: { type: 'string', short: 'r' },
      transport: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}
