/**
 * `provision` with `refused`: the change must be refused by the implementation with a matching
 * error. It is an expectation unit of its own; accepted or refused for another reason is a failed
 * expectation; the intent stays as it was when refused.
 */
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExpectationError, type ScenarioContext } from '../context.ts';
import type { ImplementationDriver, IntentChange } from '../drivers/driver.ts';
import { parseScenarioText } from '../parse.ts';
import { planUnits } from '../timeline.ts';
import type { ProvisionStep } from '../types.ts';
import { provision } from './provision.ts';

const SCENARIO = `name: refused fixture
conformance: [AZ-5]
lab: ${resolve('labs/frr-evpn.clab.yml')}
intent:
  tenants: [{ name: t }]
  domains: [{ name: d, tenant: t }]
  subnets: [{ name: s, domain: d, cidr: 192.0.2.0/24, vni: 100 }]
  vms:
    - { name: h1, subnet: s, hypervisor: leaf1, port: eth2, ip: 192.0.2.11 }
    - { name: h2, subnet: s, hypervisor: leaf2, port: eth2, ip: 192.0.2.12, attached: false }
timeline:
  - provision: all
  - fault: { kind: link-down, link: leaf1:eth2 }
  - name: attaching h2 is refused
    provision: { attach: [h2], refused: "unreachable.*frozen" }
  - expect: { matrix: {} }
`;

const scenario = parseScenarioText(SCENARIO, resolve('scenarios/refused-fixture.yml'));
const step = scenario.timeline[2] as ProvisionStep;

function context(outcome: 'accept' | 'refuse' | 'other'): { ctx: ScenarioContext; calls: IntentChange[] } {
  const calls: IntentChange[] = [];
  const driver = {
    provision: async (change: IntentChange) => {
      calls.push(change);
      if (outcome === 'refuse')
        throw new Error(
          'the directory at unix:/x is unreachable (ECONNREFUSED): changes are frozen until it is back',
        );
      if (outcome === 'other') throw new Error('422 invalid_field: mac');
    },
  } as unknown as ImplementationDriver;
  const ctx = {
    intent: structuredClone(scenario.intent),
    driver,
    driverContext: () => ({}),
    reporter: { log: () => undefined },
    markAct: () => undefined,
    scenario,
    routes: async () => undefined,
  } as unknown as ScenarioContext;
  return { ctx, calls };
}

describe('provision: refused', () => {
  it('is an expectation unit of its own, after the steps before it', () => {
    const units = planUnits(scenario);
    expect(units.map((u) => [u.name, u.main.kind, u.before.map((s) => s.kind)])).toEqual([
      ['attaching h2 is refused', 'provision', ['provision', 'fault']],
      [expect.stringMatching(/matrix/), 'check', []],
    ]);
    expect(units[0]!.conformance).toEqual(['AZ-5']);
  });

  it('passes when refused with a matching message, and leaves the intent unchanged', async () => {
    const { ctx, calls } = context('refuse');
    await provision(step, ctx);
    expect(calls.map((c) => c.attach)).toEqual([['h2']]);
    expect(ctx.intent.vms.find((v) => v.name === 'h2')!.attached).toBe(false);
  });

  it('fails when the change is accepted (and the model follows the implementation)', async () => {
    const { ctx } = context('accept');
    const err = await provision(step, ctx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExpectationError);
    expect(String((err as Error).message)).toMatch(/accepted, but it must be refused/);
    expect(ctx.intent.vms.find((v) => v.name === 'h2')!.attached).toBe(true);
  });

  it('fails when refused for another reason, quoting the message', async () => {
    const { ctx } = context('other');
    const err = await provision(step, ctx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExpectationError);
    expect(String((err as Error).message)).toMatch(/not as expected .*422 invalid_field/);
  });
});
