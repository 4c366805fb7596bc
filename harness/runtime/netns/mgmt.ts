/**
 * The management network, like containerlab's: every node (but bridges) gets `eth0` with an address
 * from the mgmt subnet and a default route via the gateway (the first address, on the mgmt bridge),
 * as a Docker network gives containers. The bridge lives in a lab-private namespace, never in the
 * host's: the host gets no address or route. The harness reaches nodes through their namespaces
 * (nsenter/setns) or from inside the mgmt namespace, where every node's mgmt address answers.
 */
import type { Topology } from '../../topology/types.ts';
import { UserError } from '../../util/errors.ts';
import { isValidIfName, type LabNames, nodeNetns } from './names.ts';
import { where } from './validate.ts';

export interface MgmtPlan {
  netns: string;
  bridge: string;
  mtu: number;
  ipv4Subnet: string;
  ipv4Gateway: string;
  ipv6Subnet: string | undefined;
  ipv6Gateway: string | undefined;
  /** Per node with a management interface: CIDR addresses and the mgmt-namespace end of its veth. */
  nodes: Map<string, { ipv4: string; ipv6: string | undefined; peer: string }>;
}

// ---- IPv4 / IPv6 arithmetic (BigInt keeps both families in one code path) ----

function parseV4(text: string): bigint | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part) || Number(part) > 255) return undefined;
    value = (value << 8n) | BigInt(part);
  }
  return value;
}

function formatV4(value: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 255n)).join('.');
}

function parseV6(text: string): bigint | undefined {
  if (!/^[0-9a-fA-F:]+$/.test(text) || (text.match(/::/g) ?? []).length > 1) return undefined;
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const headParts = head ? head.split(':') : [];
  const tailParts = tail ? tail.split(':') : [];
  const missing = 8 - headParts.length - tailParts.length;
  if (tail === undefined ? missing !== 0 : missing < 1) return undefined;
  const groups = [...headParts, ...Array<string>(tail === undefined ? 0 : missing).fill('0'), ...tailParts];
  let value = 0n;
  for (const group of groups) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(group)) return undefined;
    value = (value << 16n) | BigInt(`0x${group}`);
  }
  return value;
}

function formatV6(value: bigint): string {
  const groups = Array.from({ length: 8 }, (_, i) =>
    ((value >> BigInt(112 - 16 * i)) & 0xffffn).toString(16),
  );
  // Compress the longest run of zero groups (RFC 5952).
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i += 1;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j += 1;
    if (j - i > bestLen && j - i > 1) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

interface Family {
  bits: number;
  parse(text: string): bigint | undefined;
  format(value: bigint): string;
}
const V4: Family = { bits: 32, parse: parseV4, format: formatV4 };
const V6: Family = { bits: 128, parse: parseV6, format: formatV6 };

interface Subnet {
  family: Family;
  base: bigint;
  prefix: number;
  size: bigint;
}

function parseSubnet(family: Family, cidr: string): Subnet | undefined {
  const [addr, len] = cidr.split('/');
  const prefix = Number(len);
  const value = addr === undefined ? undefined : family.parse(addr);
  if (value === undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > family.bits - 2)
    return undefined;
  const size = 1n << BigInt(family.bits - prefix);
  return { family, base: value - (value % size), prefix, size };
}

function contains(subnet: Subnet, value: bigint): boolean {
  return value >= subnet.base && value < subnet.base + subnet.size;
}

// ---- the plan ----

export function defaultMgmtIPv4Subnet(names: LabNames): string {
  // 198.18.0.0/15 is the benchmarking range: never routed, never a lab's own address plan.
  return `198.18.${Number.parseInt(names.hash.slice(0, 2), 16)}.0/24`;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

export function planMgmt(topology: Topology, names: LabNames, withMgmt: readonly string[]): MgmtPlan {
  const mgmt = topology.mgmt;
  const nodesByName = new Map(topology.nodes.map((n) => [n.name, n]));
  const anyStaticV4 = withMgmt.some((n) => nodesByName.get(n)?.mgmtIPv4 !== undefined);
  const fromFile = mgmt.ipv4SubnetFromFile !== false && mgmt.ipv4Subnet !== 'auto';
  // Management namespaces are lab-private, so any subnet works; without one in the file (and no
  // static node address needing containerlab's default), each lab gets its own benchmarking /24.
  const v4Cidr =
    fromFile || anyStaticV4
      ? mgmt.ipv4Subnet === 'auto'
        ? '172.20.20.0/24'
        : mgmt.ipv4Subnet
      : defaultMgmtIPv4Subnet(names);
  const fileWhere = topology.pos ? where(topology.pos) : topology.file;
  const v4 = parseSubnet(V4, v4Cidr);
  if (!v4) throw new UserError(`mgmt ipv4-subnet '${v4Cidr}' is not an IPv4 subnet`, { where: fileWhere });
  const anyStaticV6 = withMgmt.some((n) => nodesByName.get(n)?.mgmtIPv6 !== undefined);
  const v6Cidr = mgmt.ipv6Subnet ?? (anyStaticV6 ? '3fff:172:20:20::/64' : undefined);
  const v6 = v6Cidr === undefined ? undefined : parseSubnet(V6, v6Cidr);
  if (v6Cidr !== undefined && !v6)
    throw new UserError(`mgmt ipv6-subnet '${v6Cidr}' is not an IPv6 subnet`, { where: fileWhere });

  const gateway = (subnet: Subnet, key: string): bigint => {
    const given = str(mgmt.extra?.[key]);
    if (given === undefined) return subnet.base + 1n;
    const value = subnet.family.parse(given);
    if (value === undefined || !contains(subnet, value)) {
      throw new UserError(`mgmt ${key} '${given}' is not an address inside the mgmt subnet`, {
        where: fileWhere,
      });
    }
    return value;
  };
  const gw4 = gateway(v4, 'ipv4-gw');
  const gw6 = v6 ? gateway(v6, 'ipv6-gw') : undefined;

  const allocate = (subnet: Subnet, gw: bigint, key: 'mgmtIPv4' | 'mgmtIPv6'): Map<string, bigint> => {
    const out = new Map<string, bigint>();
    const used = new Set<bigint>([gw]);
    for (const name of withMgmt) {
      const node = nodesByName.get(name);
      const given = node?.[key];
      if (!node || given === undefined) continue;
      const value = subnet.family.parse(given.split('/')[0] ?? '');
      if (value === undefined || !contains(subnet, value) || value === subnet.base || used.has(value)) {
        throw new UserError(
          `node '${name}': ${key === 'mgmtIPv4' ? 'mgmt-ipv4' : 'mgmt-ipv6'} '${given}' is not a free address of the mgmt subnet`,
          {
            where: where(node.pos),
            hint: 'pick an unused address inside mgmt ipv4-subnet/ipv6-subnet (not the gateway)',
          },
        );
      }
      used.add(value);
      out.set(name, value);
    }
    let next = subnet.base + 1n;
    const last = subnet.base + subnet.size - (subnet.family.bits === 32 ? 2n : 1n);
    for (const name of withMgmt) {
      if (out.has(name)) continue;
      while (used.has(next)) next += 1n;
      if (next > last)
        throw new UserError(`mgmt subnet ${v4Cidr} has no free address left for node '${name}'`, {
          where: fileWhere,
        });
      used.add(next);
      out.set(name, next);
    }
    return out;
  };
  const addr4 = allocate(v4, gw4, 'mgmtIPv4');
  const addr6 = v6 && gw6 !== undefined ? allocate(v6, gw6, 'mgmtIPv6') : undefined;

  const bridge = mgmt.bridge && isValidIfName(mgmt.bridge) ? mgmt.bridge : 'br-clab';
  const peers = new Set<string>([bridge, 'lo']);
  const nodes = new Map<string, { ipv4: string; ipv6: string | undefined; peer: string }>();
  withMgmt.forEach((name, index) => {
    const peer = isValidIfName(name) && !peers.has(name) && !/^m\d+$/.test(name) ? name : `m${index}`;
    peers.add(peer);
    const a6 = addr6?.get(name);
    nodes.set(name, {
      ipv4: `${formatV4(addr4.get(name)!)}/${v4.prefix}`,
      ipv6: a6 === undefined || !v6 ? undefined : `${formatV6(a6)}/${v6.prefix}`,
      peer,
    });
  });
  const mtuRaw = mgmt.extra?.mtu;
  return {
    netns: names.mgmtNetns,
    bridge,
    mtu: typeof mtuRaw === 'number' && mtuRaw >= 576 ? mtuRaw : 1500,
    ipv4Subnet: `${formatV4(v4.base)}/${v4.prefix}`,
    ipv4Gateway: formatV4(gw4),
    ipv6Subnet: v6 ? `${formatV6(v6.base)}/${v6.prefix}` : undefined,
    ipv6Gateway: gw6 === undefined ? undefined : formatV6(gw6),
    nodes,
  };
}

/** Host-namespace `ip -batch` lines: each node's eth0, created directly in the node and mgmt namespaces. */
export function mgmtVethLines(plan: MgmtPlan, names: LabNames): string[] {
  return [...plan.nodes].map(
    ([node, { peer }]) =>
      `link add name eth0 netns ${nodeNetns(names, node)} mtu ${plan.mtu} type veth peer name ${peer} netns ${plan.netns} mtu ${plan.mtu}`,
  );
}

/** `ip -n <mgmt ns> -batch` lines: the bridge, its gateway addresses, every node's port. */
export function mgmtBridgeLines(plan: MgmtPlan): string[] {
  const br = plan.bridge;
  const lines = [`link set dev lo up`, `link add name ${br} mtu ${plan.mtu} type bridge`];
  lines.push(`addr add ${plan.ipv4Gateway}/${plan.ipv4Subnet.split('/')[1]} dev ${br}`);
  if (plan.ipv6Gateway && plan.ipv6Subnet)
    lines.push(`addr add ${plan.ipv6Gateway}/${plan.ipv6Subnet.split('/')[1]} dev ${br} nodad`);
  for (const { peer } of plan.nodes.values())
    lines.push(`link set dev ${peer} master ${br}`, `link set dev ${peer} up`);
  lines.push(`link set dev ${br} up`);
  return lines;
}

/** `ip -batch` lines run inside a node: eth0 up, its addresses, default routes via the gateway. */
export function mgmtNodeLines(plan: MgmtPlan, node: string): string[] {
  const entry = plan.nodes.get(node);
  if (!entry) return [];
  const lines = [
    'link set dev eth0 up',
    `addr add ${entry.ipv4} dev eth0`,
    `route add default via ${plan.ipv4Gateway} dev eth0`,
  ];
  if (entry.ipv6 && plan.ipv6Gateway) {
    lines.push(`addr add ${entry.ipv6} dev eth0 nodad`, `route add ::/0 via ${plan.ipv6Gateway} dev eth0`);
  }
  return lines;
}
