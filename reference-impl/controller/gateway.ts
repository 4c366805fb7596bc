/**
 * The controller's side of an OVSDB hardware VTEP (hardware_vtep schema, RFC 7047), one session per
 * gateway of its zone. It mirrors the gateway's tables through `monitor` and, whenever the world or
 * the database changes, writes the difference between what the world wants and what the database
 * holds in one transaction:
 *   - a Logical_Switch per bound subnet, tunnel_key = the subnet's VNI (GW-2), bound to its
 *     Physical_Port + VLAN (vlan_bindings);
 *   - a Ucast_Macs_Remote row per VM of those subnets at its hypervisor's locator (GW-3);
 *   - an `unknown-dst` Mcast_Macs_Remote row per logical switch: the hypervisors hosting the VNI (GW-5);
 * and reads back the gateway's registration (Physical_Switch tunnel_ips, GW-1) and the host MACs it
 * learned (Ucast_Macs_Local, GW-4) into the world, which exports them as EVPN type-2 routes.
 *
 * Because every transaction is computed against the mirrored tables, a dropped session is resynced by
 * reconnecting: the monitor's initial contents are the database as it is, the diff removes rows that
 * should not be there and adds the missing ones, never a duplicate (GW-6).
 */
import type { Gateway } from '../directory/model.ts';
import { OvsdbClient } from '../ovsdb/client.ts';
import {
  mapEntries,
  namedUuid,
  type OvsdbNamedUuid,
  type OvsdbOperation,
  type OvsdbRow,
  type OvsdbUuid,
  ovsMap,
  ovsSet,
  setMembers,
  type TableUpdates,
  uuid,
  uuidOf,
} from '../ovsdb/types.ts';
import { sabotaged } from '../sabotage.ts';
import type { World } from './world.ts';

const DB = 'hardware_vtep';
const ENCAP = 'vxlan_over_ipv4';

const MONITORED: Record<string, string[]> = {
  Physical_Switch: ['name', 'tunnel_ips', 'ports'],
  Physical_Port: ['name', 'vlan_bindings', 'vlan_stats'],
  Logical_Switch: ['name', 'tunnel_key', 'replication_mode'],
  Physical_Locator: ['dst_ip', 'encapsulation_type'],
  Physical_Locator_Set: ['locators'],
  Ucast_Macs_Remote: ['MAC', 'logical_switch', 'locator', 'ipaddr'],
  Mcast_Macs_Remote: ['MAC', 'logical_switch', 'locator_set'],
  Ucast_Macs_Local: ['MAC', 'logical_switch'],
  Mcast_Macs_Local: ['MAC', 'logical_switch'],
};

/**
 * Source-node replication (GW-5): the gateway itself sends a broadcast to every `unknown-dst` locator.
 * The schema's default when the column is empty is service-node replication (one copy to the first
 * locator, a replicator's job), and the Debian ovs-vtep emulator does exactly that: with no service
 * node in the overlay, VMs on the other hypervisors would never see the host's broadcasts.
 * (TEST-ONLY sabotage `gw-service-node`: the column is left empty.)
 */
function replicationMode(): ['set', string[]] {
  return ['set', sabotaged('gw-service-node') ? [] : ['source_node']];
}

/** The logical switch the controller keeps for a VNI (its name says which VNI it stands for). */
export function logicalSwitchName(vni: number): string {
  return `vni-${vni}`;
}

function vniOfLogicalSwitch(name: string): number | undefined {
  const m = /^vni-(\d+)$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

/** What the world wants in a gateway's database. */
export interface GatewayIntent {
  /** VNI → port name → VLANs bound to it. */
  bindings: Map<number, Map<string, number[]>>;
  /** VNI → MAC → { ip, hypervisor VTEP }. */
  remoteMacs: Map<number, Map<string, { ip: string; vtep: string }>>;
  /** VNI → the hypervisor VTEPs hosting it (the `unknown-dst` flood list), sorted. */
  flood: Map<number, string[]>;
}

export function gatewayIntent(world: World, gateway: Gateway): GatewayIntent {
  const bindings = new Map<number, Map<string, number[]>>();
  for (const b of world.gatewayBindings.values()) {
    const subnet = b.gateway === gateway.id ? world.subnets.get(b.subnet) : undefined;
    if (!subnet) continue;
    const ports = bindings.get(subnet.vni) ?? new Map<string, number[]>();
    // TEST-ONLY: an off-by-one on the 802.1Q tag; untagged (VLAN 0) bindings are left alone.
    const vlan = sabotaged('gw-wrong-vlan') && b.vlan !== 0 ? b.vlan + 1 : b.vlan;
    ports.set(b.port, [...(ports.get(b.port) ?? []), vlan]);
    bindings.set(subnet.vni, ports);
  }
  const remoteMacs = new Map<number, Map<string, { ip: string; vtep: string }>>();
  const flood = new Map<number, string[]>();
  for (const v of world.vports.values()) {
    const subnet = world.subnets.get(v.subnet);
    const hv = world.hypervisors.get(v.hypervisor);
    if (!subnet || !hv || !bindings.has(subnet.vni)) continue;
    const macs = remoteMacs.get(subnet.vni) ?? new Map<string, { ip: string; vtep: string }>();
    if (!sabotaged('gw-no-remote-macs')) macs.set(world.effectiveMac(v), { ip: v.ip, vtep: hv.vtep });
    remoteMacs.set(subnet.vni, macs);
    const vteps = flood.get(subnet.vni) ?? [];
    if (!vteps.includes(hv.vtep)) flood.set(subnet.vni, [...vteps, hv.vtep].sort());
  }
  return { bindings, remoteMacs, flood };
}

type Tables = Map<string, Map<string, OvsdbRow>>;

function str(row: OvsdbRow | undefined, column: string): string {
  const v = setMembers(row?.[column])[0];
  return typeof v === 'string' ? v : '';
}

function refOf(row: OvsdbRow | undefined, column: string): string | undefined {
  return uuidOf(setMembers(row?.[column])[0]);
}

/** A Physical_Port's `vlan_bindings` as (VLAN, logical switch uuid), by VLAN. */
function boundVlans(row: OvsdbRow): (readonly [number, string])[] {
  return mapEntries(row.vlan_bindings)
    .map(([vlan, ls]) => [vlan as number, uuidOf(ls as OvsdbUuid) ?? ''] as const)
    .sort((a, b) => a[0] - b[0]);
}

/**
 * Whether a binding is being removed, by this transaction or by an earlier one the gateway has not
 * acted on yet; while it is, nothing is bound and no logical switch is created.
 *
 * Why: ovs-vtep (and a gateway like it) keeps its per-logical-switch state — the MACs it has already
 * reported to Ucast_Macs_Local, its learned flows, its tunnels — under the switch's *name*, and only
 * looks at the database once per poll (≈1 s, several under load). A logical switch deleted and
 * created again under the same name (a subnet torn down and re-provisioned, the next scenario), or a
 * VLAN moved from one switch to another, within one poll is never seen as a new switch: the emulator
 * keeps reporting nothing for MACs it believes it reported, whose rows went with the old switch (GW-4
 * saw an empty Ucast_Macs_Local after gw-2-vlan); and a VLAN moved in one poll leaves the old switch
 * half-alive in it. The gateway's `vlan_stats` (hardware_vtep(5): an entry per VLAN it has bound)
 * says when it has let go of a removed binding; the additions wait for that, one poll at most. A
 * gateway that keeps no `vlan_stats` only sees a removal and an addition in two transactions.
 */
export function unbindingUnfinished(
  ports: [string, OvsdbRow][],
  intent: GatewayIntent,
  lsByVni: Map<number, OvsdbUuid | OvsdbNamedUuid>,
  doomedLs: Set<string>,
): boolean {
  const vniOf = new Map<string, number>();
  for (const [vni, ref] of lsByVni) if (ref[0] === 'uuid') vniOf.set(ref[1], vni);
  for (const [, row] of ports) {
    const port = str(row, 'name');
    const bound = boundVlans(row);
    const stats = mapEntries(row.vlan_stats).map(([vlan]) => vlan as number);
    if (stats.some((vlan) => !bound.some(([v]) => v === vlan))) return true;
    for (const [vlan, ls] of bound) {
      const vni = vniOf.get(ls);
      if (doomedLs.has(ls) || vni === undefined || !intent.bindings.get(vni)?.get(port)?.includes(vlan))
        return true;
    }
  }
  return false;
}

/**
 * The one transaction that turns `tables` (the gateway's database as mirrored) into `intent` on the
 * physical switch `ps`; empty when they already agree.
 */
export function reconcileOps(tables: Tables, ps: string, intent: GatewayIntent): OvsdbOperation[] {
  const ops: OvsdbOperation[] = [];
  const rows = (t: string) => [...(tables.get(t) ?? new Map<string, OvsdbRow>()).entries()];
  const del = (table: string, id: string) =>
    ops.push({ op: 'delete', table, where: [['_uuid', '==', uuid(id)]] });

  // Logical switches: one per bound VNI, tunnel_key = VNI.
  const lsByVni = new Map<number, OvsdbUuid | OvsdbNamedUuid>();
  const doomedLs = new Set<string>();
  for (const [id, row] of rows('Logical_Switch')) {
    const vni = vniOfLogicalSwitch(str(row, 'name'));
    if (vni === undefined || !intent.bindings.has(vni) || lsByVni.has(vni)) {
      doomedLs.add(id);
      continue;
    }
    lsByVni.set(vni, uuid(id));
    const key = sabotaged('gw-wrong-tunnel-key') ? vni + 1 : vni;
    const replication = replicationMode();
    if (setMembers(row.tunnel_key)[0] !== key || setMembers(row.replication_mode)[0] !== replication[1][0])
      ops.push({
        op: 'update',
        table: 'Logical_Switch',
        where: [['_uuid', '==', uuid(id)]],
        row: { tunnel_key: key, replication_mode: replication },
      });
  }
  const switchRow = rows('Physical_Switch').find(([, r]) => str(r, 'name') === ps)?.[1];
  const portIds = new Set(setMembers(switchRow?.ports).map((p) => uuidOf(p as OvsdbUuid) ?? ''));
  const ports = rows('Physical_Port').filter(([id]) => portIds.has(id));
  const holdAdditions = unbindingUnfinished(ports, intent, lsByVni, doomedLs);
  for (const vni of intent.bindings.keys()) {
    if (lsByVni.has(vni) || holdAdditions) continue;
    const name = `ls${vni}`;
    ops.push({
      op: 'insert',
      table: 'Logical_Switch',
      row: {
        name: logicalSwitchName(vni),
        tunnel_key: sabotaged('gw-wrong-tunnel-key') ? vni + 1 : vni,
        replication_mode: replicationMode(),
      },
      'uuid-name': name,
    });
    lsByVni.set(vni, namedUuid(name));
  }
  const vniOfLs = new Map<string, number>();
  for (const [vni, ref] of lsByVni) if (ref[0] === 'uuid') vniOfLs.set(ref[1], vni);

  // Locators by tunnel IP (unreferenced ones are garbage-collected by the server: not a root table).
  const locators = new Map<string, OvsdbUuid | OvsdbNamedUuid>();
  const locatorIp = new Map<string, string>();
  for (const [id, row] of rows('Physical_Locator')) {
    locatorIp.set(id, str(row, 'dst_ip'));
    if (str(row, 'encapsulation_type') === ENCAP) locators.set(str(row, 'dst_ip'), uuid(id));
  }
  const locator = (ip: string): OvsdbUuid | OvsdbNamedUuid => {
    const known = locators.get(ip);
    if (known) return known;
    const name = `loc${locators.size}`;
    ops.push({
      op: 'insert',
      table: 'Physical_Locator',
      row: { dst_ip: ip, encapsulation_type: ENCAP },
      'uuid-name': name,
    });
    locators.set(ip, namedUuid(name));
    return namedUuid(name);
  };

  // Remote unicast MACs: exactly one row per (VNI, MAC), at the VM's hypervisor.
  const kept = new Set<string>();
  for (const [id, row] of rows('Ucast_Macs_Remote')) {
    const ls = refOf(row, 'logical_switch');
    const vni = ls === undefined ? undefined : vniOfLs.get(ls);
    const want = vni === undefined ? undefined : intent.remoteMacs.get(vni)?.get(str(row, 'MAC'));
    const key = `${vni}/${str(row, 'MAC')}`;
    const at = locatorIp.get(refOf(row, 'locator') ?? '');
    if (
      !want ||
      kept.has(key) ||
      at !== want.vtep ||
      str(row, 'ipaddr') !== want.ip ||
      ls === undefined ||
      doomedLs.has(ls)
    )
      del('Ucast_Macs_Remote', id);
    else kept.add(key);
  }
  for (const [vni, macs] of intent.remoteMacs) {
    const ls = lsByVni.get(vni);
    if (!ls) continue;
    for (const [mac, want] of macs) {
      if (kept.has(`${vni}/${mac}`)) continue;
      ops.push({
        op: 'insert',
        table: 'Ucast_Macs_Remote',
        row: { MAC: mac, ipaddr: want.ip, logical_switch: ls, locator: locator(want.vtep) },
      });
    }
  }

  // Flooding: one `unknown-dst` row per logical switch, its locator set the VNI's hypervisors.
  const setIps = new Map<string, string[]>();
  for (const [id, row] of rows('Physical_Locator_Set'))
    setIps.set(
      id,
      setMembers(row.locators)
        .map((l) => locatorIp.get(uuidOf(l as OvsdbUuid) ?? '') ?? '')
        .sort(),
    );
  const floodKept = new Set<number>();
  for (const [id, row] of rows('Mcast_Macs_Remote')) {
    const ls = refOf(row, 'logical_switch');
    const vni = ls === undefined ? undefined : vniOfLs.get(ls);
    const want = vni === undefined ? undefined : intent.flood.get(vni);
    const have = setIps.get(refOf(row, 'locator_set') ?? '') ?? [];
    if (
      vni === undefined ||
      !want ||
      floodKept.has(vni) ||
      str(row, 'MAC') !== 'unknown-dst' ||
      have.join(',') !== want.join(',')
    )
      del('Mcast_Macs_Remote', id);
    else floodKept.add(vni);
  }
  let sets = 0;
  for (const [vni, vteps] of intent.flood) {
    const ls = lsByVni.get(vni);
    if (!ls || floodKept.has(vni) || vteps.length === 0) continue;
    const name = `set${sets++}`;
    ops.push({
      op: 'insert',
      table: 'Physical_Locator_Set',
      row: { locators: ovsSet(vteps.map(locator)) },
      'uuid-name': name,
    });
    ops.push({
      op: 'insert',
      table: 'Mcast_Macs_Remote',
      row: { MAC: 'unknown-dst', logical_switch: ls, locator_set: namedUuid(name) },
    });
  }

  // Rows of logical switches that go (the emulator's local ones too: they hold strong references).
  for (const table of ['Ucast_Macs_Local', 'Mcast_Macs_Local'])
    for (const [id, row] of rows(table)) if (doomedLs.has(refOf(row, 'logical_switch') ?? '')) del(table, id);

  // Port bindings of the physical switch: exactly the bound VLANs of each port (while an unbinding
  // is unfinished, only those of them the port already has).
  for (const [id, row] of ports) {
    const port = str(row, 'name');
    const have = boundVlans(row);
    const want: [number, OvsdbUuid | OvsdbNamedUuid][] = [];
    for (const [vni, bound] of intent.bindings)
      for (const vlan of bound.get(port) ?? []) {
        const ls = lsByVni.get(vni);
        if (!ls) continue;
        if (!holdAdditions || have.some(([v, l]) => v === vlan && ls[0] === 'uuid' && ls[1] === l))
          want.push([vlan, ls]);
      }
    want.sort((a, b) => a[0] - b[0]);
    const same =
      have.length === want.length &&
      have.every(
        ([vlan, ls], i) => want[i]?.[0] === vlan && want[i]?.[1][0] === 'uuid' && want[i]?.[1][1] === ls,
      );
    if (!same)
      ops.push({
        op: 'update',
        table: 'Physical_Port',
        where: [['_uuid', '==', uuid(id)]],
        row: { vlan_bindings: ovsMap(want) },
      });
  }
  for (const id of doomedLs) del('Logical_Switch', id);
  return ops;
}

export interface GatewaySyncOptions {
  gateway: Gateway;
  world: World;
  /** The gateway's state changed in the world: recompute agents and routes. */
  onWorldChange(): void;
  log(line: string): void;
  reconnectMs?: number;
}

/** One gateway's OVSDB session, resynced from scratch after every reconnect. */
export class GatewaySync {
  private client: OvsdbClient | undefined;
  private readonly tables: Tables = new Map();
  private running = false;
  private stopped = false;
  private inFlight = false;
  private again = false;
  /** A transaction committed and its monitor update has not arrived yet: the mirror is behind. */
  private awaitingUpdate: NodeJS.Timeout | undefined;
  private retry: NodeJS.Timeout | undefined;
  readonly stats = { connects: 0, transactions: 0, lastError: '' };

  constructor(private readonly options: GatewaySyncOptions) {}

  get gatewayId(): string {
    return this.options.gateway.id;
  }

  get ovsdb(): string {
    return this.options.gateway.ovsdb;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    void this.connect();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retry);
    this.client?.close();
  }

  status(): Record<string, unknown> {
    const state = this.options.world.gatewayState.get(this.gatewayId);
    return {
      gateway: this.options.gateway.name,
      ovsdb: this.options.gateway.ovsdb,
      connected: this.client !== undefined && !this.client.isClosed,
      tunnelIp: state?.tunnelIp,
      localMacs: state ? [...state.macs].sort() : [],
      ...this.stats,
    };
  }

  /** The world changed: bring the database in line (coalesced; one transaction in flight). */
  requestSync(): void {
    if (!this.client || this.client.isClosed) return;
    if (this.inFlight || this.awaitingUpdate) {
      this.again = true;
      return;
    }
    this.inFlight = true;
    void this.sync().finally(() => {
      this.inFlight = false;
      if (this.again) {
        this.again = false;
        this.requestSync();
      }
    });
  }

  private async connect(): Promise<void> {
    const { gateway, log } = this.options;
    try {
      const client = await OvsdbClient.connect(gateway.ovsdb, {
        onClose: (err) => {
          if (this.stopped) return;
          log(
            `gateway ${gateway.name}: OVSDB session to ${gateway.ovsdb} closed${err ? ` (${err.message})` : ''}`,
          );
          this.client = undefined;
          this.scheduleReconnect();
        },
      });
      if (this.stopped) {
        client.close();
        return;
      }
      // gw-no-resync: after a drop the pre-drop mirror is kept, so what changed meanwhile is never seen.
      const resync = !(sabotaged('gw-no-resync') && this.stats.connects > 0);
      if (resync) this.tables.clear();
      const requests = Object.fromEntries(Object.entries(MONITORED).map(([t, columns]) => [t, { columns }]));
      this.client = client;
      const initial = await client.monitor(DB, 'otwin', requests, (u) => this.apply(u));
      this.stats.connects++;
      if (resync) this.apply(initial);
      log(`gateway ${gateway.name}: OVSDB session to ${gateway.ovsdb} up (resync)`);
    } catch (err) {
      this.stats.lastError = err instanceof Error ? err.message : String(err);
      this.client?.close();
      this.client = undefined;
      this.scheduleReconnect();
    }
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    clearTimeout(this.retry);
    this.retry = setTimeout(() => void this.connect(), this.options.reconnectMs ?? 1000);
    this.retry.unref();
  }

  private updatesSeen = 0;

  private apply(updates: TableUpdates): void {
    this.updatesSeen++;
    clearTimeout(this.awaitingUpdate);
    this.awaitingUpdate = undefined;
    for (const [table, changes] of Object.entries(updates)) {
      const rows = this.tables.get(table) ?? new Map<string, OvsdbRow>();
      for (const [id, change] of Object.entries(changes)) {
        if (change.new) rows.set(id, change.new);
        else rows.delete(id);
      }
      this.tables.set(table, rows);
    }
    this.readBack();
    this.requestSync();
  }

  /** Registration (tunnel IP) and learned host MACs, from the mirrored tables into the world. */
  private readBack(): void {
    const { gateway, world } = this.options;
    const ps = [...(this.tables.get('Physical_Switch')?.values() ?? [])].find(
      (r) => str(r, 'name') === gateway.name,
    );
    const tunnelIp = str(ps, 'tunnel_ips');
    if (!tunnelIp) return;
    const lsVni = new Map<string, number>();
    for (const [id, row] of this.tables.get('Logical_Switch') ?? []) {
      const vni = vniOfLogicalSwitch(str(row, 'name'));
      if (vni !== undefined) lsVni.set(id, vni);
    }
    const macs = new Set<string>();
    for (const row of this.tables.get('Ucast_Macs_Local')?.values() ?? []) {
      const vni = lsVni.get(refOf(row, 'logical_switch') ?? '');
      if (vni !== undefined) macs.add(`${vni}/${str(row, 'MAC').toLowerCase()}`);
    }
    const before = world.gatewayState.get(gateway.id);
    if (!before || before.tunnelIp !== tunnelIp)
      this.options.log(
        `gateway ${gateway.name}: registered, physical switch ${gateway.name} tunnel IP ${tunnelIp}`,
      );
    world.setGatewayState(gateway.id, { tunnelIp, macs });
    this.options.onWorldChange();
  }

  private async sync(): Promise<void> {
    const client = this.client;
    if (!client) return;
    const ops = reconcileOps(
      this.tables,
      this.options.gateway.name,
      gatewayIntent(this.options.world, this.options.gateway),
    );
    if (ops.length === 0) return;
    const seen = this.updatesSeen;
    try {
      await client.transact(DB, ops);
      this.stats.transactions++;
      // ovsdb-server usually sends the commit's update before the reply; if not, computing the next
      // diff against a mirror without this commit would insert rows twice: wait for it.
      if (this.updatesSeen > seen) return;
      this.awaitingUpdate = setTimeout(() => {
        this.awaitingUpdate = undefined;
        this.requestSync();
      }, 2000);
      this.awaitingUpdate.unref();
    } catch (err) {
      this.stats.lastError = err instanceof Error ? err.message : String(err);
      this.options.log(`gateway ${this.options.gateway.name}: ${this.stats.lastError}`);
    }
  }
}
