/**
 * Security groups on real nftables in namespace fixtures (two hypervisors, one underlay; entries
 * computed by the controller's World from a directory-shaped snapshot): an allowed port passes,
 * another is dropped, replies pass, unsolicited reverse traffic is dropped (stateful) or passes with
 * the service port as source (stateless), filtering inside a subnet, anti-spoofing, and a membership
 * change that touches set elements only.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, runOk } from '../../harness/util/exec.ts';
import { pollUntil } from '../../harness/util/poll.ts';
import { World } from '../controller/world.ts';
import type { Change, Snapshot, Vport } from '../directory/model.ts';
import { Agent } from './agent.ts';
import { createUnderlay, type UnderlayFixture } from './fixtures/underlay.ts';
import { domainNsName, vmNsName } from './model.ts';
import { SG_GUARD_TABLE, SG_RULES_CHAIN, SG_TABLE } from './security.ts';

const BASE = `oh3-sg${process.pid % 1000}`;
let PREFIX = `${BASE}-`;
const WEB = 8_000_001;
const DB = 8_000_002;
const rev = (id: string) => ({ id, revision: 1 });
const PY = '/usr/bin/python3';

function vport(id: string, subnet: string, hypervisor: string, ip: string, groups: string[]): Vport {
  const last = Number(ip.split('.')[3]);
  return {
    ...rev(id),
    subnet,
    hypervisor,
    name: id,
    mac: `02:00:00:00:${subnet === 'a1' ? '01' : '02'}:${last.toString(16).padStart(2, '0')}`,
    ip,
    securityGroups: groups,
    description: '',
  };
}

const VPORTS = [
  vport('w1', 'a1', 'hv1', '10.1.1.11', ['web']),
  vport('x1', 'a1', 'hv1', '10.1.1.14', []),
  vport('d1', 'a1', 'hv2', '10.1.1.12', ['db']),
  vport('d2', 'a2', 'hv2', '10.1.2.13', ['db']),
];

function snapshot(securityMode: 'stateful' | 'stateless'): Snapshot {
  const subnet = (id: string, vni: number, prefix: string, gateway: string) => ({
    ...rev(id),
    domain: 'da',
    name: id,
    vni,
    prefix,
    gateway,
    gatewayMac: `02:0a:00:00:00:${vni.toString(16)}`,
    routeTarget: `65000:${vni}`,
    description: '',
  });
  return {
    revision: 1,
    objects: {
      zones: [{ ...rev('z1'), name: 'z1', description: '' }],
      hypervisors: [1, 2].map((i) => ({
        ...rev(`hv${i}`),
        name: `hv${i}`,
        zone: 'z1',
        vtep: `10.98.0.${i}`,
        securityMode,
        description: '',
      })),
      tenants: [{ ...rev('ta'), name: 'a', description: '' }],
      domains: [{ ...rev('da'), tenant: 'ta', name: 'da', description: '' }],
      subnets: [subnet('a1', 101, '10.1.1.0/24', '10.1.1.1'), subnet('a2', 102, '10.1.2.0/24', '10.1.2.1')],
      vports: VPORTS,
      securityGroups: [
        { ...rev('web'), tenant: 'ta', name: 'web', domain: 'da', sgid: WEB, description: '' },
        { ...rev('db'), tenant: 'ta', name: 'db', domain: 'da', sgid: DB, description: '' },
      ],
      securityRules: [
        {
          ...rev('r-db'),
          securityGroup: 'db',
          direction: 'ingress',
          protocol: 'tcp',
          portMin: 5432,
          portMax: 5432,
          remoteGroup: 'web',
          remotePrefix: null,
        },
      ],
      floatingIps: [],
      redirectionTargets: [],
      gateways: [],
      gatewayBindings: [],
    },
  };
}

const vm = (hv: string, id: string) => vmNsName({ prefix: PREFIX, hypervisor: hv }, id);
const router = (hv: string) => domainNsName({ prefix: PREFIX, hypervisor: hv }, 'da');

/** TCP connect from a VM namespace (optionally from a given source address/port); true = connected. */
async function connects(ns: string, ip: string, port: number, from?: { ip?: string; port?: number }) {
  const bind = from ? `s.bind((${JSON.stringify(from.ip ?? '')}, ${from.port ?? 0}))` : '';
  const script = [
    'import socket, sys',
    's = socket.socket()',
    // The VM also listens on the source port: both sockets share it (SO_REUSEPORT).
    's.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)',
    bind,
    's.settimeout(1.5)',
    'try:',
    `    s.connect((${JSON.stringify(ip)}, ${port})); print("ok")`,
    'except Exception as e:',
    '    print(type(e).__name__)',
  ].join('\n');
  const r = await run('ip', ['netns', 'exec', ns, PY, '-c', script]);
  return r.stdout.trim() === 'ok';
}

interface NftRule {
  handle: number;
  comment?: string;
}

async function sgTable(hv: string) {
  const out = JSON.parse(
    await runOk('ip', ['netns', 'exec', router(hv), 'nft', '-j', '-a', 'list', 'table', 'inet', SG_TABLE]),
  ) as {
    nftables: Array<{ rule?: NftRule & { chain: string }; set?: { name: string; elem?: string[] } }>;
  };
  const rules = out.nftables.flatMap((i) => (i.rule?.chain === SG_RULES_CHAIN ? [i.rule] : []));
  const sets = new Map(out.nftables.flatMap((i) => (i.set ? [[i.set.name, i.set.elem ?? []] as const] : [])));
  return { rules: rules.map((r) => `${r.handle}:${r.comment}`).sort(), sets };
}

describe.each(['stateful', 'stateless'] as const)('security groups on nftables (%s)', (mode) => {
  let fx: UnderlayFixture;
  let world: World;
  const agents = new Map<string, Agent>();
  const servers: ChildProcess[] = [];
  let revision = 1;

  const newAgent = (hv: UnderlayFixture['hypervisors'][number]) =>
    new Agent({
      prefix: PREFIX,
      hypervisor: hv.name,
      hvNetns: hv.ns,
      zone: 'z1',
      vtep: hv.vtep,
      mtu: 1450,
      controllers: [],
    });

  const push = async () => {
    for (const [hv, agent] of agents) expect(await agent.programEntries(world.entriesFor(hv))).toEqual([]);
  };

  beforeAll(async () => {
    PREFIX = `${BASE}${mode === 'stateful' ? 'f' : 'l'}-`;
    fx = await createUnderlay(PREFIX, 2, { mtu: 1500, net: 98 });
    world = new World('z1');
    world.loadSnapshot(snapshot(mode));
    world.takeDirty();
    for (const hv of fx.hypervisors) agents.set(hv.name, newAgent(hv));
    await push();
    // Listeners: every VM serves 5432, 5433 and 8080 (a Python server per VM, ended in afterAll).
    const serve = [
      'import socket, threading',
      'def serve(p):',
      '    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)',
      "    s.bind(('0.0.0.0', p)); s.listen(64)",
      '    while True:',
      '        c, _ = s.accept(); c.close()',
      'for p in (5432, 5433, 8080): threading.Thread(target=serve, args=(p,), daemon=True).start()',
      'threading.Event().wait()',
    ].join('\n');
    for (const v of VPORTS) {
      const child = spawn('ip', ['netns', 'exec', vm(v.hypervisor, v.id), PY, '-c', serve], {
        stdio: 'ignore',
      });
      servers.push(child);
    }
    // Listening (poll, the servers start under load).
    const up = await pollUntil(
      () => connects(vm('hv1', 'w1'), '10.1.1.12', 5432),
      (ok) => ok,
      { timeoutMs: 15_000, intervalMs: 200, what: 'w1 → d1:5432' },
    );
    expect(up.ok).toBe(true);
  }, 60_000);

  afterAll(async () => {
    for (const s of servers) if (s.pid) process.kill(s.pid, 'SIGKILL');
    for (const a of agents.values()) a.stop();
    await fx?.destroy();
  });

  it('passes the allowed port (replies included) and drops another one, across hypervisors and subnets', async () => {
    expect(await connects(vm('hv1', 'w1'), '10.1.1.12', 5432)).toBe(true);
    expect(await connects(vm('hv1', 'w1'), '10.1.2.13', 5432)).toBe(true);
    expect(await connects(vm('hv1', 'w1'), '10.1.1.12', 5433)).toBe(false);
    // No rule allows db → web.
    expect(await connects(vm('hv2', 'd1'), '10.1.1.11', 8080)).toBe(false);
  });

  it(`unsolicited reverse traffic with the service port as source is ${mode === 'stateful' ? 'dropped' : 'let through'}`, async () => {
    const passed = await connects(vm('hv2', 'd1'), '10.1.1.11', 8080, { port: 5432 });
    expect(passed).toBe(mode === 'stateless');
  });

  it('filters inside a subnet on one bridge (default deny)', async () => {
    // x1 and w1 share hv1's br101; no rule allows x1 (no group) to reach w1.
    expect(await connects(vm('hv1', 'x1'), '10.1.1.11', 8080)).toBe(false);
    expect(await connects(vm('hv1', 'x1'), '10.1.1.12', 5432)).toBe(false);
  });

  it('drops a VM sending from another member address (anti-spoofing)', async () => {
    const guardDrops = async () => {
      const out = await runOk('ip', [
        'netns',
        'exec',
        router('hv1'),
        'nft',
        '-j',
        'list',
        'table',
        'bridge',
        SG_GUARD_TABLE,
      ]);
      return [...out.matchAll(/"packets": (\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
    };
    const before = await guardDrops();
    await runOk('ip', ['-n', vm('hv1', 'x1'), 'addr', 'add', '10.1.1.11/32', 'dev', 'eth0']);
    try {
      expect(await connects(vm('hv1', 'x1'), '10.1.1.12', 5432, { ip: '10.1.1.11' })).toBe(false);
    } finally {
      await runOk('ip', ['-n', vm('hv1', 'x1'), 'addr', 'del', '10.1.1.11/32', 'dev', 'eth0']);
    }
    expect(await guardDrops()).toBeGreaterThan(before);
  });

  it('a membership change adds a set element on every hypervisor and leaves the rules as they were', async () => {
    const before = { hv1: await sgTable('hv1'), hv2: await sgTable('hv2') };
    world.applyChange({
      revision: ++revision,
      op: 'update',
      collection: 'vports',
      id: 'x1',
      object: { ...VPORTS[1]!, securityGroups: ['web'] },
      previous: VPORTS[1],
      at: '',
    } as unknown as Change);
    expect(world.takeDirty().all).toBe(false);
    await push();
    const after = { hv1: await sgTable('hv1'), hv2: await sgTable('hv2') };
    for (const hv of ['hv1', 'hv2'] as const) {
      expect(after[hv].rules).toEqual(before[hv].rules);
      expect(after[hv].sets.get(`g${WEB}`)).toContain('10.1.1.14');
      expect(before[hv].sets.get(`g${WEB}`)).not.toContain('10.1.1.14');
    }
    expect(await connects(vm('hv1', 'x1'), '10.1.1.12', 5432)).toBe(true);
  });

  it('keeps enforcing through an agent restart (tables stay, the new agent diffs)', async () => {
    const before = await sgTable('hv2');
    const fresh = newAgent(fx.hypervisors[1]!);
    agents.get('hv2')?.stop();
    agents.set('hv2', fresh);
    expect(await connects(vm('hv1', 'w1'), '10.1.1.12', 5433)).toBe(false);
    await push();
    expect((await sgTable('hv2')).rules).toEqual(before.rules);
    expect(fresh.security.applies).toBe(0);
  });
});
