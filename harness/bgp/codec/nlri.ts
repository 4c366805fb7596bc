/**
 * NLRI encodings: EVPN (RFC 7432 §7, RFC 9136 type 5, RFC 8365 VNI in the label fields), VPN-IPv4
 * (RFC 4364 / RFC 8277 labels), IPv4 unicast prefixes; each optionally preceded by an ADD-PATH
 * path identifier (RFC 7911). Decoders read straight from the Buffer and throw `Malformed` on bad input.
 */
import type { EvpnRoute, EvpnUnknown, Family, Ipv4Route, Route, Vpnv4Route } from '../types.ts';
import {
  esiAt,
  hexOf,
  ipAt,
  ipLen,
  ipv4At,
  Malformed,
  macAt,
  parsePrefix,
  prefixText,
  rdAt,
  u24At,
  u32At,
  type Writer,
  writeIp,
} from './wire.ts';

/** The ADD-PATH path identifier (RFC 7911 §3) at `pos`, 4 octets; `what` names the NLRI in errors. */
function pathIdAt(buf: Uint8Array, pos: number, end: number, what: string): number {
  if (pos + 4 > end) throw new Malformed(`${what}: truncated path identifier`);
  return u32At(buf, pos);
}

/** Decodes one EVPN NLRI at `pos`; returns the position after it. */
export function decodeEvpnNlri(
  buf: Uint8Array,
  pos: number,
  end: number,
  addPath: boolean,
  out: Route[],
): number {
  let pathId: number | undefined;
  if (addPath) {
    pathId = pathIdAt(buf, pos, end, 'EVPN NLRI');
    pos += 4;
  }
  if (pos + 2 > end) throw new Malformed('EVPN NLRI: truncated header');
  const type = buf[pos]!;
  const len = buf[pos + 1]!;
  const p = pos + 2;
  const next = p + len;
  if (next > end) throw new Malformed(`EVPN NLRI type ${type}: length ${len} overruns the attribute`);
  if (len < 8) throw new Malformed(`EVPN NLRI type ${type}: length ${len} < 8 (no RD)`);
  const rd = rdAt(buf, p);
  let route: Route;
  switch (type) {
    case 1: {
      if (len !== 25) throw new Malformed(`EVPN type 1: length ${len}, want 25`);
      route = {
        afi: 'l2vpn-evpn',
        type: 1,
        rd,
        esi: esiAt(buf, p + 8),
        ethTag: u32At(buf, p + 18),
        labels: [u24At(buf, p + 22)],
      };
      break;
    }
    case 2: {
      if (len < 33) throw new Malformed(`EVPN type 2: length ${len} < 33`);
      const macBits = buf[p + 22]!;
      if (macBits !== 48) throw new Malformed(`EVPN type 2: MAC length ${macBits} bits, want 48`);
      const ipBits = buf[p + 29]!;
      if (ipBits !== 0 && ipBits !== 32 && ipBits !== 128)
        throw new Malformed(`EVPN type 2: IP length ${ipBits} bits`);
      const ipBytes = ipBits >>> 3;
      const labelsAt = p + 30 + ipBytes;
      const labelBytes = next - labelsAt;
      if (labelBytes !== 3 && labelBytes !== 6)
        throw new Malformed(`EVPN type 2: length ${len} inconsistent with IP length ${ipBits}`);
      const r: EvpnRoute = {
        afi: 'l2vpn-evpn',
        type: 2,
        rd,
        esi: esiAt(buf, p + 8),
        ethTag: u32At(buf, p + 18),
        mac: macAt(buf, p + 23),
        labels: labelBytes === 6 ? [u24At(buf, labelsAt), u24At(buf, labelsAt + 3)] : [u24At(buf, labelsAt)],
      };
      if (ipBytes) r.ip = ipAt(buf, p + 30, ipBytes);
      route = r;
      break;
    }
    case 3: {
      const ipBits = buf[p + 12]!;
      if (len < 13 || (ipBits !== 32 && ipBits !== 128) || len !== 13 + (ipBits >>> 3))
        throw new Malformed(`EVPN type 3: length ${len} with IP length ${len >= 13 ? ipBits : '?'}`);
      route = {
        afi: 'l2vpn-evpn',
        type: 3,
        rd,
        ethTag: u32At(buf, p + 8),
        originatorIp: ipAt(buf, p + 13, ipBits >>> 3),
      };
      break;
    }
    case 4: {
      const ipBits = buf[p + 18]!;
      if (len < 19 || (ipBits !== 32 && ipBits !== 128) || len !== 19 + (ipBits >>> 3))
        throw new Malformed(`EVPN type 4: length ${len}`);
      route = {
        afi: 'l2vpn-evpn',
        type: 4,
        rd,
        esi: esiAt(buf, p + 8),
        originatorIp: ipAt(buf, p + 19, ipBits >>> 3),
      };
      break;
    }
    case 5: {
      if (len !== 34 && len !== 58) throw new Malformed(`EVPN type 5: length ${len}, want 34 or 58`);
      const v6 = len === 58;
      const plen = buf[p + 22]!;
      if (plen > (v6 ? 128 : 32)) throw new Malformed(`EVPN type 5: prefix length ${plen}`);
      const alen = v6 ? 16 : 4;
      // Zero the host bits so the prefix text is canonical.
      const addr = new Uint8Array(alen);
      for (let i = 0; i < alen; i++) addr[i] = buf[p + 23 + i]!;
      for (let bit = plen; bit < alen * 8; bit++) addr[bit >>> 3]! &= ~(0x80 >>> (bit & 7));
      route = {
        afi: 'l2vpn-evpn',
        type: 5,
        rd,
        esi: esiAt(buf, p + 8),
        ethTag: u32At(buf, p + 18),
        prefix: prefixText(addr, 0, alen, plen, v6),
        gateway: ipAt(buf, p + 23 + alen, alen),
        labels: [u24At(buf, p + 23 + 2 * alen)],
      };
      break;
    }
    default: {
      const r: EvpnUnknown = { afi: 'l2vpn-evpn', type, rd, unknown: true, hex: hexOf(buf, p + 8, next) };
      route = r;
    }
  }
  if (pathId !== undefined) route.pathId = pathId;
  out.push(route);
  return next;
}

export function encodeEvpnNlri(w: Writer, r: EvpnRoute | EvpnUnknown, addPath: boolean): void {
  if (addPath) w.u32(r.pathId ?? 0);
  w.u8(r.type);
  const lenAt = w.skip(1);
  const start = w.pos;
  w.rd(r.rd);
  if ('unknown' in r) {
    w.bytes(Buffer.from(r.hex, 'hex'));
  } else {
    switch (r.type) {
      case 1:
        w.esi(r.esi);
        w.u32(r.ethTag);
        w.u24(r.labels[0]);
        break;
      case 2: {
        w.esi(r.esi);
        w.u32(r.ethTag);
        w.u8(48);
        w.mac(r.mac);
        if (r.ip) {
          w.u8(ipLen(r.ip) * 8);
          writeIp(w, r.ip);
        } else w.u8(0);
        if (r.labels.length < 1 || r.labels.length > 2)
          throw new Malformed('EVPN type 2 needs 1 or 2 labels');
        for (const l of r.labels) w.u24(l);
        break;
      }
      case 3:
        w.u32(r.ethTag);
        w.u8(ipLen(r.originatorIp) * 8);
        writeIp(w, r.originatorIp);
        break;
      case 4:
        w.esi(r.esi);
        w.u8(ipLen(r.originatorIp) * 8);
        writeIp(w, r.originatorIp);
        break;
      case 5: {
        const pfx = parsePrefix(r.prefix);
        w.esi(r.esi);
        w.u32(r.ethTag);
        w.u8(pfx.len);
        w.bytes(pfx.bytes);
        if ((ipLen(r.gateway) === 16) !== pfx.v6)
          throw new Malformed('EVPN type 5: gateway family ≠ prefix family');
        writeIp(w, r.gateway);
        w.u24(r.labels[0]);
        break;
      }
    }
  }
  w.buf[lenAt] = w.pos - start;
}

/** Text of the IPv4 prefix of `bits` (≤ 32) bits whose significant octets start at `at`; host bits zeroed. */
function ipv4PrefixAt(buf: Uint8Array, at: number, bits: number): string {
  const nbytes = (bits + 7) >>> 3;
  const addr = new Uint8Array(4);
  for (let i = 0; i < nbytes; i++) addr[i] = buf[at + i]!;
  if (bits % 8) addr[nbytes - 1]! &= (0xff << (8 - (bits % 8))) & 0xff;
  return `${ipv4At(addr, 0)}/${bits}`;
}

/** `prefix` parsed; refuses an IPv6 prefix, naming the route as `what`. */
function ipv4PrefixOf(prefix: string, what: string): ReturnType<typeof parsePrefix> {
  const pfx = parsePrefix(prefix);
  if (pfx.v6) throw new Malformed(`${what} with IPv6 prefix ${prefix}`);
  return pfx;
}

/** Writes the significant octets of `pfx` (RFC 4271 §4.3 prefix encoding, without the length). */
function writePrefixOctets(w: Writer, pfx: ReturnType<typeof parsePrefix>): void {
  w.bytes(pfx.bytes.subarray(0, (pfx.len + 7) >>> 3));
}

/** Classic prefix encoding (length in bits + significant octets). */
function decodePrefixBits(buf: Uint8Array, pos: number, end: number, maxBits: number, what: string) {
  const bits = buf[pos]!;
  if (bits > maxBits) throw new Malformed(`${what}: prefix length ${bits} > ${maxBits}`);
  const nbytes = (bits + 7) >>> 3;
  if (pos + 1 + nbytes > end) throw new Malformed(`${what}: prefix overruns its field`);
  return { bits, nbytes, at: pos + 1 };
}

export function decodeIpv4Nlri(
  buf: Uint8Array,
  pos: number,
  end: number,
  addPath: boolean,
  out: Route[],
): number {
  let pathId: number | undefined;
  if (addPath) {
    pathId = pathIdAt(buf, pos, end, 'IPv4 NLRI');
    pos += 4;
  }
  if (pos >= end) throw new Malformed('IPv4 NLRI: truncated');
  const { bits, nbytes, at } = decodePrefixBits(buf, pos, end, 32, 'IPv4 NLRI');
  const r: Ipv4Route = { afi: 'ipv4-unicast', prefix: ipv4PrefixAt(buf, at, bits) };
  if (pathId !== undefined) r.pathId = pathId;
  out.push(r);
  return at + nbytes;
}

export function encodeIpv4Nlri(w: Writer, r: Ipv4Route, addPath: boolean): void {
  if (addPath) w.u32(r.pathId ?? 0);
  const pfx = ipv4PrefixOf(r.prefix, 'IPv4 unicast route');
  w.u8(pfx.len);
  writePrefixOctets(w, pfx);
}

/**
 * VPN-IPv4 NLRI: bit length, label stack (3 octets each, until bottom-of-stack; a withdrawal may carry
 * 0x800000 or 0x000000 as its single label, RFC 8277 §2.4), RD, prefix.
 */
export function decodeVpnv4Nlri(
  buf: Uint8Array,
  pos: number,
  end: number,
  addPath: boolean,
  out: Route[],
  withdraw: boolean,
): number {
  let pathId: number | undefined;
  if (addPath) {
    pathId = pathIdAt(buf, pos, end, 'VPNv4 NLRI');
    pos += 4;
  }
  if (pos >= end) throw new Malformed('VPNv4 NLRI: truncated');
  let bits = buf[pos]!;
  const nbytes = (bits + 7) >>> 3;
  let p = pos + 1;
  const next = p + nbytes;
  if (next > end) throw new Malformed(`VPNv4 NLRI: length ${bits} bits overruns its field`);
  const labels: number[] = [];
  for (;;) {
    if (bits < 24) throw new Malformed('VPNv4 NLRI: label stack longer than the NLRI');
    const raw = u24At(buf, p);
    p += 3;
    bits -= 24;
    if (withdraw && labels.length === 0 && (raw === 0x800000 || raw === 0)) break;
    labels.push(raw >>> 4);
    if (raw & 1) break;
    if (labels.length > 8) throw new Malformed('VPNv4 NLRI: no bottom-of-stack within 8 labels');
  }
  if (bits < 64) throw new Malformed('VPNv4 NLRI: too short for an RD');
  const rd = rdAt(buf, p);
  p += 8;
  bits -= 64;
  if (bits > 32) throw new Malformed(`VPNv4 NLRI: prefix length ${bits} > 32`);
  const pbytes = (bits + 7) >>> 3;
  if (p + pbytes !== next) throw new Malformed('VPNv4 NLRI: inconsistent length');
  const r: Vpnv4Route = { afi: 'ipv4-vpn', rd, prefix: ipv4PrefixAt(buf, p, bits), labels };
  if (pathId !== undefined) r.pathId = pathId;
  out.push(r);
  return next;
}

export function encodeVpnv4Nlri(w: Writer, r: Vpnv4Route, addPath: boolean, withdraw: boolean): void {
  if (addPath) w.u32(r.pathId ?? 0);
  const pfx = ipv4PrefixOf(r.prefix, 'VPN-IPv4 route');
  const labels = withdraw || r.labels.length === 0 ? null : r.labels;
  const nlabels = labels ? labels.length : 1;
  w.u8(nlabels * 24 + 64 + pfx.len);
  if (labels) {
    for (let i = 0; i < labels.length; i++) {
      const label = labels[i]!;
      if (!Number.isInteger(label) || label < 0 || label > 0xfffff)
        throw new Malformed(`VPN-IPv4 route ${r.rd} ${r.prefix}: label ${label} is not a 20-bit MPLS label`);
      w.u24((label << 4) | (i === labels.length - 1 ? 1 : 0));
    }
  } else w.u24(0x800000);
  w.rd(r.rd);
  writePrefixOctets(w, pfx);
}

export function decodeNlriList(
  family: Family,
  buf: Uint8Array,
  pos: number,
  end: number,
  addPath: boolean,
  withdraw: boolean,
  out: Route[],
): void {
  while (pos < end) {
    if (family === 'l2vpn-evpn') pos = decodeEvpnNlri(buf, pos, end, addPath, out);
    else if (family === 'ipv4-vpn') pos = decodeVpnv4Nlri(buf, pos, end, addPath, out, withdraw);
    else pos = decodeIpv4Nlri(buf, pos, end, addPath, out);
  }
}

export function encodeNlri(w: Writer, r: Route, addPath: boolean, withdraw: boolean): void {
  if (r.afi === 'l2vpn-evpn') encodeEvpnNlri(w, r, addPath);
  else if (r.afi === 'ipv4-vpn') encodeVpnv4Nlri(w, r, addPath, withdraw);
  else encodeIpv4Nlri(w, r, addPath);
}

/**
 * A stable identity of a route within its family (what a withdraw must match): EVPN keys follow RFC
 * 7432 — labels are not part of a type-2 key; VPNv4 keys are RD + prefix.
 */
export function routeKey(r: Route): string {
  const pid = r.pathId ? `#${r.pathId}` : '';
  if (r.afi === 'ipv4-unicast') return `4|${r.prefix}${pid}`;
  if (r.afi === 'ipv4-vpn') return `v|${r.rd}|${r.prefix}${pid}`;
  if ('unknown' in r) return `e${r.type}|${r.rd}|${r.hex}${pid}`;
  switch (r.type) {
    case 1:
      return `e1|${r.rd}|${r.esi}|${r.ethTag}${pid}`;
    case 2:
      return `e2|${r.rd}|${r.ethTag}|${r.mac}|${r.ip ?? ''}${pid}`;
    case 3:
      return `e3|${r.rd}|${r.ethTag}|${r.originatorIp}${pid}`;
    case 4:
      return `e4|${r.rd}|${r.esi}|${r.originatorIp}${pid}`;
    case 5:
      return `e5|${r.rd}|${r.ethTag}|${r.prefix}${pid}`;
  }
}

export const familyOf = (r: Route): Family => r.afi;
