/**
 * The reference implementation in labs/reference-2az.clab.yml on the netns runtime: two zones, each
 * with a controller, two hypervisors and an FRR route reflector; reflectors peer across zones; one
 * directory. Everything is provisioned through the directory API; observations come from the
 * kernel (captures, fdb/neigh tables) and from a BGP tap on zone 1's reflector.
 */
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BgpTap, macMobility } from '../harness/bgp/index.ts';
import type { DeployedLab, Runtime } from '../harness/runtime/runtime.ts';
import type { Topology } from '../harness/topology/types.ts';
import { otwinEnv } from '../harness/util/env.ts';
import { run } from '../harness/util/exec.ts';
import { waitFor } from '../harness/util/poll.ts';
import { shq } from '../harness/util/shell.ts';
import { DirectoryClient, DirectoryUnavailableError } from './directory/client.ts';
import { createTwoZones, deployLab2az, LAB_2AZ_NAME, lab2azFile, lab2azFiles } from './lab-2az.ts';

// A renamed copy per process (OTWIN_2AZ_LAB=<name> to choose it): namespaces are host-wide, so a
// benchmark or another checkout deploying the shipped otf-2az at the same time must not meet this one.
const NAME = otwinEnv('2AZ_LAB') ?? `${LAB_2AZ_NAME}-${process.pid.toString(36)}`;
const LAB = lab2azFile(NAME);
const FILES = lab2azFiles(NAME);
const NS = `${NAME}-`;

describe('reference implementation: two-zone lab', () => {
  let topo: Topology;
  let runtime: Runtime;
  let lab: DeployedLab;
  let tap: BgpTap;
  const client = new DirectoryClient({
    url: `unix:${FILES.socket}`,
    token: FILES.token,
    timeoutMs: 5000,
  });

  const vmExec = (hv: string, vport: string, argv: string[]) =>
    lab.node(hv).exec(['ip', 'netns', 'exec', `${NS}${hv}-vm-${vport}`, ...argv]);
  const ping = async (hv: string, vport: string, target: string, count = 1) =>
    (await vmExec(hv, vport, ['ping', '-n', '-q', '-c', String(count), '-i', '0.2', '-W', '1', target]))
      .exitCode === 0;
  /** ping every 10 ms for `seconds`; resolves with sent/received. */
  const stream = (hv: string, vport: string, target: string, seconds: number) =>
    vmExec(hv, vport, [
      'ping',
      '-n',
      '-q',
      '-i',
      '0.01',
      '-W',
      '1',
      '-c',
      String(seconds * 100),
      target,
    ]).then((r) => {
      const m = /(\d+) packets transmitted, (\d+) received/.exec(r.stdout);
      return { sent: Number(m?.[1] ?? 0), received: Number(m?.[2] ?? 0) };
    });
  const pidOf = async (node: string, script: string) => {
    const r = await lab
      .node(node)
      .exec([
        'sh',
        '-c',
        `for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline 2>/dev/null | grep -q ${shq(script)} && echo \${p#/proc/}; done`,
      ]);
    return r.stdout
      .split('\n')
      .map(Number)
      .filter((p) => p > 1);
  };
  const killRole = async (node: string, script: string) => {
    for (const pid of await pidOf(node, `bin/run-ts.js ${script}`))
      await lab.node(node).exec(['kill', '-9', String(pid)]);
  };
  const startRole = async (node: string) => {
    const cmd = topo.nodes.find((n) => n.name === node)?.cmd as string;
    await lab
      .node(node)
      .exec(['sh', '-c', `setsid sh -c ${shq(cmd)} </dev/null >>${topo.labDir}/${node}/cmd.log 2>&1 &`]);
  };
  const attach = (id: string, subnet: string, hypervisor: string, n: number, ip: string) =>
    client.create('vports', {
      id,
      subnet,
      hypervisor,
      name: id,
      mac: `02:00:00:00:05:${n.toString(16).padStart(2, '0')}`,
      ip,
    });

  beforeAll(async () => {
    ({ topo, runtime, lab, tap } = await deployLab2az(LAB, FILES, client));
    await createTwoZones(client);
    await client.create('tenants', { id: 'ta', name: 'tenant a' });
    await client.create('tenants', { id: 'tb', name: 'tenant b' });
    await client.create('domains', { id: 'da', tenant: 'ta', name: 'main' });
    await client.create('domains', { id: 'db', tenant: 'tb', name: 'main' });
    await client.create('subnets', {
      id: 'a1',
      domain: 'da',
      name: 'web',
      vni: 5001,
      prefix: '10.5.1.0/24',
      gateway: '10.5.1.1',
    });
    await client.create('subnets', {
      id: 'a2',
      domain: 'da',
      name: 'app',
      vni: 5002,
      prefix: '10.5.2.0/24',
      gateway: '10.5.2.1',
    });
    await client.create('subnets', {
      id: 'b1',
      domain: 'db',
      name: 'web',
      vni: 6001,
      prefix: '10.5.1.0/24',
      gateway: '10.5.1.1',
    });
    await attach('va1', 'a1', 'hv1', 1, '10.5.1.11');
    await attach('va2', 'a1', 'hv2', 2, '10.5.1.12');
    await attach('va3', 'a1', 'hv3', 3, '10.5.1.13');
    await attach('va4', 'a2', 'hv4', 4, '10.5.2.14');
    await attach('vb1', 'b1', 'hv1', 0x11, '10.5.1.11');
    await attach('vb3', 'b1', 'hv3', 0x13, '10.5.1.13');
    await waitFor(
      () => ping('hv1', 'va1', '10.5.1.13'),
      (ok) => ok,
      { timeoutMs: 30_000, intervalMs: 200, what: 'va1 (z1) → va3 (z2)' },
    );
  });

  afterAll(async () => {
    await tap?.stop().catch(() => {});
    if (!otwinEnv('KEEP_LAB') && topo) await runtime.destroy(topo, { cleanup: true });
    // The renamed copy's folders (never the shipped lab's: that one lives in labs/ itself).
    if (!otwinEnv('KEEP_LAB') && NAME !== LAB_2AZ_NAME) {
      rmSync(dirname(LAB), { recursive: true, force: true });
      rmSync(FILES.root, { recursive: true, force: true });
    }
    // `ip netns add` inside a node leaves an empty placeholder file in the host's /run/netns.
    const list = await run('ip', ['-j', 'netns', 'list']);
    for (const { name } of JSON.parse(list.stdout || '[]') as Array<{ name: string }>)
      if (name.startsWith(NS) && !otwinEnv('KEEP_LAB')) await run('ip', ['netns', 'delete', name]);
  });

  it('VMs reach each other across hypervisors and zones, in one subnet and across subnets', async () => {
    expect(await ping('hv1', 'va1', '10.5.1.12', 2)).toBe(true); // z1 ↔ z1, same subnet
    expect(await ping('hv1', 'va1', '10.5.1.13', 2)).toBe(true); // z1 ↔ z2, same subnet
    expect(await ping('hv1', 'va1', '10.5.2.14', 2)).toBe(true); // z1 ↔ z2, routed
    expect(await ping('hv4', 'va4', '10.5.1.12', 2)).toBe(true); // z2 ↔ z1, routed
  });

  it('keeps two tenants with overlapping addresses isolated', async () => {
    expect(await ping('hv1', 'vb1', '10.5.1.13', 2)).toBe(true);
    const neigh = JSON.parse(
      (await vmExec('hv1', 'vb1', ['ip', '-j', 'neigh', 'show', '10.5.1.13'])).stdout,
    ) as Array<{ lladdr: string }>;
    expect(neigh[0]?.lladdr).toBe('02:00:00:00:05:13'); // vb3, not va3
    expect(await ping('hv1', 'vb1', '10.5.2.14')).toBe(false); // tenant b has no 10.5.2.0/24
  });

  it('uses the same anycast gateway MAC on every hypervisor', async () => {
    const macs = new Set<string>();
    for (const hv of ['hv1', 'hv2', 'hv3', 'hv4']) {
      const r = await lab.node(hv).exec(['ip', '-n', `${NS}${hv}-d-da`, '-j', 'link', 'show', 'br5001']);
      macs.add((JSON.parse(r.stdout) as Array<{ address: string }>)[0]?.address ?? '');
    }
    expect([...macs]).toEqual(['02:0a:00:00:13:89']);
  });

  it('answers ARP for a remote VM on the local hypervisor: no ARP on the underlay', async () => {
    await vmExec('hv1', 'va1', ['ip', 'neigh', 'flush', 'all']);
    const cap = lab.node('hv1').exec(['timeout', '3', 'tcpdump', '-n', '-l', '-i', 'eth1', 'udp port 4789']);
    await new Promise((r) => setTimeout(r, 800));
    expect(await ping('hv1', 'va1', '10.5.1.13')).toBe(true);
    const lines = (await cap).stdout.split('\n');
    expect(lines.some((l) => /ICMP echo request/.test(l))).toBe(true);
    expect(lines.filter((l) => /ARP/.test(l))).toEqual([]);
    const neigh = JSON.parse(
      (await vmExec('hv1', 'va1', ['ip', '-j', 'neigh', 'show', '10.5.1.13'])).stdout,
    ) as Array<{ lladdr: string }>;
    expect(neigh[0]?.lladdr).toBe('02:00:00:00:05:03');
  });

  it('routes on the ingress hypervisor straight to the egress hypervisor', async () => {
    const caps = ['hv2', 'hv3', 'hv4'].map((hv) =>
      lab.node(hv).exec(['timeout', '3', 'tcpdump', '-n', '-l', '-i', 'eth1', 'udp port 4789']),
    );
    await new Promise((r) => setTimeout(r, 800));
    expect(await ping('hv1', 'va1', '10.5.2.14', 3)).toBe(true);
    // tcpdump prints the outer header on the timestamp line and the inner packet on the next one.
    const [hv2, hv3, hv4] = (await Promise.all(caps)).map((r) =>
      r.stdout.split(/\n(?=\d\d:\d\d:)/).filter((p) => /ICMP echo/.test(p)),
    );
    // The request arrives at hv4 encapsulated by hv1 in VNI 5002 (routed on hv1), the reply leaves hv4 directly to hv1.
    expect(
      hv4!.some((p) =>
        /10\.0\.1\.2\.\d+ > 10\.0\.4\.2\.4789: VXLAN.*vni 5002\s+IP 10\.5\.1\.11 > 10\.5\.2\.14: ICMP echo request/.test(
          p,
        ),
      ),
    ).toBe(true);
    expect(
      hv4!.some((p) =>
        /10\.0\.4\.2\.\d+ > 10\.0\.1\.2\.4789: VXLAN.*vni 5001\s+IP 10\.5\.2\.14 > 10\.5\.1\.11: ICMP echo reply/.test(
          p,
        ),
      ),
    ).toBe(true);
    expect(hv2).toEqual([]);
    expect(hv3).toEqual([]);
  });

  it('the tap sees type-2 and type-3 routes with the right fields', async () => {
    const t2 = await tap.waitForRoute({ type: 2, mac: '02:00:00:00:05:03' }, 10_000);
    expect(t2.route).toMatchObject({
      type: 2,
      rd: '172.20.61.12:5001',
      ip: '10.5.1.13',
      labels: [5001],
      ethTag: 0,
    });
    expect(t2.attrs.nextHop).toBe('10.0.3.2');
    expect(t2.attrs.extCommunities).toEqual(
      expect.arrayContaining([
        { type: 'route-target', value: '65000:5001', encoding: 'as2' },
        { type: 'encapsulation', tunnelType: 8 },
      ]),
    );
    const t3 = await tap.waitForRoute({ type: 3, vni: 5001, nextHop: '10.0.1.2' }, 10_000);
    expect(t3.route).toMatchObject({ type: 3, rd: '172.20.61.11:5001', originatorIp: '10.0.1.2' });
    expect(t3.attrs.pmsiTunnel).toMatchObject({ tunnelType: 6, label: 5001, tunnelId: '10.0.1.2' });
    // One type-3 per VTEP per VNI: VNI 5001 lives on all four hypervisors.
    await waitFor(
      () => new Set(tap.routes({ type: 3, vni: 5001 }).map((r) => r.attrs.nextHop)).size,
      (n) => n === 4,
      {
        timeoutMs: 10_000,
        what: 'type-3 for vni 5001 from 4 VTEPs',
      },
    );
  });

  it('a VM move yields MAC mobility sequence + 1', async () => {
    const before = tap.routes({ type: 2, mac: '02:00:00:00:05:02' });
    expect(before.map((r) => macMobility(r.attrs)?.seq ?? 0)).toEqual([0]);
    await client.patch('vports', 'va2', { hypervisor: 'hv3' }); // z1 → z2
    const moved = await tap.waitForRoute({ type: 2, mac: '02:00:00:00:05:02', nextHop: '10.0.3.2' }, 10_000);
    expect(macMobility(moved.attrs)?.seq).toBe(1);
    await tap.waitForNoRoute({ type: 2, mac: '02:00:00:00:05:02', nextHop: '10.0.2.2' }, 10_000);
    await waitFor(
      () => ping('hv1', 'va1', '10.5.1.12'),
      (ok) => ok,
      { timeoutMs: 10_000, what: 'va2 reachable after the move' },
    );
  });

  it('killing a zone controller leaves flows forwarding and the other zone untouched', async () => {
    const flow = stream('hv1', 'va1', '10.5.1.13', 6); // z1 → z2
    await new Promise((r) => setTimeout(r, 500));
    await killRole('c2', 'reference-impl/bin/controller.ts');
    await new Promise((r) => setTimeout(r, 1000));
    await attach('va5', 'a1', 'hv2', 5, '10.5.1.15'); // z1 keeps working
    await waitFor(
      () => ping('hv1', 'va1', '10.5.1.15'),
      (ok) => ok,
      { timeoutMs: 10_000, what: 'z1 attach while c2 is down' },
    );
    const r = await flow;
    expect(r.received).toBe(r.sent);
    await startRole('c2');
    await waitFor(
      () => ping('hv3', 'va3', '10.5.1.15'),
      (ok) => ok,
      { timeoutMs: 20_000, what: 'z2 learns va5 after c2 returns' },
    );
  });

  it('restarting an agent loses no established flow beyond 1 s', async () => {
    const flow = stream('hv1', 'va1', '10.5.2.14', 4);
    await new Promise((r) => setTimeout(r, 300));
    await killRole('hv1', 'reference-impl/bin/agent.ts');
    await new Promise((r) => setTimeout(r, 500));
    await startRole('hv1');
    const r = await flow;
    expect(r.sent - r.received).toBeLessThanOrEqual(100);
    expect(r.received).toBe(r.sent);
  });

  it('killing the directory freezes changes with a clear error but not forwarding; nothing is lost', async () => {
    const before = (await client.list('vports')).map((v) => v.id).sort();
    const flow = stream('hv2', 'va5', '10.5.2.14', 4);
    await killRole('directory', 'reference-impl/bin/directory.ts');
    const err = await attach('va6', 'a2', 'hv3', 6, '10.5.2.16').catch((e) => e);
    expect(err).toBeInstanceOf(DirectoryUnavailableError);
    expect(String(err.message)).toMatch(/unreachable.*changes are frozen/);
    await new Promise((r) => setTimeout(r, 1000));
    await startRole('directory');
    const r = await flow;
    expect(r.received).toBe(r.sent);
    await waitFor(
      () => client.healthy(),
      (ok) => ok,
      { timeoutMs: 20_000, what: 'directory back' },
    );
    expect((await client.list('vports')).map((v) => v.id).sort()).toEqual(before);
    await attach('va6', 'a2', 'hv3', 6, '10.5.2.16');
    await waitFor(
      () => ping('hv1', 'va1', '10.5.2.16'),
      (ok) => ok,
      { timeoutMs: 15_000, what: 'attach after the directory restart' },
    );
  });
});
