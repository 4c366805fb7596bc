/**
 * The reference driver's security-group side: intent groups and rules as directory objects, group
 * membership of vports, the implementation's group ids (directory `sgid`s) and a hypervisor's
 * security datapath read back from nftables (sg-contract items 2, 3 and 7).
 *
 * An intent rule `from → to` is a directory rule of the `to` group (ingress, remote = `from`) when
 * `to` is a group, else of the `from` group (egress, remote = `to`); one directory rule per port range.
 * A group's domain is its intent domain, else the one domain of the VMs in it or of the rules naming
 * it (a group spread over several domains applies tenant-wide).
 */
import { createHash } from 'node:crypto';
import type { LabNode } from '../harness/runtime/runtime.ts';
import { type Intent, isCidr } from '../harness/scenario/intent.ts';
import { HarnessError } from '../harness/util/errors.ts';
import { SG_GUARD_TABLE, SG_RULES_CHAIN, SG_TABLE } from './agent/security.ts';
import { formatIPv4, parseCidr4 } from './protocol/addr.ts';

export const slug = (s: string) =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9._-]/g, '-')
    .replace(/^[^a-z0-9]+/, '')
    .slice(0, 63) || 'x';

export const domainIdOf = (tenant: string, domain: string) => slug(`${tenant}.${domain}`);

export interface DirectoryGroup {
  id: string;
  tenant: string;
  name: string;
  domain: string | null;
}

export interface DirectoryRule {
  id: string;
  securityGroup: string;
  direction: 'ingress' | 'egress';
  protocol: 'any' | 'tcp' | 'udp' | 'icmp';
  portMin?: number;
  portMax?: number;
  remoteGroup?: string;
  remotePrefix?: string;
}

const isGroup = (side: string) => side !== 'any' && !isCidr(side);

/** The domain (intent name) of each group, or undefined when it spans several (tenant-wide). */
function groupDomains(intent: Intent): Map<string, string | undefined> {
  const seen = new Map<string, Set<string>>();
  const note = (group: string, domain: string | undefined) => {
    if (!domain) return;
    const set = seen.get(group) ?? new Set<string>();
    seen.set(group, set.add(domain));
  };
  const subnetDomain = new Map(intent.subnets.map((s) => [s.name, s.domain]));
  for (const vm of intent.vms) for (const g of vm.groups) note(g, subnetDomain.get(vm.subnet));
  for (const r of intent.rules) for (const side of [r.from, r.to]) if (isGroup(side)) note(side, r.domain);
  const out = new Map<string, string | undefined>();
  for (const g of intent.groups) {
    const found = seen.get(g.name);
    out.set(g.name, g.domain ?? (found?.size === 1 ? [...found][0] : undefined));
  }
  return out;
}

/** Directory ids of the intent's groups, by name (the tenant is part of the id: names are per tenant). */
export function groupIds(intent: Intent): Map<string, string> {
  const domains = groupDomains(intent);
  const tenantOfDomain = new Map(intent.domains.map((d) => [d.name, d.tenant]));
  const out = new Map<string, string>();
  for (const g of intent.groups) {
    const domain = domains.get(g.name);
    const tenant =
      (domain ? tenantOfDomain.get(domain) : undefined) ??
      (intent.tenants.length === 1 ? intent.tenants[0]?.name : undefined);
    if (!tenant)
      throw new HarnessError(
        `security group ${g.name}: cannot tell its tenant (give it a domain, or put a VM in it)`,
      );
    out.set(g.name, slug(`sg.${tenant}.${g.name}`));
  }
  return out;
}

/** The directory objects for the intent's groups and rules. */
export function securityObjects(intent: Intent): { groups: DirectoryGroup[]; rules: DirectoryRule[] } {
  const ids = groupIds(intent);
  const domains = groupDomains(intent);
  const tenantOfDomain = new Map(intent.domains.map((d) => [d.name, d.tenant]));
  const groups: DirectoryGroup[] = intent.groups.map((g) => {
    const domain = domains.get(g.name);
    const id = ids.get(g.name) as string;
    const tenant = domain ? (tenantOfDomain.get(domain) as string) : (intent.tenants[0]?.name as string);
    return {
      id,
      tenant: slug(tenant),
      name: g.name,
      domain: domain ? domainIdOf(tenant, domain) : null,
    };
  });
  const groupId = (name: string) => {
    const id = ids.get(name);
    if (!id) throw new HarnessError(`security rule names group ${name}, which the intent does not declare`);
    return id;
  };
  const rules: DirectoryRule[] = [];
  for (const r of intent.rules) {
    const ingress = isGroup(r.to);
    if (!ingress && !isGroup(r.from))
      throw new HarnessError(
        `security rule ${r.from} → ${r.to}: the reference implementation attaches rules to a group; name a group on one side`,
      );
    const owner = groupId(ingress ? r.to : r.from);
    const remote = ingress ? r.from : r.to;
    const ported = r.proto === 'tcp' || r.proto === 'udp';
    const ranges: Array<[number, number] | undefined> = ported && r.ports.length ? r.ports : [undefined];
    for (const range of ranges) {
      const body: Omit<DirectoryRule, 'id'> = {
        securityGroup: owner,
        direction: ingress ? 'ingress' : 'egress',
        protocol: r.proto,
        ...(range ? { portMin: range[0], portMax: range[1] } : {}),
        ...(remote === 'any'
          ? {}
          : isCidr(remote)
            ? { remotePrefix: remote }
            : { remoteGroup: groupId(remote) }),
      };
      const id = `r-${createHash('sha256').update(JSON.stringify(body)).digest('hex').slice(0, 16)}`;
      if (!rules.some((x) => x.id === id)) rules.push({ id, ...body });
    }
  }
  return { groups, rules };
}

/** What a hypervisor has installed for security groups (sg-contract item 3). */
export interface SecurityDatapathCounts {
  aclEntries: number;
  memberElements: number;
  excerpt?: string;
}

interface NftTableJson {
  nftables?: Array<{ set?: { name: string; elem?: unknown[] }; rule?: { chain: string } }>;
}

/**
 * Reads the security tables of this lab's router namespaces on one hypervisor: ACL entries = rules
 * of the rules chain, member elements = elements of the group sets (the anti-spoofing bindings are
 * per local port, not per member, and are not counted). `nsPrefix` is `<agent prefix><hv>-d-`.
 */
export async function readSecurityDatapath(node: LabNode, nsPrefix: string): Promise<SecurityDatapathCounts> {
  if (!/^[A-Za-z0-9._-]+$/.test(nsPrefix)) throw new HarnessError(`unexpected namespace prefix ${nsPrefix}`);
  const script = [
    `for f in /run/netns/${nsPrefix}*; do [ -e "$f" ] || continue; n=$(basename "$f");`,
    `echo "@@ns $n"; ip netns exec "$n" nft -j list table inet ${SG_TABLE} 2>/dev/null; echo;`,
    'done',
  ].join(' ');
  const r = await node.exec(['sh', '-c', script]);
  let aclEntries = 0;
  let memberElements = 0;
  const excerpt: string[] = [];
  for (const block of r.stdout.split('@@ns ').slice(1)) {
    const nl = block.indexOf('\n');
    const ns = block.slice(0, nl);
    const json = block.slice(nl + 1).trim();
    if (!json) continue;
    const items = (JSON.parse(json) as NftTableJson).nftables ?? [];
    const rules = items.filter((i) => i.rule?.chain === SG_RULES_CHAIN).length;
    const sets = items.flatMap((i) => (i.set ? [i.set] : []));
    const elements = sets.reduce((n, s) => n + (s.elem?.length ?? 0), 0);
    aclEntries += rules;
    memberElements += elements;
    excerpt.push(
      `${ns}: table inet ${SG_TABLE}: ${rules} rule(s) in ${SG_RULES_CHAIN}; sets ${sets
        .map((s) => `${s.name}(${s.elem?.length ?? 0})`)
        .join(', ')}; anti-spoofing in table bridge ${SG_GUARD_TABLE}`,
    );
  }
  return { aclEntries, memberElements, excerpt: excerpt.join('\n') };
}

/** Address-only members wanted for a group (sg-contract item 7, see ReferenceDriver.setBulkMembers). */
export interface BulkMembers {
  group: string;
  count: number;
  /** Intent subnet the addresses come from (from the top of its prefix down). */
  subnet: string;
  /** Addresses to skip from the top first (so two groups' members in one subnet do not overlap). */
  offset?: number | undefined;
  /** Intent hypervisor that announces them (default: that of the first VM in the subnet's domain). */
  hypervisor?: string | undefined;
}

export function bulkHypervisor(intent: Intent, bulk: BulkMembers): string {
  if (bulk.hypervisor) return bulk.hypervisor;
  const domain = intent.subnets.find((s) => s.name === bulk.subnet)?.domain;
  const inDomain = new Set(intent.subnets.filter((s) => s.domain === domain).map((s) => s.name));
  const vm = intent.vms.find((v) => inDomain.has(v.subnet)) ?? intent.vms[0];
  if (!vm) throw new HarnessError(`bulk members of ${bulk.group}: no VM, so no hypervisor to announce them`);
  return vm.hypervisor;
}

export function bulkMemberVports(
  intent: Intent,
  bulk: BulkMembers,
  groupId: string,
  hypervisorId: string,
): Array<Record<string, unknown> & { id: string }> {
  const subnet = intent.subnets.find((s) => s.name === bulk.subnet);
  if (!subnet) throw new HarnessError(`bulk members of ${bulk.group}: unknown subnet ${bulk.subnet}`);
  const cidr = parseCidr4(subnet.cidr);
  if (!cidr) throw new HarnessError(`bulk members: ${subnet.cidr} is not an IPv4 prefix`);
  const taken = new Set([...intent.vms.map((v) => v.ip), subnet.gateway ?? formatIPv4(cidr.network + 1)]);
  const broadcast = cidr.network + 2 ** (32 - cidr.length) - 1;
  const out: Array<Record<string, unknown> & { id: string }> = [];
  let skip = bulk.offset ?? 0;
  for (let a = broadcast - 1; a > cidr.network + 1 && out.length < bulk.count; a--) {
    const ip = formatIPv4(a);
    if (taken.has(ip)) continue;
    if (skip > 0) {
      skip--;
      continue;
    }
    const octets = ip.split('.').map((o) => Number(o).toString(16).padStart(2, '0'));
    const name = `bulk-${slug(bulk.group)}-${out.length}`;
    out.push({
      id: slug(`${name}.${subnet.name}`),
      subnet: slug(subnet.name),
      hypervisor: hypervisorId,
      name,
      mac: `02:b0:${octets.join(':')}`,
      ip,
      attachment: 'none',
      securityGroups: [groupId],
    });
  }
  if (out.length < bulk.count)
    throw new HarnessError(
      `bulk members of ${bulk.group}: subnet ${subnet.name} (${subnet.cidr}) has room for ${out.length}, ${bulk.count} asked: use a larger prefix`,
    );
  return out;
}
