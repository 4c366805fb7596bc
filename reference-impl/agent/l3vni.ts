/**
 * L3 VNIs in the agent's datapath (protocol 1.6, docs/federation.md): a routing domain with an L3 VNI
 * gets, in its router namespace, a VXLAN device `l3vni<vni>` (created in the hypervisor namespace with
 * the VTEP as `local`, then moved in, like the subnets' devices) whose MAC is the hypervisor's router
 * MAC on that VNI. Frames arriving on it addressed to that MAC (a PE routing into the domain, RFC 9136
 * symmetric model) go up to the router namespace, which routes them into the subnet. Each imported
 * prefix (a `prefix` entry: a PE's VRF) is a route over the device, with the PE's VTEP as gateway
 * `onlink`, a permanent neighbour (gateway → the PE's router MAC) and a static fdb entry (the PE's
 * router MAC → its VTEP).
 *
 * Programming: per router namespace, the desired state is compared with what was last programmed; on
 * full passes (start, resync) the namespace's routes over the device are read back with `ip -j`.
 * Routes are `replace`d, stale ones deleted; neighbour and fdb entries follow the routes' gateways.
 */
import { run } from '../../harness/util/exec.ts';
import type { Entry } from '../protocol/messages.ts';
import { sabotaged } from '../sabotage.ts';
import { type AgentNaming, domainNsName } from './model.ts';

export function l3DeviceName(l3Vni: number): string {
  return `l3vni${l3Vni}`;
}

/** Temporary name in the hypervisor namespace (not `otv…`: those are the subnets' leftovers). */
function l3TempName(l3Vni: number): string {
  return `otl${l3Vni}`;
}

export interface DomainL3 {
  ns: string;
  l3Vni: number;
  routerMac: string;
  /** prefix → the PE's VTEP and router MAC */
  prefixes: Map<string, { vtep: string; routerMac: string }>;
}

/** Desired L3 VNI state per router namespace (domains with an L3 VNI only). */
export function deriveL3(entries: Iterable<Entry>, naming: AgentNaming): Map<string, DomainL3> {
  const out = new Map<string, DomainL3>();
  const byDomain = new Map<string, DomainL3>();
  const prefixes: Array<Extract<Entry, { kind: 'prefix' }>> = [];
  for (const e of entries) {
    if (e.kind === 'domain' && typeof e.l3Vni === 'number' && e.routerMac) {
      const d: DomainL3 = {
        ns: domainNsName(naming, e.id),
        l3Vni: e.l3Vni,
        routerMac: e.routerMac,
        prefixes: new Map(),
      };
      byDomain.set(e.id, d);
      out.set(d.ns, d);
    } else if (e.kind === 'prefix') prefixes.push(e);
  }
  for (const p of prefixes) {
    // TEST-ONLY `type5-no-import` sabotage (reference-impl/sabotage.ts): imported prefixes never programmed.
    if (sabotaged('type5-no-import')) continue;
    byDomain.get(p.domain)?.prefixes.set(p.prefix, { vtep: p.vtep, routerMac: p.routerMac });
  }
  return out;
}

function signature(d: DomainL3): string {
  return JSON.stringify([d.l3Vni, d.routerMac, [...d.prefixes].sort()]);
}

interface RouteJson {
  dst: string;
  gateway?: string;
}

export class L3VniProgrammer {
  private readonly programmed = new Map<string, string>();

  constructor(private readonly options: AgentNaming & { hvNetns: string | undefined; vtep: string }) {}

  private ip(ns: string | undefined, args: string[], input?: string) {
    return run('ip', ns ? ['-n', ns, ...args] : args, input === undefined ? {} : { input });
  }

  /** Programs every domain's L3 VNI; returns error lines. `namespaces`: router namespaces that exist. */
  async apply(entries: Iterable<Entry>, namespaces: Iterable<string>, full: boolean): Promise<string[]> {
    const present = new Set(namespaces);
    const desired = [...deriveL3(entries, this.options).values()].filter((d) => present.has(d.ns));
    for (const ns of [...this.programmed.keys()]) if (!present.has(ns)) this.programmed.delete(ns);
    const errors: string[] = [];
    for (const d of desired) {
      const sig = signature(d);
      if (!full && this.programmed.get(d.ns) === sig) continue;
      const problems = await this.program(d);
      errors.push(...problems);
      if (problems.length === 0) this.programmed.set(d.ns, sig);
      else this.programmed.delete(d.ns);
    }
    return errors;
  }

  private async program(d: DomainL3): Promise<string[]> {
    const errors: string[] = [];
    const dev = l3DeviceName(d.l3Vni);
    const batch = async (ns: string | undefined, lines: string[], force = false) => {
      if (lines.length === 0) return;
      const r = await this.ip(ns, [...(force ? ['-force'] : []), '-batch', '-'], `${lines.join('\n')}\n`);
      if (r.exitCode !== 0 && !force)
        errors.push(`l3vni (${ns ?? 'hypervisor'}): ${r.stderr.trim().slice(0, 300)}`);
    };
    const exists = (await this.ip(d.ns, ['link', 'show', dev])).exitCode === 0;
    if (!exists) {
      const tmp = l3TempName(d.l3Vni);
      await batch(this.options.hvNetns, [`link del ${tmp}`], true);
      await batch(this.options.hvNetns, [
        `link add ${tmp} type vxlan id ${d.l3Vni} local ${this.options.vtep} dstport 4789 nolearning`,
        `link set ${tmp} netns ${d.ns}`,
      ]);
      await batch(d.ns, [`link set ${tmp} name ${dev}`]);
    }
    await batch(d.ns, [`link set ${dev} address ${d.routerMac}`, `link set ${dev} up`]);
    const r = await this.ip(d.ns, ['-j', 'route', 'show', 'dev', dev]);
    const routes = r.exitCode === 0 && r.stdout.trim() ? (JSON.parse(r.stdout) as RouteJson[]) : [];
    const lines: string[] = [];
    for (const route of routes)
      if (!d.prefixes.has(route.dst)) lines.push(`route del ${route.dst} dev ${dev}`);
    const gateways = new Map<string, string>();
    for (const [prefix, via] of [...d.prefixes].sort()) {
      gateways.set(via.vtep, via.routerMac);
      lines.push(`route replace ${prefix} via ${via.vtep} dev ${dev} onlink`);
    }
    for (const [vtep, mac] of gateways)
      lines.push(`neigh replace ${vtep} lladdr ${mac} dev ${dev} nud permanent`);
    await batch(d.ns, lines);
    const fdb = [...gateways].map(
      ([vtep, mac]) => `fdb replace ${mac} dev ${dev} dst ${vtep} self permanent`,
    );
    if (fdb.length) {
      const b = await run('bridge', ['-n', d.ns, '-batch', '-'], { input: `${fdb.join('\n')}\n` });
      if (b.exitCode !== 0) errors.push(`l3vni fdb (${d.ns}): ${b.stderr.trim().slice(0, 300)}`);
    }
    return errors;
  }
}
