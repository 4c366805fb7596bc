/** Timing constants of traffic checks, shared by the checks and by validation (budgets they can meet). */

/** How long an expected-dropped cell must stay dropped: a budget below it cannot be met (validate.ts). */
export const MATRIX_HOLD_MS = 500;
/** One connection attempt. */
export const ATTEMPT_MS = 250;

/**
 * The time expected-reachable cells may take: what is left of the budget after the expected-dropped
 * cells' hold, or one attempt when the expectation has no budget (it must hold now). When the budget
 * is used up, one short attempt still runs so the report shows the answer (it fails as late).
 */
export function positiveDeadline(budgetLeftMs: number, holdMs: number): number {
  if (budgetLeftMs <= 0) return ATTEMPT_MS;
  return Math.max(50, budgetLeftMs - holdMs);
}
