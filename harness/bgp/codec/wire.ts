/**
 * Low-level wire helpers: a bounds-checked reader over a Buffer, a growable writer, and text forms of
 * addresses, MACs, RDs. Decoders throw `Malformed` (never anything else) so UPDATE decoding can map
 * every failure to an RFC 7606 action; the throw is caught inside the codec and never escapes it.
 */
import { isIPv4, isIPv6 } from 'node:net';

export class Malformed extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Malformed';
  }
}

export const HEX: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function hexOf(buf: Uint8Array, start = 0, end = buf.length): string {
  let out = '';
  for (let i = start; i < end; i++) out += HEX[buf[i]!];
  return out;
}

export function fromHex(hex: string): Buffer {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) throw new Malformed(`bad hex: ${hex}`);
  return Buffer.from(hex, 'hex');
}

export function need(buf: Uint8Array, pos: number, n: number, what: string): void {
  if (pos + n > buf.length)
    throw new Malformed(`${what}: needs ${n} octets at ${pos}, have ${buf.length - pos}`);
}

export function ipv4At(buf: Uint8Array, p: number): string {
  return `${buf[p]}.${buf[p + 1]}.${buf[p + 2]}.${buf[p + 3]}`;
}

export function ipv6At(buf: Uint8Array, p: number): string {
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push((buf[p + 2 * i]! << 8) | buf[p + 2 * i + 1]!);
  // RFC 5952: compress the longest run (≥2) of zero words.
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = words.map((w) => w.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

export function macAt(buf: Uint8Array, p: number): string {
  return `${HEX[buf[p]!]}:${HEX[buf[p + 1]!]}:${HEX[buf[p + 2]!]}:${HEX[buf[p + 3]!]}:${HEX[buf[p + 4]!]}:${HEX[buf[p + 5]!]}`;
}

export function u16At(buf: Uint8Array, p: number): number {
  return (buf[p]! << 8) | buf[p + 1]!;
}

export function u24At(buf: Uint8Array, p: number): number {
  return (buf[p]! << 16) | (buf[p + 1]! << 8) | buf[p + 2]!;
}

export function u32At(buf: Uint8Array, p: number): number {
  return ((buf[p]! << 24) >>> 0) + ((buf[p + 1]! << 16) | (buf[p + 2]! << 8) | buf[p + 3]!);
}

const ZERO_ESI_TEXT = '00:00:00:00:00:00:00:00:00:00';

export function esiAt(buf: Uint8Array, p: number): string {
  let zero = true;
  for (let i = 0; i < 10; i++) {
    if (buf[p + i] !== 0) {
      zero = false;
      break;
    }
  }
  if (zero) return ZERO_ESI_TEXT;
  let out = HEX[buf[p]!]!;
  for (let i = 1; i < 10; i++) out += `:${HEX[buf[p + i]!]}`;
  return out;
}

export function rdAt(buf: Uint8Array, p: number): string {
  const type = u16At(buf, p);
  switch (type) {
    case 0:
      return `${u16At(buf, p + 2)}:${u32At(buf, p + 4)}`;
    case 1:
      return `${ipv4At(buf, p + 2)}:${u16At(buf, p + 6)}`;
    case 2:
      return `${u32At(buf, p + 2)}:${u16At(buf, p + 6)}`;
    default:
      return `rdtype${type}:${hexOf(buf, p + 2, p + 8)}`;
  }
}

/** Growable output buffer; `finish()` returns a view of the bytes written. */
export class Writer {
  buf: Buffer;
  pos = 0;

  constructor(initial = 256) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.pos++] = v & 0xff;
  }

  u16(v: number): void {
    this.ensure(2);
    this.buf[this.pos++] = (v >>> 8) & 0xff;
    this.buf[this.pos++] = v & 0xff;
  }

  u24(v: number): void {
    this.ensure(3);
    this.buf[this.pos++] = (v >>> 16) & 0xff;
    this.buf[this.pos++] = (v >>> 8) & 0xff;
    this.buf[this.pos++] = v & 0xff;
  }

  u32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32BE(v >>> 0, this.pos);
    this.pos += 4;
  }

  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  ipv4(addr: string): void {
    this.ensure(4);
    writeIpv4(this.buf, this.pos, addr);
    this.pos += 4;
  }

  ipv6(addr: string): void {
    this.bytes(ipv6Bytes(addr));
  }

  mac(mac: string): void {
    this.ensure(6);
    writeMac(this.buf, this.pos, mac);
    this.pos += 6;
  }

  rd(rd: string): void {
    this.ensure(8);
    writeRd(this.buf, this.pos, rd);
    this.pos += 8;
  }

  esi(esi: string): void {
    this.ensure(10);
    const parts = esi.split(':');
    if (parts.length !== 10) throw new Malformed(`bad ESI ${esi}`);
    for (let i = 0; i < 10; i++) this.buf[this.pos + i] = Number.parseInt(parts[i]!, 16);
    this.pos += 10;
  }

  /** Overwrites a 16-bit value at `at` (a length field reserved with `skip`). */
  u16At(at: number, v: number): void {
    this.buf[at] = (v >>> 8) & 0xff;
    this.buf[at + 1] = v & 0xff;
  }

  /** Reserves `n` bytes (e.g. a length field) and returns their offset. */
  skip(n: number): number {
    this.ensure(n);
    const at = this.pos;
    this.pos += n;
    return at;
  }

  finish(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

export function writeIpv4(buf: Uint8Array, p: number, addr: string): void {
  let octet = 0;
  let idx = 0;
  let digits = 0;
  for (let i = 0; i < addr.length; i++) {
    const c = addr.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || idx >= 3) throw new Malformed(`bad IPv4 address ${addr}`);
      buf[p + idx++] = octet;
      octet = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      octet = octet * 10 + (c - 48);
      digits++;
      if (octet > 255) throw new Malformed(`bad IPv4 address ${addr}`);
    } else throw new Malformed(`bad IPv4 address ${addr}`);
  }
  if (idx !== 3 || digits === 0) throw new Malformed(`bad IPv4 address ${addr}`);
  buf[p + 3] = octet;
}

export function ipv6Bytes(addr: string): Buffer {
  if (!isIPv6(addr)) throw new Malformed(`bad IPv6 address ${addr}`);
  let text = addr;
  const out = Buffer.alloc(16);
  // Embedded IPv4 tail (::ffff:192.0.2.1).
  const lastColon = text.lastIndexOf(':');
  let tail: Buffer | undefined;
  if (text.slice(lastColon + 1).includes('.')) {
    tail = Buffer.alloc(4);
    writeIpv4(tail, 0, text.slice(lastColon + 1));
    text = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const [head, rest] = text.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const r = rest ? rest.split(':') : [];
  const words = [...h, ...Array(8 - h.length - r.length).fill('0'), ...r];
  for (let i = 0; i < 8; i++) out.writeUInt16BE(Number.parseInt(words[i] ?? '0', 16), i * 2);
  if (tail) tail.copy(out, 12);
  return out;
}

export function writeMac(buf: Uint8Array, p: number, mac: string): void {
  if (mac.length !== 17) throw new Malformed(`bad MAC ${mac}`);
  for (let i = 0; i < 6; i++) {
    const v = Number.parseInt(mac.slice(i * 3, i * 3 + 2), 16);
    if (Number.isNaN(v)) throw new Malformed(`bad MAC ${mac}`);
    buf[p + i] = v;
  }
}

export function writeRd(buf: Uint8Array, p: number, rd: string): void {
  const colon = rd.lastIndexOf(':');
  if (colon < 0) throw new Malformed(`bad RD ${rd}`);
  const admin = rd.slice(0, colon);
  const num = Number(rd.slice(colon + 1));
  if (!Number.isInteger(num) || num < 0) throw new Malformed(`bad RD ${rd}`);
  const view = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (admin.includes('.')) {
    if (num > 0xffff) throw new Malformed(`bad RD ${rd}: assigned number > 65535 with an IPv4 admin`);
    view.writeUInt16BE(1, p);
    writeIpv4(buf, p + 2, admin);
    view.writeUInt16BE(num, p + 6);
    return;
  }
  const asn = Number(admin);
  if (!Number.isInteger(asn) || asn < 0 || asn > 0xffffffff) throw new Malformed(`bad RD ${rd}`);
  if (asn > 0xffff) {
    if (num > 0xffff) throw new Malformed(`bad RD ${rd}: assigned number > 65535 with a 4-octet ASN`);
    view.writeUInt16BE(2, p);
    view.writeUInt32BE(asn, p + 2);
    view.writeUInt16BE(num, p + 6);
    return;
  }
  if (num > 0xffffffff) throw new Malformed(`bad RD ${rd}`);
  view.writeUInt16BE(0, p);
  view.writeUInt16BE(asn, p + 2);
  view.writeUInt32BE(num, p + 4);
}

/** Length in octets of an IP address written as text: 4 or 16 (throws otherwise). */
export function ipLen(addr: string): 4 | 16 {
  if (isIPv4(addr)) return 4;
  if (isIPv6(addr)) return 16;
  throw new Malformed(`bad IP address ${addr}`);
}

export function writeIp(w: Writer, addr: string): void {
  if (ipLen(addr) === 4) w.ipv4(addr);
  else w.ipv6(addr);
}

export function ipAt(buf: Uint8Array, p: number, len: number): string {
  if (len === 4) return ipv4At(buf, p);
  if (len === 16) return ipv6At(buf, p);
  throw new Malformed(`IP address length ${len}`);
}

/** Parses `a.b.c.d/len` (or IPv6) into address bytes (full length) and prefix length. */
export function parsePrefix(prefix: string): { bytes: Buffer; len: number; v6: boolean } {
  const slash = prefix.indexOf('/');
  if (slash < 0) throw new Malformed(`bad prefix ${prefix}`);
  const addr = prefix.slice(0, slash);
  const len = Number(prefix.slice(slash + 1));
  const v6 = ipLen(addr) === 16;
  if (!Number.isInteger(len) || len < 0 || len > (v6 ? 128 : 32)) throw new Malformed(`bad prefix ${prefix}`);
  let bytes: Buffer;
  if (v6) bytes = ipv6Bytes(addr);
  else {
    bytes = Buffer.alloc(4);
    writeIpv4(bytes, 0, addr);
  }
  return { bytes, len, v6 };
}

/** Text of a prefix from `nbytes` significant octets (rest zero). */
export function prefixText(buf: Uint8Array, p: number, nbytes: number, len: number, v6: boolean): string {
  const full = new Uint8Array(v6 ? 16 : 4);
  for (let i = 0; i < nbytes; i++) full[i] = buf[p + i]!;
  return `${v6 ? ipv6At(full, 0) : ipv4At(full, 0)}/${len}`;
}
