import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MemoryReporter } from '../report/reporter.ts';
import { ScenarioContext } from './context.ts';
import { FrrEvpnDriver } from './drivers/frr-evpn.ts';
import { fakeLab } from './fixtures/scenario-errors.ts';
import { parseScenarioText } from './parse.ts';
import { diffVerdicts, RecordBuilder, renderVerdictDiff } from './record.ts';
import { chaosSchedule } from './steps/chaos.ts';
import { planUnits, runUnit, skipReason } from './timeline.ts';
import type { ChaosStep } from './types.ts';

const LAB = resolve('labs/frr-evpn.clab.yml');
const FILE = resolve('scenarios/timeline-fixture.yml');

const SCENARIO = `name: timeline fixture
conformance: [AZ-3]
lab: ${LAB}
seed: 42
intent:
  tenants: [{ name: t }]
  domains: [{ name: d, tenant: t }]
  subnets: [{ name: s, domain: d, cidr: 192.0.2.0/24, vni: 100 }]
  vms:
    - { name: h1, subnet: s, hypervisor: leaf1, port: eth2, ip: 192.0.2.11 }
    - { name: h2, subnet: s, hypervisor: leaf2, port: eth2, ip: 192.0.2.12 }
timeline:
  - fault: { kind: link-down, link: leaf1:eth2 }
  - fault: { kind: link-up, link: leaf1:eth2 }
  - chaos:
      window: 400ms
      count: 4
      duration: [20ms, 60ms]
      faults:
        - { kind: link-down, link: leaf2:eth2 }
        - { kind: link-down, link: leaf3:eth2 }
        - { kind: node-pause, node: h3 }
  - wait: 10ms
`;

function context(calls: string[], replay?: ScenarioContext['replay']) {
  const scenario = parseScenarioText(SCENARIO, FILE);
  const dir = mkdtempSync(join(tmpdir(), 'ote-tl-'));
  const record = new RecordBuilder(scenario, { runsDir: join(dir, 'runs'), runId: 'test', runtime: 'netns' });
  const ctx = new ScenarioContext({
    scenario,
    lab: fakeLab(calls, LAB),
    driver: new FrrEvpnDriver(),
    traffic: undefined,
    reporter: new MemoryReporter(),
    record,
    runtime: 'netns',
    artifactsDir: join(dir, 'artifacts'),
    replay,
  });
  return { scenario, ctx, record };
}

describe('timeline', () => {
  it('plans one unit per expectation with the steps before it; trailing steps run after the last one', () => {
    const text = SCENARIO.replace(
      '  - wait: 10ms\n',
      '  - expect:\n      - reach: { from: h1, to: h2 }\n      - reach: { from: h2, to: h1 }\n  - wait: 10ms\n',
    );
    const units = planUnits(parseScenarioText(text, FILE));
    expect(units.map((u) => [u.key, u.before.length, u.main.kind, u.after.length])).toEqual([
      ['3/0', 3, 'check', 0],
      ['3/1', 0, 'check', 1],
    ]);
    expect(units[0]!.conformance).toEqual(['AZ-3']);
    // Without an expectation nothing is asserted: the steps run in a unit with no conformance ID.
    const bare = planUnits(parseScenarioText(SCENARIO, FILE));
    expect(bare.map((u) => [u.main.kind, u.before.length, u.conformance])).toEqual([['none', 4, []]]);
  });

  it('draws the same chaos schedule from the same seed, a different one from another, never overlapping a target', () => {
    const step = parseScenarioText(SCENARIO, FILE).timeline[2] as ChaosStep;
    const a = chaosSchedule(step);
    expect(chaosSchedule(step)).toEqual(a);
    expect(chaosSchedule({ ...step, seed: 43 })).not.toEqual(a);
    expect(a.length).toBeGreaterThan(0);
    for (const e of a) {
      expect(e.atMs + e.durationMs).toBeLessThanOrEqual(400);
      for (const f of a) {
        if (e !== f && e.fault === f.fault)
          expect(e.atMs + e.durationMs <= f.atMs || f.atMs + f.durationMs <= e.atMs).toBe(true);
      }
    }
  });

  it('undoes a fault with its opposite step, and replays a chaos run to the same faults in the same order', async () => {
    const calls: string[] = [];
    const { scenario, ctx, record } = context(calls);
    ctx.startClock();
    for (const unit of planUnits(scenario)) await runUnit(unit, ctx);
    expect(calls.slice(0, 2)).toEqual(['leaf1: ip link set eth2 down', 'leaf1: ip link set eth2 up']);
    expect(ctx.pendingReverts.size).toBe(0);
    const rec = record.finish();
    expect(rec).toMatch(/timeline-fixture\.json$/);
    const recorded = record.record;
    expect(Object.keys(recorded.stepStarts)).toEqual(['0', '1', '2', '3']);
    expect(recorded.chaos['2']!.length).toBeGreaterThan(0);

    // Replay: same chaos events, same fault sequence, steps not earlier than recorded.
    const replayCalls: string[] = [];
    const replay = {
      stepStarts: new Map(Object.entries(recorded.stepStarts)),
      chaos: new Map(Object.entries(recorded.chaos)),
    };
    const again = context(replayCalls, replay);
    again.ctx.startClock();
    for (const unit of planUnits(again.scenario)) await runUnit(unit, again.ctx);
    expect(again.record.record.chaos).toEqual(recorded.chaos);
    const faultsOf = (r: typeof recorded) => r.faults.map((f) => `${f.step}:${JSON.stringify(f.fault)}`);
    expect(faultsOf(again.record.record)).toEqual(faultsOf(recorded));
    for (const [id, at] of Object.entries(recorded.stepStarts)) {
      expect(again.record.record.stepStarts[id]).toBeGreaterThanOrEqual(at);
    }
  });

  it('diffs verdicts and renders the difference', () => {
    const v = (key: string, status: 'passed' | 'failed') => ({
      key,
      name: `check ${key}`,
      status,
      message: undefined,
      conformance: [],
      area: 'x',
      startMs: 0,
      durationMs: 0,
    });
    expect(diffVerdicts([v('1', 'passed')], [v('1', 'passed')]).same).toBe(true);
    const diff = diffVerdicts([v('1', 'passed'), v('2', 'passed')], [v('1', 'failed')]);
    expect(diff.same).toBe(false);
    expect(diff.rows.map((r) => [r.before, r.after])).toEqual([
      ['passed', 'failed'],
      ['passed', 'missing'],
    ]);
    expect(renderVerdictDiff(diff)).toMatch(/verdicts differ/);
  });

  it('skips with a reason when a kernel feature or a driver capability is missing', () => {
    const scenario = parseScenarioText(SCENARIO, FILE);
    const driver = new FrrEvpnDriver();
    expect(skipReason({ ...scenario, requires: ['vrf'] }, driver, new Set(['vxlan']))).toBe(
      'kernel/machine lacks vrf',
    );
    const withRules = {
      ...scenario,
      intent: {
        ...scenario.intent,
        rules: [{ from: 'any', to: 'any', proto: 'any' as const, ports: [], domain: undefined }],
      },
    };
    expect(skipReason(withRules, driver, new Set())).toMatch(/frr-evpn does not implement security-groups/);
    expect(skipReason(scenario, driver, new Set())).toBeUndefined();
    const noEvpn = Object.assign(new FrrEvpnDriver(), {
      unsupportedChecks: new Map([['bgp', 'no EVPN routes']]),
    });
    const withBgp = {
      ...scenario,
      timeline: [
        { ...scenario.timeline[0]!, kind: 'expect' as const, checks: [{ kind: 'bgp' }], precondition: false },
      ],
    } as unknown as typeof scenario;
    expect(skipReason(withBgp, noEvpn, new Set())).toBe(
      "implementation frr-evpn cannot take part in 'bgp' checks (no EVPN routes)",
    );
    expect(skipReason(scenario, noEvpn, new Set())).toBeUndefined();
  });
});
