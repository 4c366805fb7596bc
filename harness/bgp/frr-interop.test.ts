/**
 * Interop against real FRR 8.4 in namespaces (fixture: fixtures/evpn-lab.ts). FRR is an EVPN VTEP with
 * advertise-all-vni and the route reflector; our speaker (192.0.2.2) and our tap (192.0.2.3) are its
 * RR clients, each a child process inside the `us` namespace.
 */
import { attachment } from 'allure-js-commons';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runJson, runOk } from '../util/exec.ts';
import { waitFor } from '../util/poll.ts';
import { buildEvpnLab, type EvpnLab, LAB, pingFrom } from './fixtures/evpn-lab.ts';
import { BgpTap, SpeakerProcess } from './tap.ts';
import type { EvpnInclusiveMulticast, EvpnMacIp, PathAttributes, Vpnv4Route } from './types.ts';

interface DetailPath {
  VNI?: string;
  extendedCommunity?: { string: string };
  community?: { string: string };
  pmsi?: { tunnelType: string; label: number };
  nexthops: Array<{ ip: string }>;
  peer?: { peerId: string; routerId: string };
  originatorId?: string;
}
interface DetailRoute {
  prefix: string;
  rd: string;
  routeType: number;
  ethTag: number;
  mac?: string;
  ip?: string;
  paths: DetailPath[][];
}

/** Flattens `show bgp l2vpn evpn route detail json` into one entry per route (RD × prefix). */
function detailRoutes(json: Record<string, unknown>): DetailRoute[] {
  const out: DetailRoute[] = [];
  for (const [rd, byPrefix] of Object.entries(json)) {
    if (!byPrefix || typeof byPrefix !== 'object') continue;
    for (const [prefix, r] of Object.entries(byPrefix as Record<string, unknown>)) {
      if (prefix === 'rd' || !r || typeof r !== 'object') continue;
      out.push({ ...(r as DetailRoute), rd });
    }
  }
  return out;
}

let lab: EvpnLab;
let tap: BgpTap;
let speaker: SpeakerProcess;

beforeAll(async () => {
  lab = await buildEvpnLab('i');
  tap = await BgpTap.start({
    netnsPath: `/run/netns/${lab.ns.us}`,
    localAddress: LAB.tapUnderlay,
    peerAddress: LAB.frrUnderlay,
    localAs: LAB.asn,
    peerAs: LAB.asn,
    routerId: LAB.tapUnderlay,
  });
  speaker = await SpeakerProcess.start({
    netnsPath: `/run/netns/${lab.ns.us}`,
    speaker: {
      localAs: LAB.asn,
      routerId: LAB.usUnderlay,
      holdTime: 9,
      connectRetryMs: 1000,
      localAddress: LAB.usUnderlay,
      families: ['l2vpn-evpn', 'ipv4-vpn'],
      gracefulRestart: { restartTime: 60 },
      peers: [{ address: LAB.frrUnderlay, remoteAs: LAB.asn }],
    },
  });
  await Promise.all([
    tap.waitEstablished(30_000),
    speaker.waitEvent((e) => e.ev === 'established', 30_000, 'our speaker Established with FRR'),
  ]);
  // h1 talks once so FRR learns its MAC and IP (the bridge has an IP in the subnet).
  await pingFrom(lab.ns.h1, LAB.frrBridgeIp, 1);
});

afterAll(async () => {
  if (tap) await attachment('bgp-tap-transcript.jsonl', tap.rib.jsonl(), 'application/x-ndjson');
  await tap?.stop();
  await speaker?.close();
  await lab?.destroy();
});

describe('BGP interop with FRR 8.4', () => {
  it('establishes sessions FRR agrees are up, with the families we asked for', async () => {
    const summary = await lab.frr.vtyshJson<{ peers: Record<string, { state: string }> }>(
      'show bgp l2vpn evpn summary json',
    );
    expect(summary.peers[LAB.usUnderlay]?.state).toBe('Established');
    expect(summary.peers[LAB.tapUnderlay]?.state).toBe('Established');
  });

  it("decodes FRR's type-2 and type-3 routes exactly as vtysh reports them", async () => {
    await tap.waitForRoute({ type: 2, ip: LAB.h1.ip, nextHop: LAB.frrUnderlay }, 20_000);
    const frrRoutes = detailRoutes(await lab.frr.vtyshJson('show bgp l2vpn evpn route detail json')).filter(
      (r) => r.paths.flat().some((p) => p.nexthops[0]?.ip === LAB.frrUnderlay),
    );
    expect(frrRoutes.length).toBeGreaterThanOrEqual(3);
    const mine = tap.routes({ afi: 'l2vpn-evpn', nextHop: LAB.frrUnderlay });
    expect(mine).toHaveLength(frrRoutes.length);
    for (const fr of frrRoutes) {
      const path = fr.paths.flat()[0]!;
      const match = mine.find((m) => {
        const r = m.route as EvpnMacIp | EvpnInclusiveMulticast;
        if (r.type !== fr.routeType || r.rd !== fr.rd) return false;
        if (r.type === 2) return r.mac === fr.mac && (r.ip ?? undefined) === (fr.ip ?? undefined);
        return r.originatorIp === fr.ip;
      });
      expect(match, `tap has ${fr.rd} ${fr.prefix}`).toBeDefined();
      const got = match!;
      expect(got.attrs.nextHop).toBe(path.nexthops[0]!.ip);
      expect((got.route as { ethTag: number }).ethTag).toBe(fr.ethTag);
      // Extended communities as FRR prints them ("ET:8 RT:65000:100").
      const ours = (got.attrs.extCommunities ?? [])
        .map((c) =>
          c.type === 'route-target'
            ? `RT:${c.value}`
            : c.type === 'encapsulation'
              ? `ET:${c.tunnelType}`
              : '',
        )
        .filter(Boolean)
        .sort();
      expect(ours).toEqual(path.extendedCommunity!.string.split(' ').sort());
      if (fr.routeType === 2) expect((got.route as EvpnMacIp).labels).toEqual([Number(path.VNI)]);
      if (fr.routeType === 3) {
        expect(got.attrs.pmsiTunnel).toMatchObject({
          tunnelType: 6,
          label: path.pmsi!.label,
          tunnelId: LAB.frrUnderlay,
        });
        expect(path.pmsi!.tunnelType).toBe('Ingress Replication');
      }
    }
  });

  it('originates type-2 (community + RT) and type-3 (PMSI) that FRR accepts and zebra installs; traffic flows', async () => {
    const rd = `${LAB.usUnderlay}:100`;
    const attrs: PathAttributes = {
      nextHop: LAB.usUnderlay,
      communities: ['65000:101'],
      extCommunities: [
        { type: 'route-target', value: `${LAB.asn}:${LAB.vni}` },
        { type: 'encapsulation', tunnelType: 8 },
      ],
    };
    const t2: EvpnMacIp = {
      afi: 'l2vpn-evpn',
      type: 2,
      rd,
      esi: '00:00:00:00:00:00:00:00:00:00',
      ethTag: 0,
      mac: LAB.h2.mac,
      ip: LAB.h2.ip,
      labels: [LAB.vni],
    };
    const t3: EvpnInclusiveMulticast = {
      afi: 'l2vpn-evpn',
      type: 3,
      rd,
      ethTag: 0,
      originatorIp: LAB.usUnderlay,
    };
    speaker.announce([t2], attrs);
    speaker.announce([t3], {
      ...attrs,
      communities: [],
      pmsiTunnel: { flags: 0, tunnelType: 6, label: LAB.vni, tunnelId: LAB.usUnderlay },
    });

    // In FRR's RIB with the right RD / RT / VNI / community.
    const mineAtFrr = await waitFor(
      async () =>
        detailRoutes(await lab.frr.vtyshJson('show bgp l2vpn evpn route detail json')).filter(
          (r) => r.rd === rd,
        ),
      (rs) => rs.length >= 2,
      { timeoutMs: 20_000, intervalMs: 200, what: 'our routes in FRR' },
    );
    const frT2 = mineAtFrr.find((r) => r.routeType === 2)!;
    const frT3 = mineAtFrr.find((r) => r.routeType === 3)!;
    expect(frT2.mac).toBe(LAB.h2.mac);
    expect(frT2.ip).toBe(LAB.h2.ip);
    const p2 = frT2.paths.flat()[0]!;
    expect(p2.VNI).toBe(String(LAB.vni));
    expect(p2.community?.string).toBe('65000:101');
    expect(p2.extendedCommunity?.string.split(' ').sort()).toEqual(['ET:8', `RT:${LAB.asn}:${LAB.vni}`]);
    expect(p2.nexthops[0]!.ip).toBe(LAB.usUnderlay);
    const p3 = frT3.paths.flat()[0]!;
    expect(frT3.ip).toBe(LAB.usUnderlay);
    expect(p3.pmsi).toEqual({ tunnelType: 'Ingress Replication', label: LAB.vni });

    // zebra installs them into the kernel VXLAN fdb of the FRR VTEP.
    type Fdb = { mac: string; dst?: string; flags?: string[] };
    const fdb = await waitFor(
      () => runJson<Fdb[]>('bridge', ['-n', lab.ns.frr, '-j', 'fdb', 'show', 'dev', 'vxlan100']),
      (es) =>
        es.some((e) => e.mac === LAB.h2.mac && e.dst === LAB.usUnderlay) &&
        es.some((e) => e.mac === '00:00:00:00:00:00' && e.dst === LAB.usUnderlay),
      { timeoutMs: 20_000, intervalMs: 200, what: 'FRR VTEP fdb entries for our routes' },
    );
    expect(fdb.find((e) => e.mac === LAB.h2.mac && e.dst === LAB.usUnderlay)?.flags).toContain(
      'extern_learn',
    );

    // Our kernel VTEP, programmed from what the tap decoded of FRR's routes (flood list + h1's MAC).
    const flood = await tap.waitForRoute({ type: 3, vni: LAB.vni, nextHop: LAB.frrUnderlay });
    const h1 = await tap.waitForRoute({ type: 2, mac: LAB.h1.mac, vni: LAB.vni });
    const bridge = (args: string[]) => runOk('bridge', ['-n', lab.ns.us, ...args]);
    await bridge([
      'fdb',
      'append',
      '00:00:00:00:00:00',
      'dev',
      'vxlan100',
      'dst',
      flood.attrs.pmsiTunnel!.tunnelId,
    ]);
    await bridge([
      'fdb',
      'replace',
      (h1.route as EvpnMacIp).mac,
      'dev',
      'vxlan100',
      'dst',
      h1.attrs.nextHop!,
      'static',
    ]);

    const ok = await waitFor(
      () => pingFrom(lab.ns.h1, LAB.h2.ip, 2),
      (v) => v,
      { timeoutMs: 20_000, intervalMs: 200, what: 'ping h1 → h2 across FRR VTEP ↔ our VTEP' },
    );
    expect(ok).toBe(true);
  });

  it("decodes FRR's own VPNv4 routes (RD types 0/1/2, label, RT, next hop) as vtysh reports them", async () => {
    // Originated the way a PE without VRFs does it (labs/fed-vpn/pe2/frr.conf): static VPN prefixes.
    const own = [
      { prefix: '198.19.1.0/24', rd: '192.0.2.1:15001', label: 1501 },
      { prefix: '198.19.2.0/24', rd: '65000:15002', label: 1502 },
      { prefix: '198.19.3.0/24', rd: '4200000000:3', label: 1503 },
    ];
    await lab.frr.vtysh(
      [
        'configure terminal',
        'route-map vpn-site permit 10',
        ' set extcommunity rt 65000:15001',
        'exit',
        `router bgp ${LAB.asn}`,
        ' address-family ipv4 vpn',
        ...own.map((o) => `  network ${o.prefix} rd ${o.rd} label ${o.label} route-map vpn-site`),
        ' exit-address-family',
        'exit',
      ].join('\n'),
    );
    for (const o of own) {
      const got = await tap.waitForRoute({ afi: 'ipv4-vpn', rd: o.rd, prefix: o.prefix }, 20_000);
      // FRR's view of the same route: keyed by RD, with the route target among its extended communities.
      const detail = await lab.frr.vtyshJson<
        Record<string, { prefix: string; paths: Array<{ extendedCommunity?: { string: string } }> }>
      >(`show bgp ipv4 vpn rd ${o.rd} ${o.prefix} json`);
      const frrPaths = Object.values(detail).flatMap((e) =>
        e && typeof e === 'object' && 'paths' in e ? e.paths : [],
      );
      expect(frrPaths.length, JSON.stringify(detail)).toBeGreaterThan(0);
      const frrRts = frrPaths[0]!.extendedCommunity!.string.split(' ').filter((c) => c.startsWith('RT:'));
      expect(got.route).toEqual({ afi: 'ipv4-vpn', rd: o.rd, prefix: o.prefix, labels: [o.label] });
      expect(got.attrs.nextHop).toBe(LAB.frrUnderlay);
      const ourRts = (got.attrs.extCommunities ?? []).flatMap((c) =>
        c.type === 'route-target' ? [`RT:${c.value}`] : [],
      );
      expect(ourRts).toEqual(frrRts);
      expect(ourRts).toEqual(['RT:65000:15001']);
    }
  });

  it('has VPNv4 routes with communities reflected by FRR to a second RR client', async () => {
    const routes: Vpnv4Route[] = [
      { afi: 'ipv4-vpn', rd: '65000:7', prefix: '203.0.113.0/25', labels: [1007] },
      { afi: 'ipv4-vpn', rd: '192.0.2.2:8', prefix: '203.0.113.128/25', labels: [1008] },
    ];
    speaker.announce(routes, {
      nextHop: LAB.usUnderlay,
      communities: ['65000:101', '65000:202'],
      largeCommunities: ['65000:1:2'],
      extCommunities: [{ type: 'route-target', value: '65000:7' }],
    });
    for (const r of routes) {
      const got = await tap.waitForRoute({ afi: 'ipv4-vpn', rd: r.rd, prefix: r.prefix }, 20_000);
      expect(got.route).toEqual(r);
      expect(got.peer).toBe(LAB.frrUnderlay);
      expect(got.attrs.communities).toEqual(['65000:101', '65000:202']);
      expect(got.attrs.largeCommunities).toEqual(['65000:1:2']);
      expect(got.attrs.originatorId).toBe(LAB.usUnderlay);
      expect(got.attrs.clusterList).toEqual([LAB.frrUnderlay]);
      expect(got.attrs.nextHop).toBe(LAB.usUnderlay);
      expect(got.attrs.extCommunities).toContainEqual({
        type: 'route-target',
        value: '65000:7',
        encoding: 'as2',
      });
    }
    // Withdraw reaches the second client too; the transcript records it in order.
    speaker.withdraw([routes[0]!]);
    await tap.waitForNoRoute({ afi: 'ipv4-vpn', rd: routes[0]!.rd }, 20_000);
    const kinds = tap.transcript
      .filter((e) => e.routes?.some((r) => r.afi === 'ipv4-vpn'))
      .map((e) => e.kind);
    expect(kinds).toEqual(expect.arrayContaining(['announce', 'withdraw']));
    expect(kinds.lastIndexOf('withdraw')).toBeGreaterThan(kinds.indexOf('announce'));
  });
});
