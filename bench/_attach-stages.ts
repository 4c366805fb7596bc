/**
 * Where attach latency goes: the reference roles' trace lines (OTWIN_REF_TRACE=1, protocol/trace.ts)
 * merged with the benchmark's own timestamps into one table of stages, each in ms after the API call.
 * (A leading underscore: bench/run.ts does not list it as a benchmark.)
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { percentile } from '../harness/util/percentile.ts';

export { percentile };

export interface TraceLine {
  t: number;
  role: string;
  event: string;
  detail: string;
}

/** One attach as the benchmark saw it. */
export interface AttachTiming {
  mac: string;
  hv: string;
  /** Wall clock of the API call (ms since the epoch). */
  t0: number;
  /** API call returned, ms after t0. */
  tApi: number;
  /** First echo reply per probe hypervisor, ms after t0. */
  tReach: number[];
  /** The hypervisor of each `tReach` probe, when not `hvs` in order (sg: the db VMs' hypervisors). */
  reachHvs?: string[];
  /** The last row's name (default: reachable from every hypervisor). */
  doneLabel?: string;
}

export function readTraces(labDir: string, nodes: string[], since: number): TraceLine[] {
  const out: TraceLine[] = [];
  for (const node of nodes) {
    const file = join(labDir, node, 'cmd.log');
    if (!existsSync(file)) continue;
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const m = /^TRACE (\S+) (\S+) (\S+) ?(.*)$/.exec(line);
      if (m && Number(m[1]) >= since)
        out.push({ t: Number(m[1]), role: m[2] as string, event: m[3] as string, detail: m[4] ?? '' });
    }
  }
  return out.sort((a, b) => a.t - b.t);
}

/**
 * The stage table. `hvs` in zone order (the first half in zone 1, served by c1; the rest by c2).
 * Trace lines are indexed by MAC once, so the table costs O(lines + attaches), not their product.
 */
export function stageTable(traces: TraceLine[], attaches: AttachTiming[], hvs: string[]): string[] {
  const zoneOf = (hv: string) => (hvs.indexOf(hv) < hvs.length / 2 ? 1 : 2);
  const controllerOf = (zone: number) => `controller:c${zone}`;
  // agent seq → when the programming run that acknowledged it ended
  const appliedAt = new Map<string, number>();
  // agent seq → wall time of that pass's kernel writes (the `kernel=` of its `applied` line)
  const kernelMs = new Map<string, number>();
  // agent seq → that pass's kernel writes per phase (the `kernel_phases=` of its `applied` line)
  const kernelPhases = new Map<string, ReadonlyArray<readonly [string, number]>>();
  // mac → trace lines naming it
  const byMac = new Map<string, TraceLine[]>();
  const macRe = /\b([0-9a-f]{2}(?::[0-9a-f]{2}){5})\b/g;
  for (const l of traces) {
    if (l.event === 'applied') {
      for (const s of /seqs=(\S*)/.exec(l.detail)?.[1]?.split(',') ?? [])
        if (s && !appliedAt.has(`${l.role}/${s}`)) {
          appliedAt.set(`${l.role}/${s}`, l.t);
          const ms = /kernel=([\d.]+)/.exec(l.detail)?.[1];
          if (ms !== undefined) kernelMs.set(`${l.role}/${s}`, Number(ms));
          const phases = /kernel_phases=(\S+)/.exec(l.detail)?.[1];
          if (phases)
            kernelPhases.set(
              `${l.role}/${s}`,
              phases.split(',').map((p) => {
                const [name = '', value = ''] = p.split(':');
                return [name, Number(value)] as const;
              }),
            );
        }
      continue;
    }
    for (const m of l.detail.matchAll(macRe)) {
      const list = byMac.get(m[1] as string) ?? [];
      byMac.set(m[1] as string, list);
      list.push(l);
    }
  }
  const stages = new Map<string, number[]>();
  const add = (stage: string, v: number | undefined) => {
    if (v === undefined || !Number.isFinite(v)) return;
    const list = stages.get(stage) ?? [];
    stages.set(stage, list);
    list.push(v);
  };
  for (const a of attaches) {
    const lines = byMac.get(a.mac) ?? [];
    const first = (pred: (l: TraceLine) => boolean) => lines.find((l) => l.t >= a.t0 && pred(l));
    const rel = (l: TraceLine | undefined) => (l ? l.t - a.t0 : undefined);
    const own = zoneOf(a.hv);
    const other = own === 1 ? 2 : 1;
    add('1 API call returned (directory accepted)', a.tApi);
    add(
      '2 own controller saw the change',
      rel(first((l) => l.role === controllerOf(own) && l.event === 'dir-change')),
    );
    const programmed = (where: string) => (hv: string) => {
      const recv = first((l) => l.role === `agent:${hv}` && l.event === 'recv');
      const seq = recv ? /seq=(\d+)/.exec(recv.detail)?.[1] : undefined;
      const done = seq ? appliedAt.get(`agent:${hv}/${seq}`) : undefined;
      add(`${where}: update received`, rel(recv));
      add(`${where}: programmed`, done === undefined ? undefined : done - a.t0);
      add(`${where}: kernel writes of that pass (ms)`, seq ? kernelMs.get(`agent:${hv}/${seq}`) : undefined);
      return seq;
    };
    const hostingSeq = programmed('3 hosting agent')(a.hv);
    // The hosting pass's kernel writes by phase: namespaces created, router namespaces' batches,
    // then the bridges' and the VM namespace's lines.
    for (const [name, ms] of (hostingSeq && kernelPhases.get(`agent:${a.hv}/${hostingSeq}`)) || [])
      if (PHASE_LABELS[name]) add(`3 hosting agent: kernel writes: ${PHASE_LABELS[name]} (ms)`, ms);
    add(
      '4 own controller announced the route (BGP)',
      rel(first((l) => l.role === controllerOf(own) && l.event === 'bgp-announce')),
    );
    add(
      '5 other zone controller learned it via the reflectors',
      rel(first((l) => l.role === controllerOf(other) && l.event === 'bgp-learn')),
    );
    for (const hv of hvs) {
      if (hv === a.hv) continue;
      programmed(zoneOf(hv) === own ? '6 same-zone agent' : '7 other-zone agent')(hv);
    }
    for (const [i, t] of a.tReach.entries()) {
      const hv = (a.reachHvs ?? hvs)[i] as string;
      add(
        `8 first reply at ${hv === a.hv ? 'hosting' : zoneOf(hv) === own ? 'same-zone' : 'other-zone'} probe`,
        t,
      );
    }
    add(`9 ${a.doneLabel ?? 'reachable from every hypervisor'}`, Math.max(...a.tReach));
  }
  return stageRows(stages);
}

/** The kernel writer's phases (reference-impl/agent/kernel.ts apply) as the table names them. */
const PHASE_LABELS: Record<string, string> = {
  ns: '1 namespace',
  router: '2 router batch',
  vm: '3 bridge + VM',
};

/** The stages' table (p50, p95, max, n), rows in the order of their names (which start with a number). */
export function stageRows(stages: Map<string, number[]>): string[] {
  const rows = [...stages].sort(([x], [y]) => x.localeCompare(y, 'en', { numeric: true }));
  const out = [
    'stage (ms after the API call)                          p50      p95      max      n',
    '-----------------------------------------------------  -------  -------  -------  -----',
  ];
  const cell = (v: number) => v.toFixed(1).padStart(7);
  for (const [stage, list] of rows) {
    const sorted = [...list].sort((x, y) => x - y);
    out.push(
      `${stage.padEnd(53)}  ${cell(percentile(sorted, 50))}  ${cell(percentile(sorted, 95))}  ${cell(sorted[sorted.length - 1] as number)}  ${String(sorted.length).padStart(5)}`,
    );
  }
  return out;
}
