/**
 * The controller's view of the world: the directory's objects (followed by snapshot + change
 * stream) and the EVPN routes learned from BGP for other zones. Pure computation from it:
 *   - `entriesFor(hypervisor)`: the desired state pushed to one agent;
 *   - `originations()`: the type-2/type-3 routes this zone's controller announces.
 * Own-zone reachability comes from the directory; other zones' only from BGP.
 */
import type { Change, Domain, Hypervisor, Snapshot, Subnet, Vport } from '../directory/model.ts';
import type { Entry, MacEntry } from '../protocol/messages.ts';
import { sabotaged } from '../sabotage.ts';

/** A remote MAC/IP (type-2) as learned from BGP. */
export interface LearnedMac {
  /** Who originated it (the RD's administrator part: the originating controller). */
  origin: string;
  vni: number;
  mac: string;
  ip: string | undefined;
  vtep: string;
  seq: number;
  routeTargets: string[];
}

/** A remote flood member (type-3) as learned from BGP. */
export interface LearnedFlood {
  origin: string;
  vni: number;
  vtep: string;
  routeTargets: string[];
}

export interface OriginatedType2 {
  kind: 'type2';
  vni: number;
  mac: string;
  ip: string;
  vtep: string;
  seq: number;
  routeTarget: string;
}

export interface OriginatedType3 {
  kind: 'type3';
  vni: number;
  vtep: string;
  routeTarget: string;
}

export type Origination = OriginatedType2 | OriginatedType3;

export function originationKey(o: Origination): string {
  return o.kind === 'type2' ? `2/${o.vni}/${o.mac}/${o.ip}` : `3/${o.vni}/${o.vtep}`;
}

export class World {
  revision = 0;
  readonly hypervisors = new Map<string, Hypervisor>();
  readonly domains = new Map<string, Domain>();
  readonly subnets = new Map<string, Subnet>();
  readonly vports = new Map<string, Vport>();
  /** BGP-learned, keyed by the speaker's route key. */
  readonly learnedMacs = new Map<string, LearnedMac>();
  readonly learnedFloods = new Map<string, LearnedFlood>();
  /** Last MAC mobility sequence and location seen per `${vni}/${mac}` (survives withdrawals). */
  private readonly mobility = new Map<string, { seq: number; vtep: string }>();
  /**
   * MACs local VMs announced for their address (gratuitous ARP, reported by their agent), per vport
   * id: the vport's effective MAC while it stays on that hypervisor. Controller-side runtime state,
   * not written to the directory (the directory holds the provisioned identity); agents re-report
   * their observations after every sync, so a restarted controller learns them again.
   */
  readonly observedMacs = new Map<string, { mac: string; hypervisor: string }>();

  constructor(readonly zone: string) {}

  loadSnapshot(snapshot: Snapshot): void {
    this.hypervisors.clear();
    this.domains.clear();
    this.subnets.clear();
    const previousVports = new Map(this.vports);
    this.vports.clear();
    for (const h of snapshot.objects.hypervisors) this.hypervisors.set(h.id, h);
    for (const d of snapshot.objects.domains) this.domains.set(d.id, d);
    for (const s of snapshot.objects.subnets) this.subnets.set(s.id, s);
    for (const v of snapshot.objects.vports) {
      this.vports.set(v.id, v);
      const before = previousVports.get(v.id);
      this.noteLocation(v, before);
    }
    for (const [id, o] of this.observedMacs)
      if (this.vports.get(id)?.hypervisor !== o.hypervisor) this.observedMacs.delete(id);
    this.revision = snapshot.revision;
  }

  applyChange(change: Change): void {
    this.revision = change.revision;
    const o = change.object as unknown;
    const del = change.op === 'delete';
    switch (change.collection) {
      case 'hypervisors':
        if (del) this.hypervisors.delete(change.id);
        else this.hypervisors.set(change.id, o as Hypervisor);
        break;
      case 'domains':
        if (del) this.domains.delete(change.id);
        else this.domains.set(change.id, o as Domain);
        break;
      case 'subnets':
        if (del) this.subnets.delete(change.id);
        else this.subnets.set(change.id, o as Subnet);
        break;
      case 'vports': {
        if (del) {
          this.vports.delete(change.id);
          this.observedMacs.delete(change.id);
          break;
        }
        const before = (change.previous as Vport | undefined) ?? this.vports.get(change.id);
        this.vports.set(change.id, o as Vport);
        // A moved VM is re-created with its provisioned MAC: an observation was about the old place.
        if (this.observedMacs.get(change.id)?.hypervisor !== (o as Vport).hypervisor)
          this.observedMacs.delete(change.id);
        this.noteLocation(o as Vport, before);
        break;
      }
      default:
        break;
    }
  }

  /** The MAC a vport is reached at: the one its VM announced, else the provisioned one. */
  effectiveMac(v: Vport): string {
    const o = this.observedMacs.get(v.id);
    return o && o.hypervisor === v.hypervisor ? o.mac : v.mac;
  }

  /**
   * A local VM announced `mac` for its address (agent `observe`, catalogue ARP-3). Accepted only
   * from the vport's own hypervisor and for the vport's own IP. The new MAC is a new type-2 (the old
   * one is withdrawn with the next origination diff); if that MAC was last seen at another VTEP it
   * gets the next MAC mobility sequence (RFC 7432 §15), as for a move. Returns true when it changed.
   */
  observeMac(hypervisorId: string, vportId: string, mac: string, ip: string): boolean {
    const v = this.vports.get(vportId);
    if (!v || v.hypervisor !== hypervisorId || v.ip !== ip) return false;
    const norm = mac.toLowerCase();
    if (this.effectiveMac(v) === norm) return false;
    if (norm === v.mac.toLowerCase()) this.observedMacs.delete(vportId);
    else this.observedMacs.set(vportId, { mac: norm, hypervisor: hypervisorId });
    const subnet = this.subnets.get(v.subnet);
    const hv = this.hypervisors.get(v.hypervisor);
    if (subnet && hv) {
      const key = `${subnet.vni}/${norm}`;
      const known = this.mobility.get(key);
      if (!known) this.mobility.set(key, { seq: 0, vtep: hv.vtep });
      else if (known.vtep !== hv.vtep) this.mobility.set(key, { seq: known.seq + 1, vtep: hv.vtep });
    }
    return true;
  }

  /** MAC mobility (RFC 7432 §15): a MAC seen at a new VTEP gets the last sequence + 1. */
  private noteLocation(vport: Vport, before: Vport | undefined): void {
    const subnet = this.subnets.get(vport.subnet);
    const hv = this.hypervisors.get(vport.hypervisor);
    if (!subnet || !hv) return;
    const key = `${subnet.vni}/${vport.mac}`;
    const known = this.mobility.get(key);
    if (!known) {
      const moved = before && before.hypervisor !== vport.hypervisor;
      this.mobility.set(key, { seq: moved ? 1 : 0, vtep: hv.vtep });
      return;
    }
    if (known.vtep !== hv.vtep) this.mobility.set(key, { seq: known.seq + 1, vtep: hv.vtep });
  }

  /**
   * Withdrawal handling that tells a detach from a controller failure. A withdrawn route is kept
   * `withdrawingMs`; then, if its originator (the controller named by the RD) still has live routes,
   * the withdrawal was real and the route goes; if the originator has none left, the controller (or
   * its BGP session) died: its routes are kept as stale, so other zones keep forwarding to its
   * hypervisors, until it comes back and re-announces (stale ones not re-announced within
   * `staleAfterReturnMs` go) or `staleMaxMs` passes.
   */
  private readonly withdrawals = new Map<
    string,
    { kind: 'mac' | 'flood'; since: number; stale: boolean; origin: string }
  >();
  private readonly originReturnedAt = new Map<string, number>();
  withdrawingMs = 300;
  staleAfterReturnMs = 15_000;
  staleMaxMs = 600_000;

  private originLive(origin: string): boolean {
    for (const [k, m] of this.learnedMacs) if (m.origin === origin && !this.withdrawals.has(k)) return true;
    for (const [k, f] of this.learnedFloods) if (f.origin === origin && !this.withdrawals.has(k)) return true;
    return false;
  }

  private noteLive(key: string, origin: string): void {
    const wasLive = this.originLive(origin);
    this.withdrawals.delete(key);
    if (!wasLive) this.originReturnedAt.set(origin, Date.now());
  }

  /** Ages withdrawals; returns true when the learned routes changed. */
  tick(now = Date.now()): boolean {
    let changed = false;
    for (const [key, w] of this.withdrawals) {
      const drop = () => {
        this.withdrawals.delete(key);
        if (w.kind === 'mac') this.learnedMacs.delete(key);
        else this.learnedFloods.delete(key);
        changed = true;
      };
      if (!w.stale) {
        if (now - w.since < this.withdrawingMs) continue;
        // TEST-ONLY `no-stale` sabotage (reference-impl/sabotage.ts): a vanished originator's routes go too.
        if (this.originLive(w.origin) || sabotaged('no-stale')) drop();
        else {
          w.stale = true;
          w.since = now;
        }
        continue;
      }
      const back = this.originReturnedAt.get(w.origin) ?? 0;
      if (
        (this.originLive(w.origin) && back > w.since && now - back > this.staleAfterReturnMs) ||
        now - w.since > this.staleMaxMs
      )
        drop();
    }
    return changed;
  }

  /** Number of learned routes currently kept as stale (their originator is gone). */
  staleCount(): number {
    return [...this.withdrawals.values()].filter((w) => w.stale).length;
  }

  /** Records a learned type-2 (and its mobility sequence). */
  learnMac(key: string, mac: LearnedMac | undefined): void {
    if (!mac) {
      const cur = this.learnedMacs.get(key);
      if (cur && !this.withdrawals.has(key))
        this.withdrawals.set(key, { kind: 'mac', since: Date.now(), stale: false, origin: cur.origin });
      return;
    }
    this.noteLive(key, mac.origin);
    this.learnedMacs.set(key, mac);
    const mkey = `${mac.vni}/${mac.mac}`;
    const known = this.mobility.get(mkey);
    if (!known || mac.seq > known.seq) this.mobility.set(mkey, { seq: mac.seq, vtep: mac.vtep });
  }

  learnFlood(key: string, flood: LearnedFlood | undefined): void {
    if (!flood) {
      const cur = this.learnedFloods.get(key);
      if (cur && !this.withdrawals.has(key))
        this.withdrawals.set(key, { kind: 'flood', since: Date.now(), stale: false, origin: cur.origin });
      return;
    }
    this.noteLive(key, flood.origin);
    this.learnedFloods.set(key, flood);
  }

  mobilitySeq(vni: number, mac: string): number {
    return this.mobility.get(`${vni}/${mac}`)?.seq ?? 0;
  }

  isOwnZoneVtep(vtep: string): boolean {
    for (const h of this.hypervisors.values()) if (h.vtep === vtep && h.zone === this.zone) return true;
    return false;
  }

  ownHypervisors(): Hypervisor[] {
    return [...this.hypervisors.values()].filter((h) => h.zone === this.zone);
  }

  /** Domains with at least one vport on the hypervisor (they are instantiated there). */
  domainsOn(hypervisorId: string): Set<string> {
    const out = new Set<string>();
    for (const v of this.vports.values()) {
      if (v.hypervisor !== hypervisorId) continue;
      const s = this.subnets.get(v.subnet);
      if (s) out.add(s.domain);
    }
    return out;
  }

  /** VNIs instantiated on each own-zone hypervisor: every subnet of every domain it hosts. */
  vnisByHypervisor(): Map<string, Set<number>> {
    const domainsByHv = new Map<string, Set<string>>();
    for (const v of this.vports.values()) {
      const s = this.subnets.get(v.subnet);
      if (!s) continue;
      let set = domainsByHv.get(v.hypervisor);
      if (!set) {
        set = new Set();
        domainsByHv.set(v.hypervisor, set);
      }
      set.add(s.domain);
    }
    const out = new Map<string, Set<number>>();
    for (const [hv, domains] of domainsByHv) {
      const vnis = new Set<number>();
      for (const s of this.subnets.values()) if (domains.has(s.domain)) vnis.add(s.vni);
      out.set(hv, vnis);
    }
    return out;
  }

  /** Desired entries of one agent. */
  entriesFor(hypervisorId: string): Entry[] {
    const hv = this.hypervisors.get(hypervisorId);
    if (!hv) return [];
    const entries: Entry[] = [];
    const domains = this.domainsOn(hypervisorId);
    const vnis = new Map<number, Subnet>();
    for (const id of domains) {
      const d = this.domains.get(id);
      if (d) entries.push({ kind: 'domain', id: d.id, tenant: d.tenant });
    }
    for (const s of this.subnets.values()) {
      if (!domains.has(s.domain)) continue;
      vnis.set(s.vni, s);
      entries.push({
        kind: 'subnet',
        id: s.id,
        domain: s.domain,
        vni: s.vni,
        prefix: s.prefix,
        gateway: s.gateway,
        gatewayMac: s.gatewayMac,
      });
    }
    const macs = new Map<string, MacEntry>();
    for (const v of this.vports.values()) {
      let s = this.subnets.get(v.subnet);
      // TEST-ONLY `cross-tenant-arp` sabotage (reference-impl/sabotage.ts): another tenant's VM is
      // pushed into a local subnet with the same prefix.
      if (s && !vnis.has(s.vni) && sabotaged('cross-tenant-arp')) {
        const prefix = s.prefix;
        s = [...vnis.values()].find((local) => local.prefix === prefix);
      }
      if (!s || !vnis.has(s.vni)) continue;
      const mac = this.effectiveMac(v);
      if (v.hypervisor === hypervisorId) {
        entries.push({
          kind: 'vport',
          id: v.id,
          subnet: v.subnet,
          vni: s.vni,
          mac: v.mac,
          ip: v.ip,
          ...(mac !== v.mac ? { observedMac: mac } : {}),
        });
        continue;
      }
      const other = this.hypervisors.get(v.hypervisor);
      if (!other || other.zone !== this.zone) continue; // other zones: from BGP only
      macs.set(`${s.vni}/${mac}`, {
        kind: 'mac',
        vni: s.vni,
        mac,
        ip: v.ip,
        vtep: other.vtep,
        seq: this.mobilitySeq(s.vni, mac),
      });
    }
    // Own-zone MACs are live by definition; among learned ones a live route beats a withdrawn one.
    const liveMacs = new Set(macs.keys());
    for (const [mkey, m] of this.learnedMacs) {
      const s = vnis.get(m.vni);
      // Import by route target (not under the TEST-ONLY `ignore-rt` sabotage, reference-impl/sabotage.ts).
      if (!s || (!m.routeTargets.includes(s.routeTarget) && !sabotaged('ignore-rt'))) continue;
      if (this.isOwnZoneVtep(m.vtep)) continue; // own zone: the directory is authoritative
      const key = `${m.vni}/${m.mac}`;
      const live = !this.withdrawals.has(mkey);
      const cur = macs.get(key);
      const curLive = liveMacs.has(key);
      const replace = !cur || (live && !curLive) || (live === curLive && m.seq > cur.seq);
      if (!replace) {
        if (cur.ip === undefined && m.ip && live === curLive) cur.ip = m.ip;
        continue;
      }
      macs.set(key, { kind: 'mac', vni: m.vni, mac: m.mac, ip: m.ip ?? cur?.ip, vtep: m.vtep, seq: m.seq });
      if (live) liveMacs.add(key);
    }
    // An address whose MAC changed (ARP-3) is briefly claimed by the withdrawn old route and the new
    // one: the proxy ARP table follows the live route, the withdrawn one keeps only its MAC.
    const liveIps = new Set<string>();
    for (const [key, m] of macs) if (liveMacs.has(key) && m.ip) liveIps.add(`${m.vni}/${m.ip}`);
    for (const [key, m] of macs)
      if (!liveMacs.has(key) && m.ip && liveIps.has(`${m.vni}/${m.ip}`))
        macs.set(key, { ...m, ip: undefined });
    entries.push(...macs.values());
    const floods = new Set<string>();
    for (const [otherId, otherVnis] of this.vnisByHypervisor()) {
      const other = this.hypervisors.get(otherId);
      if (!other || otherId === hypervisorId || other.zone !== this.zone) continue;
      for (const vni of otherVnis) if (vnis.has(vni)) floods.add(`${vni}/${other.vtep}`);
    }
    for (const f of this.learnedFloods.values()) {
      const s = vnis.get(f.vni);
      if (!s || !f.routeTargets.includes(s.routeTarget) || this.isOwnZoneVtep(f.vtep)) continue;
      floods.add(`${f.vni}/${f.vtep}`);
    }
    // TEST-ONLY `flood-all-vteps` sabotage (reference-impl/sabotage.ts): every known VTEP in every flood list.
    if (sabotaged('flood-all-vteps')) {
      const known = [
        ...this.ownHypervisors().map((h) => h.vtep),
        ...[...this.learnedFloods.values()].map((f) => f.vtep),
      ];
      for (const vni of vnis.keys()) for (const vtep of known) floods.add(`${vni}/${vtep}`);
    }
    for (const key of floods) {
      const [vni, vtep] = key.split('/') as [string, string];
      if (vtep !== hv.vtep) entries.push({ kind: 'flood', vni: Number(vni), vtep });
    }
    return entries;
  }

  /** Routes this zone originates: type-3 per instantiated VNI per hypervisor, type-2 per vport. */
  originations(): Origination[] {
    const out: Origination[] = [];
    for (const [hvId, vnis] of this.vnisByHypervisor()) {
      const hv = this.hypervisors.get(hvId);
      if (!hv || hv.zone !== this.zone) continue;
      for (const vni of vnis) {
        const subnet = [...this.subnets.values()].find((s) => s.vni === vni);
        if (subnet) out.push({ kind: 'type3', vni, vtep: hv.vtep, routeTarget: subnet.routeTarget });
      }
    }
    for (const v of this.vports.values()) {
      const hv = this.hypervisors.get(v.hypervisor);
      const s = this.subnets.get(v.subnet);
      if (!hv || !s || hv.zone !== this.zone) continue;
      const mac = this.effectiveMac(v);
      out.push({
        kind: 'type2',
        vni: s.vni,
        mac,
        ip: v.ip,
        vtep: hv.vtep,
        seq: this.mobilitySeq(s.vni, mac),
        routeTarget: s.routeTarget,
      });
    }
    return out;
  }
}
