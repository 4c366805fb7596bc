/**
 * Public types of the traffic engine. A probe addresses a node only by its network namespace path, so
 * a runtime LabNode (`netnsPath`) and a test fixture both fit `ProbeTarget`.
 */

/** Anything with a name and a path `setns(2)` accepts: `/run/netns/<name>` or `/proc/<pid>/ns/net`. */
export interface ProbeTarget {
  name: string;
  netnsPath: string;
}

/**
 * The outcome of one probe.
 * - `allowed`: the connection/echo succeeded.
 * - `refused`: actively rejected (TCP RST, ICMP port/host/admin unreachable).
 * - `dropped`: nothing came back within the window.
 * - `unreachable`: the source itself had no route (ENETUNREACH/EHOSTUNREACH raised locally).
 * - `error`: the probe could not run (bad address, ...); `detail` says why.
 */
export type Verdict = 'allowed' | 'refused' | 'dropped' | 'unreachable' | 'error';

export type Protocol = 'tcp' | 'udp' | 'icmp';

export interface ProbeResult {
  verdict: Verdict;
  /** Round-trip (ICMP/UDP) or connect time (TCP) of the successful attempt, in ms. */
  rttMs?: number;
  /** How many attempts were made (positive mode retries, negative mode holds). */
  attempts: number;
  /** Time spent on the probe in the server, ms. */
  elapsedMs: number;
  /** errno name or other explanation for refused/unreachable/error. */
  detail?: string;
}

/**
 * How a probe uses its time budget.
 * - `single` (default): one attempt with `timeoutMs`.
 * - `positive`: attempts of `attemptMs` until `allowed` or `timeoutMs` has passed (expected-allowed).
 * - `hold`: keeps probing for the whole `timeoutMs` window; `allowed` as soon as anything gets through,
 *   otherwise the (worst) failure seen. Never retried into a pass (expected-blocked cells).
 */
export type ProbeMode = 'single' | 'positive' | 'hold';

export interface ProbeCommon {
  from: ProbeTarget;
  /** Destination address (IPv4 or IPv6). */
  to: string;
  timeoutMs?: number;
  mode?: ProbeMode;
  /** Per-attempt timeout in `positive` mode (default 250 ms). */
  attemptMs?: number;
}

export interface TcpProbe extends ProbeCommon {
  port: number;
  /** Source port to send from (default: an ephemeral one), e.g. a service port for unsolicited traffic. */
  sport?: number;
}

export interface UdpProbe extends ProbeCommon {
  port: number;
  /** Source port to send from (default: an ephemeral one). */
  sport?: number;
}

export type IcmpProbe = ProbeCommon;

export interface ListenSpec {
  target: ProbeTarget;
  proto: 'tcp' | 'udp';
  port: number;
}

/** A listener (TCP accept-and-close or UDP echo) the engine opened in a target. */
export interface ListenerHandle {
  id: string;
  /** False when the port was already in use in the target (something else serves it). */
  opened: boolean;
}

export interface ArpRequest {
  from: ProbeTarget;
  iface: string;
  /** The address asked for. */
  ip: string;
  /** Sender protocol address; defaults to the interface's first IPv4 address (or 0.0.0.0). */
  senderIp?: string;
  timeoutMs?: number;
  /** Targets whose interfaces are searched for the replying MAC (to name who answered). */
  candidates?: ProbeTarget[];
  /** Collect every reply during `timeoutMs` (e.g. to catch duplicate responders) instead of the first. */
  all?: boolean;
}

export interface ArpReply {
  mac: string;
  ip: string;
  /** Who owns that MAC among the candidates, when found. */
  node?: string;
  ifname?: string;
  rttMs: number;
}

export interface ArpResult {
  answered: boolean;
  replies: ArpReply[];
}

/** One layer of a packet description: the layer name plus any of its scapy fields. */
export type PacketLayer =
  | ({ layer: 'Ether' } & Partial<{ dst: string; src: string; type: number }>)
  | ({ layer: 'Dot1Q' } & Partial<{ prio: number; id: number; vlan: number; type: number }>)
  | ({ layer: 'ARP' } & Partial<{
      hwtype: number;
      ptype: number;
      hwlen: number;
      plen: number;
      op: number | string;
      hwsrc: string;
      psrc: string;
      hwdst: string;
      pdst: string;
    }>)
  | ({ layer: 'IP' } & Partial<{
      version: number;
      ihl: number;
      tos: number;
      len: number;
      id: number;
      flags: number | string;
      frag: number;
      ttl: number;
      proto: number;
      chksum: number;
      src: string;
      dst: string;
    }>)
  | ({ layer: 'IPv6' } & Partial<{
      version: number;
      tc: number;
      fl: number;
      plen: number;
      nh: number;
      hlim: number;
      src: string;
      dst: string;
    }>)
  | ({ layer: 'TCP' } & Partial<{
      sport: number;
      dport: number;
      seq: number;
      ack: number;
      dataofs: number;
      reserved: number;
      flags: number | string;
      window: number;
      chksum: number;
      urgptr: number;
    }>)
  | ({ layer: 'UDP' } & Partial<{ sport: number; dport: number; len: number; chksum: number }>)
  | ({ layer: 'ICMP' } & Partial<{
      type: number | string;
      code: number;
      chksum: number;
      id: number;
      seq: number;
    }>)
  | ({ layer: 'VXLAN' } & Partial<{
      flags: number | string;
      vni: number;
      reserved0: number;
      reserved1: number;
      reserved2: number;
    }>)
  | { layer: 'Raw'; load?: string; loadHex?: string };

/** Outer layer first, as scapy stacks them (`Ether / IP / UDP / VXLAN / Ether / ...`). */
export type PacketDescription = PacketLayer[];

/** A decoded layer: the layer name and every field, JSON values (bytes as hex in `load`/`...Hex`). */
export interface DecodedLayer {
  layer: string;
  [field: string]: unknown;
}

export interface DecodedPacket {
  /** CLOCK_MONOTONIC arrival time, ms (same clock as `process.hrtime`). */
  monoMs: number;
  /** Wall-clock arrival time, ms since the epoch. */
  epochMs: number;
  /** `in`, `out`, `host`, `broadcast`, `multicast`, `otherhost` (AF_PACKET pkttype). */
  direction: string;
  length: number;
  layers: DecodedLayer[];
  /** Whole frame, hex. */
  hex: string;
}

export interface SendRequest {
  target: ProbeTarget;
  /** Interface to send on (L2 frame starting with Ether). Omit for a routed L3 packet starting with IP. */
  iface?: string;
  packet: PacketDescription;
  count?: number;
  intervalMs?: number;
}

export interface SniffRequest {
  target: ProbeTarget;
  iface: string;
  /** BPF filter (tcpdump syntax). */
  filter?: string;
  /** Stop after this many packets. */
  count?: number;
  timeoutMs: number;
  /** Also write what was captured to this pcap file. */
  pcapPath?: string;
}

export interface CaptureRequest {
  target: ProbeTarget;
  iface: string;
  filter?: string;
  /** Where the pcap goes (readable by tshark/Wireshark). */
  path: string;
  /** Stop by itself after this long (default: only on stop()). */
  durationMs?: number;
}

export interface CaptureResult {
  path: string;
  packets: number;
}

export interface RunningCapture {
  readonly path: string;
  stop(): Promise<CaptureResult>;
}

/** PTF-style masked expectation: fields listed in `dontCare` are ignored. */
export interface PacketExpectation {
  packet: PacketDescription;
  /** `Layer.field` (all layers of that name), `Layer[i].field` (the i-th one, 0 = outermost), or `Layer`. */
  dontCare?: string[];
}

export interface ExpectPacketsRequest extends Omit<SniffRequest, 'count'> {
  expected: PacketExpectation;
  /** How many matching packets are required (default 1). */
  count?: number;
  /** Fail when any captured packet does not match the expectation. */
  noOthers?: boolean;
}

export interface FieldDifference {
  path: string;
  expected: unknown;
  actual: unknown;
}

export interface ExpectPacketsResult {
  ok: boolean;
  matched: number;
  unmatched: DecodedPacket[];
  /** Differences of the closest unmatched packet (for the failure message). */
  closest?: FieldDifference[];
  packets: DecodedPacket[];
  reason?: string;
}

export interface InterfaceInfo {
  ifname: string;
  ifindex: number;
  mac: string;
}
