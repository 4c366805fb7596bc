/**
 * TEST-ONLY sabotage switches: deliberate bugs that tests/sabotage/ turn on to prove the conformance
 * suites can fail. Read once, at process start, from the environment variable OTWIN_SABOTAGE (a
 * comma-separated list; a switch may carry a value, `name=value`; the lab topology sets it per node
 * with `env:`). Unset — always, outside those tests — every switch is off and the reference behaves
 * as documented. The table of which switch fails which catalogue ID is docs/sabotage.md.
 *
 * | switch                      | role       | the bug                                                          |
 * |-----------------------------|------------|------------------------------------------------------------------|
 * | `no-arp-suppress`           | agent      | VXLAN bridge ports without `neigh_suppress`: ARP is flooded       |
 * | `wrong-vni`                 | agent      | VXLAN devices use VNI + 1000000 instead of the provisioned VNI   |
 * | `leak-routes`               | agent      | every routing domain of a hypervisor shares one router namespace |
 * | `flush-on-restart`          | controller | after (re)start, agents are synced without remote reachability for 2.5 s |
 * | `flush-on-restart`          | agent      | at start the agent tears its datapath down, then rebuilds it     |
 * | `fixed-srcport`             | agent      | VXLAN devices send from one outer UDP source port (no entropy)   |
 * | `no-df`                     | agent      | VXLAN devices without `df set`: the underlay fragments           |
 * | `no-rx-normalise`           | agent      | no RFC 7348 §5 receive normalisation: reserved bits get dropped  |
 * | `no-remote-macs`            | agent      | no static fdb entries for remote MACs: known unicast is flooded  |
 * | `local-gateway-mac`         | agent      | the anycast gateway MAC is made per hypervisor                   |
 * | `delay-type2[=ms]`          | controller | type-2 announcements and withdrawals leave ms late (default 3000) |
 * | `no-type2-withdraw`         | controller | a detached VM's type-2 route is never withdrawn                  |
 * | `type3-no-encap`            | controller | type-3 routes without the VXLAN encapsulation community (RFC 8365) |
 * | `ignore-rt`                 | controller | remote type-2 routes are imported whatever their route target   |
 * | `flood-all-vteps`           | controller | every VNI's flood list holds every known VTEP                    |
 * | `cross-tenant-arp`          | controller | remote VMs of another tenant's same-prefix subnet are pushed as neighbours |
 * | `no-stale`                  | controller | a vanished originator's routes are dropped, not kept as stale    |
 * | `forget-on-directory-loss`  | controller | losing the directory empties the world (every VM withdrawn)      |
 * | `no-dup-mac-detection`      | controller | no duplicate MAC detection: a MAC flapping N times in M s keeps moving |
 * | `no-graceful-restart`       | controller | `--graceful-restart` is ignored: no RFC 4724 capability, the reflector drops the routes at once |
 * | `mobility-zone-local`       | controller | MAC moves numbered from the own zone only: other zones' vports and learned routes' sequences are ignored |
 * | `sg-allow-all`              | agent      | security rules are never enforced (every domain allows all)      |
 * | `sg-stateless`              | agent      | stateless filtering where stateful is declared (like `--sg-mode stateless`) |
 * | `sg-drop-membership-update` | controller | a VM's type-2 route keeps the groups it was first announced with |
 * | `sg-no-community`           | controller | type-2 routes carry no secgroup community (remote members unknown) |
 * | `sg-cartesian`              | agent      | rules expanded to one nft rule per member pair (members x members) |
 * | `sg-no-intra-subnet`        | agent      | bridged (same-subnet) traffic bypasses the security rules        |
 * | `sg-ignore-external`        | agent      | traffic from/to addresses outside the domain's subnets is never filtered |
 * | `sg-egress-only`            | agent      | rules enforced only on the source VM's hypervisor (no ingress check) |
 * | `fip-no-announce`           | controller | floating IPs are never announced to the PE (no /32 route)         |
 * | `fip-stale-route`           | controller | a floating IP's /32 is never withdrawn or moved once announced    |
 * | `nat-translate-internal`    | agent      | a VM's traffic to its own tenant is translated to its floating IP |
 * | `nat-central=<address>`     | agent      | outside-bound traffic of every other hypervisor is tunnelled (VXLAN 4790) to the hypervisor with that underlay address, which translates and sends it on: a central NAT node |
 * | `svc-bypass`                | agent      | service chains are never steered: chained traffic bypasses the appliance |
 * | `svc-asymmetric`            | agent      | only the request of a chained flow is steered; replies return directly |
 * | `svc-ignore-ports`          | agent      | a chain's port match is ignored: every port goes through the appliance |
 * | `svc-no-failover`           | agent      | a dead appliance is never reported: its redirections never move to the standby (SVC-5) |
 * | `scale-drop-port`           | controller | every 100th VM (by MAC) is never pushed to any agent             |
 * | `gw-wrong-tunnel-key`       | controller | a gateway's logical switch gets tunnel_key VNI + 1 (GW-2) |
 * | `gw-no-remote-macs`         | controller | no Ucast_Macs_Remote rows written to gateways (GW-3) |
 * | `gw-wrong-vlan`             | controller | a gateway's tagged port binding (VLAN ≠ 0) is written with VLAN + 1: the tagged host reaches nothing (GW-2) |
 * | `gw-no-local-type2`         | controller | MACs learned by a gateway are not exported as type-2 (GW-4) |
 * | `gw-no-session`             | controller | no OVSDB session to any gateway: none is managed (GW-1) |
 * | `gw-evpn-ignored`           | controller | routes from VTEPs that are no hypervisor (EVPN gateways) are ignored: hosts behind them unreachable (GW-7) |
 * | `gw-evpn-vni-ignored=<VNI>` | controller | routes from EVPN gateways for that VNI are ignored: the L3 gateway is unreachable from that VNI (GW-8) |
 * | `gw-service-node`           | controller | gateways' logical switches keep the default service-node replication: a host's broadcast reaches the first hypervisor only (GW-5) |
 * | `gw-no-resync`              | controller | after a dropped session the old mirror is kept, not the monitor's initial rows (GW-6) |
 * | `type5-wrong-rt`            | controller | type-5 routes carry route target <ASN>:<L3 VNI + 1>, not the domain's (FED-1, EVPN-7) |
 * | `type5-no-router-mac`       | controller | type-5 routes without the router MAC extended community (EVPN-7) |
 * | `type5-no-import`           | agent      | prefixes imported from type-5 routes are never programmed (FED-1, EVPN-7) |
 */
export const SABOTAGES = [
  'no-arp-suppress',
  'wrong-vni',
  'leak-routes',
  'flush-on-restart',
  'fixed-srcport',
  'no-df',
  'no-rx-normalise',
  'no-remote-macs',
  'local-gateway-mac',
  'delay-type2',
  'no-type2-withdraw',
  'type3-no-encap',
  'ignore-rt',
  'flood-all-vteps',
  'cross-tenant-arp',
  'no-stale',
  'forget-on-directory-loss',
  'no-dup-mac-detection',
  'mobility-zone-local',
  'no-graceful-restart',
  'sg-allow-all',
  'sg-stateless',
  'sg-drop-membership-update',
  'sg-no-community',
  'sg-cartesian',
  'sg-no-intra-subnet',
  'sg-ignore-external',
  'sg-egress-only',
  'fip-no-announce',
  'fip-stale-route',
  'nat-translate-internal',
  'nat-central',
  'svc-bypass',
  'svc-asymmetric',
  'svc-ignore-ports',
  'svc-no-failover',
  'scale-drop-port',
  'gw-wrong-tunnel-key',
  'gw-no-remote-macs',
  'gw-wrong-vlan',
  'gw-no-local-type2',
  'gw-no-session',
  'gw-no-resync',
  'gw-service-node',
  'gw-evpn-ignored',
  'gw-evpn-vni-ignored',
  'type5-wrong-rt',
  'type5-no-router-mac',
  'type5-no-import',
] as const;
export type Sabotage = (typeof SABOTAGES)[number];
/** A switch as written in OTWIN_SABOTAGE: its name, or `name=value`. */
export type SabotageSetting = Sabotage | `${Sabotage}=${string}`;

const active = new Map<string, string>();
for (const item of (process.env.OTWIN_SABOTAGE ?? '').split(',')) {
  const [name = '', value = ''] = item.split('=', 2).map((s) => s.trim());
  if (name) active.set(name, value);
}
for (const name of active.keys())
  if (!(SABOTAGES as readonly string[]).includes(name))
    console.error(`OTWIN_SABOTAGE: unknown switch '${name}' (known: ${SABOTAGES.join(', ')})`);
if (active.size)
  console.error(`OTWIN_SABOTAGE: TEST-ONLY bugs switched on: ${[...active.keys()].join(', ')}`);

export function sabotaged(name: Sabotage): boolean {
  return active.has(name);
}

/** The number a switch was given (`name=N`), else `fallback`. */
function sabotageNumber(name: Sabotage, fallback: number): number {
  const value = Number(active.get(name));
  return active.get(name) && Number.isFinite(value) && value >= 0 ? value : fallback;
}

/** The VNI whose EVPN gateway routes a `gw-evpn-vni-ignored=<VNI>` controller ignores, else undefined. */
export function gatewayVniIgnored(): number | undefined {
  const vni = sabotageNumber('gw-evpn-vni-ignored', -1);
  return vni >= 0 ? vni : undefined;
}

/** The underlay address of the central egress node under `nat-central=<address>`, else undefined. */
export function natCentral(): string | undefined {
  return active.get('nat-central') || undefined;
}

/** The VNI written into VXLAN devices (wrong on purpose under `wrong-vni`). */
export function wireVni(vni: number): number {
  return sabotaged('wrong-vni') ? (vni + 1_000_000) % 16_777_216 : vni;
}

/** How long a `flush-on-restart` controller keeps agents without remote reachability, ms. */
export const FLUSH_HOLD_MS = 2500;

/** How late a `delay-type2` controller sends its type-2 routes, ms (0: the switch is off). */
export function type2DelayMs(): number {
  return sabotaged('delay-type2') ? sabotageNumber('delay-type2', 3000) : 0;
}

/**
 * The gateway MAC a hypervisor's bridges carry: the anycast one from the controller, or under
 * `local-gateway-mac` one that differs per hypervisor (third octet from the hypervisor's name).
 */
export function gatewayMacOn(hypervisor: string, anycast: string): string {
  if (!sabotaged('local-gateway-mac')) return anycast;
  let hash = 0;
  for (const c of hypervisor) hash = (hash * 31 + c.charCodeAt(0)) & 0xff;
  const octets = anycast.split(':');
  octets[2] = (hash || 1).toString(16).padStart(2, '0');
  return octets.join(':');
}

/**
 * TEST-ONLY `scale-drop-port`: whether the controller drops this entry (a VM's vport or MAC entry
 * whose MAC's last two octets are a multiple of 100: one VM in a hundred, on every agent).
 */
export function droppedAtScale(entry: { kind: string; mac?: string }): boolean {
  if (!sabotaged('scale-drop-port') || (entry.kind !== 'vport' && entry.kind !== 'mac') || !entry.mac)
    return false;
  return Number.parseInt(entry.mac.slice(-5).replace(':', ''), 16) % 100 === 0;
}
