/**
 * Secrets of the reference roles: the directory's API token and the controller↔agent shared secret.
 * Both come from files only their owner can read (mode 0600), never from the command line (every
 * user can read a command line through /proc/<pid>/cmdline).
 *
 * Agent identity: an agent proves the hypervisor name it claims with a credential, the HMAC-SHA256 of
 * that name under the shared secret. The controller recomputes it for the claimed name and compares
 * in constant time, so an agent is the hypervisor its credential names, whatever else its hello says.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import {
  closeSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';

export class SecretFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecretFileError';
  }
}

/**
 * Creates `path` with a fresh random secret unless it exists. Safe when several roles of a lab start
 * at once: each writes its own temporary file and hard-links it into place; the first link wins and
 * everyone then reads the winner's secret.
 */
export function createSecretFile(path: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, `${randomBytes(32).toString('hex')}\n`);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(tmp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    unlinkSync(tmp);
  }
}

/**
 * Reads a secret from a file that must be a regular file readable by its owner only (no group or
 * other permission bits). With `create`, a missing file is first created (see createSecretFile).
 */
export function readSecretFile(path: string, options: { create?: boolean; what?: string } = {}): string {
  const what = options.what ?? 'secret';
  let stat: ReturnType<typeof statSync>;
  try {
    stat = statSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    if (!options.create)
      throw new SecretFileError(`${what} file ${path} does not exist: create it with mode 0600`);
    createSecretFile(path);
    stat = statSync(path);
  }
  if (!stat.isFile()) throw new SecretFileError(`${what} file ${path} is not a regular file`);
  if (stat.mode & 0o077)
    throw new SecretFileError(
      `${what} file ${path} has mode ${(stat.mode & 0o777).toString(8).padStart(4, '0')}: others can read it; run chmod 600 ${path}`,
    );
  const secret = readFileSync(path, 'utf8').trim();
  if (!secret) throw new SecretFileError(`${what} file ${path} is empty`);
  return secret;
}

const digest = (value: string | Buffer) => createHash('sha256').update(value).digest();

/**
 * Constant-time equality of two secrets of any length: compares their SHA-256 digests, so neither
 * the content nor the length of the expected value leaks through timing.
 */
export function secretsEqual(expected: string | Buffer, given: string | Buffer): boolean {
  return timingSafeEqual(digest(expected), digest(given));
}

/** The credential of the agent of `hypervisor`: HMAC-SHA256 of its name under the shared secret (hex). */
export function agentCredential(secret: string, hypervisor: string): string {
  return createHmac('sha256', secret).update(`otwin-agent:${hypervisor}`).digest('hex');
}

/** Whether `credential` proves `hypervisor` under `secret` (constant time). */
export function credentialProves(secret: string, hypervisor: string, credential: unknown): boolean {
  if (typeof credential !== 'string') return false;
  return secretsEqual(agentCredential(secret, hypervisor), credential);
}
