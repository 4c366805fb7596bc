/**
 * Command-line side of the roles' secrets (protocol/secret.ts): `--<kind>-file <path>` names a 0600
 * file; `--init-secrets` creates missing files (a lab's roles start together and share them). A
 * secret given on the command line itself is refused: /proc/<pid>/cmdline is readable by every user.
 */
import { readSecretFile, SecretFileError } from '../protocol/secret.ts';

const WHAT = { token: 'directory API token', secret: 'controller↔agent shared secret' } as const;

/** Reads `--<kind>-file` (or `fallback`, e.g. an environment variable); exits 2 with a sentence on error. */
export function roleSecret(
  role: string,
  values: Record<string, unknown>,
  kind: keyof typeof WHAT,
  fallback?: string,
): string {
  const fail = (message: string): never => {
    console.error(`${role}: ${message}`);
    process.exit(2);
  };
  if (values[kind] !== undefined)
    fail(
      `--${kind} puts the ${WHAT[kind]} on the command line, readable by every user: use --${kind}-file <file, mode 0600>`,
    );
  const file = values[`${kind}-file`];
  if (typeof file === 'string') {
    try {
      return readSecretFile(file, { create: values['init-secrets'] === true, what: WHAT[kind] });
    } catch (err) {
      return fail(err instanceof SecretFileError ? err.message : `${file}: ${(err as Error).message}`);
    }
  }
  if (fallback) return fallback;
  return fail(`no ${WHAT[kind]}: pass --${kind}-file <file, mode 0600>`);
}
