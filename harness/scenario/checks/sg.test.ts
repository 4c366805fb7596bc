/** The SG check kinds' verdicts on hand-made readings (the lab runs are in scenarios/sg). */
import { describe, expect, it } from 'vitest';
import type { ObservedRoute, ScenarioContext, SgRecord } from '../context.ts';
import type { SecurityDatapathCounts } from '../drivers/driver.ts';
import { emptyIntent, type Intent, type Vm } from '../intent.ts';
import { type SecgroupsCheck, secgroups } from './secgroups.ts';
import { type SgDatapathCheck, sgDatapath } from './sg-datapath.ts';

const base = {
  name: 't',
  conformance: [] as string[],
  severity: undefined,
  pos: { file: 'sg.yml', line: 1, col: 1 },
  withinMs: 0,
};

function vm(name: string, groups: string[], mac: string): Vm {
  return {
    name,
    subnet: 's',
    hypervisor: 'hv1',
    ip: '192.0.2.1',
    mac,
    groups,
    node: undefined,
    iface: 'eth0',
    port: undefined,
    attached: true,
  };
}

function route(mac: string, secgroups: string[] | undefined): ObservedRoute {
  return {
    type: 2,
    rd: undefined,
    vni: 1,
    label: 1,
    mac,
    ip: undefined,
    prefix: undefined,
    originator: undefined,
    nextHop: '10.0.1.2',
    rt: [],
    encapsulation: 8,
    pmsiTunnelType: undefined,
    mobilitySeq: undefined,
    communities: [],
    secgroups,
  };
}

function context(intent: Intent, opts: { routes?: ObservedRoute[]; counts?: SecurityDatapathCounts[] } = {}) {
  let reading = 0;
  const ctx = {
    intent,
    sgRecords: new Map<string, SgRecord>(),
    bulkMembers: new Map<string, number>(),
    driver: {
      name: 'stub',
      securityGroupIds: async () =>
        new Map([
          ['web', 8000001],
          ['db', 8000002],
        ]),
      securityDatapath: async () => opts.counts![reading++ % opts.counts!.length]!,
      locate: () => ({ mac: undefined }),
    },
    driverContext: () => ({}),
    node: (name: string) => ({ name }),
    routes: async () => ({ kind: 'tap', routes: async () => opts.routes ?? [] }),
  };
  return ctx as unknown as ScenarioContext;
}

describe('secgroups check', () => {
  const intent = { ...emptyIntent(), vms: [vm('w1', ['web', 'db'], '02:00:00:00:00:01')] };
  const check: SecgroupsCheck = { ...base, kind: 'secgroups', node: 'rr1', vms: ['w1'], policy: 'keep' };

  it('passes on exactly the ids of the current groups, whatever their order and AS', async () => {
    const ctx = context(intent, {
      routes: [route('02:00:00:00:00:01', ['secgroup:65000:8000002', 'secgroup:65000:8000001'])],
    });
    const r = await secgroups.evaluate(check, ctx);
    expect(r.ok).toBe(true);
    expect(r.attachments[0]!.content).toContain('secgroup:65000:8000002, secgroup:65000:8000001');
  });

  it('fails on a missing, an extra, or no route at all', async () => {
    for (const routes of [
      [route('02:00:00:00:00:01', ['secgroup:65000:8000001'])],
      [
        route('02:00:00:00:00:01', [
          'secgroup:65000:8000001',
          'secgroup:65000:8000002',
          'secgroup:65000:8000003',
        ]),
      ],
      [],
    ]) {
      const r = await secgroups.evaluate(check, context(intent, { routes }));
      expect(r.ok).toBe(false);
    }
  });

  it('policy strip (FED-4): passes only when no route carries a secgroup community', async () => {
    const strip: SecgroupsCheck = { ...check, policy: 'strip' };
    const bare = await secgroups.evaluate(
      strip,
      context(intent, { routes: [route('02:00:00:00:00:01', [])] }),
    );
    expect(bare.ok).toBe(true);
    expect(bare.summary).toMatch(/stripped as configured/);
    const kept = await secgroups.evaluate(
      strip,
      context(intent, { routes: [route('02:00:00:00:00:01', ['secgroup:65000:8000001'])] }),
    );
    expect(kept.ok).toBe(false);
    expect(kept.summary).toMatch(/expected ids \[none\].*the federation policy strips them/);
  });

  it('refuses a route source that cannot decode the communities (not a pass)', async () => {
    const ctx = context(intent, { routes: [route('02:00:00:00:00:01', undefined)] });
    await expect(secgroups.evaluate(check, ctx)).rejects.toThrow(/needs? the BGP tap/);
  });
});

describe('sg-datapath check', () => {
  const members = (n: number): Intent => ({
    ...emptyIntent(),
    zones: [{ name: 'z1', hypervisors: ['hv1'], controllers: [] }],
    vms: Array.from({ length: n }, (_, i) => vm(`v${i}`, ['web'], '02:00:00:00:00:01')),
  });
  const check = (over: Partial<SgDatapathCheck>): SgDatapathCheck => ({
    ...base,
    kind: 'sg-datapath',
    nodes: undefined,
    record: undefined,
    aclUnchangedSince: undefined,
    allMembers: false,
    linear: undefined,
    ...over,
  });

  it('ACL entries unchanged since a label: passes when only elements grow, fails when rules change', async () => {
    const ctx = context(members(2), {
      counts: [
        { aclEntries: 5, memberElements: 2 },
        { aclEntries: 5, memberElements: 3 },
        { aclEntries: 7, memberElements: 3 },
      ],
    });
    expect((await sgDatapath.evaluate(check({ record: 'before' }), ctx)).ok).toBe(true);
    expect((await sgDatapath.evaluate(check({ aclUnchangedSince: 'before' }), ctx)).ok).toBe(true);
    const r = await sgDatapath.evaluate(check({ aclUnchangedSince: 'before' }), ctx);
    expect(r.ok).toBe(false);
    expect(r.summary).toMatch(/hv1: 7 ACL entries, 5 at 'before'/);
  });

  it('linear growth passes; a members x members expansion fails with the growth table attached', async () => {
    const linear = { perUnit: 4 };
    const grow = (acl: (n: number) => number) => {
      const ctx = context(members(10), {
        counts: [10, 100].map((n) => ({ aclEntries: acl(n), memberElements: n })),
      });
      return { ctx, next: () => Object.assign(ctx, { intent: members(100) }) };
    };
    const ok = grow(() => 6);
    expect((await sgDatapath.evaluate(check({ record: 'm10' }), ok.ctx)).ok).toBe(true);
    ok.next();
    const passed = await sgDatapath.evaluate(check({ record: 'm100', linear }), ok.ctx);
    expect(passed.ok).toBe(true);
    expect(passed.attachments[0]!.content).toContain('| m100 | 100 | 0 | hv1 | 6 | 100 | 1.00 |');
    const bad = grow((n) => n * n);
    expect((await sgDatapath.evaluate(check({ record: 'm10' }), bad.ctx)).ok).toBe(true);
    bad.next();
    const failed = await sgDatapath.evaluate(check({ record: 'm100', linear }), bad.ctx);
    expect(failed.ok).toBe(false);
    expect(failed.summary).toMatch(
      /hv1 from 'm10' to 'm100': entries \+ elements grew by 9990 .* not linear/,
    );
  });
});
