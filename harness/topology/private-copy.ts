/**
 * Private copies of lab files (`otwin run --lab-prefix`, `npm run bench -- scenario --lab-prefix`):
 * the same lab under a name of the caller's own (`otwin-default` → `<prefix>-default`), so a run never
 * shares a deployment, a namespace, a directory socket or a VM namespace with another run of the same
 * lab on this machine. The lab name is replaced everywhere in the file (node commands name their
 * runtime folder `labs/clab-<lab>/…` and the agents' namespace prefix `<lab>-`), and relative binds
 * become absolute because the copy lives in a folder of its own.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { isMap, isSeq, parseDocument } from 'yaml';
import { UserError } from '../util/errors.ts';

/** Where the copies go unless told: one folder per prefix, so the same prefix reuses the same copies. */
export function privateLabDir(prefix: string): string {
  return join(tmpdir(), prefix, 'labs');
}

/** The copy's lab name: `otwin-<rest>` becomes `<prefix>-<rest>`, any other name gets the prefix. */
export function privateLabName(original: string, prefix: string): string {
  return original.startsWith('otwin-')
    ? `${prefix}-${original.slice('otwin-'.length)}`
    : `${prefix}-${original}`;
}

export function checkLabPrefix(prefix: string): void {
  if (!/^[a-zA-Z][a-zA-Z0-9-]{0,11}$/.test(prefix) || prefix.startsWith('otwin'))
    throw new UserError(`--lab-prefix ${JSON.stringify(prefix)} is not a usable prefix`, {
      hint: 'up to 12 letters, digits and dashes, starting with a letter and not with "otwin" (e.g. --lab-prefix oh35)',
    });
}

/** A bind of a lab in `labDir` as a copy elsewhere must write it: its source made absolute. */
export function absoluteBind(bind: string, labDir: string): string {
  const [source, ...rest] = bind.split(':');
  // containerlab's __clabNodeDir__ and friends stay as written: they name the copy's own folders.
  const keep = isAbsolute(source!) || source!.startsWith('__clab');
  return [keep ? source : resolve(labDir, source!), ...rest].join(':');
}

function absoluteBinds(binds: unknown, labDir: string): string[] | undefined {
  if (!isSeq(binds)) return undefined;
  return (binds.toJSON() as string[]).map((bind) => absoluteBind(bind, labDir));
}

/** Writes the private copy of one lab file into `dir` and returns the copy's path. */
export function privateLabCopy(labFile: string, prefix: string, dir: string = privateLabDir(prefix)): string {
  checkLabPrefix(prefix);
  const source = readFileSync(labFile, 'utf8');
  const original = /^name:\s*(\S+)/m.exec(source)?.[1];
  if (!original)
    throw new UserError(`${labFile}: no top-level \`name:\``, { hint: 'a lab file names its lab' });
  const name = privateLabName(original, prefix);
  const doc = parseDocument(source.split(original).join(name));
  const labDir = dirname(labFile);
  for (const section of ['nodes', 'kinds', 'groups'] as const) {
    const entries = doc.getIn(['topology', section]);
    if (!isMap(entries)) continue;
    for (const pair of entries.items) {
      if (!isMap(pair.value)) continue;
      const binds = absoluteBinds(pair.value.get('binds', true), labDir);
      if (binds) pair.value.set('binds', binds);
    }
  }
  const defaults = doc.getIn(['topology', 'defaults']);
  if (isMap(defaults)) {
    const binds = absoluteBinds(defaults.get('binds', true), labDir);
    if (binds) defaults.set('binds', binds);
  }
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.clab.yml`);
  writeFileSync(file, doc.toString({ lineWidth: 0 }));
  return file;
}

/** Private copies of several lab files: original (absolute) → copy. */
export function privateLabCopies(
  labFiles: Iterable<string>,
  prefix: string,
  dir?: string,
): Record<string, string> {
  const copies: Record<string, string> = {};
  for (const file of new Set(labFiles)) copies[resolve(file)] = privateLabCopy(resolve(file), prefix, dir);
  return copies;
}
