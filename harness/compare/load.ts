/**
 * Inputs of `otwin compare`: run records (a record file, a folder of them such as reports/runs, or a
 * `--reports` folder) and Allure result folders (`*-result.json` carrying the `conformance_id` label and
 * the `implementation` / `gateway profile` parameters). One input gives one column per implementation
 * and gateway profile it holds; a folder of records that several runs wrote gives each profile's latest
 * run. Anything else is the user's mistake: a UserError naming the file.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { RecordedVerdict, RunRecord, VerdictFigures } from '../scenario/record.ts';
import { UserError } from '../util/errors.ts';
import type { Cell, CellStatus, Column } from './types.ts';

export interface CompareInput {
  path: string;
  /** --label name for this input's column. */
  label?: string;
}

const HINT =
  'give run records (reports/runs/*.json or the folder), a --reports folder, or an Allure results folder (reports/allure-results)';

/** Worse first: a column fails an ID when any of its results fails it. */
const RANK: Record<Exclude<CellStatus, 'not covered'>, number> = {
  failed: 4,
  broken: 3,
  passed: 2,
  skipped: 1,
};

interface Verdict {
  ids: string[];
  status: Exclude<CellStatus, 'not covered'>;
  message: string | undefined;
  figures: VerdictFigures | undefined;
}

interface Group {
  implementation: string;
  gateway: string | undefined;
  runId: string | undefined;
  verdicts: Verdict[];
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UserError(`cannot read ${file}: ${err instanceof Error ? err.message : String(err)}`, {
      hint: HINT,
    });
  }
}

function isRecord(data: unknown): data is RunRecord {
  const rec = data as Partial<RunRecord> | null;
  return (
    rec !== null &&
    typeof rec === 'object' &&
    rec.version === 1 &&
    typeof rec.scenario === 'object' &&
    typeof rec.implementation === 'string' &&
    Array.isArray(rec.verdicts)
  );
}

function fromRecordVerdict(v: RecordedVerdict): Verdict {
  return { ids: v.conformance, status: v.status, message: v.message, figures: v.figures };
}

function recordGroups(records: RunRecord[]): Group[] {
  const groups = new Map<string, RunRecord[]>();
  for (const rec of records) {
    const key = `${rec.implementation}\u0000${rec.gateway ?? ''}`;
    groups.set(key, [...(groups.get(key) ?? []), rec]);
  }
  const latestRuns = [...groups.values()].map((recs) => {
    // Records accumulate over runs: the profile's latest run is what the folder says about it.
    const latest = recs.reduce((a, b) => (b.startedAt > a.startedAt ? b : a));
    const run = recs.filter((r) => r.runId === latest.runId);
    return {
      implementation: latest.implementation,
      gateway: latest.gateway ?? undefined,
      runId: latest.runId,
      verdicts: run.flatMap((r) => r.verdicts.map(fromRecordVerdict)),
    };
  });
  return byProfile(latestRuns);
}

function loadRecordFiles(files: string[]): Group[] {
  const records = files.map((file) => {
    const data = readJson(file);
    if (!isRecord(data)) throw new UserError(`${file} is not an otwin run record`, { hint: HINT });
    return data;
  });
  return recordGroups(records);
}

interface AllureResult {
  status?: unknown;
  labels?: Array<{ name: string; value: string }>;
  parameters?: Array<{ name: string; value: string }>;
  attachments?: Array<{ name: string; source: string }>;
  steps?: AllureStep[];
  statusDetails?: { message?: string };
}

interface AllureStep {
  attachments?: Array<{ name: string; source: string }>;
  steps?: AllureStep[];
}

/** allure-vitest files an attachment as a step of its own holding it: search the steps too. */
function findAttachment(step: AllureStep, name: string): string | undefined {
  const here = step.attachments?.find((a) => a.name === name)?.source;
  if (here) return here;
  for (const child of step.steps ?? []) {
    const found = findAttachment(child, name);
    if (found) return found;
  }
  return undefined;
}

function allureFigures(dir: string, result: AllureResult): VerdictFigures | undefined {
  const source = findAttachment(result, 'figures');
  if (!source || !existsSync(join(dir, source))) return undefined;
  return readJson(join(dir, source)) as VerdictFigures;
}

function environment(dir: string): Record<string, string> {
  const file = join(dir, 'environment.properties');
  if (!existsSync(file)) return {};
  const props: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const at = line.indexOf('=');
    if (at > 0) props[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return props;
}

function loadAllure(dir: string, files: string[]): Group[] {
  const env = environment(dir);
  const groups = new Map<string, Group>();
  for (const name of files) {
    const file = join(dir, name);
    const result = readJson(file) as AllureResult | null;
    if (result === null || typeof result !== 'object' || typeof result.status !== 'string') {
      throw new UserError(`${file} is not an Allure result`, { hint: HINT });
    }
    const status = result.status;
    const ids = (result.labels ?? []).filter((l) => l.name === 'conformance_id').map((l) => l.value);
    const param = (key: string) => result.parameters?.find((p) => p.name === key)?.value;
    const implementation = param('implementation');
    // Not-covered placeholders (status unknown) and the harness's own tests say nothing about a column.
    if (!implementation || !(status in RANK)) continue;
    const gateway = param('gateway profile');
    const key = `${implementation}\u0000${gateway ?? ''}`;
    const group = groups.get(key) ?? {
      implementation,
      gateway: gateway === 'none' ? undefined : gateway,
      runId: env.run,
      verdicts: [],
    };
    groups.set(key, group);
    group.verdicts.push({
      ids,
      status: status as Verdict['status'],
      message: result.statusDetails?.message,
      figures: allureFigures(dir, result),
    });
  }
  if (groups.size === 0) {
    // Results, but none with a verdict: one column, every ID not covered.
    return [
      { implementation: env.implementation ?? 'unknown', gateway: undefined, runId: env.run, verdicts: [] },
    ];
  }
  return byProfile([...groups.values()]);
}

/** One input's columns in a stable order, whatever order the files were written in. */
function byProfile(groups: Group[]): Group[] {
  const key = (g: Group) => `${g.implementation}\u0000${g.gateway ?? ''}`;
  return groups.sort((a, b) => key(a).localeCompare(key(b)));
}

function loadInput(path: string): { kind: Column['kind']; groups: Group[] } {
  if (!existsSync(path)) throw new UserError(`no such run or folder: ${path}`, { hint: HINT });
  if (statSync(path).isFile()) return { kind: 'run records', groups: loadRecordFiles([path]) };
  const entries = readdirSync(path).sort();
  const results = entries.filter((f) => f.endsWith('-result.json'));
  if (results.length > 0) return { kind: 'allure results', groups: loadAllure(path, results) };
  // A --reports folder: its Allure results cover the whole catalogue, its records only what ran.
  const allure = join(path, 'allure-results');
  if (existsSync(allure) && readdirSync(allure).some((f) => f.endsWith('-result.json')))
    return loadInput(allure);
  if (existsSync(join(path, 'runs'))) return loadInput(join(path, 'runs'));
  const json = entries.filter((f) => f.endsWith('.json'));
  if (json.length === 0)
    throw new UserError(`${path} holds no run records or Allure results`, { hint: HINT });
  return { kind: 'run records', groups: loadRecordFiles(json.map((f) => join(path, f))) };
}

function cellsOf(verdicts: Verdict[]): Map<string, Cell> {
  const cells = new Map<string, Cell>();
  for (const v of verdicts) {
    for (const id of v.ids) {
      const cell = cells.get(id) ?? { status: v.status, results: 0, figures: {}, detail: undefined };
      if (RANK[v.status] > RANK[cell.status as Verdict['status']]) cell.status = v.status;
      cell.results += 1;
      if (v.status !== 'passed' && cell.detail === undefined) cell.detail = v.message;
      cell.figures = worstFigures(cell.figures, v.figures ?? {});
      cells.set(id, cell);
    }
  }
  // The detail shown is the worst verdict's.
  for (const [id, cell] of cells) {
    const worst = verdicts.find((v) => v.ids.includes(id) && v.status === cell.status);
    if (cell.status !== 'passed' && worst?.message) cell.detail = worst.message;
  }
  return cells;
}

function worstFigures(a: VerdictFigures, b: VerdictFigures): VerdictFigures {
  const out: VerdictFigures = { ...a };
  if (b.measuredMs !== undefined && (a.measuredMs === undefined || b.measuredMs > a.measuredMs)) {
    out.measuredMs = b.measuredMs;
    out.budgetMs = b.budgetMs;
  }
  if (b.lossWindowMs !== undefined && (a.lossWindowMs === undefined || b.lossWindowMs > a.lossWindowMs)) {
    out.lossWindowMs = b.lossWindowMs;
    out.lossBoundMs = b.lossBoundMs;
  }
  if (b.p95Ms !== undefined && (a.p95Ms === undefined || b.p95Ms > a.p95Ms)) out.p95Ms = b.p95Ms;
  return out;
}

/** Loads every input; columns are named by label, else implementation / gateway profile, made unique. */
export function loadColumns(inputs: CompareInput[]): Column[] {
  const columns: Column[] = [];
  for (const input of inputs) {
    const { kind, groups } = loadInput(input.path);
    for (const g of groups) {
      const profile = `${g.implementation}${g.gateway ? ` / ${g.gateway}` : ''}`;
      const name = input.label ? (groups.length > 1 ? `${input.label}: ${profile}` : input.label) : profile;
      columns.push({
        name,
        input: input.path,
        kind,
        implementation: g.implementation,
        gateway: g.gateway,
        runId: g.runId,
        cells: cellsOf(g.verdicts),
      });
    }
  }
  // Two releases of one implementation, unlabelled: the run (or the input) tells them apart.
  for (const column of columns) {
    if (columns.filter((c) => c.name === column.name).length < 2) continue;
    for (const c of columns.filter((x) => x.name === column.name)) {
      c.name = `${c.name} (${c.runId ?? basename(c.input)})`;
    }
  }
  columns.forEach((c, i) => {
    if (columns.findIndex((x) => x.name === c.name) !== i) c.name = `${c.name} #${i + 1}`;
  });
  return columns;
}
