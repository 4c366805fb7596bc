/**
 * What one fault kind declares, in its own file: its YAML keys (schema fragments, used both by the
 * validator and the generated editor schema), its typed parse, its reference checks and its behaviour.
 * faults/index.ts registers it with one line.
 */
import type { ScenarioContext } from '../context.ts';
import type { StepRefs } from '../refs.ts';
import type { Path, Schema } from '../schema.ts';
import type { Obj } from '../values.ts';

/** Undoes a fault. */
export type Revert = () => Promise<void>;

/** Every parsed fault has its kind and its duration (ms; undefined: it stays until undone). */
export interface FaultShape {
  kind: string;
  durationMs: number | undefined;
}

export interface FaultDefinition<F extends FaultShape> {
  kind: F['kind'];
  /** Keys it needs and accepts besides `kind` and `duration`. */
  required: string[];
  optional: string[];
  /**
   * Schema fragments of its keys. A key several kinds share (`link`, `node`) has one meaning:
   * the first registered fragment is the one in the schema.
   */
  properties: Record<string, Schema>;
  /** Whether it takes `duration` (it can be reverted after that long). */
  duration: boolean;
  /** Whether chaos may draw it: it has a revert or ends by itself (link-flap, restarts). */
  chaos: boolean;
  /** Applying it undoes a pending fault on the same target (link-up after link-down, ...). */
  undoes: boolean;
  parse(raw: Obj, durationMs: number | undefined): F;
  /** Reference checks beyond its `link` and `node` keys (those are checked for every kind). */
  references?(ctx: StepRefs, raw: Obj, path: Path): void;
  /** Report label (the step name when the file gives none). */
  describe(fault: F): string;
  /** What it acts on: faults on the same target undo each other. */
  target(fault: F): string;
  /** Applies it; returns how to revert it (undefined when nothing is left to undo). */
  apply(fault: F, ctx: ScenarioContext): Promise<Revert | undefined>;
}

/** ` for N ms` when the fault has a duration. */
export function forDuration(fault: FaultShape): string {
  return fault.durationMs !== undefined ? ` for ${fault.durationMs} ms` : '';
}

/** `node:iface` of a `link` key. */
export function parseLinkRef(value: unknown): { node: string; iface: string } {
  const [node, iface] = String(value).split(':');
  return { node: node!, iface: iface! };
}
