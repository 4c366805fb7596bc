/** The reference driver reads a lab's conventions from its roles' command lines (no deployment). */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadTopology } from '../harness/topology/load.ts';
import { otwinEnv } from '../harness/util/env.ts';
import { HarnessError } from '../harness/util/errors.ts';
import { DirectoryClient } from './directory/client.ts';
import { DirectoryServer } from './directory/server.ts';
import { createOrConfirm, labConventions, nsPrefixFor } from './driver.ts';

const repo = join(import.meta.dirname, '..');

describe('reference driver: lab conventions', () => {
  it('reads the directory socket, token, agent zones and prefixes of the default lab', async () => {
    const c = labConventions(await loadTopology(join(repo, 'labs', 'default.clab.yml')));
    expect(c.socket).toBe(join(repo, 'labs', 'clab-otwin-default', 'directory', 'api.sock'));
    // The token is read from the lab's 0600 token file when first needed (the roles create it).
    expect(c.tokenFile).toBe(join(repo, 'labs', 'clab-otwin-default', 'secrets', 'directory.token'));
    if (!otwinEnv('DIRECTORY_TOKEN')) expect(typeof c.token).toBe('function');
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

describe('reference driver: already exists', () => {
  it('is success only when the existing object equals the intent', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'otwin-driver-'));
    const server = new DirectoryServer({
      dbPath: join(dir, 'db.sqlite'),
      token: 't',
      host: '127.0.0.1',
      port: 0,
    });
    const { port } = await server.listen();
    const client = new DirectoryClient({ url: `http://127.0.0.1:${port}`, token: 't' });
    try {
      await client.create('zones', { id: 'z1', name: 'z1' });
      const hv = { id: 'hv1', name: 'hv1', zone: 'z1', vtep: '10.0.0.1' };
      expect(await createOrConfirm(client, 'hypervisors', hv)).toBe(true);
      expect(await createOrConfirm(client, 'hypervisors', hv)).toBe(false);
      const moved = createOrConfirm(client, 'hypervisors', { ...hv, vtep: '10.0.0.9' });
      await expect(moved).rejects.toThrow(HarnessError);
      await expect(moved).rejects.toThrow(
        /hypervisors\/hv1 already exists and differs from the intent \(vtep: "10.0.0.1", intent "10.0.0.9"\)/,
      );
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
