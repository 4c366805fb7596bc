/**
 * Forwarding expectations: which MACs a hypervisor forwards where in a segment (behind which VTEP, or a
 * local port) and its flood list, as the implementation's driver reports them
 * (ImplementationDriver.forwardingEntries). The scenario names VMs, subnets and nodes only, never how an
 * implementation lays out its namespaces or devices. A driver that cannot report its tables makes the
 * expectation skipped (with that reason), never passed.
 */
import { FLOOD_MAC, type ForwardingEntry } from '../../kernel/fdb.ts';
import { HarnessError } from '../../util/errors.ts';
import { type ScenarioContext, SkipError } from '../context.ts';
import { IntentIndex, isIpv4 } from '../intent.ts';
import type { StepRefs } from '../refs.ts';
import type { Path } from '../schema.ts';
import type { CheckBase } from '../types.ts';
import { arr, type Obj, strs } from '../values.ts';
import type { CheckDefinition } from './types.ts';

/** One forwarding-table entry a `forwarding` expectation names. */
export interface ForwardingEntrySpec {
  /** A VM: its MAC, in its subnet's segment unless the check names one. */
  vm: string | undefined;
  mac: string | undefined;
  /** A lab node (its VTEP address), an IPv4 VTEP, or `local` (a port of the hypervisor); undefined: any. */
  vtep: string | undefined;
  /** present only: the MAC has this one entry in the segment and no other. */
  once: boolean;
}

/** What a hypervisor forwards where, read through the driver (ImplementationDriver.forwardingEntries). */
export interface ForwardingCheck extends CheckBase {
  kind: 'forwarding';
  node: string;
  /** Subnet whose segment (VNI) is looked at; undefined: a VM's own subnet, or every segment for a MAC. */
  segment: string | undefined;
  present: ForwardingEntrySpec[];
  absent: ForwardingEntrySpec[];
  /** The segment's flood list is exactly these VTEPs (lab nodes or IPv4), when given. */
  flood: string[] | undefined;
}

const ENTRY_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    vm: { $ref: '#/definitions/name', description: 'A VM: its MAC.' },
    mac: { $ref: '#/definitions/mac' },
    vtep: {
      type: 'string',
      description: 'A lab node (its VTEP address), an IPv4 VTEP, or `local` (a port of this hypervisor).',
    },
    once: { type: 'boolean', description: "present only: the MAC's only entry in the segment." },
  },
};

function entrySpec(e: Obj): ForwardingEntrySpec {
  return {
    vm: e.vm as string | undefined,
    mac: (e.mac as string | undefined)?.toLowerCase(),
    vtep: e.vtep as string | undefined,
    once: e.once === true,
  };
}

/** The default result name. */
function defaultName(f: Pick<ForwardingCheck, 'node' | 'segment' | 'present' | 'absent' | 'flood'>): string {
  const what = [
    ...f.present.map((e) => `${e.vm ?? e.mac ?? 'any MAC'}${e.vtep ? ` → ${e.vtep}` : ''}`),
    ...f.absent.map((e) => `no ${e.vm ?? e.mac ?? 'MAC'}${e.vtep ? ` → ${e.vtep}` : ''}`),
    ...(f.flood ? [`flood to ${f.flood.join(', ') || 'nobody'}`] : []),
  ];
  return `${f.node} forwards${f.segment ? ` in ${f.segment}` : ''}: ${what.join(', ')}`;
}

/** A forwarding expectation names a hypervisor node, a subnet, VMs with a MAC, and VTEPs that exist. */
function references(ctx: StepRefs, body: Obj, at: Path): void {
  const { refs } = ctx;
  refs.node([...at, 'node'], body.node);
  if (typeof body.segment === 'string' && !ctx.subnets.has(body.segment))
    refs.unknown([...at, 'segment'], 'subnet', body.segment, ctx.subnets);
  if (body.flood !== undefined && body.segment === undefined)
    refs.error(
      [...at, 'flood'],
      "'flood' needs 'segment': a flood list belongs to one segment",
      'add `segment: <subnet>`',
    );
  const vtep = (path: Path, v: unknown) => {
    if (typeof v === 'string' && v !== 'local' && !isIpv4(v)) refs.node(path, v);
  };
  strs(body.flood).forEach((v, j) => {
    vtep([...at, 'flood', j], v);
  });
  for (const side of ['present', 'absent'] as const)
    arr(body[side]).forEach((e, j) => {
      const path = [...at, side, j];
      vtep([...path, 'vtep'], e.vtep);
      if (e.vm !== undefined && e.mac !== undefined)
        refs.error(path, "give 'vm' or 'mac', not both", 'a VM stands for its MAC');
      if (typeof e.vm === 'string' && !ctx.vms.has(e.vm)) refs.unknown([...path, 'vm'], 'VM', e.vm, ctx.vms);
      else if (typeof e.vm === 'string' && !ctx.vmsWithMac.has(e.vm))
        refs.error(
          [...path, 'vm'],
          `VM '${e.vm}' has no 'mac:' in the intent, so there is no MAC to look for`,
          `give ${e.vm} a MAC in intent.vms`,
        );
      if (e.vm === undefined && e.mac === undefined && e.vtep === undefined)
        refs.error(
          path,
          'an entry needs a vm, a mac or a vtep: an empty one matches everything',
          'e.g. `{ vm: a1, vtep: hv2 }`',
        );
      if (e.once === true && side === 'absent')
        refs.error([...path, 'once'], "'once' applies to present entries", 'remove it', true);
    });
}

interface Resolved {
  text: string;
  mac: string | undefined;
  vni: number | undefined;
  /** undefined: any; null: a local port. */
  vtep: string | null | undefined;
}

async function vtepOf(name: string, ctx: ScenarioContext): Promise<string | null> {
  if (name === 'local') return null;
  if (!ctx.lab.nodes.has(name)) return name;
  const address = await ctx.vtepAddress(name);
  if (!address) throw new HarnessError(`${name} has no VTEP address to look for in a forwarding table`);
  return address;
}

async function resolve(
  spec: ForwardingEntrySpec,
  segmentVni: number | undefined,
  ctx: ScenarioContext,
): Promise<Resolved> {
  const idx = new IntentIndex(ctx.intent);
  const vm = spec.vm ? idx.vm(spec.vm) : undefined;
  const mac = spec.mac ?? vm?.mac?.toLowerCase();
  const vni = segmentVni ?? (vm ? idx.subnetOf(vm).vni : undefined);
  const vtep = spec.vtep === undefined ? undefined : await vtepOf(spec.vtep, ctx);
  const who = vm ? `${vm.name}'s MAC ${mac}` : mac ? `MAC ${mac}` : 'an entry';
  const where =
    spec.vtep === undefined
      ? ''
      : vtep === null
        ? ' at a local port'
        : ` behind VTEP ${spec.vtep}${vtep !== spec.vtep ? ` (${vtep})` : ''}`;
  return { text: `${who}${where}${vni !== undefined ? ` in VNI ${vni}` : ''}`, mac, vni, vtep };
}

function matches(e: ForwardingEntry, r: Resolved): boolean {
  if (r.vni !== undefined && e.vni !== r.vni) return false;
  if (r.mac !== undefined && e.mac !== r.mac) return false;
  if (r.vtep === undefined) return true;
  return r.vtep === null ? e.vtep === undefined : e.vtep === r.vtep;
}

const show = (e: ForwardingEntry) => `VNI ${e.vni} ${e.mac} → ${e.vtep ?? 'local port'}`;
const list = (entries: ForwardingEntry[]) =>
  entries.slice(0, 8).map(show).join('; ') + (entries.length > 8 ? '; …' : '');

async function problemsOf(
  check: ForwardingCheck,
  entries: ForwardingEntry[],
  ctx: ScenarioContext,
): Promise<string[]> {
  const segmentVni = check.segment ? new IntentIndex(ctx.intent).subnets.get(check.segment)?.vni : undefined;
  const problems: string[] = [];
  for (const spec of check.present) {
    const r = await resolve(spec, segmentVni, ctx);
    const sameMac = entries.filter((e) => matches(e, { ...r, vtep: undefined }));
    if (!entries.some((e) => matches(e, r)))
      problems.push(`${r.text} is missing${sameMac.length ? ` (found instead: ${list(sameMac)})` : ''}`);
    else if (spec.once && sameMac.length !== 1)
      problems.push(`${r.text} must be the MAC's only entry, found ${sameMac.length}: ${list(sameMac)}`);
  }
  for (const spec of check.absent) {
    const r = await resolve(spec, segmentVni, ctx);
    const hits = entries.filter((e) => matches(e, r));
    if (hits.length) problems.push(`${r.text} must be absent, found ${hits.length}: ${list(hits)}`);
  }
  if (check.flood) {
    const want = new Map<string, string>();
    for (const name of check.flood) want.set((await vtepOf(name, ctx)) ?? name, name);
    const have = new Set(
      entries.filter((e) => e.mac === FLOOD_MAC && e.vni === segmentVni && e.vtep).map((e) => e.vtep!),
    );
    const missing = [...want]
      .filter(([ip]) => !have.has(ip))
      .map(([ip, n]) => (n === ip ? ip : `${n} (${ip})`));
    const extra = [...have].filter((ip) => !want.has(ip));
    if (missing.length || extra.length)
      problems.push(
        `flood list of VNI ${segmentVni} is [${[...have].join(', ')}], expected exactly ${check.flood.join(', ')}` +
          `${missing.length ? `; missing ${missing.join(', ')}` : ''}${extra.length ? `; not expected ${extra.join(', ')}` : ''}`,
      );
  }
  return problems;
}

export const forwarding: CheckDefinition<ForwardingCheck> = {
  kind: 'forwarding',
  schema: {
    description:
      "What hypervisor `node` forwards where, as its implementation's driver reports it: entries present or absent (a VM's MAC or a given MAC, optionally behind a VTEP or at a local port) and the segment's flood list. Skipped when the driver cannot report forwarding tables.",
    type: 'object',
    additionalProperties: false,
    required: ['node'],
    properties: {
      node: { $ref: '#/definitions/name' },
      segment: {
        $ref: '#/definitions/name',
        description:
          "Subnet whose segment (VNI) is read; default: a VM's own subnet, every segment for a bare MAC.",
      },
      present: { type: 'array', items: ENTRY_SCHEMA },
      absent: { type: 'array', items: ENTRY_SCHEMA },
      flood: {
        type: 'array',
        items: { type: 'string' },
        description: "The segment's flood list is exactly these VTEPs (lab nodes or IPv4).",
      },
    },
  },
  traffic: false,
  parse(body, base) {
    const fields = {
      node: String(body.node),
      segment: body.segment as string | undefined,
      present: arr(body.present).map(entrySpec),
      absent: arr(body.absent).map(entrySpec),
      flood: body.flood as string[] | undefined,
    };
    return { ...base, name: base.name || defaultName(fields), kind: 'forwarding', ...fields };
  },
  references,
  selfPolling: false,
  async evaluate(check, ctx) {
    const driver = ctx.driver;
    if (!driver.forwardingEntries)
      throw new SkipError(
        `implementation ${driver.name} cannot report its forwarding tables (its driver has no forwardingEntries), so '${check.name}' was not checked`,
      );
    const entries = await driver.forwardingEntries(ctx.node(check.node), ctx.driverContext());
    // The table is as read by now; resolving the names the check uses is the harness's time.
    const readAt = performance.now();
    const problems = await problemsOf(check, entries, ctx);
    return {
      ok: problems.length === 0,
      summary:
        problems.length === 0
          ? `${check.node}'s forwarding table as expected (${entries.length} entries)`
          : `${check.node}: ${problems.join('; ')}`,
      attachments: [
        {
          name: `${check.node}: forwarding table (${driver.name})`,
          content: entries.map(show).join('\n') || '(empty)',
          type: 'text/plain',
        },
      ],
      nodes: [check.node],
      observedAt: readAt,
    };
  },
};
