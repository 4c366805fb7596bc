/**
 * Path attribute values (RFC 4271 §5, RFC 1997, RFC 4360, RFC 4456, RFC 6514 §5, RFC 7432 §7, RFC 8092,
 * RFC 9012 §4.1) and their encodings. Framing (flags/type/length) and RFC 7606 decisions live in
 * update.ts; the value decoders here throw `Malformed` and the caller maps that to an action.
 */
import type { AsPathSegment, ExtCommunity, PathAttributes, PmsiTunnel } from '../types.ts';
import {
  hexOf,
  ipAt,
  ipLen,
  ipv4At,
  Malformed,
  macAt,
  u16At,
  u24At,
  u32At,
  type Writer,
  writeIp,
} from './wire.ts';

export const ATTR = {
  ORIGIN: 1,
  AS_PATH: 2,
  NEXT_HOP: 3,
  MED: 4,
  LOCAL_PREF: 5,
  ATOMIC_AGGREGATE: 6,
  AGGREGATOR: 7,
  COMMUNITIES: 8,
  ORIGINATOR_ID: 9,
  CLUSTER_LIST: 10,
  MP_REACH: 14,
  MP_UNREACH: 15,
  EXT_COMMUNITIES: 16,
  AS4_PATH: 17,
  AS4_AGGREGATOR: 18,
  PMSI_TUNNEL: 22,
  LARGE_COMMUNITIES: 32,
} as const;

export const FLAG = { OPTIONAL: 0x80, TRANSITIVE: 0x40, PARTIAL: 0x20, EXTENDED: 0x10 } as const;

/** The flags each attribute we model must carry (optional/transitive bits only). */
export const EXPECTED_FLAGS: Record<number, number> = {
  1: FLAG.TRANSITIVE,
  2: FLAG.TRANSITIVE,
  3: FLAG.TRANSITIVE,
  4: FLAG.OPTIONAL,
  5: FLAG.TRANSITIVE,
  6: FLAG.TRANSITIVE,
  7: FLAG.OPTIONAL | FLAG.TRANSITIVE,
  8: FLAG.OPTIONAL | FLAG.TRANSITIVE,
  9: FLAG.OPTIONAL,
  10: FLAG.OPTIONAL,
  14: FLAG.OPTIONAL,
  15: FLAG.OPTIONAL,
  16: FLAG.OPTIONAL | FLAG.TRANSITIVE,
  17: FLAG.OPTIONAL | FLAG.TRANSITIVE,
  18: FLAG.OPTIONAL | FLAG.TRANSITIVE,
  22: FLAG.OPTIONAL | FLAG.TRANSITIVE,
  32: FLAG.OPTIONAL | FLAG.TRANSITIVE,
};

const ORIGINS = ['igp', 'egp', 'incomplete'] as const;
const SEGMENT_TYPES: Record<number, AsPathSegment['type']> = {
  1: 'set',
  2: 'sequence',
  3: 'confed-sequence',
  4: 'confed-set',
};
const SEGMENT_CODES: Record<AsPathSegment['type'], number> = {
  set: 1,
  sequence: 2,
  'confed-sequence': 3,
  'confed-set': 4,
};

export function decodeOrigin(buf: Uint8Array, p: number, len: number): PathAttributes['origin'] {
  if (len !== 1) throw new Malformed(`ORIGIN length ${len}, want 1`);
  const v = buf[p]!;
  const origin = ORIGINS[v];
  if (!origin) throw new Malformed(`ORIGIN value ${v} undefined`);
  return origin;
}

export function decodeAsPath(buf: Uint8Array, p: number, len: number, asn4: boolean): AsPathSegment[] {
  const segs: AsPathSegment[] = [];
  const end = p + len;
  const w = asn4 ? 4 : 2;
  while (p < end) {
    if (p + 2 > end) throw new Malformed('AS_PATH: truncated segment header');
    const type = SEGMENT_TYPES[buf[p]!];
    const count = buf[p + 1]!;
    if (!type) throw new Malformed(`AS_PATH: segment type ${buf[p]}`);
    if (count === 0) throw new Malformed('AS_PATH: empty segment');
    p += 2;
    if (p + count * w > end) throw new Malformed('AS_PATH: segment overruns the attribute');
    const asns: number[] = new Array(count);
    for (let i = 0; i < count; i++) asns[i] = asn4 ? u32At(buf, p + i * 4) : u16At(buf, p + i * 2);
    p += count * w;
    segs.push({ type, asns });
  }
  return segs;
}

export function encodeAsPath(w: Writer, segs: AsPathSegment[], asn4: boolean): void {
  for (const seg of segs) {
    // Segments hold at most 255 ASNs: split longer ones.
    for (let i = 0; i < seg.asns.length; i += 255) {
      const chunk = seg.asns.slice(i, i + 255);
      w.u8(SEGMENT_CODES[seg.type]);
      w.u8(chunk.length);
      for (const a of chunk) {
        if (asn4) w.u32(a);
        else w.u16(a > 0xffff ? 23456 : a);
      }
    }
  }
}

function fixedLen(len: number, want: number, what: string): void {
  if (len !== want) throw new Malformed(`${what} length ${len}, want ${want}`);
}

export function decodeU32Attr(buf: Uint8Array, p: number, len: number, what: string): number {
  fixedLen(len, 4, what);
  return u32At(buf, p);
}

export function decodeIpv4Attr(buf: Uint8Array, p: number, len: number, what: string): string {
  fixedLen(len, 4, what);
  return ipv4At(buf, p);
}

export function decodeAggregator(buf: Uint8Array, p: number, len: number, asn4: boolean) {
  const want = asn4 ? 8 : 6;
  fixedLen(len, want, 'AGGREGATOR');
  return asn4
    ? { asn: u32At(buf, p), address: ipv4At(buf, p + 4) }
    : { asn: u16At(buf, p), address: ipv4At(buf, p + 2) };
}

export function decodeCommunities(buf: Uint8Array, p: number, len: number): string[] {
  if (len === 0 || len % 4) throw new Malformed(`COMMUNITIES length ${len} not a non-zero multiple of 4`);
  const out: string[] = [];
  for (let i = 0; i < len; i += 4) out.push(`${u16At(buf, p + i)}:${u16At(buf, p + i + 2)}`);
  return out;
}

export function decodeLargeCommunities(buf: Uint8Array, p: number, len: number): string[] {
  if (len === 0 || len % 12)
    throw new Malformed(`LARGE_COMMUNITIES length ${len} not a non-zero multiple of 12`);
  const out: string[] = [];
  for (let i = 0; i < len; i += 12)
    out.push(`${u32At(buf, p + i)}:${u32At(buf, p + i + 4)}:${u32At(buf, p + i + 8)}`);
  return out;
}

export function decodeClusterList(buf: Uint8Array, p: number, len: number): string[] {
  if (len === 0 || len % 4) throw new Malformed(`CLUSTER_LIST length ${len} not a non-zero multiple of 4`);
  const out: string[] = [];
  for (let i = 0; i < len; i += 4) out.push(ipv4At(buf, p + i));
  return out;
}

export function decodeExtCommunity(buf: Uint8Array, p: number): ExtCommunity {
  const type = buf[p]!;
  const sub = buf[p + 1]!;
  // RT (0x02) and route origin (0x03) share the three admin encodings.
  if ((type === 0x00 || type === 0x01 || type === 0x02) && (sub === 0x02 || sub === 0x03)) {
    const kind = sub === 0x02 ? 'route-target' : 'route-origin';
    if (type === 0x00)
      return { type: kind, value: `${u16At(buf, p + 2)}:${u32At(buf, p + 4)}`, encoding: 'as2' };
    if (type === 0x01)
      return { type: kind, value: `${ipv4At(buf, p + 2)}:${u16At(buf, p + 6)}`, encoding: 'ip' };
    return { type: kind, value: `${u32At(buf, p + 2)}:${u16At(buf, p + 6)}`, encoding: 'as4' };
  }
  if (type === 0x03 && sub === 0x0c) return { type: 'encapsulation', tunnelType: u16At(buf, p + 6) };
  if (type === 0x03 && sub === 0x0d) return { type: 'default-gateway' };
  if (type === 0x80 && sub === 0x04)
    return { type: 'secgroup', asn: u16At(buf, p + 2), id: u32At(buf, p + 4) };
  if (type === 0x06) {
    if (sub === 0x00)
      return { type: 'mac-mobility', sticky: (buf[p + 2]! & 0x01) !== 0, seq: u32At(buf, p + 4) };
    if (sub === 0x01)
      return { type: 'esi-label', singleActive: (buf[p + 2]! & 0x01) !== 0, label: u24At(buf, p + 5) };
    if (sub === 0x02) return { type: 'es-import-rt', mac: macAt(buf, p + 2) };
    if (sub === 0x03) return { type: 'router-mac', mac: macAt(buf, p + 2) };
  }
  return { type: 'raw', hex: hexOf(buf, p, p + 8) };
}

export function decodeExtCommunities(buf: Uint8Array, p: number, len: number): ExtCommunity[] {
  if (len === 0 || len % 8)
    throw new Malformed(`EXTENDED_COMMUNITIES length ${len} not a non-zero multiple of 8`);
  const out: ExtCommunity[] = [];
  for (let i = 0; i < len; i += 8) out.push(decodeExtCommunity(buf, p + i));
  return out;
}

function adminValue(value: string, what: string): { admin: string; num: number } {
  const colon = value.lastIndexOf(':');
  const num = Number(value.slice(colon + 1));
  if (colon < 0 || !Number.isInteger(num) || num < 0) throw new Malformed(`bad ${what} ${value}`);
  return { admin: value.slice(0, colon), num };
}

export function encodeExtCommunity(w: Writer, c: ExtCommunity): void {
  switch (c.type) {
    case 'route-target':
    case 'route-origin': {
      const sub = c.type === 'route-target' ? 0x02 : 0x03;
      const { admin, num } = adminValue(c.value, c.type);
      if (admin.includes('.')) {
        if (num > 0xffff) throw new Malformed(`${c.type} ${c.value}: local part > 65535`);
        w.u8(0x01);
        w.u8(sub);
        w.ipv4(admin);
        w.u16(num);
        return;
      }
      const asn = Number(admin);
      if (!Number.isInteger(asn) || asn < 0 || asn > 0xffffffff)
        throw new Malformed(`bad ${c.type} ${c.value}`);
      if (c.encoding === 'as4' || asn > 0xffff) {
        if (num > 0xffff) throw new Malformed(`${c.type} ${c.value}: local part > 65535 with a 4-octet ASN`);
        w.u8(0x02);
        w.u8(sub);
        w.u32(asn);
        w.u16(num);
        return;
      }
      w.u8(0x00);
      w.u8(sub);
      w.u16(asn);
      w.u32(num);
      return;
    }
    case 'encapsulation':
      w.u8(0x03);
      w.u8(0x0c);
      w.u32(0);
      w.u16(c.tunnelType);
      return;
    case 'default-gateway':
      w.u8(0x03);
      w.u8(0x0d);
      w.u32(0);
      w.u16(0);
      return;
    case 'mac-mobility':
      w.u8(0x06);
      w.u8(0x00);
      w.u8(c.sticky ? 1 : 0);
      w.u8(0);
      w.u32(c.seq);
      return;
    case 'esi-label':
      w.u8(0x06);
      w.u8(0x01);
      w.u8(c.singleActive ? 1 : 0);
      w.u16(0);
      w.u24(c.label);
      return;
    case 'es-import-rt':
      w.u8(0x06);
      w.u8(0x02);
      w.mac(c.mac);
      return;
    case 'router-mac':
      w.u8(0x06);
      w.u8(0x03);
      w.mac(c.mac);
      return;
    case 'secgroup':
      if (!Number.isInteger(c.asn) || c.asn < 0 || c.asn > 0xffff)
        throw new Malformed(`secgroup community: AS ${c.asn} does not fit 2 octets`);
      if (!Number.isInteger(c.id) || c.id < 0 || c.id > 0xffffffff)
        throw new Malformed(`secgroup community: group id ${c.id} does not fit 4 octets`);
      w.u8(0x80);
      w.u8(0x04);
      w.u16(c.asn);
      w.u32(c.id);
      return;
    case 'raw': {
      if (!/^[0-9a-fA-F]{16}$/.test(c.hex))
        throw new Malformed(`raw extended community ${c.hex}: want 16 hex digits`);
      w.bytes(Buffer.from(c.hex, 'hex'));
      return;
    }
  }
}

export function decodePmsiTunnel(buf: Uint8Array, p: number, len: number): PmsiTunnel {
  if (len < 5) throw new Malformed(`PMSI_TUNNEL length ${len} < 5`);
  const tunnelType = buf[p + 1]!;
  const idLen = len - 5;
  let tunnelId: string;
  if (tunnelType === 6) {
    if (idLen !== 4 && idLen !== 16)
      throw new Malformed(`PMSI_TUNNEL ingress replication: endpoint length ${idLen}`);
    tunnelId = ipAt(buf, p + 5, idLen);
  } else tunnelId = hexOf(buf, p + 5, p + len);
  return { flags: buf[p]!, tunnelType, label: u24At(buf, p + 2), tunnelId };
}

export function encodePmsiTunnel(w: Writer, t: PmsiTunnel): void {
  w.u8(t.flags);
  w.u8(t.tunnelType);
  w.u24(t.label);
  if (t.tunnelType === 6) writeIp(w, t.tunnelId);
  else w.bytes(Buffer.from(t.tunnelId, 'hex'));
}

function communityValue(text: string): number {
  const [hi, lo, extra] = text.split(':');
  const a = Number(hi);
  const b = Number(lo);
  if (
    extra !== undefined ||
    !Number.isInteger(a) ||
    !Number.isInteger(b) ||
    a < 0 ||
    b < 0 ||
    a > 0xffff ||
    b > 0xffff
  )
    throw new Malformed(`bad community ${text}`);
  return ((a << 16) >>> 0) + b;
}

/** Writes one attribute with flags/type/length (extended length when the value exceeds 255 octets). */
export function writeAttr(w: Writer, flags: number, type: number, body: (w: Writer) => void): void {
  const flagsAt = w.skip(1);
  w.u8(type);
  const lenAt = w.skip(2);
  const start = w.pos;
  body(w);
  const len = w.pos - start;
  if (len > 0xffff) throw new Malformed(`attribute ${type} too long (${len})`);
  // Always written with a 2-octet length, then compacted when it fits in one octet.
  if (len <= 255 && !(flags & FLAG.EXTENDED)) {
    w.buf.copyWithin(lenAt + 1, start, w.pos);
    w.buf[lenAt] = len;
    w.pos -= 1;
    w.buf[flagsAt] = flags & ~FLAG.EXTENDED;
  } else {
    w.buf[lenAt] = len >>> 8;
    w.buf[lenAt + 1] = len & 0xff;
    w.buf[flagsAt] = flags | FLAG.EXTENDED;
  }
}

export interface AttrEncodeContext {
  asn4: boolean;
}

/**
 * Encodes every attribute in `attrs` except NEXT_HOP/MP_REACH (the caller writes those per family), in
 * type-code order. `includeNextHop` writes the classic NEXT_HOP attribute (IPv4 unicast).
 */
export function encodeAttributes(
  w: Writer,
  a: PathAttributes,
  ctx: AttrEncodeContext,
  includeNextHop: boolean,
): void {
  if (a.origin !== undefined)
    writeAttr(w, FLAG.TRANSITIVE, ATTR.ORIGIN, (x) =>
      x.u8(ORIGINS.indexOf(a.origin as (typeof ORIGINS)[number])),
    );
  writeAttr(w, FLAG.TRANSITIVE, ATTR.AS_PATH, (x) => encodeAsPath(x, a.asPath ?? [], ctx.asn4));
  if (includeNextHop && a.nextHop) {
    const nh = a.nextHop;
    writeAttr(w, FLAG.TRANSITIVE, ATTR.NEXT_HOP, (x) => x.ipv4(nh));
  }
  if (a.med !== undefined) {
    const med = a.med;
    writeAttr(w, FLAG.OPTIONAL, ATTR.MED, (x) => x.u32(med));
  }
  if (a.localPref !== undefined) {
    const lp = a.localPref;
    writeAttr(w, FLAG.TRANSITIVE, ATTR.LOCAL_PREF, (x) => x.u32(lp));
  }
  if (a.atomicAggregate) writeAttr(w, FLAG.TRANSITIVE, ATTR.ATOMIC_AGGREGATE, () => {});
  if (a.aggregator) {
    const ag = a.aggregator;
    writeAttr(w, FLAG.OPTIONAL | FLAG.TRANSITIVE, ATTR.AGGREGATOR, (x) => {
      if (ctx.asn4) x.u32(ag.asn);
      else x.u16(ag.asn > 0xffff ? 23456 : ag.asn);
      x.ipv4(ag.address);
    });
  }
  if (a.communities?.length) {
    const cs = a.communities;
    writeAttr(w, FLAG.OPTIONAL | FLAG.TRANSITIVE, ATTR.COMMUNITIES, (x) => {
      for (const c of cs) x.u32(communityValue(c));
    });
  }
  if (a.originatorId) {
    const id = a.originatorId;
    writeAttr(w, FLAG.OPTIONAL, ATTR.ORIGINATOR_ID, (x) => x.ipv4(id));
  }
  if (a.clusterList?.length) {
    const cl = a.clusterList;
    writeAttr(w, FLAG.OPTIONAL, ATTR.CLUSTER_LIST, (x) => {
      for (const c of cl) x.ipv4(c);
    });
  }
  if (a.extCommunities?.length) {
    const ecs = a.extCommunities;
    writeAttr(w, FLAG.OPTIONAL | FLAG.TRANSITIVE, ATTR.EXT_COMMUNITIES, (x) => {
      for (const c of ecs) encodeExtCommunity(x, c);
    });
  }
  if (a.pmsiTunnel) {
    const t = a.pmsiTunnel;
    writeAttr(w, FLAG.OPTIONAL | FLAG.TRANSITIVE, ATTR.PMSI_TUNNEL, (x) => encodePmsiTunnel(x, t));
  }
  if (a.largeCommunities?.length) {
    const lcs = a.largeCommunities;
    writeAttr(w, FLAG.OPTIONAL | FLAG.TRANSITIVE, ATTR.LARGE_COMMUNITIES, (x) => {
      for (const c of lcs) {
        const parts = c.split(':').map(Number);
        if (parts.length !== 3 || parts.some((n) => !Number.isInteger(n) || n < 0 || n > 0xffffffff))
          throw new Malformed(`bad large community ${c}`);
        for (const n of parts) x.u32(n);
      }
    });
  }
  for (const u of a.unknown ?? []) {
    writeAttr(w, u.flags, u.type, (x) => x.bytes(Buffer.from(u.hex, 'hex')));
  }
}

export { ipLen };
