/**
 * `npm run bench -- bgp [--no-frr] [--routes N]`: EVPN type-2 NLRI encode and decode throughput on one
 * core, and the time for 100,000 type-2 routes sent by our speaker to reach FRR's RIB (polling
 * `show bgp l2vpn evpn summary json` for the prefix count, never the full table).
 */

import { splitMessages } from '../harness/bgp/codec/messages.ts';
import { buildEvpnLab, LAB } from '../harness/bgp/fixtures/evpn-lab.ts';
import { decodeUpdate, encodeAnnounce } from '../harness/bgp/index.ts';
import { syntheticMacIp } from '../harness/bgp/speaker-process.ts';
import { SpeakerProcess } from '../harness/bgp/tap.ts';
import type { PathAttributes, Route } from '../harness/bgp/types.ts';
import { waitFor } from '../harness/util/poll.ts';

const attrs: PathAttributes = {
  origin: 'igp',
  asPath: [],
  nextHop: '192.0.2.2',
  localPref: 100,
  communities: ['65000:101'],
  extCommunities: [
    { type: 'route-target', value: '65000:100' },
    { type: 'encapsulation', tunnelType: 8 },
  ],
};

function codecThroughput(n: number): { encodePerS: number; decodePerS: number; messages: number } {
  const routes: Route[] = [];
  for (let i = 0; i < n; i++) routes.push(syntheticMacIp(i, '192.0.2.2:100', 100));
  // Warm up both paths so the JIT has settled before timing.
  for (let i = 0; i < 3; i++) encodeAnnounce('l2vpn-evpn', routes.slice(0, 20_000), attrs, { asn4: true });
  let best = Number.POSITIVE_INFINITY;
  let msgs: Buffer[] = [];
  for (let round = 0; round < 5; round++) {
    const t0 = performance.now();
    msgs = encodeAnnounce('l2vpn-evpn', routes, attrs, { asn4: true });
    best = Math.min(best, performance.now() - t0);
  }
  const encodePerS = n / (best / 1000);
  const bodies = msgs.map((m) => splitMessages(m).messages[0]!.body);
  const ctx = { asn4: true, ibgp: true };
  for (let i = 0; i < 3; i++) for (const b of bodies.slice(0, 200)) decodeUpdate(b, ctx);
  let bestDec = Number.POSITIVE_INFINITY;
  let count = 0;
  for (let round = 0; round < 5; round++) {
    count = 0;
    const t0 = performance.now();
    for (const b of bodies) count += decodeUpdate(b, ctx).announced.length;
    bestDec = Math.min(bestDec, performance.now() - t0);
  }
  if (count !== n) throw new Error(`decoded ${count} of ${n} NLRI`);
  return { encodePerS, decodePerS: n / (bestDec / 1000), messages: msgs.length };
}

async function frrIngest(count: number): Promise<number> {
  const lab = await buildEvpnLab('b', { hosts: false });
  let speaker: SpeakerProcess | undefined;
  try {
    speaker = await SpeakerProcess.start({
      netnsPath: `/run/netns/${lab.ns.us}`,
      speaker: {
        localAs: LAB.asn,
        routerId: LAB.usUnderlay,
        holdTime: 30,
        connectRetryMs: 1000,
        localAddress: LAB.usUnderlay,
        families: ['l2vpn-evpn'],
        peers: [{ address: LAB.frrUnderlay, remoteAs: LAB.asn }],
      },
    });
    await speaker.waitEvent((e) => e.ev === 'established', 30_000, 'session with FRR');
    // RT 65000:999 is imported by no VNI: the routes land in FRR's BGP RIB without zebra programming
    // 100k MACs into the kernel (that would measure zebra and netlink, not BGP ingest).
    const benchAttrs: PathAttributes = {
      ...attrs,
      extCommunities: [
        { type: 'route-target', value: '65000:999' },
        { type: 'encapsulation', tunnelType: 8 },
      ],
    };
    const t0 = performance.now();
    const t0Epoch = Date.now();
    speaker.send({ cmd: 'synthetic', count, rd: '192.0.2.2:999', vni: 999, attrs: benchAttrs });
    const sent = speaker.waitEvent((e) => e.ev === 'announced', 120_000, 'routes written');
    type Summary = { peers: Record<string, { pfxRcd?: number }> };
    await waitFor(
      async () =>
        (await lab.frr.vtyshJson<Summary>('show bgp l2vpn evpn summary json')).peers[LAB.usUnderlay]
          ?.pfxRcd ?? 0,
      (n) => n >= count,
      { timeoutMs: 300_000, intervalMs: 100, what: `${count} routes in FRR's RIB` },
    );
    const seconds = (performance.now() - t0) / 1000;
    const drained = (await sent) as { drainedAt: number };
    console.log(
      `  our speaker had written all ${count} to its socket after ${((drained.drainedAt - t0Epoch) / 1000).toFixed(2)} s`,
    );
    return seconds;
  } finally {
    await speaker?.close();
    await lab.destroy();
  }
}

export async function main(argv: string[]): Promise<void> {
  const n = Number(argv[argv.indexOf('--routes') + 1] || 100_000);
  const { encodePerS, decodePerS, messages } = codecThroughput(n);
  console.log(`EVPN type-2 codec, ${n} NLRI in ${messages} UPDATEs of ≤4096 octets, one core (best of 5):`);
  console.log(
    `  encode ${Math.round(encodePerS).toLocaleString('en')} NLRI/s, decode ${Math.round(decodePerS).toLocaleString('en')} NLRI/s`,
  );
  let frrSeconds = Number.NaN;
  if (!argv.includes('--no-frr')) {
    frrSeconds = await frrIngest(n);
    console.log(`  ${n} type-2 routes from our speaker into FRR 8.4's RIB: ${frrSeconds.toFixed(2)} s`);
  }
  console.log(`BENCH evpn_decode_per_s ${Math.round(decodePerS)} nlri/s`);
  console.log(`BENCH evpn_encode_per_s ${Math.round(encodePerS)} nlri/s`);
  console.log(`BENCH frr_100k_routes_s ${Number.isNaN(frrSeconds) ? 'NaN' : frrSeconds.toFixed(2)} s`);
}
