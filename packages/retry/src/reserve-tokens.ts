/** Most tokens a reserve holds: bounds memory whatever `minPerSecond` a document asks for. */
export const MAX_RESERVE_TOKENS = 1000;

/**
 * The reserve of a retry budget: `perSecond` tokens, each coming back a fixed time after it was
 * spent (1 s when `perSecond` is a whole number up to 1000). So a quiet service has the whole
 * reserve at once, and no interval of `periodMs` grants more than the reserve holds: the
 * reserve cannot burst once per window. A ring of the times the tokens were spent, oldest first;
 * no timer.
 */
export class ReserveTokens {
  private spentAt: Float64Array;
  private oldest = 0;
  private periodMs = 0;

  constructor(perSecond: number) {
    this.spentAt = new Float64Array(0);
    this.reconfigure(perSecond);
  }

  /** Tokens the reserve holds. */
  get size(): number {
    return this.spentAt.length;
  }

  /** A new rate; the times of tokens spent so far stay (the newest, if the reserve shrinks). */
  reconfigure(perSecond: number): void {
    // 2.5/s is 3 tokens back after 1.2 s each; 0.5/s is 1 token back after 2 s.
    const size = perSecond > 0 ? Math.min(MAX_RESERVE_TOKENS, Math.ceil(perSecond - 1e-9)) : 0;
    const old = this.spentAt;
    const next = new Float64Array(size).fill(Number.NEGATIVE_INFINITY);
    const kept = Math.min(old.length, size);
    for (let k = 0; k < kept; k++) {
      next[size - kept + k] = old[(this.oldest + old.length - kept + k) % old.length]!;
    }
    this.spentAt = next;
    this.oldest = 0;
    this.periodMs = size > 0 ? (size * 1000) / perSecond : 0;
  }

  /** Whether a token is there at `now`. */
  canTake(now: number): boolean {
    return this.spentAt.length > 0 && now - this.spentAt[this.oldest]! >= this.periodMs;
  }

  /** Takes a token at `now`; false (and nothing taken) when none is back yet. */
  tryTake(now: number): boolean {
    if (!this.canTake(now)) return false;
    this.spentAt[this.oldest] = now;
    this.oldest = (this.oldest + 1) % this.spentAt.length;
    return true;
  }

  /** Tokens there at `now`. */
  available(now: number): number {
    const n = this.spentAt.length;
    let count = 0;
    while (count < n && now - this.spentAt[(this.oldest + count) % n]! >= this.periodMs) count++;
    return count;
  }
}
