/**
 * Appliance liveness (SVC-5, docs/service-chaining.md): the agent of the hypervisor that hosts an
 * appliance VM of a redirection with a standby pings it from the domain's router namespace: one ICMP
 * echo every PROBE_INTERVAL_MS, answered or not within PROBE_TIMEOUT_S, without waiting for the
 * previous one. The echoes come from one persistent prober process (appliance-prober.ts), no process
 * start per probe; if it cannot run, from one `ping -c 1 -W` each (judged by its exit status). So a
 * dead appliance is noticed about DEAD_AFTER intervals plus one timeout after it died (~350 ms), not
 * DEAD_AFTER timeouts in a row. After DEAD_AFTER misses in a row (in the order
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
import { ApplianceProber } from './appliance-prober.ts';
import { PYTHON } from './helper-process.ts';
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
  /** Unique per state: what the prober's verdicts name. */
  key: string;
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

/** How the echoes are sent: the persistent prober (appliance_prober.py) or one `ping` process each. */
export type ProbeMode = 'prober' | 'ping';

/** Probes the local appliances it is given and reports each change of their liveness. */
export class ApplianceLiveness {
  private readonly probes = new Map<string, ProbeState>();
  /** Probe state by the prober's key (a new state for the same appliance gets a new key). */
  private readonly byKey = new Map<string, ProbeState>();
  private nextKey = 1;
  private timer: NodeJS.Timeout | undefined;
  private prober: ApplianceProber | undefined;
  /** `ping` processes started (fallback mode; tests count process starts, never timings). */
  private pings = 0;
  /** Echo verdicts counted (tests wait for the first ones instead of sleeping). */
  verdicts = 0;
  mode: ProbeMode;

  constructor(
    private readonly onChange: (vport: string, alive: boolean) => void,
    private readonly log: (line: string) => void = () => {},
    mode: ProbeMode = 'prober',
    python = PYTHON,
  ) {
    this.mode = mode;
    if (mode === 'prober')
      this.prober = new ApplianceProber(
        PROBE_INTERVAL_MS,
        PROBE_TIMEOUT_S * 1000,
        {
          verdict: (v) => {
            const state = this.byKey.get(v.key);
            if (state) this.verdict(state, v.seq, v.error === undefined ? v.answered === true : undefined);
          },
          unavailable: (why) => this.fallBack(why),
          log,
        },
        python,
      );
  }

  /** The persistent prober's pid (tests: the same process across target changes). */
  get proberPid(): number | undefined {
    return this.prober?.pid;
  }

  /** Processes started to probe so far: prober starts plus `ping` runs. */
  get processStarts(): number {
    return (this.prober?.starts ?? 0) + this.pings;
  }

  /** The local appliances to probe now (others stop being probed). */
  watch(targets: ApplianceTarget[]): void {
    const wanted = new Map(targets.map((t) => [`${t.ns}|${t.vport}|${t.ip}`, t]));
    let changed = false;
    for (const [key, state] of [...this.probes])
      if (!wanted.has(key)) {
        this.probes.delete(key);
        this.byKey.delete(state.key);
        changed = true;
      }
    for (const [key, target] of wanted)
      if (!this.probes.has(key)) {
        const state: ProbeState = {
          key: `${this.nextKey++}`,
          target,
          misses: 0,
          answers: 0,
          alive: undefined,
          sent: 0,
          counted: 0,
        };
        this.probes.set(key, state);
        this.byKey.set(state.key, state);
        changed = true;
      }
    if (this.mode === 'prober') {
      // An idle agent never starts the prober; a changed set is one message, never a restart.
      if (changed && (this.probes.size || this.prober?.pid !== undefined))
        this.prober?.setTargets(
          [...this.probes.values()].map((p) => ({ key: p.key, ns: p.target.ns, ip: p.target.ip })),
        );
      return;
    }
    if (this.probes.size && !this.timer) {
      this.timer = setInterval(() => this.tick(), PROBE_INTERVAL_MS);
      this.timer.unref();
    } else if (!this.probes.size) this.stopTimer();
  }

  /** Vports currently reported dead (re-sent after a controller's sync). */
  dead(): string[] {
    return [...this.probes.values()].filter((p) => p.alive === false).map((p) => p.target.vport);
  }

  stop(): void {
    this.prober?.close();
    this.stopTimer();
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private fallBack(why: string): void {
    this.log(
      `appliance liveness: persistent prober unavailable (${why}), one ping process per probe instead`,
    );
    this.mode = 'ping';
    // Same states (what was reported stays reported); ping's sequence numbers go on from the prober's.
    for (const state of this.probes.values()) state.sent = state.counted;
    this.watch([...this.probes.values()].map((p) => p.target));
  }

  private tick(): void {
    for (const state of this.probes.values()) void this.ping(state, ++state.sent);
  }

  private async ping(state: ProbeState, seq: number): Promise<void> {
    const { ns, ip } = state.target;
    this.pings++;
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
    this.verdict(state, seq, r.exitCode === 2 ? undefined : r.exitCode === 0);
  }

  /** One echo's verdict (undefined: it could not be sent, which says nothing about the appliance). */
  private verdict(state: ProbeState, seq: number, answered: boolean | undefined): void {
    // A verdict older than one already counted says nothing new (a late answer to an early echo).
    if (answered === undefined || seq < state.counted) return;
    state.counted = seq;
    this.verdicts++;
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
    if (this.byKey.get(state.key) !== state) return;
    state.alive = alive;
    this.onChange(state.target.vport, alive);
  }
}
