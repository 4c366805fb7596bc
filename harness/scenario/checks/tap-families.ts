/**
 * The families a lab node's BGP tap negotiates, from its label `otwin.bgp-tap.families` (comma-separated
 * `evpn`, `vpnv4`; default `evpn`). Kept apart from routes-tap.ts so scenario validation can read the
 * label without loading the BGP speaker.
 */
import type { Family } from '../../bgp/types.ts';
import { HarnessError } from '../../util/errors.ts';

export const TAP_FAMILIES_LABEL = 'otwin.bgp-tap.families';

/** The names the label takes, and the family each stands for. */
export const TAP_FAMILY_NAMES: Readonly<Record<string, Family>> = {
  evpn: 'l2vpn-evpn',
  vpnv4: 'ipv4-vpn',
};

/** The families of an `otwin.bgp-tap.families` label value (`evpn,vpnv4`); EVPN when absent. */
export function tapFamiliesOf(node: string, label: string | undefined): Family[] {
  if (label === undefined || label.trim() === '') return ['l2vpn-evpn'];
  const families: Family[] = [];
  for (const name of label.split(',').map((n) => n.trim().toLowerCase())) {
    const family = TAP_FAMILY_NAMES[name];
    if (!family)
      throw new HarnessError(
        `node ${node}: label ${TAP_FAMILIES_LABEL} names '${name}'; use a comma-separated list of ${Object.keys(TAP_FAMILY_NAMES).join(', ')}`,
      );
    if (!families.includes(family)) families.push(family);
  }
  return families;
}
