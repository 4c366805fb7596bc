/**
 * UPDATE messages: decoding with RFC 7606 revised error handling, and encoding that packs many NLRI into
 * as few messages as fit in 4096 octets.
 *
 * Decoding never throws: every problem becomes an `UpdateError` with the RFC 7606 action, and the
 * UPDATE's overall `action` is the strongest of them (session-reset > treat-as-withdraw >
 * attribute-discard > ok). With treat-as-withdraw, every NLRI the message carried (announced or not) is
 * returned in `withdrawn` and `announced` is empty.
 */
import type { ErrorAction, Family, PathAttributes, RawAttribute, Route, UpdateError } from '../types.ts';
import { FAMILY_AFI_SAFI } from '../types.ts';
import {
  ATTR,
  type AttrEncodeContext,
  decodeAggregator,
  decodeAsPath,
  decodeClusterList,
  decodeCommunities,
  decodeExtCommunities,
  decodeIpv4Attr,
  decodeLargeCommunities,
  decodeOrigin,
  decodePmsiTunnel,
  decodeU32Attr,
  EXPECTED_FLAGS,
  encodeAttributes,
  FLAG,
  writeAttr,
} from './attributes.ts';
import { familyOfAfiSafi, frame, MAX_MESSAGE_LEN, MSG } from './messages.ts';
import { decodeNlriList, encodeNlri } from './nlri.ts';
import { hexOf, ipAt, Malformed, u16At, Writer, writeIp } from './wire.ts';

export interface UpdateDecodeContext {
  /** 4-octet AS negotiated: AS_PATH/AGGREGATOR carry 4-octet ASNs. */
  asn4: boolean;
  /** Session is iBGP (affects LOCAL_PREF handling). */
  ibgp: boolean;
  /** Families in which the peer sends ADD-PATH path identifiers. */
  addPathReceive?: ReadonlySet<Family>;
}

export interface DecodedUpdate {
  /** Announced routes (empty when the action is treat-as-withdraw or session-reset). */
  announced: Route[];
  /** Withdrawn routes, including those withdrawn by treat-as-withdraw. */
  withdrawn: Route[];
  /** Attributes shared by every announced route; `nextHop` from MP_REACH when present, else NEXT_HOP. */
  attrs: PathAttributes;
  /** NEXT_HOP attribute, for IPv4 unicast NLRI in the classic field when MP_REACH is also present. */
  classicNextHop?: string;
  /** Set when this UPDATE is an End-of-RIB marker (RFC 4724 §2). */
  endOfRib?: Family;
  action: 'ok' | ErrorAction;
  errors: UpdateError[];
}

const RANK: Record<'ok' | ErrorAction, number> = {
  ok: 0,
  'attribute-discard': 1,
  'treat-as-withdraw': 2,
  'session-reset': 3,
};

/** Attributes whose malformation is handled by attribute-discard (RFC 7606 §7). */
const DISCARDABLE = new Set<number>([
  ATTR.ATOMIC_AGGREGATE,
  ATTR.AGGREGATOR,
  ATTR.AS4_PATH,
  ATTR.AS4_AGGREGATOR,
]);

function nextHopLenOk(family: Family, len: number): boolean {
  if (family === 'ipv4-vpn') return len === 12 || len === 24 || len === 48;
  return len === 4 || len === 16 || len === 32;
}

function mpNextHop(family: Family, buf: Uint8Array, p: number, len: number): string {
  // VPN next hops start with an all-zero RD (RFC 4364 §4.3.2); IPv6 ones may append a link-local.
  if (family === 'ipv4-vpn') return ipAt(buf, p + 8, len === 12 ? 4 : 16);
  return ipAt(buf, p, len === 4 ? 4 : 16);
}

export function decodeUpdate(body: Uint8Array, ctx: UpdateDecodeContext): DecodedUpdate {
  const result: DecodedUpdate = { announced: [], withdrawn: [], attrs: {}, action: 'ok', errors: [] };
  const fail = (e: UpdateError) => {
    result.errors.push(e);
    if (RANK[e.action] > RANK[result.action]) result.action = e.action;
  };
  try {
    decodeInto(body, ctx, result, fail);
  } catch (err) {
    // Only reachable through a decoder bug: still never escape, still a defined action.
    fail({
      action: 'session-reset',
      reason: `internal decoder error: ${err instanceof Error ? err.message : String(err)}`,
      notification: { code: 3, subcode: 1 },
    });
  }
  if (result.action === 'treat-as-withdraw') {
    result.withdrawn.push(...result.announced);
    result.announced = [];
  } else if (result.action === 'session-reset') {
    result.announced = [];
  }
  return result;
}

/** Where the sections of an UPDATE body end (RFC 4271 §4.3). */
interface Sections {
  withdrawnEnd: number;
  attrStart: number;
  attrEnd: number;
}

/** What the walk over the path attributes has seen so far. */
interface AttributeWalk {
  seen: Set<number>;
  sawMpReach: boolean;
  sawMpUnreach: boolean;
  mpReach: { family: Family; routes: Route[] } | undefined;
}

type Fail = (e: UpdateError) => void;

/** Phases: the section lengths, the classic (IPv4 unicast) routes, the attributes, then the checks. */
function decodeInto(body: Uint8Array, ctx: UpdateDecodeContext, result: DecodedUpdate, fail: Fail): void {
  const sections = splitSections(body, fail);
  if (!sections) return;
  const classic = decodeClassicRoutes(body, sections, ctx, result, fail);
  if (!classic) return;
  const mpReach = decodeAttributes(body, sections, ctx, result, fail, classic.length > 0);
  checkMandatory(result, fail, classic, mpReach?.routes ?? []);
  if (mpReach) result.announced.push(...mpReach.routes);
  result.announced.push(...classic);
  if (result.attrs.nextHop === undefined && result.classicNextHop !== undefined)
    result.attrs.nextHop = result.classicNextHop;

  // End-of-RIB: empty UPDATE (IPv4 unicast) or an MP_UNREACH with no NLRI and nothing else.
  if (body.length === 4 && result.errors.length === 0) result.endOfRib = 'ipv4-unicast';
}

/** The section lengths must fit the message, else session reset. */
function splitSections(body: Uint8Array, fail: Fail): Sections | undefined {
  const len = body.length;
  if (len < 4) {
    fail({
      action: 'session-reset',
      reason: 'UPDATE shorter than 4 octets',
      notification: { code: 3, subcode: 1 },
    });
    return undefined;
  }
  const wlen = u16At(body, 0);
  if (2 + wlen + 2 > len) {
    fail({
      action: 'session-reset',
      reason: `withdrawn routes length ${wlen} exceeds the message`,
      notification: { code: 3, subcode: 1 },
    });
    return undefined;
  }
  const alenAt = 2 + wlen;
  const alen = u16At(body, alenAt);
  const attrStart = alenAt + 2;
  const attrEnd = attrStart + alen;
  if (attrEnd > len) {
    fail({
      action: 'session-reset',
      reason: `total path attribute length ${alen} exceeds the message`,
      notification: { code: 3, subcode: 1 },
    });
    return undefined;
  }
  return { withdrawnEnd: 2 + wlen, attrStart, attrEnd };
}

/**
 * Classic withdrawn routes (into `result.withdrawn`) and NLRI (returned), IPv4 unicast: unparseable
 * means session reset (RFC 7606 §5.3), and undefined.
 */
function decodeClassicRoutes(
  body: Uint8Array,
  sections: Sections,
  ctx: UpdateDecodeContext,
  result: DecodedUpdate,
  fail: Fail,
): Route[] | undefined {
  const addPathIpv4 = ctx.addPathReceive?.has('ipv4-unicast') ?? false;
  try {
    decodeNlriList('ipv4-unicast', body, 2, sections.withdrawnEnd, addPathIpv4, true, result.withdrawn);
  } catch (err) {
    fail({
      action: 'session-reset',
      reason: `withdrawn routes: ${(err as Error).message}`,
      notification: { code: 3, subcode: 1 },
    });
    return undefined;
  }
  const classic: Route[] = [];
  try {
    decodeNlriList('ipv4-unicast', body, sections.attrEnd, body.length, addPathIpv4, false, classic);
  } catch (err) {
    fail({
      action: 'session-reset',
      reason: `NLRI: ${(err as Error).message}`,
      notification: { code: 3, subcode: 10 },
    });
    return undefined;
  }
  return classic;
}

/** Walks the path attributes into `result.attrs`; returns the MP_REACH_NLRI routes, if any. */
function decodeAttributes(
  body: Uint8Array,
  sections: Sections,
  ctx: UpdateDecodeContext,
  result: DecodedUpdate,
  fail: Fail,
  haveClassicNlri: boolean,
): AttributeWalk['mpReach'] {
  const walk: AttributeWalk = { seen: new Set(), sawMpReach: false, sawMpUnreach: false, mpReach: undefined };
  const framingError = (reason: string) => {
    // RFC 7606 §4: with the attribute list unparseable, routes can be withdrawn only if every NLRI is
    // known; MP_REACH/MP_UNREACH after the error could hide more, so reset unless they were seen first.
    if (walk.sawMpReach || walk.sawMpUnreach || haveClassicNlri || result.withdrawn.length > 0)
      fail({ action: 'treat-as-withdraw', reason });
    else fail({ action: 'session-reset', reason, notification: { code: 3, subcode: 1 } });
  };
  const { attrEnd } = sections;
  let p = sections.attrStart;
  while (p < attrEnd) {
    if (p + 3 > attrEnd) {
      framingError('truncated attribute header');
      break;
    }
    const flags = body[p]!;
    const type = body[p + 1]!;
    const ext = (flags & FLAG.EXTENDED) !== 0;
    if (ext && p + 4 > attrEnd) {
      framingError(`attribute ${type}: truncated extended length`);
      break;
    }
    const vlen = ext ? u16At(body, p + 2) : body[p + 2]!;
    const v = p + (ext ? 4 : 3);
    if (v + vlen > attrEnd) {
      framingError(`attribute ${type}: length ${vlen} overruns the path attributes`);
      break;
    }
    p = v + vlen;

    if (walk.seen.has(type)) {
      duplicateAttribute(type, fail);
      continue;
    }
    walk.seen.add(type);
    const expected = EXPECTED_FLAGS[type];
    if (expected === undefined) {
      unrecognisedAttribute(body, flags, type, v, vlen, result.attrs, fail);
      continue;
    }
    try {
      if ((flags & (FLAG.OPTIONAL | FLAG.TRANSITIVE)) !== expected)
        throw new Malformed(`attribute ${type}: flags 0x${flags.toString(16)} conflict with its type`);
      decodeKnownAttribute(body, type, v, vlen, ctx, result, fail, walk);
    } catch (err) {
      malformedAttribute(type, (err as Error).message, ctx, fail);
    }
  }
  return walk.mpReach;
}

function duplicateAttribute(type: number, fail: Fail): void {
  if (type === ATTR.MP_REACH || type === ATTR.MP_UNREACH)
    fail({
      action: 'session-reset',
      reason: `duplicate ${type === ATTR.MP_REACH ? 'MP_REACH_NLRI' : 'MP_UNREACH_NLRI'}`,
      attrType: type,
      notification: { code: 3, subcode: 1 },
    });
  else
    fail({
      action: 'attribute-discard',
      reason: `duplicate attribute ${type}: later copy discarded`,
      attrType: type,
    });
}

/** Unrecognised attribute (RFC 4271 §5, §6.3): optional transitive ones are kept raw. */
function unrecognisedAttribute(
  body: Uint8Array,
  flags: number,
  type: number,
  v: number,
  vlen: number,
  a: PathAttributes,
  fail: Fail,
): void {
  if (!(flags & FLAG.OPTIONAL)) {
    fail({
      action: 'session-reset',
      reason: `unrecognised well-known attribute ${type}`,
      attrType: type,
      notification: { code: 3, subcode: 2 },
    });
    return;
  }
  if (flags & FLAG.TRANSITIVE) {
    const raw: RawAttribute = { flags: flags & ~FLAG.EXTENDED, type, hex: hexOf(body, v, v + vlen) };
    if (!a.unknown) a.unknown = [];
    a.unknown.push(raw);
  }
  // Optional non-transitive and unrecognised: quietly ignored.
}

/** One attribute the codec knows; throws Malformed for malformed values. */
function decodeKnownAttribute(
  body: Uint8Array,
  type: number,
  v: number,
  vlen: number,
  ctx: UpdateDecodeContext,
  result: DecodedUpdate,
  fail: Fail,
  walk: AttributeWalk,
): void {
  const a = result.attrs;
  switch (type) {
    case ATTR.ORIGIN:
      a.origin = decodeOrigin(body, v, vlen);
      break;
    case ATTR.AS_PATH:
      a.asPath = decodeAsPath(body, v, vlen, ctx.asn4);
      break;
    case ATTR.NEXT_HOP: {
      const nh = decodeIpv4Attr(body, v, vlen, 'NEXT_HOP');
      if (nh === '0.0.0.0' || nh === '255.255.255.255')
        throw new Malformed(`NEXT_HOP ${nh} is not a host address`);
      result.classicNextHop = nh;
      break;
    }
    case ATTR.MED:
      a.med = decodeU32Attr(body, v, vlen, 'MULTI_EXIT_DISC');
      break;
    case ATTR.LOCAL_PREF:
      a.localPref = decodeU32Attr(body, v, vlen, 'LOCAL_PREF');
      break;
    case ATTR.ATOMIC_AGGREGATE:
      if (vlen !== 0) throw new Malformed(`ATOMIC_AGGREGATE length ${vlen}, want 0`);
      a.atomicAggregate = true;
      break;
    case ATTR.AGGREGATOR:
      a.aggregator = decodeAggregator(body, v, vlen, ctx.asn4);
      break;
    case ATTR.COMMUNITIES:
      a.communities = decodeCommunities(body, v, vlen);
      break;
    case ATTR.ORIGINATOR_ID:
      a.originatorId = decodeIpv4Attr(body, v, vlen, 'ORIGINATOR_ID');
      break;
    case ATTR.CLUSTER_LIST:
      a.clusterList = decodeClusterList(body, v, vlen);
      break;
    case ATTR.EXT_COMMUNITIES:
      a.extCommunities = decodeExtCommunities(body, v, vlen);
      break;
    case ATTR.LARGE_COMMUNITIES:
      a.largeCommunities = decodeLargeCommunities(body, v, vlen);
      break;
    case ATTR.PMSI_TUNNEL:
      a.pmsiTunnel = decodePmsiTunnel(body, v, vlen);
      break;
    case ATTR.AS4_PATH:
      // Only meaningful from a 2-octet-AS speaker; validated, then ignored (RFC 6793 §4.2.3).
      decodeAsPath(body, v, vlen, true);
      break;
    case ATTR.AS4_AGGREGATOR:
      decodeAggregator(body, v, vlen, true);
      break;
    case ATTR.MP_REACH: {
      walk.sawMpReach = true;
      walk.mpReach = decodeMpReach(body, v, vlen, ctx, result, fail);
      break;
    }
    case ATTR.MP_UNREACH:
      walk.sawMpUnreach = true;
      decodeMpUnreach(body, v, vlen, ctx, result, fail);
      break;
  }
}

/** The RFC 7606 action for a malformed attribute of `type`. */
function malformedAttribute(type: number, reason: string, ctx: UpdateDecodeContext, fail: Fail): void {
  if (type === ATTR.MP_REACH || type === ATTR.MP_UNREACH)
    fail({ action: 'session-reset', reason, attrType: type, notification: { code: 3, subcode: 9 } });
  else if (DISCARDABLE.has(type) || (type === ATTR.LOCAL_PREF && !ctx.ibgp))
    fail({ action: 'attribute-discard', reason, attrType: type });
  else fail({ action: 'treat-as-withdraw', reason, attrType: type });
}

/** Mandatory attributes when something is announced (RFC 4271 §5; RFC 7606 §3.d: treat-as-withdraw). */
function checkMandatory(result: DecodedUpdate, fail: Fail, classic: Route[], mpReachRoutes: Route[]): void {
  if (classic.length === 0 && mpReachRoutes.length === 0) return;
  const a = result.attrs;
  const reported = (type: number) => result.errors.some((e) => e.attrType === type);
  if (a.origin === undefined && !reported(ATTR.ORIGIN))
    fail({ action: 'treat-as-withdraw', reason: 'missing ORIGIN', attrType: ATTR.ORIGIN });
  if (a.asPath === undefined && !reported(ATTR.AS_PATH))
    fail({ action: 'treat-as-withdraw', reason: 'missing AS_PATH', attrType: ATTR.AS_PATH });
  if (classic.length > 0 && result.classicNextHop === undefined && !reported(ATTR.NEXT_HOP))
    fail({ action: 'treat-as-withdraw', reason: 'missing NEXT_HOP', attrType: ATTR.NEXT_HOP });
}

function decodeMpReach(
  body: Uint8Array,
  v: number,
  vlen: number,
  ctx: UpdateDecodeContext,
  result: DecodedUpdate,
  fail: Fail,
): { family: Family; routes: Route[] } | undefined {
  if (vlen < 5) throw new Malformed(`MP_REACH_NLRI length ${vlen} < 5`);
  const afi = u16At(body, v);
  const safi = body[v + 2]!;
  const family = familyOfAfiSafi(afi, safi);
  const nhLen = body[v + 3]!;
  if (v + 4 + nhLen + 1 > v + vlen) throw new Malformed(`MP_REACH_NLRI next hop length ${nhLen} overruns`);
  if (!family) {
    fail({
      action: 'attribute-discard',
      reason: `MP_REACH_NLRI for unsupported AFI/SAFI ${afi}/${safi}`,
      attrType: ATTR.MP_REACH,
    });
    return undefined;
  }
  if (!nextHopLenOk(family, nhLen))
    throw new Malformed(`MP_REACH_NLRI next hop length ${nhLen} invalid for ${family}`);
  result.attrs.nextHop = mpNextHop(family, body, v + 4, nhLen);
  const nlriAt = v + 4 + nhLen + 1;
  const routes: Route[] = [];
  decodeNlriList(family, body, nlriAt, v + vlen, ctx.addPathReceive?.has(family) ?? false, false, routes);
  return { family, routes };
}

function decodeMpUnreach(
  body: Uint8Array,
  v: number,
  vlen: number,
  ctx: UpdateDecodeContext,
  result: DecodedUpdate,
  fail: Fail,
): void {
  if (vlen < 3) throw new Malformed(`MP_UNREACH_NLRI length ${vlen} < 3`);
  const afi = u16At(body, v);
  const safi = body[v + 2]!;
  const family = familyOfAfiSafi(afi, safi);
  if (!family) {
    fail({
      action: 'attribute-discard',
      reason: `MP_UNREACH_NLRI for unsupported AFI/SAFI ${afi}/${safi}`,
      attrType: ATTR.MP_UNREACH,
    });
    return;
  }
  if (vlen === 3) {
    result.endOfRib = family;
    return;
  }
  decodeNlriList(
    family,
    body,
    v + 3,
    v + vlen,
    ctx.addPathReceive?.has(family) ?? false,
    true,
    result.withdrawn,
  );
}

export interface UpdateEncodeContext extends AttrEncodeContext {
  /** Families in which we send ADD-PATH path identifiers. */
  addPathSend?: ReadonlySet<Family>;
  /** Maximum message size (4096 unless extended messages are negotiated). */
  maxMessageLen?: number;
}

function writeMpNextHop(w: Writer, family: Family, nh: string): void {
  const start = w.pos;
  w.u8(0);
  if (family === 'ipv4-vpn') {
    for (let i = 0; i < 8; i++) w.u8(0);
  }
  writeIp(w, nh);
  w.buf[start] = w.pos - start - 1;
}

/**
 * Encodes the NLRI of `routes` in order and hands them to `emit` in runs of at most `room` octets,
 * one run per UPDATE message. `emit` gets a view of a reused buffer: it must copy what it keeps.
 */
function packNlri(
  routes: readonly Route[],
  addPath: boolean,
  withdraw: boolean,
  room: number,
  emit: (nlriBytes: Buffer) => void,
): void {
  const nlri = new Writer(Math.min(room + 64, 8192));
  let count = 0;
  const flush = () => {
    if (count === 0) return;
    emit(nlri.finish());
    nlri.pos = 0;
    count = 0;
  };
  for (const r of routes) {
    const mark = nlri.pos;
    encodeNlri(nlri, r, addPath, withdraw);
    if (nlri.pos > room) {
      // This NLRI does not fit: send what came before it, then start over with it.
      const bytes = Buffer.from(nlri.buf.subarray(mark, nlri.pos));
      nlri.pos = mark;
      flush();
      nlri.bytes(bytes);
    }
    count++;
  }
  flush();
}

/**
 * Encodes announcements of `routes` (all of one family) with `attrs` into UPDATE messages of at most
 * 4096 octets each. MP families carry MP_REACH_NLRI as the first attribute (RFC 7606 §5.1).
 */
export function encodeAnnounce(
  family: Family,
  routes: readonly Route[],
  attrs: PathAttributes,
  ctx: UpdateEncodeContext,
): Buffer[] {
  const max = ctx.maxMessageLen ?? MAX_MESSAGE_LEN;
  const addPath = ctx.addPathSend?.has(family) ?? false;
  const classic = family === 'ipv4-unicast';
  if (!attrs.nextHop) throw new Malformed('announce needs attrs.nextHop');
  const base = new Writer(256);
  encodeAttributes(base, attrs, ctx, classic);
  const baseBytes = base.finish();
  const { afi, safi } = FAMILY_AFI_SAFI[family];
  const nh = new Writer(32);
  if (!classic) writeMpNextHop(nh, family, attrs.nextHop);
  const nhBytes = nh.finish();
  // 19 header + 2 withdrawn len + 2 attr len + base attrs + (MP_REACH: 4 hdr + 3 afi/safi + nh + 1 reserved).
  const overhead = 19 + 4 + baseBytes.length + (classic ? 0 : 4 + 3 + nhBytes.length + 1);
  const room = max - overhead;
  if (room < 64) throw new Malformed('path attributes too large to leave room for NLRI');
  const out: Buffer[] = [];
  packNlri(routes, addPath, false, room, (nlriBytes) => {
    const w = new Writer(overhead + nlriBytes.length);
    w.u16(0);
    const alenAt = w.skip(2);
    if (classic) {
      w.bytes(baseBytes);
      w.u16At(alenAt, w.pos - alenAt - 2);
      w.bytes(nlriBytes);
    } else {
      writeAttr(w, FLAG.OPTIONAL | FLAG.EXTENDED, ATTR.MP_REACH, (x) => {
        x.u16(afi);
        x.u8(safi);
        x.bytes(nhBytes);
        x.u8(0);
        x.bytes(nlriBytes);
      });
      w.bytes(baseBytes);
      w.u16At(alenAt, w.pos - alenAt - 2);
    }
    out.push(frame(MSG.UPDATE, w.finish()));
  });
  return out;
}

/** Encodes withdrawals of `routes` (one family) into UPDATE messages. */
export function encodeWithdraw(family: Family, routes: readonly Route[], ctx: UpdateEncodeContext): Buffer[] {
  const max = ctx.maxMessageLen ?? MAX_MESSAGE_LEN;
  const addPath = ctx.addPathSend?.has(family) ?? false;
  const classic = family === 'ipv4-unicast';
  const overhead = 19 + 4 + (classic ? 0 : 4 + 3);
  const room = max - overhead;
  const out: Buffer[] = [];
  const { afi, safi } = FAMILY_AFI_SAFI[family];
  packNlri(routes, addPath, true, room, (nlriBytes) => {
    const w = new Writer(overhead + nlriBytes.length);
    if (classic) {
      w.u16(nlriBytes.length);
      w.bytes(nlriBytes);
      w.u16(0);
    } else {
      w.u16(0);
      const alenAt = w.skip(2);
      writeAttr(w, FLAG.OPTIONAL | FLAG.EXTENDED, ATTR.MP_UNREACH, (x) => {
        x.u16(afi);
        x.u8(safi);
        x.bytes(nlriBytes);
      });
      w.u16At(alenAt, w.pos - alenAt - 2);
    }
    out.push(frame(MSG.UPDATE, w.finish()));
  });
  return out;
}

/** End-of-RIB marker for `family` (RFC 4724 §2). */
export function encodeEndOfRib(family: Family): Buffer {
  if (family === 'ipv4-unicast') return frame(MSG.UPDATE, Buffer.from([0, 0, 0, 0]));
  const { afi, safi } = FAMILY_AFI_SAFI[family];
  return frame(
    MSG.UPDATE,
    Buffer.from([0, 0, 0, 6, FLAG.OPTIONAL, ATTR.MP_UNREACH, 3, afi >> 8, afi & 0xff, safi]),
  );
}
