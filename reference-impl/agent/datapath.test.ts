/**
 * Agent datapath on namespace fixtures (no lab, no controller): two hypervisors on one underlay;
 * entries computed by the controller's World from a directory-shaped snapshot.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, runOk } from '../../harness/util/exec.ts';
import { waitFor } from '../../harness/util/poll.ts';
import { World } from '../controller/world.ts';
import type { Snapshot } from '../directory/model.ts';
import { Agent } from './agent.ts';
import { createUnderlay, ping, type UnderlayFixture } from './fixtures/underlay.ts';
import { domainNsName, vmNsName } from './model.ts';
import { agentNftSession } from './nft-session.ts';
import { plan, planSize } from './plan.ts';

const PREFIX = `otf-dp${process.pid % 10000}-`;
const rev = (id: string) => ({ id, revision: 1 });

function snapshot(hvVtep: (i: number) => string, extraVports: Snapshot['objects']['vports'] = []): Snapshot {
  const subnet = (id: string, domain: string, vni: number, prefix: string, gateway: string) => ({
    ...rev(id),
    domain,
    name: id,
    vni,
    prefix,
    gateway,
    gatewayMac: `02:0a:00:00:${(vni >> 8).toString(16).padStart(2, '0')}:${(vni & 0xff).toString(16).padStart(2, '0')}`,
    routeTarget: `65000:${vni}`,
    description: '',
  });
  const vport = (id: string, subnetId: string, hypervisor: string, mac: string, ip: string) => ({
    ...rev(id),
    subnet: subnetId,
    hypervisor,
    name: id,
    mac,
    ip,
    securityGroups: [],
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
        vtep: hvVtep(i),
        description: '',
      })),
      tenants: [
        { ...rev('ta'), name: 'a', description: '' },
        { ...rev('tb'), name: 'b', description: '' },
      ],
      domains: [
        { ...rev('da'), tenant: 'ta', name: 'da', description: '' },
        { ...rev('db'), tenant: 'tb', name: 'db', description: '' },
      ],
      subnets: [
        subnet('a1', 'da', 101, '10.1.1.0/24', '10.1.1.1'),
        subnet('a2', 'da', 102, '10.1.2.0/24', '10.1.2.1'),
        subnet('b1', 'db', 201, '10.1.1.0/24', '10.1.1.1'),
      ],
      vports: [
        vport('va1', 'a1', 'hv1', '02:00:00:00:01:01', '10.1.1.11'),
        vport('va2', 'a1', 'hv2', '02:00:00:00:01:02', '10.1.1.12'),
        vport('va3', 'a2', 'hv2', '02:00:00:00:02:03', '10.1.2.13'),
        vport('vb1', 'b1', 'hv1', '02:00:00:00:0b:01', '10.1.1.11'),
        vport('vb2', 'b1', 'hv2', '02:00:00:00:0b:02', '10.1.1.12'),
        ...extraVports,
      ],
      securityGroups: [],
      securityRules: [],
      floatingIps: [],
      redirectionTargets: [],
      gateways: [],
      gatewayBindings: [],
    },
  };
}

/** A vport `va<n>` added on hv1 in subnet a1 (10.1.1.<n>), beside the snapshot's own. */
const vportOnHv1 = (n: number) => ({
  id: `va${n}`,
  revision: 2,
  subnet: 'a1',
  hypervisor: 'hv1',
  name: `va${n}`,
  mac: `02:00:00:00:01:${n.toString(16).padStart(2, '0')}`,
  ip: `10.1.1.${n}`,
  securityGroups: [],
  description: '',
});

describe('agent datapath on namespace fixtures', () => {
  let fx: UnderlayFixture;
  let world: World;
  const agents: Agent[] = [];
  const vm = (hv: string, vport: string) => vmNsName({ prefix: PREFIX, hypervisor: hv }, vport);

  beforeAll(async () => {
    fx = await createUnderlay(PREFIX, 2, { mtu: 1500 });
    world = new World('z1');
    world.loadSnapshot(snapshot((i) => `10.99.0.${i}`));
    for (const hv of fx.hypervisors) {
      const agent = new Agent({
        prefix: PREFIX,
        hypervisor: hv.name,
        hvNetns: hv.ns,
        zone: 'z1',
        vtep: hv.vtep,
        mtu: 1450,
        controllers: [],
      });
      agents.push(agent);
      const errors = await agent.programEntries(world.entriesFor(hv.name));
      expect(errors).toEqual([]);
    }
  });

  afterAll(async () => {
    await fx?.destroy();
  });

  it('bridges VMs of one subnet across hypervisors', async () => {
    expect(await ping(vm('hv1', 'va1'), '10.1.1.12', { count: 2 })).toBe(true);
  });

  it('sets a new VM namespace up: lo up, IPv6 off on every device including eth0', async () => {
    for (const [hv, vport] of [
      ['hv1', 'va1'],
      ['hv2', 'va3'],
    ] as const) {
      const ns = vm(hv, vport);
      const links = JSON.parse(await runOk('ip', ['-n', ns, '-j', 'addr', 'show'])) as Array<{
        ifname: string;
        flags: string[];
        addr_info?: Array<{ family: string }>;
      }>;
      expect(links.find((l) => l.ifname === 'lo')?.flags, `${ns} lo`).toContain('UP');
      for (const l of links)
        expect(l.addr_info?.filter((a) => a.family === 'inet6') ?? [], `${ns} ${l.ifname} inet6`).toEqual([]);
      const sysctl = await runOk('ip', [
        'netns',
        'exec',
        ns,
        'sysctl',
        '-n',
        'net.ipv6.conf.all.disable_ipv6',
        'net.ipv6.conf.default.disable_ipv6',
        'net.ipv6.conf.eth0.disable_ipv6',
      ]);
      expect(sysctl.split('\n').map((l) => l.trim())).toEqual(['1', '1', '1']);
    }
  });

  it('routes between subnets of a domain on the ingress hypervisor', async () => {
    expect(await ping(vm('hv1', 'va1'), '10.1.2.13', { count: 2 })).toBe(true);
    expect(await ping(vm('hv1', 'va1'), '10.1.1.1')).toBe(true);
  });

  it('keeps tenants with overlapping addresses apart', async () => {
    // vb1 (tenant b) has the same address as va1 and pings 10.1.1.12, which exists in both tenants.
    const r = await run('ip', ['netns', 'exec', vm('hv1', 'vb1'), 'ping', '-c', '1', '-W', '1', '10.1.1.12']);
    expect(r.exitCode).toBe(0);
    const neigh = await runOk('ip', ['-n', vm('hv1', 'vb1'), '-j', 'neigh', 'show', '10.1.1.12']);
    expect(JSON.parse(neigh)[0]?.lladdr).toBe('02:00:00:00:0b:02');
    // Tenant b has no 10.1.2.0/24: unreachable.
    expect(await ping(vm('hv1', 'vb1'), '10.1.2.13')).toBe(false);
  });

  it('uses the same gateway MAC on every hypervisor', async () => {
    const macs: string[] = [];
    for (const hv of ['hv1', 'hv2']) {
      const ns = domainNsName({ prefix: PREFIX, hypervisor: hv }, 'da');
      const out = JSON.parse(await runOk('ip', ['-n', ns, '-j', 'link', 'show', 'br101'])) as Array<{
        address: string;
      }>;
      macs.push(out[0]?.address ?? '');
    }
    expect(macs[0]).toBe('02:0a:00:00:00:65');
    expect(macs[1]).toBe(macs[0]);
  });

  it('answers ARP for a remote VM locally: no ARP on the underlay', async () => {
    const hv1 = fx.hypervisors[0]!;
    await runOk('ip', ['-n', vm('hv1', 'va1'), 'neigh', 'flush', 'all']);
    const cap = run(
      'ip',
      ['netns', 'exec', hv1.ns, 'timeout', '3', 'tcpdump', '-n', '-l', '-i', 'eth1', 'udp port 4789'],
      {},
    );
    await new Promise((r) => setTimeout(r, 700));
    const before = JSON.parse(
      await runOk('ip', ['-n', vm('hv1', 'va1'), '-j', 'neigh', 'show', '10.1.1.12']),
    );
    expect(before).toEqual([]);
    expect(await ping(vm('hv1', 'va1'), '10.1.1.12')).toBe(true);
    const after = JSON.parse(
      await runOk('ip', ['-n', vm('hv1', 'va1'), '-j', 'neigh', 'show', '10.1.1.12']),
    ) as Array<{ lladdr: string }>;
    expect(after[0]?.lladdr).toBe('02:00:00:00:01:02');
    const result = await cap;
    // tcpdump decodes VXLAN on 4789: the echo crossed the underlay, no ARP did (in or out).
    const lines = result.stdout.split('\n');
    expect(lines.filter((l) => /ICMP echo request/.test(l)).length).toBeGreaterThan(0);
    expect(lines.filter((l) => /ARP/.test(l))).toEqual([]);
  });

  it('answers ARP for known VMs from the bridge, copying it to no VM port; floods only unknown addresses', async () => {
    // va1's neighbours: va15 (target, same hypervisor), va16 (bystander, same hypervisor), va2 (remote).
    world.loadSnapshot(snapshot((i) => `10.99.0.${i}`, [vportOnHv1(15), vportOnHv1(16)]));
    for (const [i, hv] of fx.hypervisors.entries())
      expect(await agents[i]!.programEntries(world.entriesFor(hv.name))).toEqual([]);
    try {
      const arpSeenIn = async (vport: string, act: () => Promise<void>) => {
        const ns = vm('hv1', vport);
        const cap = spawn('ip', [
          'netns',
          'exec',
          ns,
          'timeout',
          '5',
          'tcpdump',
          // Each packet as it arrives: the capture is stopped right after the act.
          '--immediate-mode',
          '-n',
          '-l',
          '-i',
          'eth0',
          'arp',
        ]);
        let out = '';
        let err = '';
        cap.stdout.on('data', (d: Buffer) => {
          out += d.toString();
        });
        cap.stderr.on('data', (d: Buffer) => {
          err += d.toString();
        });
        await waitFor(
          () => err,
          (e) => e.includes('listening on'),
          { timeoutMs: 5000, what: `tcpdump listening in ${ns}` },
        );
        await act();
        cap.kill('SIGINT');
        await once(cap, 'exit');
        return out.split('\n').filter((l) => /Request who-has/.test(l));
      };
      await runOk('ip', ['-n', vm('hv1', 'va1'), 'neigh', 'flush', 'all']);
      const resolve = async () => {
        expect(await ping(vm('hv1', 'va1'), '10.1.1.15')).toBe(true);
        expect(await ping(vm('hv1', 'va1'), '10.1.1.12')).toBe(true);
      };
      // Neither the bystander nor the target itself receives va1's requests: the bridge answered.
      expect(await arpSeenIn('va16', resolve)).toEqual([]);
      await runOk('ip', ['-n', vm('hv1', 'va1'), 'neigh', 'flush', 'all']);
      expect(await arpSeenIn('va15', resolve)).toEqual([]);
      const neigh = JSON.parse(
        await runOk('ip', ['-n', vm('hv1', 'va1'), '-j', 'neigh', 'show', '10.1.1.15']),
      );
      expect(neigh[0]?.lladdr).toBe('02:00:00:00:01:0f');
      // Control: a request for an address nobody is known to hold is flooded, and the capture sees it.
      const unknown = await arpSeenIn('va16', async () => {
        await ping(vm('hv1', 'va1'), '10.1.1.99');
      });
      expect(unknown.some((l) => l.includes('10.1.1.99'))).toBe(true);
    } finally {
      world.loadSnapshot(snapshot((i) => `10.99.0.${i}`));
      for (const [i, hv] of fx.hypervisors.entries())
        expect(await agents[i]!.programEntries(world.entriesFor(hv.name))).toEqual([]);
    }
  });

  it('is idempotent: a second pass plans nothing', async () => {
    for (const [i, hv] of fx.hypervisors.entries()) {
      const actual = await agents[i]!.kernel.read();
      const steps = plan(
        (await import('./model.ts')).deriveDesired(world.entriesFor(hv.name), {
          prefix: PREFIX,
          hypervisor: hv.name,
          vtep: hv.vtep,
          mtu: 1450,
        }),
        actual.model,
        actual.extras,
      );
      expect(steps).toEqual([]);
    }
  });

  it('applies an attach incrementally without disturbing a running flow, and repairs drift', async () => {
    const stream = run('ip', [
      'netns',
      'exec',
      vm('hv1', 'va1'),
      'ping',
      '-n',
      '-i',
      '0.01',
      '-c',
      '300',
      '-W',
      '1',
      '10.1.2.13',
    ]);
    await new Promise((r) => setTimeout(r, 300));
    world.loadSnapshot(
      snapshot(
        (i) => `10.99.0.${i}`,
        [
          {
            id: 'va4',
            revision: 2,
            subnet: 'a2',
            hypervisor: 'hv1',
            name: 'va4',
            mac: '02:00:00:00:02:04',
            ip: '10.1.2.14',
            securityGroups: [],
            description: '',
          },
        ],
      ),
    );
    for (const [i, hv] of fx.hypervisors.entries()) {
      expect(await agents[i]!.programEntries(world.entriesFor(hv.name))).toEqual([]);
    }
    // Drift: someone removes a neighbour and an fdb entry; the next pass restores exactly those.
    const dom2 = domainNsName({ prefix: PREFIX, hypervisor: 'hv2' }, 'da');
    await runOk('ip', ['-n', dom2, 'neigh', 'del', '10.1.1.11', 'dev', 'br101']);
    await runOk('bridge', ['-n', dom2, 'fdb', 'del', '02:00:00:00:01:01', 'dev', 'vx101', 'self']);
    expect(await agents[1]!.programEntries(world.entriesFor('hv2'))).toEqual([]);
    expect(agents[1]!.stats.lastPlanSize).toBe(3);
    const result = await stream;
    const m = /(\d+) packets transmitted, (\d+) received/.exec(result.stdout);
    expect(m).not.toBeNull();
    expect(Number(m![2])).toBe(Number(m![1]));
    expect(await ping(vm('hv2', 'va3'), '10.1.2.14')).toBe(true);
    expect(await ping(vm('hv1', 'va4'), '10.1.1.12')).toBe(true);
  });

  it('removes a detached VM and its remote entries', async () => {
    world.loadSnapshot(snapshot((i) => `10.99.0.${i}`));
    for (const [i, hv] of fx.hypervisors.entries()) {
      expect(await agents[i]!.programEntries(world.entriesFor(hv.name))).toEqual([]);
    }
    const list = await runOk('ip', ['netns', 'list']);
    expect(list).not.toContain(vm('hv1', 'va4'));
    const dom2 = domainNsName({ prefix: PREFIX, hypervisor: 'hv2' }, 'da');
    const fdb = await runOk('bridge', ['-n', dom2, 'fdb', 'show', 'dev', 'vx102']);
    expect(fdb).not.toContain('02:00:00:00:02:04');
    expect(
      planSize(
        plan(
          (await import('./model.ts')).deriveDesired(world.entriesFor('hv2'), {
            prefix: PREFIX,
            hypervisor: 'hv2',
            vtep: '10.99.0.2',
            mtu: 1450,
          }),
          (await agents[1]!.kernel.read()).model,
        ),
      ),
    ).toBe(0);
  });

  it('programs an attach with no process start (one without the session helper)', async () => {
    // Counted for real: every process the kernel writer starts (write processes, batch sessions started,
    // reads). The router namespaces' batch sessions exist from the passes above; the VM namespace is
    // made and its eth0 configured (rtnetlink) by the session helper; without the helper the VM
    // namespace's own `ip` batch is the one process.
    const processes = (agent: Agent) =>
      agent.kernel.writeProcesses + agent.kernel.sessions.starts + agent.kernel.readProcesses;
    const attach = async (vports: ReturnType<typeof vportOnHv1>[]) => {
      world.loadSnapshot(snapshot((i) => `10.99.0.${i}`, vports));
      const started: number[] = [];
      for (const [i, hv] of fx.hypervisors.entries()) {
        const agent = agents[i]!;
        const desired = (await import('./model.ts')).deriveDesired(world.entriesFor(hv.name), {
          prefix: PREFIX,
          hypervisor: hv.name,
          vtep: hv.vtep,
          mtu: 1450,
        });
        const actual = await agent.kernel.read();
        const before = processes(agent);
        expect(await agent.kernel.apply(plan(desired, actual.model, actual.extras))).toEqual([]);
        started.push(processes(agent) - before);
      }
      return started;
    };
    await attach([vportOnHv1(0x21)]);
    const [hosting, remote] = await attach([vportOnHv1(0x21), vportOnHv1(0x22)]);
    expect(hosting).toBeLessThanOrEqual(agentNftSession.available ? 0 : 1);
    expect(remote).toBe(0);
    expect(await ping(vm('hv1', 'va34'), '10.1.1.12')).toBe(true);
    expect(await ping(vm('hv2', 'va2'), '10.1.1.34')).toBe(true);
    world.loadSnapshot(snapshot((i) => `10.99.0.${i}`));
    for (const [i, hv] of fx.hypervisors.entries())
      expect(await agents[i]!.programEntries(world.entriesFor(hv.name))).toEqual([]);
  });

  it('repairs drift from audit slices of one or two process starts each', async () => {
    const agent = agents[1]!;
    const dom2 = domainNsName({ prefix: PREFIX, hypervisor: 'hv2' }, 'da');
    await runOk('ip', ['-n', dom2, 'neigh', 'del', '10.1.1.11', 'dev', 'br101']);
    const before = agent.kernel.readProcesses;
    let audits = 0;
    await waitFor(
      async () => {
        await agent.auditOnce();
        audits++;
        return (await runOk('ip', ['-n', dom2, 'neigh', 'show', '10.1.1.11', 'dev', 'br101'])).includes(
          '02:00:00:00:01:01',
        );
      },
      (restored) => restored,
      { timeoutMs: 30_000, what: 'the deleted neighbour restored by an audit' },
    );
    expect((agent.kernel.readProcesses - before) / audits).toBeLessThanOrEqual(2);
    expect(agent.stats.audits).toBeGreaterThan(0);
    // With nothing drifted an audit slice is read and compared, and no programming pass follows.
    const passes = agent.stats.reconciles;
    for (let i = 0; i < 3; i++) await agent.auditOnce();
    expect(agent.stats.reconciles).toBe(passes);
  });
});
