/**
 * tshark as an independent decoder: a session between two of our speakers over a namespace veth
 * (port 179), captured with tcpdump; tshark's JSON must show the same field values we encoded.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ip, vethBetween } from '../kernel/netns.ts';
import { otwinEnv } from '../util/env.ts';
import { run } from '../util/exec.ts';
import { fixturePrefix } from '../util/fixture-prefix.ts';
import { waitFor } from '../util/poll.ts';
import { NamespaceSet } from './fixtures/frr.ts';
import { SpeakerProcess } from './tap.ts';

const prefix = fixturePrefix('otd', 't');
const pcap = `/tmp/${prefix}-bgp.pcap`;
const set = new NamespaceSet();
let fields: Map<string, string[]>;
let capture: ChildProcess | undefined;
const procs: SpeakerProcess[] = [];

/** Every `"key": "value"` pair anywhere in tshark's JSON, per key (`--no-duplicate-keys` turns the repeated `bgp` key of a frame carrying several messages into an array). */
function flatten(node: unknown, out: Map<string, string[]>): void {
  if (Array.isArray(node)) for (const x of node) flatten(x, out);
  else if (node && typeof node === 'object')
    for (const [k, v] of Object.entries(node)) {
      if (typeof v === 'string') {
        let list = out.get(k);
        if (!list) {
          list = [];
          out.set(k, list);
        }
        list.push(v);
      } else flatten(v, out);
    }
}

async function tsharkFields(): Promise<Map<string, string[]>> {
  const res = await run('tshark', ['-r', pcap, '-T', 'json', '--no-duplicate-keys', '-Y', 'bgp']);
  const out = new Map<string, string[]>();
  if (res.exitCode === 0 && res.stdout.trim()) flatten(JSON.parse(res.stdout), out);
  return out;
}

beforeAll(async () => {
  const a = await set.add(`${prefix}-a`);
  const b = await set.add(`${prefix}-b`);
  await vethBetween({ ns: a, ifname: 'eth1' }, { ns: b, ifname: 'eth1' });
  await ip(a, ['addr', 'add', '192.0.2.1/24', 'dev', 'eth1']);
  await ip(b, ['addr', 'add', '192.0.2.2/24', 'dev', 'eth1']);
  // `ip netns exec` execs tcpdump in place: the child's pid is tcpdump's.
  const tcpdump = spawn(
    'ip',
    ['netns', 'exec', a, 'tcpdump', '-i', 'eth1', '-U', '-Z', 'root', '-w', pcap, 'tcp port 179'],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  capture = tcpdump;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('tcpdump did not start')), 10_000);
    tcpdump.stderr!.on('data', (d: Buffer) => {
      if (d.toString().includes('listening on')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  const A = await SpeakerProcess.start({
    netnsPath: `/run/netns/${a}`,
    speaker: {
      localAs: 65000,
      routerId: '192.0.2.1',
      listen: { port: 179 },
      families: ['l2vpn-evpn', 'ipv4-vpn'],
      peers: [{ address: '192.0.2.2', remoteAs: 65001, passive: true }],
    },
  });
  procs.push(A);
  const B = await SpeakerProcess.start({
    netnsPath: `/run/netns/${b}`,
    speaker: {
      localAs: 65001,
      routerId: '192.0.2.2',
      holdTime: 30,
      families: ['l2vpn-evpn', 'ipv4-vpn'],
      gracefulRestart: { restartTime: 120 },
      peers: [{ address: '192.0.2.1', remoteAs: 65000 }],
    },
  });
  procs.push(B);
  await A.waitEvent((e) => e.ev === 'established', 15_000, 'session A–B');
  const esi = '00:00:00:00:00:00:00:00:00:00';
  B.announce(
    [
      {
        afi: 'l2vpn-evpn',
        type: 2,
        rd: '192.0.2.2:100',
        esi,
        ethTag: 0,
        mac: '02:00:5e:00:02:02',
        ip: '198.51.100.2',
        labels: [100],
      },
    ],
    {
      nextHop: '192.0.2.2',
      communities: ['65000:101'],
      extCommunities: [
        { type: 'route-target', value: '65000:100' },
        { type: 'encapsulation', tunnelType: 8 },
        { type: 'mac-mobility', seq: 5, sticky: true },
      ],
      largeCommunities: ['65000:1:2'],
    },
  );
  B.announce([{ afi: 'l2vpn-evpn', type: 3, rd: '192.0.2.2:100', ethTag: 0, originatorIp: '192.0.2.2' }], {
    nextHop: '192.0.2.2',
    // RFC 8365 §5.1.3: type-3 routes carry the encapsulation community too (FRR does); tshark needs it to
    // read the PMSI label as a VNI rather than an MPLS label.
    extCommunities: [
      { type: 'route-target', value: '65000:100' },
      { type: 'encapsulation', tunnelType: 8 },
    ],
    pmsiTunnel: { flags: 0, tunnelType: 6, label: 100, tunnelId: '192.0.2.2' },
  });
  B.announce([{ afi: 'ipv4-vpn', rd: '65000:7', prefix: '203.0.113.0/25', labels: [1007] }], {
    nextHop: '192.0.2.2',
    communities: ['65000:202'],
    med: 5,
  });
  await A.waitEvent(
    (e) => e.ev === 'update' && e.update.announced.some((r) => r.afi === 'ipv4-vpn'),
    15_000,
    'VPN route at A',
  );
  await B.close();
  // The Cease NOTIFICATION is the last message: once tshark sees it, everything before is captured.
  fields = await waitFor(tsharkFields, (f) => (f.get('bgp.type') ?? []).includes('3'), {
    timeoutMs: 15_000,
    intervalMs: 200,
    what: 'the NOTIFICATION in the capture',
  });
});

afterAll(async () => {
  for (const p of procs) await p.close();
  if (capture?.pid && capture.exitCode === null) {
    capture.kill('SIGINT');
    await new Promise((r) => capture!.once('exit', r));
  }
  await set.destroy();
  if (!otwinEnv('KEEP_PCAP')) await rm(pcap, { force: true });
});

describe('tshark decodes what we encode', () => {
  const has = (key: string, ...values: string[]) => {
    for (const v of values) expect(fields.get(key) ?? [], `${key} contains ${v}`).toContain(v);
  };

  it('OPEN: version, AS (2- and 4-octet), hold time, identifier, capabilities', () => {
    has('bgp.open.version', '4');
    has('bgp.open.myas', '65000', '65001');
    has('bgp.cap.4as', '65000', '65001');
    has('bgp.open.holdtime', '90', '30');
    has('bgp.open.identifier', '192.0.2.1', '192.0.2.2');
    has('bgp.cap.mp.afi', '25', '1');
    has('bgp.cap.mp.safi', '70', '128');
    has('bgp.cap.gr.timers.restart_time', '120');
  });

  it('EVPN type-2 and type-3 NLRI', () => {
    has('bgp.evpn.nlri.rt', '2', '3');
    // RD 192.0.2.2:100 is type 1: 00 01 | c0 00 02 02 | 00 64.
    has('bgp.evpn.nlri.rd', '00:01:c0:00:02:02:00:64');
    has('bgp.evpn.nlri.mac_addr', '02:00:5e:00:02:02');
    has('bgp.evpn.nlri.ip.addr', '198.51.100.2', '192.0.2.2');
    has('bgp.evpn.nlri.esi', '00:00:00:00:00:00:00:00:00:00');
    has('bgp.evpn.nlri.etag', '0');
    has('bgp.evpn.nlri.vni', '100');
    has('bgp.update.path_attribute.mp_reach_nlri.afi', '25');
    has('bgp.update.path_attribute.mp_reach_nlri.next_hop.ipv4', '192.0.2.2');
  });

  it('attributes: origin, AS path, MED, communities, large communities, extended communities, PMSI', () => {
    has('bgp.update.path_attribute.origin', '0');
    has('bgp.update.path_attribute.as_path_segment.as4', '65001');
    has('bgp.update.path_attribute.multi_exit_disc', '5');
    has('bgp.update.path_attribute.community_as', '65000');
    has('bgp.update.path_attribute.community_value', '101', '202');
    has('bgp.large_communities.ga', '65000');
    has('bgp.large_communities.ldp1', '1');
    has('bgp.large_communities.ldp2', '2');
    has('bgp.ext_com.value_as2', '65000');
    has('bgp.ext_com.value_an4', '100');
    has('bgp.ext_com.tunnel_type', '8');
    has('bgp.ext_com_evpn.mmac.seq', '5');
    has('bgp.ext_com_evpn.mmac.flags.sticky', '1');
    has('bgp.update.path_attribute.pmsi.tunnel.type', '6');
    has('bgp.update.path_attribute.pmsi.ingress_rep_ip', '192.0.2.2');
  });

  it('VPN-IPv4 NLRI: RD, label stack, prefix', () => {
    has('bgp.rd', '65000:7');
    has('bgp.label_stack', '1007 (bottom)');
    has('bgp.mp_reach_nlri_ipv4_prefix', '203.0.113.0');
    // 24 label bits + 64 RD bits + /25.
    has('bgp.prefix_length', '113');
    has('bgp.update.path_attribute.mp_reach_nlri.next_hop.rd', '0:0');
  });

  it('NOTIFICATION Cease / administrative shutdown, and no malformed packets', () => {
    has('bgp.notify.major_error', '6');
    expect(fields.has('_ws.malformed')).toBe(false);
    expect(fields.has('_ws.expert.message')).toBe(false);
  });
});
