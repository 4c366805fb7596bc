/**
 * A Linux bridge + VXLAN datapath's forwarding table, as segment-level entries: which MAC goes to which
 * VTEP (or to a local port) in which VNI. Read from `ip -j -d link show` and `bridge -j fdb show` of one
 * network namespace; drivers whose implementation programs the kernel this way share it.
 */

/** One forwarding entry of a segment. `vtep` undefined: behind a local port of the hypervisor. */
export interface ForwardingEntry {
  vni: number;
  /** Lower-case; `00:00:00:00:00:00` is the flood (BUM) list's entry for `vtep`. */
  mac: string;
  vtep: string | undefined;
}

export const FLOOD_MAC = '00:00:00:00:00:00';

interface LinkRow {
  ifname?: string;
  master?: string;
  linkinfo?: { info_kind?: string; info_data?: { id?: number } };
}

interface FdbRow {
  mac?: string;
  ifname?: string;
  dst?: string;
  master?: string;
  vni?: number;
  flags?: string[];
  state?: string;
}

/**
 * Entries from one namespace's links and fdb rows. A VXLAN device's own (`self`) rows with a `dst` are
 * remote entries (its VNI, or the row's for a metadata-mode device); its bridge-side rows only say
 * "towards the VXLAN port" and are left to the self rows. A bridge port's non-permanent rows are local
 * entries in the VNI of the VXLAN device on the same bridge; permanent ones are the ports' own addresses.
 */
export function forwardingEntriesOf(links: unknown, fdb: unknown): ForwardingEntry[] {
  const linkRows = (Array.isArray(links) ? links : []) as LinkRow[];
  const vniOfDevice = new Map<string, number>();
  const vniOfBridge = new Map<string, number>();
  for (const link of linkRows) {
    const id = link.linkinfo?.info_data?.id;
    if (link.linkinfo?.info_kind !== 'vxlan' || !link.ifname || id === undefined) continue;
    vniOfDevice.set(link.ifname, id);
    if (link.master) vniOfBridge.set(link.master, id);
  }
  const out: ForwardingEntry[] = [];
  for (const row of (Array.isArray(fdb) ? fdb : []) as FdbRow[]) {
    if (!row.mac || !row.ifname) continue;
    const mac = row.mac.toLowerCase();
    const deviceVni = vniOfDevice.get(row.ifname);
    if (deviceVni !== undefined) {
      if (row.dst && row.flags?.includes('self')) out.push({ vni: row.vni ?? deviceVni, mac, vtep: row.dst });
      continue;
    }
    const bridgeVni = row.master ? vniOfBridge.get(row.master) : undefined;
    if (bridgeVni !== undefined && row.state !== 'permanent')
      out.push({ vni: bridgeVni, mac, vtep: undefined });
  }
  return out;
}

/**
 * Shell text that prints, for each namespace (a name; '' = the namespace the shell runs in), a line
 * `@ns <name>` then its links and fdb as one JSON line each; a namespace that does not exist prints
 * only its `@ns` line (no table). Names must already be safe (see NETNS_NAME).
 */
export function forwardingTableScript(namespaces: readonly string[]): string {
  return namespaces
    .map((ns) => {
      if (ns && !NETNS_NAME.test(ns)) throw new Error(`unsafe namespace name '${ns}'`);
      const n = ns ? ` -n ${ns}` : '';
      const read = `ip${n} -j -d link show; echo; bridge${n} -j fdb show; echo`;
      return ns ? `echo '@ns ${ns}'; [ -e /run/netns/${ns} ] && { ${read}; }` : `echo '@ns '; ${read}`;
    })
    .join('; ')
    .concat('; true');
}

export const NETNS_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/;

/** Parses forwardingTableScript's output: entries by namespace (an absent namespace has none). */
export function parseForwardingTables(stdout: string): Map<string, ForwardingEntry[]> {
  const out = new Map<string, ForwardingEntry[]>();
  let current: string | undefined;
  let json: unknown[] = [];
  const flush = () => {
    if (current !== undefined)
      out.set(current, json.length >= 2 ? forwardingEntriesOf(json[0], json[1]) : []);
  };
  for (const line of stdout.split('\n')) {
    if (line.startsWith('@ns ')) {
      flush();
      current = line.slice(4).trim();
      json = [];
    } else if (line.trim()) {
      json.push(JSON.parse(line));
    }
  }
  flush();
  return out;
}
