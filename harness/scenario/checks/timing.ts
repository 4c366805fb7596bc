/** Timing constants of traffic checks, shared by the checks and by validation (budgets they can meet). */

/** How long an expected-dropped cell must stay dropped: a budget below it cannot be met (validate.ts). */
export const MATRIX_HOLD_MS = 500;
/** One connection attempt. */
export const ATTEMPT_MS = 250;
/** The shortest attempt: a handshake across the lab under load still fits. */
const MIN_ATTEMPT_MS = 100;

/**
 * The attempt length for a positive deadline: a TCP attempt whose SYN met a not-yet-open filter
 * waits for the kernel's 1 s retransmission, so the verdict is only as fine as one attempt. A budget
 * below a second (T_sg: 500 ms) gets attempts of a quarter of it, at least MIN_ATTEMPT_MS; a check
 * without a budget keeps its one full attempt.
 */
export function attemptFor(positiveDeadlineMs: number): number {
  if (positiveDeadlineMs <= ATTEMPT_MS || positiveDeadlineMs >= 1000) return ATTEMPT_MS;
  return Math.max(MIN_ATTEMPT_MS, Math.floor(positiveDeadlineMs / 4));
}

/**
 * The time expected-reachable cells may take: what is left of the budget after the expected-dropped
 * cells' hold, or one attempt when the expectation has no budget (it must hold now). When the budget
 * is used up, one short attempt still runs so the report shows the answer (it fails as late).
 */
export function positiveDeadline(budgetLeftMs: number, holdMs: number): number {
  if (budgetLeftMs <= 0) return ATTEMPT_MS;
  return Math.max(50, budgetLeftMs - holdMs);
}
