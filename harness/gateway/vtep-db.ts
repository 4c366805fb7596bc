/**
 * A hardware VTEP's `hardware_vtep` database (RFC 7047; the OVSDB schema NSX and others program
 * top-of-rack gateways with), read inside the gateway's lab node with `ovsdb-client` as typed JSON,
 * and the session fault of GW-6. Implementation-neutral: what a gateway holds, in the harness's terms;
 * a driver answers `gatewayTables` with it (drivers/driver.ts) and a vendor driver may answer otherwise.
 */
import type { LabNode } from '../runtime/runtime.ts';
import { HarnessError } from '../util/errors.ts';

/** What a gateway's vtep DB holds, decoded (names, not row uuids). */
export interface VtepTables {
  physicalSwitches: Array<{ name: string; tunnelIps: string[] }>;
  logicalSwitches: Array<{ uuid: string; name: string; tunnelKey: number | undefined }>;
  /** Physical port + VLAN → logical switch name. */
  portBindings: Array<{ port: string; vlan: number; logicalSwitch: string }>;
  /** Ucast_Macs_Remote: a MAC of a logical switch at a remote locator (the VM's hypervisor VTEP). */
  remoteMacs: Array<{ uuid: string; mac: string; logicalSwitch: string; locator: string; ip: string }>;
  /** Ucast_Macs_Local: MACs the gateway learned on its physical ports. */
  localMacs: Array<{ mac: string; logicalSwitch: string }>;
  /** Established TCP sessions to the gateway's OVSDB port (its managing controllers). */
  managerSessions: number;
}

type Atom = string | number | boolean | [string, string];
type Value = Atom | ['set', Atom[]] | ['map', [Atom, Atom][]];
type Row = Record<string, Value>;

const TABLES = [
  'Physical_Switch',
  'Logical_Switch',
  'Physical_Port',
  'Ucast_Macs_Remote',
  'Ucast_Macs_Local',
  'Physical_Locator',
] as const;

/** Members of an OVSDB set (a lone atom is a one-member set). */
function members(v: Value | undefined): Atom[] {
  if (v === undefined) return [];
  if (Array.isArray(v) && v[0] === 'set') return v[1] as Atom[];
  return [v as Atom];
}

function uuid(v: Value | undefined): string {
  const [m] = members(v);
  return Array.isArray(m) && m[0] === 'uuid' ? m[1] : '';
}

function str(v: Value | undefined): string {
  const [m] = members(v);
  return typeof m === 'string' ? m : '';
}

/** The node's OVS run directory (its `OVS_RUNDIR`, as labs/gw.clab.yml sets it), where db.sock is. */
export function ovsRunDir(env: Record<string, string> | undefined): string {
  return env?.OVS_RUNDIR ?? '/var/run/openvswitch';
}

/** One `transact` of selects over the node's Unix socket (a TCP session would count as a manager). */
async function selectAll(node: LabNode, runDir: string): Promise<Map<string, Row[]>> {
  const query = JSON.stringify([
    'hardware_vtep',
    ...TABLES.map((table) => ({ op: 'select', table, where: [] })),
  ]);
  const r = await node.exec(['ovsdb-client', 'query', `unix:${runDir}/db.sock`, query], {
    timeoutMs: 10_000,
  });
  if (r.exitCode !== 0)
    throw new HarnessError(`${node.name}: ovsdb-client query hardware_vtep failed: ${r.stderr.trim()}`);
  const results = JSON.parse(r.stdout) as Array<{ rows?: Row[]; error?: string }>;
  return new Map(TABLES.map((t, i) => [t, results[i]?.rows ?? []]));
}

/** Established TCP connections whose local port is `port`, from the node's /proc/net/tcp. */
async function sessionsOnPort(node: LabNode, port: number): Promise<number> {
  const r = await node.exec(['cat', '/proc/net/tcp']);
  return r.stdout
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => f[3] === '01' && Number.parseInt(f[1]?.split(':')[1] ?? '', 16) === port).length;
}

/** The vtep DB of a gateway node, decoded; `ovsdbPort` is its management TCP port (sessions counted). */
export async function readVtepTables(node: LabNode, runDir: string, ovsdbPort: number): Promise<VtepTables> {
  const rows = await selectAll(node, runDir);
  const get = (t: (typeof TABLES)[number]) => rows.get(t) ?? [];
  const lsName = new Map(get('Logical_Switch').map((r) => [uuid(r._uuid), str(r.name)]));
  const locators = new Map(get('Physical_Locator').map((r) => [uuid(r._uuid), str(r.dst_ip)]));
  const macRow = (r: Row) => ({
    mac: str(r.MAC).toLowerCase(),
    logicalSwitch: lsName.get(uuid(r.logical_switch)) ?? '',
  });
  return {
    physicalSwitches: get('Physical_Switch').map((r) => ({
      name: str(r.name),
      tunnelIps: members(r.tunnel_ips).map(String),
    })),
    logicalSwitches: get('Logical_Switch').map((r) => {
      const [key] = members(r.tunnel_key);
      return { uuid: uuid(r._uuid), name: str(r.name), tunnelKey: typeof key === 'number' ? key : undefined };
    }),
    portBindings: get('Physical_Port').flatMap((r) => {
      const b = r.vlan_bindings;
      const entries = Array.isArray(b) && b[0] === 'map' ? (b[1] as [Atom, Atom][]) : [];
      return entries.map(([vlan, ls]) => ({
        port: str(r.name),
        vlan: Number(vlan),
        logicalSwitch: lsName.get(Array.isArray(ls) ? ls[1] : '') ?? '',
      }));
    }),
    remoteMacs: get('Ucast_Macs_Remote').map((r) => ({
      ...macRow(r),
      uuid: uuid(r._uuid),
      locator: locators.get(uuid(r.locator)) ?? '',
      ip: str(r.ipaddr),
    })),
    localMacs: get('Ucast_Macs_Local').map(macRow),
    managerSessions: await sessionsOnPort(node, ovsdbPort),
  };
}

/** The TCP port of an OVSDB target `tcp:HOST:PORT` (undefined for `unix:`). */
export function ovsdbTcpPort(target: string): number | undefined {
  const m = /^tcp:[^:]+:(\d+)$/.exec(target);
  return m ? Number(m[1]) : undefined;
}

/**
 * GW-6's stimulus: the gateway's ovsdb-server drops every client session (`ovsdb-server/reconnect`,
 * as a flapping management link would). With `tamper`, its TCP listeners are taken away first so no
 * controller can come back while the database drifts (the first remote MAC row deleted, a stray one
 * added), then restored: only a real resync (not a session that merely comes back) restores the rows.
 * Returns what was done, for the report.
 */
export async function dropOvsdbSessions(node: LabNode, runDir: string, tamper: boolean): Promise<string> {
  const appctl = async (...args: string[]) => {
    const r = await node.exec(['env', `OVS_RUNDIR=${runDir}`, 'ovs-appctl', '-t', 'ovsdb-server', ...args]);
    if (r.exitCode !== 0)
      throw new HarnessError(`${node.name}: ovs-appctl ${args.join(' ')}: ${(r.stderr || r.stdout).trim()}`);
    return r.stdout;
  };
  if (!tamper) {
    await appctl('ovsdb-server/reconnect');
    return `${node.name}: OVSDB sessions dropped`;
  }
  // list-remotes prints one configured remote per line (it has no JSON form).
  const listeners = (await appctl('ovsdb-server/list-remotes'))
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('ptcp:') || l.startsWith('pssl:'));
  for (const remote of listeners) await appctl('ovsdb-server/remove-remote', remote);
  try {
    await appctl('ovsdb-server/reconnect');
    return `${node.name}: OVSDB sessions dropped (listeners ${listeners.join(', ')} away meanwhile); ${await tamperWith(node, runDir)}`;
  } finally {
    for (const remote of listeners) await appctl('ovsdb-server/add-remote', remote);
  }
}

/** Deletes the first remote MAC row and adds a stray one (at 10.255.255.254), in one transaction. */
async function tamperWith(node: LabNode, runDir: string): Promise<string> {
  const rows = await selectAll(node, runDir);
  const victim = rows.get('Ucast_Macs_Remote')?.[0];
  const ls = victim?.logical_switch ?? rows.get('Logical_Switch')?.[0]?._uuid;
  if (!ls) return 'no logical switch to tamper with';
  const ops: unknown[] = [
    {
      op: 'insert',
      table: 'Physical_Locator',
      row: { dst_ip: '10.255.255.254', encapsulation_type: 'vxlan_over_ipv4' },
      'uuid-name': 'stray',
    },
    {
      op: 'insert',
      table: 'Ucast_Macs_Remote',
      row: { MAC: '02:00:ee:ee:ee:ee', logical_switch: ls, locator: ['named-uuid', 'stray'] },
    },
  ];
  if (victim) ops.push({ op: 'delete', table: 'Ucast_Macs_Remote', where: [['_uuid', '==', victim._uuid]] });
  const r = await node.exec([
    'ovsdb-client',
    'transact',
    `unix:${runDir}/db.sock`,
    JSON.stringify(['hardware_vtep', ...ops]),
  ]);
  const results = r.exitCode === 0 ? (JSON.parse(r.stdout || '[]') as Array<{ error?: string } | null>) : [];
  const error = results.find((x) => x?.error)?.error;
  if (r.exitCode !== 0 || error)
    throw new HarnessError(`${node.name}: tampering with the vtep DB failed: ${error ?? r.stderr.trim()}`);
  return `meanwhile remote MAC ${victim ? str(victim.MAC) : '(none)'} deleted and stray 02:00:ee:ee:ee:ee at 10.255.255.254 added`;
}
