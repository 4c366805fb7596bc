/**
 * End to end on a small FRR EVPN lab (route reflector, two VTEP leaves, two hosts): `launch` runs
 * scenarios on vitest in a child process exactly as `otwin run` does, into a private reports folder.
 * One run holds a passing scenario, a failing expectation, a lab that cannot deploy, a scenario that
 * cannot run here, and a chaos scenario; a second run replays the chaos record.
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectFeatures, KERNEL_FEATURES, TOOLS } from '../doctor/features.ts';
import { netnsList } from '../kernel/netns.ts';
import { CATALOGUE } from './catalogue.ts';
import { SMALL_EVPN_INTENT, smallEvpnLab } from './fixtures/small-evpn-lab.ts';
import { diffVerdicts, readRecord } from './record.ts';
import { exitCodeOf, type LaunchResult, launch, renderSummary } from './suite/launch.ts';

// A feature this machine lacks, for the scenario that must be skipped with the reason (an unknown
// feature name is a validation error, so it has to be a real one).
const features = await detectFeatures();
const lacking =
  KERNEL_FEATURES.find((f) => !features.kernel[f].ok) ?? TOOLS.find((t) => !features.tools[t].ok);
if (!lacking)
  throw new Error('this machine has every feature otwin doctor knows: no scenario can be skipped');
const tag = `${process.pid.toString(36)}`;
const LAB_NAME = `ote-e2e-${tag}`;
const dir = mkdtempSync(join(tmpdir(), 'ote-e2e-'));
const reports = join(dir, 'reports');

function write(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

const lab = write('small.clab.yml', smallEvpnLab(LAB_NAME, '172.20.54.0/24'));

const brokenLab = write(
  'broken.clab.yml',
  `name: ote-brk-${tag}
mgmt:
  network: ote-brk-${tag}-mgmt
  ipv4-subnet: 172.20.56.0/24
topology:
  nodes:
    h1:
      kind: linux
      exec: [ip link set ote-missing0 up]
    leaf1:
      kind: linux
  links:
    - endpoints: ["leaf1:eth2", "h1:eth1"]
    - endpoints: ["leaf1:eth1", "h1:eth2"]
`,
);

const intent = SMALL_EVPN_INTENT;

const files = [
  write(
    'pass.yml',
    `name: e2e pass
conformance: [L2-1]
tags: [e2e]
severity: critical
lab: ${lab}
${intent}
timeline:
  - provision: all
  - name: both hosts reach each other
    expect: { within: 20s, matrix: { probes: [icmp, udp/5000] } }
  - name: one type-3 route per VTEP
    expect:
      within: 15s
      conformance: [EVPN-1]
      bgp: { node: rr, routes: [{ type: 3, count: 2, match: { vni: 100 }, fields: { pmsiTunnelType: 6, label: 100 } }] }
`,
  ),
  write(
    'fail.yml',
    `name: e2e failing expectation
conformance: [L2-1]
lab: ${lab}
${intent}
timeline:
  - name: matrix with a deliberately wrong cell
    expect:
      matrix:
        probes: [icmp]
        overrides: [{ from: h1, to: h2, expect: drop, reason: deliberately wrong for the test }]
`,
  ),
  write(
    'chaos.yml',
    `name: e2e chaos
conformance: [AZ-3]
lab: ${lab}
seed: 11
${intent}
timeline:
  - provision: all
  - chaos:
      window: 3s
      count: 3
      duration: [300ms, 900ms]
      faults:
        - { kind: link-down, link: leaf2:eth2 }
        - { kind: packet-loss, link: leaf1:eth1, percent: 60 }
  - name: whole again after the chaos
    expect: { within: 30s, matrix: { probes: [icmp] } }
`,
  ),
  write(
    'faults.yml',
    `name: e2e fault kinds
conformance: [AZ-3]
lab: ${lab}
${intent}
timeline:
  - provision: all
  - fault: { kind: link-flap, link: leaf2:eth2, count: 2, interval: 200ms }
  - fault: { kind: node-pause, node: leaf2, duration: 500ms }
  - fault: { kind: bgp-clear, node: rr }
  - fault: { kind: partition, a: [leaf1], b: [rr], duration: 4s }
  - name: whole after flap, pause, clear and partition
    expect: { within: 15s, matrix: {} }
  - fault: { kind: node-kill, node: leaf2 }
  - name: h2 unreachable while its hypervisor is down
    expect: { matrix: {} }
  - fault: { kind: node-restart, node: leaf2 }
  - fault: { kind: process-restart, node: leaf1, role: bgpd, supervisor: keep }
  - name: whole after leaf2 restarted and leaf1's bgpd restarted
    expect: { within: 20s, matrix: {} }
`,
  ),
  write(
    'skip.yml',
    `name: e2e cannot run here
conformance: [L3-4]
lab: ${lab}
requires: [${lacking}]
${intent}
timeline:
  - expect: { matrix: {} }
`,
  ),
  write(
    'broken.yml',
    `name: e2e lab fails
conformance: [L2-1]
lab: ${brokenLab}
intent:
  tenants: [{ name: acme }]
  domains: [{ name: acme-l2, tenant: acme }]
  subnets: [{ name: vni100, domain: acme-l2, cidr: 192.0.2.0/24, vni: 100 }]
  vms: [{ name: h1, subnet: vni100, hypervisor: leaf1, port: eth2, ip: 192.0.2.11 }]
timeline:
  - provision: all
  - expect: { matrix: {} }
`,
  ),
];

type AllureResult = {
  name: string;
  status: string;
  statusDetails?: { message?: string };
  labels: Array<{ name: string; value: string }>;
  parameters: Array<{ name: string; value: string }>;
  steps: AllureStep[];
};
type AllureStep = {
  name: string;
  attachments?: Array<{ name: string; source: string }>;
  steps?: AllureStep[];
};

function results(resultsDir: string): AllureResult[] {
  return readdirSync(resultsDir)
    .filter((f) => f.endsWith('-result.json'))
    .map((f) => JSON.parse(readFileSync(join(resultsDir, f), 'utf8')) as AllureResult);
}

function attachments(steps: AllureStep[]): Array<{ name: string; source: string }> {
  return steps.flatMap((s) => [...(s.attachments ?? []), ...attachments(s.steps ?? [])]);
}

let run: LaunchResult;

describe('scenario runner end to end (small FRR EVPN lab)', () => {
  beforeAll(async () => {
    mkdirSync(reports, { recursive: true });
    run = await launch({
      files,
      runtime: 'netns',
      reportsDir: reports,
      stdio: 'pipe',
      implementation: 'frr-evpn',
    });
  }, 240_000);

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('reports passed expectations with conformance, area, group, severity and parameter labels', () => {
    const all = results(run.resultsDir);
    const matrix = all.find((r) => r.name === 'both hosts reach each other');
    expect(matrix, renderSummary(run)).toBeDefined();
    expect(matrix!.status).toBe('passed');
    const label = (r: AllureResult, name: string) =>
      r.labels.filter((l) => l.name === name).map((l) => l.value);
    expect(label(matrix!, 'conformance_id')).toEqual(['L2-1']);
    expect(label(matrix!, 'epic')).toEqual(['data plane']);
    expect(label(matrix!, 'feature')[0]).toMatch(/^L2 \/ L3/);
    expect(label(matrix!, 'severity')).toEqual(['critical']);
    expect(matrix!.parameters.map((p) => `${p.name}=${p.value}`)).toEqual([
      'runtime=netns',
      'implementation=frr-evpn',
      'gateway profile=none',
    ]);
    expect(attachments(matrix!.steps).map((a) => a.name)).toEqual(
      expect.arrayContaining([
        'topology',
        'matrix expected (Markdown)',
        'matrix diff (Markdown)',
        'matrix expected/actual/diff (HTML)',
      ]),
    );
    const bgp = all.find((r) => r.name === 'one type-3 route per VTEP')!;
    expect(bgp.status).toBe('passed');
    expect(label(bgp, 'conformance_id')).toEqual(['EVPN-1']);
    expect(label(bgp, 'epic')).toEqual(['control plane']);
    // The whole catalogue is in the report: every ID has a result, the uncovered ones as 'unknown'.
    const ids = new Set(all.flatMap((r) => label(r, 'conformance_id')));
    expect([...CATALOGUE.keys()].filter((id) => !ids.has(id))).toEqual([]);
    expect(all.find((r) => r.name === 'AZ-2 not covered: no scenario yet')?.status).toBe('unknown');
    expect(renderSummary(run)).toMatch(
      new RegExp(`coverage: ${run.coverage.covered.size} of ${CATALOGUE.size} catalogue IDs`),
    );
    for (const f of ['categories.json', 'environment.properties', 'executor.json'])
      expect(existsSync(join(run.resultsDir, f))).toBe(true);
    expect(readFileSync(join(run.resultsDir, 'environment.properties'), 'utf8')).toMatch(
      /kernel=.*\n[\s\S]*runtime=netns/,
    );
  });

  it('applies every fault kind on the lab and recovers; the oracle drops the VM of a killed hypervisor', () => {
    const all = results(run.resultsDir).filter((r) =>
      r.labels.some((l) => l.name === 'parentSuite' && l.value === 'e2e fault kinds'),
    );
    expect(all.map((r) => [r.name, r.status])).toEqual(
      expect.arrayContaining([
        ['whole after flap, pause, clear and partition', 'passed'],
        ['h2 unreachable while its hypervisor is down', 'passed'],
        ["whole after leaf2 restarted and leaf1's bgpd restarted", 'passed'],
      ]),
    );
  });

  it('reports an unmet expectation as failed, with the matrix diff attached', () => {
    const failed = results(run.resultsDir).find((r) => r.name === 'matrix with a deliberately wrong cell')!;
    expect(failed.status).toBe('failed');
    expect(failed.statusDetails?.message).toMatch(/h1 → h2 icmp: expected blocked, got allowed/);
    const diff = attachments(failed.steps).find((a) => a.name === 'matrix diff (Markdown)')!;
    expect(readFileSync(join(run.resultsDir, diff.source), 'utf8')).toMatch(/\*\*X\*\*/);
  });

  it('reports a lab that cannot deploy as broken, and a scenario that cannot run here as skipped with the reason', () => {
    const all = results(run.resultsDir);
    const broken = all.filter((r) =>
      r.labels.some((l) => l.name === 'parentSuite' && l.value === 'e2e lab fails'),
    );
    expect(broken.length).toBeGreaterThan(0);
    for (const r of broken) {
      expect(r.status).toBe('broken');
      expect(r.statusDetails?.message).toMatch(/failed to deploy.*ote-missing0/);
    }
    const skipped = all.find((r) =>
      r.labels.some((l) => l.name === 'parentSuite' && l.value === 'e2e cannot run here'),
    )!;
    expect(skipped.status).toBe('skipped');
    expect(skipped.statusDetails?.message).toBe(`kernel/machine lacks ${lacking}`);
    expect(exitCodeOf(run)).toBe(1);
  });

  it('writes JUnit and run records, and leaves no lab behind', async () => {
    const junit = readFileSync(run.junit, 'utf8');
    expect(junit).toMatch(/<testcase[^>]*name="[^"]*both hosts reach each other"/);
    expect(junit).toMatch(/<failure/);
    expect(run.summary.records.length).toBe(6);
    const names = await netnsList();
    expect(names.filter((n) => n.includes(LAB_NAME) || n.includes(`ote-brk-${tag}`))).toEqual([]);
    expect(renderSummary(run)).toMatch(/passed +failed +broken +skipped/);
  });

  it('generates the Allure HTML report offline (otwin report)', async () => {
    const { generateReport } = await import('../cli/commands/report.ts');
    const index = await generateReport({ reportsDir: reports, quiet: true });
    expect(index).toBe(join(reports, 'html', 'index.html'));
    expect(existsSync(index)).toBe(true);
    expect(readFileSync(index, 'utf8')).not.toMatch(/googletagmanager|gtag\(/);
    expect(existsSync(join(reports, 'html', 'history', 'history.json'))).toBe(true);
  }, 120_000);

  it('replays the recorded chaos run: same schedule, same verdicts', async () => {
    const recordFile = run.summary.records.find((r) => r.includes('e2e-chaos'))!;
    const recorded = readRecord(recordFile);
    expect(recorded.verdicts.map((v) => v.status)).toEqual(['passed']);
    expect(Object.values(recorded.chaos)[0]!.length).toBeGreaterThan(0);
    const replay = await launch({
      files: [],
      replay: recordFile,
      runtime: 'netns',
      reportsDir: reports,
      stdio: 'pipe',
    });
    const replayed = readRecord(replay.summary.records[0]!);
    expect(replayed.replayOf).toBe(recordFile);
    expect(replayed.chaos).toEqual(recorded.chaos);
    expect(replayed.faults.map((f) => JSON.stringify(f.fault))).toEqual(
      recorded.faults.map((f) => JSON.stringify(f.fault)),
    );
    const diff = diffVerdicts(recorded.verdicts, replayed.verdicts);
    expect(diff.same, JSON.stringify(diff.rows)).toBe(true);
  }, 120_000);
});
