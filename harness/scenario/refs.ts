/**
 * Reference checks shared by the validator and the check and fault kinds: a name the scenario uses
 * must exist in the lab or the intent. Each issue carries the YAML path of the offending value.
 */
import { closest } from '../util/closest.ts';
import type { LabInventory } from './lab-inventory.ts';
import type { Path, SchemaIssue } from './schema.ts';

export class Refs {
  readonly issues: SchemaIssue[] = [];
  constructor(readonly lab: LabInventory) {}

  error(path: Path, message: string, hint?: string, atKey = false): void {
    this.issues.push({ path, message, hint, atKey });
  }

  unknown(path: Path, what: string, name: string, known: Iterable<string>): void {
    const list = [...known];
    const close = closest(name, list);
    const hint = close
      ? `did you mean '${close}'?`
      : list.length
        ? `known ${what}s: ${list.slice(0, 20).join(', ')}`
        : `no ${what} is declared`;
    this.error(path, `unknown ${what} '${name}'`, hint);
  }

  node(path: Path, name: unknown): void {
    if (typeof name !== 'string') return;
    if (!this.lab.nodes.has(name)) this.unknown(path, 'lab node', name, this.lab.nodes.keys());
  }

  link(path: Path, ref: unknown): void {
    if (typeof ref !== 'string') return;
    const [node, iface] = ref.split(':') as [string, string];
    if (!this.lab.nodes.has(node)) {
      this.unknown(path, 'lab node', node, this.lab.nodes.keys());
      return;
    }
    const ifaces = this.lab.ifaces.get(node) ?? new Set<string>();
    if (!ifaces.has(iface)) {
      this.error(
        path,
        `node '${node}' has no link interface '${iface}'`,
        `interfaces of ${node} in ${this.lab.file}: ${[...ifaces].join(', ')}`,
      );
    }
  }
}

/** What the timeline's names may refer to: the lab (through refs) and the intent's names. */
export interface StepRefs {
  refs: Refs;
  subnets: Set<string>;
  vms: Set<string>;
  /** VMs whose MAC the intent states (a BGP match on a VM compares its MAC). */
  vmsWithMac: Set<string>;
  groups: Set<string>;
  endpoints: Set<string>;
  /** The intent's hardware gateways (their lab node names). */
  gateways: Set<string>;
}

/** A gateway of the intent (`intent.gateways`). */
export function knownGateway(ctx: StepRefs, path: Path, name: unknown): void {
  if (typeof name === 'string' && !ctx.gateways.has(name))
    ctx.refs.unknown(path, 'gateway', name, ctx.gateways);
}

/** A VM or external host (`*` too, where allowed). */
export function endpoint(ctx: StepRefs, path: Path, name: unknown, allowStar = false): void {
  if (typeof name !== 'string') return;
  if (allowStar && name === '*') return;
  if (!ctx.endpoints.has(name)) ctx.refs.unknown(path, 'VM or external host', name, ctx.endpoints);
}

export function vmOrNode(ctx: StepRefs, path: Path, name: unknown): void {
  if (typeof name !== 'string') return;
  if (ctx.endpoints.has(name) || ctx.refs.lab.nodes.has(name)) return;
  ctx.refs.unknown(path, 'VM or lab node', name, [...ctx.endpoints, ...ctx.refs.lab.nodes.keys()]);
}

export function knownVm(ctx: StepRefs, path: Path, name: unknown): void {
  if (typeof name === 'string' && !ctx.vms.has(name)) ctx.refs.unknown(path, 'VM', name, ctx.vms);
}
