/**
 * A named network namespace inside a node (a VM's namespace on a hypervisor node) reached through
 * that node: `ip netns exec` run by the node's own exec, so it works wherever the node's does.
 */
import type { LabNode } from './runtime.ts';

/** The `interactive` member of a LabNode for namespace `ns` inside `host` (none if the host has none). */
export function nestedInteractive(host: LabNode, ns: string): Pick<LabNode, 'interactive'> {
  const enter = host.interactive?.bind(host);
  return enter ? { interactive: (argv) => enter(['ip', 'netns', 'exec', ns, ...argv]) } : {};
}
