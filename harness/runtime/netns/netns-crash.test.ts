/**
 * Crash and isolation: SIGKILL the deploying process mid-deploy, then destroy leaves nothing; two
 * labs from the same file (two folders, two names) run at once without interfering.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadTopology } from '../../topology/load.ts';
import type { Topology } from '../../topology/types.ts';
import { waitFor } from '../../util/poll.ts';
import { copyLab, leftovers, REPO, removeDir, uniqueLabName, writeLab } from './fixtures/labs.ts';
import { NetnsRuntime } from './index.ts';
import type { LabState } from './state.ts';

const runtime = new NetnsRuntime();
const cleanups: Array<() => Promise<void>> = [];

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
});

function manyHostsLab(name: string, hosts: number): string {
  const nodes = Array.from(
    { length: hosts },
    (_, i) =>
      `    h${i}:\n      kind: linux\n      image: alpine\n      exec:\n        - sleep 0.2\n        - ip addr add 192.0.2.${i + 1}/24 dev eth1`,
  );
  const links = Array.from({ length: hosts }, (_, i) => `    - endpoints: ["h${i}:eth1", "sw:eth${i + 1}"]`);
  return `name: ${name}\ntopology:\n  nodes:\n    sw:\n      kind: bridge\n${nodes.join('\n')}\n  links:\n${links.join('\n')}\n`;
}

describe('netns runtime: crash and isolation', () => {
  it('destroy after SIGKILL of the harness mid-deploy leaves nothing', async () => {
    const lab = writeLab(manyHostsLab(uniqueLabName('crash'), 8));
    const topology = await loadTopology(lab.file);
    cleanups.push(async () => {
      await runtime.destroy(topology);
      removeDir(lab.dir);
    });
    const child = spawn(
      'node',
      ['--import', 'tsx', join(import.meta.dirname, 'fixtures/deploy-child.ts'), lab.file],
      {
        cwd: REPO,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    const stateFile = join(topology.labDir, 'state.json');
    // Kill once some nodes run but before the deploy finished.
    await waitFor(
      () => {
        if (!existsSync(stateFile)) return 0;
        const state = JSON.parse(readFileSync(stateFile, 'utf8')) as LabState;
        return Object.values(state.nodes).filter((n) => n.pid !== undefined).length;
      },
      (started) => started >= 2,
      { timeoutMs: 30_000, intervalMs: 5, what: `two nodes started by the child (output: ${output})` },
    );
    child.kill('SIGKILL');
    await exited;
    expect(output).not.toContain('deployed\n');
    const state = JSON.parse(readFileSync(stateFile, 'utf8')) as LabState;
    expect(state.status).toBe('deploying');
    expect(await leftovers(topology)).not.toEqual([]);

    await runtime.destroy(topology);
    expect(await leftovers(topology)).toEqual([]);
  });

  it('runs two labs from the same file at once without interference', async () => {
    const copies = [uniqueLabName('twin'), uniqueLabName('twin')].map((name) =>
      copyLab('frr-basic.clab.yml', name),
    );
    const topologies: Topology[] = [];
    for (const c of copies) topologies.push(await loadTopology(c.file));
    cleanups.push(async () => {
      for (const t of topologies) await runtime.destroy(t);
      for (const c of copies) removeDir(c.dir);
    });
    const labs = await Promise.all(topologies.map((t) => runtime.deploy(t)));
    const pingBoth = async (): Promise<void> => {
      for (const lab of labs) {
        await waitFor(
          () => lab.node('h1').exec(['ping', '-c', '1', '-W', '1', '198.51.100.10']),
          (r) => r.exitCode === 0,
          { timeoutMs: 45_000, intervalMs: 250, what: `h1 to ping h2 in ${lab.state.labName}` },
        );
      }
    };
    await pingBoth();
    // Same node names, same addresses, separate namespaces and management subnets per lab.
    expect(labs[0]!.node('r1').netnsName).not.toBe(labs[1]!.node('r1').netnsName);
    // Destroying one leaves the other running.
    await runtime.destroy(topologies[0]!);
    expect(await leftovers(topologies[0]!)).toEqual([]);
    const other = labs[1]!;
    const r = await waitFor(
      () => other.node('h1').exec(['ping', '-c', '1', '-W', '1', '198.51.100.10']),
      (res) => res.exitCode === 0,
      { timeoutMs: 20_000, intervalMs: 250, what: 'the second lab to keep forwarding' },
    );
    expect(r.exitCode).toBe(0);
    await runtime.destroy(topologies[1]!);
    expect(await leftovers(topologies[1]!)).toEqual([]);
  });
});
