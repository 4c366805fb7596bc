/**
 * Where the zone's vports sit, indexed both ways, so that one hypervisor's entries cost what that
 * hypervisor holds rather than a pass over every vport of the zone (with 500 hypervisors and 50,000
 * vports, a full recompute that scanned every vport per hypervisor took longer than BGP's hold time:
 * docs/scale.md). Kept in step with the world's vports change by change; rebuilt from the maps
 * whenever subnets change or the world reloads.
 */
import type { Subnet, Vport } from '../directory/model.ts';

export class Placement {
  /** Hypervisor → domain → how many of its vports are there (a domain is hosted while > 0). */
  readonly domainsByHv = new Map<string, Map<string, number>>();
  /** Domain → hypervisor → the same counts: who hosts a domain (its flood list). */
  readonly hvsByDomain = new Map<string, Map<string, number>>();
  /** Subnet id → ids of its vports. */
  readonly vportsBySubnet = new Map<string, Set<string>>();
  /** Domain → its subnets, and VNI → the subnets carrying it (one, unless the intent repeats a VNI). */
  readonly subnetsByDomain = new Map<string, Subnet[]>();
  readonly subnetsByVni = new Map<number, Subnet[]>();

  constructor(
    private readonly subnets: ReadonlyMap<string, Subnet>,
    vports: Iterable<Vport>,
  ) {
    for (const s of subnets.values()) {
      push(this.subnetsByDomain, s.domain, s);
      push(this.subnetsByVni, s.vni, s);
    }
    for (const v of vports) this.count(v, 1);
  }

  /**
   * Adds (`delta` 1) or removes (-1) a vport as it is in the world's maps; true when its domain
   * starts or stops being hosted on its hypervisor. A vport whose subnet is unknown counts nowhere.
   */
  count(v: Vport, delta: 1 | -1): boolean {
    const s = this.subnets.get(v.subnet);
    if (!s) return false;
    const ids = this.vportsBySubnet.get(v.subnet) ?? new Set<string>();
    this.vportsBySubnet.set(v.subnet, ids);
    if (delta > 0) ids.add(v.id);
    else ids.delete(v.id);
    bump(this.hvsByDomain, s.domain, v.hypervisor, delta);
    return bump(this.domainsByHv, v.hypervisor, s.domain, delta);
  }

  /** Domains with at least one vport on the hypervisor. */
  domainsOn(hypervisorId: string): Iterable<string> {
    return this.domainsByHv.get(hypervisorId)?.keys() ?? [];
  }

  /** Hypervisors with at least one vport in the domain. */
  hostsOf(domainId: string): Iterable<string> {
    return this.hvsByDomain.get(domainId)?.keys() ?? [];
  }

  /** Subnets instantiated on a hypervisor (every subnet of every domain it hosts), by VNI. */
  vnisOn(hypervisorId: string): Map<number, Subnet> {
    const out = new Map<number, Subnet>();
    for (const d of this.domainsOn(hypervisorId))
      for (const s of this.subnetsByDomain.get(d) ?? []) out.set(s.vni, s);
    return out;
  }
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/** Adds `delta` to map[outer][inner], dropping zero counts and empty maps; true when it crossed zero. */
function bump(map: Map<string, Map<string, number>>, outer: string, inner: string, delta: number): boolean {
  let counts = map.get(outer);
  if (!counts) {
    counts = new Map();
    map.set(outer, counts);
  }
  const before = counts.get(inner) ?? 0;
  const after = before + delta;
  if (after > 0) counts.set(inner, after);
  else counts.delete(inner);
  if (counts.size === 0) map.delete(outer);
  return before > 0 !== after > 0;
}
