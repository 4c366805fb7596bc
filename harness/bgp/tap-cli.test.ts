/**
 * `otwin bgp tap` end to end on the netns runtime: deploy fixtures/tap-lab.clab.yml (FRR RR + FRR VTEP
 * leaf + host), run the CLI against the RR, and read FRR's EVPN routes from its JSON lines.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getRuntime } from '../runtime/index.ts';
import type { DeployedLab, Runtime } from '../runtime/runtime.ts';
import { loadTopology } from '../topology/load.ts';
import type { Topology } from '../topology/types.ts';
import { waitFor } from '../util/poll.ts';
import type { TranscriptEntry } from './tap.ts';

// A copy under a name of this process (with its config folder): namespaces are host-wide, and a
// `reconfigure` deploy of the shipped name would tear down another checkout's run of this test.
const fixtures = new URL('./fixtures/', import.meta.url).pathname;
const copyDir = mkdtempSync(join(tmpdir(), 'otd-tap-'));
const labName = `otd-tap-${process.pid.toString(36)}`;
cpSync(join(fixtures, 'tap-lab'), join(copyDir, 'tap-lab'), { recursive: true });
const file = join(copyDir, 'tap-lab.clab.yml');
writeFileSync(file, readFileSync(join(fixtures, 'tap-lab.clab.yml'), 'utf8').replaceAll('otd-tap', labName));
const otwin = new URL('../../bin/otwin.js', import.meta.url).pathname;
let runtime: Runtime;
let topology: Topology;
let lab: DeployedLab;

beforeAll(async () => {
  runtime = await getRuntime('netns');
  topology = await loadTopology(file);
  lab = await runtime.deploy(topology, { reconfigure: true });
});

afterAll(async () => {
  if (topology) await runtime?.destroy(topology, { cleanup: true });
  rmSync(copyDir, { recursive: true, force: true });
});

describe('otwin bgp tap', () => {
  it("prints the RR's EVPN routes as JSON lines and cleans up its loopback addresses", async () => {
    // h1 talks so the leaf learns its MAC (the leaf's bridge has an IP: MAC/IP route too).
    await lab.node('h1').exec(['ping', '-c', '1', '-W', '1', '198.51.100.254']);
    const child = execa(process.execPath, [otwin, 'bgp', 'tap', '-t', file, '--node', 'rr'], {
      reject: false,
      buffer: false,
      stdin: 'ignore',
    });
    const entries: TranscriptEntry[] = [];
    child.stdout?.on('data', (d: Buffer) => {
      for (const line of d.toString().split('\n'))
        if (line.trim()) entries.push(JSON.parse(line) as TranscriptEntry);
    });
    try {
      await waitFor(
        () => entries,
        (es) =>
          es.some((e) => e.kind === 'established') &&
          es.some((e) =>
            e.routes?.some(
              (r) => r.afi === 'l2vpn-evpn' && r.type === 2 && 'mac' in r && r.mac === '02:00:5e:00:01:01',
            ),
          ) &&
          es.some((e) => e.routes?.some((r) => r.afi === 'l2vpn-evpn' && r.type === 3)),
        { timeoutMs: 30_000, intervalMs: 100, what: 'type-2 and type-3 routes from the CLI' },
      );
    } finally {
      child.kill('SIGINT');
      await child;
    }
    const t3 = entries.find((e) => e.routes?.some((r) => r.afi === 'l2vpn-evpn' && r.type === 3))!;
    expect(t3.attrs?.pmsiTunnel).toMatchObject({ tunnelType: 6, label: 100, tunnelId: '10.0.1.2' });
    expect(t3.peer).toBe('10.99.0.1');
    const lo = await lab.node('rr').exec(['ip', '-j', 'addr', 'show', 'dev', 'lo']);
    expect(lo.stdout).not.toContain('10.99.0.');
  });
});
