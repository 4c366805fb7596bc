/**
 * Gateway MAC (L3-2): each VM ARPs for its subnet's gateway and must be answered; every answer, from
 * every hypervisor, must carry one and the same MAC — whatever its value, which comes from no
 * implementation. The MAC each VM learned is kept as its ARP cache: `dstMac: gateway` in a later send
 * (L3-3: a moved VM keeps using it) stands for it.
 */
import type { Attachment } from '../../report/reporter.ts';
import { IntentIndex } from '../intent.ts';
import { knownVm } from '../refs.ts';
import type { CheckBase } from '../types.ts';
import { durationOr, strs } from '../values.ts';
import { sniffWhileSending } from './sniff.ts';
import { type CheckDefinition, listenMs } from './types.ts';

/**
 * L3-2: the VMs in `from` ARP for their subnet's gateway; each must be answered, and every answer
 * carry one and the same MAC, whatever its value (what the MAC is comes from no implementation).
 */
export interface GatewayCheck extends CheckBase {
  kind: 'gateway';
  from: string[];
  durationMs: number;
}

export const gateway: CheckDefinition<GatewayCheck> = {
  kind: 'gateway',
  schema: {
    description:
      "L3-2: each VM in `from` ARPs for its subnet's gateway; every one is answered, all with one MAC (whatever its value). The MAC each VM learned stands for `dstMac: gateway` in later sends (a VM's ARP cache).",
    type: 'object',
    additionalProperties: false,
    required: ['from'],
    properties: {
      from: { type: 'array', minItems: 1, items: { $ref: '#/definitions/name' } },
      duration: { $ref: '#/definitions/duration' },
    },
  },
  traffic: true,
  parse(body, base) {
    const from = (body.from as string[] | undefined) ?? [];
    return {
      ...base,
      name:
        base.name ||
        `${from.join(', ')} ${from.length === 1 ? 'resolves its' : 'resolve their'} gateway to one MAC`,
      kind: 'gateway',
      from,
      durationMs: durationOr(body.duration, 1000),
    };
  },
  references(ctx, body, at) {
    strs(body.from).forEach((vm, j) => {
      knownVm(ctx, [...at, 'from', j], vm);
    });
  },
  minimumMs(body) {
    const vms = Math.max(1, strs(body.from).length);
    return {
      ms: listenMs(body, 1000) * vms,
      why: `it listens for its duration from each of ${vms} VM(s) in turn`,
      listens: true,
    };
  },
  selfPolling: false,
  async evaluate(check, ctx) {
    const index = new IntentIndex(ctx.intent);
    const problems: string[] = [];
    const attachments: Attachment[] = [];
    const learned = new Map<string, string>();
    for (const name of check.from) {
      const vm = index.vm(name);
      const gw = index.subnetOf(vm).gateway;
      if (!gw) {
        problems.push(`${name}: subnet ${vm.subnet} has no gateway`);
        continue;
      }
      const ep = ctx.endpoint(name);
      const sniffed = await sniffWhileSending(
        ctx,
        [{ node: name, iface: ep.iface, filter: 'arp', count: undefined, min: 1, max: undefined }],
        {
          from: name,
          iface: undefined,
          type: 'arp',
          dst: gw,
          dstMac: undefined,
          port: undefined,
          count: 1,
          hex: undefined,
        },
        check.durationMs,
        check.withinMs,
      );
      attachments.push(...sniffed.attachments);
      if (sniffed.notReady) {
        problems.push(`${name}: ${sniffed.notReady}`);
        continue;
      }
      const macs = new Set<string>();
      for (const p of sniffed.results.flatMap((r) => r.packets)) {
        const arp = p.layers.find((l) => l.layer === 'ARP') as Record<string, unknown> | undefined;
        if (arp?.op === 2 && arp.psrc === gw && typeof arp.hwsrc === 'string')
          macs.add(arp.hwsrc.toLowerCase());
      }
      if (macs.size === 0) problems.push(`${name} (${vm.hypervisor}): no ARP reply for its gateway ${gw}`);
      else if (macs.size > 1)
        problems.push(
          `${name} (${vm.hypervisor}): its gateway ${gw} answered with ${macs.size} MACs: ${[...macs].join(', ')}`,
        );
      else learned.set(name, [...macs][0]!);
    }
    const distinct = new Set(learned.values());
    if (distinct.size > 1)
      problems.push(
        `the gateway answers with different MACs on different hypervisors: ${[...learned]
          .map(([vm, mac]) => `${vm} (${index.vm(vm).hypervisor}) ${mac}`)
          .join(', ')}`,
      );
    if (problems.length === 0) for (const [vm, mac] of learned) ctx.gatewayMacs.set(vm, mac);
    return {
      ok: problems.length === 0,
      summary:
        problems.length === 0
          ? `${check.from.join(', ')} resolved the gateway to ${[...distinct][0]}`
          : problems.join('\n'),
      attachments,
      nodes: [...new Set(check.from.map((n) => index.vm(n).hypervisor))],
    };
  },
};
