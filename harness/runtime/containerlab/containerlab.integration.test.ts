/**
 * Live containerlab runtime test: deploys transcripts/vlan.clab.yml with the real containerlab and
 * Docker. It runs only where both exist (`containerlab version` and `docker info` succeed); anywhere
 * else it is skipped and the skip reason is in the test name.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadTopology } from '../../topology/load.ts';
import { run } from '../../util/exec.ts';
import { ContainerlabRuntime } from './index.ts';

const topologyFile = join(dirname(fileURLToPath(import.meta.url)), 'transcripts', 'vlan.clab.yml');

async function unavailableReason(): Promise<string | undefined> {
  if ((await run('containerlab', ['version'])).exitCode !== 0) return 'containerlab is not installed';
  if ((await run('docker', ['info'])).exitCode !== 0) return 'no Docker engine (docker info fails)';
  return undefined;
}

const reason = await unavailableReason();
const title = reason
  ? `containerlab runtime, live (skipped: ${reason}; the recorded-transcript tests cover it)`
  : 'containerlab runtime, live';

describe.skipIf(reason !== undefined)(title, () => {
  it('deploys, inspects, execs into and destroys a two-node lab', async () => {
    const topology = await loadTopology(topologyFile);
    const runtime = new ContainerlabRuntime({ cleanup: true });
    try {
      const lab = await runtime.deploy(topology, { reconfigure: true });
      expect([...lab.nodes.keys()].sort()).toEqual(['client1', 'client2']);
      const entries = await runtime.inspect(topology);
      expect(entries.every((e) => e.state === 'running')).toBe(true);
      const client1 = lab.node('client1');
      expect(client1.pid).toBeGreaterThan(0);
      const result = await client1.exec(['ip', 'link', 'show', 'eth1']);
      expect(result.exitCode).toBe(0);
    } finally {
      await runtime.destroy(topology);
    }
    expect(await runtime.inspect(topology)).toEqual([]);
  });
});
