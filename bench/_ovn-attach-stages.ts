/**
 * Where OVN's attach latency goes, from OVN's own timestamps read after the fact (a leading
 * underscore: bench/run.ts does not list it as a benchmark). The attach's NB transaction also sets
 * `NB_Global.nb_cfg` (OvnDriver.markNextTransaction: no wait added), so OVN stamps that change:
 * ovn-northd when it saw it and when it had written the southbound database (ovn-nb(5) NB_Global
 * `nb_cfg_timestamp`, `sb_cfg_timestamp`), each chassis' ovn-controller when its flows for it were
 * installed (ovn-sb(5) Chassis_Private `nb_cfg_timestamp`; read once `hv_cfg` says every chassis has
 * it); the hosting chassis' own logs stamp the VIF (ovs-vswitchd: added to br-int) and its binding
 * (ovn-controller: `Claiming lport`, `ovn-installed`, `up in Southbound`). Stages are ms after the
 * API call, as in the reference's table (_attach-stages.ts).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DeployedLab, LabNode } from '../harness/runtime/runtime.ts';
import { pollUntil } from '../harness/util/poll.ts';
import { ovsdbRows } from '../implementations/ovn/driver.ts';
import { percentile, stageRows } from './_attach-stages.ts';

/** OVN's stamps of one marked NB change (ms since the epoch). */
export interface NbCfgStamps {
  nbCfg: number;
  northdSeen: number;
  sbWritten: number;
  /** Chassis name → when its ovn-controller had installed the change's flows. */
  chassis: Map<string, number>;
}

/** One attach as the benchmark and OVN saw it. */
export interface OvnAttachTiming {
  /** The VM's logical switch port (its name in ovn-controller's log). */
  port: string;
  /** The VM's br-int interface (its name in ovs-vswitchd's log). */
  vif: string;
  hv: string;
  /** Wall clock of the driver's provision call (ms since the epoch). */
  t0: number;
  /** The NB transaction returned (the driver's `accepted()`), ms after t0. */
  tNb: number;
  /** The provision call returned, i.e. the VIF was plugged (namespace, veth, br-int port), ms after t0. */
  tPlugged: number;
  /** First echo reply per probe chassis (`chassis` order), ms after t0. */
  tReach: number[];
  stamps: NbCfgStamps | undefined;
}

/** The stages in table order: `key` names the BENCH lines (ovn_attach_stage_<key>_p95_ms). */
export const OVN_STAGES = [
  { key: 'nb_committed', label: '1 NB transaction committed (ovn-nbctl returned)' },
  { key: 'northd_seen', label: '2 ovn-northd saw it (nb_cfg_timestamp)' },
  { key: 'sb_written', label: '3 ovn-northd wrote the SB (sb_cfg_timestamp)' },
  { key: 'hosting_controller', label: '4 hosting chassis: ovn-controller done' },
  { key: 'other_controller', label: '5 other chassis: ovn-controller done (each)' },
  { key: 'all_controllers', label: '6 every chassis: ovn-controller done' },
  { key: 'vif_added', label: '7 VIF added to br-int (ovs-vswitchd)' },
  { key: 'port_claimed', label: '8 hosting ovn-controller claimed the port' },
  { key: 'port_installed', label: '9 hosting: port flows installed (ovn-installed)' },
  { key: 'port_up', label: '10 hosting: port up in the SB' },
  { key: 'vif_plugged', label: '11 VIF plug returned (provision returned)' },
  { key: 'reply_hosting', label: '12 first reply at the hosting chassis probe' },
  { key: 'reply_other', label: '13 first reply at another chassis probe (each)' },
  { key: 'reachable', label: '14 reachable from every chassis' },
] as const;

export type OvnStageKey = (typeof OVN_STAGES)[number]['key'];

const NB_COLUMNS = 'nb_cfg,nb_cfg_timestamp,sb_cfg,sb_cfg_timestamp,hv_cfg,hv_cfg_timestamp';

function ovnctl(lab: DeployedLab, central: LabNode, tool: 'nb' | 'sb', args: string[]): Promise<string> {
  const rundir = lab.topology.nodes.find((n) => n.name === central.name)?.env.OVN_RUNDIR ?? '/var/run/ovn';
  return central
    .exec([`ovn-${tool}ctl`, `--db=unix:${rundir}/ovn${tool}_db.sock`, '--format=json', ...args])
    .then((r) => {
      if (r.exitCode !== 0) throw new Error(`ovn-${tool}ctl ${args.join(' ')}: ${r.stderr.trim()}`);
      return r.stdout;
    });
}

/** NB_Global.nb_cfg now (the mark of the next attach is one more). */
export async function currentNbCfg(lab: DeployedLab, central: LabNode): Promise<number> {
  const [row] = ovsdbRows(await ovnctl(lab, central, 'nb', [`--columns=${NB_COLUMNS}`, 'list', 'NB_Global']));
  return Number(row?.nb_cfg ?? 0);
}

/**
 * OVN's stamps of the change marked `nbCfg`, once every chassis has acknowledged it (hv_cfg reached
 * it); undefined when that did not happen within `timeoutMs` (the stages are then left out).
 */
export async function readStamps(
  lab: DeployedLab,
  central: LabNode,
  nbCfg: number,
  timeoutMs = 15_000,
): Promise<NbCfgStamps | undefined> {
  const r = await pollUntil(
    async () => {
      const [nb] = ovsdbRows(
        await ovnctl(lab, central, 'nb', [`--columns=${NB_COLUMNS}`, 'list', 'NB_Global']),
      );
      return nb;
    },
    (nb) => nb !== undefined && Number(nb.hv_cfg) >= nbCfg,
    { timeoutMs, intervalMs: 50, what: `every chassis acknowledged nb_cfg ${nbCfg}` },
  );
  const nb = r.value;
  if (!r.ok || !nb || Number(nb.nb_cfg) !== nbCfg) return undefined;
  const chassis = new Map<string, number>();
  for (const row of ovsdbRows(
    await ovnctl(lab, central, 'sb', ['--columns=name,nb_cfg,nb_cfg_timestamp', 'list', 'Chassis_Private']),
  ))
    if (Number(row.nb_cfg) === nbCfg) chassis.set(String(row.name), Number(row.nb_cfg_timestamp));
  return {
    nbCfg,
    northdSeen: Number(nb.nb_cfg_timestamp),
    sbWritten: Number(nb.sb_cfg_timestamp),
    chassis,
  };
}

/**
 * A chassis' events by port or interface name, from its own logs (`YYYY-MM-DDTHH:MM:SS.mmmZ|seq|
 * module|INFO|...`, ms since the epoch): ovs-vswitchd adding the VIF to br-int, ovn-controller
 * claiming the logical port, installing its flows, setting it up.
 */
export interface PortEvents {
  added: number[];
  claimed: number[];
  installed: number[];
  up: number[];
}

const LOG_EVENTS: Array<[RegExp, keyof PortEvents]> = [
  [/\|bridge\|INFO\|bridge br-int: added interface (\S+) on port/, 'added'],
  [/\|binding\|INFO\|Claiming lport (\S+) for this chassis/, 'claimed'],
  [/\|binding\|INFO\|Setting lport (\S+) ovn-installed in OVS/, 'installed'],
  [/\|binding\|INFO\|Setting lport (\S+) up in Southbound/, 'up'],
];

/** The chassis' ovs-vswitchd and ovn-controller logs, as the lab binds them (clab-<lab>/<node>/ovs). */
export function readPortEvents(labDir: string, chassis: string): Map<string, PortEvents> {
  const out = new Map<string, PortEvents>();
  for (const log of ['ovs-vswitchd.log', 'ovn-controller.log']) {
    const file = join(labDir, chassis, 'ovs', log);
    if (!existsSync(file)) continue;
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const t = Date.parse(line.slice(0, line.indexOf('|')));
      if (!Number.isFinite(t)) continue;
      for (const [re, kind] of LOG_EVENTS) {
        const name = re.exec(line)?.[1];
        if (name === undefined) continue;
        const events = out.get(name) ?? { added: [], claimed: [], installed: [], up: [] };
        out.set(name, events);
        events[kind].push(t);
      }
    }
  }
  return out;
}

/** Each stage's values (ms after the API call) over the attaches. */
export function ovnStages(
  attaches: OvnAttachTiming[],
  chassis: string[],
  events: Map<string, Map<string, PortEvents>>,
): Map<OvnStageKey, number[]> {
  const stages = new Map<OvnStageKey, number[]>();
  const add = (key: OvnStageKey, v: number | undefined) => {
    if (v === undefined || !Number.isFinite(v)) return;
    stages.set(key, [...(stages.get(key) ?? []), v]);
  };
  for (const a of attaches) {
    const rel = (t: number | undefined) => (t === undefined ? undefined : t - a.t0);
    // The first stamp of the port after this attach's call (log lines have ms resolution).
    const after = (list: number[] | undefined) => list?.find((t) => t >= Math.floor(a.t0));
    add('nb_committed', a.tNb);
    const s = a.stamps;
    if (s) {
      add('northd_seen', rel(s.northdSeen));
      add('sb_written', rel(s.sbWritten));
      add('hosting_controller', rel(s.chassis.get(a.hv)));
      for (const hv of chassis) if (hv !== a.hv) add('other_controller', rel(s.chassis.get(hv)));
      // (NB_Global.hv_cfg_timestamp is the same figure: the largest of these, ovn-nb(5).)
      if (s.chassis.size === chassis.length) add('all_controllers', rel(Math.max(...s.chassis.values())));
    }
    add('vif_plugged', a.tPlugged);
    add('vif_added', rel(after(events.get(a.hv)?.get(a.vif)?.added)));
    const own = events.get(a.hv)?.get(a.port);
    add('port_claimed', rel(after(own?.claimed)));
    add('port_installed', rel(after(own?.installed)));
    add('port_up', rel(after(own?.up)));
    for (const [i, t] of a.tReach.entries()) add(chassis[i] === a.hv ? 'reply_hosting' : 'reply_other', t);
    add('reachable', Math.max(...a.tReach));
  }
  return stages;
}

/** The table (reference format) and the BENCH lines per stage. */
export function ovnStageReport(stages: Map<OvnStageKey, number[]>): { table: string[]; bench: string[] } {
  const labelled = new Map<string, number[]>();
  const bench: string[] = [];
  for (const { key, label } of OVN_STAGES) {
    const list = stages.get(key);
    if (!list?.length) continue;
    labelled.set(label, list);
    const sorted = [...list].sort((x, y) => x - y);
    for (const p of [50, 95])
      bench.push(`BENCH ovn_attach_stage_${key}_p${p}_ms ${percentile(sorted, p).toFixed(1)} ms`);
  }
  return { table: stageRows(labelled), bench };
}
