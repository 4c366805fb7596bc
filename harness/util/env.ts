/**
 * The project's environment variables all start with OTWIN_ (README, "Environment variables"). Earlier
 * releases also read OTF_<NAME> (reference implementation) and OTD_<NAME> (tests): those spellings are
 * still read for one release, with a deprecation warning, when the OTWIN_ one is unset.
 */
const LEGACY_PREFIXES = ['OTF_', 'OTD_'] as const;
const warned = new Set<string>();

/** The value of OTWIN_<name>, else of its deprecated spelling. */
export function otwinEnv(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const current = env[`OTWIN_${name}`];
  if (current !== undefined) return current;
  for (const prefix of LEGACY_PREFIXES) {
    const legacy = env[`${prefix}${name}`];
    if (legacy === undefined) continue;
    if (!warned.has(name)) {
      warned.add(name);
      process.emitWarning(`${prefix}${name} is deprecated; set OTWIN_${name} instead`, 'DeprecationWarning');
    }
    return legacy;
  }
  return undefined;
}
