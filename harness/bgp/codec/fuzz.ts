/**
 * UPDATE fuzzer shared by the test (100k cases) and `npm run bench -- bgp-fuzz` (1M): valid UPDATEs
 * mutated byte-wise, attributes truncated, length fields lied about, and random bodies, from a seeded
 * PRNG. Every outcome must be `ok` or one of the RFC 7606 actions; an exception escaping, an internal
 * decoder error or a case slower than `slowMs` (a hang; GC pauses reach ~100 ms on a busy machine) is a finding.
 */
import { rng } from '../../util/rng.ts';
import type { PathAttributes, Route } from '../types.ts';
import { splitMessages } from './messages.ts';
import {
  decodeUpdate,
  encodeAnnounce,
  encodeEndOfRib,
  encodeWithdraw,
  type UpdateDecodeContext,
} from './update.ts';

function corpus(): Buffer[] {
  const attrs: PathAttributes = {
    origin: 'igp',
    asPath: [
      { type: 'sequence', asns: [65001, 4200000000] },
      { type: 'set', asns: [7, 8] },
    ],
    nextHop: '192.0.2.1',
    med: 5,
    localPref: 200,
    atomicAggregate: true,
    aggregator: { asn: 65001, address: '192.0.2.1' },
    communities: ['65000:101', '65535:65281'],
    extCommunities: [
      { type: 'route-target', value: '65000:100' },
      { type: 'encapsulation', tunnelType: 8 },
      { type: 'mac-mobility', seq: 4, sticky: false },
      { type: 'secgroup', asn: 65000, id: 8000001 },
      { type: 'router-mac', mac: '02:00:00:00:00:01' },
    ],
    largeCommunities: ['65000:1:2'],
    originatorId: '192.0.2.9',
    clusterList: ['192.0.2.10'],
    pmsiTunnel: { flags: 0, tunnelType: 6, label: 100, tunnelId: '192.0.2.1' },
    unknown: [{ flags: 0xc0, type: 99, hex: 'cafe' }],
  };
  const esi = '00:00:00:00:00:00:00:00:00:00';
  const evpn: Route[] = [
    {
      afi: 'l2vpn-evpn',
      type: 1,
      rd: '192.0.2.1:1',
      esi: '01:02:03:04:05:06:07:08:09:0a',
      ethTag: 1,
      labels: [100],
    },
    {
      afi: 'l2vpn-evpn',
      type: 2,
      rd: '192.0.2.1:100',
      esi,
      ethTag: 0,
      mac: '02:00:00:00:00:01',
      labels: [100],
    },
    {
      afi: 'l2vpn-evpn',
      type: 2,
      rd: '65000:100',
      esi,
      ethTag: 0,
      mac: '02:00:00:00:00:02',
      ip: '198.51.100.2',
      labels: [100, 5000],
    },
    {
      afi: 'l2vpn-evpn',
      type: 2,
      rd: '65000:100',
      esi,
      ethTag: 0,
      mac: '02:00:00:00:00:03',
      ip: '2001:db8::3',
      labels: [100],
    },
    { afi: 'l2vpn-evpn', type: 3, rd: '192.0.2.1:100', ethTag: 0, originatorIp: '192.0.2.1' },
    {
      afi: 'l2vpn-evpn',
      type: 4,
      rd: '192.0.2.1:1',
      esi: '01:02:03:04:05:06:07:08:09:0a',
      originatorIp: '192.0.2.1',
    },
    {
      afi: 'l2vpn-evpn',
      type: 5,
      rd: '192.0.2.1:5',
      esi,
      ethTag: 0,
      prefix: '203.0.113.0/24',
      gateway: '0.0.0.0',
      labels: [5000],
    },
  ];
  const vpn: Route[] = [
    { afi: 'ipv4-vpn', rd: '65000:1', prefix: '198.51.100.0/24', labels: [1000] },
    { afi: 'ipv4-vpn', rd: '4200000000:2', prefix: '198.51.100.128/25', labels: [16, 17] },
    { afi: 'ipv4-vpn', rd: '10.0.0.1:15001', prefix: '192.0.2.0/25', labels: [15001] },
  ];
  const v4: Route[] = [
    { afi: 'ipv4-unicast', prefix: '203.0.113.0/24' },
    { afi: 'ipv4-unicast', prefix: '0.0.0.0/0' },
  ];
  const ctx = { asn4: true };
  const msgs = [
    ...encodeAnnounce('l2vpn-evpn', evpn, attrs, ctx),
    ...encodeAnnounce(
      'l2vpn-evpn',
      evpn.slice(1, 3),
      { origin: 'igp', asPath: [], nextHop: '192.0.2.1' },
      ctx,
    ),
    ...encodeAnnounce('ipv4-vpn', vpn, attrs, ctx),
    // As a PE sends VPNv4 (RFC 4364): only the route target and the mandatory attributes.
    ...encodeAnnounce(
      'ipv4-vpn',
      vpn.slice(2),
      {
        origin: 'incomplete',
        asPath: [{ type: 'sequence', asns: [65000] }],
        nextHop: '10.0.21.1',
        extCommunities: [{ type: 'route-target', value: '65000:15001' }],
      },
      ctx,
    ),
    ...encodeAnnounce('ipv4-unicast', v4, attrs, ctx),
    ...encodeWithdraw('l2vpn-evpn', evpn, ctx),
    ...encodeWithdraw('ipv4-vpn', vpn, ctx),
    ...encodeWithdraw('ipv4-unicast', v4, ctx),
    encodeEndOfRib('l2vpn-evpn'),
    encodeEndOfRib('ipv4-vpn'),
    encodeEndOfRib('ipv4-unicast'),
  ];
  return msgs.map((m) => Buffer.from(splitMessages(m).messages[0]!.body));
}

/** Offsets of each path attribute header in an UPDATE body (for targeted mutations). */
function attrOffsets(b: Buffer): number[] {
  const out: number[] = [];
  if (b.length < 4) return out;
  const wlen = b.readUInt16BE(0);
  if (2 + wlen + 2 > b.length) return out;
  let p = 2 + wlen + 2;
  const end = Math.min(b.length, p + b.readUInt16BE(2 + wlen));
  while (p + 3 <= end) {
    out.push(p);
    const ext = b[p]! & 0x10;
    p += ext ? 4 + (p + 3 < end ? b.readUInt16BE(p + 2) : 0) : 3 + b[p + 2]!;
  }
  return out;
}

export type FuzzOutcome = 'ok' | 'treat-as-withdraw' | 'attribute-discard' | 'session-reset';

export interface FuzzReport {
  cases: number;
  outcomes: Record<FuzzOutcome, number>;
  /** Cases that broke an invariant (exception, internal error, unknown action, slow). */
  findings: Array<{ case: number; what: string; hex: string }>;
  slowestMs: number;
  elapsedMs: number;
}

export function mutate(rand: () => number, seeds: Buffer[]): Buffer {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const kind = Math.floor(rand() * 6);
  if (kind === 5) {
    // Entirely random body.
    const n = Math.floor(rand() * 200);
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = Math.floor(rand() * 256);
    return b;
  }
  const b = Buffer.from(pick(seeds));
  if (b.length === 0) return b;
  switch (kind) {
    case 0: {
      // Flip 1–4 random bytes.
      const n = 1 + Math.floor(rand() * 4);
      for (let i = 0; i < n; i++) b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256);
      return b;
    }
    case 1: {
      // Truncate an attribute: cut its value short, fixing the attribute length but not the total.
      const offs = attrOffsets(b);
      if (!offs.length) return b.subarray(0, Math.floor(rand() * b.length));
      const at = pick(offs);
      const ext = b[at]! & 0x10;
      const lenAt = at + 2;
      const cur = ext ? b.readUInt16BE(lenAt) : b[lenAt]!;
      const cut = Math.floor(rand() * (cur + 1));
      if (ext) b.writeUInt16BE(cut, lenAt);
      else b[lenAt] = cut;
      return b;
    }
    case 2: {
      // Lie about a length field: withdrawn length, total attribute length, or one attribute's length.
      const which = Math.floor(rand() * 3);
      if (which === 0 && b.length >= 2)
        b.writeUInt16BE(Math.floor(rand() * 0x10000) & (rand() < 0.5 ? 0xff : 0xffff), 0);
      else if (which === 1 && b.length >= 4) {
        const wlen = b.readUInt16BE(0);
        if (2 + wlen + 2 <= b.length)
          b.writeUInt16BE(Math.max(0, b.readUInt16BE(2 + wlen) + Math.floor(rand() * 16) - 8), 2 + wlen);
      } else {
        const offs = attrOffsets(b);
        if (offs.length) {
          const at = pick(offs);
          const lenAt = at + 2;
          if (b[at]! & 0x10) b.writeUInt16BE(Math.floor(rand() * 0x10000), lenAt);
          else b[lenAt] = Math.floor(rand() * 256);
        }
      }
      return b;
    }
    case 3: {
      // Flip attribute flags (optional/transitive/partial/extended) on one attribute.
      const offs = attrOffsets(b);
      if (offs.length) b[pick(offs)]! ^= [0x80, 0x40, 0x20, 0x10][Math.floor(rand() * 4)]!;
      return b;
    }
    default:
      // Truncate the whole message.
      return b.subarray(0, Math.floor(rand() * b.length));
  }
}

const ACTIONS = new Set<string>(['ok', 'treat-as-withdraw', 'attribute-discard', 'session-reset']);

export function runFuzz(cases: number, seed: number, slowMs = 1000): FuzzReport {
  const rand = rng(seed);
  const seeds = corpus();
  const contexts: UpdateDecodeContext[] = [
    { asn4: true, ibgp: true },
    { asn4: false, ibgp: false },
    { asn4: true, ibgp: true, addPathReceive: new Set(['l2vpn-evpn', 'ipv4-unicast', 'ipv4-vpn']) },
  ];
  const report: FuzzReport = {
    cases,
    outcomes: { ok: 0, 'treat-as-withdraw': 0, 'attribute-discard': 0, 'session-reset': 0 },
    findings: [],
    slowestMs: 0,
    elapsedMs: 0,
  };
  const start = performance.now();
  for (let i = 0; i < cases; i++) {
    const body = mutate(rand, seeds);
    const ctx = contexts[i % contexts.length]!;
    const t0 = performance.now();
    try {
      const r = decodeUpdate(body, ctx);
      if (!ACTIONS.has(r.action))
        report.findings.push({ case: i, what: `unknown action ${r.action}`, hex: body.toString('hex') });
      else report.outcomes[r.action]++;
      const internal = r.errors.find((e) => e.reason.startsWith('internal decoder error'));
      if (internal) report.findings.push({ case: i, what: internal.reason, hex: body.toString('hex') });
      if (r.action !== 'ok' && r.errors.length === 0)
        report.findings.push({
          case: i,
          what: 'error action without a recorded reason',
          hex: body.toString('hex'),
        });
      if ((r.action === 'treat-as-withdraw' || r.action === 'session-reset') && r.announced.length)
        report.findings.push({
          case: i,
          what: `${r.action} still announces routes`,
          hex: body.toString('hex'),
        });
    } catch (err) {
      report.findings.push({
        case: i,
        what: `exception: ${(err as Error).message}`,
        hex: body.toString('hex'),
      });
    }
    const dt = performance.now() - t0;
    if (dt > report.slowestMs) report.slowestMs = dt;
    if (dt > slowMs)
      report.findings.push({ case: i, what: `slow case ${dt.toFixed(1)} ms`, hex: body.toString('hex') });
    if (report.findings.length > 20) break;
  }
  report.elapsedMs = performance.now() - start;
  return report;
}
