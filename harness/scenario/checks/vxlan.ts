/**
 * VXLAN encapsulation expectations beyond one packet (catalogue VX-2..VX-5), in three modes:
 *
 * - `entropy` (VX-2): `flows` inner UDP flows (distinct inner source ports) from one VM to another;
 *   on the underlay point the outer UDP source port of every flow is read. Passes when every flow was
 *   seen, each flow used exactly one outer source port, and there are at least `minSourcePorts`
 *   distinct ones (RFC 7348 §5: the source port is a hash of the inner headers, for ECMP).
 * - `mtu` (VX-3): with the underlay MTU U of the `at` interfaces (optionally set to `underlayMtu` for
 *   the check and restored afterwards), the VM pings with DF at the largest inner IP size that fits
 *   (U − 50: outer IP 20 + UDP 8 + VXLAN 8 + inner Ethernet 14) — delivered — and at sizes above it,
 *   while the underlay points count IP fragments: there must be none (RFC 7348 §4.3: VTEPs must not
 *   fragment VXLAN packets). Sizes the VM's own MTU does not let out are reported, not sent.
 * - `inject` (VX-4, VX-5): an underlay node sends one crafted VXLAN packet (outer source: its VTEP
 *   address) to the VTEP of `to`'s hypervisor, with `vni` (a number, or a subnet name for that
 *   subnet's VNI), `flags` and reserved fields as given, carrying a UDP frame addressed to `to` (its
 *   MAC and IP). Every VM in `among` (default: every attached VM) is watched. A VM counts as
 *   *delivered to* when the frame reaches its interface addressed to its own MAC; copies flooded to a
 *   VM under a foreign destination MAC (dropped by its NIC) are reported but are not deliveries.
 *   `expect: delivered` → delivered to `to` and nowhere else; `dropped` → delivered nowhere.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Attachment } from '../../report/reporter.ts';
import type { DecodedLayer, DecodedPacket, PacketDescription } from '../../traffic/types.ts';
import { HarnessError } from '../../util/errors.ts';
import type { ScenarioContext } from '../context.ts';
import { IntentIndex } from '../intent.ts';
import { endpoint } from '../refs.ts';
import type { CheckBase } from '../types.ts';
import { arr, durationOr, strs } from '../values.ts';
import { type CheckDefinition, type CheckResult, listenMs } from './types.ts';

/** VXLAN encapsulation checks beyond one packet (VX-2..VX-5): see checks/vxlan.ts. */
export interface VxlanCheck extends CheckBase {
  kind: 'vxlan';
  mode: 'entropy' | 'mtu' | 'inject';
  /** entropy/mtu: the sending VM; inject: the underlay node that sends the crafted packet. */
  from: string;
  /** The destination VM. */
  to: string;
  /** Underlay points (entropy: where outer source ports are read; mtu: where fragments are looked for). */
  at: Array<{ node: string; iface: string }>;
  /** entropy: number of inner flows. */
  flows: number;
  /** entropy: distinct outer source ports required. */
  minSourcePorts: number;
  /** mtu: underlay MTU set on the `at` interfaces for the check (restored afterwards). */
  underlayMtu: number | undefined;
  /** inject: VNI, or a subnet name standing for its VNI. */
  vni: number | string | undefined;
  /** inject: VXLAN flags byte (0x08: I flag only), reserved fields. */
  flags: number;
  reserved1: number;
  reserved2: number;
  /** inject: delivered to `to` (only), or dropped everywhere. */
  expect: 'delivered' | 'dropped';
  /** inject: VMs watched (default every attached VM). */
  among: string[] | undefined;
  durationMs: number;
}

/** Outer IPv4 + UDP + VXLAN + inner Ethernet (RFC 7348 §4.3). */
export const VXLAN_OVERHEAD = 50;
const INJECT_SRC_MAC = '02:00:00:0f:ff:01';

/** A VM's MAC: as provisioned, else where the driver put it. */
function vmMac(ctx: ScenarioContext, name: string): string {
  const vm = new IntentIndex(ctx.intent).vm(name);
  return (vm.mac ?? ctx.driver.locate(vm, ctx.driverContext()).mac ?? '').toLowerCase();
}

const layersNamed = (p: DecodedPacket, name: string): DecodedLayer[] =>
  p.layers.filter((l) => l.layer === name);

/** The VNI of a check's `vni`: a number as is, a subnet name → that subnet's VNI. */
export function resolveVni(vni: number | string | undefined, ctx: ScenarioContext): number {
  if (typeof vni === 'number') return vni;
  const subnet = vni === undefined ? undefined : new IntentIndex(ctx.intent).subnets.get(vni);
  if (!subnet) throw new HarnessError(`vxlan check: unknown subnet '${String(vni)}' for vni`);
  return subnet.vni;
}

/** BPF: VXLAN on port 4789 with this VNI (the 24 VNI bits of the word at UDP offset 12). */
export function vniFilter(vni: number): string {
  return `udp dst port 4789 and udp[12:4] & 0xffffff00 = 0x${(vni * 256).toString(16).padStart(8, '0')}`;
}

async function linkMtu(ctx: ScenarioContext, node: string, iface: string): Promise<number> {
  const r = await ctx.endpoint(node).node.exec(['ip', '-j', 'link', 'show', 'dev', iface]);
  const mtu = r.exitCode === 0 ? (JSON.parse(r.stdout) as Array<{ mtu?: number }>)[0]?.mtu : undefined;
  if (!mtu) throw new HarnessError(`${node}: cannot read the MTU of ${iface}: ${r.stderr.trim()}`);
  return mtu;
}

async function setMtu(ctx: ScenarioContext, node: string, iface: string, mtu: number): Promise<void> {
  const r = await ctx.node(node).exec(['ip', 'link', 'set', 'dev', iface, 'mtu', String(mtu)]);
  if (r.exitCode !== 0)
    throw new HarnessError(`${node}: cannot set the MTU of ${iface} to ${mtu}: ${r.stderr.trim()}`);
}

function pcapAttachment(name: string, path: string): Attachment[] {
  try {
    return [{ name, content: readFileSync(path), type: 'application/vnd.tcpdump.pcap' }];
  } catch {
    return [];
  }
}

/** Sniffs on every point while `act` runs; resolves with the packets per point and the pcaps. */
async function sniffAround<T>(
  ctx: ScenarioContext,
  points: Array<{ node: string; iface: string; filter: string; label: string }>,
  durationMs: number,
  act: () => Promise<T>,
): Promise<{ value: T; packets: DecodedPacket[][]; attachments: Attachment[] }> {
  await ctx.traffic.prepare(points.map((p) => ctx.endpoint(p.node).target));
  const running = await Promise.all(
    points.map(async (p) => {
      const pcap = ctx.artifactPath(`${p.label}.pcap`);
      const sniff = await ctx.traffic.startSniff({
        target: ctx.endpoint(p.node).target,
        iface: p.iface,
        filter: p.filter,
        timeoutMs: durationMs,
        pcapPath: pcap,
      });
      return { p, pcap, sniff };
    }),
  );
  const value = await act();
  const packets: DecodedPacket[][] = [];
  const attachments: Attachment[] = [];
  for (const r of running) {
    packets.push(await r.sniff.packets);
    ctx.record.artifact(`${r.p.label} pcap`, r.pcap);
    attachments.push(...pcapAttachment(`${r.p.label}.pcap`, r.pcap));
  }
  return { value, packets, attachments };
}

async function entropy(check: VxlanCheck, ctx: ScenarioContext): Promise<CheckResult> {
  const index = new IntentIndex(ctx.intent);
  const fromVm = index.vm(check.from);
  const toVm = index.vm(check.to);
  const from = ctx.endpoint(check.from);
  const to = ctx.endpoint(check.to);
  const vni = index.subnetOf(fromVm).vni;
  const point = check.at[0];
  if (!point) throw new HarnessError('vxlan entropy: needs one underlay point in `at`');
  const basePort = 20000 + (Number.parseInt(randomBytes(2).toString('hex'), 16) % 20000);
  const frame = (sport: number): PacketDescription => [
    { layer: 'Ether', src: vmMac(ctx, check.from), dst: vmMac(ctx, check.to) },
    { layer: 'IP', src: from.address, dst: to.address },
    { layer: 'UDP', sport, dport: 9 },
    { layer: 'Raw', load: 'otwin-vx2' },
  ];
  const { packets, attachments } = await sniffAround(
    ctx,
    [{ node: point.node, iface: point.iface, filter: vniFilter(vni), label: `${point.node}-${point.iface}` }],
    check.durationMs,
    async () => {
      // Each flow twice: a second packet of the same flow must take the same outer port.
      for (let round = 0; round < 2; round += 1)
        for (let i = 0; i < check.flows; i += 1)
          await ctx.traffic.send({ target: from.target, iface: from.iface, packet: frame(basePort + i) });
    },
  );
  const byFlow = new Map<number, Set<number>>();
  for (const p of packets[0] ?? []) {
    const udp = layersNamed(p, 'UDP');
    const ip = layersNamed(p, 'IP');
    const inner = udp[1];
    if (!inner || ip[1]?.src !== from.address || ip[1]?.dst !== to.address) continue;
    const innerSport = Number(inner.sport);
    if (innerSport < basePort || innerSport >= basePort + check.flows) continue;
    const ports = byFlow.get(innerSport) ?? new Set<number>();
    ports.add(Number(udp[0]?.sport));
    byFlow.set(innerSport, ports);
  }
  const distinct = new Set([...byFlow.values()].flatMap((s) => [...s]));
  const multi = [...byFlow.entries()].filter(([, s]) => s.size > 1);
  const problems: string[] = [];
  if (byFlow.size < check.flows)
    problems.push(`only ${byFlow.size} of ${check.flows} inner flows seen on ${point.node}:${point.iface}`);
  if (multi.length > 0)
    problems.push(
      `${multi.length} inner flow(s) used more than one outer source port, e.g. inner sport ${multi[0]![0]} → ${[...multi[0]![1]].join(', ')}`,
    );
  if (distinct.size < check.minSourcePorts)
    problems.push(
      `${distinct.size} distinct outer source port(s), expected at least ${check.minSourcePorts}`,
    );
  const sorted = [...distinct].sort((a, b) => a - b);
  const table = [...byFlow.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(
      ([inner, outer]) => `${from.address}:${inner} → ${to.address}:9  outer sport ${[...outer].join(', ')}`,
    )
    .join('\n');
  const seen = `${byFlow.size} inner flows, ${distinct.size} distinct outer source ports (${sorted[0] ?? '-'}..${sorted.at(-1) ?? '-'})`;
  return {
    ok: problems.length === 0,
    summary: problems.length === 0 ? seen : `${problems.join('; ')} (${seen})`,
    attachments: [
      ...attachments,
      { name: 'inner flow → outer source port', content: table || '(none)', type: 'text/plain' },
    ],
    nodes: [fromVm.hypervisor, toVm.hypervisor],
  };
}

async function ping(
  ctx: ScenarioContext,
  from: string,
  dst: string,
  size: number,
  df = true,
): Promise<boolean> {
  const argv = [
    'ping',
    '-n',
    '-q',
    '-c',
    '1',
    '-W',
    '1',
    '-M',
    df ? 'do' : 'dont',
    '-s',
    String(size - 28),
    dst,
  ];
  return (await ctx.endpoint(from).node.exec(argv)).exitCode === 0;
}

async function mtu(check: VxlanCheck, ctx: ScenarioContext): Promise<CheckResult> {
  if (check.at.length === 0) throw new HarnessError('vxlan mtu: needs underlay points in `at`');
  const from = ctx.endpoint(check.from);
  const to = ctx.endpoint(check.to);
  const original = await Promise.all(check.at.map((p) => linkMtu(ctx, p.node, p.iface)));
  const restore: Array<() => Promise<void>> = [];
  try {
    if (check.underlayMtu !== undefined) {
      for (const [i, p] of check.at.entries()) {
        restore.push(() => setMtu(ctx, p.node, p.iface, original[i]!));
        await setMtu(ctx, p.node, p.iface, check.underlayMtu);
      }
    }
    const underlay = check.underlayMtu ?? Math.min(...original);
    const vmMtu = await linkMtu(ctx, check.from, from.iface);
    const fit = underlay - VXLAN_OVERHEAD;
    const largest = Math.min(fit, vmMtu);
    const above = [fit + 1, fit + VXLAN_OVERHEAD].filter((s) => s <= vmMtu);
    const notSendable = [fit + 1, fit + VXLAN_OVERHEAD].filter((s) => s > vmMtu);
    const {
      value: outcomes,
      packets,
      attachments,
    } = await sniffAround(
      ctx,
      check.at.map((p) => ({
        node: p.node,
        iface: p.iface,
        // Any IPv4 fragment (MF set or a fragment offset), and the VXLAN packets for the record.
        filter: 'ip[6:2] & 0x3fff != 0 or udp dst port 4789',
        label: `${p.node}-${p.iface}`,
      })),
      check.durationMs + 1000 * (2 + above.length) * 2,
      async () => {
        const out: Array<{ size: number; delivered: boolean; df?: boolean }> = [];
        // The largest fitting size gets a few tries (the first may wait for ARP/neighbour state).
        let delivered = false;
        for (let i = 0; i < 3 && !delivered; i += 1)
          delivered = await ping(ctx, check.from, to.address, largest);
        out.push({ size: largest, delivered });
        for (const size of above)
          out.push({ size, delivered: await ping(ctx, check.from, to.address, size) });
        // Without DF the VM sends its MTU as one packet: the VTEP must still not fragment the outer one.
        if (vmMtu > fit)
          out.push({
            size: vmMtu,
            df: false,
            delivered: await ping(ctx, check.from, to.address, vmMtu, false),
          });
        return out;
      },
    );
    const fragments = packets.map((list) =>
      list.filter((p) => {
        const ip = layersNamed(p, 'IP')[0];
        return ip !== undefined && ((Number(ip.flags) & 1) === 1 || Number(ip.frag) > 0);
      }),
    );
    const problems: string[] = [];
    const first = outcomes[0]!;
    if (!first.delivered)
      problems.push(`the largest fitting inner packet (${first.size} bytes, DF) was not delivered`);
    check.at.forEach((p, i) => {
      const n = fragments[i]!.length;
      if (n > 0) problems.push(`${n} IP fragment(s) on the underlay at ${p.node}:${p.iface}`);
    });
    const facts = [
      `underlay MTU ${underlay}${check.underlayMtu !== undefined ? ` (set for the check; was ${original.join('/')})` : ''}`,
      `VM MTU ${vmMtu}`,
      `largest fitting inner IP packet ${fit}`,
      ...outcomes.map(
        (o) =>
          `${o.size} B ${o.df === false ? 'without' : 'with'} DF: ${o.delivered ? 'delivered' : 'not delivered'}`,
      ),
      ...(largest < fit ? [`${fit} B and above: cannot leave the VM (its MTU is ${vmMtu})`] : []),
      ...notSendable
        .filter((s) => s > fit && largest >= fit)
        .map((s) => `${s} B: above the VM MTU, not sent`),
      `outer fragments: ${fragments.map((f, i) => `${check.at[i]!.node}:${check.at[i]!.iface}=${f.length}`).join(', ')}`,
    ].join('; ');
    return {
      ok: problems.length === 0,
      summary: problems.length === 0 ? facts : `${problems.join('; ')} (${facts})`,
      attachments,
      nodes: [...new Set(check.at.map((p) => p.node))],
    };
  } finally {
    for (const r of restore.reverse()) await r();
  }
}

async function inject(check: VxlanCheck, ctx: ScenarioContext): Promise<CheckResult> {
  const index = new IntentIndex(ctx.intent);
  const toVm = index.vm(check.to);
  const to = ctx.endpoint(check.to);
  const vni = resolveVni(check.vni, ctx);
  const src = await ctx.driver.vtepAddress(ctx.node(check.from));
  const dst = await ctx.driver.vtepAddress(ctx.node(toVm.hypervisor));
  if (!src || !dst)
    throw new HarnessError(`vxlan inject: no VTEP address for ${!src ? check.from : toVm.hypervisor}`);
  const toMac = vmMac(ctx, check.to);
  const marker = `otwin-vx-${randomBytes(4).toString('hex')}`;
  const markerHex = Buffer.from(marker).toString('hex');
  const packet: PacketDescription = [
    { layer: 'IP', src, dst, ttl: 64 },
    {
      layer: 'UDP',
      sport: 49152 + (Number.parseInt(randomBytes(2).toString('hex'), 16) % 16000),
      dport: 4789,
    },
    { layer: 'VXLAN', flags: check.flags, vni, reserved1: check.reserved1, reserved2: check.reserved2 },
    { layer: 'Ether', src: INJECT_SRC_MAC, dst: toMac },
    { layer: 'IP', src: '192.0.2.254', dst: to.address, ttl: 64 },
    { layer: 'UDP', sport: 40000, dport: 7999 },
    { layer: 'Raw', load: marker },
  ];
  const watched = (check.among ?? ctx.intent.vms.filter((v) => v.attached).map((v) => v.name)).filter(
    (name) => ctx.intent.vms.find((v) => v.name === name)?.attached !== false,
  );
  const { packets, attachments } = await sniffAround(
    ctx,
    watched.map((name) => {
      const ep = ctx.endpoint(name);
      return { node: name, iface: ep.iface, filter: 'udp dst port 7999', label: `${name}-${ep.iface}` };
    }),
    check.durationMs,
    () => ctx.traffic.send({ target: ctx.endpoint(check.from).target, packet, count: 3, intervalMs: 50 }),
  );
  const deliveredTo: string[] = [];
  const flooded: string[] = [];
  watched.forEach((name, i) => {
    const mine = (packets[i] ?? []).filter((p) => p.hex.includes(markerHex));
    if (mine.length === 0) return;
    const mac = vmMac(ctx, name);
    const own = mine.filter((p) => String(layersNamed(p, 'Ether')[0]?.dst ?? '').toLowerCase() === mac);
    if (own.length > 0) deliveredTo.push(`${name} (${own.length})`);
    if (mine.length > own.length) flooded.push(`${name} (${mine.length - own.length})`);
  });
  const what = `VXLAN vni ${vni} flags 0x${check.flags.toString(16).padStart(2, '0')} reserved1 0x${check.reserved1.toString(16)} reserved2 0x${check.reserved2.toString(16)} from ${check.from} (${src}) to ${toVm.hypervisor} (${dst}), inner frame to ${check.to} (${toMac}, ${to.address}), 3 copies`;
  const seen = `delivered to: ${deliveredTo.join(', ') || 'none'}; flooded under a foreign destination MAC (not delivered): ${flooded.join(', ') || 'none'}`;
  const ok =
    check.expect === 'dropped'
      ? deliveredTo.length === 0
      : deliveredTo.length === 1 && deliveredTo[0]!.startsWith(`${check.to} `);
  return {
    ok,
    summary: `${what}: expected ${check.expect === 'dropped' ? 'no delivery anywhere' : `delivery to ${check.to} only`}; ${seen}`,
    attachments,
    nodes: [check.from, toVm.hypervisor],
  };
}

export const vxlan: CheckDefinition<VxlanCheck> = {
  kind: 'vxlan',
  schema: {
    description:
      'VXLAN checks (VX-2..5): entropy = outer source port per inner flow; mtu = largest fitting inner packet delivered, no outer fragments; inject = a crafted VXLAN packet from an underlay node, delivered or dropped.',
    type: 'object',
    additionalProperties: false,
    required: ['mode', 'from', 'to'],
    properties: {
      mode: { enum: ['entropy', 'mtu', 'inject'] },
      from: {
        type: 'string',
        description: 'entropy/mtu: the sending VM; inject: the underlay node sending.',
      },
      to: { type: 'string', description: 'The destination VM.' },
      at: {
        type: 'array',
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['node', 'iface'],
          properties: { node: { $ref: '#/definitions/name' }, iface: { type: 'string' } },
        },
      },
      flows: { type: 'integer', minimum: 1, maximum: 4096 },
      minSourcePorts: { type: 'integer', minimum: 1, maximum: 4096 },
      underlayMtu: { type: 'integer', minimum: 576, maximum: 65535 },
      vni: {
        anyOf: [{ type: 'integer', minimum: 0, maximum: 16777215 }, { type: 'string' }],
        description: 'A VNI, or a subnet name for its VNI.',
      },
      flags: { type: 'integer', minimum: 0, maximum: 255 },
      reserved1: { type: 'integer', minimum: 0, maximum: 16777215 },
      reserved2: { type: 'integer', minimum: 0, maximum: 255 },
      expect: { enum: ['delivered', 'dropped'] },
      among: { type: 'array', items: { type: 'string' } },
      duration: { $ref: '#/definitions/duration' },
    },
  },
  traffic: true,
  captureWindow: true,
  parse(body, base) {
    const mode = body.mode as 'entropy' | 'mtu' | 'inject';
    return {
      ...base,
      name: base.name || `vxlan ${mode} ${String(body.from)} → ${String(body.to)}`,
      kind: 'vxlan',
      mode,
      from: String(body.from),
      to: String(body.to),
      at: arr(body.at).map((p) => ({ node: String(p.node), iface: String(p.iface) })),
      flows: (body.flows as number | undefined) ?? 64,
      minSourcePorts: (body.minSourcePorts as number | undefined) ?? 2,
      underlayMtu: body.underlayMtu as number | undefined,
      vni: body.vni as number | string | undefined,
      flags: (body.flags as number | undefined) ?? 0x08,
      reserved1: (body.reserved1 as number | undefined) ?? 0,
      reserved2: (body.reserved2 as number | undefined) ?? 0,
      expect: (body.expect as 'delivered' | 'dropped' | undefined) ?? 'delivered',
      among: body.among as string[] | undefined,
      durationMs: durationOr(body.duration, 1500),
    };
  },
  references(ctx, body, at) {
    arr(body.at).forEach((p, j) => {
      ctx.refs.node([...at, 'at', j, 'node'], p.node);
    });
    if (body.mode === 'inject') ctx.refs.node([...at, 'from'], body.from);
    else endpoint(ctx, [...at, 'from'], body.from);
    endpoint(ctx, [...at, 'to'], body.to);
    strs(body.among).forEach((n, j) => {
      endpoint(ctx, [...at, 'among', j], n);
    });
    if (typeof body.vni === 'string' && !ctx.subnets.has(body.vni))
      ctx.refs.unknown([...at, 'vni'], 'subnet', body.vni, ctx.subnets);
  },
  minimumMs: (body) => ({ ms: listenMs(body, 1500), why: 'it listens for its duration', listens: true }),
  selfPolling: false,
  evaluate(check, ctx) {
    switch (check.mode) {
      case 'entropy':
        return entropy(check, ctx);
      case 'mtu':
        return mtu(check, ctx);
      case 'inject':
        return inject(check, ctx);
    }
  },
};
