/**
 * The reference driver's service-chaining side (docs/service-chaining.md): intent service chains as
 * directory redirection targets. A chain's `from`/`to` (a VM, a group or `any`) become source and
 * destination prefixes: one target per (source VM, destination VM, port range), /32 each, or no prefix
 * for `any`. The appliance is the chain's first `via` VM (the reference steers to one appliance), its
 * standby the chain's first `standby` VM (SVC-5).
 */
import { type Intent, IntentIndex } from '../harness/scenario/intent.ts';
import { domainIdOf, slug } from './driver-security.ts';

export interface DirectoryRedirection {
  id: string;
  domain: string;
  name: string;
  mode: 'l2' | 'l3';
  vport: string | null;
  standbyVport: string | null;
  sourcePrefix: string | null;
  destinationPrefix: string | null;
  protocol: 'any' | 'tcp' | 'udp' | 'icmp';
  portMin: number | null;
  portMax: number | null;
}

/** Prefixes a chain side selects: each member VM's /32, or null (any) for `any`. */
function prefixes(intent: Intent, selector: string): Array<string | null> {
  if (selector === 'any') return [null];
  return intent.vms
    .filter((vm) => vm.name === selector || vm.groups.includes(selector))
    .map((vm) => `${vm.ip}/32`);
}

/** The directory's redirection targets for an intent; `attached(vm)` says whether the appliance has a vport. */
export function redirectionObjects(
  intent: Intent,
  attached: (vm: string) => boolean,
): DirectoryRedirection[] {
  const index = new IntentIndex(intent);
  const out: DirectoryRedirection[] = [];
  for (const chain of intent.serviceChains) {
    const appliance = index.vms.get(chain.via[0] ?? '');
    if (!appliance) continue;
    const standby = index.vms.get(chain.standby[0] ?? '');
    const domain = index.domainOf(appliance);
    const ranges: Array<[number, number] | undefined> =
      chain.ports.length && (chain.proto === 'tcp' || chain.proto === 'udp') ? chain.ports : [undefined];
    let n = 0;
    for (const src of prefixes(intent, chain.from))
      for (const dst of prefixes(intent, chain.to))
        for (const range of ranges) {
          const name = `${chain.name}-${n++}`;
          out.push({
            id: slug(`svc-${domain.name}-${name}`),
            domain: domainIdOf(domain.tenant, domain.name),
            name,
            mode: chain.mode,
            vport: attached(appliance.name) ? slug(appliance.name) : null,
            standbyVport: standby && attached(standby.name) ? slug(standby.name) : null,
            sourcePrefix: src,
            destinationPrefix: dst,
            protocol: chain.proto,
            portMin: range ? range[0] : null,
            portMax: range ? range[1] : null,
          });
        }
  }
  return out;
}
