/**
 * Appliance liveness (SVC-5, docs/service-chaining.md): the agent of the hypervisor that hosts an
 * appliance VM of a redirection with a standby pings it from the domain's router namespace: one ICMP
 * echo (`ping -c 1 -W`, judged by its exit status) every PROBE_INTERVAL_MS, without waiting for the
 * previous one, so a dead appliance is noticed about DEAD_AFTER intervals plus one timeout after it
 * died (~350 ms), not DEAD_AFTER timeouts in a row. After DEAD_AFTER misses in a row (in the order
 * the probes were sent) it is reported dead; after ALIVE_AFTER answers in a row, alive again. The
 * controller then steers the redirection to the standby (or back).
 *
 * Why the appliance's own hypervisor probes and not the ingress one: with the anycast gateway every
 * router namespace has the same gateway address and MAC, so an echo reply from the appliance always
 * goes to the router namespace of the appliance's own hypervisor; a probe from anywhere else would
 * never see its answer.
 */
import { run } from '../../harness/util/exec.ts';
import type { Entry } from '../protocol/messages.ts';
import { sabotaged } from '../sabotage.ts';
import { type AgentNaming, domainNsName } from './model.ts';

export const PROBE_INTERVAL_MS = 100;
/** How long one echo waits for its reply (`ping -W`, seconds). */
export const PROBE_TIMEOUT_S = 0.15;
export const DEAD_AFTER = 2;
export const ALIVE_AFTER = 3;

export interface ApplianceTarget {
  /** The appliance's vport id (what the controller is told about). */
  vport: string;
  ip: string;
  /** The router namespace it is probed from. */
  ns: string;
}

interface ProbeState {
  target: ApplianceTarget;
  misses: number;
  answers: number;
  /** What was last reported; undefined until the first verdict (alive is the controller's default). */
  alive: boolean | undefined;
  /** Probes sent, and the sequence number of the last one whose verdict was counted. */
  sent: number;
  counted: number;
}

/**
 * The local appliance VMs to probe: the vports of this hypervisor that are the active or the standby
 * appliance of a redirection that has a standby (without one there is nothing to fail over to).
 */
export function localAppliances(entries: Iterable<Entry>, naming: AgentNaming): ApplianceTarget[] {
  const all = [...entries];
  const domainOfSubnet = new Map<string, string>();
  const appliances = new Set<string>();
  for (const e of all) {
    if (e.kind === 'subnet') domainOfSubnet.set(e.id, e.domain);
    if (e.kind === 'redirect' && e.standby)
      for (const ip of [e.applianceIp, e.standby.ip]) appliances.add(`${e.domain}|${ip}`);
  }
  const out: ApplianceTarget[] = [];
  for (const e of all) {
    if (e.kind !== 'vport') continue;
    const domain = domainOfSubnet.get(e.subnet);
    if (domain && appliances.has(`${domain}|${e.ip}`))
      out.push({ vport: e.id, ip: e.ip, ns: domainNsName(naming, domain) });
  }
  return out;
}

/** Probes the local appliances it is given and reports each change of their liveness. */
export class ApplianceLiveness {
  private readonly probes = new Map<string, ProbeState>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly onChange: (vport: string, alive: boolean) => void) {}

  /** The local appliances to probe now (others stop being probed). */
  watch(targets: ApplianceTarget[]): void {
    const wanted = new Map(targets.map((t) => [`${t.ns}|${t.vport}|${t.ip}`, t]));
    for (const key of [...this.probes.keys()]) if (!wanted.has(key)) this.probes.delete(key);
    for (const [key, target] of wanted)
      if (!this.probes.has(key))
        this.probes.set(key, { target, misses: 0, answers: 0, alive: undefined, sent: 0, counted: 0 });
    if (this.probes.size && !this.timer) {
      this.timer = setInterval(() => this.tick(), PROBE_INTERVAL_MS);
      this.timer.unref();
    } else if (!this.probes.size) this.stop();
  }

  /** Vports currently reported dead (re-sent after a controller's sync). */
  dead(): string[] {
    return [...this.probes.values()].filter((p) => p.alive === false).map((p) => p.target.vport);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    for (const state of this.probes.values()) void this.probe(state, ++state.sent);
  }

  private async probe(state: ProbeState, seq: number): Promise<void> {
    const { ns, ip } = state.target;
    const r = await run('ip', [
      'netns',
      'exec',
      ns,
      'ping',
      '-n',
      '-q',
      '-c',
      '1',
      '-W',
      `${PROBE_TIMEOUT_S}`,
      ip,
    ]);
    // ping exits 0 when the echo was answered, 1 when it was not (2: an error, e.g. the namespace is gone).
    // A verdict older than one already counted says nothing new (a late answer to an early echo).
    if (r.exitCode === 2 || seq < state.counted) return;
    state.counted = seq;
    const answered = r.exitCode === 0;
    if (answered) {
      state.answers++;
      state.misses = 0;
    } else {
      state.misses++;
      state.answers = 0;
    }
    // TEST-ONLY `svc-no-failover` sabotage (reference-impl/sabotage.ts): a dead appliance is never reported.
    if (sabotaged('svc-no-failover')) return;
    if (state.alive !== false && state.misses >= DEAD_AFTER) this.report(state, false);
    else if (state.alive === false && state.answers >= ALIVE_AFTER) this.report(state, true);
    else if (state.alive === undefined && answered) state.alive = true;
  }

  private report(state: ProbeState, alive: boolean): void {
    if (!this.probes.has(`${state.target.ns}|${state.target.vport}|${state.target.ip}`)) return;
    state.alive = alive;
    this.onChange(state.target.vport, alive);
  }
}
