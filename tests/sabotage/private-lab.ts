/**
 * A private copy of the default lab (labs/default.clab.yml) for the sabotage tests: a unique lab name
 * (prefix `otj-`), so it never collides with the shared `otwin-default` deployment or another test
 * file; binds made absolute (the copy lives in a temporary folder); and TEST-ONLY sabotage switches
 * (reference-impl/sabotage.ts) set per node through the topology's `env:` (OTWIN_SABOTAGE).
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { isMap, parseDocument, type YAMLMap } from 'yaml';
import type { SabotageSetting } from '../../reference-impl/sabotage.ts';

export const REPO = resolve(import.meta.dirname, '..', '..');
export const DEFAULT_LAB = join(REPO, 'labs', 'default.clab.yml');

export interface PrivateLab {
  name: string;
  /** The topology file of the copy. */
  file: string;
  /** A scratch folder (reports go here too). */
  dir: string;
  /** Removes the scratch folder and the lab's runtime folder under labs/ (the lab must be destroyed). */
  remove(): void;
}

/**
 * Writes the copy. `sabotage` maps node names to the switches their roles get; nodes not named get
 * none. `faults` maps node names to commands appended to their `exec:` (a fault the test injects into
 * the node at deploy time, e.g. an nftables rule). The lab name replaces `otwin-default` everywhere
 * (namespace prefixes, directory socket path); its prefix is `otj`, or OTWIN_TEST_LAB_PREFIX (so
 * parallel checkouts on one machine never share a lab name).
 */
export function privateLab(
  tag: string,
  sabotage: Record<string, SabotageSetting[]>,
  faults: Record<string, string[]> = {},
): PrivateLab {
  const source = readFileSync(DEFAULT_LAB, 'utf8');
  const original = /^name:\s*(\S+)/m.exec(source)?.[1];
  if (!original) throw new Error(`${DEFAULT_LAB}: no lab name`);
  const name = `${process.env.OTWIN_TEST_LAB_PREFIX || 'otj'}-${tag}-${process.pid.toString(36)}`;
  const dir = mkdtempSync(join(tmpdir(), `${name}-`));
  const doc = parseDocument(source.split(original).join(name));
  const nodes = doc.getIn(['topology', 'nodes']) as YAMLMap<unknown, unknown>;
  const labDir = dirname(DEFAULT_LAB);
  for (const pair of nodes.items) {
    const node = pair.value;
    if (!isMap(node)) continue;
    const binds = node.get('binds', true);
    if (binds) {
      const list = (doc.getIn(['topology', 'nodes', String(pair.key), 'binds']) as { toJSON(): string[] })
        .toJSON()
        .map((b) => {
          const [src, ...rest] = b.split(':');
          return [isAbsolute(src!) ? src : resolve(labDir, src!), ...rest].join(':');
        });
      node.set('binds', list);
    }
    const switches = sabotage[String(pair.key)];
    if (switches?.length) node.set('env', { OTWIN_SABOTAGE: switches.join(',') });
    const extra = faults[String(pair.key)];
    if (extra?.length) {
      const exec = node.get('exec', true) as { toJSON(): string[] } | undefined;
      node.set('exec', [...(exec?.toJSON() ?? []), ...extra]);
    }
  }
  for (const node of [...Object.keys(sabotage), ...Object.keys(faults)])
    if (!nodes.has(node)) throw new Error(`sabotage for unknown node ${node} of ${DEFAULT_LAB}`);
  const file = join(dir, `${name}.clab.yml`);
  writeFileSync(file, doc.toString({ lineWidth: 0 }));
  return {
    name,
    file,
    dir,
    remove() {
      // OTWIN_TEST_KEEP_REPORTS=1 keeps the scratch folder (run records, Allure results) for a look.
      if (process.env.OTWIN_TEST_KEEP_REPORTS) console.error(`sabotage test: kept ${dir}`);
      else rmSync(dir, { recursive: true, force: true });
      rmSync(join(REPO, 'labs', `clab-${name}`), { recursive: true, force: true });
      // `ip netns add` by an agent inside a node leaves an empty placeholder in the host's /run/netns.
      for (const entry of existsSync('/run/netns') ? readdirSync('/run/netns') : [])
        if (entry.startsWith(`${name}-`)) rmSync(join('/run/netns', entry), { force: true });
    },
  };
}
