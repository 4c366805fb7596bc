/**
 * The compatibility corpus (labs/compat/): topology files written the way public containerlab labs
 * use FRR-derived images, hosts, published ports, env files, shared network namespaces, staged
 * start-up, host and mgmt-net links. Each is deployed once, checked as its README would (BGP
 * sessions through vtysh JSON, pings, HTTP through the published port) and destroyed with nothing
 * left. Two deployments in all, to keep CI time small.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ipJson } from '../../kernel/netns.ts';
import { isAlive } from '../../kernel/procs.ts';
import { loadTopology } from '../../topology/load.ts';
import type { Topology } from '../../topology/types.ts';
import { run } from '../../util/exec.ts';
import { waitFor } from '../../util/poll.ts';
import { copyLab, leftovers, removeDir, TEST_LAB_PREFIX, uniqueLabName } from './fixtures/labs.ts';
import { NetnsRuntime } from './index.ts';

const runtime = new NetnsRuntime();
const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
});

async function deployCopy(file: string, tag: string, env: Record<string, string> = {}): Promise<Topology> {
  const copy = copyLab(file, uniqueLabName(tag));
  const topology = await loadTopology(copy.file, {
    env: { ...(process.env as Record<string, string>), ...env },
  });
  cleanups.push(async () => {
    await runtime.destroy(topology);
    removeDir(copy.dir);
  });
  return topology;
}

/** A TCP port nobody listens on right now (the kernel picks it). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

describe('compatibility corpus: labs written for containerlab run on the netns runtime', () => {
  it('an FRR-derived image with /etc/frr binds runs FRR and reaches BGP Established', async () => {
    const topology = await deployCopy('compat/frr-derived.clab.yml', 'frr');
    const lab = await runtime.deploy(topology);
    expect(lab.state.nodes.r1?.profile).toBe('frr');
    expect(lab.state.nodes.r1?.runs).toMatch(/^FRR \d+\.\d+/);
    expect((await runtime.inspect(topology)).find((e) => e.name.endsWith('-r1'))?.runs).toMatch(/^FRR /);

    const peers = await waitFor(
      async () => {
        const out = await lab.node('r1').exec(['vtysh', '-c', 'show bgp summary json']);
        return (
          JSON.parse(out.stdout || '{}') as { ipv4Unicast?: { peers?: Record<string, { state: string }> } }
        ).ipv4Unicast?.peers;
      },
      (p) => p?.['203.0.113.2']?.state === 'Established',
      { timeoutMs: 30_000, intervalMs: 250, what: 'r1 BGP session to r2 to be Established' },
    );
    expect(peers?.['203.0.113.2']?.state).toBe('Established');
    await waitFor(
      () => lab.node('h1').exec(['ping', '-c', '1', '-W', '1', '198.51.100.10']),
      (r) => r.exitCode === 0,
      { timeoutMs: 20_000, intervalMs: 250, what: 'h1 to ping h2 across r1 and r2' },
    );

    // inspect tells a running lab from a partially deployed one (here: a node that stopped).
    expect(await runtime.status(topology)).toEqual({ status: 'running', detail: 'running (4 of 4 nodes)' });
    process.kill(lab.node('h2').pid, 'SIGKILL');
    await waitFor(
      () => runtime.status(topology),
      (s) => s.status === 'partial',
      { timeoutMs: 5_000, intervalMs: 50, what: 'the lab to show as partially deployed' },
    );
    expect((await runtime.status(topology)).detail).toBe(
      'partially deployed: nodes have stopped (3 of 4 nodes running)',
    );

    await runtime.destroy(topology);
    expect(await leftovers(topology)).toEqual([]);
    expect(await runtime.status(topology)).toEqual({ status: 'absent', detail: 'not deployed' });
  });

  it('ports, env-files, network-mode container:, stages, startup-delay, host and mgmt-net links, kind host', async () => {
    const suffix = process.pid.toString(36);
    const webPort = await freePort();
    const hostIf = `${TEST_LAB_PREFIX}h${suffix}`.slice(0, 15);
    const mgmtIf = `${TEST_LAB_PREFIX}m${suffix}`.slice(0, 15);
    const topology = await deployCopy('compat/services.clab.yml', 'svc', {
      COMPAT_WEB_PORT: String(webPort),
      COMPAT_HOST_IF: hostIf,
      COMPAT_MGMT_IF: mgmtIf,
    });
    const lab = await runtime.deploy(topology);
    const nodes = lab.state.nodes;

    // ports: the host port (127.0.0.1) reaches web's management address.
    const page = await waitFor(
      () => run('curl', ['-s', '--max-time', '2', `http://127.0.0.1:${webPort}/`]),
      (r) => r.stdout.includes('compat-services web page'),
      { timeoutMs: 15_000, intervalMs: 200, what: `web through the published port ${webPort}` },
    );
    expect(page.stdout).toContain('compat-services web page');
    // env-files: variables from the file, `env` beside them; the web server took its port from it.
    const env = await lab.node('web').exec(['printenv', 'GREETING', 'ROLE', 'WEB_PORT']);
    expect(env.stdout.split('\n')).toEqual(['hello from an env file', 'web', '8080']);
    // network-mode container:web — metrics shares web's namespace: its port answers at web's addresses.
    expect(nodes.metrics?.netns).toBe(nodes.web?.netns);
    const sidecar = await waitFor(
      () => lab.node('client').exec(['curl', '-s', '--max-time', '2', 'http://192.0.2.1:9100/metrics']),
      (r) => r.stdout.includes('node_up 1'),
      { timeoutMs: 15_000, intervalMs: 200, what: 'the metrics sidecar at web’s address' },
    );
    expect(sidecar.stdout).toContain('node_up 1');
    // stages: client was created only after web was configured (web also had a startup-delay of 1 s).
    expect(Date.parse(nodes.client!.startedAt!)).toBeGreaterThan(Date.parse(nodes.web!.startedAt!));
    // stage exec: create-links on-enter ran inside client once its links existed.
    const stagesLog = readFileSync(join(topology.labDir, 'client', 'stages.log'), 'utf8');
    expect(stagesLog).toMatch(/## create-links on-enter \(container\)/);
    expect(stagesLog).toMatch(/^eth1$/m);
    expect(stagesLog).toMatch(/^eth9$/m);
    // host link + kind: host — the host pings client over its host-side interface.
    const hostPing = await run('ping', ['-c', '1', '-W', '2', '-I', hostIf, '203.0.113.254']);
    expect(hostPing.exitCode, hostPing.stdout + hostPing.stderr).toBe(0);
    // mgmt-net link: client's eth9 is a port of the management bridge.
    const mgmtSide = await ipJson<Array<{ ifname: string; master?: string }>>(lab.mgmtNetns, [
      'link',
      'show',
      mgmtIf,
    ]);
    expect(mgmtSide[0]?.master).toBe(lab.state.mgmt.bridge);

    const forwarders = lab.state.forwarders ?? [];
    expect(forwarders).toHaveLength(1);
    await runtime.destroy(topology);
    expect(await leftovers(topology)).toEqual([]);
    expect(forwarders.every((f) => !isAlive(f.pid, f.startTime))).toBe(true);
    const hostLinks = await ipJson<Array<{ ifname: string }>>(undefined, ['link', 'show']);
    expect(hostLinks.map((l) => l.ifname)).not.toContain(hostIf);
    const closed = await run('curl', ['-s', '--max-time', '1', `http://127.0.0.1:${webPort}/`]);
    expect(closed.exitCode).not.toBe(0);
  });
});
