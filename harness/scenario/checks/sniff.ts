/** Sniff on several points while a stimulus is sent: shared by capture and packet expectations. */
import { readFileSync } from 'node:fs';
import type { Attachment } from '../../report/reporter.ts';
import type { DecodedPacket, PacketDescription } from '../../traffic/types.ts';
import { HarnessError } from '../../util/errors.ts';
import { sleep } from '../../util/poll.ts';
import type { ScenarioContext } from '../context.ts';
import { IntentIndex } from '../intent.ts';
import type { CapturePoint, PacketSend } from '../types.ts';
import type { Obj } from '../values.ts';

async function macOf(ctx: ScenarioContext, from: string, iface: string): Promise<string> {
  const vm = new IntentIndex(ctx.intent).vms.get(from);
  if (vm?.mac) return vm.mac;
  const r = await ctx.endpoint(from).node.exec(['ip', '-j', 'link', 'show', iface]);
  const links = r.exitCode === 0 ? (JSON.parse(r.stdout) as Array<{ address?: string }>) : [];
  const mac = links[0]?.address;
  if (!mac) throw new HarnessError(`${from}: cannot read the MAC of ${iface}`);
  return mac;
}

/**
 * A hex frame as the traffic engine sends it: the engine wants an Ether layer first on an interface,
 * so the 14-byte Ethernet header is split off and the rest goes as raw payload, byte for byte.
 */
export function rawFrame(hex: string): PacketDescription {
  const h = hex.replace(/[\s:]/g, '').toLowerCase();
  if (h.length < 28 || !/^[0-9a-f]*$/.test(h) || h.length % 2) {
    throw new HarnessError(
      `raw frame: ${h.length / 2} bytes of hex; a frame starts with a 14-byte Ethernet header`,
    );
  }
  const mac = (at: number) => h.slice(at, at + 12).replace(/(..)(?!$)/g, '$1:');
  return [
    { layer: 'Ether', dst: mac(0), src: mac(12), type: Number.parseInt(h.slice(24, 28), 16) },
    { layer: 'Raw', loadHex: h.slice(28) },
  ];
}

function learnedGateway(ctx: ScenarioContext, vm: string): string {
  const mac = ctx.gatewayMacs.get(vm);
  if (!mac)
    throw new HarnessError(
      `${vm} has not resolved its gateway yet: 'dstMac: gateway' needs an earlier gateway check from ${vm}`,
    );
  return mac;
}

export async function buildStimulus(
  ctx: ScenarioContext,
  send: PacketSend,
): Promise<{ iface: string; packet: PacketDescription }> {
  const ep = ctx.endpoint(send.from);
  const iface = send.iface ?? ep.iface;
  if (send.type === 'raw') return { iface, packet: rawFrame(send.hex ?? '') };
  const src = await macOf(ctx, send.from, iface);
  const dstMac = send.dstMac === 'gateway' ? learnedGateway(ctx, send.from) : send.dstMac;
  const srcIp = ep.address || '0.0.0.0';
  const dst = send.dst ?? '255.255.255.255';
  if (send.type === 'arp') {
    return {
      iface,
      packet: [
        { layer: 'Ether', src, dst: dstMac ?? 'ff:ff:ff:ff:ff:ff', type: 0x0806 },
        { layer: 'ARP', op: 1, hwsrc: src, psrc: srcIp, hwdst: '00:00:00:00:00:00', pdst: dst },
      ],
    };
  }
  const l4: PacketDescription =
    send.type === 'icmp'
      ? [{ layer: 'ICMP', type: 8, id: 0x6f74, seq: 1 }]
      : [
          { layer: 'UDP', sport: 40000, dport: send.port ?? 9 },
          { layer: 'Raw', load: 'otwin' },
        ];
  return {
    iface,
    packet: [
      { layer: 'Ether', src, dst: dstMac ?? 'ff:ff:ff:ff:ff:ff' },
      { layer: 'IP', src: srcIp, dst },
      ...l4,
    ],
  };
}

/** Attaches a capture file, when the capture wrote one (nothing captured, no file). */
export function attachPcap(attachments: Attachment[], name: string, file: string): void {
  try {
    attachments.push({ name, content: readFileSync(file), type: 'application/vnd.tcpdump.pcap' });
  } catch {
    // nothing captured, no file
  }
}

export interface PointResult {
  point: CapturePoint;
  packets: DecodedPacket[];
  pcap: string;
}

/** Up enough to bind and send on: administratively up and not operationally down. */
async function interfaceUp(ctx: ScenarioContext, node: string, iface: string): Promise<boolean> {
  const r = await ctx.endpoint(node).node.exec(['ip', '-j', 'link', 'show', 'dev', iface]);
  if (r.exitCode !== 0) return false;
  const link = (JSON.parse(r.stdout || '[]') as Array<{ flags?: string[]; operstate?: string }>)[0];
  return (link?.flags ?? []).includes('UP') && link?.operstate !== 'DOWN';
}

/**
 * Waits until every interface the check sniffs or sends on is up (a VM just attached or moved may not
 * be yet: that is the implementation's time, so it is waited for within the check's budget `waitMs`).
 * Returns what is still down when the budget is used up.
 */
async function awaitInterfaces(
  ctx: ScenarioContext,
  ifaces: Array<{ node: string; iface: string }>,
  waitMs: number,
): Promise<string | undefined> {
  const pending = new Map(ifaces.map((i) => [`${i.node}:${i.iface}`, i]));
  const deadline = performance.now() + waitMs;
  for (;;) {
    for (const [key, i] of [...pending]) if (await interfaceUp(ctx, i.node, i.iface)) pending.delete(key);
    if (pending.size === 0) return undefined;
    if (performance.now() >= deadline)
      return `not up${waitMs > 0 ? ` within the budget (${Math.round(waitMs)} ms left)` : ''}: ${[...pending.keys()].join(', ')}`;
    await sleep(Math.min(50, Math.max(1, deadline - performance.now())));
  }
}

/**
 * Sniffs at `points` while `send` goes out. `waitMs` (what is left of the check's budget) bounds the
 * wait for the interfaces to be up; `notReady` says which were not.
 */
export async function sniffWhileSending(
  ctx: ScenarioContext,
  points: CapturePoint[],
  send: PacketSend,
  durationMs: number,
  waitMs: number,
): Promise<{ results: PointResult[]; attachments: Attachment[]; notReady?: string }> {
  const stimulus = await buildStimulus(ctx, send);
  const notReady = await awaitInterfaces(
    ctx,
    [...points, { node: send.from, iface: stimulus.iface }],
    waitMs,
  );
  if (notReady) return { results: [], attachments: [], notReady };
  await ctx.traffic.prepare([
    ...points.map((p) => ctx.endpoint(p.node).target),
    ctx.endpoint(send.from).target,
  ]);
  const running = await Promise.all(
    points.map(async (point) => {
      const pcap = ctx.artifactPath(`${point.node}-${point.iface}.pcap`);
      const sniff = await ctx.traffic.startSniff({
        target: { name: point.node, netnsPath: ctx.endpoint(point.node).target.netnsPath },
        iface: point.iface,
        ...(point.filter ? { filter: point.filter } : {}),
        timeoutMs: durationMs,
        pcapPath: pcap,
      });
      return { point, pcap, sniff };
    }),
  );
  await ctx.traffic.send({
    target: ctx.endpoint(send.from).target,
    iface: stimulus.iface,
    packet: stimulus.packet,
    count: send.count,
    intervalMs: 10,
  });
  const results: PointResult[] = [];
  const attachments: Attachment[] = [];
  for (const r of running) {
    const packets = await r.sniff.packets;
    results.push({ point: r.point, packets, pcap: r.pcap });
    ctx.record.artifact(`${r.point.node}:${r.point.iface} pcap`, r.pcap);
    attachPcap(attachments, `${r.point.node}:${r.point.iface}.pcap`, r.pcap);
  }
  return { results, attachments };
}

export function countProblem(point: CapturePoint, n: number): string | undefined {
  const where = `${point.node}:${point.iface}${point.filter ? ` [${point.filter}]` : ''}`;
  if (point.count !== undefined && n !== point.count)
    return `${where}: expected exactly ${point.count} packet(s), captured ${n}`;
  if (point.min !== undefined && n < point.min)
    return `${where}: expected at least ${point.min} packet(s), captured ${n}`;
  if (point.max !== undefined && n > point.max)
    return `${where}: expected at most ${point.max} packet(s), captured ${n}`;
  return undefined;
}

/** A `send:` mapping (capture and packet checks). */
export function parseSend(s: Obj): PacketSend {
  return {
    from: String(s.from),
    iface: s.iface as string | undefined,
    type: s.type as PacketSend['type'],
    dst: s.dst as string | undefined,
    dstMac: s.dstMac as string | undefined,
    port: s.port as number | undefined,
    count: (s.count as number | undefined) ?? 1,
    hex: s.hex as string | undefined,
  };
}

/** A capture point (capture and packet checks). */
export function parsePoint(p: Obj): CapturePoint {
  return {
    node: String(p.node),
    iface: String(p.iface),
    filter: (p.filter as string | undefined) ?? '',
    count: p.count as number | undefined,
    min: p.min as number | undefined,
    max: p.max as number | undefined,
  };
}
