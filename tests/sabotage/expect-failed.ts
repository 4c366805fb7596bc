/**
 * The assertion every sabotage proof makes: the catalogue ID's results on the sabotaged lab include
 * no broken one, and the named steps FAILED with a message that says what was wrong.
 */
import { expect } from 'vitest';
import { byId, type SabotageRun } from './run.ts';

export interface ExpectedFailure {
  id: string;
  /** The step of the suite file that must fail. */
  step: RegExp;
  /** What its message must say. */
  message: RegExp;
}

export function expectFailed(run: SabotageRun, { id, step, message }: ExpectedFailure): void {
  const results = byId(run, id);
  expect(results.length, `${id}: no results\n${run.summary}`).toBeGreaterThan(0);
  expect(
    results.filter((v) => v.status === 'broken').map((v) => `${v.name}: ${v.message}`),
    run.summary,
  ).toEqual([]);
  const failed = results.filter((v) => v.status === 'failed' && step.test(v.name));
  expect(
    failed.map((v) => v.name),
    `${id}: no failed step matching ${step}; results: ${results.map((v) => `${v.status} ${v.name}`).join(' | ')}`,
  ).not.toEqual([]);
  expect(failed.map((v) => v.message).join('\n')).toMatch(message);
}
