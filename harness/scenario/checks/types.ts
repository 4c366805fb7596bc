import type { Attachment } from '../../report/reporter.ts';
import type { ScenarioContext } from '../context.ts';
import type { Check } from '../types.ts';

export interface CheckResult {
  ok: boolean;
  /** One paragraph: what was expected and what was seen (the failure message). */
  summary: string;
  attachments: Attachment[];
  /** Nodes whose logs are worth attaching when the check fails. */
  nodes: string[];
}

/** Evaluates one expectation once. `selfPolling` checks honour `within` themselves. */
export interface CheckHandler<C extends Check = Check> {
  selfPolling: boolean;
  evaluate(check: C, ctx: ScenarioContext): Promise<CheckResult>;
}

/** Subset match: every key of `pattern` equals the same key of `value` (recursively; strings case-insensitive). */
export function subsetMatches(value: unknown, pattern: unknown): boolean {
  if (pattern === null || typeof pattern !== 'object') {
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
