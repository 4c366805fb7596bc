/**
 * Duplicate MAC detection (RFC 7432 §15.1): a MAC that moves `moves` times within `windowMs` is a
 * duplicate (two hosts claiming one MAC, or a loop). The first move starts the window with a count of
 * 1; the move that brings the count to `moves` inside the window raises an alarm and freezes the MAC
 * where it was before that move. Further moves of a frozen MAC are not processed (its route keeps
 * that location and sequence) until an operator clears it. The RFC's suggested defaults: 5 moves in
 * 180 s.
 */

export interface DuplicateMacPolicy {
  /** Moves within the window that make a MAC a duplicate (N, ≥ 2). */
  moves: number;
  /** The window, ms (M). */
  windowMs: number;
}

export const RFC7432_DUPLICATE_MAC: DuplicateMacPolicy = { moves: 5, windowMs: 180_000 };

/** Where a frozen MAC stays advertised, and why. */
export interface FrozenMac {
  /** `${vni}/${mac}`. */
  key: string;
  vtep: string;
  seq: number;
  /** Moves counted in the window when it was frozen (the policy's N). */
  moves: number;
  /** When it was frozen (epoch ms). */
  since: number;
}

export type MoveVerdict = 'moved' | 'frozen-now' | 'frozen';

export class DuplicateMacDetector {
  private readonly windows = new Map<string, { start: number; count: number }>();
  private readonly frozenMacs = new Map<string, FrozenMac>();

  /** `policy` null: detection off (every move is processed). */
  constructor(readonly policy: DuplicateMacPolicy | null = RFC7432_DUPLICATE_MAC) {
    if (policy && (!Number.isInteger(policy.moves) || policy.moves < 2))
      throw new Error(`duplicate MAC detection: moves must be an integer ≥ 2, got ${policy.moves}`);
    if (policy && !(policy.windowMs > 0))
      throw new Error(`duplicate MAC detection: the window must be > 0 ms, got ${policy.windowMs}`);
  }

  /**
   * A move of `key` away from `from` (its current location and sequence): 'moved' when it is to be
   * processed, 'frozen-now' when this move detected the duplicate (the MAC stays at `from`), 'frozen'
   * when it was frozen before.
   */
  noteMove(key: string, from: { vtep: string; seq: number }, now = Date.now()): MoveVerdict {
    if (this.frozenMacs.has(key)) return 'frozen';
    if (!this.policy) return 'moved';
    const w = this.windows.get(key);
    if (!w || now - w.start > this.policy.windowMs) {
      this.windows.set(key, { start: now, count: 1 });
      return 'moved';
    }
    w.count += 1;
    if (w.count < this.policy.moves) return 'moved';
    this.windows.delete(key);
    this.frozenMacs.set(key, { key, vtep: from.vtep, seq: from.seq, moves: w.count, since: now });
    return 'frozen-now';
  }

  frozen(key: string): FrozenMac | undefined {
    return this.frozenMacs.get(key);
  }

  allFrozen(): FrozenMac[] {
    return [...this.frozenMacs.values()];
  }

  /** Operator action: the MAC moves freely again (a new window starts at its next move). */
  clear(key: string): boolean {
    return this.frozenMacs.delete(key);
  }
}
