/**
 * TEST-ONLY sabotage switches: deliberate bugs that tests/sabotage/ turn on to prove the conformance
 * suites can fail. Read once, at process start, from the environment variable OTWIN_SABOTAGE (a
 * comma-separated list; the lab topology sets it per node with `env:`). Unset — always, outside those
 * tests — every switch is off and the reference behaves as documented.
 *
 * | switch             | role        | the bug                                                        | caught by |
 * |--------------------|-------------|----------------------------------------------------------------|-----------|
 * | `no-arp-suppress`  | agent       | VXLAN bridge ports without `neigh_suppress`: ARP is flooded     | ARP-1     |
 * | `wrong-vni`        | agent       | VXLAN devices use VNI + 1000000 instead of the provisioned VNI | VX-1, L2-1|
 * | `leak-routes`      | agent       | every routing domain of a hypervisor shares one router namespace | L3-4    |
 * | `flush-on-restart` | controller  | after (re)start, agents are synced without remote reachability for 2.5 s, then rebuilt | AZ-3 |
 * | `flush-on-restart` | agent       | at start the agent tears its datapath down (router namespaces, VXLAN devices, bridges, VM ports), then rebuilds it from the sync | AZ-4 |
 */
export const SABOTAGES = ['no-arp-suppress', 'wrong-vni', 'leak-routes', 'flush-on-restart'] as const;
export type Sabotage = (typeof SABOTAGES)[number];

const active = new Set(
  (process.env.OTWIN_SABOTAGE ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
);
for (const name of active)
  if (!(SABOTAGES as readonly string[]).includes(name))
    console.error(`OTWIN_SABOTAGE: unknown switch '${name}' (known: ${SABOTAGES.join(', ')})`);
if (active.size) console.error(`OTWIN_SABOTAGE: TEST-ONLY bugs switched on: ${[...active].join(', ')}`);

export function sabotaged(name: Sabotage): boolean {
  return active.has(name);
}

/** The VNI written into VXLAN devices (wrong on purpose under `wrong-vni`). */
export function wireVni(vni: number): number {
  return sabotaged('wrong-vni') ? (vni + 1_000_000) % 16_777_216 : vni;
}

/** How long a `flush-on-restart` controller keeps agents without remote reachability, ms. */
export const FLUSH_HOLD_MS = 2500;
