/**
 * Typed BGP routes and path attributes. Everything here is plain JSON (strings, numbers, arrays):
 * routes cross process boundaries (the tap child streams them as JSON lines) and land in reports.
 */

/** Address families we speak. */
export type Family = 'ipv4-unicast' | 'ipv4-vpn' | 'l2vpn-evpn';

export const FAMILY_AFI_SAFI: Record<Family, { afi: number; safi: number }> = {
  'ipv4-unicast': { afi: 1, safi: 1 },
  'ipv4-vpn': { afi: 1, safi: 128 },
  'l2vpn-evpn': { afi: 25, safi: 70 },
};

/**
 * Route distinguisher as text: type 0 `asn2:nn32` (`65000:100`), type 1 `ipv4:nn16` (`192.0.2.1:2`),
 * type 2 `asn4:nn16` (`4200000000:7`). Encoding picks type 1 when the admin part has dots, type 2 when
 * the ASN does not fit in 16 bits, type 0 otherwise. An unknown RD type decodes as `rdtype<N>:<hex>`.
 */
export type RouteDistinguisher = string;

/** ESI as 10 colon-separated hex octets; all zeros for single-homed. */
export type Esi = string;
export const ZERO_ESI: Esi = '00:00:00:00:00:00:00:00:00:00';

interface EvpnCommon {
  afi: 'l2vpn-evpn';
  rd: RouteDistinguisher;
  /** ADD-PATH path identifier (RFC 7911), when negotiated. */
  pathId?: number;
}

/** Type 1: Ethernet Auto-Discovery. */
export interface EvpnEthernetAd extends EvpnCommon {
  type: 1;
  esi: Esi;
  ethTag: number;
  /** The 24-bit label field; with VXLAN (RFC 8365) this is the VNI. */
  labels: [number];
}

/** Type 2: MAC/IP Advertisement. `labels[0]` is the L2 VNI, `labels[1]` (optional) the L3 VNI. */
export interface EvpnMacIp extends EvpnCommon {
  type: 2;
  esi: Esi;
  ethTag: number;
  /** Lower-case `aa:bb:cc:dd:ee:ff`. */
  mac: string;
  /** IPv4 or IPv6 address, absent for MAC-only routes. */
  ip?: string;
  labels: number[];
}

/** Type 3: Inclusive Multicast Ethernet Tag (the flood list; carries PMSI_TUNNEL). */
export interface EvpnInclusiveMulticast extends EvpnCommon {
  type: 3;
  ethTag: number;
  originatorIp: string;
}

/** Type 4: Ethernet Segment. */
export interface EvpnEthernetSegment extends EvpnCommon {
  type: 4;
  esi: Esi;
  originatorIp: string;
}

/** Type 5: IP Prefix (RFC 9136). `prefix` as `a.b.c.d/len` or IPv6 `x::/len`. */
export interface EvpnIpPrefix extends EvpnCommon {
  type: 5;
  esi: Esi;
  ethTag: number;
  prefix: string;
  gateway: string;
  labels: [number];
}

/** An EVPN route type we do not model; kept so it can be reported (never re-advertised). */
export interface EvpnUnknown extends EvpnCommon {
  type: number;
  unknown: true;
  /** Route-type-specific bytes after the RD, hex. */
  hex: string;
}

export type EvpnRoute =
  | EvpnEthernetAd
  | EvpnMacIp
  | EvpnInclusiveMulticast
  | EvpnEthernetSegment
  | EvpnIpPrefix;

/** VPN-IPv4 (RFC 4364). `labels` are 20-bit MPLS label values (bottom-of-stack is implied on the last). */
export interface Vpnv4Route {
  afi: 'ipv4-vpn';
  rd: RouteDistinguisher;
  prefix: string;
  labels: number[];
  pathId?: number;
}

export interface Ipv4Route {
  afi: 'ipv4-unicast';
  prefix: string;
  pathId?: number;
}

export type Route = EvpnRoute | EvpnUnknown | Vpnv4Route | Ipv4Route;

export type Origin = 'igp' | 'egp' | 'incomplete';

export interface AsPathSegment {
  type: 'set' | 'sequence' | 'confed-sequence' | 'confed-set';
  asns: number[];
}

export type ExtCommunity =
  /** `value`: `asn:nn` or `ipv4:nn`. `encoding` records what the wire used (2-octet AS, 4-octet AS, IPv4). */
  | { type: 'route-target'; value: string; encoding?: 'as2' | 'as4' | 'ip' }
  | { type: 'route-origin'; value: string; encoding?: 'as2' | 'as4' | 'ip' }
  /** RFC 9012 encapsulation; 8 = VXLAN. */
  | { type: 'encapsulation'; tunnelType: number }
  /** RFC 7432 §7.7. */
  | { type: 'mac-mobility'; seq: number; sticky: boolean }
  | { type: 'esi-label'; singleActive: boolean; label: number }
  | { type: 'es-import-rt'; mac: string }
  | { type: 'router-mac'; mac: string }
  /** RFC 7432 §7.8 default gateway. */
  | { type: 'default-gateway' }
  /**
   * Tungsten Fabric's security-group community (type 0x80 experimental transitive, sub-type 0x04):
   * 2-octet AS of the originating controller, 4-octet group id. Text form `secgroup:<asn>:<id>`.
   */
  | { type: 'secgroup'; asn: number; id: number }
  /** Anything else: the 8 octets as hex. */
  | { type: 'raw'; hex: string };

/** PMSI tunnel attribute (RFC 6514 §5); EVPN ingress replication is tunnelType 6, label = VNI. */
export interface PmsiTunnel {
  flags: number;
  tunnelType: number;
  label: number;
  /** IPv4/IPv6 endpoint for ingress replication; hex for other tunnel types. */
  tunnelId: string;
}

/** An attribute we do not model, kept verbatim (RFC 4271 §5: optional transitive ones are passed on). */
export interface RawAttribute {
  flags: number;
  type: number;
  hex: string;
}

export interface PathAttributes {
  origin?: Origin;
  asPath?: AsPathSegment[];
  /**
   * The next hop: the NEXT_HOP attribute for IPv4 unicast, the MP_REACH next hop for other families
   * (decoded routes carry it here too, so one field answers "where does this route point").
   */
  nextHop?: string;
  med?: number;
  localPref?: number;
  atomicAggregate?: boolean;
  aggregator?: { asn: number; address: string };
  /** RFC 1997 `hi:lo` (well-known ones too, e.g. `65535:65281` = no-export). */
  communities?: string[];
  extCommunities?: ExtCommunity[];
  /** RFC 8092 `global:local1:local2`. */
  largeCommunities?: string[];
  originatorId?: string;
  clusterList?: string[];
  pmsiTunnel?: PmsiTunnel;
  /** Unrecognised attributes (optional transitive ones are re-advertised with the Partial bit set). */
  unknown?: RawAttribute[];
}

/** RFC 7606 outcome of decoding an UPDATE. */
export type ErrorAction = 'treat-as-withdraw' | 'attribute-discard' | 'session-reset';

export interface UpdateError {
  action: ErrorAction;
  reason: string;
  /** Attribute type code the error is about, when it is about one. */
  attrType?: number;
  /** For `session-reset`: the NOTIFICATION to send. */
  notification?: { code: number; subcode: number };
}

/** A route with the attributes it was received or announced with. */
export interface RouteWithAttrs {
  route: Route;
  attrs: PathAttributes;
}
