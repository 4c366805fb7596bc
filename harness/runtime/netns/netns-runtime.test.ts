/**
 * The netns runtime on the real kernel with labs/frr-basic.clab.yml, unchanged but for its name:
 * BGP Established (vtysh JSON), host-to-host ping across the routers, exec on every node, hostnames,
 * redeploy refused, attach/inspect from the state, and destroy leaving nothing.
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTopology } from '../../topology/load.ts';
import type { Topology } from '../../topology/types.ts';
import { UserError } from '../../util/errors.ts';
import { waitFor } from '../../util/poll.ts';
import { copyLab, leftovers, removeDir, uniqueLabName } from './fixtures/labs.ts';
import { type NetnsLab, NetnsRuntime } from './index.ts';

interface BgpSummary {
  ipv4Unicast?: { peers: Record<string, { state: string; pfxRcd?: number }> };
}

const runtime = new NetnsRuntime();
let copy: { file: string; dir: string };
let topology: Topology;
let lab: NetnsLab;

beforeAll(async () => {
  copy = copyLab('frr-basic.clab.yml', uniqueLabName('basic'));
  topology = await loadTopology(copy.file);
  lab = await runtime.deploy(topology);
});

afterAll(async () => {
  if (topology) await runtime.destroy(topology).catch(() => {});
  if (copy) removeDir(copy.dir);
});

describe('netns runtime: labs/frr-basic.clab.yml', () => {
  it('runs every node with its own hostname, and exec works on every node', async () => {
    expect([...lab.nodes.keys()].sort()).toEqual(['h1', 'h2', 'r1', 'r2']);
    for (const [name, node] of lab.nodes) {
      const result = await node.exec(['hostname']);
      expect(result.exitCode, `exec on ${name}: ${result.stderr}`).toBe(0);
      expect(result.stdout.trim()).toBe(name);
      // Forwarding is on inside the node (and only there).
      const fwd = await node.exec(['cat', '/proc/sys/net/ipv4/ip_forward']);
      expect(fwd.stdout.trim()).toBe('1');
    }
  });

  it('brings both eBGP sessions to Established', async () => {
    for (const router of ['r1', 'r2']) {
      const summary = await waitFor(
        async () =>
          JSON.parse(
            (await lab.node(router).exec(['vtysh', '-c', 'show bgp summary json'])).stdout,
          ) as BgpSummary,
        (s) => {
          const peers = Object.values(s.ipv4Unicast?.peers ?? {});
          return peers.length === 1 && peers.every((p) => p.state === 'Established' && (p.pfxRcd ?? 0) >= 1);
        },
        {
          timeoutMs: 45_000,
          intervalMs: 250,
          what: `BGP on ${router} to be Established with a prefix received`,
        },
      );
      expect(Object.keys(summary.ipv4Unicast!.peers)).toHaveLength(1);
    }
  });

  it('forwards host-to-host traffic across the routers', async () => {
    const result = await waitFor(
      () => lab.node('h1').exec(['ping', '-c', '1', '-W', '1', '198.51.100.10']),
      (r) => r.exitCode === 0,
      { timeoutMs: 45_000, intervalMs: 250, what: 'h1 to ping h2 across r1 and r2' },
    );
    expect(result.stdout).toMatch(/1 received/);
  });

  it('keeps each exec line output in the lab directory', async () => {
    const { readFileSync } = await import('node:fs');
    const log = readFileSync(`${topology.labDir}/h1/exec.log`, 'utf8');
    expect(log).toContain('### exec 1: ip addr add 192.0.2.10/24 dev eth1');
    expect(log).toContain('### exit 0');
  });

  it('gives nodes management addresses reachable from the mgmt namespace', async () => {
    const r1 = lab.node('r1');
    expect(r1.mgmtIPv4).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    const { run } = await import('../../util/exec.ts');
    const ping = await run('ip', [
      'netns',
      'exec',
      lab.mgmtNetns,
      'ping',
      '-c',
      '1',
      '-W',
      '1',
      r1.mgmtIPv4!,
    ]);
    expect(ping.exitCode).toBe(0);
  });

  it('keeps namespaces created inside a node inside it, as a container does', async () => {
    const inner = `${topology.name}-inner`;
    const added = await lab.node('h1').exec(['ip', 'netns', 'add', inner]);
    expect(added.exitCode, added.stderr).toBe(0);
    expect((await lab.node('h1').exec(['ip', 'netns', 'list'])).stdout).toContain(inner);
    // Neither the host nor another node sees it; destroy (below) takes it away with the node.
    expect(existsSync(`/run/netns/${inner}`)).toBe(false);
    expect((await lab.node('h2').exec(['ip', 'netns', 'list'])).stdout).not.toContain(inner);
  });

  it('refuses a second deploy of the running lab with a UserError', async () => {
    await expect(runtime.deploy(topology)).rejects.toThrow(UserError);
    await expect(runtime.deploy(topology)).rejects.toThrow(/already deployed/);
  });

  it('attaches from the lab state and inspects in containerlab shape', async () => {
    const attached = await runtime.attach(topology);
    expect(attached).toBeDefined();
    expect((await attached!.node('h2').exec(['hostname'])).stdout.trim()).toBe('h2');
    const entries = await runtime.inspect(topology);
    expect(entries.map((e) => e.name)).toEqual(
      ['h1', 'h2', 'r1', 'r2'].map((n) => `clab-${topology.name}-${n}`),
    );
    for (const e of entries) {
      expect(e).toMatchObject({ lab_name: topology.name, state: 'running', absLabPath: topology.file });
      expect(e.ipv4_address).toMatch(/\/24$/);
    }
    expect((await runtime.inspectAll())[topology.name]).toHaveLength(4);
  });

  it('destroys everything: namespaces, processes, mounts, veths, state', async () => {
    await runtime.destroy(topology);
    expect(await leftovers(topology)).toEqual([]);
    expect(await runtime.attach(topology)).toBeUndefined();
    // destroy again is a no-op
    await runtime.destroy(topology);
  });
});
