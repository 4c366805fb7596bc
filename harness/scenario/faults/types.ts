import type { ScenarioContext } from '../context.ts';
import type { Fault } from '../types.ts';

/** Undoes a fault. */
export type Revert = () => Promise<void>;

/** Applies one kind of fault; returns how to revert it (undefined when nothing is left to undo). */
export type FaultHandler<F extends Fault = Fault> = (
  fault: F,
  ctx: ScenarioContext,
) => Promise<Revert | undefined>;
