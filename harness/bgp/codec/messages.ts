/**
 * BGP message framing (RFC 4271 §4) and the non-UPDATE messages: OPEN with capabilities (RFC 5492:
 * multiprotocol 4760, route refresh 2918, graceful restart 4724, 4-octet AS 6793, ADD-PATH 7911;
 * unknown ones kept), NOTIFICATION, KEEPALIVE, ROUTE-REFRESH.
 */
import type { Family } from '../types.ts';
import { FAMILY_AFI_SAFI } from '../types.ts';
import { fromHex, hexOf, ipv4At, Malformed, u16At, u32At, Writer } from './wire.ts';

export const MSG = { OPEN: 1, UPDATE: 2, NOTIFICATION: 3, KEEPALIVE: 4, ROUTE_REFRESH: 5 } as const;
export const HEADER_LEN = 19;
export const MAX_MESSAGE_LEN = 4096;
export const AS_TRANS = 23456;

export function familyOfAfiSafi(afi: number, safi: number): Family | undefined {
  if (afi === 1 && safi === 1) return 'ipv4-unicast';
  if (afi === 1 && safi === 128) return 'ipv4-vpn';
  if (afi === 25 && safi === 70) return 'l2vpn-evpn';
  return undefined;
}

export type AddPathMode = 'receive' | 'send' | 'both';

export interface Capabilities {
  /** Multiprotocol families (code 1); unknown AFI/SAFI pairs are listed as `afi/safi`. */
  multiprotocol: Array<Family | `${number}/${number}`>;
  routeRefresh: boolean;
  enhancedRouteRefresh: boolean;
  /** 4-octet AS number (code 65). */
  asn4?: number;
  gracefulRestart?: {
    restarting: boolean;
    notification: boolean;
    restartTime: number;
    families: Array<{ family: Family | `${number}/${number}`; forwardingPreserved: boolean }>;
  };
  addPath: Array<{ family: Family | `${number}/${number}`; mode: AddPathMode }>;
  /** FQDN (code 73, FRR sends it). */
  fqdn?: { hostname: string; domain: string };
  /** Everything else, verbatim. */
  unknown: Array<{ code: number; hex: string }>;
}

export interface OpenMessage {
  version: number;
  /** The real AS: the 4-octet capability's value when present, else the 2-octet field. */
  asn: number;
  holdTime: number;
  routerId: string;
  capabilities: Capabilities;
}

export interface NotificationMessage {
  code: number;
  subcode: number;
  data: string;
}

export type BgpMessage =
  | { type: 'open'; open: OpenMessage }
  | { type: 'update'; body: Buffer }
  | { type: 'notification'; notification: NotificationMessage }
  | { type: 'keepalive' }
  | { type: 'route-refresh'; family: Family | `${number}/${number}`; subtype: number };

/** RFC 4271 §6 error codes as text (for logs and the transcript). */
export const NOTIFICATION_CODES: Record<number, string> = {
  1: 'Message Header Error',
  2: 'OPEN Message Error',
  3: 'UPDATE Message Error',
  4: 'Hold Timer Expired',
  5: 'Finite State Machine Error',
  6: 'Cease',
  7: 'ROUTE-REFRESH Message Error',
};

export function describeNotification(n: { code: number; subcode: number }): string {
  return `${NOTIFICATION_CODES[n.code] ?? `code ${n.code}`} / subcode ${n.subcode}`;
}

function famText(afi: number, safi: number): Family | `${number}/${number}` {
  return familyOfAfiSafi(afi, safi) ?? `${afi}/${safi}`;
}

export function emptyCapabilities(): Capabilities {
  return { multiprotocol: [], routeRefresh: false, enhancedRouteRefresh: false, addPath: [], unknown: [] };
}

/** Frames a message body with marker, length and type. */
export function frame(type: number, body: Uint8Array): Buffer {
  const len = HEADER_LEN + body.length;
  if (len > 65535) throw new Malformed(`message too long (${len})`);
  const out = Buffer.allocUnsafe(len);
  out.fill(0xff, 0, 16);
  out.writeUInt16BE(len, 16);
  out[18] = type;
  out.set(body, HEADER_LEN);
  return out;
}

export function encodeKeepalive(): Buffer {
  return frame(MSG.KEEPALIVE, Buffer.alloc(0));
}

export function encodeNotification(n: { code: number; subcode: number; data?: string }): Buffer {
  const data = n.data ? fromHex(n.data) : Buffer.alloc(0);
  return frame(MSG.NOTIFICATION, Buffer.concat([Buffer.from([n.code, n.subcode]), data]));
}

export function encodeRouteRefresh(family: Family, subtype = 0): Buffer {
  const { afi, safi } = FAMILY_AFI_SAFI[family];
  return frame(MSG.ROUTE_REFRESH, Buffer.from([afi >> 8, afi & 0xff, subtype, safi]));
}

export interface OpenOptions {
  asn: number;
  holdTime: number;
  routerId: string;
  families: Family[];
  routeRefresh?: boolean;
  gracefulRestart?: {
    restartTime: number;
    restarting?: boolean;
    families?: Family[];
    /** F bit per family (RFC 4724 §3): forwarding state kept across the restart. */
    forwardingPreserved?: boolean;
  };
  addPath?: Array<{ family: Family; mode: AddPathMode }>;
  /** Extra capabilities to send verbatim (for tests). */
  extra?: Array<{ code: number; hex: string }>;
}

export function encodeOpen(o: OpenOptions): Buffer {
  const caps = new Writer(128);
  const cap = (code: number, fill: (w: Writer) => void) => {
    caps.u8(code);
    const at = caps.skip(1);
    const start = caps.pos;
    fill(caps);
    caps.buf[at] = caps.pos - start;
  };
  for (const f of o.families) {
    const { afi, safi } = FAMILY_AFI_SAFI[f];
    cap(1, (w) => {
      w.u16(afi);
      w.u8(0);
      w.u8(safi);
    });
  }
  if (o.routeRefresh !== false) cap(2, () => {});
  cap(65, (w) => w.u32(o.asn));
  if (o.gracefulRestart) {
    const gr = o.gracefulRestart;
    cap(64, (w) => {
      w.u16((gr.restarting ? 0x8000 : 0) | (gr.restartTime & 0x0fff));
      for (const f of gr.families ?? []) {
        const { afi, safi } = FAMILY_AFI_SAFI[f];
        w.u16(afi);
        w.u8(safi);
        w.u8(gr.forwardingPreserved ? 0x80 : 0);
      }
    });
  }
  if (o.addPath?.length) {
    const ap = o.addPath;
    cap(69, (w) => {
      for (const { family, mode } of ap) {
        const { afi, safi } = FAMILY_AFI_SAFI[family];
        w.u16(afi);
        w.u8(safi);
        w.u8(mode === 'receive' ? 1 : mode === 'send' ? 2 : 3);
      }
    });
  }
  for (const x of o.extra ?? []) cap(x.code, (w) => w.bytes(fromHex(x.hex)));
  const capBytes = caps.finish();
  const w = new Writer(64 + capBytes.length);
  w.u8(4);
  w.u16(o.asn > 0xffff ? AS_TRANS : o.asn);
  w.u16(o.holdTime);
  w.ipv4(o.routerId);
  // One optional parameter of type 2 (capabilities) holding all capabilities.
  if (capBytes.length > 253) throw new Malformed('too many capabilities for one optional parameter');
  w.u8(capBytes.length + 2);
  w.u8(2);
  w.u8(capBytes.length);
  w.bytes(capBytes);
  return frame(MSG.OPEN, w.finish());
}

function decodeCapability(code: number, b: Uint8Array, p: number, len: number, caps: Capabilities): void {
  switch (code) {
    case 1:
      if (len !== 4) throw new Malformed(`multiprotocol capability length ${len}`);
      caps.multiprotocol.push(famText(u16At(b, p), b[p + 3]!));
      return;
    case 2:
      caps.routeRefresh = true;
      return;
    case 70:
      caps.enhancedRouteRefresh = true;
      return;
    case 65:
      if (len !== 4) throw new Malformed(`4-octet AS capability length ${len}`);
      caps.asn4 = u32At(b, p);
      return;
    case 64: {
      if (len < 2 || (len - 2) % 4) throw new Malformed(`graceful restart capability length ${len}`);
      const head = u16At(b, p);
      const families: NonNullable<Capabilities['gracefulRestart']>['families'] = [];
      for (let i = p + 2; i < p + len; i += 4)
        families.push({
          family: famText(u16At(b, i), b[i + 2]!),
          forwardingPreserved: (b[i + 3]! & 0x80) !== 0,
        });
      caps.gracefulRestart = {
        restarting: (head & 0x8000) !== 0,
        notification: (head & 0x4000) !== 0,
        restartTime: head & 0x0fff,
        families,
      };
      return;
    }
    case 69: {
      if (len % 4) throw new Malformed(`ADD-PATH capability length ${len}`);
      for (let i = p; i < p + len; i += 4) {
        const m = b[i + 3]!;
        if (m < 1 || m > 3) throw new Malformed(`ADD-PATH send/receive value ${m}`);
        caps.addPath.push({
          family: famText(u16At(b, i), b[i + 2]!),
          mode: m === 1 ? 'receive' : m === 2 ? 'send' : 'both',
        });
      }
      return;
    }
    case 73: {
      const hl = b[p]!;
      if (1 + hl > len) throw new Malformed('FQDN capability overrun');
      const dl = b[p + 1 + hl] ?? 0;
      caps.fqdn = {
        hostname: Buffer.from(b.subarray(p + 1, p + 1 + hl)).toString('utf8'),
        domain: Buffer.from(b.subarray(p + 2 + hl, Math.min(p + len, p + 2 + hl + dl))).toString('utf8'),
      };
      return;
    }
    default:
      caps.unknown.push({ code, hex: hexOf(b, p, p + len) });
  }
}

export function decodeOpen(body: Uint8Array): OpenMessage {
  if (body.length < 10) throw new Malformed(`OPEN body length ${body.length} < 10`);
  const version = body[0]!;
  const as2 = u16At(body, 1);
  const holdTime = u16At(body, 3);
  const routerId = ipv4At(body, 5);
  const optLen = body[9]!;
  if (10 + optLen !== body.length)
    throw new Malformed(`OPEN optional parameters length ${optLen} inconsistent`);
  const caps = emptyCapabilities();
  let p = 10;
  const end = 10 + optLen;
  while (p < end) {
    if (p + 2 > end) throw new Malformed('OPEN: truncated optional parameter');
    const ptype = body[p]!;
    const plen = body[p + 1]!;
    p += 2;
    if (p + plen > end) throw new Malformed('OPEN: optional parameter overruns');
    if (ptype === 2) {
      let c = p;
      while (c < p + plen) {
        if (c + 2 > p + plen) throw new Malformed('OPEN: truncated capability');
        const code = body[c]!;
        const clen = body[c + 1]!;
        if (c + 2 + clen > p + plen) throw new Malformed(`OPEN: capability ${code} overruns`);
        decodeCapability(code, body, c + 2, clen, caps);
        c += 2 + clen;
      }
    } else caps.unknown.push({ code: -ptype, hex: hexOf(body, p, p + plen) });
    p += plen;
  }
  return { version, asn: caps.asn4 ?? as2, holdTime, routerId, capabilities: caps };
}

/**
 * Splits a byte stream into messages. Returns the messages found and how many bytes they used; a
 * header error is returned as a NOTIFICATION to send (RFC 4271 §6.1) rather than thrown.
 */
export function splitMessages(buf: Buffer): {
  messages: Array<{ type: number; body: Buffer }>;
  used: number;
  error?: { code: number; subcode: number; data?: string };
} {
  const messages: Array<{ type: number; body: Buffer }> = [];
  let p = 0;
  while (buf.length - p >= HEADER_LEN) {
    for (let i = 0; i < 16; i++) {
      if (buf[p + i] !== 0xff) return { messages, used: p, error: { code: 1, subcode: 1 } };
    }
    const len = buf.readUInt16BE(p + 16);
    const type = buf[p + 18]!;
    if (len < HEADER_LEN || len > MAX_MESSAGE_LEN)
      return { messages, used: p, error: { code: 1, subcode: 2, data: len.toString(16).padStart(4, '0') } };
    if (type < 1 || type > 5)
      return { messages, used: p, error: { code: 1, subcode: 3, data: type.toString(16).padStart(2, '0') } };
    const minLen =
      type === MSG.OPEN
        ? 29
        : type === MSG.UPDATE
          ? 23
          : type === MSG.NOTIFICATION
            ? 21
            : type === MSG.ROUTE_REFRESH
              ? 23
              : 19;
    if (len < minLen || (type === MSG.KEEPALIVE && len !== 19))
      return { messages, used: p, error: { code: 1, subcode: 2, data: len.toString(16).padStart(4, '0') } };
    if (buf.length - p < len) break;
    messages.push({ type, body: buf.subarray(p + HEADER_LEN, p + len) });
    p += len;
  }
  return { messages, used: p };
}

export function decodeNotification(body: Uint8Array): NotificationMessage {
  return { code: body[0] ?? 0, subcode: body[1] ?? 0, data: hexOf(body, Math.min(2, body.length)) };
}

export function decodeRouteRefresh(body: Uint8Array): {
  family: Family | `${number}/${number}`;
  subtype: number;
} {
  if (body.length !== 4) throw new Malformed(`ROUTE-REFRESH length ${body.length}`);
  return { family: famText(u16At(body, 0), body[3]!), subtype: body[2]! };
}
