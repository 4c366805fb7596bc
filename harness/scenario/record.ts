/**
 * Run records: every scenario run writes `reports/runs/<timestamp>-<scenario>.json` with what is
 * needed to re-execute it the same way (scenario text, resolved intent, seed, step start times,
 * fault and chaos schedules) and what it concluded (verdicts, BGP transcript files, loss windows).
 * `otwin replay <record>` runs the timeline again with the recorded seed and timings and diffs the
 * verdicts.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../util/errors.ts';
import type { Intent } from './intent.ts';
import type { Fault, Scenario } from './types.ts';

export type VerdictStatus = 'passed' | 'failed' | 'broken' | 'skipped';

export interface RecordedVerdict {
  /** Stable key of the expectation within the scenario (`<step id>/<check index>`). */
  key: string;
  name: string;
  status: VerdictStatus;
  message: string | undefined;
  conformance: string[];
  area: string;
  startMs: number;
  durationMs: number;
  /** What the expectation measured, when it measured something (`otwin compare` shows it). */
  figures?: VerdictFigures;
}

/** Key figures of one expectation: its time against its budget, a loss window against its bound, a p95. */
export interface VerdictFigures {
  /** From the act the expectation follows to the answer (T_conv for convergence checks), ms. */
  measuredMs?: number;
  /** The expectation's `within`, ms (0: it had to hold at once). */
  budgetMs?: number;
  lossWindowMs?: number;
  lossBoundMs?: number;
  p95Ms?: number;
}

export interface ChaosEvent {
  /** Offset from the chaos step's start, ms. */
  atMs: number;
  durationMs: number;
  /** Index into the chaos step's fault list. */
  fault: number;
}

export interface RecordedFault {
  step: string;
  fault: Fault;
  /** Scenario-relative times, ms. */
  appliedMs: number;
  revertedMs: number | undefined;
}

export interface RunRecord {
  version: 1;
  runId: string;
  scenario: { name: string; file: string; source: string; lab: string };
  implementation: string;
  gateway: string | undefined;
  runtime: string;
  seed: number;
  intent: Intent;
  startedAt: string;
  finishedAt: string | undefined;
  /** Scenario-relative start time of every step, by step id. */
  stepStarts: Record<string, number>;
  faults: RecordedFault[];
  chaos: Record<string, ChaosEvent[]>;
  verdicts: RecordedVerdict[];
  /** Files (BGP transcripts, pcaps) written by the run. */
  artifacts: Array<{ name: string; path: string }>;
  lossWindows: Array<{ name: string; ms: number; boundMs: number }>;
  /** Set when this run was itself a replay. */
  replayOf: string | undefined;
}

export class RecordBuilder {
  readonly record: RunRecord;
  readonly path: string;

  constructor(
    scenario: Scenario,
    options: { runsDir: string; runId: string; runtime: string; replayOf?: string },
  ) {
    const startedAt = new Date();
    const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
    const slug = scenario.name.replace(/[^A-Za-z0-9_-]+/g, '-').slice(0, 60);
    mkdirSync(options.runsDir, { recursive: true });
    // One scenario may run on several gateway profiles in the same instant (otwin run --gateway a,b).
    const profile = scenario.gateway ? `-gw-${scenario.gateway.replace(/[^A-Za-z0-9_-]+/g, '-')}` : '';
    this.path = join(options.runsDir, `${stamp}-${slug}${profile}.json`);
    this.record = {
      version: 1,
      runId: options.runId,
      scenario: { name: scenario.name, file: scenario.file, source: scenario.source, lab: scenario.lab },
      implementation: scenario.implementation,
      gateway: scenario.gateway,
      runtime: options.runtime,
      seed: scenario.seed,
      intent: scenario.intent,
      startedAt: startedAt.toISOString(),
      finishedAt: undefined,
      stepStarts: {},
      faults: [],
      chaos: {},
      verdicts: [],
      artifacts: [],
      lossWindows: [],
      replayOf: options.replayOf,
    };
  }

  /**
   * The scenario starts now (its suite's first hook, before its lab is deployed or reused): records
   * are created when the run is collected, long before most scenarios run.
   */
  begin(): void {
    this.record.startedAt = new Date().toISOString();
  }

  stepStarted(id: string, atMs: number): void {
    this.record.stepStarts[id] = Math.round(atMs);
  }

  fault(entry: RecordedFault): RecordedFault {
    this.record.faults.push(entry);
    return entry;
  }

  chaos(stepId: string, events: ChaosEvent[]): void {
    this.record.chaos[stepId] = events;
  }

  private figures: VerdictFigures | undefined;

  /** Figures of the expectation running now; the next verdict carries them. */
  noteFigures(figures: VerdictFigures): void {
    this.figures = { ...this.figures, ...figures };
  }

  /** The figures noted since the last call (and forgets them). */
  takeFigures(): VerdictFigures | undefined {
    const figures = this.figures;
    this.figures = undefined;
    return figures;
  }

  verdict(v: RecordedVerdict): void {
    const i = this.record.verdicts.findIndex((x) => x.key === v.key);
    if (i >= 0) this.record.verdicts[i] = v;
    else this.record.verdicts.push(v);
  }

  artifact(name: string, path: string): void {
    this.record.artifacts.push({ name, path });
  }

  save(): string {
    writeFileSync(this.path, `${JSON.stringify(this.record, null, 2)}\n`);
    return this.path;
  }

  finish(): string {
    this.record.finishedAt = new Date().toISOString();
    return this.save();
  }
}

export function readRecord(file: string): RunRecord {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UserError(
      `cannot read run record ${file}: ${err instanceof Error ? err.message : String(err)}`,
      {
        hint: 'records are the JSON files under reports/runs/',
      },
    );
  }
  const rec = data as Partial<RunRecord>;
  if (rec.version !== 1 || !rec.scenario || !Array.isArray(rec.verdicts)) {
    throw new UserError(`${file} is not an otwin run record`, {
      hint: 'records are the JSON files under reports/runs/',
    });
  }
  return rec as RunRecord;
}

export interface VerdictDiff {
  same: boolean;
  rows: Array<{
    key: string;
    name: string;
    before: VerdictStatus | 'missing';
    after: VerdictStatus | 'missing';
  }>;
}

export function diffVerdicts(before: RecordedVerdict[], after: RecordedVerdict[]): VerdictDiff {
  const keys = [...new Set([...before.map((v) => v.key), ...after.map((v) => v.key)])];
  const rows = keys.map((key) => {
    const a = before.find((v) => v.key === key);
    const b = after.find((v) => v.key === key);
    return {
      key,
      name: (a ?? b)!.name,
      before: a?.status ?? ('missing' as const),
      after: b?.status ?? ('missing' as const),
    };
  });
  return { same: rows.every((r) => r.before === r.after), rows };
}

export function renderVerdictDiff(diff: VerdictDiff): string {
  const width = Math.max(10, ...diff.rows.map((r) => r.name.length));
  const lines = [`${'expectation'.padEnd(width)}  recorded  replayed`];
  for (const r of diff.rows) {
    const mark = r.before === r.after ? ' ' : '≠';
    lines.push(`${mark}${r.name.padEnd(width - 1)}  ${r.before.padEnd(8)}  ${r.after}`);
  }
  lines.push(
    diff.same ? 'replay: same verdicts as the recorded run' : 'replay: verdicts differ from the recorded run',
  );
  return lines.join('\n');
}
