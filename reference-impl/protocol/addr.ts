/** IPv4/MAC helpers shared by the three roles (no dependencies but node:crypto). */
import { createHash } from 'node:crypto';

export function parseIPv4(text: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return undefined;
  let value = 0;
  for (let i = 1; i <= 4; i++) {
    const part = m[i] as string;
    if (part.length > 1 && part.startsWith('0')) return undefined;
    const octet = Number(part);
    if (octet > 255) return undefined;
    value = value * 256 + octet;
  }
  return value;
}

export function formatIPv4(value: number): string {
  return [value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff].join('.');
}

export interface Cidr4 {
  network: number;
  length: number;
}

export function parseCidr4(text: string): Cidr4 | undefined {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(text);
  if (!m) return undefined;
  const network = parseIPv4(m[1] as string);
  const length = Number(m[2]);
  if (network === undefined || length > 32) return undefined;
  return { network, length };
}

export function maskOf(length: number): number {
  return length === 0 ? 0 : (0xffffffff << (32 - length)) >>> 0;
}

export function cidrContains(cidr: Cidr4, address: number): boolean {
  const mask = maskOf(cidr.length);
  return (address & mask) >>> 0 === cidr.network;
}

export function cidrsOverlap(a: Cidr4, b: Cidr4): boolean {
  const length = Math.min(a.length, b.length);
  const mask = maskOf(length);
  return (a.network & mask) >>> 0 === (b.network & mask) >>> 0;
}

export function broadcastOf(cidr: Cidr4): number {
  return (cidr.network | (~maskOf(cidr.length) >>> 0)) >>> 0;
}

export const MAC_PATTERN = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

export function normalizeMac(text: string): string | undefined {
  const lower = text.toLowerCase();
  return MAC_PATTERN.test(lower) ? lower : undefined;
}

export function isUnicastMac(mac: string): boolean {
  const first = Number.parseInt(mac.slice(0, 2), 16);
  return (first & 1) === 0 && mac !== '00:00:00:00:00:00';
}

/**
 * A hypervisor's router MAC on a domain's L3 VNI (the type-5 router MAC extended community, RFC 9136
 * §4.1): locally administered, from the VTEP and the VNI, so it is the same after every restart and
 * differs between hypervisors and domains.
 */
export function routerMacFor(vtep: string, l3Vni: number): string {
  const h = createHash('sha256').update(`${vtep}/${l3Vni}`).digest();
  return ['02', ...[...h.subarray(0, 5)].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}
