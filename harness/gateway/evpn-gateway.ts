/**
 * The EVPN gateway profile (docs/gateways.md): an FRR VTEP (`advertise-all-vni`) serving bare-metal
 * hosts behind it. A vendor EVPN top-of-rack switch is configured by its operator, not by the overlay's
 * controller: so the harness plays the operator and creates, per bound VNI, the kernel VXLAN device and
 * bridge with the bound physical port in it; FRR announces and learns the rest over BGP. Its forwarding
 * table is read with `bridge -j fdb` (typed JSON). Implementation-neutral: any driver may use it.
 */
import type { DeployedLab, LabNode } from '../runtime/runtime.ts';
import type { Topology } from '../topology/types.ts';
import { HarnessError } from '../util/errors.ts';

/** The gateway profiles a lab node can stand in for (its label `otwin.gateway-profile`). */
export const GATEWAY_PROFILES = ['ovsdb', 'evpn'] as const;
export type GatewayProfile = (typeof GATEWAY_PROFILES)[number];

/** A gateway node's profile: its `otwin.gateway-profile` label; a node without one is an OVSDB VTEP. */
export function gatewayProfileOf(topology: Topology, node: string): GatewayProfile {
  const label = topology.nodes.find((n) => n.name === node)?.labels['otwin.gateway-profile'];
  return label === 'evpn' ? 'evpn' : 'ovsdb';
}

/** One bound VNI on the gateway: its bridge holds the VXLAN device and the physical port, if any. */
export interface EvpnBinding {
  vni: number;
  /** Undefined for a VNI the gateway only routes (GW-8): the bridge holds the VXLAN device alone. */
  port?: string | undefined;
}

/** Device names per VNI (at most 15 characters: `vxlan16777215` is 13). */
export function evpnDevices(vni: number): { vxlan: string; bridge: string } {
  return { vxlan: `vxlan${vni}`, bridge: `br${vni}` };
}

async function run(node: LabNode, argv: string[]): Promise<void> {
  const r = await node.exec(argv);
  if (r.exitCode !== 0)
    throw new HarnessError(`${node.name}: ${argv.join(' ')}: ${r.stderr.trim() || `exit ${r.exitCode}`}`);
}

/**
 * Creates the VNI's devices on the gateway (idempotent: an existing VNI is left as it is). `nolearning`:
 * remote MACs come from EVPN type-2 routes (zebra installs them `extern_learn`), never from data.
 */
export async function addEvpnBinding(node: LabNode, tunnelIp: string, b: EvpnBinding): Promise<void> {
  const { vxlan, bridge } = evpnDevices(b.vni);
  const exists = await node.exec(['ip', '-j', 'link', 'show', 'dev', vxlan]);
  if (exists.exitCode === 0) return;
  await run(node, ['ip', 'link', 'add', bridge, 'type', 'bridge']);
  await run(node, [
    'ip',
    'link',
    'add',
    vxlan,
    'type',
    'vxlan',
    'id',
    String(b.vni),
    'local',
    tunnelIp,
    'dstport',
    '4789',
    'nolearning',
  ]);
  await run(node, ['ip', 'link', 'set', vxlan, 'master', bridge, 'addrgenmode', 'none']);
  if (b.port) await run(node, ['ip', 'link', 'set', b.port, 'master', bridge]);
  await run(node, ['ip', 'link', 'set', vxlan, 'up']);
  await run(node, ['ip', 'link', 'set', bridge, 'up']);
}

/**
 * Makes the gateway an L3 gateway (GW-8): its own address on each routed VNI's bridge (an SVI; the
 * VNI's devices must exist) and on the outside port, and IPv4 forwarding on, so its kernel routes
 * between them. `replace`: idempotent.
 */
export async function addEvpnRouting(
  node: LabNode,
  svis: Array<{ vni: number; address: string }>,
  outside: { port: string; address: string },
): Promise<void> {
  await run(node, ['sysctl', '-w', 'net.ipv4.ip_forward=1']);
  for (const svi of svis)
    await run(node, ['ip', 'addr', 'replace', svi.address, 'dev', evpnDevices(svi.vni).bridge]);
  await run(node, ['ip', 'addr', 'replace', outside.address, 'dev', outside.port]);
  await run(node, ['ip', 'link', 'set', outside.port, 'up']);
}

/** Removes the outside address (the SVIs go with their bridges, removeEvpnBinding). */
export async function removeEvpnRouting(
  node: LabNode,
  outside: { port: string; address: string },
): Promise<void> {
  await node.exec(['ip', 'addr', 'del', outside.address, 'dev', outside.port]);
}

/** Removes the VNI's devices (FRR withdraws its routes for it); the port stays, unbridged. */
export async function removeEvpnBinding(node: LabNode, vni: number): Promise<void> {
  const { vxlan, bridge } = evpnDevices(vni);
  await node.exec(['ip', 'link', 'del', vxlan]);
  await node.exec(['ip', 'link', 'del', bridge]);
}

/** One forwarding entry of a VNI's VXLAN device: a MAC at a remote VTEP (all-zero MAC: the flood list). */
export interface EvpnFdbEntry {
  vni: number;
  mac: string;
  /** The remote VTEP; undefined for a local entry (the device's own). */
  dst: string | undefined;
  /** Installed from a BGP EVPN route (zebra's `extern_learn`). */
  externLearn: boolean;
}

/** What an EVPN gateway forwards, per VNI: remote MACs and flood (ingress replication) lists. */
export interface EvpnGatewayFdb {
  entries: EvpnFdbEntry[];
}

interface BridgeFdbJson {
  mac: string;
  dst?: string;
  flags?: string[];
  state?: string;
}

export const FLOOD_MAC = '00:00:00:00:00:00';

/** The gateway's VXLAN forwarding entries for the given VNIs, from `bridge -j fdb show dev vxlanN`. */
export async function readEvpnFdb(node: LabNode, vnis: number[]): Promise<EvpnGatewayFdb> {
  const entries: EvpnFdbEntry[] = [];
  for (const vni of vnis) {
    const { vxlan } = evpnDevices(vni);
    const r = await node.exec(['bridge', '-j', 'fdb', 'show', 'dev', vxlan]);
    if (r.exitCode !== 0)
      throw new HarnessError(`${node.name}: bridge -j fdb show dev ${vxlan}: ${r.stderr.trim()}`);
    for (const e of JSON.parse(r.stdout || '[]') as BridgeFdbJson[]) {
      // The kernel's permanent entry for the device's own address is not forwarding state.
      if (!e.dst && e.state === 'permanent') continue;
      entries.push({
        vni,
        mac: e.mac.toLowerCase(),
        dst: e.dst,
        externLearn: e.flags?.includes('extern_learn') ?? false,
      });
    }
  }
  return { entries };
}

/** The lab node of a gateway, or a clear error naming it. */
export function gatewayNode(lab: DeployedLab, name: string): LabNode {
  const node = lab.nodes.get(name);
  if (!node) throw new HarnessError(`gateway ${name}: no such node in lab ${lab.topology.name}`);
  return node;
}
