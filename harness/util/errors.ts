/**
 * An error caused by the user's input (topology, scenario, CLI arguments, API request).
 * The CLI prints `message` (one paragraph, with where and what to do) and exits with `exitCode`,
 * never a stack trace.
 */
export class UserError extends Error {
  readonly exitCode: number;
  /** `file:line:column` or `file` + YAML path, when the error points into a file. */
  readonly where: string | undefined;
  readonly hint: string | undefined;

  constructor(
    message: string,
    options: { where?: string; hint?: string; exitCode?: number; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'UserError';
    this.where = options.where;
    this.hint = options.hint;
    this.exitCode = options.exitCode ?? 2;
  }

  /** The one-paragraph text the CLI prints. */
  describe(): string {
    const head = this.where ? `${this.where}: ${this.message}` : this.message;
    return this.hint ? `${head}\n  hint: ${this.hint}` : head;
  }
}

/** A failure of the lab or the harness itself (not the system under test): reported as "broken". */
export class HarnessError extends Error {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HarnessError';
  }
}

export function errorMessage(err: unknown): string {
  if (err instanceof UserError) return err.describe();
  if (err instanceof Error) return err.message;
  return String(err);
}
