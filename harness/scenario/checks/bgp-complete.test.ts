/**
 * "Route absent" proves something only against the peer's whole table: before the tap's session is
 * Established and End-of-RIB has arrived for l2vpn-evpn, an absent (or counted) route is not a pass,
 * and the check keeps polling with that reason. A present route is proven by the route itself.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { DecodedUpdate } from '../../bgp/codec/update.ts';
import { TapRib } from '../../bgp/index.ts';
import type { EvpnMacIp } from '../../bgp/types.ts';
import { MemoryReporter } from '../../report/reporter.ts';
import { sleep } from '../../util/poll.ts';
import { type RouteSource, ScenarioContext } from '../context.ts';
import type { ImplementationDriver } from '../drivers/driver.ts';
import { fakeLab } from '../fixtures/scenario-errors.ts';
import { parseScenarioText } from '../parse.ts';
import { RecordBuilder } from '../record.ts';
import { evaluateCheck } from '../steps/expect.ts';
import type { ExpectStep } from '../types.ts';
import { ribIncompleteness, tapRouteToObserved } from './routes-tap.ts';

const LAB = resolve('labs/frr-evpn.clab.yml');
const PEER = '10.99.1.1';
const PRESENT_MAC = '02:00:00:00:00:11';
const GONE_MAC = '02:00:00:00:00:99';

const SCENARIO = `name: end-of-rib fixture
conformance: [EVPN-3]
lab: ${LAB}
intent:
  tenants: [{ name: t }]
  domains: [{ name: d, tenant: t }]
  subnets: [{ name: s, domain: d, cidr: 192.0.2.0/24, vni: 100 }]
  vms:
    - { name: h1, subnet: s, hypervisor: leaf1, port: eth2, ip: 192.0.2.11, mac: "${PRESENT_MAC}" }
timeline:
  - expect:
      within: 300ms
      bgp: { node: rr, routes: [{ type: 2, present: false, match: { mac: "${GONE_MAC}" } }] }
  - expect:
      within: 300ms
      bgp: { node: rr, routes: [{ type: 2, match: { vm: h1 } }] }
`;

const update = (u: Partial<DecodedUpdate>): DecodedUpdate => ({
  announced: [],
  withdrawn: [],
  attrs: {},
  action: 'ok',
  errors: [],
  ...u,
});

const macRoute = (mac: string): EvpnMacIp => ({
  afi: 'l2vpn-evpn',
  type: 2,
  rd: '10.0.1.2:100' as EvpnMacIp['rd'],
  esi: '00:00:00:00:00:00:00:00:00:00' as EvpnMacIp['esi'],
  ethTag: 0,
  mac,
  labels: [100],
});

/** A context whose route source at `rr` is a real tap RIB, fed by the test. */
function setup() {
  const scenario = parseScenarioText(SCENARIO, join(tmpdir(), 'eor-fixture.yml'));
  const dir = mkdtempSync(join(tmpdir(), 'ote-eor-'));
  const rib = new TapRib();
  const session = { established: false };
  const source: RouteSource = {
    kind: 'tap',
    routes: async () => rib.routes().map(tapRouteToObserved),
    incomplete: () => ribIncompleteness(session.established, rib, PEER),
    changedAt: () => rib.transcript.at(-1)?.ts,
    transcript: () => rib.jsonl(),
    close: async () => undefined,
  };
  const ctx = new ScenarioContext({
    scenario,
    lab: fakeLab([], LAB),
    driver: { name: 'fake', capabilities: new Set() } as unknown as ImplementationDriver,
    traffic: undefined,
    reporter: new MemoryReporter(),
    record: new RecordBuilder(scenario, { runsDir: join(dir, 'runs'), runId: 't', runtime: 'netns' }),
    runtime: 'netns',
    artifactsDir: join(dir, 'artifacts'),
    routeSource: async () => source,
  });
  const [absent, present] = scenario.timeline.map((s) => (s as ExpectStep).checks[0]!);
  const evaluate = (check: typeof absent, act = true) => {
    if (act) ctx.markAct();
    return evaluateCheck(check!, ctx);
  };
  return {
    rib,
    session,
    ctx,
    absent: () => evaluate(absent),
    present: (act = true) => evaluate(present, act),
  };
}

describe('BGP absent checks wait for End-of-RIB', () => {
  it('does not pass "absent" on an Established session whose End-of-RIB has not arrived', async () => {
    const { rib, session, absent } = setup();
    session.established = true;
    rib.sessionEvent(PEER, 'established');
    rib.applyUpdate(PEER, Date.now(), update({ announced: [macRoute(PRESENT_MAC)] }));
    const result = await absent();
    expect(result.ok).toBe(false);
    expect(result.summary).toMatch(
      /rr's RIB is not known complete: no End-of-RIB for l2vpn-evpn from 10\.99\.1\.1/,
    );
    expect(result.elapsedMs).toBeGreaterThanOrEqual(300);
  });

  it('passes "absent" once End-of-RIB has arrived, and fails it again when the route is there', async () => {
    const { rib, session, absent } = setup();
    session.established = true;
    rib.sessionEvent(PEER, 'established');
    rib.applyUpdate(PEER, Date.now(), update({ endOfRib: 'l2vpn-evpn' }));
    expect((await absent()).ok).toBe(true);
    rib.applyUpdate(PEER, Date.now(), update({ announced: [macRoute(GONE_MAC)] }));
    const result = await absent();
    expect(result.ok).toBe(false);
    expect(result.summary).toMatch(/expected no type-2 route .*found 1/);
    expect(result.summary).not.toMatch(/not known complete/);
  });

  it('forgets End-of-RIB when the session goes down: the next session must send its table again', async () => {
    const { rib, session, absent } = setup();
    session.established = true;
    rib.sessionEvent(PEER, 'established');
    rib.applyUpdate(PEER, Date.now(), update({ endOfRib: 'l2vpn-evpn' }));
    rib.sessionEvent(PEER, 'down', 'hold timer expired');
    rib.sessionEvent(PEER, 'established');
    expect((await absent()).summary).toMatch(/no End-of-RIB/);
    session.established = false;
    expect((await absent()).summary).toMatch(/session with 10\.99\.1\.1 is not Established/);
  });

  it('passes "present" without End-of-RIB: the route itself is the proof', async () => {
    const { rib, session, present } = setup();
    session.established = true;
    rib.sessionEvent(PEER, 'established');
    rib.applyUpdate(PEER, Date.now(), update({ announced: [macRoute(PRESENT_MAC)] }));
    expect((await present()).ok).toBe(true);
  });

  it('dates the answer from when the tap received the route, not from when the check looked', async () => {
    const { rib, session, ctx, present } = setup();
    session.established = true;
    rib.sessionEvent(PEER, 'established');
    ctx.markAct();
    await sleep(50);
    rib.applyUpdate(PEER, Date.now(), update({ announced: [macRoute(PRESENT_MAC)] }));
    await sleep(400); // the harness is slow to look
    const result = await present(false);
    expect(result.ok).toBe(true);
    expect(result.noticedMs).toBeGreaterThanOrEqual(450);
    expect(result.elapsedMs).toBeGreaterThanOrEqual(40);
    expect(result.elapsedMs).toBeLessThan(300);
  });
});
