import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BgpTap, EvpnMacIp } from '../harness/bgp/index.ts';
import type { DeployedLab, Runtime } from '../harness/runtime/runtime.ts';
import type { Topology } from '../harness/topology/types.ts';
import { forEachConcurrent } from '../harness/util/concurrent.ts';
import { otwinEnv } from '../harness/util/env.ts';
import { run } from '../harness/util/exec.ts';
import { pollUntil } from '../harness/util/poll.ts';
import { SG_TABLE } from './agent/security.ts';
import { secgroupIds } from './controller/security.ts';
import { DirectoryClient } from './directory/client.ts';
import { createTwoZones, deployLab2az, lab2azFile, lab2azFiles } from './lab-2az.ts';
import { formatIPv4 } from './protocol/addr.ts';

const NAME = otwinEnv('SG_LAB') ?? `otwin-sg${process.pid % 10000}`;
// 2,000 members in the test suite (each is one API create); `npm run bench -- sg --members 10000` and
// OTWIN_SG_MEMBERS=10000 show the same one-element-per-member shape at 10,000.
const MEMBERS = Number(otwinEnv('SG_MEMBERS') ?? 2_000);
// Creates in flight at once: the API round trips overlap instead of adding up.
const CREATES_IN_FLIGHT = 8;
const LAB = lab2azFile(NAME);
const FILES = lab2azFiles(NAME);
const NS = `${NAME}-`;

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN;
};

describe('security groups on the two-zone reference lab', () => {
  let topo: Topology;
  let runtime: Runtime;
  let lab: DeployedLab;
  let tap: BgpTap;
  let web = 0;
  let db = 0;
  const client = new DirectoryClient({ url: `unix:${FILES.socket}`, token: FILES.token, timeoutMs: 10_000 });
  const vmExec = (hv: string, vport: string, argv: string[]) =>
    lab.node(hv).exec(['ip', 'netns', 'exec', `${NS}${hv}-vm-${vport}`, ...argv]);
  const ping = async (hv: string, vport: string, target: string) =>
    (await vmExec(hv, vport, ['ping', '-n', '-q', '-c', '1', '-W', '1', target])).exitCode === 0;
  /** `nft <args>` in hypervisor `hv`'s router namespace of domain da. */
  const nftIn = (hv: string, args: string[]) =>
    lab.node(hv).exec(['ip', 'netns', 'exec', `${NS}${hv}-d-da`, 'nft', ...args]);
  type NftItems = { nftables: Array<{ set?: { elem?: string[] }; rule?: unknown }> };
  /** Elements of group `sgid`'s set on `hv`. */
  const members = async (hv: string, sgid: number): Promise<string[]> => {
    const r = await nftIn(hv, ['-j', 'list', 'set', 'inet', SG_TABLE, `g${sgid}`]);
    if (r.exitCode !== 0) return [];
    return (JSON.parse(r.stdout) as NftItems).nftables.find((i) => i.set)?.set?.elem ?? [];
  };
  const ruleCount = async (hv: string) => {
    const r = await nftIn(hv, ['-j', 'list', 'chain', 'inet', SG_TABLE, 'sg_rules']);
    return (JSON.parse(r.stdout || '{"nftables":[]}') as NftItems).nftables.filter((i) => i.rule).length;
  };
  /** True when group `sgid`'s set on `hv` holds `ip` (`nft get element`: cost independent of the set size). */
  const holds = async (hv: string, sgid: number, ip: string) =>
    (await nftIn(hv, ['get', 'element', 'inet', SG_TABLE, `g${sgid}`, `{ ${ip} }`])).exitCode === 0;
  /** ms from a PATCH of x2's groups until `hv`'s web set does (or does not) hold x2's address. */
  const timedChange = async (join: boolean, hv: string) => {
    const started = performance.now();
    await client.patch('vports', 'x2', { securityGroups: join ? ['web'] : [] });
    const r = await pollUntil(
      () => holds(hv, web, '10.7.1.12'),
      (held) => held === join,
      { timeoutMs: 10_000, intervalMs: 5, what: `x2 ${join ? 'in' : 'out of'} web on ${hv}` },
    );
    expect(r.ok).toBe(true);
    return performance.now() - started;
  };

  beforeAll(async () => {
    ({ topo, runtime, lab, tap } = await deployLab2az(LAB, FILES, client));
    await createTwoZones(client);
    await client.create('tenants', { id: 'ta', name: 'a' });
    await client.create('domains', { id: 'da', tenant: 'ta', name: 'main' });
    await client.create('subnets', {
      id: 'a1',
      domain: 'da',
      name: 'vms',
      vni: 7001,
      prefix: '10.7.1.0/24',
      gateway: '10.7.1.1',
    });
    await client.create('subnets', {
      id: 'a2',
      domain: 'da',
      name: 'bulk',
      vni: 7002,
      prefix: '10.64.0.0/16',
      gateway: '10.64.0.1',
    });
    web = (await client.create('securityGroups', { id: 'web', tenant: 'ta', name: 'web', domain: 'da' }))
      .sgid;
    db = (await client.create('securityGroups', { id: 'db', tenant: 'ta', name: 'db', domain: 'da' })).sgid;
    await client.create('securityRules', {
      id: 'db-icmp',
      securityGroup: 'db',
      direction: 'ingress',
      protocol: 'icmp',
      remoteGroup: 'web',
    });
    const vport = (id: string, hv: string, n: number, groups: string[]) =>
      client.create('vports', {
        id,
        subnet: 'a1',
        hypervisor: hv,
        name: id,
        mac: `02:00:00:07:01:${n.toString(16).padStart(2, '0')}`,
        ip: `10.7.1.${n}`,
        securityGroups: groups,
      });
    await vport('w1', 'hv1', 11, ['web']);
    await vport('x2', 'hv2', 12, []);
    await vport('d3', 'hv3', 13, ['db']);
    const up = await pollUntil(
      () => ping('hv1', 'w1', '10.7.1.13'),
      (ok) => ok,
      { timeoutMs: 60_000, intervalMs: 250, what: 'w1 (z1, web) → d3 (z2, db)' },
    );
    expect(up.ok).toBe(true);
  }, 180_000);

  afterAll(async () => {
    await tap?.stop().catch(() => {});
    if (!otwinEnv('KEEP_LAB') && topo) await runtime.destroy(topo, { cleanup: true });
    // The renamed copy's folders: the lab file's and the roles' (directory database, secrets).
    if (!otwinEnv('KEEP_LAB')) {
      rmSync(dirname(LAB), { recursive: true, force: true });
      rmSync(FILES.root, { recursive: true, force: true });
    }
    const list = await run('ip', ['-j', 'netns', 'list']);
    for (const { name } of JSON.parse(list.stdout || '[]') as Array<{ name: string }>)
      if (name.startsWith(NS) && !otwinEnv('KEEP_LAB')) await run('ip', ['netns', 'delete', name]);
  }, 120_000);

  it('enforces across zones with members learned over BGP, default deny otherwise', async () => {
    expect(await ping('hv1', 'w1', '10.7.1.13')).toBe(true);
    expect(await ping('hv2', 'x2', '10.7.1.13')).toBe(false);
    expect(await ping('hv3', 'd3', '10.7.1.11')).toBe(false);
    // hv3 (zone 2) knows w1 as a web member only from w1's route.
    expect(await members('hv3', web)).toEqual(['10.7.1.11']);
    // And hv1 (zone 1) knows d3 as a db member only from d3's route, reflected across the zones.
    expect(await members('hv1', db)).toEqual(['10.7.1.13']);
  });

  it("carries a VM's groups on its type-2 route as secgroup communities", async () => {
    const r = await pollUntil(
      async () =>
        tap
          .routes()
          .filter(
            (x) =>
              x.route.afi === 'l2vpn-evpn' &&
              (x.route as EvpnMacIp).type === 2 &&
              (x.route as EvpnMacIp).ip === '10.7.1.11',
          ),
      (routes) => routes.length > 0,
      { timeoutMs: 10_000, intervalMs: 100, what: "w1's type-2 at the tap" },
    );
    expect(secgroupIds(r.value?.[0]?.attrs.extCommunities)).toEqual([web]);
  });

  it('a membership change reaches the other zone as set elements only', async () => {
    const rulesBefore = await ruleCount('hv3');
    const times: number[] = [];
    const sameZone: number[] = [];
    for (let i = 0; i < 10; i++) times.push(await timedChange(i % 2 === 0, 'hv3'));
    for (let i = 0; i < 10; i++) sameZone.push(await timedChange(i % 2 === 0, 'hv1'));
    expect(await ruleCount('hv3')).toBe(rulesBefore);
    console.log(
      `SG membership change, API call → nft element (10 changes each, few members): other zone (hv3, through BGP) p50 ${quantile(times, 0.5).toFixed(0)} ms, max ${Math.max(...times).toFixed(0)} ms; same zone (hv1) p50 ${quantile(sameZone, 0.5).toFixed(0)} ms, max ${Math.max(...sameZone).toFixed(0)} ms`,
    );
    await timedChange(true, 'hv3');
    expect(
      (
        await pollUntil(
          () => ping('hv2', 'x2', '10.7.1.13'),
          (ok) => ok,
          { timeoutMs: 5000, intervalMs: 100, what: 'x2 → d3' },
        )
      ).ok,
    ).toBe(true);
    await timedChange(false, 'hv3');
  });

  it(`holds ${MEMBERS} bulk members as set elements (one per member) and still changes membership fast`, async () => {
    const started = performance.now();
    await forEachConcurrent([...Array(MEMBERS).keys()], CREATES_IN_FLIGHT, (i) => {
      const a = (10 << 24) + (64 << 16) + 256 + i; // 10.64.1.0 upward
      return client.create('vports', {
        id: `b${i}`,
        subnet: 'a2',
        hypervisor: 'hv2',
        name: `bulk-web-${i}`,
        attachment: 'none',
        mac: `02:b0:00:00:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`,
        ip: formatIPv4(a >>> 0),
        securityGroups: ['web'],
      });
    });
    const created = performance.now() - started;
    const counts: Record<string, number> = {};
    for (const hv of ['hv1', 'hv3']) {
      const r = await pollUntil(
        () => members(hv, web),
        (m) => m.length >= MEMBERS + 1,
        { timeoutMs: 600_000, intervalMs: 1000, what: `${MEMBERS} members on ${hv}` },
      );
      counts[hv] = r.value?.length ?? 0;
    }
    const converged = performance.now() - started;
    const rules = await ruleCount('hv3');
    const times: number[] = [];
    for (let i = 0; i < 6; i++) times.push(await timedChange(i % 2 === 0, 'hv3'));
    console.log(
      `SG bulk: ${MEMBERS} members created in ${(created / 1000).toFixed(1)} s, in every set after ${(converged / 1000).toFixed(1)} s; web set elements hv1 ${counts.hv1}, hv3 ${counts.hv3} (per member: ${((counts.hv3 ?? 0) / (MEMBERS + 1)).toFixed(3)}); rules in sg_rules on hv3: ${rules}; membership change API → nft on hv3 at ${MEMBERS} members: p50 ${quantile(times, 0.5).toFixed(0)} ms, max ${Math.max(...times).toFixed(0)} ms`,
    );
    expect(counts.hv3).toBe(MEMBERS + 1);
    expect(rules).toBe(3);
  }, 900_000);
});
