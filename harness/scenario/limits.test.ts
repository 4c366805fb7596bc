/**
 * Bad scenario input cannot reach root: unknown `requires:` features, a bad lab file, names the kernel
 * cannot hold and unbounded durations, rates and counts are validation errors (exit 2, file:line:col);
 * the lab file's extended link form is understood; a run in which everything is skipped exits 1.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { detectFeatures, KERNEL_FEATURES } from '../doctor/features.ts';
import { netnsList } from '../kernel/netns.ts';
import { errorMessage } from '../util/errors.ts';
import { parseScenarioText, ScenarioError } from './parse.ts';

const repo = join(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'otwin-limits-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const lab = join(dir, 'ext.clab.yml');
// containerlab's extended link form (type: veth, endpoints as objects) beside the brief form.
writeFileSync(
  lab,
  `name: otl-ext
topology:
  nodes:
    leaf1: { kind: linux, image: alpine:3 }
    leaf2: { kind: linux, image: alpine:3 }
    h1: { kind: linux, image: alpine:3 }
  links:
    - type: veth
      endpoints:
        - { node: leaf1, interface: eth1 }
        - { node: leaf2, interface: eth1 }
    - endpoints: ["leaf1:eth2", "h1:eth1"]
`,
);

function scenario(extra: { top?: string; timeline?: string; labFile?: string } = {}): string {
  return `name: limits
lab: ${extra.labFile ?? lab}
${extra.top ?? ''}
intent:
  tenants: [{ name: t }]
  domains: [{ name: d, tenant: t }]
  subnets: [{ name: s, domain: d, cidr: 192.0.2.0/24, vni: 100 }]
  vms:
    - { name: h1, subnet: s, hypervisor: leaf1, ip: 192.0.2.11 }
    - { name: h2, subnet: s, hypervisor: leaf2, ip: 192.0.2.12 }
timeline:
${extra.timeline ?? '  - fault: { kind: link-down, link: leaf1:eth1, duration: 1s }'}
`;
}

function problems(text: string): string[] {
  try {
    parseScenarioText(text, join(dir, 'limits.yml'));
    return [];
  } catch (err) {
    if (err instanceof ScenarioError)
      return err.issues.map((i) => `${i.where}: ${i.message} | ${i.hint ?? ''}`);
    throw err;
  }
}

describe('scenario validation limits', () => {
  it("accepts the lab's extended link form (its interfaces are known)", () => {
    expect(problems(scenario())).toEqual([]);
    expect(
      problems(scenario({ timeline: '  - fault: { kind: link-down, link: leaf2:eth1, duration: 1s }' })),
    ).toEqual([]);
  });

  it('refuses an unknown feature in requires:, with the closest known one', () => {
    const found = problems(scenario({ top: 'requires: [vxlan, vxaln]' }));
    expect(found).toEqual([
      expect.stringMatching(/limits\.yml:3:19: unknown feature 'vxaln'.*\| did you mean 'vxlan'\?/),
    ]);
  });

  it("validates the lab file and names it: the lab's own error at the lab's file:line:col", () => {
    const bad = join(repo, 'harness', 'topology', 'fixtures', 'bad', 'unknown-node.clab.yml');
    const found = problems(scenario({ labFile: bad }));
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/unknown-node\.clab\.yml:9:\d+: .*unknown node 'h3'.*\(the lab of scenario /);
  });

  it('refuses names the kernel or the file system cannot hold', () => {
    const iface = problems(
      scenario({
        timeline: `  - expect:
      capture:
        send: { from: h1, type: udp, dst: 192.0.2.12, port: 5000 }
        points: [{ node: leaf1, iface: an-interface-name-too-long, count: 1 }]`,
      }),
    );
    expect(iface).toEqual([
      expect.stringMatching(
        /'an-interface-name-too-long' cannot be a Linux interface name \| at most 15 bytes/,
      ),
    ]);
    const slash = problems(scenario().replace('{ name: t }', '{ name: "t/../x" }'));
    expect(slash).toEqual([expect.stringMatching(/"t\/\.\.\/x" is not in the expected format/)]);
    const long = problems(scenario().replace('{ name: t }', `{ name: ${'t'.repeat(64)} }`));
    expect(long).toEqual(expect.arrayContaining([expect.stringMatching(/64 characters long, more than 63/)]));
  });

  it('bounds durations, rates and counts, with the limit in the hint', () => {
    const durations = problems(
      scenario({
        timeline: `  - wait: 120m
  - expect: { within: 11m, reach: { from: h1, to: h2 } }
  - measure:
      stream: { from: h1, to: h2, interval: 0ms }
      during:
        - fault: { kind: link-down, link: leaf1:eth1, duration: 1s }
  - expect:
      capture:
        send: { from: h1, type: udp, dst: 192.0.2.12, port: 5000 }
        points: [{ node: leaf1, iface: eth1, count: 1 }]
        duration: 30m`,
      }),
    ).join('\n');
    expect(durations).toMatch(/120m is too long for `wait` \| at most 60 min/);
    expect(durations).toMatch(/11m is too long for a `within` budget \| at most 10 min/);
    expect(durations).toMatch(/0ms is too short for a stream interval .* \| at least 1 ms/);
    expect(durations).toMatch(/30m is too long for a capture window \| at most 5 min/);
    const counts = problems(
      scenario({
        timeline: `  - fault: { kind: link-flap, link: leaf1:eth1, count: 5000 }
  - expect:
      capture:
        send: { from: h1, type: udp, dst: 192.0.2.12, port: 5000, count: 1000000 }
        points: [{ node: leaf1, iface: eth1, count: 1 }]`,
      }),
    ).join('\n');
    expect(counts).toMatch(/5000 is above the maximum 1000 \| link-flap: how many flaps/);
    expect(counts).toMatch(/1000000 is above the maximum 10000 \| Packets to send/);
  });
});

describe('otwin run on such input', () => {
  const reportsDir = mkdtempSync(join(tmpdir(), 'otwin-limits-reports-'));
  afterAll(() => rmSync(reportsDir, { recursive: true, force: true }));
  const otwin = (...args: string[]) =>
    // Its own reports folder: another test's run in this checkout must not count in its coverage.
    execa(process.execPath, [join(repo, 'bin', 'otwin.js'), 'run', '--reports', reportsDir, ...args], {
      cwd: repo,
      reject: false,
      all: true,
      env: { FORCE_COLOR: '0' },
    });

  it('exits 2 naming the lab file when the lab is bad, and deploys nothing', async () => {
    const file = join(dir, 'bad-lab.yml');
    const bad = join(repo, 'harness', 'topology', 'fixtures', 'bad', 'unknown-node.clab.yml');
    writeFileSync(file, scenario({ labFile: bad }));
    const r = await otwin(file);
    expect(r.exitCode, r.all).toBe(2);
    expect(r.all).toContain(`${relative(repo, bad)}:9:`);
    expect(r.all).not.toMatch(/\n\s+at .*\.ts:\d+/);
    expect((await netnsList()).filter((n) => n.includes('ota-bad-node'))).toEqual([]);
  });

  it('exits 1 with a clear message when every expectation was skipped', async () => {
    const features = await detectFeatures();
    const lacking = KERNEL_FEATURES.find((f) => !features.kernel[f].ok);
    if (!lacking) {
      console.warn('skipping: this kernel has every feature, nothing can be skipped for lack of one');
      return;
    }
    const file = join(dir, 'all-skipped.yml');
    writeFileSync(
      file,
      `name: all skipped
lab: ${lab}
requires: [${lacking}]
timeline:
  - expect: { matrix: {} }
`,
    );
    const r = await otwin(file);
    expect(r.exitCode, r.all).toBe(1);
    expect(r.all).toMatch(new RegExp(`kernel/machine lacks ${lacking}`));
    expect(r.all).toMatch(/nothing passed: 1 of 1 expectations skipped .*: exit code 1/);
    expect(r.all).toMatch(/coverage: 0 of \d+ catalogue IDs/);
    expect(errorMessage(r.stderr)).not.toMatch(/\n\s+at .*\.ts:\d+/);
  }, 120_000);
});
