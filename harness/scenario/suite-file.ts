/**
 * Suite files (`suite.yml`, `<name>.suite.yml`): a list of scenario files to run on one lab against
 * one implementation, without copying them. `scenarios/ovn/suite.yml` runs the reference packs on
 * OVN this way: the files judged are the reference files themselves, byte for byte.
 *
 *   implementation: ovn                 # a name in package.json otwin.drivers
 *   lab: ../../labs/ovn.clab.yml        # relative to the suite file
 *   scenarios:                          # relative to the suite file; no suite files
 *     - ../l2/l2-1-matrix.yml
 *
 * The CLI's `--lab` and `--implementation` still win over the suite's, as over a scenario's own.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LineCounter, type Node, parseDocument } from 'yaml';
import { UserError } from '../util/errors.ts';
import { driverNames } from './drivers/index.ts';
import { type Issue, Locator, ScenarioError, SUITE_FILE_NAME, scenarioPaths } from './parse.ts';
import { type Path, type Schema, type SchemaIssue, validateAgainstSchema } from './schema.ts';

/** One scenario to run, with what its suite file sets (absent: the scenario's own). */
export interface ScenarioEntry {
  /** Absolute path of the scenario file. */
  file: string;
  /** Absolute path of the lab file the suite names. */
  lab?: string;
  implementation?: string;
}

const here = dirname(fileURLToPath(import.meta.url));
/** The editor schema of suite files, written by `npm run gen:schema`. */
export const SUITE_SCHEMA_FILE = join(here, 'suite.schema.json');

export const SUITE_SCHEMA: Schema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://overlay-twin.dev/schema/suite.json',
  title: 'overlay-twin suite file: scenario files run on one lab against one implementation',
  type: 'object',
  additionalProperties: false,
  required: ['implementation', 'lab', 'scenarios'],
  properties: {
    description: { type: 'string', description: 'What the suite runs and why (free text).' },
    implementation: {
      type: 'string',
      minLength: 1,
      description: 'The implementation under test for every scenario: a name in package.json otwin.drivers.',
    },
    lab: {
      type: 'string',
      minLength: 1,
      description: 'The lab (containerlab topology) file every scenario runs on, relative to this file.',
    },
    scenarios: {
      type: 'array',
      minItems: 1,
      items: { type: 'string', minLength: 1 },
      description: 'Scenario files, relative to this file, run unmodified (no suite files).',
    },
  },
};

/** A suite file by its name: `suite.yml` or `<name>.suite.yml` (also .yaml). */
export function isSuiteFile(path: string): boolean {
  return SUITE_FILE_NAME.test(basename(path));
}

/**
 * What the CLI's paths name: scenario files as given, suite files expanded, folders searched
 * recursively for both. The same scenario may come twice on different labs or implementations (a
 * reference pack and the OVN suite naming it); the same entry twice comes once.
 */
export function collectScenarioEntries(paths: string[]): ScenarioEntry[] {
  const out = new Map<string, ScenarioEntry>();
  const add = (entry: ScenarioEntry) => {
    out.set(JSON.stringify([entry.file, entry.lab ?? '', entry.implementation ?? '']), entry);
  };
  for (const { path, suite } of scenarioPaths(paths)) {
    if (suite) for (const entry of loadSuiteFile(path)) add(entry);
    else add({ file: path });
  }
  return [...out.values()];
}

/** Reads and checks a suite file; throws ScenarioError with every problem at file:line:col. */
export function loadSuiteFile(file: string): ScenarioEntry[] {
  const abs = resolve(file);
  if (!existsSync(abs)) throw new UserError(`suite file not found: ${file}`);
  const lines = new LineCounter();
  const doc = parseDocument(readFileSync(abs, 'utf8'), {
    lineCounter: lines,
    prettyErrors: false,
    uniqueKeys: true,
  });
  const locator = new Locator(abs, doc.contents as Node | null, lines);
  const fail = (issues: SchemaIssue[]): never => {
    throw new ScenarioError(
      issues.map((i): Issue => locator.issue(i)).sort((a, b) => a.line - b.line || a.col - b.col),
    );
  };
  if (doc.errors.length > 0) {
    const { line, col } = lines.linePos(doc.errors[0]!.pos[0]);
    throw new ScenarioError([
      {
        where: `${abs}:${line}:${col}`,
        line,
        col,
        message: `YAML syntax error: ${doc.errors[0]!.message.split('\n')[0]}`,
        hint: 'check indentation and quoting',
      },
    ]);
  }
  const data = doc.toJS() as unknown;
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    fail([
      {
        path: [],
        message: 'a suite file must be a YAML mapping',
        hint: 'start with `implementation: ...`',
        atKey: false,
      },
    ]);
  }
  const schemaIssues = validateAgainstSchema(data, SUITE_SCHEMA);
  if (schemaIssues.length > 0) fail(schemaIssues);

  const suite = data as { implementation: string; lab: string; scenarios: string[] };
  const issues: SchemaIssue[] = [];
  const error = (path: Path, message: string, hint?: string) =>
    issues.push({ path, message, hint, atKey: false });
  const known = driverNames();
  if (!known.includes(suite.implementation))
    error(
      ['implementation'],
      `unknown implementation driver '${suite.implementation}'`,
      `known drivers: ${known.join(', ')}`,
    );
  const lab = resolve(dirname(abs), suite.lab);
  if (!existsSync(lab))
    error(['lab'], `lab file not found: ${lab}`, 'the lab path is relative to the suite file');
  const seen = new Set<string>();
  suite.scenarios.forEach((name, i) => {
    const scenario = resolve(dirname(abs), name);
    if (!existsSync(scenario) || !statSync(scenario).isFile())
      error(
        ['scenarios', i],
        `scenario file not found: ${scenario}`,
        'scenario paths are relative to the suite file',
      );
    else if (isSuiteFile(scenario))
      error(['scenarios', i], `'${name}' is a suite file`, 'list scenario files only');
    else if (seen.has(scenario))
      error(['scenarios', i], `'${name}' is listed twice`, 'list each scenario once');
    seen.add(scenario);
  });
  if (issues.length > 0) fail(issues);
  return [...seen].map((scenario) => ({ file: scenario, lab, implementation: suite.implementation }));
}
