/**
 * nat: the tuple the receiver saw (NAT-1, NAT-3, NAT-5). Each source sends one probe (tcp or udp) to
 * the receiver while a capture runs at the receiver's own interface; the source address the receiver
 * saw must be what the intent says: the source's floating IP, its hypervisor's underlay address
 * (PNAT), or its own address when nothing translates it (inside a tenant, or outside → VM). Sources
 * use consecutive destination ports (`port`, `port+1`, ...), so each captured packet names its sender
 * whatever its translated source. Tuples (source address, source port) must be unique across the
 * sources, and each probe's reply must come back (the probe's verdict). Expected values come from
 * the oracle (`natSource`) and the lab (the hypervisor's address), never from the implementation.
 */
import { Oracle, type ProbeSpec as OracleProbe } from '../../oracle/index.ts';
import type { Attachment } from '../../report/reporter.ts';
import { runMatrix } from '../../traffic/index.ts';
import type { DecodedPacket } from '../../traffic/types.ts';
import type { ScenarioContext } from '../context.ts';
import { endpoint, vmOrNode } from '../refs.ts';
import type { CheckBase, ProbeSpec } from '../types.ts';
import { durationOr, type Obj, parseProbe, probeText, strs } from '../values.ts';
import { attachPcap } from './sniff.ts';
import { attemptFor } from './timing.ts';
import type { CheckDefinition, CheckResult } from './types.ts';

export interface NatCheck extends CheckBase {
  kind: 'nat';
  from: string[];
  to: string;
  /** tcp or udp; source i probes port + i. */
  probe: ProbeSpec;
  durationMs: number;
  /** Capture points the probes must pass (NAT-2: the PE port towards the VM's hypervisor, that hypervisor). */
  via: Array<{ node: string; iface: string }>;
  /** Capture points the probes must not pass, routed or tunnelled (VXLAN, Geneve) (NAT-2: every other node). */
  quiet: Array<{ node: string; iface: string }>;
}

interface Expected {
  from: string;
  port: number;
  verdict: 'reach' | 'drop';
  /** The source address the receiver must see; undefined for a dropped probe. */
  source: string | undefined;
  why: string;
  /** The address the sender sends to (a floating IP for outside → VM). */
  address: string;
}

/** The source address the intent says `to` sees for a probe from `from`. */
async function expectedFor(
  ctx: ScenarioContext,
  from: string,
  to: string,
  probe: OracleProbe,
  port: number,
): Promise<Expected> {
  const cell = new Oracle(ctx.intent, ctx.down).cell(from, to, { ...probe, port });
  if (cell.verdict === 'drop' || cell.reply === 'drop')
    return {
      from,
      port,
      verdict: 'drop' as const,
      source: undefined,
      why: cell.reason,
      address: cell.address,
    };
  let source = ctx.endpoint(from).address;
  let why = 'not translated';
  if (cell.natSource?.startsWith('pnat:')) {
    const hv = cell.natSource.slice('pnat:'.length);
    source = (await ctx.vtepAddress(hv)) ?? `(underlay address of ${hv})`;
    why = `PNAT: the address of ${hv}`;
  } else if (cell.natSource) {
    source = cell.natSource;
    why = 'its floating IP';
  }
  return { from, port, verdict: 'reach', source, why, address: cell.address };
}

function parsePoint(text: string): { node: string; iface: string } {
  const [node = '', iface = ''] = text.split(':');
  return { node, iface };
}

function tupleOf(p: DecodedPacket): { src: string; sport: number; dst: string; dport: number } | undefined {
  const ip = p.layers.find((l) => l.layer === 'IP');
  const l4 = p.layers.find((l) => l.layer === 'UDP' || l.layer === 'TCP');
  if (!ip || !l4) return undefined;
  return { src: String(ip.src), dst: String(ip.dst), sport: Number(l4.sport), dport: Number(l4.dport) };
}

/** At the receiver: the senders' requests (for TCP the SYNs), by destination port. */
export function receiverFilter(proto: ProbeSpec['proto'], first: number, last: number): string {
  return `${proto} and dst portrange ${first}-${last}${proto === 'tcp' ? ' and tcp[tcpflags] & tcp-syn != 0' : ''}`;
}

/**
 * On a path: the requests routed, or tunnelled (inner IPv4 without options). VXLAN (RFC 7348, UDP
 * 4789): the inner L4 destination port is at byte 52 of the outer UDP header. Geneve (RFC 8926 §3.4,
 * UDP 6081, the OVN lab): the same, after the header's variable-length options (`udp[8] & 0x3f`
 * four-byte words), so a quiet point on an OVN chassis' underlay sees tunnelled probes too.
 */
export function pathFilter(proto: ProbeSpec['proto'], first: number, last: number): string {
  const geneve = 'udp[52 + (udp[8] & 0x3f) * 4:2]';
  return (
    `(${proto} and dst portrange ${first}-${last})` +
    ` or (udp dst port 4789 and udp[52:2] >= ${first} and udp[52:2] <= ${last})` +
    ` or (udp dst port 6081 and ${geneve} >= ${first} and ${geneve} <= ${last})`
  );
}

export const nat: CheckDefinition<NatCheck> = {
  kind: 'nat',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['from', 'to'],
    properties: {
      from: {
        description: 'Sender(s): a VM or outside host, or a list (NAT-5: many VMs at once).',
        anyOf: [{ type: 'string' }, { type: 'array', minItems: 1, items: { type: 'string' } }],
      },
      to: { type: 'string', description: 'The receiver, where the capture runs.' },
      probe: {
        type: 'string',
        pattern: '^(tcp|udp)/[0-9]+( sport [0-9]+)?$',
        description: 'tcp/PORT or udp/PORT (optionally `sport N`); source i probes PORT + i.',
      },
      duration: { $ref: '#/definitions/duration' },
      via: {
        description: 'node:iface points every probe must pass (at least one packet each).',
        type: 'array',
        items: { type: 'string', pattern: '^[^:]+:[^:]+$' },
      },
      quiet: {
        description:
          'node:iface points no probe may pass, routed or inside VXLAN (NAT-2: zero packets through any other node).',
        type: 'array',
        items: { type: 'string', pattern: '^[^:]+:[^:]+$' },
      },
    },
  },
  traffic: true,
  captureWindow: true,
  parse(body: Obj, base: CheckBase): NatCheck {
    const from = typeof body.from === 'string' ? [body.from] : strs(body.from);
    const probe = parseProbe((body.probe as string | undefined) ?? 'udp/7100');
    return {
      ...base,
      name: base.name || `${from.join(', ')} → ${String(body.to)}: the source address the receiver sees`,
      kind: 'nat',
      from,
      to: String(body.to),
      probe,
      durationMs: durationOr(body.duration, 2000),
      via: strs(body.via).map(parsePoint),
      quiet: strs(body.quiet).map(parsePoint),
    };
  },
  references(ctx, body, at) {
    const from = typeof body.from === 'string' ? [body.from] : strs(body.from);
    for (const [j, f] of from.entries())
      endpoint(ctx, typeof body.from === 'string' ? [...at, 'from'] : [...at, 'from', j], f);
    endpoint(ctx, [...at, 'to'], body.to);
    for (const key of ['via', 'quiet'] as const)
      for (const [j, p] of strs(body[key]).entries()) vmOrNode(ctx, [...at, key, j], parsePoint(p).node);
  },
  minimumMs: (body) => ({
    ms: durationOr(body.duration, 2000),
    why: 'it captures for its duration',
    listens: true,
  }),
  selfPolling: false,
  async evaluate(check, ctx): Promise<CheckResult> {
    const base = check.probe.port ?? 7100;
    const expected = await Promise.all(
      check.from.map((f, i) => expectedFor(ctx, f, check.to, check.probe, base + i)),
    );
    const receiver = ctx.endpoint(check.to);
    const last = base + check.from.length - 1;
    const pcap = ctx.artifactPath(`nat-${check.to}.pcap`);
    await ctx.traffic.prepare([
      receiver.target,
      ...[...check.via, ...check.quiet].map((p) => ctx.endpoint(p.node).target),
      ...check.from.map((f) => ctx.endpoint(f).target),
    ]);
    const sniff = await ctx.traffic.startSniff({
      target: receiver.target,
      iface: receiver.iface,
      filter: receiverFilter(check.probe.proto, base, last),
      timeoutMs: check.durationMs,
      pcapPath: pcap,
    });
    // The probes at every via/quiet point (pathFilter).
    const points = await Promise.all(
      [
        ...check.via.map((p) => ({ ...p, must: true })),
        ...check.quiet.map((p) => ({ ...p, must: false })),
      ].map(async (p) => {
        const file = ctx.artifactPath(`nat-${p.node}-${p.iface}.pcap`);
        const running = await ctx.traffic.startSniff({
          target: ctx.endpoint(p.node).target,
          iface: p.iface,
          filter: pathFilter(check.probe.proto, base, last),
          timeoutMs: check.durationMs,
          pcapPath: file,
        });
        return { ...p, file, running };
      }),
    );
    // One attempt per source within the capture window (the expect step retries within `within`).
    const attemptMs = Math.max(200, Math.min(attemptFor(check.durationMs / 2), check.durationMs / 2));
    const probes = await runMatrix(
      ctx.traffic,
      expected.map((e) => ({
        from: ctx.endpoint(e.from).target,
        to: { name: receiver.name, netnsPath: receiver.target.netnsPath, address: e.address },
        proto: check.probe.proto,
        port: e.port,
        ...(check.probe.sport !== undefined ? { sport: check.probe.sport } : {}),
        expected: e.verdict === 'reach' ? ('allowed' as const) : ('blocked' as const),
      })),
      { positiveDeadlineMs: attemptMs, holdMs: 200, attemptMs },
    );
    const packets = await sniff.packets;
    const tuples = packets.map(tupleOf).filter((t) => t !== undefined);
    const problems: string[] = [];
    const rows: string[] = [
      '| from | probe | expected verdict | expected source (why) | seen at the receiver | probe result |',
      '|---|---|---|---|---|---|',
    ];
    const firstSeen = new Map<string, string>();
    for (const [i, e] of expected.entries()) {
      const seen = tuples.filter((t) => t.dport === e.port);
      const cell = probes.cells[i];
      const seenText = seen.map((t) => `${t.src}:${t.sport} → ${t.dst}:${t.dport}`);
      rows.push(
        `| ${e.from} | ${check.probe.proto}/${e.port} | ${e.verdict} | ${e.source ?? '-'} (${e.why.replace(/\|/g, '\\|')}) | ${[...new Set(seenText)].join('<br>') || 'nothing'} | ${cell?.actual ?? '?'} |`,
      );
      if (e.verdict === 'drop') {
        if (seen.length)
          problems.push(`${e.from}: expected nothing at ${check.to} (${e.why}), saw ${seenText[0]}`);
        continue;
      }
      if (!seen.length) {
        problems.push(`${e.from}: nothing reached ${check.to} on ${check.probe.proto}/${e.port}`);
        continue;
      }
      const wrong = seen.filter((t) => t.src !== e.source || t.dst !== receiver.address);
      if (wrong[0])
        problems.push(
          `${e.from}: ${check.to} saw ${wrong[0].src} → ${wrong[0].dst}, expected ${e.source} (${e.why}) → ${receiver.address}`,
        );
      if (cell && cell.actual !== 'allowed')
        problems.push(
          `${e.from}: the reply did not come back (${cell.actual}${cell.probe.detail ? `: ${cell.probe.detail}` : ''})`,
        );
      for (const t of seen) {
        const key = `${t.src}:${t.sport}`;
        const owner = firstSeen.get(key);
        if (owner !== undefined && owner !== e.from)
          problems.push(
            `${e.from} and ${owner} share the tuple ${key} at ${check.to}: tuples must be unique`,
          );
        firstSeen.set(key, e.from);
      }
    }
    const counts = ['| node:iface | probes must | packets captured |', '|---|---|---|'];
    const attachments: Attachment[] = [];
    for (const p of points) {
      const n = (await p.running.packets).length;
      counts.push(`| ${p.node}:${p.iface} | ${p.must ? 'pass' : 'not pass'} | ${n} |`);
      if (p.must && n === 0) problems.push(`${p.node}:${p.iface}: the probes must pass here, captured none`);
      if (!p.must && n > 0)
        problems.push(`${p.node}:${p.iface}: the probes must not pass here, captured ${n}`);
      attachPcap(attachments, `${p.node}:${p.iface}.pcap`, p.file);
    }
    attachments.unshift({
      name: `nat tuples at ${check.to}`,
      content: rows.join('\n'),
      type: 'text/markdown',
    });
    if (points.length)
      attachments.unshift({ name: 'packets per node', content: counts.join('\n'), type: 'text/markdown' });
    ctx.record.artifact(`${check.to} nat pcap`, pcap);
    attachPcap(attachments, `${check.to}.pcap`, pcap);
    const nodes = ctx.intent.vms
      .filter((v) => check.from.includes(v.name) || v.name === check.to)
      .map((v) => v.hypervisor);
    return {
      ok: problems.length === 0,
      summary: problems.length
        ? problems.join('\n')
        : `${check.to} saw the expected sources (${probeText(check.probe)}): ${expected.map((e) => `${e.from} as ${e.source ?? 'nothing'}`).join(', ')}`,
      attachments,
      nodes: [...new Set(nodes)],
    };
  },
};
