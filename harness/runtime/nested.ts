/**
 * A named network namespace inside a node (a VM's namespace on a hypervisor node) reached through
 * that node: `ip netns exec` run by the node's own exec, so it works wherever the node's does.
 */
import type { LabNode } from './runtime.ts';

/** The `interactive` and `within` members of a LabNode for namespace `ns` inside `host`. */
export function nestedIn(host: LabNode, ns: string): Pick<LabNode, 'interactive' | 'within'> {
  const enter = host.interactive?.bind(host);
  return {
    within: { node: host, netnsPath: `/run/netns/${ns}` },
    ...(enter
      ? { interactive: (argv: readonly string[]) => enter(['ip', 'netns', 'exec', ns, ...argv]) }
      : {}),
  };
}
