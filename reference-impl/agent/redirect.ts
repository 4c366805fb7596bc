/**
 * Service chaining in the agent's datapath (docs/service-chaining.md): the hypervisor where chained
 * traffic enters steers it to the appliance VM by policy routing; the appliance forwards it on.
 *
 *   router namespace, `table ip otwin_redirect`, chain pre (filter, prerouting, priority mangle)
 *     ether saddr <an appliance's MAC> return        what an appliance forwards goes on normally
 *     ip saddr FROM ip daddr TO [l4 dport PORTS] mark set M      the request
 *     ip saddr TO ip daddr FROM [l4 sport PORTS] mark set M      its replies (through the same appliance)
 *   ip rule fwmark M lookup M (priority 150); table M: default via <appliance IP> dev br<vni> onlink
 *
 * Only packets routed by this router namespace are marked: a VM's packet is routed by its own
 * (ingress) hypervisor, so the steering happens there and nowhere else; what the appliance sends on
 * leaves its own hypervisor's router namespace by the main table.
 *
 * An `l2` redirection (a bump in the wire inside one subnet) is bridged, not routed: `table bridge
 * otwin_redirect` (prerouting, before the bridge's fdb lookup) rewrites the destination MAC of the
 * matching frames (and of their replies) to the appliance's, unless the appliance sent them.
 */
import { createHash } from 'node:crypto';
import { run } from '../../harness/util/exec.ts';
import type { Entry, RedirectEntry } from '../protocol/messages.ts';
import { sabotaged } from '../sabotage.ts';
import { type AgentNaming, bridgeName, domainNsName } from './model.ts';
import { agentNftSession, type DefaultRoute, nftApply, nftTableComment } from './nft-session.ts';

export const REDIRECT_TABLE = 'otwin_redirect';
/** First fwmark (and routing table id) of the redirections; one per redirection of a domain. */
export const REDIRECT_MARK_BASE = 0x5c00;
export const REDIRECT_RULE_PRIORITY = 150;

export interface DomainRedirects {
  ns: string;
  redirects: RedirectEntry[];
}

/** Desired redirections per router namespace (sorted by id: marks follow that order). */
export function deriveRedirects(entries: Iterable<Entry>, naming: AgentNaming): Map<string, DomainRedirects> {
  const out = new Map<string, DomainRedirects>();
  for (const e of entries) {
    if (e.kind !== 'redirect') continue;
    const ns = domainNsName(naming, e.domain);
    const d = out.get(ns) ?? { ns, redirects: [] };
    d.redirects.push(e);
    out.set(ns, d);
  }
  for (const d of out.values()) d.redirects.sort((a, b) => (a.id < b.id ? -1 : 1));
  return out;
}

function match(r: RedirectEntry, reverse: boolean): string {
  const [src, dst] = reverse ? [r.to, r.from] : [r.from, r.to];
  const parts: string[] = [];
  if (src) parts.push(`ip saddr ${src}`);
  if (dst) parts.push(`ip daddr ${dst}`);
  // TEST-ONLY `svc-ignore-ports` sabotage (reference-impl/sabotage.ts): every port is redirected.
  const ports = sabotaged('svc-ignore-ports') ? undefined : r.ports;
  if (r.proto !== 'any') {
    if (ports) {
      const range = ports[0] === ports[1] ? `${ports[0]}` : `${ports[0]}-${ports[1]}`;
      parts.push(`${r.proto} ${reverse ? 'sport' : 'dport'} ${range}`);
    } else parts.push(`ip protocol ${r.proto}`);
  }
  return parts.join(' ');
}

/** The router namespace's redirect tables, as one atomic nft script, and its routing lines. */
export function redirectScript(d: DomainRedirects): {
  script: string;
  comment: string;
  ipLines: string[];
  routes: DefaultRoute[];
  marks: number[];
} {
  const rules: string[] = [];
  const ipLines: string[] = [];
  const routes: DefaultRoute[] = [];
  // A standby's MAC too: what the failed or the standby appliance forwards is never steered again.
  const macs = [
    ...new Set(
      d.redirects
        .flatMap((r) => [r.applianceMac, ...(r.standby ? [r.standby.mac] : [])])
        .map((m) => m.toLowerCase()),
    ),
  ].sort();
  for (const mac of macs) rules.push(`    ether saddr ${mac} return`);
  const bridged: string[] = [];
  for (const mac of macs) bridged.push(`    ether saddr ${mac} return`);
  d.redirects.forEach((r, i) => {
    const mark = REDIRECT_MARK_BASE + i;
    if (r.mode === 'l2') {
      // A bump in the wire: the bridge hands the frame to the appliance (destination MAC rewritten).
      const steer = (reverse: boolean) =>
        `    ether type ip ${[match(r, reverse), `ether daddr set ${r.applianceMac.toLowerCase()}`].filter(Boolean).join(' ')}`;
      bridged.push(steer(false));
      if (!sabotaged('svc-asymmetric')) bridged.push(steer(true));
      return;
    }
    const marking = (reverse: boolean) =>
      `    ${[match(r, reverse), `meta mark set ${mark}`].filter(Boolean).join(' ')}`;
    rules.push(marking(false));
    // TEST-ONLY `svc-asymmetric` sabotage: the replies are routed straight back (not via the appliance).
    if (!sabotaged('svc-asymmetric')) rules.push(marking(true));
    const route = { gateway: r.applianceIp, dev: bridgeName(r.applianceVni), table: mark };
    routes.push(route);
    ipLines.push(`route replace default via ${route.gateway} dev ${route.dev} onlink table ${route.table}`);
  });
  const body = [
    '  chain pre {',
    '    type filter hook prerouting priority mangle; policy accept;',
    ...rules,
    '  }',
  ];
  // Bridged (same-subnet) redirections: the bridge family's prerouting, before the fdb lookup.
  const bridgeBody = [
    '  chain pre {',
    '    type filter hook prerouting priority filter; policy accept;',
    ...bridged,
    '  }',
  ];
  const comment = `otwin redirect ${createHash('sha256')
    .update([...body, ...bridgeBody].join('\n'))
    .digest('hex')
    .slice(0, 16)}`;
  const script = [
    `table ip ${REDIRECT_TABLE}`,
    `delete table ip ${REDIRECT_TABLE}`,
    `table ip ${REDIRECT_TABLE} {`,
    `  comment "${comment}"`,
    ...body,
    '}',
    `table bridge ${REDIRECT_TABLE}`,
    `delete table bridge ${REDIRECT_TABLE}`,
    `table bridge ${REDIRECT_TABLE} {`,
    ...bridgeBody,
    '}',
    '',
  ].join('\n');
  const marks = d.redirects.flatMap((r, i) => (r.mode === 'l3' ? [REDIRECT_MARK_BASE + i] : []));
  return { script, comment, ipLines, routes, marks };
}

interface RuleJson {
  priority?: number;
  fwmark?: string;
}

export class RedirectProgrammer {
  /** What each router namespace was last programmed with (its script and routing lines). */
  private readonly programmed = new Map<string, string>();
  /** Router namespaces (re)programmed so far (the agent logs a pass that changed any). */
  changes = 0;
  /** `ip` processes started (tests: a failover starts none once the nft session is up). */
  ipProcesses = 0;
  /** Per router namespace, the nft script and policy-rule marks last programmed there. */
  private readonly programmedParts = new Map<string, { script: string; marks: string; ipLines: string }>();

  constructor(private readonly options: AgentNaming) {}

  /** Programs the redirections of every router namespace that exists; returns error lines. */
  async apply(entries: Iterable<Entry>, namespaces: Iterable<string>, full: boolean): Promise<string[]> {
    const present = new Set(namespaces);
    // TEST-ONLY `svc-bypass` sabotage (reference-impl/sabotage.ts): nothing is ever steered.
    const desired = sabotaged('svc-bypass')
      ? new Map<string, DomainRedirects>()
      : new Map([...deriveRedirects(entries, this.options)].filter(([ns]) => present.has(ns)));
    const errors: string[] = [];
    for (const ns of [...this.programmed.keys()])
      if (!desired.has(ns)) {
        if (present.has(ns)) errors.push(...(await this.clear(ns)));
        this.programmed.delete(ns);
        this.programmedParts.delete(ns);
      }
    for (const [ns, d] of desired) {
      const { script, comment, ipLines, routes, marks } = redirectScript(d);
      const key = `${script}\n${ipLines.join('\n')}`;
      if (!full && this.programmed.get(ns) === key) continue;
      // No clear-then-add: the nft table is replaced atomically and routes are replaced in place, so
      // chained traffic never bypasses the appliance while a full read reprograms.
      const errs: string[] = [];
      this.changes++;
      // An incremental pass trusts what this programmer last wrote: a failover (SVC-5) changes only a
      // route, so it costs one session request (no process) and no kernel read. A full pass reads the kernel.
      const last = full ? undefined : this.programmedParts.get(ns);
      const current =
        last !== undefined
          ? last.script === script
            ? comment
            : undefined
          : await nftTableComment(ns, 'ip', REDIRECT_TABLE);
      if (current !== comment) {
        // Through the agent's nftables session (nft-session.ts): no process start per change.
        const nft = await nftApply(ns, script);
        if (nft.exitCode !== 0) errs.push(`nft (redirect, ${ns}): ${nft.stderr.trim().slice(0, 300)}`);
      }
      const have =
        last !== undefined && last.marks === marks.join(',') ? new Set(marks) : await this.rules(ns);
      const lines = [...ipLines];
      for (const mark of marks)
        if (!have.has(mark))
          lines.push(`rule add fwmark ${mark} lookup ${mark} priority ${REDIRECT_RULE_PRIORITY}`);
      for (const mark of have)
        if (!marks.includes(mark))
          lines.push(
            `rule del fwmark ${mark} priority ${REDIRECT_RULE_PRIORITY}`,
            `route flush table ${mark}`,
          );
      // Routes this programmer last wrote unchanged (a port or address change): no `ip` process either.
      const routesUnchanged =
        last !== undefined && last.ipLines === ipLines.join('\n') && lines.length === ipLines.length;
      // Only routes to replace (a failover, SVC-5): through the session by rtnetlink, no `ip` process.
      const routesOnly = lines.length === ipLines.length && agentNftSession.available;
      const viaSession =
        !routesUnchanged && routesOnly && routes.length
          ? await agentNftSession.replaceRoutes(ns, routes)
          : undefined;
      if (!routesUnchanged && lines.length && viaSession?.rc !== 0) {
        // Rule changes, no session, or the session failed (its error is then `ip`'s own, retold).
        this.ipProcesses++;
        const ip = await run('ip', ['-n', ns, '-batch', '-'], { input: `${lines.join('\n')}\n` });
        if (ip.exitCode !== 0) errs.push(`redirect routes (${ns}): ${ip.stderr.trim().slice(0, 300)}`);
      }
      if (errs.length) {
        this.programmed.delete(ns);
        this.programmedParts.delete(ns);
      } else {
        this.programmed.set(ns, key);
        this.programmedParts.set(ns, { script, marks: marks.join(','), ipLines: ipLines.join('\n') });
      }
      errors.push(...errs);
    }
    return errors;
  }

  /** The fwmarks of this programmer's policy rules in a namespace (read with `ip -j rule`). */
  private async rules(ns: string): Promise<Set<number>> {
    this.ipProcesses++;
    const r = await run('ip', ['-n', ns, '-j', 'rule', 'show']);
    if (r.exitCode !== 0) return new Set();
    return new Set(
      (JSON.parse(r.stdout || '[]') as RuleJson[])
        .filter((x) => x.priority === REDIRECT_RULE_PRIORITY && x.fwmark !== undefined)
        .map((x) => Number(x.fwmark)),
    );
  }

  /** Removes the redirect table, rules and routing tables of a namespace. */
  private async clear(ns: string): Promise<string[]> {
    // Declaring each table first makes its deletion succeed whether or not it exists: one batch.
    const gone = await nftApply(
      ns,
      ['ip', 'bridge']
        .map((family) => `table ${family} ${REDIRECT_TABLE}\ndelete table ${family} ${REDIRECT_TABLE}\n`)
        .join(''),
    );
    const errors =
      gone.exitCode === 0 ? [] : [`nft (redirect cleanup, ${ns}): ${gone.stderr.trim().slice(0, 300)}`];
    const lines: string[] = [];
    for (const mark of await this.rules(ns))
      lines.push(`rule del fwmark ${mark} priority ${REDIRECT_RULE_PRIORITY}`, `route flush table ${mark}`);
    if (!lines.length) return errors;
    this.ipProcesses++;
    const del = await run('ip', ['-n', ns, '-force', '-batch', '-'], { input: `${lines.join('\n')}\n` });
    if (del.exitCode !== 0) errors.push(`redirect cleanup (${ns}): ${del.stderr.trim().slice(0, 300)}`);
    return errors;
  }
}
