/**
 * The controller's view of the world: the directory's objects (followed by snapshot + change
 * stream) and the EVPN routes learned from BGP for other zones. Pure computation from it:
 *   - `entriesFor(hypervisor)`: the desired state pushed to one agent;
 *   - `originations()`: the type-2/type-3 routes this zone's controller announces, and a type-5 per
 *     subnet of each domain with an L3 VNI per own hypervisor hosting it (docs/federation.md).
 * Own-zone reachability comes from the directory; other zones' only from BGP. Security group
 * membership of a remote VM comes only from its route: the secgroup communities of a learned type-2
 * (other zones), or the groups this zone's own type-2 of that VM carries (own zone), never from
 * another zone's directory objects. Groups and rules (policy) come from the directory.
 */
import type {
  Change,
  Domain,
  FloatingIp,
  Gateway,
  GatewayBinding,
  Hypervisor,
  RedirectionTarget,
  SecurityGroup,
  SecurityRule,
  Snapshot,
  Subnet,
  Vport,
} from '../directory/model.ts';
import { cidrsOverlap, parseCidr4, routerMacFor } from '../protocol/addr.ts';
import type { ApplianceAddress, Entry, MacEntry, PrefixEntry, RedirectEntry } from '../protocol/messages.ts';
import { gatewayVniIgnored, sabotaged } from '../sabotage.ts';
import {
  DuplicateMacDetector,
  type DuplicateMacPolicy,
  type FrozenMac,
  RFC7432_DUPLICATE_MAC,
} from './duplicate-mac.ts';
import { Placement } from './placement.ts';
import { ruleEntriesFor } from './security.ts';

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
  /** Security group ids from the route's secgroup communities (sorted; absent = none). */
  groups?: number[];
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
  /** Absent for a MAC-only route (a host behind a gateway, known by its MAC alone). */
  ip: string | undefined;
  vtep: string;
  seq: number;
  routeTarget: string;
  /** Security group ids, one secgroup community each (sorted; absent = none). */
  groups?: number[];
}

export interface OriginatedType3 {
  kind: 'type3';
  vni: number;
  vtep: string;
  routeTarget: string;
}

/** An IP prefix route (RFC 9136) of a domain's subnet, from one hypervisor on the domain's L3 VNI. */
export interface OriginatedType5 {
  kind: 'type5';
  l3Vni: number;
  prefix: string;
  vtep: string;
  routerMac: string;
  routeTarget: string;
}

/** A type-5 route learned from BGP (a PE's VRF prefix, or another zone's subnet). */
export interface LearnedPrefix {
  prefix: string;
  /** The label: the sender's L3 VNI. */
  l3Vni: number;
  vtep: string;
  routerMac: string | undefined;
  routeTargets: string[];
}

export type Origination = OriginatedType2 | OriginatedType3 | OriginatedType5;

export function originationKey(o: Origination): string {
  if (o.kind === 'type5') return `5/${o.vtep}/${o.prefix}`;
  return o.kind === 'type2' ? `2/${o.vni}/${o.mac}/${o.ip ?? ''}` : `3/${o.vni}/${o.vtep}`;
}

/** What changed since the last recompute (World.takeDirty). */
export interface Dirty {
  all: boolean;
  vports: Set<string>;
  macs: Set<string>;
  hosting: Map<string, Set<string>>;
}

const emptyDirty = (all: boolean): Dirty => ({ all, vports: new Set(), macs: new Set(), hosting: new Map() });

/** Learned routes in key order: ties between equal routes are broken the same way everywhere. */
const byLearnKey = ([a]: [string, unknown], [b]: [string, unknown]) => (a < b ? -1 : a > b ? 1 : 0);

export class World {
  revision = 0;
  readonly hypervisors = new Map<string, Hypervisor>();
  readonly domains = new Map<string, Domain>();
  readonly subnets = new Map<string, Subnet>();
  readonly vports = new Map<string, Vport>();
  readonly securityGroups = new Map<string, SecurityGroup>();
  readonly securityRules = new Map<string, SecurityRule>();
  readonly floatingIps = new Map<string, FloatingIp>();
  readonly redirectionTargets = new Map<string, RedirectionTarget>();
  readonly gateways = new Map<string, Gateway>();
  readonly gatewayBindings = new Map<string, GatewayBinding>();
  /**
   * What the controller read from its zone's gateways over OVSDB (controller-side runtime state, like
   * observedMacs): per gateway id, the tunnel IP of its Physical_Switch (its registration, GW-1) and
   * the MACs it learned on its ports (Ucast_Macs_Local, `vni/mac` keys).
   */
  readonly gatewayState = new Map<string, { tunnelIp: string; macs: Set<string> }>();
  /** Groups a vport's route was first announced with (the `sg-drop-membership-update` sabotage only). */
  private readonly firstGroups = new Map<string, number[]>();
  /** BGP-learned, keyed by the speaker's route key. */
  readonly learnedMacs = new Map<string, LearnedMac>();
  readonly learnedFloods = new Map<string, LearnedFlood>();
  readonly learnedPrefixes = new Map<string, LearnedPrefix>();
  /** Last MAC mobility sequence and location seen per `${vni}/${mac}` (survives withdrawals). */
  private readonly mobility = new Map<string, { seq: number; vtep: string }>();
  /**
   * MACs local VMs announced for their address (gratuitous ARP, reported by their agent), per vport
   * id: the vport's effective MAC while it stays on that hypervisor. Controller-side runtime state,
   * not written to the directory (the directory holds the provisioned identity); agents re-report
   * their observations after every sync, so a restarted controller learns them again.
   */
  readonly observedMacs = new Map<string, { mac: string; hypervisor: string }>();
  /**
   * Appliance vports their own hypervisor's agent reported as not answering its liveness probe
   * (agent `appliance`, SVC-5): a redirection whose active appliance is here steers to its standby.
   */
  readonly failedAppliances = new Set<string>();

  /**
   * What changed since `takeDirty()` was last called, so one attach costs work for that attach only:
   * vport ids whose entries (and type-2 origination) to recompute, `vni/mac` keys of MAC entries to
   * recompute, `hosting`: hypervisor → the domains it started or stopped hosting (hostingChanges,
   * recomputedInFull), or `all` when something broad changed (a hypervisor, domain or subnet, flood
   * routes, aged withdrawals, a snapshot).
   */
  private dirty: Dirty = emptyDirty(true);
  /**
   * Where vports sit (placement.ts), kept in step by vportLeaving/vportArrived. Undefined only while a
   * full recompute is pending (dirty.all: a snapshot, a subnet change, markAllDirty): it is then rebuilt
   * from the maps on first use, so a change made meanwhile is never counted twice.
   */
  private placementIndex: Placement | undefined;
  /** `vni/mac` → vport ids and learned route keys that claim it (a superset: stale ids are skipped). */
  private readonly byMacKey = new Map<string, { vports: Set<string>; learned: Set<string> }>();
  /** `vni/ip` → `vni/mac` keys that claimed that address (a superset; see `macEntry`). */
  private readonly byIpKey = new Map<string, Set<string>>();
  /** `vni/mac` → the `vni/ip` addresses claimed with it (the inverse of byIpKey, also a superset). */
  private readonly ipsByMacKey = new Map<string, Set<string>>();
  /** Own vport id → the key of the type-2 route last originated for it (see type2Changes). */
  private readonly originatedKeys = new Map<string, string>();
  /** Type-2 route key → the own vports that originate it (more than one only in a MAC/IP conflict). */
  private readonly originators = new Map<string, Set<string>>();

  /** Duplicate MAC detection (RFC 7432 §15.1) over the moves this world sees. */
  readonly duplicateMacs: DuplicateMacDetector;
  /** Called once per MAC when a move makes it a duplicate (the controller raises the alarm). */
  onDuplicateMac: ((frozen: FrozenMac) => void) | undefined;

  /**
   * `duplicateMac`: N moves within M ms (default RFC 7432's 5 in 180 s); null turns detection off, as
   * does the TEST-ONLY `no-dup-mac-detection` sabotage (reference-impl/sabotage.ts).
   */
  constructor(
    readonly zone: string,
    duplicateMac: DuplicateMacPolicy | null = RFC7432_DUPLICATE_MAC,
  ) {
    this.duplicateMacs = new DuplicateMacDetector(sabotaged('no-dup-mac-detection') ? null : duplicateMac);
  }

  /** The changes since the last call (see `dirty`), and a fresh start. */
  takeDirty(): Dirty {
    const out = this.dirty;
    this.dirty = emptyDirty(false);
    if (out.all) this.reindex();
    return out;
  }

  /** Everything is to be recomputed (e.g. agents could not be served yet). */
  markAllDirty(): void {
    this.dirty.all = true;
    this.placementIndex = undefined;
  }

  private get placement(): Placement {
    this.placementIndex ??= new Placement(this.subnets, this.vports.values());
    return this.placementIndex;
  }

  private macKeyOf(v: Vport): string | undefined {
    const s = this.subnets.get(v.subnet);
    return s ? `${s.vni}/${this.effectiveMac(v)}` : undefined;
  }

  private claims(key: string) {
    let c = this.byMacKey.get(key);
    if (!c) {
      c = { vports: new Set(), learned: new Set() };
      this.byMacKey.set(key, c);
    }
    return c;
  }

  private indexIp(vni: number, ip: string | undefined, key: string): void {
    if (!ip) return;
    const k = `${vni}/${ip}`;
    let keys = this.byIpKey.get(k);
    if (!keys) {
      keys = new Set();
      this.byIpKey.set(k, keys);
    }
    keys.add(key);
    let ips = this.ipsByMacKey.get(key);
    if (!ips) {
      ips = new Set();
      this.ipsByMacKey.set(key, ips);
    }
    ips.add(k);
  }

  private indexVport(v: Vport): void {
    const key = this.macKeyOf(v);
    const s = this.subnets.get(v.subnet);
    if (!key || !s) return;
    this.claims(key).vports.add(v.id);
    this.indexIp(s.vni, v.ip, key);
  }

  private indexLearned(learnKey: string, m: LearnedMac): void {
    const key = `${m.vni}/${m.mac}`;
    this.claims(key).learned.add(learnKey);
    this.indexIp(m.vni, m.ip, key);
  }

  /** Rebuilds the indexes (with a full recompute: drops what the supersets accumulated). */
  private reindex(): void {
    this.byMacKey.clear();
    this.byIpKey.clear();
    this.ipsByMacKey.clear();
    this.placementIndex = new Placement(this.subnets, this.vports.values());
    for (const v of this.vports.values()) this.indexVport(v);
    for (const [k, m] of this.learnedMacs) this.indexLearned(k, m);
    this.originatedKeys.clear();
    this.originators.clear();
    for (const v of this.vports.values()) {
      const o = this.type2Of(v);
      if (!o) continue;
      const key = originationKey(o);
      this.originatedKeys.set(v.id, key);
      const owners = this.originators.get(key) ?? new Set<string>();
      this.originators.set(key, owners.add(v.id));
    }
  }

  /** Adds `delta` to the vport's domain count on its hypervisor; true when the domain starts/stops being hosted there. */
  private countHosted(v: Vport, delta: 1 | -1): boolean {
    // No index yet: dirty.all is already set, and the index is built from the maps as they will be.
    return this.placementIndex?.count(v, delta) ?? false;
  }

  /** A vport is about to change (or go): its old entries are dirty, and its domain's hosting may change. */
  private vportLeaving(v: Vport | undefined): void {
    if (!v) return;
    this.dirty.vports.add(v.id);
    const key = this.macKeyOf(v);
    if (key) this.dirty.macs.add(key);
    if (this.countHosted(v, -1)) this.hostingChanged(v);
  }

  private vportArrived(v: Vport): void {
    this.dirty.vports.add(v.id);
    const key = this.macKeyOf(v);
    if (key) this.dirty.macs.add(key);
    this.indexVport(v);
    if (this.countHosted(v, 1)) this.hostingChanged(v);
  }

  /** The vport's hypervisor started or stopped hosting its domain (see recomputedInFull). */
  private hostingChanged(v: Vport): void {
    const domain = this.subnets.get(v.subnet)?.domain;
    if (domain === undefined) return;
    const domains = this.dirty.hosting.get(v.hypervisor) ?? new Set<string>();
    this.dirty.hosting.set(v.hypervisor, domains.add(domain));
  }

  /**
   * The agents whose entries a hosting change reaches beyond `entriesChanged` (which follows vports
   * and MACs): the hypervisor itself (its domains, subnets, rules and every MAC of the domain) and
   * every other hypervisor hosting the domain (its flood list gains or loses that VTEP). Only these
   * are recomputed in full: before, every such change recomputed every agent, and at 50,000 ports on
   * 500 hypervisors each of those took longer than BGP's hold time (docs/scale.md).
   */
  recomputedInFull(dirty: Dirty): Set<string> {
    const out = new Set<string>();
    for (const [hv, domains] of dirty.hosting) {
      out.add(hv);
      for (const d of domains) for (const other of this.placement.hostsOf(d)) out.add(other);
    }
    return out;
  }

  /**
   * The type-3 (and type-5) routes a hosting change adds or removes: for each hypervisor in
   * `dirty.hosting`, what it originates now for those domains' VNIs and prefixes, and the keys of
   * those it no longer does. The same routes `originations()` gives, for these hypervisors only.
   */
  hostingChanges(dirty: Dirty): { set: Origination[]; remove: string[] } {
    const set: Origination[] = [];
    const remove: string[] = [];
    for (const [hvId, domains] of dirty.hosting) {
      const hv = this.hypervisors.get(hvId);
      if (!hv || hv.zone !== this.zone) continue;
      const now = [...this.type3Of(hv), ...this.type5Of(hv)];
      const keys = new Set(now.map(originationKey));
      set.push(...now);
      for (const d of domains)
        for (const s of this.placement.subnetsByDomain.get(d) ?? []) {
          const candidates = [`3/${s.vni}/${hv.vtep}`];
          const l3Vni = this.domains.get(d)?.l3Vni;
          if (typeof l3Vni === 'number') candidates.push(`5/${hv.vtep}/${s.prefix}`);
          for (const k of candidates) if (!keys.has(k)) remove.push(k);
        }
    }
    return { set, remove };
  }

  loadSnapshot(snapshot: Snapshot): void {
    this.hypervisors.clear();
    this.domains.clear();
    this.subnets.clear();
    const previousVports = new Map(this.vports);
    this.vports.clear();
    for (const h of snapshot.objects.hypervisors) this.hypervisors.set(h.id, h);
    for (const d of snapshot.objects.domains) this.domains.set(d.id, d);
    for (const s of snapshot.objects.subnets) this.subnets.set(s.id, s);
    this.securityGroups.clear();
    this.securityRules.clear();
    for (const g of snapshot.objects.securityGroups ?? []) this.securityGroups.set(g.id, g);
    for (const r of snapshot.objects.securityRules ?? []) this.securityRules.set(r.id, r);
    this.floatingIps.clear();
    for (const f of snapshot.objects.floatingIps ?? []) this.floatingIps.set(f.id, f);
    this.redirectionTargets.clear();
    for (const r of snapshot.objects.redirectionTargets ?? []) this.redirectionTargets.set(r.id, r);
    this.gateways.clear();
    this.gatewayBindings.clear();
    for (const g of snapshot.objects.gateways ?? []) this.gateways.set(g.id, g);
    for (const b of snapshot.objects.gatewayBindings ?? []) this.gatewayBindings.set(b.id, b);
    for (const v of snapshot.objects.vports) {
      this.vports.set(v.id, v);
      const before = previousVports.get(v.id);
      this.noteLocation(v, before);
    }
    for (const [id, o] of this.observedMacs)
      if (this.vports.get(id)?.hypervisor !== o.hypervisor) this.observedMacs.delete(id);
    this.revision = snapshot.revision;
    this.markAllDirty();
  }

  applyChange(change: Change): void {
    this.revision = change.revision;
    const o = change.object as unknown;
    const del = change.op === 'delete';
    const whole = this.recomputedWhole(change.collection);
    if (whole) {
      // Topology, policy, floating IPs and gateways change rarely: every agent's entries are recomputed.
      this.dirty.all = true;
      if (del) whole.delete(change.id);
      else whole.set(change.id, o);
      if (change.collection === 'subnets') this.placementIndex = undefined;
      if (del && change.collection === 'subnets') this.dropWithdrawnWithoutSubnet();
      return;
    }
    switch (change.collection) {
      case 'vports': {
        const current = this.vports.get(change.id);
        const next = o as Vport;
        const samePlace =
          !del &&
          current !== undefined &&
          current.hypervisor === next.hypervisor &&
          current.subnet === next.subnet &&
          current.mac === next.mac &&
          current.ip === next.ip;
        if (samePlace) {
          // Same place (a group or name change): its entries and route only, the hosting is unchanged.
          this.vports.set(change.id, next);
          this.dirty.vports.add(change.id);
          const key = this.macKeyOf(next);
          if (key) this.dirty.macs.add(key);
          this.indexVport(next);
          break;
        }
        this.vportLeaving(current);
        if (del) {
          this.vports.delete(change.id);
          this.observedMacs.delete(change.id);
          this.failedAppliances.delete(change.id);
          break;
        }
        const before = (change.previous as Vport | undefined) ?? this.vports.get(change.id);
        this.vports.set(change.id, o as Vport);
        // A moved VM is re-created with its provisioned MAC: an observation was about the old place.
        if (this.observedMacs.get(change.id)?.hypervisor !== (o as Vport).hypervisor)
          this.observedMacs.delete(change.id);
        this.noteLocation(o as Vport, before);
        this.vportArrived(o as Vport);
        break;
      }
      default:
        break;
    }
  }

  /** The table of a collection whose every change recomputes all entries (undefined for vports). */
  private recomputedWhole(collection: Change['collection']): Map<string, unknown> | undefined {
    const tables: Partial<Record<Change['collection'], Map<string, unknown>>> = {
      hypervisors: this.hypervisors,
      domains: this.domains,
      subnets: this.subnets,
      securityGroups: this.securityGroups,
      securityRules: this.securityRules,
      floatingIps: this.floatingIps,
      redirectionTargets: this.redirectionTargets,
      gateways: this.gateways,
      gatewayBindings: this.gatewayBindings,
    };
    return tables[collection];
  }

  /** The MAC a vport is reached at: the one its VM announced, else the provisioned one. */
  effectiveMac(v: Vport): string {
    const o = this.observedMacs.get(v.id);
    return o && o.hypervisor === v.hypervisor ? o.mac : v.mac;
  }

  /**
   * An appliance's own hypervisor says whether it answers its liveness probe (agent `appliance`,
   * SVC-5). Accepted only from the vport's hypervisor. Returns true when it changed.
   */
  applianceLiveness(hypervisorId: string, vportId: string, alive: boolean): boolean {
    const v = this.vports.get(vportId);
    if (!v || v.hypervisor !== hypervisorId) return false;
    if (this.failedAppliances.has(vportId) === !alive) return false;
    if (alive) this.failedAppliances.delete(vportId);
    else this.failedAppliances.add(vportId);
    this.dirty.all = true;
    return true;
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
    this.vportLeaving(v);
    if (norm === v.mac.toLowerCase()) this.observedMacs.delete(vportId);
    else this.observedMacs.set(vportId, { mac: norm, hypervisor: hypervisorId });
    this.vportArrived(v);
    const subnet = this.subnets.get(v.subnet);
    const hv = this.hypervisors.get(v.hypervisor);
    if (subnet && hv) {
      const key = `${subnet.vni}/${norm}`;
      const known = this.mobility.get(key);
      if (!known) this.setMobility(key, { seq: 0, vtep: hv.vtep });
      else if (known.vtep !== hv.vtep) this.moveMac(key, known, hv.vtep);
    }
    return true;
  }

  /** A MAC's mobility sequence changes the entries and type-2 routes of everything claiming it. */
  private setMobility(key: string, value: { seq: number; vtep: string }): void {
    const known = this.mobility.get(key);
    this.mobility.set(key, value);
    if (known?.seq !== value.seq) this.macKeyChanged(key);
  }

  /** MAC mobility (RFC 7432 §15): a MAC seen at a new VTEP gets the last sequence + 1. */
  private noteLocation(vport: Vport, before: Vport | undefined): void {
    const subnet = this.subnets.get(vport.subnet);
    const hv = this.hypervisors.get(vport.hypervisor);
    if (!subnet || !hv) return;
    // TEST-ONLY `mobility-zone-local` sabotage: another zone's vports are not this zone's moves.
    if (sabotaged('mobility-zone-local') && hv.zone !== this.zone) return;
    const key = `${subnet.vni}/${vport.mac}`;
    const known = this.mobility.get(key);
    if (!known) {
      const from =
        before && before.hypervisor !== vport.hypervisor
          ? this.hypervisors.get(before.hypervisor)
          : undefined;
      if (from) this.moveMac(key, { seq: 0, vtep: from.vtep }, hv.vtep);
      else this.setMobility(key, { seq: 0, vtep: hv.vtep });
      return;
    }
    if (known.vtep !== hv.vtep) this.moveMac(key, known, hv.vtep);
  }

  /**
   * A MAC moves from `known` to `vtep`: the next mobility sequence, unless duplicate MAC detection
   * freezes it (the move that makes it a duplicate and every later one are not processed: its route
   * keeps `known`'s next hop and sequence).
   */
  private moveMac(key: string, known: { seq: number; vtep: string }, vtep: string): void {
    const verdict = this.duplicateMacs.noteMove(key, known);
    if (verdict === 'moved') {
      this.setMobility(key, { seq: known.seq + 1, vtep });
      return;
    }
    if (!this.mobility.has(key)) this.setMobility(key, known);
    this.macKeyChanged(key);
    const frozen = this.duplicateMacs.frozen(key);
    if (verdict === 'frozen-now' && frozen) this.onDuplicateMac?.(frozen);
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

  /** Per originator: how many of its learned routes are live (learned and not being withdrawn). */
  private readonly liveRoutes = new Map<string, number>();

  private countLive(origin: string, delta: number): void {
    const n = (this.liveRoutes.get(origin) ?? 0) + delta;
    if (n > 0) this.liveRoutes.set(origin, n);
    else this.liveRoutes.delete(origin);
  }

  private originLive(origin: string): boolean {
    return (this.liveRoutes.get(origin) ?? 0) > 0;
  }

  /** `key` is (re)learned from `origin`; `previous` is the origin of its live route it replaces. */
  private noteLive(key: string, origin: string, previous: string | undefined): void {
    const wasLive = this.originLive(origin);
    if (previous !== undefined) this.countLive(previous, -1);
    this.withdrawals.delete(key);
    this.countLive(origin, 1);
    if (!wasLive) this.originReturnedAt.set(origin, Date.now());
  }

  /** The origin of `key`'s route when it is live, else undefined. */
  private liveOrigin(key: string, route: { origin: string } | undefined): string | undefined {
    return route && !this.withdrawals.has(key) ? route.origin : undefined;
  }

  /**
   * Forgets withdrawn routes (withdrawing or kept stale) of VNIs no subnet in the directory carries.
   * Stale routes bridge an originator's failure; a deleted subnet is the intent ending them all, and a
   * subnet re-created with the same VNI must not start with the old one's bindings (an address then at
   * another MAC would be proxied to it until the originator re-advertised).
   */
  private dropWithdrawnWithoutSubnet(): boolean {
    if (this.withdrawals.size === 0) return false;
    const vnis = new Set([...this.subnets.values()].map((s) => s.vni));
    let changed = false;
    for (const [key, w] of this.withdrawals) {
      const learned = w.kind === 'mac' ? this.learnedMacs : this.learnedFloods;
      const vni = learned.get(key)?.vni;
      if (vni === undefined || vnis.has(vni)) continue;
      this.withdrawals.delete(key);
      learned.delete(key);
      changed = true;
    }
    if (changed) this.dirty.all = true;
    return changed;
  }

  /** Ages withdrawals; returns true when the learned routes changed. */
  tick(now = Date.now()): boolean {
    let changed = this.dropWithdrawnWithoutSubnet();
    for (const [key, w] of this.withdrawals) {
      const drop = () => {
        this.withdrawals.delete(key);
        if (w.kind === 'mac') this.learnedMacs.delete(key);
        else this.learnedFloods.delete(key);
        changed = true;
        this.dirty.all = true;
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

  /** What a gateway's OVSDB says now (undefined: the session is gone; its state is kept until it returns). */
  setGatewayState(gatewayId: string, state: { tunnelIp: string; macs: Set<string> }): void {
    const cur = this.gatewayState.get(gatewayId);
    if (
      cur &&
      cur.tunnelIp === state.tunnelIp &&
      cur.macs.size === state.macs.size &&
      [...state.macs].every((m) => cur.macs.has(m))
    )
      return;
    this.gatewayState.set(gatewayId, state);
    this.dirty.all = true;
  }

  /** This zone's gateways whose tunnel IP is known, with the VNIs bound on them. */
  ownGateways(): { gateway: Gateway; tunnelIp: string; macs: Set<string>; vnis: Set<number> }[] {
    const out: { gateway: Gateway; tunnelIp: string; macs: Set<string>; vnis: Set<number> }[] = [];
    for (const g of this.gateways.values()) {
      const state = this.gatewayState.get(g.id);
      if (g.zone !== this.zone || !state) continue;
      const vnis = new Set<number>();
      for (const b of this.gatewayBindings.values()) {
        const s = b.gateway === g.id ? this.subnets.get(b.subnet) : undefined;
        if (s) vnis.add(s.vni);
      }
      out.push({ gateway: g, tunnelIp: state.tunnelIp, macs: state.macs, vnis });
    }
    return out;
  }

  /** Number of learned routes currently kept as stale (their originator is gone). */
  staleCount(): number {
    return [...this.withdrawals.values()].filter((w) => w.stale).length;
  }

  /** Records a learned type-2 (and its mobility sequence). */
  learnMac(key: string, mac: LearnedMac | undefined): void {
    const cur = this.learnedMacs.get(key);
    if (cur) this.macKeyChanged(`${cur.vni}/${cur.mac}`);
    if (!mac) {
      if (cur && !this.withdrawals.has(key)) {
        this.withdrawals.set(key, { kind: 'mac', since: Date.now(), stale: false, origin: cur.origin });
        this.countLive(cur.origin, -1);
      }
      return;
    }
    this.noteLive(key, mac.origin, this.liveOrigin(key, cur));
    this.learnedMacs.set(key, mac);
    this.indexLearned(key, mac);
    const mkey = `${mac.vni}/${mac.mac}`;
    this.macKeyChanged(mkey);
    const known = this.mobility.get(mkey);
    if (this.duplicateMacs.frozen(mkey)) return; // a duplicate: its moves are not processed
    // TEST-ONLY `mobility-zone-local` sabotage (reference-impl/sabotage.ts): the learned location is
    // taken but not its sequence, so a move into this zone numbers from this controller's own count.
    if (sabotaged('mobility-zone-local')) {
      if (known?.vtep !== mac.vtep) this.setMobility(mkey, { seq: known?.seq ?? 0, vtep: mac.vtep });
      return;
    }
    if (!known || mac.seq > known.seq) this.setMobility(mkey, { seq: mac.seq, vtep: mac.vtep });
  }

  /** A `vni/mac` changed: its entries, and the type-2 of own vports with that MAC (mobility), are dirty. */
  private macKeyChanged(mkey: string): void {
    this.dirty.macs.add(mkey);
    for (const id of this.byMacKey.get(mkey)?.vports ?? []) this.dirty.vports.add(id);
  }

  learnFlood(key: string, flood: LearnedFlood | undefined): void {
    this.dirty.all = true;
    const cur = this.learnedFloods.get(key);
    if (!flood) {
      if (cur && !this.withdrawals.has(key)) {
        this.withdrawals.set(key, { kind: 'flood', since: Date.now(), stale: false, origin: cur.origin });
        this.countLive(cur.origin, -1);
      }
      return;
    }
    this.noteLive(key, flood.origin, this.liveOrigin(key, cur));
    this.learnedFloods.set(key, flood);
  }

  /** A type-5 route learned or withdrawn: the prefix entries of every domain may change. */
  learnPrefix(key: string, prefix: LearnedPrefix | undefined): void {
    this.dirty.all = true;
    if (prefix) this.learnedPrefixes.set(key, prefix);
    else this.learnedPrefixes.delete(key);
  }

  /**
   * A domain's imported prefixes (1.6): type-5 routes carrying its route target from VTEPs that are
   * not hypervisors (a PE's VRF; other zones' subnets are reached through their type-2 routes), for
   * prefixes that do not overlap the domain's own subnets. One entry per prefix: the lowest VTEP.
   */
  private prefixEntriesFor(d: Domain): PrefixEntry[] {
    if (typeof d.l3Vni !== 'number' || !d.routeTarget) return [];
    const own = [...this.subnets.values()]
      .filter((s) => s.domain === d.id)
      .flatMap((s) => parseCidr4(s.prefix) ?? []);
    const hypervisorVteps = new Set([...this.hypervisors.values()].map((h) => h.vtep));
    const out = new Map<string, PrefixEntry>();
    for (const p of this.learnedPrefixes.values()) {
      if (!p.routeTargets.includes(d.routeTarget) || !p.routerMac || hypervisorVteps.has(p.vtep)) continue;
      const cidr = parseCidr4(p.prefix);
      if (!cidr || own.some((o) => cidrsOverlap(o, cidr))) continue;
      const cur = out.get(p.prefix);
      if (cur && cur.vtep <= p.vtep) continue;
      out.set(p.prefix, {
        kind: 'prefix',
        domain: d.id,
        prefix: p.prefix,
        vtep: p.vtep,
        routerMac: p.routerMac,
      });
    }
    return [...out.values()];
  }

  mobilitySeq(vni: number, mac: string): number {
    return this.mobility.get(`${vni}/${mac}`)?.seq ?? 0;
  }

  /**
   * TEST-ONLY `gw-evpn-ignored` sabotage (reference-impl/sabotage.ts): a learned route from a VTEP that
   * is no hypervisor of the directory (an EVPN gateway) is ignored; under `gw-evpn-vni-ignored=<VNI>`
   * only for that VNI (GW-8: the gateway is cut off from one of the VNIs it routes).
   */
  private ignoredEvpnVtep(vtep: string, vni: number): boolean {
    const ignoredVni = gatewayVniIgnored();
    if (!sabotaged('gw-evpn-ignored') && ignoredVni !== vni) return false;
    for (const h of this.hypervisors.values()) if (h.vtep === vtep) return false;
    return true;
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
    return new Set(this.placement.domainsOn(hypervisorId));
  }

  /** VNIs instantiated on each own-zone hypervisor: every subnet of every domain it hosts. */
  vnisByHypervisor(): Map<string, Set<number>> {
    const out = new Map<string, Set<number>>();
    for (const hv of this.placement.domainsByHv.keys())
      out.set(hv, new Set(this.placement.vnisOn(hv).keys()));
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
      if (d) {
        entries.push({
          kind: 'domain',
          id: d.id,
          tenant: d.tenant,
          ...(d.outboundNat === 'pnat' ? { pnat: true } : {}),
          ...(typeof d.l3Vni === 'number'
            ? { l3Vni: d.l3Vni, routerMac: routerMacFor(hv.vtep, d.l3Vni) }
            : {}),
        });
        entries.push(...this.prefixEntriesFor(d));
        entries.push(
          ...ruleEntriesFor(
            d,
            this.securityGroups,
            this.securityRules.values(),
            hv.securityMode === 'stateless',
          ),
        );
        entries.push(...this.redirectEntriesFor(d.id));
      }
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
    const claimedBy = new Map<string, string>();
    for (const v of this.vportsIn(vnis)) {
      let s = this.subnets.get(v.subnet);
      // TEST-ONLY `cross-tenant-arp` sabotage (reference-impl/sabotage.ts): another tenant's VM is
      // pushed into a local subnet with the same prefix.
      if (s && !vnis.has(s.vni) && sabotaged('cross-tenant-arp')) {
        const prefix = s.prefix;
        s = [...vnis.values()].find((local) => local.prefix === prefix);
      }
      if (!s || !vnis.has(s.vni)) continue;
      const mac = this.effectiveMac(v);
      // An address-only vport (attachment none) is a MAC entry on its own hypervisor too: a member, no port.
      if (v.hypervisor === hypervisorId && v.attachment !== 'none') {
        entries.push(this.vportEntry(v, s));
        continue;
      }
      const other = this.hypervisors.get(v.hypervisor);
      if (!other || other.zone !== this.zone) continue; // other zones: from BGP only
      // Two vports with one MAC in a VNI (a conflict): the larger vport id wins, whatever the order.
      const claimed = claimedBy.get(`${s.vni}/${mac}`);
      if (claimed !== undefined && claimed > v.id) continue;
      claimedBy.set(`${s.vni}/${mac}`, v.id);
      macs.set(`${s.vni}/${mac}`, {
        kind: 'mac',
        vni: s.vni,
        mac,
        ip: v.ip,
        vtep: other.vtep,
        seq: this.mobilitySeq(s.vni, mac),
        groups: this.routeGroups(v),
      });
    }
    // Own-zone MACs are live by definition; among learned ones a live route beats a withdrawn one.
    const liveMacs = new Set(macs.keys());
    for (const [mkey, m] of [...this.learnedMacs].sort(byLearnKey)) {
      const s = vnis.get(m.vni);
      // Import by route target (not under the TEST-ONLY `ignore-rt` sabotage, reference-impl/sabotage.ts).
      if (!s || (!m.routeTargets.includes(s.routeTarget) && !sabotaged('ignore-rt'))) continue;
      if (this.isOwnZoneVtep(m.vtep)) continue; // own zone: the directory is authoritative
      if (this.ignoredEvpnVtep(m.vtep, m.vni)) continue;
      const key = `${m.vni}/${m.mac}`;
      const live = !this.withdrawals.has(mkey);
      const cur = macs.get(key);
      const next = preferLearned(cur, liveMacs.has(key), m, live);
      if (!next) continue;
      macs.set(key, next);
      if (live) liveMacs.add(key);
    }
    // Hosts behind this zone's gateways: MAC-only entries at the gateway's tunnel IP (GW-4).
    for (const gw of this.ownGateways())
      for (const mkey of gw.macs) {
        const [vni, mac] = [Number(mkey.slice(0, mkey.indexOf('/'))), mkey.slice(mkey.indexOf('/') + 1)];
        if (!vnis.has(vni) || !gw.vnis.has(vni) || macs.has(mkey)) continue;
        macs.set(mkey, { kind: 'mac', vni, mac, ip: undefined, vtep: gw.tunnelIp, seq: 0, groups: [] });
        liveMacs.add(mkey);
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
    // Every other own-zone hypervisor hosting a domain with one of these VNIs (placement.ts).
    for (const vni of vnis.keys())
      for (const s of this.placement.subnetsByVni.get(vni) ?? [])
        for (const otherId of this.placement.hostsOf(s.domain)) {
          const other = this.hypervisors.get(otherId);
          if (!other || otherId === hypervisorId || other.zone !== this.zone) continue;
          floods.add(`${vni}/${other.vtep}`);
        }
    for (const f of this.learnedFloods.values()) {
      const s = vnis.get(f.vni);
      if (!s || !f.routeTargets.includes(s.routeTarget) || this.isOwnZoneVtep(f.vtep)) continue;
      if (this.ignoredEvpnVtep(f.vtep, f.vni)) continue;
      floods.add(`${f.vni}/${f.vtep}`);
    }
    for (const gw of this.ownGateways())
      for (const vni of gw.vnis) if (vnis.has(vni)) floods.add(`${vni}/${gw.tunnelIp}`);
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

  /**
   * The redirections of a domain (1.4), sorted by id: those whose appliance vport exists, so an
   * agent steers only to an address the domain has. A detached appliance keeps its redirection (the
   * chained traffic is dropped, as the intent says for an unavailable appliance).
   */
  private redirectEntriesFor(domainId: string): RedirectEntry[] {
    const out: RedirectEntry[] = [];
    for (const r of [...this.redirectionTargets.values()].sort((a, b) => (a.id < b.id ? -1 : 1))) {
      if (r.domain !== domainId || !r.vport) continue;
      const active = this.applianceAddress(r.vport);
      if (!active) continue;
      const proto = r.protocol ?? 'any';
      const standby = r.standbyVport ? this.applianceAddress(r.standbyVport) : undefined;
      // SVC-5: while the active appliance fails its probe and the standby does not, the standby is
      // steered to (and the failed one stays named, so what it still forwards is not steered again).
      const failover =
        standby &&
        r.standbyVport &&
        this.failedAppliances.has(r.vport) &&
        !this.failedAppliances.has(r.standbyVport);
      const [steer, other] = failover ? [standby, active] : [active, standby];
      out.push({
        kind: 'redirect',
        id: r.id,
        domain: r.domain,
        mode: r.mode,
        applianceIp: steer.ip,
        applianceMac: steer.mac,
        applianceVni: steer.vni,
        ...(r.sourcePrefix ? { from: r.sourcePrefix } : {}),
        ...(r.destinationPrefix ? { to: r.destinationPrefix } : {}),
        proto,
        ...(r.portMin != null && (proto === 'tcp' || proto === 'udp')
          ? { ports: [r.portMin, r.portMax ?? r.portMin] as [number, number] }
          : {}),
        ...(other ? { standby: other } : {}),
      });
    }
    return out;
  }

  /** An appliance vport's address, MAC and subnet VNI; undefined while it or its subnet is missing. */
  private applianceAddress(vportId: string): ApplianceAddress | undefined {
    const v = this.vports.get(vportId);
    const s = v ? this.subnets.get(v.subnet) : undefined;
    return v && s ? { ip: v.ip, mac: this.effectiveMac(v), vni: s.vni } : undefined;
  }

  /** The entry of a vport on its own hypervisor. */
  private vportEntry(v: Vport, s: Subnet): Entry {
    const mac = this.effectiveMac(v);
    return {
      kind: 'vport',
      id: v.id,
      subnet: v.subnet,
      vni: s.vni,
      mac: v.mac,
      ip: v.ip,
      ...(mac !== v.mac ? { observedMac: mac } : {}),
      groups: this.groupIds(v),
      ...this.floatingIpOf(v.id),
    };
  }

  /** `{floatingIp}` when a floating IP maps to the vport (the lowest address if several claim it). */
  private floatingIpOf(vportId: string): { floatingIp?: string } {
    let best: string | undefined;
    for (const f of this.floatingIps.values())
      if (f.vport === vportId && (best === undefined || f.address < best)) best = f.address;
    return best === undefined ? {} : { floatingIp: best };
  }

  /**
   * The IPv4 unicast /32 routes this zone announces for floating IPs (docs/nat.md): each floating IP
   * mapped to a vport on one of the zone's hypervisors, next hop that hypervisor's underlay address,
   * so the PE sends it straight to the hypervisor that translates it.
   */
  floatingRoutes(): Array<{ prefix: string; nextHop: string }> {
    const out: Array<{ prefix: string; nextHop: string }> = [];
    for (const f of this.floatingIps.values()) {
      const v = f.vport ? this.vports.get(f.vport) : undefined;
      if (!v || v.attachment === 'none' || this.floatingIpOf(v.id).floatingIp !== f.address) continue;
      const hv = this.hypervisors.get(v.hypervisor);
      if (!hv || hv.zone !== this.zone) continue;
      out.push({ prefix: `${f.address}/32`, nextHop: hv.vtep });
    }
    return out.sort((a, b) => (a.prefix < b.prefix ? -1 : 1));
  }

  /** The directory's group ids (sgid) of a vport, sorted. */
  groupIds(v: Vport): number[] {
    const ids: number[] = [];
    for (const id of v.securityGroups ?? []) {
      const g = this.securityGroups.get(id);
      if (g) ids.push(g.sgid);
    }
    return ids.sort((a, b) => a - b);
  }

  /**
   * The groups a vport's type-2 route carries. Under the TEST-ONLY `sg-no-community` sabotage none;
   * under `sg-drop-membership-update` the ones of its first announcement (reference-impl/sabotage.ts).
   */
  private routeGroups(v: Vport): number[] {
    if (sabotaged('sg-no-community')) return [];
    const now = this.groupIds(v);
    if (!sabotaged('sg-drop-membership-update')) return now;
    const first = this.firstGroups.get(v.id);
    if (first) return first;
    this.firstGroups.set(v.id, now);
    return now;
  }

  /** Subnets instantiated on a hypervisor (every subnet of every domain it hosts), by VNI. */
  private vnisOf(hypervisorId: string): Map<number, Subnet> {
    return this.placement.vnisOn(hypervisorId);
  }

  /**
   * The vports entriesFor looks at: those of the subnets carrying these VNIs (placement.ts), not every
   * vport of the zone; all of them under the TEST-ONLY `cross-tenant-arp` sabotage, which looks wider.
   */
  private *vportsIn(vnis: ReadonlyMap<number, Subnet>): Iterable<Vport> {
    if (sabotaged('cross-tenant-arp')) {
      yield* this.vports.values();
      return;
    }
    for (const vni of vnis.keys())
      for (const s of this.placement.subnetsByVni.get(vni) ?? [])
        for (const id of this.placement.vportsBySubnet.get(s.id) ?? []) {
          const v = this.vports.get(id);
          if (v) yield v;
        }
  }

  /**
   * The entries of one agent that the changes `dirty` (from takeDirty, not `all`) can have touched:
   * entry key → the entry now, or undefined when the agent must not have it. The same rules as
   * `entriesFor`, applied to those keys only, so the cost follows the change, not the lab's size.
   */
  entriesChanged(hypervisorId: string, dirty: { vports: Set<string>; macs: Set<string> }) {
    const out = new Map<string, Entry | undefined>();
    if (!this.hypervisors.has(hypervisorId)) return out;
    const vnis = this.vnisOf(hypervisorId);
    for (const id of dirty.vports) {
      const v = this.vports.get(id);
      const s = v ? this.subnets.get(v.subnet) : undefined;
      if (!v || !s || v.hypervisor !== hypervisorId || !vnis.has(s.vni) || v.attachment === 'none') {
        out.set(`vport/${id}`, undefined);
        continue;
      }
      out.set(`vport/${id}`, this.vportEntry(v, s));
    }
    // A MAC entry's IP depends on the other routes claiming that address (see entriesFor's end).
    const keys = new Set(dirty.macs);
    for (const key of dirty.macs)
      for (const ip of this.ipsByMacKey.get(key) ?? [])
        for (const k of this.byIpKey.get(ip) ?? []) keys.add(k);
    for (const key of keys) out.set(`mac/${key}`, this.macEntry(hypervisorId, vnis, key, true)?.entry);
    return out;
  }

  /** entriesFor's MAC entry for one `vni/mac` key, and whether it comes from a live route. */
  private macEntry(
    hypervisorId: string,
    vnis: Map<number, Subnet>,
    key: string,
    yieldAddress: boolean,
  ): { entry: MacEntry; live: boolean } | undefined {
    const slash = key.indexOf('/');
    const vni = Number(key.slice(0, slash));
    const mac = key.slice(slash + 1);
    const subnet = vnis.get(vni);
    const claims = this.byMacKey.get(key);
    if (!subnet || !claims) return undefined;
    let cur: MacEntry | undefined;
    let curLive = false;
    let claimed: string | undefined;
    for (const id of claims.vports) {
      const v = this.vports.get(id);
      if (!v || this.subnets.get(v.subnet)?.vni !== vni) continue;
      if (v.hypervisor === hypervisorId && v.attachment !== 'none') continue;
      if (this.effectiveMac(v) !== mac) continue;
      const other = this.hypervisors.get(v.hypervisor);
      if (!other || other.zone !== this.zone || (claimed !== undefined && claimed > v.id)) continue;
      claimed = v.id;
      cur = {
        kind: 'mac',
        vni,
        mac,
        ip: v.ip,
        vtep: other.vtep,
        seq: this.mobilitySeq(vni, mac),
        groups: this.routeGroups(v),
      };
      curLive = true;
    }
    for (const lk of [...claims.learned].sort()) {
      const m = this.learnedMacs.get(lk);
      if (!m || m.vni !== vni || m.mac !== mac) continue;
      if (!m.routeTargets.includes(subnet.routeTarget) || this.isOwnZoneVtep(m.vtep)) continue;
      if (this.ignoredEvpnVtep(m.vtep, m.vni)) continue;
      const live = !this.withdrawals.has(lk);
      const next = preferLearned(cur, curLive, m, live);
      if (!next) continue;
      cur = next;
      if (live) curLive = true;
    }
    if (!cur) return undefined;
    if (yieldAddress && !curLive && cur.ip) {
      for (const other of this.byIpKey.get(`${vni}/${cur.ip}`) ?? []) {
        if (other === key) continue;
        const o = this.macEntry(hypervisorId, vnis, other, false);
        if (o?.live && o.entry.ip === cur.ip) {
          cur = { ...cur, ip: undefined };
          break;
        }
      }
    }
    return { entry: cur, live: curLive };
  }

  private type2Of(v: Vport): OriginatedType2 | undefined {
    const hv = this.hypervisors.get(v.hypervisor);
    const s = this.subnets.get(v.subnet);
    if (!hv || !s || hv.zone !== this.zone) return undefined;
    const mac = this.effectiveMac(v);
    return {
      kind: 'type2',
      vni: s.vni,
      mac,
      ip: v.ip,
      // A duplicate MAC stays advertised from where it was frozen (RFC 7432 §15.1).
      vtep: this.duplicateMacs.frozen(`${s.vni}/${mac}`)?.vtep ?? hv.vtep,
      seq: this.mobilitySeq(s.vni, mac),
      routeTarget: s.routeTarget,
      groups: this.routeGroups(v),
    };
  }

  /**
   * The type-2 routes of the given vports now, and the keys of routes nothing originates any more.
   * Two vports with one route key (a conflict) originate the one of the larger vport id.
   */
  type2Changes(vportIds: Iterable<string>): { set: Origination[]; remove: string[] } {
    const touched = new Set<string>();
    for (const id of vportIds) {
      const before = this.originatedKeys.get(id);
      if (before !== undefined) {
        this.originators.get(before)?.delete(id);
        touched.add(before);
      }
      this.originatedKeys.delete(id);
      const v = this.vports.get(id);
      const o = v ? this.type2Of(v) : undefined;
      if (!o) continue;
      const key = originationKey(o);
      this.originatedKeys.set(id, key);
      let owners = this.originators.get(key);
      if (!owners) {
        owners = new Set();
        this.originators.set(key, owners);
      }
      owners.add(id);
      touched.add(key);
    }
    const set: Origination[] = [];
    const remove: string[] = [];
    for (const key of touched) {
      const owners = this.originators.get(key);
      const winner = owners?.size ? [...owners].sort().pop() : undefined;
      const v = winner === undefined ? undefined : this.vports.get(winner);
      const o = v ? this.type2Of(v) : undefined;
      if (o) set.push(o);
      else {
        this.originators.delete(key);
        remove.push(key);
      }
    }
    return { set, remove };
  }

  /**
   * Type-5 (RFC 9136) of this zone: per own hypervisor hosting a domain with an L3 VNI, one route per
   * subnet of the domain (the hypervisor routes into every subnet of a domain it hosts: asymmetric
   * IRB), next hop its VTEP, router MAC its end of the L3 VNI.
   */
  private type5Originations(): OriginatedType5[] {
    return this.ownHypervisors().flatMap((hv) => this.type5Of(hv));
  }

  private type5Of(hv: Hypervisor): OriginatedType5[] {
    const out: OriginatedType5[] = [];
    for (const id of this.placement.domainsOn(hv.id)) {
      const d = this.domains.get(id);
      if (typeof d?.l3Vni !== 'number' || !d.routeTarget) continue;
      for (const s of this.placement.subnetsByDomain.get(id) ?? [])
        out.push({
          kind: 'type5',
          l3Vni: d.l3Vni,
          prefix: s.prefix,
          vtep: hv.vtep,
          routerMac: routerMacFor(hv.vtep, d.l3Vni),
          routeTarget: d.routeTarget,
        });
    }
    return out;
  }

  /** A hypervisor's type-3 routes: one per VNI it instantiates (route target of the VNI's first subnet). */
  private type3Of(hv: Hypervisor): Origination[] {
    return [...this.placement.vnisOn(hv.id)].map(([vni, s]) => ({
      kind: 'type3',
      vni,
      vtep: hv.vtep,
      routeTarget: (this.placement.subnetsByVni.get(vni)?.[0] ?? s).routeTarget,
    }));
  }

  /** Routes this zone originates: type-3 per instantiated VNI per hypervisor, type-2 per vport. */
  originations(): Origination[] {
    const out: Origination[] = [];
    for (const hvId of this.placement.domainsByHv.keys()) {
      const hv = this.hypervisors.get(hvId);
      if (!hv || hv.zone !== this.zone) continue;
      out.push(...this.type3Of(hv));
    }
    const type2 = new Map<string, { id: string; o: OriginatedType2 }>();
    for (const v of this.vports.values()) {
      const o = this.type2Of(v);
      if (!o) continue;
      const key = originationKey(o);
      const cur = type2.get(key);
      if (!cur || cur.id < v.id) type2.set(key, { id: v.id, o });
    }
    for (const { o } of type2.values()) out.push(o);
    out.push(...this.type5Originations());
    // This zone's gateways: a type-3 per bound VNI, a MAC-only type-2 per host MAC they learned (GW-4).
    for (const gw of this.ownGateways())
      for (const vni of gw.vnis) {
        const subnet = [...this.subnets.values()].find((s) => s.vni === vni);
        if (!subnet) continue;
        out.push({ kind: 'type3', vni, vtep: gw.tunnelIp, routeTarget: subnet.routeTarget });
        for (const mkey of gw.macs) {
          if (!mkey.startsWith(`${vni}/`)) continue;
          const mac = mkey.slice(mkey.indexOf('/') + 1);
          if (sabotaged('gw-no-local-type2')) continue;
          out.push({
            kind: 'type2',
            vni,
            mac,
            ip: undefined,
            vtep: gw.tunnelIp,
            seq: 0,
            routeTarget: subnet.routeTarget,
          });
        }
      }
    return out;
  }
}

/**
 * One MAC's choice among learned routes, the same in the full and the incremental derivation: a
 * live route beats a withdrawn one kept stale, then the higher mobility sequence (RFC 7432 §15).
 * Returns the entry that replaces `cur`, or undefined when `cur` stays (it then takes the route's
 * IP if it had none).
 */
function preferLearned(
  cur: MacEntry | undefined,
  curLive: boolean,
  m: LearnedMac,
  live: boolean,
): MacEntry | undefined {
  if (cur && !((live && !curLive) || (live === curLive && m.seq > cur.seq))) {
    if (cur.ip === undefined && m.ip && live === curLive) cur.ip = m.ip;
    return undefined;
  }
  return {
    kind: 'mac',
    vni: m.vni,
    mac: m.mac,
    ip: m.ip ?? cur?.ip,
    vtep: m.vtep,
    seq: m.seq,
    groups: m.groups ?? [],
  };
}
