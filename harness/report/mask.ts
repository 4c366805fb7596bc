/**
 * Secrets out of reports: the lab topology attached to every report may carry tokens in `env:` values
 * or on `cmd:`/`exec:` lines. Values of keys and flags whose name says token, secret, password,
 * credential or API key are replaced by `***`; flags naming a file (`--token-file`) keep their path.
 */
const SECRET_WORD = '(?:token|secret|passw(?:or)?d|credential|api[_-]?key|private[_-]?key)';
const MASK = '***';

/** `--token x`, `--db-password=x` (not `--token-file x`). */
const FLAG = new RegExp(
  `(--[a-z0-9-]*${SECRET_WORD}(?![a-z0-9-]*-file\\b)[a-z0-9-]*)([ =])(?!-)("[^"]*"|'[^']*'|\\S+)`,
  'gi',
);
/** `DIRECTORY_TOKEN=x` inside a command line. */
const ASSIGNMENT = new RegExp(`\\b([A-Za-z0-9_]*${SECRET_WORD}[A-Za-z0-9_]*)=("[^"]*"|'[^']*'|\\S+)`, 'gi');
/** `  DIRECTORY_TOKEN: x` as a YAML mapping entry (env:). */
const MAPPING = new RegExp(
  `^(\\s*(?:-\\s+)?["']?[A-Za-z0-9_.-]*${SECRET_WORD}[A-Za-z0-9_.-]*["']?\\s*:\\s+)(?![|>])(\\S.*)$`,
  'i',
);

export function maskSecrets(text: string): string {
  return text
    .split('\n')
    .map((line) => {
      if (/^\s*#/.test(line)) return line;
      const mapped = MAPPING.exec(line);
      if (mapped && !/(?:_FILE|-file)["']?\s*:/i.test(line)) return `${mapped[1]}'${MASK}'`;
      return line.replace(FLAG, `$1$2${MASK}`).replace(ASSIGNMENT, `$1=${MASK}`);
    })
    .join('\n');
}
