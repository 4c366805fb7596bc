/**
 * path: the hops a chained flow takes (SVC-1, SVC-3, SVC-4). `count` connections from `from` to `to`
 * (source ports sport, sport+1, ...: each captured packet names its flow) while captures run at the
 * source, the destination and every watched appliance VM. The expected path comes from the oracle
 * (`path`, `replyPath`, from the intent's service chains), never from the implementation:
 * - every request reaches the destination, and was seen at each appliance of the path first (in
 *   order), none bypassing; a watched appliance that is not on the path sees none (SVC-3);
 * - with `direction: both`, every reply reaches the source, through the reply path's appliances in
 *   order (SVC-4).
 * The appliance is the test's: the check makes each watched VM forward (ip_forward=1, no redirects)
 * and counts what it forwards in an nftables table of its own (`inet otwin_appliance`), whose counters
 * are attached with every capture.
 */
import { Oracle } from '../../oracle/index.ts';
import type { Attachment } from '../../report/reporter.ts';
import { runMatrix } from '../../traffic/index.ts';
import type { DecodedPacket } from '../../traffic/types.ts';
import type { ScenarioContext } from '../context.ts';
import { endpoint, knownVm } from '../refs.ts';
import type { CheckBase, ProbeSpec } from '../types.ts';
import { durationOr, type Obj, parseProbe, probeText, strs } from '../values.ts';
import { attachPcap } from './sniff.ts';
import { attemptFor } from './timing.ts';
import type { CheckDefinition, CheckResult } from './types.ts';

export const APPLIANCE_TABLE = 'otwin_appliance';

export interface PathCheck extends CheckBase {
  kind: 'path';
  from: string;
  to: string;
  /** tcp or udp; flow i uses source port sport + i. */
  probe: ProbeSpec;
  count: number;
  direction: 'request' | 'both';
  /** Appliance VMs to capture at; default every `via` VM of the intent's service chains. */
  watch: string[];
  durationMs: number;
}

/**
 * What a capture point saw of the flows: per packet (its IP id and L4 checksum, unchanged by routing)
 * the highest TTL it arrived with, requests and replies apart, by flow (the source port of flow i).
 * Capture timestamps of different points are not comparable (each engine stamps what it reads), but
 * every router on the way decrements the TTL: a packet crossed hop X before hop Y when Y saw it with
 * a lower TTL.
 */
interface Seen {
  request: Map<number, Map<string, number>>;
  reply: Map<number, Map<string, number>>;
}

const SPORT_BASE = 41000;

function flowsAt(packets: DecodedPacket[], src: string, dst: string): Seen {
  const seen: Seen = { request: new Map(), reply: new Map() };
  for (const p of packets) {
    const ip = p.layers.find((l) => l.layer === 'IP');
    const l4 = p.layers.find((l) => l.layer === 'UDP' || l.layer === 'TCP');
    if (!ip || !l4) continue;
    const [from, to, sport, dport] = [String(ip.src), String(ip.dst), Number(l4.sport), Number(l4.dport)];
    const [map, flow] =
      from === src && to === dst
        ? [seen.request, sport]
        : from === dst && to === src
          ? [seen.reply, dport]
          : [];
    if (!map || flow === undefined) continue;
    const packetsOfFlow = map.get(flow) ?? new Map<string, number>();
    const key = `${String(ip.id)}/${String(l4.chksum)}`;
    packetsOfFlow.set(key, Math.max(packetsOfFlow.get(key) ?? 0, Number(ip.ttl)));
    map.set(flow, packetsOfFlow);
  }
  return seen;
}

/** The appliance's own software: forwarding on, and counters of what it forwards for this flow. */
async function prepareAppliance(ctx: ScenarioContext, vm: string, src: string, dst: string): Promise<void> {
  const { node, iface } = ctx.endpoint(vm);
  // No ICMP redirects: an appliance inside the subnet (SVC-2) forwards out of the port it received on.
  await node.exec([
    'sysctl',
    '-qw',
    'net.ipv4.ip_forward=1',
    'net.ipv4.conf.all.send_redirects=0',
    'net.ipv4.conf.default.send_redirects=0',
    `net.ipv4.conf.${iface}.send_redirects=0`,
  ]);
  const script = [
    `table inet ${APPLIANCE_TABLE}`,
    `delete table inet ${APPLIANCE_TABLE}`,
    `table inet ${APPLIANCE_TABLE} {`,
    '  chain forward {',
    '    type filter hook forward priority filter; policy accept;',
    `    ip saddr ${src} ip daddr ${dst} counter comment "request"`,
    `    ip saddr ${dst} ip daddr ${src} counter comment "reply"`,
    '    counter comment "forwarded"',
    '  }',
    '}',
    '',
  ].join('\n');
  await node.exec(['nft', '-f', '-'], { input: script });
}

interface NftCounterRule {
  rule?: { comment?: string; expr?: Array<{ counter?: { packets: number; bytes: number } }> };
}

async function applianceCounters(ctx: ScenarioContext, vm: string): Promise<Record<string, number>> {
  const r = await ctx.endpoint(vm).node.exec(['nft', '-j', 'list', 'table', 'inet', APPLIANCE_TABLE]);
  const out: Record<string, number> = {};
  if (r.exitCode !== 0) return out;
  for (const item of (JSON.parse(r.stdout) as { nftables?: NftCounterRule[] }).nftables ?? []) {
    const counter = item.rule?.expr?.find((e) => e.counter)?.counter;
    if (item.rule?.comment && counter) out[item.rule.comment] = counter.packets;
  }
  return out;
}

/**
 * One direction of one flow: every packet that reached the leg's end was seen at each hop of the path,
 * with a higher TTL at each earlier hop (in order); a watched appliance off the path saw none.
 */
export function legProblems(
  leg: { what: 'request' | 'reply'; hops: string[]; from: string; to: string },
  flow: number,
  at: (name: string) => Seen,
  watch: string[],
): string[] {
  const expected = [leg.from, ...leg.hops, leg.to].join(' → ');
  const arrived = at(leg.to)[leg.what].get(flow);
  if (!arrived?.size) return [`flow ${flow}: no ${leg.what} reached ${leg.to}`];
  const problems: string[] = [];
  for (const [key, ttl] of arrived) {
    let later = { name: leg.to, ttl };
    for (const hop of [...leg.hops].reverse()) {
      const hopTtl = at(hop)[leg.what].get(flow)?.get(key);
      if (hopTtl === undefined) {
        problems.push(
          `flow ${flow}: a ${leg.what} reached ${leg.to} without crossing the appliance ${hop} (bypass; expected ${expected})`,
        );
        return problems;
      }
      if (hopTtl > later.ttl) {
        later = { name: hop, ttl: hopTtl };
        continue;
      }
      problems.push(
        `flow ${flow}: a ${leg.what} was at ${hop} with TTL ${hopTtl}, not before ${later.name} (TTL ${later.ttl}): out of order (expected ${expected})`,
      );
      return problems;
    }
  }
  for (const vm of watch)
    if (!leg.hops.includes(vm) && at(vm)[leg.what].get(flow)?.size)
      problems.push(`flow ${flow}: the ${leg.what} crossed ${vm}, which is not on its path (${expected})`);
  return problems;
}

export const path: CheckDefinition<PathCheck> = {
  kind: 'path',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['from', 'to'],
    properties: {
      from: { type: 'string', description: 'The VM that opens the flows.' },
      to: { type: 'string', description: 'The VM that receives them.' },
      probe: {
        type: 'string',
        pattern: '^(tcp|udp)/[0-9]+$',
        description: 'tcp/PORT or udp/PORT; flow i is sent from source port 41000 + i.',
      },
      count: { type: 'integer', minimum: 1, maximum: 50, description: 'Flows (default 5).' },
      direction: {
        enum: ['request', 'both'],
        description:
          'request: the requests take the path; both: the replies take the reply path too (SVC-4).',
      },
      watch: {
        type: 'array',
        items: { type: 'string' },
        description: "Appliance VMs to capture at (default: every chain's `via` VM).",
      },
      duration: { $ref: '#/definitions/duration' },
    },
  },
  traffic: true,
  captureWindow: true,
  parse(body: Obj, base: CheckBase): PathCheck {
    const probe = parseProbe((body.probe as string | undefined) ?? 'udp/7300');
    const direction = (body.direction as PathCheck['direction'] | undefined) ?? 'request';
    return {
      ...base,
      name:
        base.name || `${String(body.from)} → ${String(body.to)} (${probeText(probe)}): the path of each flow`,
      kind: 'path',
      from: String(body.from),
      to: String(body.to),
      probe,
      count: (body.count as number | undefined) ?? 5,
      direction,
      watch: strs(body.watch),
      durationMs: durationOr(body.duration, 3000),
    };
  },
  references(ctx, body, at) {
    knownVm(ctx, [...at, 'from'], body.from);
    endpoint(ctx, [...at, 'to'], body.to);
    for (const [j, vm] of strs(body.watch).entries()) knownVm(ctx, [...at, 'watch', j], vm);
  },
  minimumMs: (body) => ({
    ms: durationOr(body.duration, 3000),
    why: 'it captures for its duration',
    listens: true,
  }),
  selfPolling: false,
  async evaluate(check, ctx): Promise<CheckResult> {
    const cell = new Oracle(ctx.intent, ctx.down).cell(check.from, check.to, check.probe);
    const watch = check.watch.length
      ? check.watch
      : [...new Set(ctx.intent.serviceChains.flatMap((c) => [...c.via, ...c.standby]))];
    const requestHops = cell.path.slice(1, -1);
    const replyHops = cell.replyPath.slice(1, -1);
    const src = ctx.endpoint(check.from);
    const dst = ctx.endpoint(check.to);
    const dstAddress = cell.address || dst.address;
    // A watched VM that a fault took down (SVC-5's failed appliance) has no interface to capture on:
    // it sees nothing, which is what the path check then holds it to.
    const live = watch.filter((vm) => !ctx.down.has(vm));
    for (const vm of live) await prepareAppliance(ctx, vm, src.address, dstAddress);
    const port = check.probe.port ?? 7300;
    const filter = `${check.probe.proto} and host ${src.address} and host ${dstAddress} and port ${port}`;
    await ctx.traffic.prepare([check.from, ...watch, check.to].map((name) => ctx.endpoint(name).target));
    const points = await Promise.all(
      [check.from, ...live, check.to].map(async (name) => {
        const ep = ctx.endpoint(name);
        const file = ctx.artifactPath(`path-${name}.pcap`);
        const sniff = await ctx.traffic.startSniff({
          target: ep.target,
          iface: ep.iface,
          filter,
          timeoutMs: check.durationMs,
          pcapPath: file,
        });
        return { name, file, sniff };
      }),
    );
    const attemptMs = Math.max(200, Math.min(attemptFor(check.durationMs / 2), check.durationMs / 2));
    const flows = Array.from({ length: check.count }, (_, i) => SPORT_BASE + i);
    const probes = await runMatrix(
      ctx.traffic,
      flows.map((sport) => ({
        from: src.target,
        to: { name: dst.name, netnsPath: dst.target.netnsPath, address: dstAddress },
        proto: check.probe.proto,
        port,
        sport,
        expected: cell.verdict === 'reach' ? ('allowed' as const) : ('blocked' as const),
      })),
      { positiveDeadlineMs: attemptMs, holdMs: 200, attemptMs },
    );
    const seen = new Map<string, Seen>();
    const attachments: Attachment[] = [];
    for (const p of points) {
      seen.set(p.name, flowsAt(await p.sniff.packets, src.address, dstAddress));
      ctx.record.artifact(`${p.name} path pcap`, p.file);
      attachPcap(attachments, `${p.name}.pcap`, p.file);
    }
    const at = (name: string): Seen => seen.get(name) ?? { request: new Map(), reply: new Map() };
    const problems: string[] = [];
    const rows = [
      `| flow (sport) | request packets at ${[check.from, ...watch, check.to].join(' / ')} | reply packets at ${[check.to, ...watch, check.from].join(' / ')} | probe result |`,
      '|---|---|---|---|',
    ];
    const mark = (m: Map<number, Map<string, number>>, flow: number) => `${m.get(flow)?.size ?? 0}`;
    for (const [i, flow] of flows.entries()) {
      const result = probes.cells[i];
      rows.push(
        `| ${flow} | ${[check.from, ...watch, check.to].map((n) => mark(at(n).request, flow)).join(' / ')} | ${[check.to, ...watch, check.from].map((n) => mark(at(n).reply, flow)).join(' / ')} | ${result?.actual ?? '?'} |`,
      );
      if (cell.verdict === 'drop') {
        if (at(check.to).request.has(flow))
          problems.push(`flow ${flow}: reached ${check.to}, expected a drop (${cell.reason})`);
        continue;
      }
      const legs: Array<{ what: 'request' | 'reply'; hops: string[]; from: string; to: string }> = [
        { what: 'request', hops: requestHops, from: check.from, to: check.to },
      ];
      if (check.direction === 'both')
        legs.push({ what: 'reply', hops: replyHops, from: check.to, to: check.from });
      for (const leg of legs) problems.push(...legProblems(leg, flow, at, watch));
    }
    const counters = ['| appliance | request | reply | forwarded (all) |', '|---|---|---|---|'];
    for (const vm of watch) {
      const c = ctx.down.has(vm) ? {} : await applianceCounters(ctx, vm);
      counters.push(`| ${vm} | ${c.request ?? '?'} | ${c.reply ?? '?'} | ${c.forwarded ?? '?'} |`);
    }
    attachments.unshift(
      { name: 'flows per capture point', content: rows.join('\n'), type: 'text/markdown' },
      { name: 'appliance counters (nftables)', content: counters.join('\n'), type: 'text/markdown' },
    );
    const expectedPath = `${cell.path.join(' → ')}${check.direction === 'both' ? `, replies ${cell.replyPath.join(' → ')}` : ''}`;
    const nodes = ctx.intent.vms
      .filter((v) => v.name === check.from || v.name === check.to || watch.includes(v.name))
      .map((v) => v.hypervisor);
    return {
      ok: problems.length === 0,
      summary: problems.length
        ? `expected ${expectedPath} (${cell.reason}):\n${[...new Set(problems)].slice(0, 12).join('\n')}`
        : `${check.count} flow(s) ${probeText(check.probe)} took ${expectedPath}`,
      attachments,
      nodes: [...new Set(nodes)],
    };
  },
};
