/**
 * Security groups → OVN port groups and ACLs (ovn-nb(5) `Port_Group`, `ACL`), as a cloud management
 * system writes them (Neutron's OVN driver does the same): a port group per security group, whose
 * member ports' addresses OVN publishes itself as the address set `$<pg>_ip4`; every rule becomes an
 * `allow-related` ACL in each direction (from-lport at the sender's port, to-lport at the receiver's),
 * so replies of an allowed connection pass through conntrack and unsolicited traffic does not.
 * A domain with rules denies the rest: a port group of all the domain's ports carries a lower-priority
 * `drop` for IPv4 both ways (ARP is not IPv4, so neighbours still resolve).
 */
import { createHash } from 'node:crypto';
import { type Intent, IntentIndex, isCidr, type Rule, type Vm } from '../../harness/scenario/intent.ts';

/** ACL priorities: rules above the domain's default deny. */
const ALLOW_PRIORITY = 1002;
const DENY_PRIORITY = 1001;

/**
 * A port group name: OVN match expressions take `@name` and `$name_ip4` as identifiers (letters,
 * digits, `_`), so the intent's names are folded, with a hash keeping distinct names distinct.
 */
export function portGroupName(kind: 'sg' | 'dom', domain: string, name: string): string {
  const fold = (s: string) => s.replace(/[^A-Za-z0-9_]/g, '_');
  const h = createHash('sha256').update(`${kind}\0${domain}\0${name}`).digest('hex').slice(0, 6);
  return `${kind}_${fold(domain)}_${fold(name)}_${h}`;
}

/** The domains a rule applies to: its own, else its groups' (by declaration or members), else all. */
export function ruleDomains(rule: Rule, intent: Intent): string[] {
  if (rule.domain !== undefined) return [rule.domain];
  const idx = new IntentIndex(intent);
  const groups = [rule.from, rule.to].filter((s) => s !== 'any' && !isCidr(s));
  if (groups.length === 0) return intent.domains.map((d) => d.name);
  const out = new Set<string>();
  for (const g of groups) {
    const declared = intent.groups.find((x) => x.name === g)?.domain;
    if (declared !== undefined) out.add(declared);
    else for (const vm of intent.vms) if (vm.groups.includes(g)) out.add(idx.domainOf(vm).name);
  }
  return [...out];
}

function protoMatch(rule: Rule, port: 'src' | 'dst' = 'dst'): string {
  if (rule.proto === 'any') return 'ip4';
  if (rule.proto === 'icmp') return 'icmp4';
  if (rule.ports.length === 0) return rule.proto;
  const field = `${rule.proto}.${port}`;
  const ranges = rule.ports.map(([a, b]) =>
    a === b ? `${field} == ${a}` : `(${field} >= ${a} && ${field} <= ${b})`,
  );
  return `${rule.proto} && (${ranges.join(' || ')})`;
}

/** One ACL for `ovn-nbctl acl-add <port group> <direction> <priority> <match> <action>`. */
export interface OvnAcl {
  portGroup: string;
  direction: 'from-lport' | 'to-lport';
  priority: number;
  match: string;
  action: 'allow-related' | 'allow-stateless' | 'drop';
}

/**
 * `stateful` (the intent's semantics): `allow-related`. `stateless` (a TEST-ONLY sabotage profile,
 * like the reference's `--sg-mode stateless`): `allow-stateless`, plus each rule mirrored on the
 * source port so replies pass — and so does unsolicited traffic from the service port (SG-2's point).
 */
export type SecurityProfile = 'stateful' | 'stateless';

export interface SecurityPlan {
  /** Port group → its member logical ports (attached VMs only: a port must exist to be a member). */
  portGroups: Map<string, string[]>;
  acls: OvnAcl[];
}

/** The port groups and ACLs of the whole intent (`portOf` names a VM's logical switch port). */
export function securityPlan(
  intent: Intent,
  portOf: (vm: string) => string,
  profile: SecurityProfile = 'stateful',
): SecurityPlan {
  const allow = profile === 'stateful' ? 'allow-related' : 'allow-stateless';
  const idx = new IntentIndex(intent);
  const portGroups = new Map<string, string[]>();
  const acls: OvnAcl[] = [];
  const attached = intent.vms.filter((vm) => vm.attached);
  const inDomain = (vm: Vm, domain: string) => idx.domainOf(vm).name === domain;
  for (const domain of intent.domains.map((d) => d.name)) {
    const rules = intent.rules.filter((r) => ruleDomains(r, intent).includes(domain));
    if (rules.length === 0) continue;
    const all = portGroupName('dom', domain, 'all');
    portGroups.set(
      all,
      attached.filter((vm) => inDomain(vm, domain)).map((vm) => portOf(vm.name)),
    );
    const groupPg = (group: string) => {
      const pg = portGroupName('sg', domain, group);
      if (!portGroups.has(pg))
        portGroups.set(
          pg,
          attached
            .filter((vm) => inDomain(vm, domain) && vm.groups.includes(group))
            .map((vm) => portOf(vm.name)),
        );
      return pg;
    };
    const allowBetween = (from: string, to: string, proto: string) => {
      // The sender's side (from-lport on its port) and the receiver's side (to-lport on its port).
      const fromSide = side(from, 'src', groupPg, all);
      const toSide = side(to, 'dst', groupPg, all);
      acls.push({
        portGroup: fromSide.pg,
        direction: 'from-lport',
        priority: ALLOW_PRIORITY,
        match: [`inport == @${fromSide.pg}`, fromSide.ownAddress, toSide.peerAddress, proto]
          .filter(Boolean)
          .join(' && '),
        action: allow,
      });
      acls.push({
        portGroup: toSide.pg,
        direction: 'to-lport',
        priority: ALLOW_PRIORITY,
        match: [`outport == @${toSide.pg}`, toSide.ownAddress, fromSide.peerAddress, proto]
          .filter(Boolean)
          .join(' && '),
        action: allow,
      });
    };
    for (const rule of rules) {
      allowBetween(rule.from, rule.to, protoMatch(rule));
      if (profile === 'stateless') allowBetween(rule.to, rule.from, protoMatch(rule, 'src'));
    }
    acls.push(
      {
        portGroup: all,
        direction: 'from-lport',
        priority: DENY_PRIORITY,
        match: `inport == @${all} && ip4`,
        action: 'drop',
      },
      {
        portGroup: all,
        direction: 'to-lport',
        priority: DENY_PRIORITY,
        match: `outport == @${all} && ip4`,
        action: 'drop',
      },
    );
  }
  return { portGroups, acls };
}

/**
 * One end of a rule: the port group its VM ports are in (the domain's for `any` or a CIDR), the
 * condition on that end's own address (a CIDR), and how the other end matches this one's address.
 */
function side(
  selector: string,
  field: 'src' | 'dst',
  groupPg: (group: string) => string,
  all: string,
): { pg: string; ownAddress: string; peerAddress: string } {
  if (selector === 'any') return { pg: all, ownAddress: '', peerAddress: '' };
  if (isCidr(selector))
    return { pg: all, ownAddress: `ip4.${field} == ${selector}`, peerAddress: `ip4.${field} == ${selector}` };
  const pg = groupPg(selector);
  return { pg, ownAddress: '', peerAddress: `ip4.${field} == $${pg}_ip4` };
}
