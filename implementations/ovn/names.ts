/**
 * Names of the OVN objects and host devices the ovn driver makes for an intent. Northbound names are
 * global in OVN, so every name carries the kind of object and the intent's own name; a host device
 * name must fit IFNAMSIZ (15 bytes), so a long VM name gets a hash instead.
 */
import { createHash } from 'node:crypto';
import type { Intent } from '../../harness/scenario/intent.ts';

export interface OvnNames {
  switchOf(subnet: string): string;
  routerOf(domain: string): string;
  /** The router's port on a subnet (holds the gateway address). */
  routerPortOf(subnet: string): string;
  /** The switch's port patched to that router port. */
  switchRouterPortOf(subnet: string): string;
  /** The VM's logical switch port (= `external_ids:iface-id` of its VIF). */
  portOf(vm: string): string;
  /** The VIF's br-int side in the chassis. */
  tapOf(vm: string): string;
}

/** Names the shell and OVS accept as they are: what validate() asks of VM names. */
export const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

const IFNAMSIZ = 15;

function shortHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 8);
}

export function ovnNames(_intent: Intent): OvnNames {
  return {
    switchOf: (subnet) => `ls-${subnet}`,
    routerOf: (domain) => `lr-${domain}`,
    routerPortOf: (subnet) => `lrp-${subnet}`,
    switchRouterPortOf: (subnet) => `ls-${subnet}-lr`,
    portOf: (vm) => `vm-${vm}`,
    tapOf: (vm) => (`vif-${vm}`.length <= IFNAMSIZ ? `vif-${vm}` : `vif-${shortHash(vm)}`),
  };
}
