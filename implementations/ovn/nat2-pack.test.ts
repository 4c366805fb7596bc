/**
 * NAT-2's OVN form (scenarios/ovn/nat-2-distributed.yml) judges OVN by the reference pack's intent and
 * probes. Unlike the plain copies (packs.test.ts) it may differ in two things more: the capture points
 * (`via`/`quiet`, and the step names that say them: the OVN lab has no PE and no reflectors) and the
 * floating-IP VM's hypervisor, which must not be the OVN lab's gateway chassis (hv1: the driver
 * schedules gateway ports there first), or a centralised translation would look distributed.
 */
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadScenario } from '../../harness/scenario/parse.ts';
import type { Scenario } from '../../harness/scenario/types.ts';

const REPO = resolve(import.meta.dirname, '..', '..');
const GATEWAY_CHASSIS = 'hv1';

/** What judges an implementation, less the capture points and the VMs' placement. */
function judged(s: Scenario): unknown {
  const strip = (key: string, value: unknown) =>
    key === 'pos' || key === 'via' || key === 'quiet' ? undefined : value;
  return {
    conformance: s.conformance,
    severity: s.severity,
    budgets: s.budgets,
    requires: s.requires,
    intent: JSON.parse(
      JSON.stringify({ ...s.intent, zones: [] }),
      (key, value) => (key === 'hypervisor' ? undefined : value) as unknown,
    ),
    // Step names say where the probes pass (the PE's hv1 port there, hv2's provider port here).
    timeline: JSON.parse(JSON.stringify(s.timeline.map((step) => ({ ...step, name: undefined }))), strip),
  };
}

describe('NAT-2 on OVN', () => {
  const copy = loadScenario(join(REPO, 'scenarios/ovn/nat-2-distributed.yml'));
  const source = loadScenario(join(REPO, 'scenarios/nat/nat-2-distributed.yml'));

  it('has the reference pack’s intent and probes', () => {
    expect(copy.implementation).toBe('ovn');
    expect(copy.lab).toBe(join(REPO, 'labs', 'ovn.clab.yml'));
    expect(judged(copy)).toEqual(judged(source));
  });

  it('puts every floating-IP VM off the gateway chassis', () => {
    const fipVms = new Set(copy.intent.floatingIps.map((f) => f.vm));
    const placed = copy.intent.vms.filter((vm) => fipVms.has(vm.name)).map((vm) => vm.hypervisor);
    expect(placed.length).toBeGreaterThan(0);
    expect(placed).not.toContain(GATEWAY_CHASSIS);
  });
});
