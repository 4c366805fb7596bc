/**
 * Directory + controllers + agents on namespace fixtures: two zones (z1: hv1, hv2 with two
 * controllers; z2: hv3, hv4 with one), zones federated through an in-memory EVPN fabric standing in
 * for the route reflectors. (The same roles over real BGP and FRR route reflectors run in the
 * reference-2az lab test.)
 */
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { otwinEnv } from '../harness/util/env.ts';
import { run, runOk } from '../harness/util/exec.ts';
import { waitFor } from '../harness/util/poll.ts';
import { Agent } from './agent/agent.ts';
import { createUnderlay, ping, type UnderlayFixture } from './agent/fixtures/underlay.ts';
import { domainNsName, vmNsName } from './agent/model.ts';
import { Controller } from './controller/controller.ts';
import { MemoryEvpnFabric, type MemoryEvpnTransport } from './controller/evpn.ts';
import { DirectoryClient, DirectoryUnavailableError } from './directory/client.ts';
import { DirectoryServer } from './directory/server.ts';

const PREFIX = `otf-cp${process.pid % 10000}-`;
const TOKEN = 'secret';
const testLog = otwinEnv('TEST_LOG');
const log = testLog ? (l: string) => appendFileSync(testLog, `${l}\n`) : undefined;

/** Runs ping at 10 ms intervals in the background; `stop()` returns sent/received. */
function pingStream(ns: string, target: string, seconds: number) {
  const count = Math.round(seconds * 100);
  const p = run('ip', [
    'netns',
    'exec',
    ns,
    'ping',
    '-n',
    '-q',
    '-i',
    '0.01',
    '-W',
    '1',
    '-c',
    String(count),
    target,
  ]);
  return p.then((r) => {
    const m = /(\d+) packets transmitted, (\d+) received/.exec(r.stdout);
    return {
      sent: Number(m?.[1] ?? 0),
      received: Number(m?.[2] ?? 0),
      lostMs: (Number(m?.[1] ?? 0) - Number(m?.[2] ?? 0)) * 10,
    };
  });
}

describe('control plane: directory → controllers → agents (two zones)', () => {
  let fx: UnderlayFixture;
  let dir: string;
  let directory: DirectoryServer;
  let client: DirectoryClient;
  let dirPort: number;
  const fabric = new MemoryEvpnFabric();
  const controllers: Record<string, Controller> = {};
  const transports: Record<string, MemoryEvpnTransport> = {};
  const agents: Record<string, Agent> = {};
  const zoneOf: Record<string, string> = { hv1: 'z1', hv2: 'z1', hv3: 'z2', hv4: 'z2' };
  const ports: Record<string, number> = {};
  const vm = (hv: string, id: string) => vmNsName({ prefix: PREFIX, hypervisor: hv }, id);

  const startController = async (id: string, zone: string, port = 0) => {
    const evpn = fabric.member(`192.0.2.${Object.keys(transports).length + 1}`);
    transports[id] = evpn;
    const c = new Controller({
      id,
      zone,
      listen: { host: '127.0.0.1', port },
      directory: client,
      evpn,
      heartbeatMs: 300,
      deadAfterMs: 1000,
      ...(log ? { log } : {}),
    });
    const { port: bound } = await c.start();
    controllers[id] = c;
    ports[id] = bound;
    return c;
  };

  const startAgent = (hv: string) => {
    const h = fx.hypervisors.find((x) => x.name === hv)!;
    const ctl = zoneOf[hv] === 'z1' ? ['c1a', 'c1b'] : ['c2'];
    const agent = new Agent({
      prefix: PREFIX,
      hypervisor: hv,
      hvNetns: h.ns,
      zone: zoneOf[hv],
      vtep: h.vtep,
      mtu: 1450,
      controllers: ctl.map((c) => ({ host: '127.0.0.1', port: ports[c]! })),
      ...(log ? { log } : {}),
    });
    agent.start();
    agents[hv] = agent;
    return agent;
  };

  const attach = (id: string, subnet: string, hypervisor: string, n: number, ip: string) =>
    client.create('vports', {
      id,
      subnet,
      hypervisor,
      name: id,
      mac: `02:00:00:00:00:${n.toString(16).padStart(2, '0')}`,
      ip,
    });

  beforeAll(async () => {
    fx = await createUnderlay(PREFIX, 4, { net: 98 });
    dir = mkdtempSync(join(tmpdir(), 'otf-cp-'));
    directory = new DirectoryServer({ dbPath: join(dir, 'db'), token: TOKEN, host: '127.0.0.1', port: 0 });
    dirPort = (await directory.listen()).port;
    client = new DirectoryClient({ url: `http://127.0.0.1:${dirPort}`, token: TOKEN });
    await client.create('zones', { id: 'z1', name: 'z1' });
    await client.create('zones', { id: 'z2', name: 'z2' });
    for (const h of fx.hypervisors)
      await client.create('hypervisors', { id: h.name, name: h.name, zone: zoneOf[h.name], vtep: h.vtep });
    await client.create('tenants', { id: 'ta', name: 'a' });
    await client.create('tenants', { id: 'tb', name: 'b' });
    await client.create('domains', { id: 'da', tenant: 'ta', name: 'd' });
    await client.create('domains', { id: 'db', tenant: 'tb', name: 'd' });
    await client.create('subnets', {
      id: 'a1',
      domain: 'da',
      name: 'web',
      vni: 1101,
      prefix: '10.2.1.0/24',
      gateway: '10.2.1.1',
    });
    await client.create('subnets', {
      id: 'a2',
      domain: 'da',
      name: 'app',
      vni: 1102,
      prefix: '10.2.2.0/24',
      gateway: '10.2.2.1',
    });
    await client.create('subnets', {
      id: 'b1',
      domain: 'db',
      name: 'web',
      vni: 2101,
      prefix: '10.2.1.0/24',
      gateway: '10.2.1.1',
    });
    await attach('va1', 'a1', 'hv1', 1, '10.2.1.11');
    await attach('va3', 'a1', 'hv3', 3, '10.2.1.13');
    await attach('va4', 'a2', 'hv4', 4, '10.2.2.14');
    await attach('vb1', 'b1', 'hv1', 0x11, '10.2.1.11');
    await attach('vb4', 'b1', 'hv4', 0x14, '10.2.1.13');
    await startController('c1a', 'z1');
    await startController('c1b', 'z1');
    await startController('c2', 'z2');
    for (const hv of ['hv1', 'hv2', 'hv3', 'hv4']) startAgent(hv);
    await waitFor(
      () => ping(vm('hv1', 'va1'), '10.2.1.13'),
      (ok) => ok,
      { timeoutMs: 15_000, what: 'va1 → va3' },
    );
  });

  afterAll(async () => {
    for (const a of Object.values(agents)) a.stop();
    for (const c of Object.values(controllers)) await c.stop().catch(() => {});
    await directory?.close().catch(() => {});
    await fx?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('connects every agent to every controller of its zone (two in z1)', () => {
    const c1a = controllers.c1a!.status().agents as Array<{ hypervisor: string; synced: boolean }>;
    const c1b = controllers.c1b!.status().agents as Array<{ hypervisor: string; synced: boolean }>;
    expect(c1a.map((a) => a.hypervisor).sort()).toEqual(['hv1', 'hv2']);
    expect(c1b.map((a) => a.hypervisor).sort()).toEqual(['hv1', 'hv2']);
    expect((controllers.c2!.status().agents as unknown[]).length).toBe(2);
  });

  it('reaches VMs across zones in one subnet and across subnets, tenants isolated', async () => {
    expect(await ping(vm('hv1', 'va1'), '10.2.1.13', { count: 2 })).toBe(true);
    expect(await ping(vm('hv1', 'va1'), '10.2.2.14', { count: 2 })).toBe(true);
    expect(await ping(vm('hv4', 'va4'), '10.2.1.11', { count: 2 })).toBe(true);
    // Tenant b: 10.2.1.13 is vb4 (not va3); 10.2.2.14 does not exist in b.
    expect(await ping(vm('hv1', 'vb1'), '10.2.1.13', { count: 1 })).toBe(true);
    const neigh = JSON.parse(
      await runOk('ip', ['-n', vm('hv1', 'vb1'), '-j', 'neigh', 'show', '10.2.1.13']),
    ) as Array<{ lladdr: string }>;
    expect(neigh[0]?.lladdr).toBe('02:00:00:00:00:14');
    expect(await ping(vm('hv1', 'vb1'), '10.2.2.14')).toBe(false);
  });

  it('attaches a vport through the API and makes it reachable from both zones', async () => {
    const t0 = performance.now();
    await attach('va2', 'a1', 'hv2', 2, '10.2.1.12');
    await waitFor(
      () => ping(vm('hv3', 'va3'), '10.2.1.12', { timeoutS: 1 }),
      (ok) => ok,
      { timeoutMs: 10_000, intervalMs: 20, what: 'va3 → va2' },
    );
    const ms = performance.now() - t0;
    expect(ms).toBeLessThan(3000);
    expect(await ping(vm('hv2', 'va2'), '10.2.2.14')).toBe(true);
  });

  it('moves a VM: MAC mobility sequence + 1, traffic follows', async () => {
    await client.patch('vports', 'va2', { hypervisor: 'hv4' });
    const dom1 = domainNsName({ prefix: PREFIX, hypervisor: 'hv1' }, 'da');
    const remoteDst = async () => {
      const fdb = JSON.parse(
        await runOk('bridge', ['-n', dom1, '-j', 'fdb', 'show', 'dev', 'vx1101']),
      ) as Array<{ mac: string; dst?: string }>;
      return fdb.find((f) => f.mac === '02:00:00:00:00:02' && f.dst)?.dst;
    };
    await waitFor(remoteDst, (d) => d === '10.98.0.4', {
      timeoutMs: 10_000,
      intervalMs: 20,
      what: 'hv1 fdb points va2 at hv4',
    });
    await waitFor(
      () => ping(vm('hv1', 'va1'), '10.2.1.12', { timeoutS: 1 }),
      (ok) => ok,
      { timeoutMs: 10_000, intervalMs: 50, what: 'va1 → moved va2' },
    );
    // z2 now originates va2 with sequence 1; z1 withdrew its route.
    const z2 = [...transports.c2!.current.values()].find(
      (o) => o.kind === 'type2' && o.mac === '02:00:00:00:00:02',
    );
    expect(z2).toMatchObject({ vtep: '10.98.0.4', seq: 1 });
    const z1 = [...transports.c1a!.current.values()].find(
      (o) => o.kind === 'type2' && o.mac === '02:00:00:00:00:02',
    );
    expect(z1).toBeUndefined();
    await client.patch('vports', 'va2', { hypervisor: 'hv2' });
    await waitFor(
      () => {
        const o = [...transports.c1a!.current.values()].find(
          (x) => x.kind === 'type2' && x.mac === '02:00:00:00:00:02',
        );
        return o;
      },
      (o) => o?.kind === 'type2' && o.seq === 2,
      { timeoutMs: 5000, what: 'seq 2 after moving back' },
    );
  });

  it('keeps forwarding when a zone loses its controller; the other zone is untouched', async () => {
    const stream = pingStream(vm('hv1', 'va1'), '10.2.1.13', 4);
    await new Promise((r) => setTimeout(r, 500));
    await controllers.c2!.stop();
    await new Promise((r) => setTimeout(r, 1500));
    expect(agents.hv3!.headless).toBe(true);
    // Zone 1 still takes changes.
    await attach('va5', 'a1', 'hv2', 5, '10.2.1.15');
    await waitFor(
      () => ping(vm('hv1', 'va1'), '10.2.1.15'),
      (ok) => ok,
      { timeoutMs: 5000, what: 'z1 attach while z2 is headless' },
    );
    const result = await stream;
    expect(result.received).toBe(result.sent);
    // The controller comes back: its agents resync without flushing.
    const before = agents.hv3!.stats.commands;
    const stream2 = pingStream(vm('hv3', 'va3'), '10.2.1.11', 3);
    await startController('c2', 'z2', ports.c2);
    await waitFor(
      () => agents.hv3!.headless,
      (h) => !h,
      { timeoutMs: 5000, what: 'hv3 reconnected' },
    );
    const r2 = await stream2;
    expect(r2.received).toBe(r2.sent);
    // z2 learned va5 from the fabric after the restart: the resync added it.
    await waitFor(
      () => ping(vm('hv3', 'va3'), '10.2.1.15'),
      (ok) => ok,
      { timeoutMs: 5000, what: 'hv3 → va5 after resync' },
    );
    expect(agents.hv3!.stats.commands).toBeGreaterThan(before);
  });

  it('restarts an agent without losing established flows', async () => {
    const stream = pingStream(vm('hv1', 'va1'), '10.2.2.14', 3);
    await new Promise((r) => setTimeout(r, 300));
    agents.hv1!.stop();
    await new Promise((r) => setTimeout(r, 500));
    const fresh = startAgent('hv1');
    await waitFor(
      () => fresh.stats.reconciles,
      (n) => n > 0,
      { timeoutMs: 5000, what: 'restarted agent resynced' },
    );
    expect(fresh.stats.lastPlanSize).toBe(0);
    const r = await stream;
    expect(r.sent - r.received).toBeLessThanOrEqual(100); // ≤ 1 s at 10 ms
    expect(r.received).toBe(r.sent);
  });

  it('freezes changes but not forwarding when the directory is down; nothing lost after its restart', async () => {
    const stream = pingStream(vm('hv2', 'va2'), '10.2.1.13', 3);
    await directory.close();
    const err = await client.create('tenants', { name: 'x' }).catch((e) => e);
    expect(err).toBeInstanceOf(DirectoryUnavailableError);
    expect(String(err.message)).toMatch(/unreachable.*changes are frozen.*forwarding continues/);
    await new Promise((r) => setTimeout(r, 1000));
    directory = new DirectoryServer({
      dbPath: join(dir, 'db'),
      token: TOKEN,
      host: '127.0.0.1',
      port: dirPort,
    });
    await directory.listen();
    const r = await stream;
    expect(r.received).toBe(r.sent);
    expect((await client.list('vports')).map((v) => v.id).sort()).toEqual([
      'va1',
      'va2',
      'va3',
      'va4',
      'va5',
      'vb1',
      'vb4',
    ]);
    await attach('va6', 'a2', 'hv3', 6, '10.2.2.16');
    await waitFor(
      () => ping(vm('hv1', 'va1'), '10.2.2.16'),
      (ok) => ok,
      { timeoutMs: 8000, what: 'attach after directory restart' },
    );
  });
});
