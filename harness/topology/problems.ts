/**
 * Every problem of a topology in one report. A user fixing a file should see all of what is wrong
 * (each with file:line:col and what to do) after one attempt, not one problem per deploy.
 */
import { UserError } from '../util/errors.ts';

/** `file:line:col` → [line, col] for ordering; problems without a position sort last. */
function lineCol(where: string | undefined): [number, number] {
  const m = where ? /:(\d+):(\d+)$/.exec(where) : null;
  return m ? [Number(m[1]), Number(m[2])] : [Number.MAX_SAFE_INTEGER, 0];
}

/** Several UserErrors, in file order, printed together; a single problem prints exactly as itself. */
export class ProblemReport extends UserError {
  readonly problems: readonly UserError[];

  constructor(file: string, problems: readonly UserError[]) {
    const sorted = [...problems].sort((a, b) => {
      const [la, ca] = lineCol(a.where);
      const [lb, cb] = lineCol(b.where);
      return la - lb || ca - cb;
    });
    const first = sorted[0];
    const single = sorted.length === 1 && first !== undefined;
    super(
      single
        ? first.message
        : `${sorted.length} problems in ${file}:\n${sorted.map((p) => indent(p.describe())).join('\n')}`,
      {
        ...(single && first.where ? { where: first.where } : {}),
        ...(single && first.hint ? { hint: first.hint } : {}),
      },
    );
    this.name = 'ProblemReport';
    this.problems = sorted;
  }
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => `  ${line}`)
    .join('\n');
}

/** Collects UserErrors; `check` runs a step and keeps its UserError instead of stopping at it. */
export class ProblemList {
  readonly items: UserError[] = [];

  add(problem: UserError): void {
    if (problem instanceof ProblemReport) this.items.push(...problem.problems);
    else this.items.push(problem);
  }

  check<T>(step: () => T): T | undefined {
    try {
      return step();
    } catch (err) {
      if (!(err instanceof UserError)) throw err;
      this.add(err);
      return undefined;
    }
  }

  /** Throws one ProblemReport naming every collected problem (nothing when there is none). */
  throwIfAny(file: string): void {
    if (this.items.length > 0) throw new ProblemReport(file, this.items);
  }
}
