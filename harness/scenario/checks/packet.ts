/**
 * Packet expectations: a crafted frame goes in; at each point, the packets whose decoded layers carry
 * the `match` fields (a masked compare: fields not named are ignored) are counted against the point's
 * count (0: nothing may come out there).
 */
import type { DecodedPacket } from '../../traffic/types.ts';
import { vmOrNode } from '../refs.ts';
import type { CapturePoint, CheckBase, PacketSend } from '../types.ts';
import { arr, durationOr, type Obj } from '../values.ts';
import { countProblem, parsePoint, parseSend, sniffWhileSending } from './sniff.ts';
import { type CheckDefinition, listenMs, subsetMatches } from './types.ts';

export interface PacketCheck extends CheckBase {
  kind: 'packet';
  send: PacketSend;
  /** Where the frame must (or must not) come out. */
  at: CapturePoint[];
  /** Only packets matching these header fields count (masked compare: other fields are ignored). */
  match: Record<string, unknown>;
  durationMs: number;
}

/** `match` is `{ <Layer>: { field: value } }`; a packet matches when each named layer has those fields. */
export function packetMatches(packet: DecodedPacket, match: Record<string, unknown>): boolean {
  return Object.entries(match).every(([layer, fields]) =>
    packet.layers.some((l) => l.layer === layer && subsetMatches(l, fields ?? {})),
  );
}

/**
 * What was captured instead, for the failure message: the `match` layers' named fields of up to three
 * distinct packets ("seen: ARP op=2 psrc=192.0.2.11 hwsrc=02:00:…"), so the diff is in the message.
 */
function seenFields(packets: DecodedPacket[], match: Record<string, unknown>): string {
  const seen = new Set<string>();
  for (const p of packets) {
    const parts: string[] = [];
    for (const [layer, fields] of Object.entries(match)) {
      const l = p.layers.find((x) => x.layer === layer) as Record<string, unknown> | undefined;
      if (!l) continue;
      const names = Object.keys((fields ?? {}) as Record<string, unknown>);
      parts.push(`${layer} ${names.map((n) => `${n}=${String(l[n])}`).join(' ')}`);
    }
    if (parts.length) seen.add(parts.join(', '));
    if (seen.size >= 3) break;
  }
  return seen.size ? `; seen instead: ${[...seen].join(' | ')}` : '';
}

export const packet: CheckDefinition<PacketCheck> = {
  kind: 'packet',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['send', 'at'],
    properties: {
      send: { $ref: '#/definitions/send' },
      at: { type: 'array', minItems: 1, items: { $ref: '#/definitions/capturePoint' } },
      match: { type: 'object' },
      duration: { $ref: '#/definitions/duration' },
    },
  },
  traffic: true,
  captureWindow: true,
  parse(body, base) {
    const send = parseSend(body.send as Obj);
    return {
      ...base,
      name: base.name || `packet ${send.type} from ${send.from}`,
      kind: 'packet',
      send,
      at: arr(body.at).map(parsePoint),
      match: (body.match as Obj | undefined) ?? {},
      durationMs: durationOr(body.duration, 2000),
    };
  },
  references(ctx, body, at) {
    arr(body.at).forEach((p, j) => {
      vmOrNode(ctx, [...at, 'at', j, 'node'], p.node);
    });
    vmOrNode(ctx, [...at, 'send', 'from'], (body.send as Obj | undefined)?.from);
  },
  minimumMs: (body) => ({ ms: listenMs(body, 2000), why: 'it listens for its duration', listens: true }),
  selfPolling: false,
  async evaluate(check, ctx) {
    const { results, attachments, notReady } = await sniffWhileSending(
      ctx,
      check.at,
      check.send,
      check.durationMs,
      check.withinMs,
    );
    const problems: string[] = notReady ? [notReady] : [];
    for (const r of results) {
      const n = r.packets.filter((p) => packetMatches(p, check.match)).length;
      const problem = countProblem(
        r.point.count === undefined && r.point.min === undefined && r.point.max === undefined
          ? { ...r.point, min: 1 }
          : r.point,
        n,
      );
      if (problem) problems.push(problem + seenFields(r.packets, check.match));
    }
    return {
      ok: problems.length === 0,
      summary: problems.length === 0 ? 'packets as expected' : problems.join('\n'),
      attachments,
      nodes: [...new Set(check.at.map((p) => p.node))],
    };
  },
};
