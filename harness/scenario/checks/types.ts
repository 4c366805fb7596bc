import type { Attachment } from '../../report/reporter.ts';
import type { ScenarioContext } from '../context.ts';
import type { StepRefs } from '../refs.ts';
import type { Path, Schema } from '../schema.ts';
import type { CheckBase } from '../types.ts';
import { type Obj, parseDuration } from '../values.ts';

export interface CheckResult {
  ok: boolean;
  /** One paragraph: what was expected and what was seen (the failure message). */
  summary: string;
  attachments: Attachment[];
  /** Nodes whose logs are worth attaching when the check fails. */
  nodes: string[];
  /**
   * When the state the check judged was observed (performance.now() time), if earlier than when
   * evaluate returned: a BGP tap knows when the last UPDATE arrived. Budgets are judged by it, so the
   * harness's own polling and reading are not charged to the implementation.
   */
  observedAt?: number;
}

/** An expectation of some kind: what every check has, and its kind. */
export interface CheckShape extends CheckBase {
  kind: string;
}

/**
 * What one check kind declares, in its own file: the key that selects it and its YAML shape (one
 * schema fragment, used both by the validator and the generated editor schema), its typed parse, its
 * reference checks against the lab and the intent, and its behaviour. checks/index.ts registers it
 * with one line.
 */
export interface CheckDefinition<C extends CheckShape> {
  /** The key naming it in an expectation (`- reach: {...}`). */
  kind: C['kind'];
  /** Schema fragment of its body (the value under its key). */
  schema: Schema;
  /** It sends traffic between VMs: the driver must have located them first. */
  traffic: boolean;
  /** It polls within `within` by itself (the expect step then calls it once). */
  selfPolling: boolean;
  /** Its body's `duration` is a capture window (limits.ts bounds it at 5 minutes). */
  captureWindow?: boolean;
  /** The typed check from a schema-valid body; `base.name` is empty when the file gives no name. */
  parse(body: Obj, base: CheckBase): C;
  /** Reference checks of its body (`at` is the YAML path of the body). */
  references?(ctx: StepRefs, body: Obj, at: Path): void;
  /**
   * The shortest time it takes by construction, so a smaller `within` is refused (`listens`: the time
   * comes from its `duration`, which the author may shorten).
   */
  minimumMs?(body: Obj): { ms: number; why: string; listens: boolean } | undefined;
  /** Evaluates the expectation once. */
  evaluate(check: C, ctx: ScenarioContext): Promise<CheckResult>;
}

/** The body's `duration` in ms (the fallback when absent, 0 when malformed: the schema reports it). */
export function listenMs(body: Obj, fallback: number): number {
  try {
    return body.duration !== undefined ? parseDuration(body.duration) : fallback;
  } catch {
    return 0;
  }
}

/** Subset match: every key of `pattern` equals the same key of `value` (recursively; strings case-insensitive). */
export function subsetMatches(value: unknown, pattern: unknown): boolean {
  if (pattern === null || typeof pattern !== 'object') {
    // `'*'`: the field is there, whatever its value (a value the intent does not fix, e.g. a router MAC).
    if (pattern === '*') return value !== undefined && value !== null;
    if (typeof pattern === 'string' && typeof value === 'string')
      return pattern.toLowerCase() === value.toLowerCase();
    if (typeof pattern === 'number' && typeof value === 'string') return String(pattern) === value;
    return pattern === value;
  }
  if (Array.isArray(pattern)) {
    if (!Array.isArray(value)) return false;
    return pattern.every((p) => value.some((v) => subsetMatches(v, p)));
  }
  if (value === null || typeof value !== 'object') return false;
  return Object.entries(pattern as Record<string, unknown>).every(([k, p]) =>
    subsetMatches((value as Record<string, unknown>)[k], p),
  );
}
