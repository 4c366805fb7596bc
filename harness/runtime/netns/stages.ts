/**
 * containerlab stages for the netns runtime: each node passes create → create-links → configure →
 * healthy, and a node's stage may `wait-for` another node's stage. The board holds one promise per
 * node and stage; a failed deploy aborts the board, so nothing waits forever.
 */
import { HarnessError } from '../../util/errors.ts';
import { REACHABLE_STAGES, type Stage, type StageWait } from './fields.ts';

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
  reject: (err: unknown) => void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {}); // a stage nobody waits for may be rejected by abort
  return { promise, resolve, reject };
}

export class StageBoard {
  private readonly stages = new Map<string, Deferred>();

  constructor(
    nodes: readonly string[],
    /** What each node's stages wait for (containerlab wait-for plus implicit ones). */
    private readonly waits: ReadonlyMap<string, readonly StageWait[]>,
  ) {
    for (const node of nodes)
      for (const stage of REACHABLE_STAGES) this.stages.set(`${node}/${stage}`, deferred());
  }

  /** Resolves when every node `node`'s `stage` waits for has reached the stage it waits for. */
  async enter(node: string, stage: Stage): Promise<void> {
    const deps = (this.waits.get(node) ?? []).filter((w) => w.stage === stage);
    await Promise.all(deps.map((w) => this.get(w.node, w.waitFor).promise));
  }

  reached(node: string, stage: Stage): void {
    this.get(node, stage).resolve();
  }

  /** Fails every stage not reached yet: waiting nodes stop instead of waiting forever. */
  abort(reason: unknown): void {
    const err = new HarnessError(
      `deploy aborted: ${reason instanceof Error ? reason.message : String(reason)}`,
    );
    for (const d of this.stages.values()) d.reject(err);
  }

  /** True when some node waits for another (the pool must then not limit concurrency). */
  get hasWaits(): boolean {
    return [...this.waits.values()].some((w) => w.length > 0);
  }

  private get(node: string, stage: Stage): Deferred {
    const d = this.stages.get(`${node}/${stage}`);
    if (!d) throw new HarnessError(`no stage ${stage} for node '${node}'`);
    return d;
  }
}
