/**
 * vm-kill: a VM stops answering, like a crashed or powered-off guest (SVC-5's failed appliance). Its
 * interface goes down inside the VM, so the VM neither sends nor receives; the control plane is not
 * told (its vport stays), so only a datapath liveness probe can notice. The oracle treats the VM as
 * down until the revert brings its interface back.
 */
import { HarnessError } from '../../util/errors.ts';
import type { ScenarioContext } from '../context.ts';
import { knownVm } from '../refs.ts';
import { type FaultDefinition, forDuration } from './types.ts';

export interface VmKillFault {
  kind: 'vm-kill';
  vm: string;
  durationMs: number | undefined;
}

async function setVmLink(ctx: ScenarioContext, vm: string, state: 'up' | 'down'): Promise<void> {
  const { node, iface } = ctx.endpoint(vm);
  const r = await node.exec(['ip', 'link', 'set', iface, state]);
  if (r.exitCode !== 0) throw new HarnessError(`VM ${vm}: ip link set ${iface} ${state}: ${r.stderr.trim()}`);
  if (state === 'down') ctx.down.add(vm);
  else ctx.down.delete(vm);
}

export const vmKill: FaultDefinition<VmKillFault> = {
  kind: 'vm-kill',
  required: ['vm'],
  optional: [],
  properties: {
    vm: { type: 'string', description: 'The VM that stops answering (its interface goes down).' },
  },
  duration: true,
  chaos: false,
  undoes: false,
  parse: (raw, durationMs) => ({ kind: 'vm-kill', vm: String(raw.vm), durationMs }),
  references: (ctx, raw, path) => knownVm(ctx, [...path, 'vm'], raw.vm),
  describe: (f) => `vm-kill ${f.vm}${forDuration(f)}`,
  target: (f) => `vm:${f.vm}`,
  async apply(fault, ctx) {
    await setVmLink(ctx, fault.vm, 'down');
    return () => setVmLink(ctx, fault.vm, 'up');
  },
};
