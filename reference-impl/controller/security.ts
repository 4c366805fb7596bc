/**
 * Security groups in the controller: the secgroup BGP extended community that carries a VM's group
 * ids on its EVPN type-2 route (sg-contract item 1), and the translation of the directory's rules
 * into the agents' `rule` entries.
 *
 * Wire encoding (Tungsten Fabric's security-group community): type 0x80 (experimental,
 * transitive), sub-type 0x04, the originating controller's 2-octet AS number, the 4-octet group id.
 * Text form `secgroup:<asn>:<id>`. The BGP codec has no name for it, so it travels as a `raw` community;
 * a codec that learns to decode it by name is read too (any `{asn, id}` shape with type `secgroup`).
 */
import type { ExtCommunity } from '../../harness/bgp/index.ts';
import type { Domain, SecurityGroup, SecurityRule } from '../directory/model.ts';
import type { RuleEntry, RulePeer } from '../protocol/messages.ts';

const SECGROUP_TYPE = 0x80;
const SECGROUP_SUBTYPE = 0x04;
/** RFC 6793 AS_TRANS: the 2-octet stand-in for a 4-octet AS number. */
const AS_TRANS = 23456;

export function secgroupCommunity(asn: number, sgid: number): ExtCommunity {
  const as2 = asn > 0xffff ? AS_TRANS : asn;
  const hex = [
    SECGROUP_TYPE.toString(16).padStart(2, '0'),
    SECGROUP_SUBTYPE.toString(16).padStart(2, '0'),
    as2.toString(16).padStart(4, '0'),
    (sgid >>> 0).toString(16).padStart(8, '0'),
  ].join('');
  return { type: 'raw', hex };
}

/** The group ids of a route's secgroup communities, sorted and without duplicates. */
export function secgroupIds(communities: readonly ExtCommunity[] | undefined): number[] {
  const ids = new Set<number>();
  for (const c of communities ?? []) {
    if (c.type === 'raw') {
      const hex = c.hex.toLowerCase();
      if (hex.length === 16 && hex.startsWith('8004')) ids.add(Number.parseInt(hex.slice(8), 16));
      continue;
    }
    const named = c as unknown as { type: string; id?: unknown };
    if (named.type === 'secgroup' && typeof named.id === 'number') ids.add(named.id);
  }
  return [...ids].sort((a, b) => a - b);
}

/** A group's rules apply in its domain, or in every domain of its tenant when it has none. */
export function groupAppliesTo(group: SecurityGroup, domain: Domain): boolean {
  return group.domain != null ? group.domain === domain.id : group.tenant === domain.tenant;
}

/**
 * The `rule` entries of a domain: every rule of a group that applies there. An ingress rule of group
 * G allows remote → G; an egress rule allows G → remote (remote = remoteGroup, remotePrefix, or anyone).
 */
export function ruleEntriesFor(
  domain: Domain,
  groups: ReadonlyMap<string, SecurityGroup>,
  rules: Iterable<SecurityRule>,
  stateless = false,
): RuleEntry[] {
  const out: RuleEntry[] = [];
  for (const rule of rules) {
    const owner = groups.get(rule.securityGroup);
    if (!owner || !groupAppliesTo(owner, domain)) continue;
    let remote: RulePeer = { kind: 'any' };
    if (rule.remoteGroup != null) {
      const g = groups.get(rule.remoteGroup);
      if (!g) continue;
      remote = { kind: 'group', sgid: g.sgid };
    } else if (rule.remotePrefix != null) remote = { kind: 'cidr', cidr: rule.remotePrefix };
    const members: RulePeer = { kind: 'group', sgid: owner.sgid };
    const ported = rule.protocol === 'tcp' || rule.protocol === 'udp';
    const ports: [number, number] | undefined =
      ported && (rule.portMin != null || rule.portMax != null)
        ? [rule.portMin ?? 1, rule.portMax ?? rule.portMin ?? 65535]
        : undefined;
    out.push({
      kind: 'rule',
      id: rule.id,
      domain: domain.id,
      from: rule.direction === 'ingress' ? remote : members,
      to: rule.direction === 'ingress' ? members : remote,
      proto: rule.protocol,
      ...(ports ? { ports } : {}),
      ...(stateless ? { stateless } : {}),
    });
  }
  return out;
}
