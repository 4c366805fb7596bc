/**
 * Floating IPs and distributed PNAT in the agent's datapath (docs/nat.md). Everything is translated
 * on the VM's own hypervisor; no node translates for another.
 *
 * A routing domain that has a floating IP or PNAT on this hypervisor gets an uplink: a veth pair
 * `nh<hash>` (hypervisor namespace) ↔ `uplink` (router namespace) on a /30 of 169.254.128.0/17, the
 * router namespace's default route pointing at the hypervisor side. Then:
 *
 *   router namespace, `table ip otwin_nat`
 *     prerouting  (nat, priority dstnat = -100)  iif uplink: daddr floating IP → dnat to the VM's address
 *     postrouting (nat, priority srcnat = 100)   oif uplink: a VM with a floating IP → snat to it;
 *                                               PNAT domains: everything else → masquerade (transit address)
 *     postrouting (filter, priority srcnat + 10) oif uplink: a source still private (no floating IP, no
 *                                               PNAT) is dropped: without NAT a VM has no outside path
 *   hypervisor namespace
 *     route <floating IP>/32 via the router side of the uplink (proto 77, read back with `ip -j`)
 *     `table ip otwin_pnat` postrouting (nat, srcnat): transit sources leaving on a non-uplink port →
 *       masquerade random (the hypervisor's own underlay address, port-translated)
 *
 * Security groups (`table inet otwin_sg`, hook forward priority filter = 0) run between the two NAT
 * hooks, so they always see the VM's private address: rules about groups hold for floating-IP traffic
 * (NAT-6) and the outside peer's address is never rewritten. Traffic between VMs of a domain never
 * touches the uplink, so it is never translated (NAT-3).
 *
 * Programming: desired state per domain is compared with what was last programmed (and, on full
 * reads, with the kernel: the nft table's comment carries a hash of its script, read as nft JSON;
 * routes and uplinks with `ip -j`). The nat table is replaced atomically in one nft transaction, run
 * through the agent's persistent nftables session (nft-session.ts): a floating IP's move starts no
 * `nft` process (each costs 200-290 ms to start on a busy 2-core machine, against T_conv = 1 s).
 */
import { createHash } from 'node:crypto';
import { run } from '../../harness/util/exec.ts';
import type { Entry } from '../protocol/messages.ts';
import { natCentral, sabotaged } from '../sabotage.ts';
import { type AgentNaming, domainNsName } from './model.ts';
import { nftApply, nftTableComment } from './nft-session.ts';

export const NAT_TABLE = 'otwin_nat';
export const PNAT_TABLE = 'otwin_pnat';
export const UPLINK = 'uplink';
/** Route protocol number marking the agent's floating-IP routes in the hypervisor namespace. */
export const FIP_ROUTE_PROTO = 77;
const TRANSIT_BASE = (169 << 24) | (254 << 16) | (128 << 8);
const TRANSIT_SLOTS = 8192;
export const TRANSIT_PREFIX = '169.254.128.0/17';

export interface DomainNat {
  domain: string;
  ns: string;
  hvDev: string;
  hvAddr: string;
  nsAddr: string;
  pnat: boolean;
  /** floating IP → the VM's private address */
  fips: Map<string, string>;
}

const hex = (text: string) => createHash('sha256').update(text).digest('hex');

export function uplinkDevName(domainId: string): string {
  return `nh${hex(domainId).slice(0, 10)}`;
}

function ipOf(n: number): string {
  return [24, 16, 8, 0].map((s) => (n >>> s) & 0xff).join('.');
}

/**
 * Desired NAT per router namespace: domains that need an outside path, and the domains of `keep`
 * that still exist (an uplink this hypervisor already has stays: a floating IP moving back costs no
 * uplink; with no floating IP and no PNAT its untranslated chain drops everything leaving on it).
 */
export function deriveNat(
  entries: Iterable<Entry>,
  naming: AgentNaming,
  keep: ReadonlySet<string> = new Set(),
): Map<string, DomainNat> {
  const pnat = new Map<string, boolean>();
  const domainOfSubnet = new Map<string, string>();
  const fips = new Map<string, Map<string, string>>();
  const vports: Array<Extract<Entry, { kind: 'vport' }>> = [];
  for (const e of entries) {
    if (e.kind === 'domain') pnat.set(e.id, e.pnat === true);
    else if (e.kind === 'subnet') domainOfSubnet.set(e.id, e.domain);
    else if (e.kind === 'vport') vports.push(e);
  }
  for (const v of vports) {
    const domain = domainOfSubnet.get(v.subnet);
    if (!domain || !v.floatingIp) continue;
    const m = fips.get(domain) ?? new Map<string, string>();
    fips.set(domain, m.set(v.floatingIp, v.ip));
  }
  const needing = [...pnat.keys()].filter((d) => pnat.get(d) || fips.has(d) || keep.has(d)).sort();
  const used = new Set<number>();
  const out = new Map<string, DomainNat>();
  for (const domain of needing) {
    // A stable slot per domain: its hash, probing past slots taken by domains sorted before it.
    let slot = Number.parseInt(hex(domain).slice(0, 8), 16) % TRANSIT_SLOTS;
    while (used.has(slot)) slot = (slot + 1) % TRANSIT_SLOTS;
    used.add(slot);
    const base = TRANSIT_BASE + slot * 4;
    const ns = domainNsName(naming, domain);
    out.set(ns, {
      domain,
      ns,
      hvDev: uplinkDevName(domain),
      hvAddr: ipOf(base + 1),
      nsAddr: ipOf(base + 2),
      pnat: pnat.get(domain) === true,
      fips: fips.get(domain) ?? new Map(),
    });
  }
  return out;
}

/** The router namespace's nat table, as one atomic nft script (its comment names its hash). */
export function natScript(d: DomainNat): { script: string; comment: string } {
  const pre: string[] = [];
  const post: string[] = [];
  for (const [fip, ip] of [...d.fips].sort()) {
    pre.push(`    iifname "${UPLINK}" ip daddr ${fip} dnat to ${ip}`);
    // TEST-ONLY `nat-translate-internal` sabotage (reference-impl/sabotage.ts): the VM's traffic to
    // other VMs of its tenant is translated to its floating IP too (not only what leaves the domain).
    const oif = sabotaged('nat-translate-internal') ? '' : `oifname "${UPLINK}" `;
    post.push(`    ${oif}ip saddr ${ip} snat to ${fip}`);
  }
  if (d.pnat) post.push(`    oifname "${UPLINK}" masquerade`);
  const body = [
    `  chain pre {`,
    '    type nat hook prerouting priority dstnat; policy accept;',
    ...pre,
    '  }',
    '  chain post {',
    '    type nat hook postrouting priority srcnat; policy accept;',
    ...post,
    '  }',
    '  chain untranslated {',
    '    type filter hook postrouting priority srcnat + 10; policy accept;',
    `    oifname "${UPLINK}" ip saddr != { ${[d.nsAddr, ...[...d.fips.keys()].sort()].join(', ')} } drop`,
    '  }',
  ];
  const comment = `otwin nat ${hex(body.join('\n')).slice(0, 16)}`;
  const script = [
    `table ip ${NAT_TABLE}`,
    `delete table ip ${NAT_TABLE}`,
    `table ip ${NAT_TABLE} {`,
    `  comment "${comment}"`,
    ...body,
    '}',
    '',
  ].join('\n');
  return { script, comment };
}

/** The hypervisor namespace's PNAT stage: transit sources leave as the hypervisor's own address. */
export function pnatScript(): string {
  // TEST-ONLY `nat-central`: the central node translates for every hypervisor, the others not at all.
  const central = natCentral();
  const rule =
    central === undefined
      ? `ip saddr ${TRANSIT_PREFIX} oifname != "nh*" masquerade random`
      : `ip saddr ${TRANSIT_PREFIX} oifname != "nh*" oifname != "otcentral" masquerade random`;
  return [
    `table ip ${PNAT_TABLE}`,
    `delete table ip ${PNAT_TABLE}`,
    `table ip ${PNAT_TABLE} {`,
    '  chain post {',
    '    type nat hook postrouting priority srcnat; policy accept;',
    `    ${rule}`,
    '  }',
    '}',
    '',
  ].join('\n');
}

interface LinkJson {
  ifname: string;
  flags?: string[];
  addr_info?: Array<{ family: string; local: string; prefixlen: number }>;
}
interface RouteJson {
  dst: string;
  gateway?: string;
  dev?: string;
}

/** A domain's uplink as this programmer sets it up (its transit addresses and device). */
const uplinkOf = (d: DomainNat) => `${d.hvAddr}|${d.nsAddr}|${d.hvDev}`;
/** Where a floating IP's route points. */
const routeVia = (d: DomainNat) => `${d.nsAddr}|${d.hvDev}`;
/** Each floating IP of the desired domains, with the domain whose uplink its route uses. */
function fipRoutes(desired: ReadonlyMap<string, DomainNat>): Map<string, DomainNat> {
  const want = new Map<string, DomainNat>();
  for (const d of desired.values()) for (const fip of d.fips.keys()) want.set(fip, d);
  return want;
}

export class NatProgrammer {
  /** What each router namespace was last programmed with (the nat table's comment and its uplink). */
  private readonly programmed = new Map<string, { comment: string; uplink: string; domain: string }>();
  /** Floating-IP routes this programmer last wrote in the hypervisor namespace: address → `via|dev`. */
  private readonly routes = new Map<string, string>();
  private pnatProgrammed = false;

  constructor(private readonly options: AgentNaming & { hvNetns: string | undefined }) {}

  private ip(ns: string | undefined, args: string[], input?: string) {
    return run('ip', ns ? ['-n', ns, ...args] : args, input === undefined ? {} : { input });
  }

  /** Whether the router namespace has this nat table and this uplink, as this programmer last set them. */
  private isProgrammed(d: DomainNat): boolean {
    const p = this.programmed.get(d.ns);
    return p?.comment === natScript(d).comment && p.uplink === uplinkOf(d);
  }

  private remember(d: DomainNat, comment: string): void {
    this.programmed.set(d.ns, { comment, uplink: uplinkOf(d), domain: d.domain });
  }

  /** The floating-IP routes written: the last ones are forgotten, `want`'s recorded. */
  private rememberRoutes(want: ReadonlyMap<string, DomainNat>): void {
    this.routes.clear();
    for (const [fip, d] of want) this.routes.set(fip, routeVia(d));
  }

  private async json<T>(ns: string | undefined, args: string[]): Promise<T | undefined> {
    const r = await this.ip(ns, ['-j', ...args]);
    if (r.exitCode !== 0 || !r.stdout.trim()) return undefined;
    return JSON.parse(r.stdout) as T;
  }

  /** Programs the uplinks, routes and tables; returns error lines. `namespaces`: router namespaces that exist. */
  async apply(entries: Iterable<Entry>, namespaces: Iterable<string>, full: boolean): Promise<string[]> {
    const present = new Set(namespaces);
    // Uplinks this programmer set up stay while their router namespace does (applyOnKnownUplinks): a
    // floating IP that leaves and comes back, or moves between hypervisors and back, never waits for
    // a veth pair to be created (NAT-4). A full read starts from what the intent needs.
    const keep = new Set(full ? [] : [...this.programmed.values()].map((p) => p.domain));
    const desired = new Map([...deriveNat(entries, this.options, keep)].filter(([ns]) => present.has(ns)));
    const unchanged =
      !full &&
      desired.size === this.programmed.size &&
      [...desired.values()].every((d) => this.isProgrammed(d));
    if (unchanged) return [];
    if (!full && natCentral() === undefined) {
      const moved = await this.applyOnKnownUplinks(desired);
      if (moved) return moved;
    }
    const errors: string[] = [];
    const hv = this.options.hvNetns;
    const [linksJson, routesJson] = await Promise.all([
      this.json<LinkJson[]>(hv, ['addr', 'show']),
      this.json<RouteJson[]>(hv, ['route', 'show', 'proto', String(FIP_ROUTE_PROTO)]),
    ]);
    const links = linksJson ?? [];
    const wantDevs = new Set([...desired.values()].map((d) => d.hvDev));
    // Uplinks of domains that no longer need one (or whose router namespace went): gone with their routes.
    for (const l of links)
      if (/^nh[0-9a-f]{10}$/.test(l.ifname) && !wantDevs.has(l.ifname)) {
        const r = await this.ip(hv, ['link', 'del', l.ifname]);
        if (r.exitCode !== 0) errors.push(`nat: link del ${l.ifname}: ${r.stderr.trim()}`);
      }
    for (const ns of [...this.programmed.keys()]) if (!desired.has(ns)) this.programmed.delete(ns);
    const routes = routesJson ?? [];
    const wantRoutes = fipRoutes(desired);
    for (const r of routes) {
      const d = wantRoutes.get(r.dst);
      if (d && r.gateway === d.nsAddr && r.dev === d.hvDev) continue;
      await this.ip(hv, ['route', 'del', r.dst, 'proto', String(FIP_ROUTE_PROTO)]);
    }
    for (const d of desired.values()) {
      const have = links.find((l) => l.ifname === d.hvDev);
      if (!full && this.isProgrammed(d) && have) continue;
      errors.push(...(await this.program(d, have, full)));
      if (!errors.length) this.remember(d, natScript(d).comment);
      else this.programmed.delete(d.ns);
    }
    this.rememberRoutes(errors.length ? new Map() : wantRoutes);
    errors.push(...(await this.programPnat(desired, full)));
    errors.push(...(await this.centralSabotage(desired, links)));
    return errors;
  }

  /**
   * An incremental pass where every domain keeps the uplink this programmer gave it (a floating IP
   * assigned, moved or released; PNAT toggled): no kernel read, one `ip -batch` for the hypervisor's
   * floating-IP routes and one nft batch per changed nat table. A move is timed against T_conv
   * (NAT-4), and each process costs 200-290 ms to start on a busy 2-core machine. Undefined when a
   * domain gained, lost or changed its uplink: the full reconciliation (with reads) does that.
   */
  private async applyOnKnownUplinks(desired: Map<string, DomainNat>): Promise<string[] | undefined> {
    if (desired.size !== this.programmed.size) return undefined;
    for (const [ns, d] of desired) if (this.programmed.get(ns)?.uplink !== uplinkOf(d)) return undefined;
    const hv = this.options.hvNetns;
    const errors: string[] = [];
    const want = fipRoutes(desired);
    // Translations first, then the routes that bring traffic to them: a connection reaching the new
    // hypervisor before its DNAT rule would leave a conntrack entry without translation.
    for (const d of desired.values()) {
      const { script, comment } = natScript(d);
      const was = this.programmed.get(d.ns);
      if (was?.comment === comment) continue;
      const r = await nftApply(d.ns, script);
      if (r.exitCode !== 0) {
        errors.push(`nft (nat, ${d.ns}): ${r.stderr.trim().slice(0, 300)}`);
        this.programmed.delete(d.ns);
      } else this.remember(d, comment);
    }
    const lines: string[] = [];
    for (const [fip, d] of want)
      if (this.routes.get(fip) !== routeVia(d))
        lines.push(`route replace ${fip}/32 via ${d.nsAddr} dev ${d.hvDev} proto ${FIP_ROUTE_PROTO}`);
    for (const fip of this.routes.keys())
      if (!want.has(fip)) lines.push(`route del ${fip}/32 proto ${FIP_ROUTE_PROTO}`);
    if (lines.length) {
      // -force: a route already gone does not stop the others; any failure sends the next pass
      // through the full reconciliation, which reads the kernel.
      const r = await this.ip(hv, ['-force', '-batch', '-'], `${lines.join('\n')}\n`);
      if (r.exitCode !== 0) {
        errors.push(`nat routes (${hv ?? 'hypervisor'}): ${r.stderr.trim().slice(0, 300)}`);
        this.programmed.clear();
        this.routes.clear();
        return errors;
      }
      this.rememberRoutes(want);
    }
    errors.push(...(await this.programPnat(desired, false)));
    return errors;
  }

  /** The hypervisor's PNAT table: present exactly while a domain here uses PNAT. */
  private async programPnat(desired: Map<string, DomainNat>, full: boolean): Promise<string[]> {
    const errors: string[] = [];
    const hv = this.options.hvNetns;
    const needPnat = [...desired.values()].some((d) => d.pnat);
    if (needPnat && (full || !this.pnatProgrammed)) {
      const r = await nftApply(hv, pnatScript());
      if (r.exitCode !== 0) errors.push(`nft (pnat, hypervisor): ${r.stderr.trim().slice(0, 300)}`);
      else this.pnatProgrammed = true;
    } else if (!needPnat && (full || this.pnatProgrammed)) {
      // A nat hook in the hypervisor namespace makes conntrack track all its (underlay) traffic: the
      // table stays only while a domain here uses PNAT. Absent already is fine.
      await nftApply(hv, `table ip ${PNAT_TABLE}\ndelete table ip ${PNAT_TABLE}\n`);
      this.pnatProgrammed = false;
    }
    return errors;
  }

  /**
   * TEST-ONLY `nat-central=<address>` (reference-impl/sabotage.ts): a central egress node. Every
   * hypervisor joins a VXLAN overlay of its own (VNI 4242, UDP 4790, 169.254.99.0/24; the central one
   * is .1 and learns the others); every hypervisor but the central one sends what its uplinks forward
   * (policy rule per uplink) through it to the central node, which translates and routes on, instead
   * of straight to the PE.
   */
  private async centralSabotage(desired: Map<string, DomainNat>, links: LinkJson[]): Promise<string[]> {
    const central = natCentral();
    if (!central) return [];
    const hv = this.options.hvNetns;
    const own = links.find((l) => l.ifname === 'eth1')?.addr_info?.find((a) => a.family === 'inet')?.local;
    if (!own) return [];
    const isCentral = own === central;
    const host = isCentral ? 1 : (Number(own.split('.')[2]) % 250) + 2;
    const lines: string[] = [];
    if (!links.some((l) => l.ifname === 'otcentral'))
      lines.push(
        `link add otcentral type vxlan id 4242 local ${own}${isCentral ? '' : ` remote ${central}`} dstport 4790`,
        `addr add 169.254.99.${host}/24 dev otcentral`,
      );
    lines.push('link set otcentral up');
    if (!isCentral) {
      lines.push('route replace default via 169.254.99.1 dev otcentral table 4242');
      for (const d of desired.values()) lines.push(`rule add iif ${d.hvDev} table 4242 priority 4242`);
    }
    // Duplicate rules are refused by `rule add`: -force goes on past them.
    await this.ip(hv, ['-force', '-batch', '-'], `${lines.join('\n')}\n`);
    return [];
  }

  /**
   * One `ip -batch` per namespace (hypervisor side, router side) and one nft batch through the
   * session, not one process per command (timed against T_conv, NAT-4). A new uplink gets its
   * floating-IP routes last, in a third `ip -batch`, once the router side has its address and the
   * translation is in place. Measured in NAT-4 (moves onto a new uplink): 292-1335 ms with the routes
   * in the first batch, 271-513 ms (7 runs) with them last. The likely cause, not proven: a packet
   * routed into the veth before its peer has an address leaves an unanswered ARP, asked again ~1 s later.
   */
  private async program(d: DomainNat, have: LinkJson | undefined, full: boolean): Promise<string[]> {
    const hv = this.options.hvNetns;
    const errors: string[] = [];
    const batch = async (ns: string | undefined, lines: string[]) => {
      const r = await this.ip(ns, ['-batch', '-'], `${lines.join('\n')}\n`);
      if (r.exitCode !== 0) errors.push(`nat (${ns ?? 'hypervisor'}): ${r.stderr.trim().slice(0, 300)}`);
    };
    const hvLines: string[] = [];
    if (!have) hvLines.push(`link add ${d.hvDev} type veth peer name ${UPLINK} netns ${d.ns}`);
    if (have && !have.addr_info?.some((a) => a.local === d.hvAddr)) hvLines.push(`addr flush dev ${d.hvDev}`);
    if (!have?.addr_info?.some((a) => a.local === d.hvAddr))
      hvLines.push(`addr add ${d.hvAddr}/30 dev ${d.hvDev}`);
    hvLines.push(`link set ${d.hvDev} up`);
    const routeLines = [...d.fips.keys()].map(
      (fip) => `route replace ${fip}/32 via ${d.nsAddr} dev ${d.hvDev} proto ${FIP_ROUTE_PROTO}`,
    );
    await batch(hv, have ? [...hvLines, ...routeLines] : hvLines);
    await batch(d.ns, [
      `addr replace ${d.nsAddr}/30 dev ${UPLINK}`,
      `link set ${UPLINK} up`,
      `route replace default via ${d.hvAddr} dev ${UPLINK}`,
    ]);
    const { script, comment } = natScript(d);
    // Full reads (start, resync) trust the kernel, not memory: the table's comment names its script.
    const current = full ? await nftTableComment(d.ns, 'ip', NAT_TABLE) : this.programmed.get(d.ns)?.comment;
    if (current !== comment) {
      const r = await nftApply(d.ns, script);
      if (r.exitCode !== 0) errors.push(`nft (nat, ${d.ns}): ${r.stderr.trim().slice(0, 300)}`);
    }
    if (!have && routeLines.length) await batch(hv, routeLines);
    return errors;
  }
}
