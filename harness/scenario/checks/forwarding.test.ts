/**
 * The forwarding check judges what the driver reports against the intent's names (VMs, subnets, VTEP
 * nodes), says precisely what is wrong, and is skipped — never passed — when the driver cannot report
 * forwarding tables.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ForwardingEntry } from '../../kernel/fdb.ts';
import { MemoryReporter } from '../../report/reporter.ts';
import { ScenarioContext, SkipError } from '../context.ts';
import type { ImplementationDriver } from '../drivers/driver.ts';
import { fakeLab } from '../fixtures/scenario-errors.ts';
import { parseScenarioText } from '../parse.ts';
import { RecordBuilder } from '../record.ts';
import type { ExpectStep } from '../types.ts';
import { type ForwardingCheck, forwarding } from './forwarding.ts';

const LAB = resolve('labs/frr-evpn.clab.yml');
const VTEPS: Record<string, string> = { leaf1: '10.0.1.2', leaf2: '10.0.2.2', leaf3: '10.0.3.2' };
const H2 = '02:00:00:00:00:12';

const scenario = (forwardingBody: string) =>
  parseScenarioText(
    `name: forwarding fixture
conformance: [EVPN-3]
lab: ${LAB}
intent:
  tenants: [{ name: t }]
  domains: [{ name: d, tenant: t }]
  subnets: [{ name: s, domain: d, cidr: 192.0.2.0/24, vni: 100 }, { name: u, domain: d, cidr: 198.51.100.0/24, vni: 200 }]
  vms:
    - { name: h1, subnet: s, hypervisor: leaf1, port: eth2, ip: 192.0.2.11, mac: "02:00:00:00:00:11" }
    - { name: h2, subnet: s, hypervisor: leaf2, port: eth2, ip: 192.0.2.12, mac: "${H2}" }
timeline:
  - expect:
      forwarding: ${forwardingBody}
`,
    join(tmpdir(), 'forwarding-fixture.yml'),
  );

function evaluate(body: string, entries: ForwardingEntry[] | undefined) {
  const s = scenario(body);
  const dir = mkdtempSync(join(tmpdir(), 'ote-fwd-'));
  const driver = {
    name: entries ? 'fake' : 'blind',
    capabilities: new Set(),
    vtepAddress: async (node: { name: string }) => VTEPS[node.name],
    ...(entries ? { forwardingEntries: async () => entries } : {}),
  } as unknown as ImplementationDriver;
  const ctx = new ScenarioContext({
    scenario: s,
    lab: fakeLab([], LAB),
    driver,
    traffic: undefined,
    reporter: new MemoryReporter(),
    record: new RecordBuilder(s, { runsDir: join(dir, 'runs'), runId: 't', runtime: 'netns' }),
    runtime: 'netns',
    artifactsDir: join(dir, 'artifacts'),
  });
  const check = (s.timeline[0] as ExpectStep).checks[0] as ForwardingCheck;
  return forwarding.evaluate(check, ctx);
}

const TABLE: ForwardingEntry[] = [
  { vni: 100, mac: '02:00:00:00:00:11', vtep: undefined },
  { vni: 100, mac: H2, vtep: '10.0.2.2' },
  { vni: 100, mac: '00:00:00:00:00:00', vtep: '10.0.2.2' },
  { vni: 200, mac: '02:00:00:00:00:99', vtep: '10.0.3.2' },
];

describe('forwarding check', () => {
  it('passes on what the intent says: a VM behind its VTEP once, a local port, the exact flood list', async () => {
    const r = await evaluate(
      '{ node: leaf1, segment: s, present: [{ vm: h2, vtep: leaf2, once: true }, { vm: h1, vtep: local }], flood: [leaf2] }',
      TABLE,
    );
    expect(r.summary).toBe("leaf1's forwarding table as expected (4 entries)");
    expect(r.ok).toBe(true);
  });

  it('says what is missing, what is there instead, and what is not expected', async () => {
    const r = await evaluate(
      '{ node: leaf1, segment: s, present: [{ vm: h2, vtep: leaf3 }], absent: [{ vtep: 10.0.2.2 }], flood: [leaf2, leaf3] }',
      TABLE,
    );
    expect(r.ok).toBe(false);
    expect(r.summary).toMatch(
      /h2's MAC 02:00:00:00:00:12 behind VTEP leaf3 \(10\.0\.3\.2\) in VNI 100 is missing \(found instead: VNI 100 02:00:00:00:00:12 → 10\.0\.2\.2\)/,
    );
    expect(r.summary).toMatch(/an entry behind VTEP 10\.0\.2\.2 in VNI 100 must be absent, found 2/);
    expect(r.summary).toMatch(
      /flood list of VNI 100 is \[10\.0\.2\.2\], expected exactly leaf2, leaf3; missing leaf3 \(10\.0\.3\.2\)/,
    );
  });

  it('looks in every segment for a bare MAC, in the VM’s own segment for a VM', async () => {
    expect(
      (await evaluate('{ node: leaf1, absent: [{ mac: "02:00:00:00:00:99" }] }', TABLE)).summary,
    ).toMatch(/MAC 02:00:00:00:00:99 must be absent, found 1: VNI 200/);
    expect((await evaluate('{ node: leaf1, present: [{ vm: h2, once: true }] }', TABLE)).ok).toBe(true);
  });

  it('is skipped, not passed, when the driver cannot report forwarding tables', async () => {
    const err = await evaluate('{ node: leaf1, absent: [{ vm: h2 }] }', undefined).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SkipError);
    expect((err as SkipError).reason).toMatch(/implementation blind cannot report its forwarding tables/);
  });
});
