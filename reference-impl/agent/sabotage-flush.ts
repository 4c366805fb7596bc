/**
 * TEST-ONLY: the agent half of the `flush-on-restart` sabotage (reference-impl/sabotage.ts). A naive
 * agent tears its datapath down when it starts — every router namespace with its bridges, VXLAN
 * devices and VM ports (the VM namespaces themselves stay) — and rebuilds it from the controller's
 * sync: the flush-then-rebuild gap AZ-4 must catch. Never used otherwise.
 */
import type { Kernel } from './kernel.ts';
import { cloneModel } from './model.ts';
import { noExtras, plan } from './plan.ts';

export async function flushDatapath(kernel: Kernel): Promise<string[]> {
  const { model } = await kernel.read();
  const flushed = cloneModel(model);
  flushed.domains.clear();
  return kernel.apply(plan(flushed, model, noExtras()));
}
