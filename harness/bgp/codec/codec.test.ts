import { describe, expect, it } from 'vitest';
import { secgroups } from '../rib.ts';
import { matchRoute, type TapRoute } from '../tap.ts';
import type { EvpnMacIp, PathAttributes, Route } from '../types.ts';
import { decodeOpen, encodeOpen, MSG, splitMessages } from './messages.ts';
import { decodeUpdate, encodeAnnounce, encodeEndOfRib, encodeWithdraw } from './update.ts';

const ctx = { asn4: true, ibgp: true };

function bodyOf(msg: Buffer): Buffer {
  const { messages } = splitMessages(msg);
  expect(messages).toHaveLength(1);
  expect(messages[0]!.type).toBe(MSG.UPDATE);
  return messages[0]!.body;
}

const evpnAttrs: PathAttributes = {
  origin: 'igp',
  asPath: [],
  nextHop: '192.0.2.2',
  localPref: 100,
  communities: ['65000:101'],
  extCommunities: [
    { type: 'route-target', value: '65000:100', encoding: 'as2' },
    { type: 'encapsulation', tunnelType: 8 },
    { type: 'mac-mobility', seq: 3, sticky: true },
    { type: 'router-mac', mac: '02:00:00:00:00:01' },
    { type: 'default-gateway' },
    { type: 'route-target', value: '192.0.2.1:7', encoding: 'ip' },
    { type: 'route-target', value: '4200000000:9', encoding: 'as4' },
    { type: 'raw', hex: '4300000000000001' },
  ],
  largeCommunities: ['65000:1:2'],
  originatorId: '192.0.2.9',
  clusterList: ['192.0.2.10', '192.0.2.11'],
};

const evpnRoutes: Route[] = [
  {
    afi: 'l2vpn-evpn',
    type: 1,
    rd: '192.0.2.2:1',
    esi: '01:02:03:04:05:06:07:08:09:0a',
    ethTag: 5,
    labels: [100],
  },
  {
    afi: 'l2vpn-evpn',
    type: 2,
    rd: '192.0.2.2:100',
    esi: '00:00:00:00:00:00:00:00:00:00',
    ethTag: 0,
    mac: 'aa:bb:cc:00:00:01',
    labels: [100],
  },
  {
    afi: 'l2vpn-evpn',
    type: 2,
    rd: '65000:100',
    esi: '00:00:00:00:00:00:00:00:00:00',
    ethTag: 0,
    mac: 'aa:bb:cc:00:00:02',
    ip: '198.51.100.2',
    labels: [100, 5000],
  },
  {
    afi: 'l2vpn-evpn',
    type: 2,
    rd: '4200000000:3',
    esi: '00:00:00:00:00:00:00:00:00:00',
    ethTag: 0,
    mac: 'aa:bb:cc:00:00:03',
    ip: '2001:db8::3',
    labels: [16777215],
  },
  { afi: 'l2vpn-evpn', type: 3, rd: '192.0.2.2:100', ethTag: 0, originatorIp: '192.0.2.2' },
  {
    afi: 'l2vpn-evpn',
    type: 4,
    rd: '192.0.2.2:1',
    esi: '01:02:03:04:05:06:07:08:09:0a',
    originatorIp: '192.0.2.2',
  },
  {
    afi: 'l2vpn-evpn',
    type: 5,
    rd: '192.0.2.2:5',
    esi: '00:00:00:00:00:00:00:00:00:00',
    ethTag: 0,
    prefix: '203.0.113.0/24',
    gateway: '0.0.0.0',
    labels: [5000],
  },
  {
    afi: 'l2vpn-evpn',
    type: 5,
    rd: '192.0.2.2:5',
    esi: '00:00:00:00:00:00:00:00:00:00',
    ethTag: 0,
    prefix: '2001:db8:1::/48',
    gateway: '::',
    labels: [5000],
  },
];

describe('UPDATE codec', () => {
  it('round-trips EVPN route types 1–5 with every attribute we model', () => {
    const attrs: PathAttributes = {
      ...evpnAttrs,
      pmsiTunnel: { flags: 0, tunnelType: 6, label: 100, tunnelId: '192.0.2.2' },
      med: 7,
      aggregator: { asn: 65000, address: '192.0.2.1' },
      atomicAggregate: true,
      unknown: [{ flags: 0xc0, type: 99, hex: 'deadbeef' }],
    };
    const msgs = encodeAnnounce('l2vpn-evpn', evpnRoutes, attrs, { asn4: true });
    expect(msgs).toHaveLength(1);
    const d = decodeUpdate(bodyOf(msgs[0]!), ctx);
    expect(d.errors).toEqual([]);
    expect(d.action).toBe('ok');
    expect(d.announced).toEqual(evpnRoutes);
    expect(d.attrs).toEqual(attrs);
  });

  it('round-trips VPNv4 with RD types 0/1/2 and label stacks, and IPv4 unicast', () => {
    const vpn: Route[] = [
      { afi: 'ipv4-vpn', rd: '65000:1', prefix: '198.51.100.0/24', labels: [1000] },
      { afi: 'ipv4-vpn', rd: '192.0.2.1:2', prefix: '198.51.100.128/25', labels: [16, 17] },
      { afi: 'ipv4-vpn', rd: '4200000000:3', prefix: '0.0.0.0/0', labels: [3] },
    ];
    const attrs: PathAttributes = {
      origin: 'igp',
      asPath: [
        { type: 'sequence', asns: [65001, 4200000000] },
        { type: 'set', asns: [1, 2] },
      ],
      nextHop: '192.0.2.1',
      communities: ['65000:101'],
    };
    const d = decodeUpdate(bodyOf(encodeAnnounce('ipv4-vpn', vpn, attrs, { asn4: true })[0]!), ctx);
    expect(d.action).toBe('ok');
    expect(d.announced).toEqual(vpn);
    expect(d.attrs).toEqual(attrs);
    const w = decodeUpdate(bodyOf(encodeWithdraw('ipv4-vpn', vpn, { asn4: true })[0]!), ctx);
    expect(w.withdrawn.map((r) => ({ ...r, labels: [] }))).toEqual(vpn.map((r) => ({ ...r, labels: [] })));

    const v4: Route[] = [
      { afi: 'ipv4-unicast', prefix: '203.0.113.0/24' },
      { afi: 'ipv4-unicast', prefix: '203.0.113.128/25' },
    ];
    const u = decodeUpdate(bodyOf(encodeAnnounce('ipv4-unicast', v4, attrs, { asn4: true })[0]!), ctx);
    expect(u.announced).toEqual(v4);
    expect(u.attrs.nextHop).toBe('192.0.2.1');
    const uw = decodeUpdate(bodyOf(encodeWithdraw('ipv4-unicast', v4, { asn4: true })[0]!), ctx);
    expect(uw.withdrawn).toEqual(v4);
  });

  it('decodes 2-octet AS paths when 4-octet AS is not negotiated', () => {
    const attrs: PathAttributes = {
      origin: 'egp',
      asPath: [{ type: 'sequence', asns: [65001, 65002] }],
      nextHop: '192.0.2.1',
    };
    const msg = encodeAnnounce('ipv4-unicast', [{ afi: 'ipv4-unicast', prefix: '203.0.113.0/24' }], attrs, {
      asn4: false,
    });
    const d = decodeUpdate(bodyOf(msg[0]!), { asn4: false, ibgp: false });
    expect(d.attrs.asPath).toEqual(attrs.asPath);
  });

  it('splits many NLRI into messages of at most 4096 octets', () => {
    const routes: EvpnMacIp[] = [];
    for (let i = 0; i < 1000; i++)
      routes.push({
        afi: 'l2vpn-evpn',
        type: 2,
        rd: '192.0.2.2:100',
        esi: '00:00:00:00:00:00:00:00:00:00',
        ethTag: 0,
        mac: `02:00:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`,
        ip: `198.51.100.${i % 250}`,
        labels: [100],
      });
    const msgs = encodeAnnounce('l2vpn-evpn', routes, evpnAttrs, { asn4: true });
    expect(msgs.length).toBeGreaterThan(1);
    const got: Route[] = [];
    for (const m of msgs) {
      expect(m.length).toBeLessThanOrEqual(4096);
      got.push(...decodeUpdate(bodyOf(m), ctx).announced);
    }
    expect(got).toEqual(routes);
  });

  it('recognises End-of-RIB markers', () => {
    expect(decodeUpdate(bodyOf(encodeEndOfRib('l2vpn-evpn')), ctx).endOfRib).toBe('l2vpn-evpn');
    expect(decodeUpdate(bodyOf(encodeEndOfRib('ipv4-unicast')), ctx).endOfRib).toBe('ipv4-unicast');
  });

  it('decodes ADD-PATH identifiers when negotiated', () => {
    const r: Route = { ...evpnRoutes[1]!, pathId: 7 } as Route;
    const msg = encodeAnnounce('l2vpn-evpn', [r], evpnAttrs, {
      asn4: true,
      addPathSend: new Set(['l2vpn-evpn']),
    });
    const d = decodeUpdate(bodyOf(msg[0]!), { ...ctx, addPathReceive: new Set(['l2vpn-evpn']) });
    expect(d.announced).toEqual([r]);
  });
});

describe('RFC 7606 error handling', () => {
  const good = bodyOf(
    encodeAnnounce(
      'l2vpn-evpn',
      [evpnRoutes[1]!],
      { origin: 'igp', asPath: [], nextHop: '192.0.2.2', communities: ['65000:1'] },
      { asn4: true },
    )[0]!,
  );

  function attrOffset(body: Buffer, type: number): number {
    const wlen = body.readUInt16BE(0);
    let p = 2 + wlen + 2;
    const end = p + body.readUInt16BE(2 + wlen);
    while (p < end) {
      const ext = body[p]! & 0x10;
      if (body[p + 1] === type) return p;
      p += ext ? 4 + body.readUInt16BE(p + 2) : 3 + body[p + 2]!;
    }
    throw new Error(`no attribute ${type}`);
  }

  it('treats a bad ORIGIN value as withdraw, with the reason', () => {
    const b = Buffer.from(good);
    b[attrOffset(b, 1) + 3] = 9;
    const d = decodeUpdate(b, ctx);
    expect(d.action).toBe('treat-as-withdraw');
    expect(d.announced).toEqual([]);
    expect(d.withdrawn).toEqual([evpnRoutes[1]]);
    expect(d.errors[0]!.reason).toMatch(/ORIGIN value 9/);
  });

  it('treats a COMMUNITIES length that is not a multiple of 4 as withdraw', () => {
    const b = Buffer.from(good);
    const at = attrOffset(b, 8);
    b[at] = 0xd0; // flags optional|transitive|extended: then the length field is 2 octets and lies
    const d = decodeUpdate(b, ctx);
    expect(['treat-as-withdraw', 'session-reset']).toContain(d.action);
  });

  it('discards a malformed ATOMIC_AGGREGATE and keeps the routes', () => {
    const msg = encodeAnnounce(
      'l2vpn-evpn',
      [evpnRoutes[1]!],
      { origin: 'igp', asPath: [], nextHop: '192.0.2.2', unknown: [{ flags: 0x40, type: 6, hex: '01' }] },
      { asn4: true },
    );
    const d = decodeUpdate(bodyOf(msg[0]!), ctx);
    expect(d.action).toBe('attribute-discard');
    expect(d.announced).toHaveLength(1);
  });

  it('resets the session when MP_REACH_NLRI is malformed', () => {
    const b = Buffer.from(good);
    const at = attrOffset(b, 14);
    b[at + 4 + 3] = 5; // next hop length 5 for EVPN
    const d = decodeUpdate(b, ctx);
    expect(d.action).toBe('session-reset');
    expect(d.errors[0]!.notification).toEqual({ code: 3, subcode: 9 });
  });

  it('resets the session when the total attribute length exceeds the message', () => {
    const b = Buffer.from(good);
    b.writeUInt16BE(60000, 2);
    expect(decodeUpdate(b, ctx).action).toBe('session-reset');
  });

  it('keeps unknown optional transitive attributes and ignores unknown non-transitive ones', () => {
    const msg = encodeAnnounce(
      'l2vpn-evpn',
      [evpnRoutes[1]!],
      {
        origin: 'igp',
        asPath: [],
        nextHop: '192.0.2.2',
        unknown: [
          { flags: 0xc0, type: 200, hex: '0102' },
          { flags: 0x80, type: 201, hex: '0304' },
        ],
      },
      { asn4: true },
    );
    const d = decodeUpdate(bodyOf(msg[0]!), ctx);
    expect(d.action).toBe('ok');
    expect(d.attrs.unknown).toEqual([{ flags: 0xc0, type: 200, hex: '0102' }]);
  });

  it('treats a missing ORIGIN as withdraw', () => {
    const msg = encodeAnnounce(
      'l2vpn-evpn',
      [evpnRoutes[1]!],
      { asPath: [], nextHop: '192.0.2.2' },
      { asn4: true },
    );
    const d = decodeUpdate(bodyOf(msg[0]!), ctx);
    expect(d.action).toBe('treat-as-withdraw');
    expect(d.errors[0]!.reason).toBe('missing ORIGIN');
  });
});

describe('OPEN codec', () => {
  it('round-trips capabilities', () => {
    const msg = encodeOpen({
      asn: 4200000001,
      holdTime: 9,
      routerId: '192.0.2.1',
      families: ['l2vpn-evpn', 'ipv4-vpn'],
      gracefulRestart: { restartTime: 120, families: ['l2vpn-evpn'] },
      addPath: [{ family: 'l2vpn-evpn', mode: 'receive' }],
      extra: [{ code: 128, hex: 'ab' }],
    });
    const { messages } = splitMessages(msg);
    const open = decodeOpen(messages[0]!.body);
    expect(open.asn).toBe(4200000001);
    expect(open.holdTime).toBe(9);
    expect(open.routerId).toBe('192.0.2.1');
    expect(open.capabilities.multiprotocol).toEqual(['l2vpn-evpn', 'ipv4-vpn']);
    expect(open.capabilities.routeRefresh).toBe(true);
    expect(open.capabilities.gracefulRestart).toEqual({
      restarting: false,
      notification: false,
      restartTime: 120,
      families: [{ family: 'l2vpn-evpn', forwardingPreserved: false }],
    });
    expect(open.capabilities.addPath).toEqual([{ family: 'l2vpn-evpn', mode: 'receive' }]);
    expect(open.capabilities.unknown).toEqual([{ code: 128, hex: 'ab' }]);
  });

  it('encodes the graceful-restart Restart State and Forwarding State bits (RFC 4724 §3) and reads them back', () => {
    const msg = encodeOpen({
      asn: 65000,
      holdTime: 9,
      routerId: '192.0.2.1',
      families: ['ipv4-unicast', 'l2vpn-evpn'],
      routeRefresh: false,
      gracefulRestart: {
        restartTime: 120,
        restarting: true,
        forwardingPreserved: true,
        families: ['ipv4-unicast', 'l2vpn-evpn'],
      },
    });
    const hex = Buffer.from(msg).toString('hex');
    // Capability 64, length 10: R bit + 120 s, then per family AFI/SAFI and the F bit (0x80).
    expect(hex).toContain(['400a', '8078', '00010180', '00194680'].join(''));
    const open = decodeOpen(splitMessages(msg).messages[0]!.body);
    expect(open.capabilities.gracefulRestart).toEqual({
      restarting: true,
      notification: false,
      restartTime: 120,
      families: [
        { family: 'ipv4-unicast', forwardingPreserved: true },
        { family: 'l2vpn-evpn', forwardingPreserved: true },
      ],
    });
  });

  it('reports header errors instead of throwing', () => {
    const bad = Buffer.alloc(19, 0xff);
    bad.writeUInt16BE(5000, 16);
    expect(splitMessages(bad).error).toEqual({ code: 1, subcode: 2, data: '1388' });
  });
});

describe('security-group extended community (type 0x80, sub-type 0x04)', () => {
  const route = evpnRoutes[1]!;
  const attrs: PathAttributes = {
    origin: 'igp',
    asPath: [],
    nextHop: '192.0.2.2',
    extCommunities: [
      { type: 'route-target', value: '65000:100', encoding: 'as2' },
      { type: 'secgroup', asn: 65000, id: 8000001 },
      { type: 'secgroup', asn: 65000, id: 8000002 },
    ],
  };

  it('round-trips and puts AS then group id on the wire', () => {
    const body = bodyOf(encodeAnnounce('l2vpn-evpn', [route], attrs, { asn4: true })[0]!);
    const d = decodeUpdate(body, ctx);
    expect(d.errors).toEqual([]);
    expect(d.attrs?.extCommunities).toEqual(attrs.extCommunities);
    expect(secgroups(d.attrs!)).toEqual(['secgroup:65000:8000001', 'secgroup:65000:8000002']);
    // 0x80 0x04, AS 65000 = fde8, id 8000001 = 007a1201
    expect(body.toString('hex')).toContain('8004fde8007a1201');
  });

  it('filters tap routes by a secgroup community', () => {
    const tapRoute = { peer: 'p', route, attrs, receivedAt: 0 } as unknown as TapRoute;
    expect(matchRoute(tapRoute, { secgroup: 'secgroup:65000:8000002' })).toBe(true);
    expect(matchRoute(tapRoute, { secgroup: 'secgroup:65000:8000003' })).toBe(false);
  });

  it('treats a truncated security-group community (12 octets) as withdraw', () => {
    const body = bodyOf(encodeAnnounce('l2vpn-evpn', [route], attrs, { asn4: true })[0]!);
    const hex = body.toString('hex');
    // Cut the attribute to 20 octets (2.5 communities): length field 0x18 -> 0x14, 4 octets dropped.
    const at = hex.indexOf('c01018');
    expect(at).toBeGreaterThan(0);
    const cut = `${hex.slice(0, at)}c01014${hex.slice(at + 6, at + 6 + 40)}${hex.slice(at + 6 + 48)}`;
    const b = Buffer.from(cut, 'hex');
    b.writeUInt16BE(b.readUInt16BE(2) - 4, 2); // total path attribute length
    const d = decodeUpdate(b, ctx);
    expect(d.action).toBe('treat-as-withdraw');
    expect(d.errors[0]!.reason).toMatch(/EXTENDED_COMMUNITIES length 20/);
  });

  it('refuses to encode an AS or id that does not fit', () => {
    for (const bad of [
      { type: 'secgroup', asn: 4200000000, id: 1 },
      { type: 'secgroup', asn: 65000, id: 2 ** 32 },
    ] as const)
      expect(() =>
        encodeAnnounce('l2vpn-evpn', [route], { ...attrs, extCommunities: [bad] }, { asn4: true }),
      ).toThrow(/secgroup community/);
  });
});

describe('VPN-IPv4 (AFI 1 / SAFI 128, RFC 4364 §4.3.4, labels per RFC 8277)', () => {
  const route: Route = { afi: 'ipv4-vpn', rd: '10.0.0.1:15001', prefix: '192.0.2.0/25', labels: [15001] };
  const attrs: PathAttributes = {
    origin: 'incomplete',
    asPath: [{ type: 'sequence', asns: [65000] }],
    nextHop: '10.0.21.1',
    extCommunities: [{ type: 'route-target', value: '65000:15001', encoding: 'as2' }],
  };
  const announce = () => bodyOf(encodeAnnounce('ipv4-vpn', [route], attrs, { asn4: true })[0]!);

  it('puts the MP_REACH next hop as a zero RD + IPv4 and the NLRI as label, RD, prefix on the wire', () => {
    const hex = announce().toString('hex');
    // AFI 1, SAFI 128, next hop length 12: RD 0 then 10.0.21.1, reserved octet.
    expect(hex).toContain(`0001800c${'00'.repeat(8)}0a00150100`);
    // 24 + 64 + 25 = 113 bits; label 15001 << 4 | bottom of stack = 0x03a991; RD type 1 10.0.0.1:15001; 192.0.2.0 (4 octets for /25).
    expect(hex).toContain(`71${'03a991'}${'0001'}0a000001${'3a99'}c0000200`);
    const d = decodeUpdate(announce(), ctx);
    expect(d.action).toBe('ok');
    expect(d.announced).toEqual([route]);
    expect(d.attrs.nextHop).toBe('10.0.21.1');
    expect(d.attrs.extCommunities).toEqual(attrs.extCommunities);
  });

  it('withdraws with the compatibility label 0x800000 (RFC 8277 §2.4) and decodes a 0x000000 one too', () => {
    const body = bodyOf(encodeWithdraw('ipv4-vpn', [route], { asn4: true })[0]!);
    expect(body.toString('hex')).toContain(`71800000${'0001'}0a0000013a99c0000200`);
    expect(decodeUpdate(body, ctx).withdrawn).toEqual([{ ...route, labels: [] }]);
    const zero = Buffer.from(body.toString('hex').replace('71800000', '71000000'), 'hex');
    expect(decodeUpdate(zero, ctx).withdrawn).toEqual([{ ...route, labels: [] }]);
  });

  it('decodes RD types 0, 1 and 2 as ASN:n / IP:n / ASN4:n', () => {
    const rds = ['65000:4294967295', '198.51.100.7:65535', '4200000000:15001'];
    const routes: Route[] = rds.map((rd) => ({ ...route, rd }));
    const d = decodeUpdate(bodyOf(encodeAnnounce('ipv4-vpn', routes, attrs, { asn4: true })[0]!), ctx);
    expect(d.announced.map((r) => (r as { rd: string }).rd)).toEqual(rds);
  });

  it('resets the session, naming the fault, on a label stack without bottom of stack', () => {
    const b = Buffer.from(announce().toString('hex').replace('7103a991', '7103a990'), 'hex');
    const d = decodeUpdate(b, ctx);
    expect(d.action).toBe('session-reset');
    expect(d.errors[0]!.reason).toMatch(/VPNv4 NLRI: (label stack longer than the NLRI|too short for an RD)/);
  });

  it('resets the session on a prefix longer than 32 bits and on a next hop of the wrong length', () => {
    // 24 + 64 + 33 bits: the NLRI claims one octet more than the attribute holds.
    const long = Buffer.from(announce().toString('hex').replace('7103a991', '7903a991'), 'hex');
    expect(decodeUpdate(long, ctx)).toMatchObject({ action: 'session-reset' });
    expect(decodeUpdate(long, ctx).errors[0]!.reason).toMatch(/VPNv4 NLRI/);
    const shortNh = Buffer.from(announce().toString('hex').replace('0001800c', '00018004'), 'hex');
    const d = decodeUpdate(shortNh, ctx);
    expect(d.action).toBe('session-reset');
    expect(d.errors[0]!.reason).toMatch(/next hop length 4 invalid for ipv4-vpn/);
  });

  it('refuses to encode a label that is not 20 bits, naming the route', () => {
    expect(() =>
      encodeAnnounce('ipv4-vpn', [{ ...route, labels: [1 << 20] }], attrs, { asn4: true }),
    ).toThrow(/VPN-IPv4 route 10\.0\.0\.1:15001 192\.0\.2\.0\/25: label 1048576 is not a 20-bit MPLS label/);
  });

  it('negotiates AFI 1 / SAFI 128 in the OPEN', () => {
    const open = decodeOpen(
      splitMessages(encodeOpen({ asn: 65002, holdTime: 9, routerId: '10.99.3.2', families: ['ipv4-vpn'] }))
        .messages[0]!.body,
    );
    expect(open.capabilities.multiprotocol).toEqual(['ipv4-vpn']);
    expect(
      Buffer.from(
        encodeOpen({ asn: 65002, holdTime: 9, routerId: '10.99.3.2', families: ['ipv4-vpn'] }),
      ).toString('hex'),
    ).toContain('010400010080');
  });
});
