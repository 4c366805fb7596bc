/** Private lab copies (--lab-prefix): a name of their own everywhere, binds that still resolve. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadScenario } from '../scenario/parse.ts';
import { UserError } from '../util/errors.ts';
import { loadTopology } from './load.ts';
import { privateLabCopies, privateLabCopy, privateLabName } from './private-copy.ts';

const repo = resolve(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'otwin-private-copy-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('private lab copies', () => {
  it('names the copy after the prefix', () => {
    expect(privateLabName('otwin-default', 'oh35')).toBe('oh35-default');
    expect(privateLabName('frr-basic', 'ci')).toBe('ci-frr-basic');
  });

  it('renames the lab everywhere in the file and keeps the binds pointing at the repository', async () => {
    const file = privateLabCopy(join(repo, 'labs', 'default.clab.yml'), 'oh35', dir);
    const text = readFileSync(file, 'utf8');
    // Outside comments, nothing of the original name is left: namespaces, sockets, VM prefixes.
    const code = text
      .split('\n')
      .filter((l) => !l.trimStart().startsWith('#'))
      .join('\n');
    expect(code).not.toMatch(/otwin-default/);
    expect(code).toContain('--prefix oh35-default-');
    expect(code).toContain('labs/clab-oh35-default/directory/api.sock');
    const topology = await loadTopology(file);
    expect(topology.name).toBe('oh35-default');
    expect(topology.labDir).toBe(join(dir, 'clab-oh35-default'));
    const pe = topology.nodes.find((n) => n.name === 'pe')!;
    expect(pe.binds.map((b) => b.source)).toContain(join(repo, 'labs', 'default', 'pe', 'frr.conf'));
  });

  it('maps every lab the scenarios name, and scenarios load onto the copies', () => {
    const copies = privateLabCopies(
      [join(repo, 'labs', 'default.clab.yml'), join(repo, 'labs', 'fed-gr.clab.yml')],
      'oh35',
      dir,
    );
    expect(Object.values(copies).sort()).toEqual([
      join(dir, 'oh35-default.clab.yml'),
      join(dir, 'oh35-fed-gr.clab.yml'),
    ]);
    const scenario = loadScenario(join(repo, 'scenarios', 'l2', 'l2-1-matrix.yml'), { labs: copies });
    expect(scenario.lab).toBe(join(dir, 'oh35-default.clab.yml'));
  });

  it('refuses a prefix that would not make a private name', () => {
    for (const bad of ['', 'otwin', '9x', 'a b', 'averyveryverylongprefix'])
      expect(() => privateLabCopy(join(repo, 'labs', 'default.clab.yml'), bad, dir)).toThrow(UserError);
  });
});
