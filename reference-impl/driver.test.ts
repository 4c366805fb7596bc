/** The reference driver reads a lab's conventions from its roles' command lines (no deployment). */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadTopology } from '../harness/topology/load.ts';
import { labConventions, nsPrefixFor } from './driver.ts';

const repo = join(import.meta.dirname, '..');

describe('reference driver: lab conventions', () => {
  it('reads the directory socket, token, agent zones and prefixes of the default lab', async () => {
    const c = labConventions(await loadTopology(join(repo, 'labs', 'default.clab.yml')));
    expect(c.socket).toBe(join(repo, 'labs', 'clab-otwin-default', 'directory', 'api.sock'));
    // The token is read from the lab's 0600 token file when first needed (the roles create it).
    expect(c.tokenFile).toBe(join(repo, 'labs', 'clab-otwin-default', 'secrets', 'directory.token'));
    if (!process.env.OTF_DIRECTORY_TOKEN) expect(typeof c.token).toBe('function');
    expect(Object.fromEntries(c.agents)).toEqual({
      hv1: { zone: 'z1', prefix: 'otwin-default-' },
      hv2: { zone: 'z1', prefix: 'otwin-default-' },
      hv3: { zone: 'z2', prefix: 'otwin-default-' },
      hv4: { zone: 'z2', prefix: 'otwin-default-' },
    });
  });

  it('gives the reference-2az lab the names its own tests use', async () => {
    const c = labConventions(await loadTopology(join(repo, 'labs', 'reference-2az.clab.yml')));
    expect(c.socket).toBe(join(repo, 'labs', 'clab-otf-2az', 'directory', 'api.sock'));
    expect(c.agents.get('hv3')).toEqual({ zone: 'z2', prefix: 'otf-2az-' });
    expect(nsPrefixFor('otf-2az')).toBe('otf-2az-');
  });
});
