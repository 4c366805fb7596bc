import { execa } from 'execa';

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  input?: string;
  timeoutMs?: number;
  env?: Record<string, string>;
  cwd?: string;
}

/** Runs a command to completion; never throws for a non-zero exit (the caller decides). */
export async function run(
  file: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<ExecResult> {
  const result = await execa(file, args, {
    reject: false,
    stripFinalNewline: true,
    ...(options.input !== undefined ? { input: options.input } : { stdin: 'ignore' }),
    ...(options.timeoutMs !== undefined ? { timeout: options.timeoutMs } : {}),
    ...(options.env ? { env: options.env } : {}),
    ...(options.cwd ? { cwd: options.cwd } : {}),
  });
  if (result.failed && result.exitCode === undefined) {
    // Spawn failure (missing binary) or timeout: surface as exit 127/124 like a shell would.
    const code = result.timedOut ? 124 : 127;
    return {
      exitCode: code,
      stdout: String(result.stdout ?? ''),
      stderr: String(result.stderr || result.message),
    };
  }
  return {
    exitCode: result.exitCode ?? 1,
    stdout: String(result.stdout ?? ''),
    stderr: String(result.stderr ?? ''),
  };
}

/** Runs a command that must succeed; throws with its stderr otherwise. */
export async function runOk(
  file: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<string> {
  const result = await run(file, args, options);
  if (result.exitCode !== 0) {
    throw new Error(
      `${file} ${args.join(' ')} failed (exit ${result.exitCode}): ${result.stderr.trim() || result.stdout.trim()}`,
    );
  }
  return result.stdout;
}

/** Runs a command that prints JSON (`ip -j`, `bridge -j`, `nft -j`, `vtysh -c '... json'`) and parses it. */
export async function runJson<T>(
  file: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<T> {
  const stdout = await runOk(file, args, options);
  const text = stdout.trim();
  if (text === '') return [] as unknown as T;
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new Error(`${file} ${args.join(' ')} did not print JSON: ${text.slice(0, 200)}`, { cause: err });
  }
}
