/**
 * Scenario files: read, validate (YAML syntax → schema → references), then build the typed model.
 * Every problem becomes a `ScenarioError` (a UserError, exit code 2) listing each issue as
 * `file:line:column: message` with a hint; nothing here touches a lab.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { isMap, isNode, isPair, isScalar, isSeq, LineCounter, type Node, parseDocument } from 'yaml';
import { UserError } from '../util/errors.ts';
import { CHECK_KINDS, type CheckDefinition } from './checks/index.ts';
import type { Capability } from './drivers/driver.ts';
import { describeFault, type Fault, faultKind } from './faults/index.ts';
import type { GatewayRouting, Intent, Proto, Rule, ServiceChain } from './intent.ts';
import { type LabInventory, readLabInventory } from './lab-inventory.ts';
import { checkLimits } from './limits.ts';
import { type Path, type SchemaIssue, validateAgainstSchema } from './schema.ts';
import type { Check, Pos, Scenario, Severity, Step } from './types.ts';
import { checkReferences } from './validate.ts';
import { durationOr, type Obj, parseDuration } from './values.ts';

export { parseDuration, parseProbe, probeText, splitCommand } from './values.ts';

export interface Issue {
  where: string;
  line: number;
  col: number;
  message: string;
  hint: string | undefined;
}

/** All the problems found in one scenario file. */
export class ScenarioError extends UserError {
  readonly issues: Issue[];
  constructor(issues: Issue[]) {
    const first = issues[0]!;
    super(first.message, { where: first.where, ...(first.hint ? { hint: first.hint } : {}) });
    this.name = 'ScenarioError';
    this.issues = issues;
  }

  override describe(): string {
    const lines = this.issues.map((i) =>
      i.hint ? `${i.where}: ${i.message}\n  hint: ${i.hint}` : `${i.where}: ${i.message}`,
    );
    if (this.issues.length > 1) lines.push(`${this.issues.length} problems; nothing was run.`);
    return lines.join('\n');
  }
}

/** Maps YAML paths to positions in the file. */
export class Locator {
  constructor(
    readonly file: string,
    private readonly root: Node | null,
    private readonly lines: LineCounter,
  ) {}

  pos(path: Path, atKey = false): Pos {
    let node: unknown = this.root;
    let keyNode: unknown;
    for (const part of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === part);
        if (!pair) break;
        keyNode = pair.key;
        node = pair.value;
      } else if (isSeq(node) && typeof part === 'number') {
        keyNode = undefined;
        node = node.items[part];
      } else break;
    }
    const target = atKey && keyNode ? keyNode : node;
    const offset = isNode(target) && target.range ? target.range[0] : 0;
    const { line, col } = this.lines.linePos(offset);
    return { file: this.file, line, col };
  }

  issue(i: SchemaIssue): Issue {
    const p = this.pos(i.path, i.atKey);
    return {
      where: `${p.file}:${p.line}:${p.col}`,
      line: p.line,
      col: p.col,
      message: i.message,
      hint: i.hint,
    };
  }
}

function parsePorts(value: unknown): Array<[number, number]> {
  if (!Array.isArray(value)) return [];
  return value.map((p): [number, number] => {
    if (typeof p === 'number') return [p, p];
    const [a, b] = String(p).split('-').map(Number);
    return [a!, b!];
  });
}

/** The implementation of a scenario that names none. */
const DEFAULT_IMPLEMENTATION = 'frr-evpn';

export interface LoadOptions {
  /** Override the scenario's lab file (CLI `--lab`). */
  lab?: string;
  /** Override the scenario's implementation (CLI `--implementation`). */
  implementation?: string;
  /**
   * The capabilities of an implementation by name (drivers/index.ts `driverCapabilities`); without
   * it, or for a name it does not know, validation assumes every capability.
   */
  capabilitiesOf?: (implementation: string) => ReadonlySet<Capability> | undefined;
  /**
   * Lab file (absolute) → the file to run on instead: the private copies `--lab-prefix` makes
   * (harness/topology/private-copy.ts). `lab` wins over it.
   */
  labs?: Readonly<Record<string, string>>;
}

/** The `gateway:` field as a list of profiles (one or several; the schema checked the names). */
function gatewayProfilesOf(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  return Array.isArray(value) ? [...new Set(value.map(String))] : [];
}

/** Reads and validates a scenario file; throws ScenarioError with every problem found. */
export function loadScenario(file: string, options: LoadOptions = {}): Scenario {
  const abs = resolve(file);
  if (!existsSync(abs))
    throw new UserError(`scenario file not found: ${file}`, { hint: 'give a .yml file or a folder of them' });
  return parseScenarioText(readFileSync(abs, 'utf8'), abs, options);
}

export function parseScenarioText(text: string, file: string, options: LoadOptions = {}): Scenario {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const locator = new Locator(file, doc.contents as Node | null, lines);
  if (doc.errors.length > 0) {
    throw new ScenarioError(
      doc.errors.map((e) => {
        const { line, col } = lines.linePos(e.pos[0]);
        const message = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
        return {
          where: `${file}:${line}:${col}`,
          line,
          col,
          message: `YAML syntax error: ${message}`,
          hint:
            e.code === 'DUPLICATE_KEY'
              ? 'each key may appear once in a mapping'
              : 'check indentation and quoting',
        };
      }),
    );
  }
  const raw = doc.toJS() as unknown;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ScenarioError([
      {
        where: `${file}:1:1`,
        line: 1,
        col: 1,
        message: 'a scenario file must be a YAML mapping',
        hint: 'start with `name: ...`',
      },
    ]);
  }
  const data = raw as Obj;
  const schemaIssues = validateAgainstSchema(data);
  if (schemaIssues.length > 0) throw new ScenarioError(sortIssues(schemaIssues.map((i) => locator.issue(i))));

  const ownLab = resolve(dirname(file), String(data.lab));
  const labFile = options.lab ? resolve(options.lab) : (options.labs?.[ownLab] ?? ownLab);
  if (!existsSync(labFile)) {
    const where = options.lab ? 'command line' : undefined;
    const p = locator.pos(['lab']);
    throw new ScenarioError([
      {
        where: where ?? `${file}:${p.line}:${p.col}`,
        line: p.line,
        col: p.col,
        message: `lab file not found: ${labFile}`,
        hint: 'the lab path is relative to the scenario file',
      },
    ]);
  }
  let lab: LabInventory;
  try {
    lab = readLabInventory(labFile);
  } catch (err) {
    if (!(err instanceof UserError)) throw err;
    // The lab file's own problem, at its own file:line:col.
    const p = locator.pos(['lab']);
    throw new ScenarioError([
      {
        where: err.where ?? labFile,
        line: p.line,
        col: p.col,
        message: `${err.message} (the lab of scenario ${file})`,
        hint: err.hint,
      },
    ]);
  }
  const implementation = options.implementation ?? String(data.implementation ?? DEFAULT_IMPLEMENTATION);
  const capabilities = options.capabilitiesOf?.(implementation);
  const refIssues = [
    ...checkReferences(data, lab, { zoneControllers: capabilities?.has('zones') ?? true }),
    ...checkLimits(data),
  ];
  if (refIssues.length > 0) throw new ScenarioError(sortIssues(refIssues.map((i) => locator.issue(i))));

  const scenario = build(data, { file, text, labFile, locator });
  return options.implementation ? { ...scenario, implementation: options.implementation } : scenario;
}

function sortIssues(issues: Issue[]): Issue[] {
  return issues.sort((a, b) => a.line - b.line || a.col - b.col);
}

interface BuildCtx {
  file: string;
  text: string;
  labFile: string;
  locator: Locator;
}

function build(d: Obj, ctx: BuildCtx): Scenario {
  const budgets = (d.budgets ?? {}) as Obj;
  const conformance = (d.conformance as string[] | undefined) ?? [];
  const seed = typeof d.seed === 'number' ? d.seed : 1;
  const scenario: Scenario = {
    file: ctx.file,
    source: ctx.text,
    name: String(d.name),
    description: d.description as string | undefined,
    conformance,
    tags: (d.tags as string[] | undefined) ?? [],
    severity: (d.severity as Severity | undefined) ?? 'normal',
    lab: ctx.labFile,
    implementation: (d.implementation as string | undefined) ?? DEFAULT_IMPLEMENTATION,
    gateway: gatewayProfilesOf(d.gateway)[0],
    gatewayProfiles: gatewayProfilesOf(d.gateway),
    requires: (d.requires as string[] | undefined) ?? [],
    seed,
    budgets: {
      convergenceMs: budgets.convergence !== undefined ? parseDuration(budgets.convergence) : 1000,
      sgMs: budgets.sg !== undefined ? parseDuration(budgets.sg) : 500,
      lossMs: budgets.loss !== undefined ? parseDuration(budgets.loss) : 1000,
    },
    intent: buildIntent((d.intent ?? {}) as Obj),
    timeline: ((d.timeline as Obj[]) ?? []).map((s, i) =>
      buildStep(s, ['timeline', i], String(i), ctx, conformance, seed),
    ),
  };
  // A measure step without its own bound uses the scenario's loss budget (T_loss).
  const fill = (steps: Step[]) => {
    for (const step of steps) {
      if (step.kind !== 'measure') continue;
      if (Number.isNaN(step.maxLossWindowMs) && step.maxLossBeyondFaultsMs === undefined)
        step.maxLossWindowMs = scenario.budgets.lossMs;
      fill(step.during);
    }
  };
  fill(scenario.timeline);
  return scenario;
}

/**
 * The implementation a scenario file names (the default if none), read without validating: which
 * drivers' capabilities validation needs. A file that does not parse gives the default; its
 * validation reports why.
 */
export function declaredImplementation(file: string): string {
  try {
    const doc = parseDocument(readFileSync(file, 'utf8')).toJS() as unknown;
    const named = (doc as Obj | null)?.implementation;
    return typeof named === 'string' ? named : DEFAULT_IMPLEMENTATION;
  } catch {
    return DEFAULT_IMPLEMENTATION;
  }
}

/** The name of a suite file (suite-file.ts): `suite.yml` or `<name>.suite.yml` (also .yaml). */
export const SUITE_FILE_NAME = /(^|\.)suite\.ya?ml$/;

/**
 * The YAML files the CLI's paths name, in order: files as given, folders searched recursively (sorted)
 * for *.yml/*.yaml; each marked as a suite file (suite-file.ts) or not.
 */
export function scenarioPaths(paths: string[]): Array<{ path: string; suite: boolean }> {
  const out: Array<{ path: string; suite: boolean }> = [];
  const visit = (path: string) => {
    const abs = resolve(path);
    if (!existsSync(abs)) throw new UserError(`no such scenario file or folder: ${path}`);
    if (statSync(abs).isDirectory()) {
      for (const entry of readdirSync(abs).sort()) {
        if (entry.startsWith('.') || entry === 'testdata') continue;
        const child = join(abs, entry);
        if (statSync(child).isDirectory() || /\.ya?ml$/.test(entry)) visit(child);
      }
    } else out.push({ path: abs, suite: SUITE_FILE_NAME.test(basename(abs)) });
  };
  for (const path of paths) visit(path);
  return out;
}

/**
 * Scenario files named by the CLI (suite files left out: suite-file.ts `collectScenarioEntries`
 * expands them).
 */
export function collectScenarioFiles(paths: string[]): string[] {
  return [
    ...new Set(
      scenarioPaths(paths)
        .filter((p) => !p.suite)
        .map((p) => p.path),
    ),
  ];
}

function buildIntent(i: Obj): Intent {
  const list = (key: string) => (i[key] as Obj[] | undefined) ?? [];
  return {
    tenants: list('tenants').map((t) => ({ name: String(t.name) })),
    domains: list('domains').map((x) => ({
      name: String(x.name),
      tenant: String(x.tenant),
      vni: x.vni as number | undefined,
      routeTarget: x.routeTarget as string | undefined,
      pnat: x.pnat === true,
      zone: x.zone as string | undefined,
    })),
    subnets: list('subnets').map((x) => ({
      name: String(x.name),
      domain: String(x.domain),
      cidr: String(x.cidr),
      vni: Number(x.vni),
      gateway: x.gateway as string | undefined,
      routeTarget: x.routeTarget as string | undefined,
    })),
    vms: list('vms').map((x) => ({
      name: String(x.name),
      subnet: String(x.subnet),
      hypervisor: String(x.hypervisor),
      ip: String(x.ip),
      mac: x.mac as string | undefined,
      groups: (x.groups as string[] | undefined) ?? [],
      node: x.node as string | undefined,
      iface: (x.iface as string | undefined) ?? 'eth1',
      port: x.port as string | undefined,
      attached: x.attached !== false,
    })),
    groups: list('groups').map((x) => ({ name: String(x.name), domain: x.domain as string | undefined })),
    rules: list('rules').map(
      (x): Rule => ({
        from: String(x.from),
        to: String(x.to),
        proto: (x.proto as Proto | undefined) ?? 'any',
        ports: parsePorts(x.ports),
        domain: x.domain as string | undefined,
      }),
    ),
    floatingIps: list('floatingIps').map((x) => ({ ip: String(x.ip), vm: String(x.vm) })),
    externals: list('externals').map((x) => ({
      name: String(x.name),
      node: (x.node as string | undefined) ?? String(x.name),
      ip: String(x.ip),
      iface: (x.iface as string | undefined) ?? 'eth1',
      domain: x.domain as string | undefined,
      gateway: x.gateway as string | undefined,
    })),
    serviceChains: list('serviceChains').map(
      (x): ServiceChain => ({
        name: String(x.name),
        from: String(x.from),
        to: String(x.to),
        proto: (x.proto as Proto | undefined) ?? 'any',
        ports: parsePorts(x.ports),
        via: (x.via as string[] | undefined) ?? [],
        standby: (x.standby as string[] | undefined) ?? [],
        mode: (x.mode as 'l2' | 'l3' | undefined) ?? 'l3',
      }),
    ),
    zones: list('zones').map((x) => ({
      name: String(x.name),
      hypervisors: (x.hypervisors as string[] | undefined) ?? [],
      controllers: (x.controllers as string[] | undefined) ?? [],
    })),
    gateways: list('gateways').map((x) => ({
      name: String(x.name),
      zone: x.zone as string | undefined,
      tunnelIp: String(x.tunnelIp),
      ovsdb: x.ovsdb as string | undefined,
      bindings: ((x.bindings as Obj[] | undefined) ?? []).map((b) => ({
        port: String(b.port),
        vlan: (b.vlan as number | undefined) ?? 0,
        subnet: String(b.subnet),
      })),
      routing: parseGatewayRouting(x.routing as Obj | undefined),
    })),
    bareMetal: list('bareMetal').map((x) => ({
      name: String(x.name),
      gateway: String(x.gateway),
      port: String(x.port),
      vlan: (x.vlan as number | undefined) ?? 0,
      ip: String(x.ip),
      mac: x.mac as string | undefined,
      node: (x.node as string | undefined) ?? String(x.name),
      iface: (x.iface as string | undefined) ?? 'eth1',
    })),
  };
}

function parseGatewayRouting(x: Obj | undefined): GatewayRouting | undefined {
  if (!x) return undefined;
  const outside = (x.outside as Obj | undefined) ?? {};
  return {
    outside: { port: String(outside.port), address: String(outside.address) },
    interfaces: ((x.interfaces as Obj[] | undefined) ?? []).map((i) => ({
      subnet: String(i.subnet),
      address: String(i.address),
    })),
  };
}

const STEP_KINDS = ['provision', 'expect', 'fault', 'wait', 'wait-until', 'measure', 'chaos'] as const;

function buildStep(s: Obj, path: Path, id: string, ctx: BuildCtx, conformance: string[], seed: number): Step {
  const kind = STEP_KINDS.find((k) => k in s)!;
  const body = s[kind];
  const pos = ctx.locator.pos(path);
  const base = {
    name: (s.name as string | undefined) ?? '',
    atMs: s.at !== undefined ? parseDuration(s.at) : undefined,
    pos,
    id,
  };
  switch (kind) {
    case 'provision': {
      const p = (body === 'all' ? {} : body) as Obj;
      return {
        ...base,
        name: base.name || describeProvision(body === 'all', p),
        kind,
        apply: body === 'all',
        attach: (p.attach as string[] | undefined) ?? [],
        detach: (p.detach as string[] | undefined) ?? [],
        move: ((p.move as Obj[] | undefined) ?? []).map((m) => ({ vm: String(m.vm), to: String(m.to) })),
        setGroups: ((p.setGroups as Obj[] | undefined) ?? []).map((m) => ({
          vm: String(m.vm),
          groups: (m.groups as string[]) ?? [],
        })),
        setFloatingIps: ((p.setFloatingIps as Obj[] | undefined) ?? []).map((f) => ({
          ip: String(f.ip),
          vm: f.vm === null || f.vm === undefined ? null : String(f.vm),
        })),
        bulkMembers: ((p.bulkMembers as Obj[] | undefined) ?? []).map((b) => ({
          group: String(b.group),
          count: Number(b.count),
          subnet: String(b.subnet),
          ...(b.offset !== undefined ? { offset: Number(b.offset) } : {}),
        })),
        refused: p.refused as string | undefined,
        attempt: p.attempt === true,
      };
    }
    case 'expect': {
      const list = Array.isArray(body) ? (body as Obj[]) : [body as Obj];
      const checks = list.map((c, j) =>
        buildCheck(c, Array.isArray(body) ? [...path, kind, j] : [...path, kind], ctx, conformance),
      );
      return {
        ...base,
        name: base.name || checks.map((c) => c.name).join(', '),
        kind,
        checks,
        precondition: s.precondition === true,
      };
    }
    case 'fault': {
      const fault = buildFault(body as Obj);
      return { ...base, name: base.name || describeFault(fault), kind, fault };
    }
    case 'wait': {
      const ms = parseDuration(body);
      return { ...base, name: base.name || `wait ${ms} ms`, kind, ms };
    }
    case 'wait-until': {
      const w = body as Obj;
      const condition = buildCheck(w.condition as Obj, [...path, kind, 'condition'], ctx, conformance);
      const deadlineMs = parseDuration(w.deadline);
      return {
        ...base,
        name: base.name || `wait until ${condition.name} (≤ ${deadlineMs} ms)`,
        kind,
        condition,
        deadlineMs,
        intervalMs: w.interval !== undefined ? parseDuration(w.interval) : 200,
        precondition: s.precondition === true,
      };
    }
    case 'measure': {
      const m = body as Obj;
      const st = m.stream as Obj;
      const stream = {
        from: String(st.from),
        to: String(st.to),
        proto: (st.proto as 'udp' | 'icmp' | 'tcp' | undefined) ?? 'udp',
        port: (st.port as number | undefined) ?? 7000,
        intervalMs: st.interval !== undefined ? parseDuration(st.interval) : 10,
      };
      return {
        ...base,
        name: base.name || (m.name as string | undefined) || `loss window ${stream.from} → ${stream.to}`,
        kind,
        stream,
        maxLossWindowMs: m.maxLossWindow !== undefined ? parseDuration(m.maxLossWindow) : Number.NaN,
        maxLossBeyondFaultsMs:
          m.maxLossBeyondFaults !== undefined ? parseDuration(m.maxLossBeyondFaults) : undefined,
        maxLost: m.maxLost as number | undefined,
        during: (m.during as Obj[]).map((x, j) =>
          buildStep(x, [...path, kind, 'during', j], `${id}.${j}`, ctx, conformance, seed),
        ),
        conformance: (m.conformance as string[] | undefined) ?? conformance,
      };
    }
    case 'chaos': {
      const c = body as Obj;
      const dur = c.duration;
      const durationMs: [number, number] = Array.isArray(dur)
        ? [parseDuration(dur[0]), parseDuration(dur[1])]
        : dur !== undefined
          ? [parseDuration(dur), parseDuration(dur)]
          : [500, 2000];
      const windowMs = parseDuration(c.window);
      return {
        ...base,
        name: base.name || `chaos over ${windowMs} ms`,
        kind,
        seed: (c.seed as number | undefined) ?? seed,
        windowMs,
        count: (c.count as number | undefined) ?? 3,
        durationMs,
        faults: (c.faults as Obj[]).map(buildFault),
        settleMs: c.settle !== undefined ? parseDuration(c.settle) : 0,
      };
    }
  }
}

function describeProvision(all: boolean, p: Obj): string {
  if (all) return 'provision the intent';
  const parts: string[] = [];
  for (const key of ['attach', 'detach'] as const) {
    const list = p[key] as string[] | undefined;
    if (list?.length) parts.push(`${key} ${list.join(', ')}`);
  }
  for (const m of (p.move as Obj[] | undefined) ?? []) parts.push(`move ${String(m.vm)} to ${String(m.to)}`);
  for (const m of (p.setGroups as Obj[] | undefined) ?? []) parts.push(`set groups of ${String(m.vm)}`);
  for (const f of (p.setFloatingIps as Obj[] | undefined) ?? [])
    parts.push(
      f.vm == null
        ? `unassign floating IP ${String(f.ip)}`
        : `floating IP ${String(f.ip)} to ${String(f.vm)}`,
    );
  for (const b of (p.bulkMembers as Obj[] | undefined) ?? [])
    parts.push(`${String(b.count)} address-only members in ${String(b.group)}`);
  const refused = p.refused !== undefined ? ' (must be refused)' : p.attempt === true ? ' (attempted)' : '';
  return `provision: ${parts.join('; ') || 'no change'}${refused}`;
}

/** A fault mapping, typed by its registered kind (validation has refused unknown kinds). */
export function buildFault(f: Obj): Fault {
  const kind = faultKind(String(f.kind));
  if (!kind) throw new Error(`fault kind '${String(f.kind)}' is not registered`);
  return kind.parse(f, durationOr(f.duration, undefined));
}

function buildCheck(c: Obj, path: Path, ctx: BuildCtx, conformance: string[]): Check {
  // Validation has made sure exactly one registered kind's key is present.
  const kind = CHECK_KINDS.find((d) => d.kind in c)!;
  return (kind as CheckDefinition<Check>).parse((c[kind.kind] ?? {}) as Obj, {
    name: (c.name as string | undefined) ?? '',
    conformance: (c.conformance as string[] | undefined) ?? conformance,
    severity: c.severity as Severity | undefined,
    pos: ctx.locator.pos(path),
    withinMs: durationOr(c.within, 0),
  });
}
