/**
 * The agent's only contact with the kernel: reads with `ip -j`/`bridge -j` (JSON, never text) and
 * writes with `ip -batch`/`bridge -batch` (one process per namespace and tool per plan).
 */
import { readdirSync } from 'node:fs';
import { run } from '../../harness/util/exec.ts';
import { TRACE_ENABLED, trace } from '../protocol/trace.ts';
import { BatchSessions } from './batch-session.ts';
import {
  type AgentNaming,
  type DomainNs,
  emptyDomainNs,
  type KernelModel,
  PORT_ALIAS_PREFIX,
  type VmNs,
} from './model.ts';
import { nftApply, nftListTable, sessionIpLines, sessionNetnsAdd } from './nft-session.ts';
import { type ActualExtras, noExtras, type Step } from './plan.ts';

interface LinkJson {
  ifname: string;
  flags: string[];
  mtu: number;
  master?: string;
  address?: string;
  ifalias?: string;
  linkinfo?: {
    info_kind?: string;
    info_data?: { id?: number; local?: string; df?: string };
    info_slave_kind?: string;
    info_slave_data?: { neigh_suppress?: boolean; learning?: boolean; proxy_arp_wifi?: boolean };
  };
  addr_info?: Array<{ family: string; local: string; prefixlen: number }>;
}

interface NeighJson {
  dst: string;
  dev: string;
  lladdr?: string;
  state?: string[];
}

interface FdbJson {
  mac: string;
  ifname: string;
  dst?: string;
  master?: string;
  flags?: string[];
  state?: string;
}

interface RouteJson {
  dst: string;
  gateway?: string;
  dev?: string;
}

/** nftables table (hypervisor namespace) holding the RFC 7348 §5 receive normalisation. */
export const VXLAN_RX_TABLE = 'otwin_vxlan_rx';
export const VXLAN_PORT = 4789;
/** Where `ip netns` keeps named namespaces (inside the hypervisor's own mount namespace). */
const NETNS_DIR = '/run/netns';

/**
 * RFC 7348 §5 receive normalisation: the reserved bits of the VXLAN header "MUST be ... ignored on
 * receipt", but Linux's VXLAN socket drops packets with any of them set. Before the socket sees a
 * packet for our VTEP and port with the I flag set, the flags byte is rewritten to 0x08 and both
 * reserved fields to 0 (UDP header 8 bytes = bits 0..63, then flags 64..71, reserved 72..95, VNI
 * 96..119, reserved 120..127). nft does not fix the UDP checksum for raw payload writes, so the UDP
 * checksum is zeroed as well (legal for IPv4: "no checksum"); the VNI is never touched. Only IPv4
 * UDP to the VTEP address and port 4789 is matched. Idempotent: the rule carries a comment naming
 * the VTEP; the table is (re)written atomically only when that rule is missing.
 */
export function vxlanRxRules(vtep: string): { comment: string; script: string } {
  const comment = `otwin rfc7348-rx ${vtep} ${VXLAN_PORT}`;
  const script = [
    `table inet ${VXLAN_RX_TABLE}`,
    `delete table inet ${VXLAN_RX_TABLE}`,
    `table inet ${VXLAN_RX_TABLE} {`,
    '  chain normalise {',
    '    type filter hook prerouting priority raw; policy accept;',
    `    ip daddr ${vtep} udp dport ${VXLAN_PORT} @th,68,1 1 @th,48,16 set 0 @th,64,8 set 0x08 @th,72,24 set 0 @th,120,8 set 0 comment "${comment}"`,
    '  }',
    '}',
    '',
  ].join('\n');
  return { comment, script };
}

export interface KernelOptions extends AgentNaming {
  /** Named namespace of the hypervisor when the agent runs outside it (fixtures); undefined = current. */
  hvNetns: string | undefined;
}

/**
 * Most read processes running at once per agent. A full read (start, sync, audit) costs a few
 * processes per namespace (each `ip -n` also makes a mount namespace and remounts /sys); started all
 * at once, 50 VMs made ~100 processes per agent in one burst, and the agents' 30 s audits together
 * stalled the whole (2-core) host for hundreds of ms, programming and VMs included. Bounded, a read
 * takes about as long (it is CPU-bound either way) but leaves the CPU to everything else.
 */
export const READ_CONCURRENCY = 4;

/** One kernel write and its wall time (OTWIN_REF_TRACE=1): where an agent's pass spends its time. */
function traceCommand(hypervisor: string, step: Step, ms: number): void {
  const what =
    step.kind === 'ip' || step.kind === 'bridge' ? `${step.kind} lines=${step.lines.length}` : step.kind;
  trace(`agent:${hypervisor}`, 'cmd', `${what} ns=${step.ns ?? '-'} ms=${ms.toFixed(1)}`);
}

interface ReadRequest {
  tool: 'ip' | 'bridge';
  ns: string | undefined;
  args: string[];
  resolve(value: unknown): void;
  reject(err: Error): void;
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
const READ_END = '@@otwin-read-end';

export class Kernel {
  /** Wall time spent in kernel commands, for diagnostics. */
  commands = 0;
  /** Processes the agent itself started for reads (one per batch), for diagnostics and tests. */
  readProcesses = 0;
  /**
   * Processes the agent itself started for writes (namespace creation and setup, batches in VM and
   * hypervisor namespaces, removals), for diagnostics and tests; router namespaces' batches go
   * through `sessions` and count there, once per namespace and tool.
   */
  writeProcesses = 0;
  /** Long-lived `ip`/`bridge` batch processes in the router (domain) namespaces. */
  readonly sessions = new BatchSessions();
  private readsRunning = 0;
  private readQueue: Array<() => void> = [];
  private pendingReads: ReadRequest[] = [];

  constructor(readonly options: KernelOptions) {}

  private async readSlot(): Promise<() => void> {
    if (this.readsRunning >= READ_CONCURRENCY)
      await new Promise<void>((resolve) => this.readQueue.push(resolve));
    else this.readsRunning++;
    return () => {
      const next = this.readQueue.shift();
      if (next) next();
      else this.readsRunning--;
    };
  }

  /**
   * One JSON read (`ip -j`/`bridge -j`). Reads asked for in the same turn of the event loop run
   * together in at most READ_CONCURRENCY shells, each running its share one after another: starting
   * a process from the agent (a large process to fork) costs far more than starting `ip` from a
   * shell, so an audit slice or a namespace read is one or a few process starts, not one per table.
   */
  private json<T>(tool: 'ip' | 'bridge', ns: string | undefined, args: string[]): Promise<T> {
    this.commands++;
    return new Promise<T>((resolve, reject) => {
      if (!this.pendingReads.length) setImmediate(() => this.flushReads());
      this.pendingReads.push({ tool, ns, args, resolve: resolve as (v: unknown) => void, reject });
    });
  }

  private flushReads(): void {
    const all = this.pendingReads.splice(0);
    // A shell per 16 reads, at most READ_CONCURRENCY: an audit slice is one process start.
    const shells = Math.min(READ_CONCURRENCY, Math.ceil(all.length / 16));
    for (let i = 0; i < shells; i++) void this.runReads(all.filter((_, j) => j % shells === i));
  }

  private async runReads(reads: ReadRequest[]): Promise<void> {
    const argv = (r: ReadRequest) => [r.tool, ...(r.ns ? ['-n', r.ns] : []), '-j', ...r.args];
    const script = reads
      .map((r) => `${argv(r).map(shellQuote).join(' ')}; printf '\\n${READ_END} %s\\n' $?`)
      .join('\n');
    const release = await this.readSlot();
    let out: Awaited<ReturnType<typeof run>>;
    try {
      this.readProcesses++;
      out = await run('sh', ['-c', script]);
    } catch (err) {
      for (const r of reads) r.reject(err as Error);
      return;
    } finally {
      release();
    }
    const parts = `${out.stdout}\n`.split(new RegExp(`\\n${READ_END} (\\d+)\\n`));
    for (const [i, r] of reads.entries()) {
      const text = (parts[2 * i] ?? '').trim();
      const code = parts[2 * i + 1];
      if (code !== '0') {
        r.reject(
          new Error(`${argv(r).join(' ')}: exit ${code ?? '?'}: ${out.stderr.trim() || text || 'no output'}`),
        );
        continue;
      }
      try {
        r.resolve(text ? JSON.parse(text) : []);
      } catch (err) {
        r.reject(new Error(`${argv(r).join(' ')}: not JSON (${(err as Error).message})`));
      }
    }
  }

  async netnsList(): Promise<string[]> {
    // In its own hypervisor the agent sees the namespaces as files: no process needed to list them.
    if (this.options.hvNetns === undefined) {
      try {
        return readdirSync(NETNS_DIR);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      }
    }
    const list = await this.json<Array<{ name: string }>>('ip', undefined, ['netns', 'list']);
    return list.map((n) => n.name);
  }

  /**
   * Ensures the RFC 7348 §5 receive normalisation (see `vxlanRxRules`) in the hypervisor namespace.
   * Reads the table first; writes only when the expected rule is missing. Returns error lines. Both
   * go through the agent's nftables session (nft-session.ts), not an `nft` process each.
   */
  async ensureVxlanRx(vtep: string): Promise<string[]> {
    const { comment, script } = vxlanRxRules(vtep);
    const ns = this.options.hvNetns;
    this.commands++;
    const cur = await nftListTable(ns, 'inet', VXLAN_RX_TABLE);
    if (cur.exitCode === 0 && cur.stdout.includes(JSON.stringify(comment))) return [];
    this.commands++;
    const result = await nftApply(ns, script);
    return result.exitCode === 0 ? [] : [`nft (VXLAN receive normalisation): ${result.stderr.trim()}`];
  }

  /** Ends the batch sessions (agent stop). */
  close(): void {
    this.sessions.close();
  }

  get domainPrefix(): string {
    return `${this.options.prefix}${this.options.hypervisor}-d-`;
  }

  get vmPrefix(): string {
    return `${this.options.prefix}${this.options.hypervisor}-vm-`;
  }

  /** The agent's namespaces (by their prefixes), domains first. */
  async ownNamespaces(): Promise<{ domains: string[]; vms: string[] }> {
    const names = await this.netnsList();
    return {
      domains: names.filter((n) => n.startsWith(this.domainPrefix)).sort(),
      vms: names.filter((n) => n.startsWith(this.vmPrefix)).sort(),
    };
  }

  /** Reads every namespace the agent owns. */
  async read(): Promise<{ model: KernelModel; extras: ActualExtras }> {
    const { domains, vms } = await this.ownNamespaces();
    return this.readNamespaces(domains, vms);
  }

  /**
   * Reads the hypervisor namespace's leftovers and the given namespaces only (a slice of an audit:
   * a few processes whatever the number of VMs).
   */
  async readNamespaces(
    domainNames: string[],
    vmNames: string[],
  ): Promise<{ model: KernelModel; extras: ActualExtras }> {
    const model: KernelModel = { domains: new Map(), vms: new Map() };
    const extras = noExtras();
    // Asked for in the same turn as the namespaces' tables: one batch (see json()).
    const hvLinks = this.json<LinkJson[]>('ip', this.options.hvNetns, ['link', 'show']).then((links) => {
      extras.hvLeftovers.push(...links.filter((l) => /^otv\d+$/.test(l.ifname)).map((l) => l.ifname));
    });
    await Promise.all([
      hvLinks,
      ...domainNames.map(async (name) => {
        model.domains.set(name, await this.readDomain(name, extras));
      }),
      ...vmNames.map(async (name) => {
        try {
          model.vms.set(name, await this.readVm(name, extras));
        } catch (err) {
          if (!/Cannot open network namespace/.test(String(err))) throw err;
        }
      }),
    ]);
    return { model, extras };
  }

  private async readDomain(name: string, extras: ActualExtras): Promise<DomainNs> {
    const [linksJson, neighJson, fdbJson] = await Promise.all([
      this.json<LinkJson[]>('ip', name, ['-d', 'addr', 'show']),
      this.json<NeighJson[]>('ip', name, ['neigh', 'show', 'nud', 'permanent']),
      this.json<FdbJson[]>('bridge', name, ['fdb', 'show']),
    ]);
    const ns = emptyDomainNs(name);
    const byName = new Map(linksJson.map((l) => [l.ifname, l]));
    const broken = new Set<number>();
    const brokenPorts = new Set<string>();
    const orphans: string[] = [];
    for (const link of linksJson) {
      const br = /^br(\d+)$/.exec(link.ifname);
      if (br && link.linkinfo?.info_kind === 'bridge') {
        const vni = Number(br[1]);
        const vx = byName.get(`vx${vni}`);
        const addr = link.addr_info?.find((a) => a.family === 'inet');
        const vxOk =
          vx?.linkinfo?.info_kind === 'vxlan' &&
          vx.linkinfo.info_data?.id === vni &&
          vx.master === link.ifname &&
          vx.flags.includes('UP') &&
          vx.linkinfo.info_slave_data?.neigh_suppress === true &&
          vx.linkinfo.info_slave_data?.learning === false;
        if (!vxOk || !link.flags.includes('UP')) broken.add(vni);
        ns.subnets.set(vni, {
          vni,
          gateway: addr ? `${addr.local}/${addr.prefixlen}` : '',
          gatewayMac: link.address ?? '',
          mtu: vx?.mtu ?? link.mtu,
          local: vx?.linkinfo?.info_data?.local ?? '',
          df: vx?.linkinfo?.info_data?.df === 'set',
        });
      }
      const vx = /^vx(\d+)$/.exec(link.ifname);
      if (vx && !byName.has(`br${vx[1]}`)) orphans.push(link.ifname);
      if (/^vp[0-9a-f]{12}$/.test(link.ifname)) {
        const vni = link.master ? Number(/^br(\d+)$/.exec(link.master)?.[1] ?? Number.NaN) : Number.NaN;
        const vportId = link.ifalias?.startsWith(PORT_ALIAS_PREFIX)
          ? link.ifalias.slice(PORT_ALIAS_PREFIX.length)
          : '';
        if (!vportId) {
          orphans.push(link.ifname);
          continue;
        }
        if (
          !link.flags.includes('UP') ||
          Number.isNaN(vni) ||
          link.linkinfo?.info_slave_data?.proxy_arp_wifi !== true
        )
          brokenPorts.add(link.ifname);
        ns.ports.set(link.ifname, {
          ifname: link.ifname,
          vportId,
          vni,
          vmNs: `${this.vmPrefix}${vportId}`,
        });
      }
    }
    if (broken.size) extras.brokenSubnets.set(name, broken);
    if (brokenPorts.size) extras.brokenPorts.set(name, brokenPorts);
    // Orphans (a vxlan without its bridge, a port without alias) are removed before anything else.
    if (orphans.length) extras.hvLeftovers.push(...orphans.map((o) => `${o}@${name}`));
    for (const n of neighJson) {
      if (!/^br\d+$/.test(n.dev) || !n.lladdr) continue;
      ns.neighs.set(`${n.dev}/${n.dst}`, { dev: n.dev, ip: n.dst, mac: n.lladdr });
    }
    const masterStatic = new Set<string>();
    for (const f of fdbJson) {
      const vx = /^vx(\d+)$/.exec(f.ifname);
      const isSelf = f.flags?.includes('self') ?? false;
      if (vx && f.master && !isSelf && f.state === 'static') masterStatic.add(`${vx[1]}/${f.mac}`);
    }
    for (const f of fdbJson) {
      const vx = /^vx(\d+)$/.exec(f.ifname);
      const isSelf = f.flags?.includes('self') ?? false;
      if (vx && isSelf && f.dst) {
        const vni = Number(vx[1]);
        if (f.mac === '00:00:00:00:00:00') ns.floods.set(`${vni}/${f.dst}`, { vni, vtep: f.dst });
        else {
          const key = `${vni}/${f.mac}`;
          // Only a complete pair (bridge entry + VXLAN entry) counts as programmed.
          if (masterStatic.has(key)) ns.remoteMacs.set(key, { vni, mac: f.mac, vtep: f.dst });
        }
      }
      if (/^vp[0-9a-f]{12}$/.test(f.ifname) && f.master && f.state === 'static') {
        const port = ns.ports.get(f.ifname);
        if (port) ns.localMacs.set(`${f.ifname}/${f.mac}`, { port: f.ifname, vni: port.vni, mac: f.mac });
      }
    }
    // Bridge entries without their VXLAN entry: delete so the pair is re-added whole.
    for (const key of masterStatic) {
      if (!ns.remoteMacs.has(key)) {
        const [vni, mac] = key.split('/') as [string, string];
        ns.remoteMacs.set(key, { vni: Number(vni), mac, vtep: '' });
      }
    }
    return ns;
  }

  private async readVm(name: string, extras: ActualExtras): Promise<VmNs> {
    const vportId = name.slice(this.vmPrefix.length);
    const [linksJson, routes] = await Promise.all([
      this.json<LinkJson[]>('ip', name, ['addr', 'show']),
      this.json<RouteJson[]>('ip', name, ['route', 'show', 'default']),
    ]);
    const eth0 = linksJson.find((l) => l.ifname === 'eth0');
    if (!eth0) extras.vmsWithoutPort.add(name);
    const addr = eth0?.addr_info?.find((a) => a.family === 'inet');
    return {
      name,
      vportId,
      mac: eth0?.address ?? '',
      address: addr ? `${addr.local}/${addr.prefixlen}` : '',
      gateway: routes[0]?.gateway ?? '',
      mtu: eth0?.mtu ?? 0,
    };
  }

  /**
   * See Datapath.lastApplyPhases. Phases of `apply` below: `ns` step 1; `hv` step 2; `router` the
   * domains' `ip` batches (and the `bridge` batches started with them); `vm` the other `bridge`
   * batches, the VM batches and the new namespaces' setups; `removals` step 5.
   */
  lastApplyPhases: Array<[string, number]> = [];

  /**
   * Runs a plan; returns the error lines (empty = everything applied).
   *
   * Every step is one process start, and on a loaded 2-core host a process start waits ~50-100 ms for
   * the CPU: what an attach costs is the number of process starts one after another, so steps that do
   * not depend on each other run concurrently instead of one after the other (the order the planner
   * emits is a valid sequential order; this only overlaps what it does not constrain):
   *   1. namespace creations, all at once;
   *   2. the hypervisor namespace's batch (VXLAN devices created there and moved into domains);
   *   3. each domain's `ip` batch, domains in parallel; its `bridge` batch starts with it when the
   *      `ip` batch only touches neighbours (the fdb lines then name devices that already exist),
   *      else right after it; and beside them each new VM namespace's sysctls (one process: nothing
   *      before its eth0 address needs them, and `all.disable_ipv6` also sets the default, so eth0
   *      has IPv6 off whichever comes first);
   *   4. VM namespaces' batches (their eth0 is created by step 3; a new namespace's `lo` is brought
   *      up by the same batch), beside the bridge batches;
   *   5. from the first namespace removal on: strictly in the planner's order.
   */
  async apply(steps: Step[]): Promise<string[]> {
    const errors: string[] = [];
    const phases: Array<[string, number]> = [];
    let mark = performance.now();
    const phase = (name: string) => {
      const now = performance.now();
      phases.push([name, now - mark]);
      mark = now;
    };
    this.lastApplyPhases = phases;
    const firstRemoval = steps.findIndex((s) => s.kind === 'netns-del');
    const main = firstRemoval < 0 ? steps : steps.slice(0, firstRemoval);
    const rest = firstRemoval < 0 ? [] : steps.slice(firstRemoval);
    const isVm = (s: Step) => s.kind === 'ip' && s.ns !== undefined && s.ns.startsWith(this.vmPrefix);
    const vmIp = main.filter(isVm);
    const created: string[] = [];
    // Created with their sysctls by the session helper (no process start).
    const sysctlsSet = new Set<string>();
    // A namespace to create is missing: a session still in it holds a deleted one (and its devices).
    for (const s of main) if (s.kind === 'netns-add') this.sessions.forget(s.ns);
    await Promise.all(
      main
        .filter((s) => s.kind === 'netns-add')
        .map((s) =>
          s.ns.startsWith(this.vmPrefix)
            ? this.addVmNamespace(s, errors, created, sysctlsSet)
            : this.runStep(s, errors),
        ),
    );
    phase('ns');
    // A new VM namespace's `lo` comes up in its own batch when the plan has one (it has when its eth0
    // is new), else in its setup process.
    const vmBatch = new Map(vmIp.map((s) => [s.ns, s]));
    const withLo = new Set(created.filter((ns) => vmBatch.has(ns)));
    const vmSteps = vmIp.map((s) =>
      s.kind === 'ip' && s.ns !== undefined && withLo.has(s.ns)
        ? { ...s, lines: ['link set lo up', ...s.lines] }
        : s,
    );
    for (const s of main) if (s.kind === 'ip' && s.ns === undefined) await this.runStep(s, errors);
    phase('hv');
    const domainIp = main.filter((s) => s.kind === 'ip' && s.ns !== undefined && !isVm(s));
    const bridges = main.filter((s) => s.kind === 'bridge');
    const late: Step[] = [];
    const early: Promise<void>[] = [];
    for (const b of bridges) {
      const ip = domainIp.find((s) => s.ns === b.ns);
      const neighOnly = !ip || (ip.kind === 'ip' && ip.lines.every((l) => l.startsWith('neigh ')));
      if (neighOnly) early.push(this.runStep(b, errors));
      else late.push(b);
    }
    const domains = [...domainIp.map((s) => this.runStep(s, errors)), ...early];
    // Started after the domain batches (which the VM batches wait for), beside them.
    const setups = main.flatMap((s) =>
      s.kind === 'netns-add' && created.includes(s.ns) && !(sysctlsSet.has(s.ns) && withLo.has(s.ns))
        ? [this.setUpNamespace(s, !withLo.has(s.ns), errors, sysctlsSet.has(s.ns))]
        : [],
    );
    await Promise.all(domains);
    phase('router');
    await Promise.all([...[...late, ...vmSteps].map((s) => this.runStep(s, errors)), ...setups]);
    phase('vm');
    for (const s of rest) await this.runStep(s, errors);
    phase('removals');
    return errors;
  }

  /**
   * Creates a VM namespace and names it in `created` (and in `sysctlsSet` when the session helper made
   * it, sysctls included: no process start). An existing name, or a helper failure, takes the full
   * step (create or open, `lo`, sysctls).
   */
  private async addVmNamespace(
    step: Step,
    errors: string[],
    created: string[],
    sysctlsSet: Set<string>,
  ): Promise<void> {
    if (step.kind !== 'netns-add') return;
    this.commands++;
    const started = TRACE_ENABLED ? performance.now() : 0;
    const bySession = await sessionNetnsAdd(step.ns, step.sysctls);
    const ok =
      bySession === 'created' ||
      (bySession === 'unavailable' && (await this.write('ip', ['netns', 'add', step.ns])).exitCode === 0);
    if (TRACE_ENABLED) traceCommand(this.options.hypervisor, step, performance.now() - started);
    if (bySession === 'created') sysctlsSet.add(step.ns);
    if (ok) created.push(step.ns);
    else await this.runStep(step, errors);
  }

  /**
   * A new VM namespace's sysctls (unless `sysctlsDone`) and `lo` (when no batch of the plan brings it
   * up): one process.
   */
  private async setUpNamespace(
    step: Step,
    withLo: boolean,
    errors: string[],
    sysctlsDone = false,
  ): Promise<void> {
    if (step.kind !== 'netns-add') return;
    this.commands++;
    const started = TRACE_ENABLED ? performance.now() : 0;
    const sysctls = step.sysctls.map(([k, v]) => `${k}=${v}`);
    const setup = sysctlsDone
      ? await this.write('ip', ['-n', step.ns, 'link', 'set', 'lo', 'up'])
      : withLo
        ? await this.write('ip', [
            'netns',
            'exec',
            step.ns,
            'sh',
            '-c',
            `ip link set lo up && sysctl -qw ${sysctls.join(' ')}`,
          ])
        : await this.write('ip', ['netns', 'exec', step.ns, 'sysctl', '-qw', ...sysctls]);
    if (TRACE_ENABLED)
      trace(
        `agent:${this.options.hypervisor}`,
        'cmd',
        `vm-setup ns=${step.ns} ms=${(performance.now() - started).toFixed(1)}`,
      );
    if (setup.exitCode !== 0) errors.push(`setup ${step.ns}: ${setup.stderr.trim()}`);
  }

  /** One write process (counted: what an attach costs is mostly its process starts). */
  private write(file: string, args: string[], options: { input?: string } = {}) {
    this.writeProcesses++;
    return run(file, args, options);
  }

  private async runStep(step: Step, errors: string[]): Promise<void> {
    const started = TRACE_ENABLED ? performance.now() : 0;
    await this.runStepUntraced(step, errors);
    if (TRACE_ENABLED) traceCommand(this.options.hypervisor, step, performance.now() - started);
  }

  private async runStepUntraced(step: Step, errors: string[]): Promise<void> {
    switch (step.kind) {
      case 'netns-add': {
        // One process start: create the namespace, bring lo up and set its sysctls.
        this.commands++;
        const sysctls = step.sysctls.map(([k, v]) => `${k}=${v}`).join(' ');
        const add = await this.write('sh', [
          '-c',
          'ip netns add "$1" 2>/dev/null || ip netns exec "$1" true || exit 3; exec ip netns exec "$1" sh -c "ip link set lo up && sysctl -qw $2"',
          'sh',
          step.ns,
          sysctls,
        ]);
        if (add.exitCode === 3) errors.push(`ip netns add ${step.ns}: cannot create or open it`);
        else if (add.exitCode !== 0) errors.push(`setup ${step.ns}: ${add.stderr.trim()}`);
        break;
      }
      case 'netns-del': {
        this.commands++;
        // A session process in it would keep the namespace (and its devices) alive.
        this.sessions.forget(step.ns);
        const del = await this.write('ip', ['netns', 'delete', step.ns]);
        if (del.exitCode !== 0 && !/No such file/.test(del.stderr))
          errors.push(`ip netns delete ${step.ns}: ${del.stderr.trim()}`);
        break;
      }
      case 'ip':
      case 'bridge': {
        let lines = step.lines;
        let ns = step.ns ?? this.options.hvNetns;
        // Orphan removal lines carry their namespace as `dev@ns`.
        if (step.kind === 'ip' && step.ns === undefined) {
          const elsewhere = lines.filter((l) => /^link del \S+@/.test(l));
          lines = lines.filter((l) => !/^link del \S+@/.test(l));
          for (const line of elsewhere) {
            const [dev, where] = line.slice('link del '.length).split('@') as [string, string];
            this.commands++;
            await this.write('ip', ['-n', where, 'link', 'del', dev]);
          }
          ns = this.options.hvNetns;
          if (!lines.length) break;
        }
        this.commands++;
        if (ns?.startsWith(this.domainPrefix)) {
          const result = await this.sessions.run(step.kind, ns, lines);
          if (!result.ok) errors.push(`${step.kind} -n ${ns} -batch: ${result.errors}`);
          break;
        }
        // A VM namespace's lines (an attach's new VM) by rtnetlink in the session helper: the
        // attach's last process start, 30-90 ms on a busy machine, is gone.
        if (step.kind === 'ip' && ns?.startsWith(this.vmPrefix)) {
          const bySession = await sessionIpLines(ns, lines);
          if (bySession !== 'unavailable') {
            if (bySession.errors) errors.push(`ip -n ${ns} -batch (rtnetlink): ${bySession.errors}`);
            break;
          }
        }
        const result = await this.write(step.kind, [...(ns ? ['-n', ns] : []), '-force', '-batch', '-'], {
          input: `${lines.join('\n')}\n`,
        });
        if (result.exitCode !== 0) {
          const text = result.stderr.trim();
          errors.push(`${step.kind}${ns ? ` -n ${ns}` : ''} -batch: ${text}`);
        }
        break;
      }
    }
  }
}
