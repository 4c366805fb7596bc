/**
 * Security groups in the agent's datapath (docs/security-groups.md): per routing-domain router
 * namespace, one nftables table
 *
 *   table inet otwin_sg
 *     set g<sgid> { type ipv4_addr; }           members of group sgid (local VMs and remote ones)
 *     chain sg_filter (hook forward)             jump sg_rules
 *     chain sg_rules                             one rule per security rule, `ct state
 *                                                established,related accept`, and a final drop
 *
 * and a bridge-family guard (`table bridge otwin_sg_guard`: a VM port may only send from its own
 * address, so a VM cannot take another member's address to pass a group rule). Bridged traffic
 * reaches the inet forward hook through br_netfilter, so the rules hold inside a subnet too.
 *
 * Rules are keyed by group, protocol and ports, never by member: a membership change is an element
 * add/delete in one set and touches no rule. Programming is a diff against what the agent last
 * programmed (read back with `nft -j` only on full reads: start, resync), applied as one `nft -f -`
 * transaction per namespace; nothing is flushed, so established flows and the filter stay in place
 * across agent restarts (the tables belong to the namespace, not to the agent process).
 *
 * Stateless mode (`--sg-mode stateless`, the ACL-only hypervisor switch profile): no conntrack
 * rule; each allow rule A→B is installed with its mirror B→A matching the SOURCE port (ICMP:
 * echo-reply), as port ACLs are configured to let replies through.
 */
import { createHash } from 'node:crypto';
import type { Entry, RuleEntry, RulePeer } from '../protocol/messages.ts';
import { sabotaged } from '../sabotage.ts';
import { domainNsName, portName } from './model.ts';
import { agentNftSession, nftCall } from './nft-session.ts';

export const SG_TABLE = 'otwin_sg';
export const SG_GUARD_TABLE = 'otwin_sg_guard';
export const SG_RULES_CHAIN = 'sg_rules';
const STATEFUL_COMMENT = 'stateful';
/** Router namespaces programmed at once (each is its own nft processes). */
const NS_CONCURRENCY = 4;
const DENY_COMMENT = 'default-deny';

export type SgMode = 'stateful' | 'stateless';

/** What one router namespace should hold (desired) or holds (actual). */
export interface SgState {
  /** sgid → member addresses. */
  sets: Map<number, Set<string>>;
  /** Rule comment (`r:<rule id>:<hash of the rule text>`, or the fixed ones) → rule text. */
  rules: Map<string, string>;
  /** Anti-spoofing: VM port → its address (only in domains that enforce rules). */
  guard: Map<string, string>;
}

export interface ActualSg extends SgState {
  /** Rule comment → handle, for deletion. */
  handles: Map<string, number>;
  exists: boolean;
  guardExists: boolean;
}

export function emptySg(): SgState {
  return { sets: new Map(), rules: new Map(), guard: new Map() };
}

const hash = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 10);

function peerMatch(peer: RulePeer, side: 'saddr' | 'daddr'): string {
  if (peer.kind === 'group') return `ip ${side} @g${peer.sgid}`;
  if (peer.kind === 'cidr') return `ip ${side} ${peer.cidr}`;
  return '';
}

function protoMatch(rule: RuleEntry, portSide: 'dport' | 'sport'): string {
  if (rule.proto === 'any') return '';
  if (rule.proto === 'icmp') return portSide === 'sport' ? 'icmp type echo-reply' : 'meta l4proto icmp';
  if (!rule.ports) return `meta l4proto ${rule.proto}`;
  const [a, b] = rule.ports;
  return `${rule.proto} ${portSide} ${a === b ? a : `${a}-${b}`}`;
}

/** The nft rule texts of one allow rule (stateless: with its mirror). */
export function ruleTexts(rule: RuleEntry, mode: SgMode): string[] {
  const join = (...parts: string[]) => [...parts.filter(Boolean), 'accept'].join(' ');
  const out = [join(peerMatch(rule.from, 'saddr'), peerMatch(rule.to, 'daddr'), protoMatch(rule, 'dport'))];
  if (mode === 'stateless')
    out.push(join(peerMatch(rule.to, 'saddr'), peerMatch(rule.from, 'daddr'), protoMatch(rule, 'sport')));
  return out;
}

/** Under the TEST-ONLY `sg-cartesian` sabotage: group sides expanded into one rule per member pair. */
function cartesian(rule: RuleEntry, members: Map<number, Set<string>>): RuleEntry[] {
  const expand = (peer: RulePeer): RulePeer[] =>
    peer.kind === 'group'
      ? [...(members.get(peer.sgid) ?? [])].map((ip) => ({ kind: 'cidr', cidr: `${ip}/32` }))
      : [peer];
  return expand(rule.from).flatMap((from) => expand(rule.to).map((to) => ({ ...rule, from, to })));
}

export interface SgDeriveOptions {
  prefix: string;
  hypervisor: string;
  mode: SgMode;
}

/** Desired security state per router namespace, from the merged controller entries. */
export function deriveSecurity(entries: Iterable<Entry>, options: SgDeriveOptions): Map<string, SgState> {
  const domainOfSubnet = new Map<string, string>();
  const domainOfVni = new Map<number, string>();
  const prefixes = new Map<string, string[]>();
  const rules = new Map<string, RuleEntry[]>();
  const vports: Array<Extract<Entry, { kind: 'vport' }>> = [];
  const macs: Array<Extract<Entry, { kind: 'mac' }>> = [];
  for (const e of entries) {
    if (e.kind === 'subnet') {
      domainOfSubnet.set(e.id, e.domain);
      domainOfVni.set(e.vni, e.domain);
      prefixes.set(e.domain, [...(prefixes.get(e.domain) ?? []), e.prefix]);
    } else if (e.kind === 'rule') rules.set(e.domain, [...(rules.get(e.domain) ?? []), e]);
    else if (e.kind === 'vport') vports.push(e);
    else if (e.kind === 'mac') macs.push(e);
  }
  const out = new Map<string, SgState>();
  const members = new Map<string, Map<number, Set<string>>>();
  const localIps = new Map<string, string[]>();
  const stateOf = (domain: string) => {
    let s = members.get(domain);
    if (!s) {
      s = new Map();
      members.set(domain, s);
    }
    return s;
  };
  const addMember = (domain: string | undefined, ip: string | undefined, groups: number[] | undefined) => {
    if (!domain || !ip) return;
    const sets = stateOf(domain);
    for (const g of groups ?? []) {
      let set = sets.get(g);
      if (!set) {
        set = new Set();
        sets.set(g, set);
      }
      set.add(ip);
    }
  };
  const hosted = new Set<string>();
  for (const v of vports) {
    const domain = domainOfSubnet.get(v.subnet);
    if (!domain) continue;
    hosted.add(domain);
    addMember(domain, v.ip, v.groups);
    localIps.set(domain, [...(localIps.get(domain) ?? []), v.ip]);
  }
  for (const m of macs) addMember(domainOfVni.get(m.vni), m.ip, m.groups);
  for (const domain of hosted) {
    const state = emptySg();
    out.set(domainNsName(options, domain), state);
    // TEST-ONLY `sg-allow-all` sabotage (reference-impl/sabotage.ts): nothing is enforced.
    const domainRules = sabotaged('sg-allow-all') ? [] : (rules.get(domain) ?? []);
    if (!domainRules.length) continue;
    const sets = stateOf(domain);
    const stateless =
      options.mode === 'stateless' || domainRules.some((r) => r.stateless) || sabotaged('sg-stateless');
    const mode: SgMode = stateless ? 'stateless' : 'stateful';
    const expanded = sabotaged('sg-cartesian') ? domainRules.flatMap((r) => cartesian(r, sets)) : domainRules;
    const referenced = new Set<number>();
    for (const r of expanded) for (const p of [r.from, r.to]) if (p.kind === 'group') referenced.add(p.sgid);
    for (const g of referenced) state.sets.set(g, new Set(sets.get(g) ?? []));
    if (mode === 'stateful') state.rules.set(STATEFUL_COMMENT, 'ct state established,related accept');
    const add = (id: string, text: string) => state.rules.set(`r:${id}:${hash(text)}`, text);
    for (const r of expanded) for (const text of ruleTexts(r, mode)) add(r.id, text);
    const own = prefixes.get(domain) ?? [];
    // TEST-ONLY `sg-no-intra-subnet`: traffic inside a subnet is accepted before the rules.
    if (sabotaged('sg-no-intra-subnet'))
      for (const p of own) add('no-intra-subnet', `ip saddr ${p} ip daddr ${p} accept`);
    // TEST-ONLY `sg-ignore-external`: traffic from or to outside the domain's subnets is not filtered.
    if (sabotaged('sg-ignore-external') && own.length) {
      add('ignore-external', `ip saddr != { ${own.join(', ')} } accept`);
      add('ignore-external', `ip daddr != { ${own.join(', ')} } accept`);
    }
    // TEST-ONLY `sg-egress-only`: traffic from elsewhere to a local VM is not checked (no ingress).
    const local = localIps.get(domain) ?? [];
    if (sabotaged('sg-egress-only') && local.length)
      add('egress-only', `ip saddr != { ${local.join(', ')} } accept`);
    state.rules.set(DENY_COMMENT, 'drop');
    for (const v of vports)
      if (domainOfSubnet.get(v.subnet) === domain) state.guard.set(portName(v.id), v.ip);
  }
  return out;
}

/** One `nft -f` script taking a namespace from `have` to `want` (empty string: nothing to do). */
export function sgScript(want: SgState, have: ActualSg): string {
  const lines: string[] = [];
  const enforce = want.rules.size > 0;
  if (!have.exists && (enforce || have.rules.size))
    lines.push(
      `table inet ${SG_TABLE} {`,
      '  chain sg_filter { type filter hook forward priority filter; policy accept; jump sg_rules; }',
      `  chain ${SG_RULES_CHAIN} { }`,
      '}',
    );
  const exists = have.exists || enforce;
  if (!exists) return '';
  // Sets the new rules use first; rules that go before the sets they use.
  for (const g of want.sets.keys())
    if (!have.sets.has(g)) lines.push(`add set inet ${SG_TABLE} g${g} { type ipv4_addr; }`);
  for (const [g, ips] of want.sets) {
    const cur = have.sets.get(g) ?? new Set<string>();
    const del = [...cur].filter((ip) => !ips.has(ip));
    const add = [...ips].filter((ip) => !cur.has(ip));
    if (del.length) lines.push(`delete element inet ${SG_TABLE} g${g} { ${del.join(', ')} }`);
    if (add.length) lines.push(`add element inet ${SG_TABLE} g${g} { ${add.join(', ')} }`);
  }
  for (const [comment, handle] of have.handles)
    if (!want.rules.has(comment))
      lines.push(`delete rule inet ${SG_TABLE} ${SG_RULES_CHAIN} handle ${handle}`);
  for (const [comment, text] of want.rules) {
    if (have.rules.has(comment)) continue;
    // Accepts go first, the final drop last.
    const verb = comment === DENY_COMMENT ? 'add' : 'insert';
    lines.push(`${verb} rule inet ${SG_TABLE} ${SG_RULES_CHAIN} ${text} comment "${comment}"`);
  }
  for (const g of have.sets.keys()) if (!want.sets.has(g)) lines.push(`delete set inet ${SG_TABLE} g${g}`);
  // Anti-spoofing guard.
  if (want.guard.size && !have.guardExists)
    lines.push(
      `table bridge ${SG_GUARD_TABLE} {`,
      '  set ports { type ifname; }',
      '  set bound { type ifname . ipv4_addr; }',
      '  chain guard {',
      '    type filter hook prerouting priority filter; policy accept;',
      '    iifname @ports ether type ip iifname . ip saddr != @bound counter drop',
      '    iifname @ports ether type arp iifname . arp saddr ip != @bound counter drop',
      '  }',
      '}',
    );
  if (want.guard.size || have.guardExists) {
    const delPorts: string[] = [];
    const delBound: string[] = [];
    for (const [port, ip] of have.guard) {
      if (want.guard.get(port) === ip) continue;
      delBound.push(`"${port}" . ${ip}`);
      if (!want.guard.has(port)) delPorts.push(`"${port}"`);
    }
    const addPorts: string[] = [];
    const addBound: string[] = [];
    for (const [port, ip] of want.guard) {
      if (have.guard.get(port) === ip) continue;
      addBound.push(`"${port}" . ${ip}`);
      if (!have.guard.has(port)) addPorts.push(`"${port}"`);
    }
    // Bound before ports: a port never guards without its binding.
    if (delPorts.length)
      lines.push(`delete element bridge ${SG_GUARD_TABLE} ports { ${delPorts.join(', ')} }`);
    if (delBound.length)
      lines.push(`delete element bridge ${SG_GUARD_TABLE} bound { ${delBound.join(', ')} }`);
    if (addBound.length) lines.push(`add element bridge ${SG_GUARD_TABLE} bound { ${addBound.join(', ')} }`);
    if (addPorts.length) lines.push(`add element bridge ${SG_GUARD_TABLE} ports { ${addPorts.join(', ')} }`);
  }
  return lines.length ? `${lines.join('\n')}\n` : '';
}

interface NftJson {
  nftables?: Array<{
    table?: { family: string; name: string };
    set?: {
      family?: string;
      table?: string;
      name: string;
      elem?: Array<string | { concat?: string[] } | { elem?: { val: unknown } }>;
    };
    rule?: NftRuleJson;
  }>;
}

interface NftRuleJson {
  family?: string;
  table?: string;
  chain: string;
  handle: number;
  comment?: string;
  expr?: unknown[];
}

function elemText(e: unknown): string[] {
  if (typeof e === 'string') return [e];
  const o = e as { concat?: unknown[]; elem?: { val: unknown } };
  if (o.concat) return o.concat.map(String);
  if (o.elem) return elemText(o.elem.val);
  return [];
}

/** A namespace's listing as nft JSON (one read for both tables). */
const listRuleset = (ns: string) =>
  nftCall(ns, { script: 'list ruleset', json: true }, ['-j', '-a', 'list', 'ruleset']);

/**
 * What a namespace holds: ONE `nft -j list ruleset` for both tables (only on full reads, never per
 * change). It was one process per table; on a busy machine each costs a few hundred ms, and the first
 * programming of every router namespace paid for both.
 */
export async function readSg(ns: string): Promise<ActualSg> {
  const actual: ActualSg = { ...emptySg(), handles: new Map(), exists: false, guardExists: false };
  const listed = await listRuleset(ns);
  if (listed.exitCode !== 0)
    throw new Error(`nft list ruleset in ${ns}: ${listed.stderr.trim().slice(0, 300)}`);
  const ours = (family: string | undefined, table: string | undefined) =>
    (family === 'inet' && table === SG_TABLE) || (family === 'bridge' && table === SG_GUARD_TABLE);
  for (const item of (JSON.parse(listed.stdout || '{}') as NftJson).nftables ?? []) {
    if (item.table?.family === 'inet' && item.table.name === SG_TABLE) actual.exists = true;
    if (item.table?.family === 'bridge' && item.table.name === SG_GUARD_TABLE) actual.guardExists = true;
    const set = item.set;
    if (set && ours(set.family, set.table)) {
      if (set.family === 'inet' && /^g\d+$/.test(set.name))
        actual.sets.set(Number(set.name.slice(1)), new Set((set.elem ?? []).flatMap(elemText)));
      if (set.family === 'bridge' && set.name === 'bound')
        for (const e of set.elem ?? []) {
          const [port, ip] = elemText(e);
          if (port && ip) actual.guard.set(port, ip);
        }
    }
    const rule = item.rule;
    if (rule?.family === 'inet' && rule.table === SG_TABLE && rule.chain === SG_RULES_CHAIN) {
      // A rule without our comment is foreign: delete it (its text is unknown, so it never matches).
      const comment = rule.comment ?? `foreign:${rule.handle}`;
      actual.rules.set(comment, '');
      actual.handles.set(comment, rule.handle);
    }
  }
  return actual;
}

/** Rule handles of the rules chain (after rules were added without an echo: rare, never for a membership change). */
async function readHandles(ns: string): Promise<Map<string, number>> {
  const chain = `inet ${SG_TABLE} ${SG_RULES_CHAIN}`;
  const r = await nftCall(ns, { script: `list chain ${chain}`, json: true }, [
    '-j',
    '-a',
    'list',
    'chain',
    ...chain.split(' '),
  ]);
  const out = new Map<string, number>();
  if (r.exitCode !== 0) return out;
  for (const item of (JSON.parse(r.stdout || '{}') as NftJson).nftables ?? [])
    if (item.rule?.comment) out.set(item.rule.comment, item.rule.handle);
  return out;
}

/** Rules a batch added, as the session echoes them (`{"add"|"insert": {"rule": ...}}`): comment → handle. */
function echoedRuleHandles(echo: string): Map<string, number> {
  const out = new Map<string, number>();
  type Echoed = { add?: { rule?: NftRuleJson }; insert?: { rule?: NftRuleJson } };
  for (const item of (JSON.parse(echo || '{}') as { nftables?: Echoed[] }).nftables ?? []) {
    const rule = item.add?.rule ?? item.insert?.rule;
    if (rule?.table === SG_TABLE && rule.chain === SG_RULES_CHAIN && rule.comment)
      out.set(rule.comment, rule.handle);
  }
  return out;
}

/** Where security programming goes: nftables in the router namespaces, or memory (simulated hypervisors). */
export interface SgBackend {
  /** What a namespace holds now. */
  read(ns: string): Promise<ActualSg>;
  /** Runs one `nft -f` script in a namespace; returns the error text, or undefined when applied. */
  run(ns: string, script: string): Promise<string | undefined>;
  /** Rule comment → handle of the rules chain. */
  handles(ns: string): Promise<Map<string, number>>;
  /** Handles of the rules the last `run` in `ns` added, when the backend saw them (nft echo); taken once. */
  takeAddedHandles?(ns: string): Map<string, number> | undefined;
  /** Changes when what was read may be stale (the nft session restarted): the programmer re-reads all. */
  generation?(): number;
  /** What a namespace holds after a script applied (a backend that keeps state: memory). */
  applied?(ns: string, state: ActualSg): void;
}

const ADDS_RULES = /^(add|insert) rule /m;
const addedHandles = new Map<string, Map<string, number>>();

export const nftBackend: SgBackend = {
  read: readSg,
  run: async (ns, script) => {
    const echo = ADDS_RULES.test(script);
    addedHandles.delete(ns);
    const r = await nftCall(ns, { script, echo, json: echo }, ['-f', '-'], script);
    if (r.exitCode !== 0) return r.stderr.trim().slice(0, 400);
    if (echo && r.stdout.trim()) addedHandles.set(ns, echoedRuleHandles(r.stdout));
    return undefined;
  },
  handles: readHandles,
  takeAddedHandles: (ns) => {
    const h = addedHandles.get(ns);
    addedHandles.delete(ns);
    return h;
  },
  generation: () => agentNftSession.generation,
};

/**
 * The agent's security programmer: keeps what it last programmed per namespace and applies diffs.
 * `full` re-reads the namespaces first (start, resync, after errors).
 */
export class SecurityProgrammer {
  private readonly programmed = new Map<string, ActualSg>();
  /** The backend generation (nft session helper) each namespace's cached state was read under. */
  private readonly readUnder = new Map<string, number | undefined>();
  /** Batches run to program (diagnostics, tests). */
  applies = 0;

  constructor(
    private readonly options: SgDeriveOptions,
    private readonly backend: SgBackend = nftBackend,
  ) {}

  async apply(entries: Iterable<Entry>, namespaces: Iterable<string>, full: boolean): Promise<string[]> {
    const desired = deriveSecurity(entries, this.options);
    const errors: string[] = [];
    const present = new Set(namespaces);
    for (const ns of this.programmed.keys()) if (!present.has(ns)) this.programmed.delete(ns);
    const generation = () => this.backend.generation?.();
    const one = async (ns: string, reread = false): Promise<void> => {
      const want = desired.get(ns) ?? emptySg();
      let have = this.programmed.get(ns);
      // The nft session restarted since this namespace was read: a batch it was running may or may
      // not have been committed, so the namespace is read again (every namespace: a full resync).
      if (full || reread || !have || this.readUnder.get(ns) !== generation()) {
        have = await this.backend.read(ns);
        this.programmed.set(ns, have);
        this.readUnder.set(ns, generation());
      }
      const readGeneration = this.readUnder.get(ns);
      const script = sgScript(want, have);
      if (!script) return;
      this.applies++;
      const failed = await this.backend.run(ns, script);
      if (failed !== undefined) {
        errors.push(`nft (security groups, ${ns}): ${failed}`);
        this.programmed.delete(ns);
        return;
      }
      // The helper was restarted between the read and this batch: the diff may rest on stale state.
      if (generation() !== readGeneration && !reread) return one(ns, true);
      const addedRules = [...want.rules.keys()].some((c) => !have.rules.has(c));
      const next: ActualSg = {
        sets: new Map([...want.sets].map(([g, ips]) => [g, new Set(ips)])),
        rules: new Map(want.rules),
        guard: new Map(want.guard),
        handles: addedRules
          ? await this.handlesAfterAdd(ns, have, want)
          : new Map([...have.handles].filter(([c]) => want.rules.has(c))),
        exists: have.exists || want.rules.size > 0,
        guardExists: have.guardExists || want.guard.size > 0,
      };
      this.programmed.set(ns, next);
      this.backend.applied?.(ns, next);
    };
    // Namespaces are independent: a few at a time, so a hypervisor with many routing domains does
    // not program them one process after another (its first programming and every full read).
    const queue = [...present];
    const worker = async () => {
      for (let ns = queue.shift(); ns !== undefined; ns = queue.shift()) await one(ns);
    };
    await Promise.all(Array.from({ length: Math.min(NS_CONCURRENCY, queue.length) }, worker));
    return errors;
  }

  /** Handles after a batch added rules: the kept ones plus the echoed new ones, else a read. */
  private async handlesAfterAdd(ns: string, have: ActualSg, want: SgState): Promise<Map<string, number>> {
    const added = this.backend.takeAddedHandles?.(ns);
    const fresh = [...want.rules.keys()].filter((c) => !have.rules.has(c));
    if (!added || fresh.some((c) => !added.has(c))) return this.backend.handles(ns);
    return new Map([...[...have.handles].filter(([c]) => want.rules.has(c)), ...added]);
  }
}
